"""The paper's headline stress cases (docs/model.md §1, mechanism B of docs/fidelity.md):
the declared fit reproduces its pristine target, and the unfitted Ru-1 prediction lands
where the paper puts it, with both XRD volume changes. These compare against the paper's
numbers (within 3 %, the issue's target), never against earlier runs."""
import json

import numpy as np
import pytest
from mpi4py import MPI

from conftest import CASES, run_lrmo
from solver.case.schema import load_case
from solver.studies.fitting import run_summary


def peak(name, overrides=()):
    case = load_case(CASES / f"{name}.yaml", list(overrides) + ["output.fields=false"])
    return case, run_summary(case, MPI.COMM_WORLD)["stress"]


def test_pristine_declared_fit_reproduces_567_MPa_at_the_surface():
    case, stress = peak("pristine_stress")
    assert stress["peak_von_mises_Pa"] == pytest.approx(567e6, rel=0.03)
    assert stress["peak_location"] == "surface"


def test_declared_fitted_value_is_the_value_the_case_uses():
    for name in ("pristine_stress", "ru1_stress"):
        case = load_case(CASES / f"{name}.yaml")
        for key, entry in case.fitted.items():
            obj = case
            for part in key.split("."):
                obj = getattr(obj, part)
            assert obj.si == pytest.approx(entry.value.si, rel=1e-12)


@pytest.mark.parametrize("surface_nm, interface_nm", [(0.5, 0.1), (0.25, 0.05)])
def test_ru1_peak_is_within_3_percent_of_418_MPa_strictly_inside_the_layer(surface_nm, interface_nm):
    """'within the interior of the interfacial buffer layer': not on the surface, not on
    the node of the layer's inner edge, at two mesh sizes."""
    case, stress = peak("ru1_stress", [f"mesh.surface={surface_nm} nm", f"mesh.interface={interface_nm} nm"])
    R, d = case.geometry.radius.si, case.geometry.layer_thickness.si
    assert stress["peak_von_mises_Pa"] == pytest.approx(418e6, rel=0.03)
    assert stress["peak_location"] == "inside layer"
    assert R - d + interface_nm * 1e-9 / 2 < stress["peak_radius_m"] < R - surface_nm * 1e-9 / 2


@pytest.mark.parametrize("name, xrd", [("pristine_stress", 0.0362), ("ru1_stress", 0.0269)])
def test_volume_change_at_the_end_of_the_first_charge_is_within_3_percent_of_the_xrd(name, xrd):
    """The whole particle at its floor (the state that extracts the first charge):
    tr(eps_ch) averaged over a free particle, Omega mean(c_max) (theta_0 - theta_min)."""
    from solver.studies.variants import full_charge_volume_change

    assert full_charge_volume_change(load_case(CASES / f"{name}.yaml")) == pytest.approx(xrd, rel=0.03)


def test_ru1_differs_from_pristine_only_in_the_layer_strain_coefficient_and_floor():
    """The surface layer, the strain coefficient from its own XRD and the floor from its
    own capacities: everything else is the pristine case's."""
    pristine = load_case(CASES / "pristine_stress.yaml").model_dump()
    ru1 = load_case(CASES / "ru1_stress.yaml").model_dump()
    for section in ("protocol", "mechanics", "time_stepping"):
        assert pristine[section] == ru1[section], section
    si = lambda q: q["si"] if isinstance(q, dict) else q  # values, not their source texts
    assert si(pristine["lithium"]["initial_site_fraction"]) == si(ru1["lithium"]["initial_site_fraction"])
    for key in set(pristine["materials"]["core"]) - {"partial_molar_volume"}:
        assert si(pristine["materials"]["core"][key]) == si(ru1["materials"]["core"][key]), key
    assert si(pristine["geometry"]["radius"]) == si(ru1["geometry"]["radius"])


def test_sweep_members_split_over_ranks_match_serial(tmp_path):
    results = []
    for n in (1, 2):
        proc = run_lrmo(["sweep", str(CASES / "series" / "ru_series.yaml"), "--out", str(tmp_path / f"n{n}")], n_ranks=n)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.count("peak von Mises") == 4  # the table, printed once
        series = json.loads((tmp_path / f"n{n}" / "series.json").read_text())
        results.append([m["summary"]["stress"]["peak_von_mises_Pa"] for m in series["members"]])
    assert len(results[0]) == 4
    assert results[1] == pytest.approx(results[0], rel=1e-9)


def test_ru1_retains_more_o2_and_more_uniformly_than_pristine_after_40_min(tmp_path):
    from solver.simulation.run import run_case

    o2 = {}
    for name in ("pristine_o2", "ru1_o2"):
        case = load_case(CASES / f"{name}.yaml", ["output.fields=false"])
        assert case.oxygen.end_time.si == pytest.approx(40 * 60)
        summary = run_case(case, tmp_path / name, MPI.COMM_WORLD)
        assert summary["status"] == "completed"
        o2[name] = summary["oxygen"]
    assert o2["ru1_o2"]["retained_fraction"] > o2["pristine_o2"]["retained_fraction"]
    assert o2["ru1_o2"]["uniformity"] < o2["pristine_o2"]["uniformity"]
    # the paper: pristine still shows a gradient from bulk to surface at 40 min
    assert o2["pristine_o2"]["retained_fraction"] > 0.01


def test_o2_source_switches_on_at_the_state_of_charge_threshold(tmp_path):
    """Both physics: the Li run's mean site fraction falls linearly under a constant flux,
    theta_mean = 1 - 3 j t / (R c_max), so a threshold of 0.95 is reached at
    t* = 0.05 R c_max / (3 j)."""
    import yaml

    from solver.case.schema import validate_case
    from solver.simulation.drive import galvanostatic_flux_of_case
    from solver.simulation.run import run_case

    data = yaml.safe_load((CASES / "verify_galvanostatic_radial.yaml").read_text())
    oxygen = yaml.safe_load((CASES / "pristine_o2.yaml").read_text())["oxygen"]
    oxygen["end_time"] = "10 min"
    oxygen["source"] = {"rate": "1 mol/m^3/s", "start_at_mean_site_fraction": 0.95}
    data["physics"] = ["lithium", "mechanics", "oxygen"]
    data["oxygen"] = oxygen
    case = validate_case(data)
    summary = run_case(case, tmp_path / "both", MPI.COMM_WORLD)
    assert summary["status"] == "completed"
    j = galvanostatic_flux_of_case(case)
    R, c_max = case.geometry.radius.si, case.materials.core.lithium_site_concentration.si
    t_star = 0.05 * R * c_max / (3 * j)
    assert summary["oxygen_source_start_s"] == pytest.approx(t_star, rel=1e-6)
    volume = 4 / 3 * np.pi * R**3
    expected = 1.0 * volume * (600 - t_star)
    assert summary["oxygen"]["generated_mol"] == pytest.approx(expected, rel=0.05)


PAPER_CASES = ["pristine_stress", "ru1_stress", "pristine_o2", "ru1_o2", "ru1_islands_o2"]
PHYSICAL_SECTIONS = ("geometry", "materials", "lithium", "protocol", "oxygen")
COUNTS = ("count", "seed")  # integers: how many islands, which random placement


def _unsourced(node, path=""):
    """Key paths of numbers in `node` that are not in a {value, unit, source} mapping."""
    if isinstance(node, dict):
        if "value" in node:
            return [] if node.get("source") else [path]
        return [p for k, v in node.items() for p in _unsourced(v, f"{path}.{k}")]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in _unsourced(v, f"{path}.{i}")]
    if isinstance(node, (int, float)) and not isinstance(node, bool):
        return [] if path.rsplit(".", 1)[-1] in COUNTS else [path]
    if isinstance(node, str) and node[:1].isdigit():
        return [path]
    return []


@pytest.mark.parametrize("name", PAPER_CASES)
def test_every_physical_number_in_a_paper_case_has_a_unit_and_a_source(name):
    import yaml

    raw = yaml.safe_load((CASES / f"{name}.yaml").read_text())
    missing = [p for s in PHYSICAL_SECTIONS if s in raw for p in _unsourced(raw[s], s)]
    assert missing == []

"""The 3D octant twins of the coupled first-cycle cases (cases/*_cycle_octant.yaml), whose
runs give the paper's 40-minute O2 maps: they validate, they keep every value of the 1D
cases but what their header comments list, and (slow) one runs on 2 ranks with its
oxygen ledger closed."""
import json

import pytest

from conftest import CASES, run_lrmo
from lrmo.cli import main
from solver.case.schema import load_case

PAIRS = [("pristine_cycle", "pristine_cycle_octant"), ("ru1_cycle", "ru1_cycle_octant")]
# what the twins change, each said and argued in their header comments: naming, the 3D
# element sizes, the outputs, no mechanics (one-way coupled: it changes nothing else), the
# charge + 40-minute rest for the discharge, a coarser step control, and no fit block
MAY_DIFFER = {"name", "description", "mesh", "output", "physics", "mechanics", "protocol", "time_stepping", "fitted"}
# the Ru-1 twin's RuO2 is explicit islands: the 1D case spreads them over the sphere
RU1_ISLANDS = {"surfaces", "islands"}


@pytest.mark.parametrize("radial, octant", PAIRS)
def test_octant_cycle_case_validates(radial, octant, capsys):
    assert main(["validate", str(CASES / f"{octant}.yaml")]) == 0
    assert f"{octant}.yaml: valid" in capsys.readouterr().err


@pytest.mark.parametrize("radial, octant", PAIRS)
def test_octant_cycle_twin_has_the_values_of_the_radial_case(radial, octant):
    one_d = load_case(CASES / f"{radial}.yaml").model_dump()
    three_d = load_case(CASES / f"{octant}.yaml").model_dump()
    assert three_d["geometry"].pop("shape") == "octant"
    assert one_d["geometry"].pop("shape") == "radial"
    for key in set(one_d) | set(three_d):
        if key not in MAY_DIFFER | {"oxygen"}:
            assert one_d.get(key) == three_d.get(key), key
    assert set(one_d["physics"]) - set(three_d["physics"]) == {"mechanics"}
    assert one_d["mechanics"]["stress_assisted_diffusion"] is False  # so dropping it changes nothing else
    assert one_d["protocol"]["steps"][0] == three_d["protocol"]["steps"][0]  # the same charge
    o1, o3 = one_d["oxygen"], three_d["oxygen"]
    for key in set(o1) | set(o3):
        if key not in RU1_ISLANDS | {"ruo2"}:
            assert o1.get(key) == o3.get(key), f"oxygen.{key}"
    if o1.get("ruo2"):
        assert o3["islands"]["coverage"]["value"] == pytest.approx(0.3)
        for key in set(o1["ruo2"]) - {"adsorption_rate"}:
            assert o1["ruo2"][key] == o3["ruo2"][key], f"oxygen.ruo2.{key}"
        # 1D: the islands' rates spread over the sphere (bare 70 %, covered 30 %); 3D: their own
        assert o3["surfaces"]["outer_surface"]["rate"]["value"] * 0.7 == pytest.approx(
            o1["surfaces"]["outer_surface"]["escape_rate"]["value"], rel=0.01)
        assert o3["ruo2"]["adsorption_rate"]["value"] * 0.3 == pytest.approx(
            o1["ruo2"]["adsorption_rate"]["value"], rel=0.01)


def test_octant_cycle_rest_puts_outputs_at_the_map_times():
    """Every step's end is an output: the rests end 10, 20 and 40 min after the charge."""
    steps = load_case(CASES / "pristine_cycle_octant.yaml").protocol.steps
    assert [str(s) for s in steps[1:]] == ["Rest for 10 minutes", "Rest for 10 minutes", "Rest for 20 minutes"]


@pytest.mark.slow
def test_pristine_octant_cycle_on_two_ranks_closes_the_oxygen_ledger(tmp_path):
    proc = run_lrmo(["run", str(CASES / "pristine_cycle_octant.yaml"), "--quiet", "--out", str(tmp_path / "run"),
                     "--set", "output.fields=false"], n_ranks=2, timeout=3600)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    redox = summary["oxygen_redox"]
    assert redox["oxygen_ledger_closure_error_relative"] < 1e-10
    assert redox["o2_released_mol"] > 0 and redox["o2_escaped_mol"] > 0
    assert redox["first_cycle_coulombic_efficiency"] is None  # a charge and a rest: nothing discharged
    assert (tmp_path / "run" / "slices.csv").exists()

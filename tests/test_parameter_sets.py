"""Parameter sets (solver/case/parameter_sets.py, docs/parameter-sets.md): selecting a set
fills the core with exactly its values and citations, explicit values win, an unknown
name is refused with the allowed ones, derived values follow their formulas, and the
NMC811 case run with a set matches the closed-form galvanostatic sphere."""
import copy
from pathlib import Path

import numpy as np
import pytest
from mpi4py import MPI

from solver.case.loading import CaseError, read_yaml_file
from solver.case.parameter_sets import (CORE_KEYS, KINDS, case_citations, get_parameter_set,
                                        parameter_sets)
from solver.case.schema import dump_case_yaml, load_case, validate_case
from solver.case.units import FARADAY_C_MOL, ureg
from solver.io.log import Log
from solver.simulation.drive import galvanostatic_flux_of_case
from solver.simulation.run import run_case
from solver.io.tables import read_profiles
from solver.studies.verify import galvanostatic_checks

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "cases"
SET_NAMES = sorted(parameter_sets())
# molar masses (g/mol) of the formula units the derived values use
M_NMC811 = 6.94 + 0.8 * 58.693 + 0.1 * 54.938 + 0.1 * 58.933 + 2 * 15.999
M_LCO = 6.94 + 58.933 + 2 * 15.999


def case_with_core(core: dict):
    """cases/pristine_stress.yaml with its core replaced by `core`."""
    data = read_yaml_file(CASES / "pristine_stress.yaml")
    data["materials"]["core"] = copy.deepcopy(core)
    data.pop("fitted")  # it names the LRMO core's diffusivity
    return validate_case(data)


def si(value, unit):
    return float(ureg.Quantity(value, unit or "dimensionless").to_base_units().magnitude)


def test_at_least_two_sets_besides_each_other_all_cited():
    assert "lrmo_sun2025" in SET_NAMES and len(SET_NAMES) >= 2
    for name in SET_NAMES:
        chosen = get_parameter_set(name)
        assert set(chosen.values) == set(CORE_KEYS)
        for key, entry in chosen.values.items():
            assert entry.kind in KINDS
            if entry.kind != "assumed":
                assert entry.refs, (name, key)
        if name != "lrmo_sun2025":  # literature sets: every value not assumed from a paper with a DOI
            for key, entry in chosen.values.items():
                if entry.kind != "assumed":
                    assert any(r.doi.startswith("10.") for r in entry.refs), (name, key)


@pytest.mark.parametrize("name", SET_NAMES)
def test_selecting_a_set_gives_exactly_its_values_and_citations(name):
    chosen = get_parameter_set(name)
    core = case_with_core({"parameter_set": name}).materials.core
    assert core.parameter_set == name
    for key in CORE_KEYS:
        q, entry = getattr(core, key), chosen.values[key]
        assert (q.value, q.unit) == (entry.value, entry.unit)
        assert q.si == pytest.approx(si(entry.value, entry.unit), rel=1e-12)
        assert entry.kind.upper() in q.source and name in q.source
        for ref in entry.refs:
            assert ref.doi in q.source


def test_explicit_values_override_the_set():
    core = case_with_core({"parameter_set": "nmc811_okane2022", "youngs_modulus": "199 GPa",
                           "poisson_ratio": {"value": 0.25, "source": "mine"}}).materials.core
    assert core.youngs_modulus.si == 199e9 and core.youngs_modulus.source is None
    assert core.poisson_ratio.si == 0.25 and core.poisson_ratio.source == "mine"
    assert core.lithium_diffusivity.si == 4.0e-15  # the rest still from the set


def test_an_unknown_set_is_refused_naming_the_allowed_ones():
    with pytest.raises(CaseError) as err:
        case_with_core({"parameter_set": "nmc622"})
    text = str(err.value)
    assert "materials.core" in text and "parameter_set" in text and "'nmc622'" in text
    for name in SET_NAMES:
        assert name in text
    with pytest.raises(CaseError, match="parameter_set"):
        case_with_core({"parameter_set": 7})


def test_a_core_without_a_set_still_needs_every_value():
    with pytest.raises(CaseError, match="lithium_diffusivity: required"):
        case_with_core({"density": "4.3 g/cm^3", "lithium_site_concentration": "6e4 mol/m^3",
                        "youngs_modulus": "150 GPa", "poisson_ratio": 0.3,
                        "partial_molar_volume": "7e-7 m^3/mol"})


def test_the_resolved_case_keeps_the_set_and_reloads_to_the_same_values(tmp_path):
    case = load_case(CASES / "nmc811_stress.yaml")
    path = tmp_path / "case.yaml"
    path.write_text(dump_case_yaml(case))
    again = load_case(path)
    assert again.materials.core.parameter_set == "nmc811_chen2020"
    for key in CORE_KEYS:
        assert getattr(again.materials.core, key) == getattr(case.materials.core, key)
    assert any("10.1149/1945-7111/ab9050" in c for c in case_citations(case))


def test_the_lrmo_set_is_the_earlier_baseline_core():
    """lrmo_sun2025 and cases/variants/baseline_pristine.yaml must not drift apart: the set
    keeps the earlier baseline's core (one Omega from 307 mAh/g), which the cycle cases
    use; the headline cases/pristine_stress.yaml derives its own (docs/fidelity.md)."""
    paper = load_case(CASES / "variants" / "baseline_pristine.yaml").materials.core
    lrmo = case_with_core({"parameter_set": "lrmo_sun2025"}).materials.core
    for key in CORE_KEYS:
        assert getattr(lrmo, key).si == pytest.approx(getattr(paper, key).si, rel=1e-12), key


def test_the_docs_show_every_set_as_shipped():
    """docs/parameter-sets.md holds each set's table as `python -m
    solver.case.parameter_sets` prints it (rewrite the docs when a set changes)."""
    from solver.case.parameter_sets import markdown_table

    docs = (ROOT / "docs" / "parameter-sets.md").read_text(encoding="utf-8")
    for name in SET_NAMES:
        assert markdown_table(name) in docs, name


def test_derived_values_follow_their_formulas():
    nmc = get_parameter_set("nmc811_chen2020")
    c_max = nmc.values["lithium_site_concentration"].value
    assert nmc.values["density"].value * 1e3 == pytest.approx(c_max * M_NMC811 * 1e-3, rel=1e-3)
    window = nmc.context["initial_site_fraction"].value - nmc.context["min_site_fraction"].value
    theoretical_mAh_g = FARADAY_C_MOL / (3.6 * M_NMC811)
    assert nmc.context["current_1C"].value == pytest.approx(window * theoretical_mAh_g, rel=1e-3)
    lco = get_parameter_set("lco_ai2020")
    assert lco.values["density"].value * 1e3 == pytest.approx(
        lco.values["lithium_site_concentration"].value * M_LCO * 1e-3, rel=1e-3)
    # Omega from NMC811's measured -5.1 % unit-cell volume change over the Chen et al. window
    assert nmc.values["partial_molar_volume"].value == pytest.approx(0.051 / (c_max * window), rel=1e-3)
    lrmo = get_parameter_set("lrmo_sun2025")
    c_lrmo, floor = lrmo.values["lithium_site_concentration"].value, lrmo.context["min_site_fraction"].value
    assert lrmo.values["partial_molar_volume"].value == pytest.approx(0.0362 / (c_lrmo * (1 - floor)), rel=1e-3)
    assert floor == pytest.approx(1 - 307 / (1.2 * FARADAY_C_MOL / (3.6 * 84.8)), abs=1e-4)


def test_the_nmc811_case_uses_the_sets_context():
    case = load_case(CASES / "nmc811_stress.yaml")
    context = get_parameter_set("nmc811_chen2020").context
    assert case.geometry.radius.si == pytest.approx(si(context["radius"].value, context["radius"].unit))
    assert case.lithium.initial_site_fraction.si == context["initial_site_fraction"].value
    assert case.lithium.min_site_fraction.si == context["min_site_fraction"].value
    assert case.protocol.current_1C.si == pytest.approx(si(context["current_1C"].value, "mA/g"))


@pytest.fixture(scope="module")
def nmc811_run(tmp_path_factory):
    case = load_case(CASES / "nmc811_stress.yaml")
    out = tmp_path_factory.mktemp("nmc811")
    summary = run_case(case, out, MPI.COMM_WORLD, Log(MPI.COMM_WORLD, quiet=True))
    assert summary["status"] == "completed"
    rows = np.genfromtxt(out / "timeseries.csv", delimiter=",", names=True)
    return case, summary, read_profiles(out / "profiles.csv"), rows


def test_nmc811_run_matches_the_closed_form_sphere(nmc811_run):
    """Before the switch to the hold the particle is a homogeneous sphere under constant
    extraction: c_Li and hoop-stress profiles and the peak von Mises against Carslaw &
    Jaeger + Cheng & Verbrugge with the set's D, E, nu, Omega (same tolerances as
    `lrmo verify`)."""
    case, summary, profiles, _ = nmc811_run
    switch_s = summary["lithium"]["switch_to_hold_time_s"]
    galvanostatic = {t: cols for t, cols in profiles.items() if t < switch_s}
    assert len(galvanostatic) > 10
    checks = galvanostatic_checks(case, summary, galvanostatic)
    failed = [(c.quantity, c.error) for c in checks if not c.passed]
    assert not failed, failed


def test_nmc811_volume_change_is_omega_times_the_mean_concentration_change(nmc811_run):
    """Traction-free body: the mean elastic dilatation vanishes, so dV/V = Omega dc_mean
    at every output time, the hold included."""
    case, _, _, rows = nmc811_run
    core = case.materials.core
    theta0 = case.lithium.initial_site_fraction.si
    expected = core.partial_molar_volume.si * core.lithium_site_concentration.si * (rows["theta_mean"] - theta0)
    assert np.allclose(rows["volume_change"], expected, rtol=1e-6, atol=1e-9)
    # after the hold the particle is near the floor: NMC811's measured -5.1 % (Kondrakov et al.
    # 2017) over the window, which the set's Omega is derived from, less the rest of the gradient
    measured = get_parameter_set("nmc811_chen2020").measured_volume_change.value
    assert rows["volume_change"][-1] == pytest.approx(measured, rel=0.05)


def test_nmc811_one_c_moves_the_window_in_one_hour(nmc811_run):
    """The derived 1C current with the set's density: theta_mean falls by
    (0.9084 - 0.2661) per hour while galvanostatic."""
    case, summary, _, rows = nmc811_run
    window = case.lithium.initial_site_fraction.si - case.lithium.min_site_fraction.si
    galv = rows["holding"] == 0
    t, theta = rows["t_s"][galv], rows["theta_mean"][galv]
    rate_per_h = (case.lithium.initial_site_fraction.si - theta[1:]) / t[1:] * 3600
    assert np.allclose(rate_per_h, window, rtol=2e-4)  # the set's values carry 4-5 digits
    flux = galvanostatic_flux_of_case(case)
    assert flux == pytest.approx(summary["lithium"]["flux_mol_m2_s"], rel=1e-12)

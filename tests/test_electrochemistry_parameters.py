"""Electrochemical parameters of a core material (solver/case/electrochemistry.py) and
the sets' values (solver/case/parameter_sets.yaml, docs/parameter-sets.md): bad tables and
expressions are refused naming the key, the LRMO first-charge open-circuit voltage holds
the paper's first-charge capacity and its 4.5 V plateau, the sets fill these entries only
when a case asks (`from_set`), and the shipped cases validate to the same core values."""
import copy
from pathlib import Path

import numpy as np
import pytest

from solver.case.electrochemistry import OpenCircuitVoltage, theoretical_capacity_mAh_g
from solver.case.loading import CaseError, read_yaml_file
from solver.case.parameter_sets import (ELECTROCHEMISTRY_KEYS, FROM_SET, SetTable,
                                        case_citations, electrochemistry_markdown,
                                        get_parameter_set, parameter_sets)
from solver.case.schema import load_case, resolved_case_dict, validate_case

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "cases"
LRMO_M_G_MOL = 84.8            # Li1.20Mn0.555Ni0.158Co0.080O2 (the set's material line)
LRMO_LI_PER_FU = 1.2           # site fraction 1
# Sun et al., Energy Environ. Sci. 18, 4335 (2025): Ru-1 at 0.1C, 307 mAh/g discharge at
# 97 % initial Coulombic efficiency -> first charge 316.5 mAh/g
PAPER_FIRST_CHARGE_MAH_G = 307 / 0.97
CAPACITY_TOLERANCE = 0.02      # ICE given to +-0.5 %, RuO2 mass 0.46 %, 0.1C vs open circuit
PLATEAU_V = (4.4, 4.6)


def case_with_core(core: dict):
    """cases/pristine_stress.yaml with its core replaced by `core`."""
    data = read_yaml_file(CASES / "pristine_stress.yaml")
    data["materials"]["core"] = copy.deepcopy(core)
    data.pop("fitted")  # it names the LRMO core's diffusivity
    return validate_case(data)


def refused(core_extra: dict) -> str:
    base = {"parameter_set": "lrmo_sun2025"}
    with pytest.raises(CaseError) as err:
        case_with_core({**base, **core_extra})
    return str(err.value)


TABLE = {"site_fraction": [0.2, 0.6, 1.0], "voltage": [4.6, 4.4, 3.5], "source": "test"}


# -- tables and expressions are checked, naming the key -------------------------------------
@pytest.mark.parametrize("change, needle", [
    ({"site_fraction": [0.2, 0.1, 1.0]}, "site_fraction[1] = 0.1 is not above site_fraction[0] = 0.2"),
    ({"site_fraction": [0.2, 0.6, 1.2]}, "site_fraction[2] = 1.2 is outside [0, 1]"),
    ({"site_fraction": [0.2, 1.0]}, "same length; got 2 and 3"),
    ({"voltage": [4.6, 4.7, 3.5]}, "voltage[1] = 4.7 V is above voltage[0] = 4.6 V"),
    ({"voltage": [12, 4.4, 3.5]}, "voltage[0] = 12 V is outside (0, 10) V"),
    ({"site_fraction": [1.0], "voltage": [4.0]}, "at least 2 points"),
    ({"unit": "A"}, "must be a unit of voltage"),
    ({"source": None}, "source: required"),
    ({"window": ["2.0 V", "4.5 V"]}, "voltage[0] = 4.6 V is outside window [2, 4.5] V"),
    ({"window": ["4.8 V", "2.0 V"]}, "window: lower must be below upper"),
    ({"expression": "4 - x"}, "either site_fraction and voltage (a table) or expression"),
    ({"slope": 1}, "unknown key"),
])
def test_bad_open_circuit_voltage_tables_are_refused_naming_the_key(change, needle):
    table = {k: v for k, v in {**TABLE, **change}.items() if v is not None}
    text = refused({"open_circuit_voltage": table})
    assert "materials.core.open_circuit_voltage" in text and needle in text, text


@pytest.mark.parametrize("expression, needle", [
    ("4.5 - 0.8*y", "unknown symbol 'y'"),
    ("4.5 - gamma(x)", "unknown function 'gamma'"),
    ("__import__('os')", "cannot read"),
    ("x.real", "cannot read '.real'"),
    ("4.5 - 0.8*x + 0.05*log((1-x)/x)", "not finite at x = 0"),
    ("9**9**9 - 9**9**9 + 4", "not finite"),
    ("3.5 + 0.8*x", "rises from"),
    ("(4.5 - x", "cannot parse"),
])
def test_bad_expressions_are_refused_with_a_clear_message(expression, needle):
    text = refused({"open_circuit_voltage": {"expression": expression, "source": "test"}})
    assert "materials.core.open_circuit_voltage" in text and needle in text, text


def test_an_expression_within_its_range_is_accepted_and_evaluates():
    core = case_with_core({"parameter_set": "lrmo_sun2025", "open_circuit_voltage": {
        "expression": "4.5 - 0.8*x + 0.05*log((1-x)/x)", "site_fraction_range": [0.01, 0.99],
        "source": "test"}}).materials.core
    ocv = core.open_circuit_voltage
    assert not ocv.is_table and ocv.expression.startswith("4.5")
    assert float(ocv(0.5)) == pytest.approx(4.1, abs=1e-12)
    with pytest.raises(ValueError, match="expression"):
        ocv.arrays()


@pytest.mark.parametrize("key, table, needle", [
    ("lithium_diffusivity_factor", {"site_fraction": [0.2, 1.0], "factor": [0.0, 1.0]}, "factor[0] = 0 must be > 0"),
    ("lithium_diffusivity_factor", {"site_fraction": [0.5, 0.2], "factor": [1.0, 1.0]}, "site_fraction[1] = 0.2 is not above"),
    ("lithium_diffusivity_factor", {"site_fraction": [0.2, 1.0], "factor": [1.0]}, "same length"),
    ("volume_change", {"site_fraction": [0.2, 1.0], "value": [-3.62, 0.0]}, "value[0] = -3.62 is outside (-1, 1)"),
    ("volume_change", {"site_fraction": [0.2, 1.0], "value": [-0.03, 0.01]}, "must be 0"),
    ("volume_change", {"site_fraction": [-0.1, 1.0], "value": [-0.03, 0.0]}, "site_fraction[0] = -0.1 is outside [0, 1]"),
])
def test_bad_factor_and_volume_tables_are_refused_naming_the_key(key, table, needle):
    text = refused({key: {**table, "source": "test"}})
    assert f"materials.core.{key}" in text and needle in text, text


@pytest.mark.parametrize("entry, needle", [
    ({"value": 0, "unit": "A/m^2", "source": "x"}, "must be > 0"),
    ({"value": 1, "unit": "A/m^2"}, "give its source"),
    ({"value": 1, "unit": "V", "source": "x"}, "cannot be converted"),
])
def test_the_exchange_current_density_is_positive_with_a_source(entry, needle):
    text = refused({"exchange_current_density": entry})
    assert "materials.core.exchange_current_density" in text and needle in text, text


@pytest.mark.parametrize("alpha", [0, 1, 1.2])
def test_the_charge_transfer_coefficient_is_inside_0_1(alpha):
    text = refused({"charge_transfer_coefficient": alpha})
    assert "materials.core.charge_transfer_coefficient" in text and "must be > 0 and < 1" in text


# -- sets: filled only when asked ------------------------------------------------------------
def test_a_set_fills_electrochemistry_only_when_the_case_asks():
    plain = case_with_core({"parameter_set": "lrmo_sun2025"}).materials.core
    assert plain.open_circuit_voltage is None and plain.lithium_diffusivity_factor is None
    assert plain.volume_change is None and plain.exchange_current_density is None
    asked = case_with_core({"parameter_set": "lrmo_sun2025",
                            **{k: FROM_SET for k in ELECTROCHEMISTRY_KEYS}}).materials.core
    chosen = get_parameter_set("lrmo_sun2025")
    site_fraction, voltage = asked.open_circuit_voltage.arrays()
    assert list(site_fraction) == chosen.electrochemistry["open_circuit_voltage"].data["site_fraction"]
    assert voltage[0] == 4.8 and asked.open_circuit_voltage.window_V() == (2.0, 4.8)
    assert "parameter set lrmo_sun2025: ASSUMED" in asked.open_circuit_voltage.source
    assert "theta = 0.67: 4.45 V DERIVED" in asked.open_circuit_voltage.source
    assert asked.exchange_current_density.si == 0.1
    assert asked.lithium_diffusivity_factor.arrays()[1].min() > 0
    assert asked.volume_change.arrays()[1][-1] == 0.0


def test_from_set_is_refused_without_a_set_or_an_entry():
    with pytest.raises(CaseError, match="open_circuit_voltage: 'from_set' needs a parameter_set"):
        case_with_core({**load_case(CASES / "pristine_stress.yaml").materials.core.model_dump(
            include={"density"}), "open_circuit_voltage": FROM_SET})
    with pytest.raises(CaseError, match="parameter set lco_ai2020 has no open_circuit_voltage"):
        case_with_core({"parameter_set": "lco_ai2020", "open_circuit_voltage": FROM_SET})


def test_every_shipped_electrochemistry_entry_validates_and_is_cited():
    for name, chosen in parameter_sets().items():
        if not chosen.electrochemistry:
            continue
        core = case_with_core({"parameter_set": name, **{k: FROM_SET for k in chosen.electrochemistry}})
        for key, entry in chosen.electrochemistry.items():
            assert getattr(core.materials.core, key) is not None, (name, key)
            if entry.kind != "assumed":
                assert entry.refs, (name, key)
        assert len(case_citations(core)) >= len(chosen.citations())


def test_the_nmc811_open_circuit_voltage_is_chen2020s_fit():
    core = case_with_core({"parameter_set": "nmc811_okane2022", "open_circuit_voltage": FROM_SET,
                           "exchange_current_density": FROM_SET}).materials.core
    ocv = core.open_circuit_voltage
    x = 0.5
    chen = (-0.8090 * x + 4.4875 - 0.0428 * np.tanh(18.5138 * (x - 0.5542))
            - 17.7326 * np.tanh(15.7890 * (x - 0.3117)) + 17.5842 * np.tanh(15.9308 * (x - 0.3120)))
    assert float(ocv(x)) == pytest.approx(chen, abs=1e-12)
    assert ocv.range() == (0.2661, 0.9084)
    assert core.exchange_current_density.si == pytest.approx(3.42e-6 * 1000 ** 0.5 * 63104 / 2, rel=1e-3)


# -- the LRMO first charge against the paper -----------------------------------------------
def lrmo_ocv() -> OpenCircuitVoltage:
    entry = get_parameter_set("lrmo_sun2025").electrochemistry["open_circuit_voltage"]
    assert isinstance(entry, SetTable)
    return OpenCircuitVoltage.model_validate(entry.case_entry("lrmo_sun2025"))


def test_lrmo_first_charge_capacity_to_4p8_V_matches_the_paper():
    """(1 - theta(4.8 V)) x 1.2 F / (3.6 M) from the table: 316.5 mAh/g, the paper's Ru-1
    first charge (307 mAh/g / 0.97) within 2 %."""
    ocv = lrmo_ocv()
    theta_end = ocv.site_fraction_at(4.8)
    capacity = (1.0 - theta_end) * theoretical_capacity_mAh_g(LRMO_LI_PER_FU, LRMO_M_G_MOL)
    assert capacity == pytest.approx(PAPER_FIRST_CHARGE_MAH_G, rel=CAPACITY_TOLERANCE)
    assert ocv.window_V()[1] == 4.8 and float(ocv(ocv.range()[0])) == pytest.approx(4.8)


def test_lrmo_oxygen_plateau_is_near_4p5_V():
    """Beyond the transition-metal capacity (Ni2+/Co3+ -> 4+, theta = 0.67), at least
    70 % of the charge to 4.8 V is stored between 4.4 and 4.6 V, and the knee before it
    lies at 4.45 V."""
    ocv = lrmo_ocv()
    theta_tm = 1 - (2 * 0.158 + 0.080) / LRMO_LI_PER_FU
    theta_end = ocv.site_fraction_at(4.8)
    theta = np.linspace(theta_end, theta_tm, 2001)
    u = ocv(theta)
    on_plateau = np.mean((u >= PLATEAU_V[0]) & (u <= PLATEAU_V[1]))
    assert on_plateau >= 0.7
    assert PLATEAU_V[0] <= float(np.median(u)) <= PLATEAU_V[1]
    assert float(ocv(theta_tm)) == pytest.approx(4.45, abs=1e-9)
    s, v = ocv.arrays()
    assert 3.0 <= v[-1] <= 3.7 and s[-1] == 1.0  # the open-circuit start


def test_the_docs_show_the_electrochemistry_as_shipped():
    docs = (ROOT / "docs" / "parameter-sets.md").read_text(encoding="utf-8")
    for name in parameter_sets():
        table = electrochemistry_markdown(name)
        if table:
            assert table in docs, name


# -- existing cases are untouched ---------------------------------------------------------
# the cases written for the voltage model (a protocol of steps with a voltage: the cycles,
# with or without oxygen redox) take them
CASE_FILES = sorted(p for p in CASES.glob("*.yaml") if "cycle" not in p.name)


@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: p.name)
def test_shipped_cases_take_no_electrochemistry(path):
    """No case of before asks for an electrochemistry entry, so a set fills none: their
    runs are those of before (the core's six values: tests/test_parameter_sets.py)."""
    case = load_case(path)
    if case.materials is None:
        return
    core = case.materials.core
    for key in ("open_circuit_voltage", "exchange_current_density", "lithium_diffusivity_factor",
                "volume_change"):
        assert getattr(core, key) is None, (path.name, key)
    resolved = resolved_case_dict(case)["materials"]["core"]
    assert resolved["charge_transfer_coefficient"] == {"value": 0.5, "unit": ""}


def test_lrmo_validate_takes_an_entry_from_the_set_with_set(capsys):
    """`lrmo validate` prints the resolved case with the set's table and its source (the
    shipped cases: tests/test_case_validation.py)."""
    from lrmo.cli import main

    code = main(["validate", str(CASES / "nmc811_stress.yaml"), "--set",
                 "materials.core.open_circuit_voltage=from_set"])
    out = capsys.readouterr().out
    assert code == 0
    assert "expression: -0.8090*x + 4.4875" in out and "parameter set nmc811_chen2020: FITTED" in out


def test_the_resolved_case_reloads_to_the_same_tables(tmp_path):
    from solver.case.schema import dump_case_yaml

    case = case_with_core({"parameter_set": "lrmo_sun2025", **{k: FROM_SET for k in ELECTROCHEMISTRY_KEYS}})
    path = tmp_path / "case.yaml"
    path.write_text(dump_case_yaml(case))
    again = load_case(path).materials.core
    for key in ELECTROCHEMISTRY_KEYS:
        assert getattr(again, key) == getattr(case.materials.core, key), key

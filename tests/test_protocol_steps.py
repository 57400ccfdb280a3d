"""A protocol written as steps ("Charge at 1C until 4.8 V") reads into SI step objects,
repeats unroll with their cycle numbers, the legacy first-charge cases become the same
objects, and a step that cannot be read or could never end is refused with its key path
and the allowed forms (exit 2 from `lrmo validate`)."""
import pytest
import yaml

from conftest import CASES
from lrmo.cli import main
from solver.case.loading import CaseError
from solver.case.protocol_steps import ALLOWED_FORMS, protocol_of, read_step, read_steps
from solver.case.schema import dump_case_yaml, load_case, load_case_data, validate_case
from solver.case.steps import Limit, Step

ONE_C_A_KG = 250.0  # 250 mA/g
PRISTINE = CASES / "pristine_stress.yaml"


def _first_charge_protocol(path) -> bool:
    protocol = yaml.safe_load(path.read_text()).get("protocol") or {}
    return "steps" not in protocol and "c_rate" in protocol


LEGACY_CASES = sorted(p for p in [*CASES.glob("*.yaml"), *CASES.glob("variants/*.yaml")]
                      if _first_charge_protocol(p))

# (text, mode, value in SI, limits in SI)
FORMS = [
    ("Charge at 1C until 4.8 V", "current", 250.0, [("voltage", 4.8)]),
    ("Charge at C/3 until 4.8 V", "current", 250.0 / 3, [("voltage", 4.8)]),
    ("Charge at 0.5C for 2 hours", "current", 125.0, [("time", 7200.0)]),
    ("Charge at 250 mA/g for 30 minutes", "current", 250.0, [("time", 1800.0)]),
    ("Charge at 0.25 A/g until 250 mAh/g", "current", 250.0, [("capacity", 9.0e5)]),
    ("Discharge at 0.1C until 2.0 V", "current", -25.0, [("voltage", 2.0)]),
    ("Hold at 4.8 V until C/50", "voltage", 4.8, [("current", 5.0)]),
    ("Hold at 4.8 V until 5 mA/g", "voltage", 4.8, [("current", 5.0)]),
    ("Hold at 4.8 V for 1 hour", "voltage", 4.8, [("time", 3600.0)]),
    ("Rest for 1 hour", "rest", 0.0, [("time", 3600.0)]),
    ("Rest for 30 minutes", "rest", 0.0, [("time", 1800.0)]),
    ("Rest for 600 s", "rest", 0.0, [("time", 600.0)]),
    ("Charge at 1C for 1 hour or until 4.8 V", "current", 250.0, [("time", 3600.0), ("voltage", 4.8)]),
    ("Charge at 1C until 4.8 V or 300 mAh/g", "current", 250.0, [("voltage", 4.8), ("capacity", 1.08e6)]),
    ("Charge at 1C until site fraction 0.19", "current", 250.0, [("site_fraction", 0.19)]),
    ("Hold at site fraction 0.19 for 10 minutes", "site_fraction", 0.19, [("time", 600.0)]),
    # case, spacing and number spellings
    ("  charge AT 1 c   UNTIL 4.80v ", "current", 250.0, [("voltage", 4.8)]),
    ("Charge at 1e-3 A/g until 4.8 V", "current", 1.0, [("voltage", 4.8)]),
    ("Rest for 1 Hour", "rest", 0.0, [("time", 3600.0)]),
]


@pytest.mark.parametrize("text, mode, value, limits", FORMS, ids=[f[0].strip() for f in FORMS])
def test_each_written_form_reads_to_its_mode_value_and_limits_in_si(text, mode, value, limits):
    step = read_step(text, ONE_C_A_KG)
    assert step.mode == mode
    assert step.value == pytest.approx(value, rel=1e-12)
    assert [lim.kind for lim in step.limits] == [kind for kind, _ in limits]
    assert [lim.value for lim in step.limits] == pytest.approx([v for _, v in limits], rel=1e-12)
    assert step.text == " ".join(text.split()) and step.cycle == 1


def test_discharge_is_a_negative_current_and_charge_a_positive_one():
    charge, discharge = read_step("Charge at C/2 until 4.8 V", 250.0), read_step("Discharge at C/2 until 2 V", 250.0)
    assert charge.value == -discharge.value == 125.0
    assert (charge.direction, discharge.direction) == (1, -1)


def test_repeat_blocks_unroll_with_the_outermost_repeat_as_cycle_number():
    steps = read_steps(["Charge at 1C until 4.8 V",
                        {"repeat": 2, "steps": ["Discharge at 1C until 2 V",
                                                {"repeat": 3, "steps": ["Rest for 1 min"]}]},
                        "Rest for 1 hour"], ONE_C_A_KG)
    assert [(s.cycle, s.mode) for s in steps] == [
        (1, "current"),
        (1, "current"), (1, "rest"), (1, "rest"), (1, "rest"),
        (2, "current"), (2, "rest"), (2, "rest"), (2, "rest"),
        (1, "rest")]


def test_protocol_cycles_repeat_the_whole_list_and_number_it():
    steps = read_steps(["Charge at 1C until 4.8 V", "Discharge at 1C until 2 V"], ONE_C_A_KG, cycles=3)
    assert [s.cycle for s in steps] == [1, 1, 2, 2, 3, 3]
    assert [s.direction for s in steps] == [1, -1] * 3


def _with_kinetics(data: dict) -> dict:
    """A case's data with an OCV and Butler-Volmer kinetics: a voltage step needs them."""
    data["materials"]["core"].update(
        open_circuit_voltage={"expression": "4.4 - 0.8*x", "source": "test"},
        exchange_current_density={"value": 0.1, "unit": "A/m^2", "source": "test"})
    return data


def test_a_case_with_steps_converts_to_a_protocol_without_an_end_time():
    data = load_case_data(PRISTINE)
    data["protocol"] = {"current_1C": "250 mA/g", "cycles": 2,
                        "steps": ["Charge at 1C until 4.8 V", "Hold at 4.8 V until C/50", "Rest for 1 hour"]}
    case = validate_case(_with_kinetics(data))
    protocol = protocol_of(case)
    assert protocol.end_time_s is None and protocol.current_1C_A_kg == 250.0
    assert len(protocol.steps) == 6 and protocol.steps[4].limit("current") == pytest.approx(5.0)
    assert case.end_time_s() is None and case.output_times_s() is None
    assert case.output_interval_s() == 60.0  # the default spacing when the end is unknown


def test_the_pristine_case_becomes_a_charge_to_the_floor_then_a_hold():
    case = load_case(PRISTINE)
    protocol = protocol_of(case)
    floor = case.lithium.min_site_fraction.si
    assert protocol.steps == (
        Step(f"Charge at 1C until site fraction {floor:g}", "current", 250.0, (Limit("site_fraction", floor),)),
        Step(f"Hold at site fraction {floor:g}", "site_fraction", floor),
    )
    assert protocol.end_time_s == 75 * 60 and protocol.current_1C_A_kg == 250.0
    assert case.output_interval_s() is None and case.output_times_s()[-1] == 75 * 60


@pytest.mark.parametrize("path", LEGACY_CASES, ids=lambda p: p.name)
def test_every_legacy_case_converts(path):
    case = load_case(path)
    protocol = protocol_of(case)
    p = case.protocol
    assert protocol.end_time_s == p.end_time.si
    assert protocol.steps[0].mode == "current"
    assert protocol.steps[0].value == pytest.approx(p.c_rate.si * p.current_1C.si)
    assert len(protocol.steps) == (2 if p.hold_at_floor else 1)


def test_the_legacy_charge_without_hold_is_one_current_step_ended_by_the_end_time():
    protocol = protocol_of(load_case(PRISTINE, ["protocol.hold_at_floor=false", "protocol.c_rate=C/2"]))
    assert protocol.steps == (Step("Charge at 0.5C", "current", 125.0),)
    assert protocol.end_time_s == 75 * 60


def test_assigning_the_c_rate_from_python_changes_the_converted_step():
    case = load_case(PRISTINE)
    case.protocol.c_rate = "2C"
    assert protocol_of(case).steps[0].value == 500.0


REFUSED = [
    ("Charge at 1 until 4.8V", "is not a rate"),
    ("Charge at 1C", "needs an end"),
    ("Rest", "needs an end"),
    ("Hold at 4.8 V", "needs an end"),
    ("Rest until 4.8 V", "cannot end at a voltage"),
    ("Charge at 1C until C/50", "cannot end at a current"),
    ("Charge at 4.8 V until 5 V", "is a voltage, not a rate"),
    ("Hold at 1C for 1 hour", "a hold is at a voltage"),
    ("Hold at 12 V for 1 hour", "a voltage must be in (0, 10) V"),
    ("Charge at 0C until 4.8 V", "a rate must be > 0"),
    ("Charge at 1C for 4.8 V", "'for' takes a time"),
    ("Charge at 1C until site fraction 1.2", "site fraction must be in (0, 1)"),
    ("Rest for 0 s", "a time must be > 0"),
    ("Charge at 1C until 0 mAh/g", "a capacity must be > 0"),
    ("Charge at 1C until 4.8 V or 4.7 V", "two ends of the same kind"),
    ("Charge at 1C until 4.8 furlongs", "is not a voltage, current, capacity or time"),
    ("Charge to 4.8 V", "neither Charge at"),
]


@pytest.mark.parametrize("text, reason", REFUSED, ids=[t for t, _ in REFUSED])
def test_a_malformed_step_names_its_key_path_and_the_allowed_forms(text, reason):
    with pytest.raises(CaseError) as refused:
        read_steps(["Rest for 1 min", "Rest for 2 min", text], ONE_C_A_KG)
    message = str(refused.value)
    assert message.startswith(f"protocol.steps[2]: cannot read {text!r}: ")
    assert reason in message and message.endswith(f"allowed forms: {ALLOWED_FORMS}")


def test_a_step_inside_a_repeat_is_named_by_its_nested_key_path():
    with pytest.raises(CaseError, match=r"^protocol\.steps\[1\]\.steps\[0\]: cannot read 'Rest'"):
        read_steps(["Rest for 1 min", {"repeat": 2, "steps": ["Rest"]}], ONE_C_A_KG)


@pytest.mark.parametrize("protocol, message", [
    ({"current_1C": "250 mA/g", "end_time": "1 h", "c_rate": "1C", "steps": ["Rest for 1 h"]},
     "protocol.c_rate: belongs to the first charge"),
    ({"steps": ["Charge at 1C until 4.8 V"]}, "needs protocol.current_1C"),
    ({"steps": [{"repeat": 0, "steps": ["Rest for 1 h"]}]}, "protocol.steps[0].repeat: must be an integer"),
    ({"steps": [{"repeat": 2, "step": ["Rest for 1 h"]}]}, "protocol.steps[0]: a repeat block is"),
    ({"steps": []}, "protocol.steps: must be a non-empty list"),
    ({"c_rate": 1, "current_1C": "250 mA/g"}, "protocol.end_time: required key is missing"),
])
def test_a_protocol_mixing_or_missing_its_form_is_refused(protocol, message):
    data = load_case_data(PRISTINE)
    data["protocol"] = protocol
    with pytest.raises(CaseError) as refused:
        validate_case(data)
    assert message in str(refused.value)


def test_output_interval_lists_the_times_up_to_a_known_end_and_excludes_output_times():
    data = load_case_data(PRISTINE)
    data["protocol"] = {"steps": ["Rest for 1 h"], "end_time": "2 h"}
    data["output"] = {"interval": "25 min"}
    case = validate_case(data)
    assert case.output_times_s() == [0.0, 1500.0, 3000.0, 4500.0, 6000.0, 7200.0]
    assert case.output_interval_s() == 1500.0
    data["output"] = {"interval": "1 min", "times": {"values": [60]}}
    with pytest.raises(CaseError, match="give output.times or output.interval, not both"):
        validate_case(data)


def test_output_times_after_the_end_time_of_a_protocol_of_steps_are_refused():
    data = load_case_data(PRISTINE)
    data["protocol"] = {"steps": ["Rest for 1 h"], "end_time": "1 h"}
    data["output"] = {"times": {"values": [0, 2], "unit": "h"}}
    with pytest.raises(CaseError, match="must not exceed protocol.end_time"):
        validate_case(data)


def test_the_resolved_case_of_a_protocol_of_steps_validates_again():
    data = load_case_data(PRISTINE)
    data["protocol"] = {"current_1C": "250 mA/g", "steps": ["Charge at 1C until 4.8 V",
                                                            {"repeat": 2, "steps": ["Rest for 1 h"]}]}
    case = validate_case(_with_kinetics(data))
    again = validate_case(yaml.safe_load(dump_case_yaml(case)))
    assert protocol_of(again) == protocol_of(case)


def test_lrmo_validate_exits_2_naming_the_bad_step(tmp_path, capsys):
    data = load_case_data(PRISTINE)
    data["protocol"] = {"current_1C": "250 mA/g", "steps": ["Charge at 1C until 4.8 V", "Rest for 1 h",
                                                            "Charge at 1 until 4.8V"]}
    path = tmp_path / "bad_step.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    code = main(["validate", str(path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "protocol.steps[2]: cannot read 'Charge at 1 until 4.8V'" in err
    assert "allowed forms:" in err and "Traceback" not in err


def test_a_protocol_of_steps_next_to_oxygen_needs_an_end_time():
    data = load_case_data(CASES / "pristine_o2.yaml")
    data["protocol"] = {"current_1C": "250 mA/g", "steps": ["Charge at 1C until 4.8 V"]}
    with pytest.raises(CaseError, match=r"^protocol\.end_time: required when physics includes 'oxygen'"):
        validate_case(data)
    data["protocol"]["end_time"] = "1 h"
    case = validate_case(data)
    assert case.end_time_s() == max(3600.0, case.oxygen.end_time.si)

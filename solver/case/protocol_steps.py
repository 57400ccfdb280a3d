"""A cycling protocol written in words, as PyBaMM's Experiment strings, read into the
plain objects of solver/case/steps.py (SI units; charge positive).

One step is one string (case-insensitive, any whitespace):

    Charge at <rate> until <voltage> | <capacity> | site fraction <x>
    Charge at <rate> for <time>
    Discharge at <rate> until ...           mode current, value < 0
    Hold at <voltage> until <rate> | for <time>      mode voltage
    Hold at site fraction <x> for <time>    mode site_fraction (the legacy floor)
    Rest for <time>                         mode rest

End conditions are joined by "or" and the step ends at the first one reached:
"Charge at 1C for 1 hour or until 4.8 V", "Charge at 1C until 4.8 V or 300 mAh/g".
A rate is a C-rate (1C, 0.5 C, C/3; times protocol.current_1C) or a specific current
(250 mA/g, 0.25 A/g; 1 mA/g = 1 A/kg); a capacity is mAh/g (1 mAh/g = 3600 C/kg); a time
any unit of time (600 s, 30 minutes, 1 hour). The C of a C-rate is never the coulomb.

In a case file `protocol.steps` is a list whose items are step strings or blocks
`{repeat: N, steps: [...]}` (nested as deep as wanted); `protocol.cycles: N` repeats
the whole list. Repeats are unrolled here: Step.cycle is the repetition of the outermost
repeat (1 outside any). `protocol_of(case)` turns either protocol form of a case, steps
or the legacy `kind: galvanostatic_charge`, into one Protocol.
"""
from __future__ import annotations

import dataclasses
import re
from typing import Any

from solver.case.loading import CaseError, clip, clip_repr
from solver.case.steps import Limit, Protocol, Step
from solver.case.units import _NUMBER, check_unit_text, parse_quantity_text, ureg

MAX_REPEAT = 10_000
MAX_STEPS = 100_000  # after unrolling
MAX_STEP_CHARS = 200
VOLTAGE_RANGE_V = (0.0, 10.0)

ALLOWED_FORMS = (
    '"Charge|Discharge at <rate> until <voltage>|<capacity>|site fraction <x>", "Charge at '
    '<rate> for <time>", "Hold at <voltage> until <rate>", "Hold at <voltage>|site fraction <x> '
    'for <time>", "Rest for <time>" (rate: 1C, C/3, 250 mA/g; ends joined by "or")')

# which end conditions can end a step of each mode (a charge cannot end at a current: it
# is the current; a rest or a site-fraction hold only after a time)
ENDS_OF_MODE = {
    "current": ("voltage", "capacity", "site_fraction", "time"),
    "voltage": ("current", "capacity", "time"),
    "site_fraction": ("time",),
    "rest": ("time",),
}
_WHAT = {"current": "a charge or discharge", "voltage": "a voltage hold",
         "site_fraction": "a site-fraction hold", "rest": "a rest"}
_END_HINT = {"current": "'until 4.8 V' or 'for 1 hour'", "voltage": "'until C/50' or 'for 1 hour'",
             "site_fraction": "'for 10 minutes'", "rest": "'for 1 hour'"}

# (limit kind, SI unit) tried in order on a '<number> <unit>' text
_DIMENSIONS = (("voltage", "V"), ("current", "A/kg"), ("capacity", "C/kg"), ("time", "s"))
_NAMES = {"voltage": "a voltage", "current": "a current", "capacity": "a capacity",
          "time": "a time", "site_fraction": "a site fraction"}
# unit spellings in other letter cases ("4.8 v", "1 Hour"); tried only when the unit as
# written is unknown, so "MA/g" stays megaampere per gram
_UNIT_SPELLINGS = {"v": "V", "mv": "mV", "ma/g": "mA/g", "a/g": "A/g", "a/kg": "A/kg",
                   "mah/g": "mAh/g", "ah/g": "Ah/g", "ah/kg": "Ah/kg"}

_FLAGS = re.IGNORECASE
_C_RATE = re.compile(rf"(?:({_NUMBER})\s*C|C(?:\s*/\s*({_NUMBER}))?)", _FLAGS)
_SITE_FRACTION = re.compile(rf"site\s+fraction\s+({_NUMBER})", _FLAGS)
_ENDS = r"(?:\s+(?P<ends>(?:for|until)\s.*))?"
_FORMS = (
    ("current", re.compile(rf"(?P<verb>charge|discharge)\s+at\s+(?P<drive>.+?){_ENDS}", _FLAGS)),
    ("hold", re.compile(rf"hold\s+at\s+(?P<drive>.+?){_ENDS}", _FLAGS)),
    ("rest", re.compile(rf"rest{_ENDS}", _FLAGS)),
)
_OR = re.compile(r"\s+or\s+", _FLAGS)
_KEYWORD = re.compile(r"(for|until)\s+(.*)", _FLAGS)


def _c_rate(text: str) -> float | None:
    """The number of C in '1C', '0.5 C', 'C/3', 'C'; None if `text` is no C-rate."""
    m = _C_RATE.fullmatch(text)
    if m is None:
        return None
    if m.group(1) is not None:
        return float(m.group(1))
    divisor = float(m.group(2)) if m.group(2) is not None else 1.0
    if divisor <= 0:
        raise ValueError(f"{text!r} is not a C-rate: the divisor must be > 0")
    return 1.0 / divisor


def _to_si(value: float, unit: str, si_unit: str) -> float | None:
    """value in `unit` converted to `si_unit`; None if the unit is not of that kind."""
    for spelling in dict.fromkeys((unit, _UNIT_SPELLINGS.get(unit.lower().replace(" ", ""), unit.lower()))):
        try:
            return float(ureg.Quantity(value, check_unit_text(spelling)).to(si_unit).magnitude)
        except Exception:  # pint: unknown unit or another dimension
            continue
    return None


def _amount(text: str, current_1C_A_kg: float | None) -> Limit:
    """'4.8 V', '300 mAh/g', 'C/50', '5 mA/g', '30 minutes', 'site fraction 0.19' -> a Limit
    of the matching kind with its SI value, range-checked."""
    if (m := _SITE_FRACTION.fullmatch(text)) is not None:
        x = float(m.group(1))
        if not 0 < x < 1:
            raise ValueError(f"site fraction must be in (0, 1); got {x:g}")
        return Limit("site_fraction", x)
    if (rate := _c_rate(text)) is not None:
        if current_1C_A_kg is None:
            raise ValueError(f"the C-rate {text!r} needs protocol.current_1C (the current of 1C)")
        if not rate > 0:
            raise ValueError(f"a rate must be > 0; got {text!r}")
        return Limit("current", rate * current_1C_A_kg)
    try:
        value, unit = parse_quantity_text(text)
    except ValueError:
        raise ValueError(f"{clip_repr(text, 40)} is not a number with a unit") from None
    if not unit:
        raise ValueError(f"{value:g} has no unit (write e.g. 1C, 4.8 V, 250 mAh/g or 1 hour)")
    for kind, si_unit in _DIMENSIONS:
        si = _to_si(value, unit, si_unit)
        if si is None:
            continue
        low, high = VOLTAGE_RANGE_V if kind == "voltage" else (0.0, float("inf"))
        if not low < si < high:
            bounds = f"in ({low:g}, {high:g}) V" if kind == "voltage" else "> 0"
            raise ValueError(f"{_NAMES[kind]} must be {bounds}; got {clip(text, 40)}")
        return Limit(kind, si)
    raise ValueError(f"unit {clip_repr(unit, 30)} is not a voltage, current, capacity or time")


def _ends(text: str | None, mode: str, current_1C_A_kg: float | None) -> tuple[Limit, ...]:
    """'for 1 hour or until 4.8 V' -> the step's limits; each kind at most once."""
    if text is None:
        raise ValueError(f"{_WHAT[mode]} needs an end: add {_END_HINT[mode]}")
    limits: list[Limit] = []
    for i, part in enumerate(_OR.split(text)):
        m = _KEYWORD.fullmatch(part)
        if m is None and i == 0:
            raise ValueError("an end starts with 'for' or 'until'")
        keyword, amount = (m.group(1).lower(), m.group(2)) if m else ("until", part)
        limit = _amount(amount, current_1C_A_kg)
        if keyword == "for" and limit.kind != "time":
            raise ValueError(f"'for' takes a time; {clip_repr(amount, 40)} is {_NAMES[limit.kind]}")
        if limit.kind not in ENDS_OF_MODE[mode]:
            raise ValueError(f"{_WHAT[mode]} cannot end at {_NAMES[limit.kind]} ({clip(amount, 40)})")
        if any(lim.kind == limit.kind for lim in limits):
            raise ValueError(f"two ends of the same kind ({_NAMES[limit.kind]})")
        limits.append(limit)
    return tuple(limits)


def _drive(kind: str, verb: str | None, text: str, current_1C_A_kg: float | None) -> tuple[str, float]:
    """The mode and value of a step from what follows 'Charge at' / 'Hold at'."""
    bare = re.fullmatch(rf"\s*{_NUMBER}\s*", text) is not None
    if kind == "current":
        if bare:
            raise ValueError(f"{clip_repr(text, 40)} is not a rate: write 1C, C/3 or a current such as 250 mA/g")
        amount = _amount(text, current_1C_A_kg)
        if amount.kind == "voltage":
            raise ValueError(f"{clip(text, 40)} is a voltage, not a rate: to hold it write "
                             f"'Hold at {clip(text, 40)} until C/50'")
        if amount.kind != "current":
            raise ValueError(f"{clip(text, 40)} is {_NAMES[amount.kind]}, not a rate (1C, C/3, 250 mA/g)")
        return "current", amount.value if verb.lower() == "charge" else -amount.value
    amount = _amount(text, current_1C_A_kg)
    if amount.kind not in ("voltage", "site_fraction"):
        raise ValueError(f"a hold is at a voltage (4.8 V) or at 'site fraction <x>'; "
                         f"{clip(text, 40)} is {_NAMES[amount.kind]}")
    return amount.kind, amount.value


def read_step(text: str, current_1C_A_kg: float | None = None, where: str = "step") -> Step:
    """One step string -> Step (SI; charge positive). `current_1C_A_kg` converts C-rates;
    CaseError naming `where`, the step and the allowed forms if it cannot be read or could
    never end."""
    try:
        if not isinstance(text, str):
            raise ValueError("a step is a string such as 'Rest for 1 hour' or a block "
                             "{repeat: N, steps: [...]}")
        words = " ".join(text.split())
        if len(words) > MAX_STEP_CHARS:
            raise ValueError(f"longer than {MAX_STEP_CHARS} characters")
        for kind, form in _FORMS:
            if (m := form.fullmatch(words)) is not None:
                break
        else:
            raise ValueError("it starts with neither Charge at, Discharge at, Hold at nor Rest")
        if kind == "rest":
            mode, value = "rest", 0.0
        else:
            mode, value = _drive(kind, m.groupdict().get("verb"), m.group("drive"), current_1C_A_kg)
        return Step(text=words, mode=mode, value=value, limits=_ends(m.group("ends"), mode, current_1C_A_kg))
    except ValueError as exc:
        raise CaseError(f"{where}: cannot read {clip_repr(text, 50)}: {exc}; allowed forms: "
                        f"{ALLOWED_FORMS}") from None


def _repeat_block(item: dict, where: str) -> tuple[int, list]:
    """{repeat: N, steps: [...]} -> (N, the list), checked."""
    if set(item) != {"repeat", "steps"}:
        raise CaseError(f"{where}: a repeat block is {{repeat: N, steps: [...]}}; got keys "
                        f"{clip(', '.join(map(str, item)), 80)}")
    n, inner = item["repeat"], item["steps"]
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_REPEAT:
        raise CaseError(f"{where}.repeat: must be an integer from 1 to {MAX_REPEAT}; got {clip_repr(n, 40)}")
    return n, inner


def _unrolled(items: Any, where: str, current_1C_A_kg: float | None, number_cycles: bool) -> list[Step]:
    """The steps of `items` in order, every repeat block unrolled; with `number_cycles`
    the repetitions of each block here set Step.cycle (the outermost repeat)."""
    if not isinstance(items, list) or not items:
        raise CaseError(f"{where}: must be a non-empty list of steps; got {clip_repr(items, 60)}")
    steps: list[Step] = []
    for i, item in enumerate(items):
        here = f"{where}[{i}]"
        if not isinstance(item, dict):
            steps.append(read_step(item, current_1C_A_kg, here))
            continue
        n, inner = _repeat_block(item, here)
        body = _unrolled(inner, f"{here}.steps", current_1C_A_kg, number_cycles=False)
        if len(steps) + n * len(body) > MAX_STEPS:
            raise CaseError(f"{here}: more than {MAX_STEPS} steps once repeated")
        steps.extend(dataclasses.replace(s, cycle=k) if number_cycles else s
                     for k in range(1, n + 1) for s in body)
    return steps


def read_steps(items: Any, current_1C_A_kg: float | None = None, cycles: int | None = None,
               where: str = "protocol.steps") -> tuple[Step, ...]:
    """The `protocol.steps` list (strings and {repeat: N, steps: [...]} blocks) unrolled
    into Steps, the whole list `cycles` times. Step.cycle numbers the outermost repeat:
    `cycles` when > 1, else each top-level block's own repetitions (1 outside blocks)."""
    if cycles is None or cycles <= 1:
        return tuple(_unrolled(items, where, current_1C_A_kg, number_cycles=True))
    body = _unrolled(items, where, current_1C_A_kg, number_cycles=False)
    if cycles * len(body) > MAX_STEPS:
        raise CaseError(f"protocol.cycles: more than {MAX_STEPS} steps once repeated")
    return tuple(dataclasses.replace(s, cycle=k) for k in range(1, cycles + 1) for s in body)


def _step_strings(items: Any, where: str):
    """(key path, item) of every step string of a steps list, repeat blocks walked once."""
    for i, item in enumerate(items if isinstance(items, list) else ()):
        if isinstance(item, dict):
            yield from _step_strings(item.get("steps"), f"{where}[{i}].steps")
        else:
            yield f"{where}[{i}]", item


def check_step_voltages(items: Any, current_1C_A_kg: float | None, ocv, missing: list[str],
                        where: str = "protocol.steps") -> None:
    """Refuse (ValueError naming the step) a voltage, held or as an end, in a case whose
    core material lacks the keys in `missing` (the open-circuit voltage and the kinetics
    a voltage needs), or outside the potentials the particle can reach with `ocv` (the
    case's OpenCircuitVoltage: its window when given, `reachable_V`). `items`: the
    protocol.steps list as written, already readable (read_steps)."""
    for here, text in _step_strings(items, where):
        step = read_step(text, current_1C_A_kg, here)
        volts = [step.value] if step.mode == "voltage" else []
        volts += [lim.value for lim in step.limits if lim.kind == "voltage"]
        if not volts:
            continue
        name = f"{here} {step.text!r}"
        if missing:
            keys = " and ".join(f"materials.core.{k}" for k in missing)
            raise ValueError(f"{name}: a voltage needs the open-circuit voltage and Butler-Volmer "
                             f"kinetics of the core; give {keys} (or write from_set with a "
                             "parameter_set), or drive the step by a current or a time")
        low, high, basis = ocv.reachable_V()
        for v in volts:
            if v > high or v < low:
                side = "above" if v > high else "below"
                raise ValueError(f"{name}: {v:g} V is {side} the open-circuit voltage's range "
                                 f"({basis}): the particle's potential cannot reach it; keep "
                                 "the step's voltages within that range")


def legacy_steps(c_rate: float, current_1C_A_kg: float, floor: float, hold_at_floor: bool) -> tuple[Step, ...]:
    """The first charge of `kind: galvanostatic_charge` as steps: charge at `c_rate` until
    the surface's lowest site fraction reaches `floor`, then hold the surface there (or,
    without the hold, charge until the protocol's end time)."""
    current = c_rate * current_1C_A_kg
    if not hold_at_floor:
        return (Step(f"Charge at {c_rate:g}C", "current", current),)
    return (Step(f"Charge at {c_rate:g}C until site fraction {floor:g}", "current", current,
                 (Limit("site_fraction", floor),)),
            Step(f"Hold at site fraction {floor:g}", "site_fraction", floor))


def protocol_of(case) -> Protocol:
    """The protocol of a validated Case as steps, from either form of `protocol:`; the
    overall end (protocol.end_time) is Protocol.end_time_s, None when not given."""
    p = case.protocol
    if p is None:
        raise CaseError("protocol: required key is missing (physics includes 'lithium')")
    current_1C = None if p.current_1C is None else p.current_1C.si
    end = None if p.end_time is None else p.end_time.si
    if p.steps is None:
        steps = legacy_steps(p.c_rate.si, current_1C, case.lithium.min_site_fraction.si, p.hold_at_floor)
        return Protocol(steps, end, current_1C, {"legacy": True})
    return Protocol(read_steps(p.steps, current_1C, p.cycles), end, current_1C)


__all__ = ["read_step", "read_steps", "check_step_voltages", "legacy_steps", "protocol_of", "ALLOWED_FORMS", "ENDS_OF_MODE",
           "MAX_REPEAT", "MAX_STEPS"]

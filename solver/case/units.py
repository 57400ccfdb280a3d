"""Physical quantities in case files: `{value, unit, source}` or a string such as
"150 nm", converted to SI with pint and range-checked. One unit registry for lrmo.

Input never reaches pint's expression parser: a quantity string is split here into a
plain decimal number and a unit, and a unit must read as unit names joined by `/`, `*`
or spaces, each with an optional small integer power (`m^2/s`, `mol/m^3/s`, `1/s`).
Pint only ever sees such a unit string, so `9**9**9 nm` cannot make it compute."""
from __future__ import annotations

import math
import re
from typing import Annotated, Any, Optional

import pint
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, ValidationError, field_validator

from solver.case.loading import clip_repr

ureg = pint.UnitRegistry()

FARADAY_C_MOL = 96485.33212
GAS_CONSTANT_J_MOL_K = 8.314462618
BOLTZMANN_EV_K = 8.617333262e-5


_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_UNIT_NAME = r"(?:[A-Za-z_\u00b0\u00b5\u03bc\u03a9\u2126%]+(?:\^-?[1-9])?)"
_UNIT = re.compile(rf"(?:1|{_UNIT_NAME})(?:\s*[/*]\s*{_UNIT_NAME}|\s+{_UNIT_NAME})*")
_QUANTITY_TEXT = re.compile(rf"\s*({_NUMBER})\s*(.*?)\s*")
MAX_UNIT_CHARS = 40


def check_unit_text(unit: str) -> str:
    """`unit` if it is a plain unit expression (names, `/`, `*`, `^small int`); else
    ValueError. The empty string is dimensionless."""
    if not isinstance(unit, str):
        raise ValueError(f"a unit must be a string; got {clip_repr(unit)}")
    text = unit.strip()
    if text and (len(text) > MAX_UNIT_CHARS or not _UNIT.fullmatch(text)):
        raise ValueError(
            f"unit {clip_repr(unit, 60)} is not a plain unit: write names joined by '/', '*' "
            "or spaces with small integer powers, e.g. 'm^2/s', 'mol/m^3', 'g/cm^3'")
    return text



def check_unit_of(unit: str, dimension: str, examples: str) -> str:
    """`unit` if it is a plain unit expression convertible to `dimension` (e.g. "V",
    "s"); else ValueError naming the examples ("V or mV")."""
    from solver.case.loading import clip_repr

    unit = check_unit_text(unit)
    try:
        ureg.Quantity(1.0, unit).to(dimension)
    except Exception:
        raise ValueError(f"must be a unit of {examples}; got {clip_repr(unit)}") from None
    return unit

def parse_quantity_text(raw: str) -> tuple[float, str]:
    """"150 nm" -> (150.0, "nm"): a decimal number, then a plain unit (maybe empty)."""
    m = _QUANTITY_TEXT.fullmatch(raw) if len(raw) <= 200 else None
    unit_ok = m is not None and (not m.group(2) or _UNIT.fullmatch(m.group(2)))
    if not unit_ok or len(m.group(2)) > MAX_UNIT_CHARS:
        raise ValueError(
            f"cannot read {clip_repr(raw, 80)} as a quantity: expected '<number> <unit>' "
            "with a plain number and unit names joined by '/', '*' or spaces, each with at "
            "most a one-digit power (no expressions), e.g. '150 nm' or '1e-17 m^2/s'")
    value = float(m.group(1))
    if not math.isfinite(value):
        raise ValueError(f"must be a finite number; got {clip_repr(raw, 80)}")
    return value, m.group(2)


class Quantity(BaseModel):
    """A number with its unit and where it comes from."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)
    value: float
    unit: str = ""
    source: Optional[str] = None
    si: float = 0.0  # filled by the field's validator; not part of the input
    si_unit: str = ""

    @field_validator("unit")
    @classmethod
    def _plain_unit(cls, unit: str) -> str:
        return check_unit_text(unit)

    @field_validator("value", mode="before")
    @classmethod
    def _number_text(cls, value):
        """"6.08e4" (YAML 1.1 reads it as a string) is a number; other text is not."""
        if isinstance(value, str) and re.fullmatch(rf"\s*{_NUMBER}\s*", value[:100]):
            return float(value)
        return value

    def __float__(self) -> float:
        return self.si

    def short(self) -> str:
        return f"{self.value:g} {self.unit}".strip()


class AssignmentChecked(BaseModel):
    """Base of the case sections (with `validate_assignment`): a refused assignment raises
    CaseError naming the full key path, as a case file would
    (`case.protocol.c_rate = 0` -> 'protocol.c_rate: must be > 0; got 0')."""

    def __setattr__(self, name: str, value: Any) -> None:
        before = dict(self.__dict__)
        try:
            super().__setattr__(name, value)
        except ValidationError as exc:
            # a section-level check (e.g. min < initial) fails after the field was set
            self.__dict__.clear()
            self.__dict__.update(before)
            from solver.case.schema import assignment_error

            raise assignment_error(type(self), exc) from None


def _parse(raw: Any) -> Any:
    """Accept "150 nm", a bare number (dimensionless) or a mapping."""
    if isinstance(raw, Quantity):
        return raw
    if isinstance(raw, dict) and {"si", "si_unit"} & set(raw):
        raise ValueError("unknown key 'si'; a quantity takes value, unit and source")
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return {"value": raw, "unit": ""}
    if isinstance(raw, str):
        value, unit = parse_quantity_text(raw)
        return {"value": value, "unit": unit}
    if not isinstance(raw, dict):
        raise ValueError("a quantity is a number, a '<number> <unit>' string or a mapping "
                         f"{{value, unit, source}}; got {clip_repr(raw, 80)}")
    return raw


def _bounds_text(si_unit, gt, ge, lt, le) -> str:
    parts = []
    if gt is not None:
        parts.append(f"> {gt:g}")
    if ge is not None:
        parts.append(f">= {ge:g}")
    if lt is not None:
        parts.append(f"< {lt:g}")
    if le is not None:
        parts.append(f"<= {le:g}")
    return " and ".join(parts) + (f" {si_unit}" if si_unit else "")


# a unit to suggest when a dimensional value is written without one
EXAMPLE_UNITS = {"m": "nm", "s": "min", "m^2/s": "m^2/s", "Pa": "GPa", "m^3/mol": "m^3/mol",
                 "mol/m^3": "mol/m^3", "kg/m^3": "g/cm^3", "A/kg": "mA/g", "K": "K",
                 "mol/m^3/s": "mol/m^3/s", "m/s": "m/s", "1/s": "1/s", "kg/mol": "g/mol",
                 "mol/m^2": "mol/m^2", "eV": "eV", "rad": "deg"}


def missing_unit_hint(value: float, si_unit: str) -> str:
    """The message for a bare number where a unit is needed: `200` for a length gives
    "200 has no unit: add one, e.g. '200 nm'"."""
    return (f"{value:g} has no unit: add one, e.g. '{value:g} {EXAMPLE_UNITS.get(si_unit, si_unit)}' "
            f"(a value in {si_unit})")


def quantity(si_unit: str, *, gt=None, ge=None, lt=None, le=None, parse=None):
    """Annotated type for a quantity convertible to `si_unit`, checked against bounds
    expressed in `si_unit`. Use `""` for dimensionless numbers. `parse` reads the raw
    input (default: a number, "<number> <unit>" or a mapping)."""

    def to_si(q: Quantity) -> Quantity:
        unit = q.unit or ""
        if not unit and si_unit:
            raise ValueError(missing_unit_hint(q.value, si_unit))
        try:
            si = ureg.Quantity(q.value, unit).to(si_unit or "dimensionless").magnitude
        except pint.errors.DimensionalityError:
            want = si_unit or "dimensionless"
            raise ValueError(f"unit {unit!r} cannot be converted to {want}") from None
        except Exception:
            raise ValueError(f"unknown unit {clip_repr(unit, 60)}") from None
        si = float(si)
        if not math.isfinite(si):
            raise ValueError(f"must be finite in {si_unit or 'SI'}; got {q.short()}")
        ok = (
            (gt is None or si > gt)
            and (ge is None or si >= ge)
            and (lt is None or si < lt)
            and (le is None or si <= le)
        )
        if not ok:
            allowed = _bounds_text(si_unit, gt, ge, lt, le)
            raise ValueError(f"must be {allowed}; got {q.short()}")
        return q.model_copy(update={"si": si, "si_unit": si_unit})

    return Annotated[Quantity, BeforeValidator(parse or _parse), AfterValidator(to_si)]


def dump_quantity(q: Quantity) -> dict:
    out = {"value": q.value, "unit": q.unit}
    if q.source:
        out["source"] = q.source
    return out


# -- C-rate ----------------------------------------------------------------------------
# A C-rate is a multiple of the 1C current: "2C", "2 C", "2", "0.5C", "C/3" or "C". The
# letter C is read here, never by pint (where it is the coulomb).
_C_RATE_TEXT = re.compile(rf"\s*(?:({_NUMBER})\s*C?|C\s*(?:/\s*({_NUMBER}))?)\s*")
C_RATE_FORMS = "2C, 2, C/3 or 0.5C"


def parse_c_rate(raw: Any) -> Any:
    """A C-rate in any of its written forms -> a dimensionless quantity mapping (the
    number of C). `{value, unit, source}` takes unit '', 'C' or '1'. Anything else with a
    unit ('3 A', '2 mA/g') is refused: a current belongs in protocol.current_1C."""
    if isinstance(raw, Quantity):
        return raw
    if isinstance(raw, dict):
        unit = raw.get("unit", "")
        if isinstance(unit, str) and unit.strip() in ("", "C", "1"):
            return {**raw, "unit": ""}
        raise ValueError(f"a C-rate is a number of C ({C_RATE_FORMS}); got unit {clip_repr(unit, 60)} "
                         "(a current belongs in protocol.current_1C, the current of 1C)")
    if isinstance(raw, str):
        m = _C_RATE_TEXT.fullmatch(raw) if len(raw) <= 100 else None
        if m is None:
            raise ValueError(f"cannot read {clip_repr(raw, 80)} as a C-rate: write {C_RATE_FORMS} "
                             "(a current belongs in protocol.current_1C, the current of 1C)")
        if m.group(1) is not None:
            value = float(m.group(1))
        else:
            divisor = float(m.group(2)) if m.group(2) is not None else 1.0
            if divisor == 0:
                raise ValueError(f"cannot read {clip_repr(raw, 80)} as a C-rate: division by zero")
            value = 1.0 / divisor
        if not math.isfinite(value):
            raise ValueError(f"must be a finite number; got {clip_repr(raw, 80)}")
        return {"value": value, "unit": ""}
    return _parse(raw)


# -- quantity kinds of case files (SI unit and allowed range) ---------------------------
Length = quantity("m", ge=0)
PositiveLength = quantity("m", gt=0)
Time = quantity("s", ge=0)
PositiveTime = quantity("s", gt=0)
Diffusivity = quantity("m^2/s", gt=0)
Modulus = quantity("Pa", gt=0)
PoissonRatio = quantity("", ge=0, lt=0.5)
MolarVolume = quantity("m^3/mol")  # sign allowed: some cathodes shrink on lithiation
Concentration = quantity("mol/m^3", ge=0)
PositiveConcentration = quantity("mol/m^3", gt=0)
Density = quantity("kg/m^3", gt=0)
SpecificCurrent = quantity("A/kg", gt=0)
Temperature = quantity("K", gt=0)
Fraction = quantity("", ge=0, le=1)
OpenFraction = quantity("", ge=0, lt=1)
PositiveNumber = quantity("", gt=0)
CRate = quantity("", gt=0, parse=parse_c_rate)  # the number of C: "2C", 2, "C/3", "0.5C"

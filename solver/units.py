"""Physical quantities in case files: `{value, unit, source}` or a string such as
"150 nm", converted to SI with pint and range-checked. One unit registry for lrmo."""
from __future__ import annotations

from typing import Annotated, Any, Optional

import pint
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict

ureg = pint.UnitRegistry()

FARADAY_C_MOL = 96485.33212
GAS_CONSTANT_J_MOL_K = 8.314462618
BOLTZMANN_EV_K = 8.617333262e-5


class Quantity(BaseModel):
    """A number with its unit and where it comes from."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    value: float
    unit: str = ""
    source: Optional[str] = None
    si: float = 0.0  # filled by the field's validator; not part of the input
    si_unit: str = ""

    def __float__(self) -> float:
        return self.si

    def short(self) -> str:
        return f"{self.value:g} {self.unit}".strip()


def _parse(raw: Any) -> Any:
    """Accept "150 nm", a bare number (dimensionless) or a mapping."""
    if isinstance(raw, Quantity):
        return raw
    if isinstance(raw, dict) and {"si", "si_unit"} & set(raw):
        raise ValueError("unknown key 'si'; a quantity takes value, unit and source")
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return {"value": raw, "unit": ""}
    if isinstance(raw, str):
        try:
            q = ureg.Quantity(raw)
        except Exception as exc:  # pint raises several kinds
            raise ValueError(f"cannot read {raw!r} as a quantity ({exc})") from None
        if not isinstance(q, pint.Quantity):
            return {"value": float(q), "unit": ""}
        return {"value": float(q.magnitude), "unit": f"{q.units:~}"}
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


def quantity(si_unit: str, *, gt=None, ge=None, lt=None, le=None):
    """Annotated type for a quantity convertible to `si_unit`, checked against bounds
    expressed in `si_unit`. Use `""` for dimensionless numbers."""

    def to_si(q: Quantity) -> Quantity:
        unit = q.unit or ""
        try:
            si = ureg.Quantity(q.value, unit).to(si_unit or "dimensionless").magnitude
        except pint.errors.DimensionalityError:
            want = si_unit or "dimensionless"
            raise ValueError(f"unit {unit!r} cannot be converted to {want}") from None
        except Exception:
            raise ValueError(f"unknown unit {unit!r}") from None
        si = float(si)
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

    return Annotated[Quantity, BeforeValidator(_parse), AfterValidator(to_si)]


def dump_quantity(q: Quantity) -> dict:
    out = {"value": q.value, "unit": q.unit}
    if q.source:
        out["source"] = q.source
    return out


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

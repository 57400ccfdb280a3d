"""The `fitted:` block of a case: each fitted parameter with the target it was fitted to.
The fit itself (re-running the model) is a study: solver/studies/fitting.py."""
from __future__ import annotations

from typing import Optional

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, field_validator

from solver.case.units import Quantity, ureg


class FittedParameter(BaseModel):
    """One fitted parameter: the case key path is the key of the `fitted:` entry."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    target_quantity: str = Field(description="summary key path, e.g. stress.peak_von_mises_Pa")
    target: Quantity = Field(description="the target value, any unit (e.g. 567 MPa, 0.86)")
    bracket: tuple[StrictFloat, StrictFloat] = Field(description="search interval, SI units of the parameter")
    value: Quantity = Field(description="the fitted value (the case uses it at the key path)")
    method: Optional[str] = None

    @field_validator("value", "target")
    @classmethod
    def _value_in_si(cls, q: Quantity) -> Quantity:
        si = ureg.Quantity(q.value, q.unit or "dimensionless").to_base_units()
        return q.model_copy(update={"si": float(si.magnitude), "si_unit": f"{si.units:~}"})

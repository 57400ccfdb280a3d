"""What the one time loop (solver/simulation/engine.py) asks of a submodel that it
advances with every accepted step: its forms and fields are its own business."""
from __future__ import annotations

from typing import Protocol

import numpy as np


class Submodel(Protocol):
    name: str  # the key of its results in the summary and of its checkpoint entries
    output_fields: dict  # name -> P1 Function, for the field files and the profile ray
    profile_columns: tuple[str, ...]  # output fields sampled on the ray (profiles.csv)
    end_time_s: float  # it is stepped up to here
    time_step_s: float  # its longest step when no Li transport sets the steps

    def step(self, t: float, dt: float, bdf: tuple[float, float, float], lead) -> None:
        """A trial step from t to t + dt with BDF2 coefficients `bdf`; `lead` is the
        simulation that sets the step (for a source that reads its state), or None."""

    def accept(self) -> None: ...

    def reject(self) -> None: ...

    def state(self) -> tuple[dict, dict[str, np.ndarray]]:
        """(JSON-able scalars, owned P1 dof arrays) at the last accepted step."""

    def restore(self, scalars: dict, arrays: dict[str, np.ndarray]) -> None: ...

    def scalars(self, t: float) -> dict:
        """Its timeseries columns at time t (collective), without t_s."""

    def ledger(self) -> dict:
        """Its conserved amounts (mol) and the closure error `ledger_error_mol`."""

    def results(self) -> dict:
        """Its entries of the summary."""

    def update_output_fields(self) -> None:
        """Fill the output fields that are derived (before they are written)."""

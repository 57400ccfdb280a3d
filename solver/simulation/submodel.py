"""What the one time loop (solver/simulation/engine.py) asks of a submodel that it
advances with every accepted step: its forms and fields are its own business."""
from __future__ import annotations

from typing import Protocol

import numpy as np
from dolfinx import fem
from mpi4py import MPI


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


class NodalSubmodel:
    """What most submodels share, for one whose state is P1 fields with BDF2 histories
    (new, previous, one before): `histories` makes them; accept, reject, state and
    restore shift, reset, save and read them back; `steps` counts the accepted steps.
    A subclass gives `name`, `profile_columns`, `output_fields`, `end_time_s`,
    `time_step_s`, `step` and `scalars` (solver/simulation/tracer.py: 25 lines)."""

    follows_lead = False
    steps = 0

    def histories(self, V, name: str, initial) -> tuple:
        """(new, previous, one before) P1 Functions of `name`, all set to `initial`."""
        triple = tuple(fem.Function(V, name=name) for _ in range(3))
        for f in triple:
            f.x.array[:] = initial
        self._histories = {**getattr(self, "_histories", {}), name: triple}
        return triple

    def accept(self) -> None:
        for new, n, nm1 in self._histories.values():
            nm1.x.array[:], n.x.array[:] = n.x.array, new.x.array
        self.steps += 1

    def reject(self) -> None:
        for new, n, _ in self._histories.values():
            new.x.array[:] = n.x.array

    def state(self) -> tuple[dict, dict[str, np.ndarray]]:
        arrays = {}
        for name, (_, n, nm1) in self._histories.items():
            owned = n.function_space.dofmap.index_map.size_local
            arrays[f"{name}_n"], arrays[f"{name}_nm1"] = n.x.array[:owned].copy(), nm1.x.array[:owned].copy()
        return {"steps": self.steps}, arrays

    def restore(self, scalars: dict, arrays: dict) -> None:
        for name, (new, n, nm1) in self._histories.items():
            for f, key in ((n, f"{name}_n"), (nm1, f"{name}_nm1"), (new, f"{name}_n")):
                f.x.array[: arrays[key].size] = arrays[key]
                f.x.scatter_forward()
        self.steps = scalars["steps"]

    def ledger(self) -> dict:
        return {}

    def results(self) -> dict:
        return {self.name: {"steps": self.steps, **self.scalars(self.end_time_s)}}

    def update_output_fields(self) -> None:
        pass

    @staticmethod
    def global_max(f) -> float:
        owned = f.x.array[: f.function_space.dofmap.index_map.size_local]
        return f.function_space.mesh.comm.allreduce(float(owned.max(initial=-np.inf)), op=MPI.MAX)

"""`lrmo run` of an O2-only case: the one run (solver/simulation/run.py) with the O2
submodel alone. Kept for the names other modules import from here."""
from __future__ import annotations

from pathlib import Path

from mpi4py import MPI

from solver.case.schema import Case
from solver.io.log import Log
from solver.simulation.oxygen_simulation import FLUX_FIELD, oxygen_domain, slice_points

PROFILE_COLUMNS = ("c_O2_mol_m3",)


def run_oxygen_case(case: Case, out_dir: str | Path, comm: MPI.Comm = MPI.COMM_WORLD,
                    log: Log | None = None, restart: bool = False,
                    restart_command: str | None = None) -> dict:
    """`run_case` (an O2-only case goes through the same life cycle and loop)."""
    from solver.simulation.run import run_case

    return run_case(case, out_dir, comm, log, restart=restart, restart_command=restart_command)


__all__ = ["run_oxygen_case", "oxygen_domain", "slice_points", "FLUX_FIELD", "PROFILE_COLUMNS"]

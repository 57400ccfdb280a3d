"""The output folder contract (README 'Outputs').

    case.yaml        fully resolved case
    summary.json     status, versions, n_ranks, dofs, wall time, mesh info, results
    timeseries.csv   one row per output time, first column t_s
    profiles.csv     long format: t_s, r_m, one column per field
    fields/          XDMF (and VTX where ADIOS2 exists) time series for ParaView

Every text file is written to a temporary name and renamed when complete, on rank 0.
Field files are written into `fields.partial/`, which becomes `fields/` when closed.
"""
from __future__ import annotations

import csv
import io
import json
import os
import shutil
from pathlib import Path

from mpi4py import MPI


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file in the same folder (rank-local)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def csv_text(header: list[str], rows: list[list[float]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([f"{v:.10g}" if isinstance(v, float) else v for v in row])
    return buf.getvalue()


class OutputFolder:
    """A run's output folder; all methods are collective-safe (rank 0 writes)."""

    def __init__(self, path: str | Path, comm: MPI.Comm = MPI.COMM_WORLD, fields: bool = True):
        """`fields=False`: a folder of summaries only (nothing is cleared)."""
        self.path = Path(path)
        self.comm = comm
        self.is_root = comm.rank == 0
        if not fields:
            if self.is_root:
                self.path.mkdir(parents=True, exist_ok=True)
            comm.barrier()
            return
        if self.is_root:
            self.path.mkdir(parents=True, exist_ok=True)
            for stale in ("summary.json", "timeseries.csv", "profiles.csv"):
                (self.path / stale).unlink(missing_ok=True)
            for d in ("fields", "fields.partial"):
                shutil.rmtree(self.path / d, ignore_errors=True)
            (self.path / "fields.partial").mkdir()
        comm.barrier()

    @property
    def partial_fields_dir(self) -> Path:
        return self.path / "fields.partial"

    def write_text(self, name: str, text: str) -> None:
        if self.is_root:
            write_atomic(self.path / name, text)

    def write_json(self, name: str, data: dict) -> None:
        self.write_text(name, json.dumps(data, indent=2, sort_keys=False, default=float) + "\n")

    def write_csv(self, name: str, header: list[str], rows: list[list[float]]) -> None:
        self.write_text(name, csv_text(header, rows))

    def finish_fields(self) -> None:
        """Publish `fields.partial/` as `fields/` (after every writer is closed)."""
        self.comm.barrier()
        if self.is_root and self.partial_fields_dir.exists():
            os.replace(self.partial_fields_dir, self.path / "fields")
        self.comm.barrier()

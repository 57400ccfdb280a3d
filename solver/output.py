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

import contextlib
import csv
import io
import json
import os
import shutil
import time
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
            for stale in ("summary.json", "timeseries.csv", "profiles.csv", "slices.csv"):
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


class RunRecord:
    """One run's folder from start to finish: case.yaml and a `running` summary at once,
    rows collected at the output times, and the closing write (fields published, CSV
    tables, final summary). Shared by every physics' `run_*` function."""

    def __init__(self, out_dir: str | Path, case_yaml: str, case_name: str, comm: MPI.Comm):
        from solver.provenance import versions

        self.comm = comm
        self.folder = OutputFolder(out_dir, comm)
        self.folder.write_text("case.yaml", case_yaml)
        self.summary: dict = {"status": "running", "case": case_name, "versions": versions(),
                              "n_ranks": comm.size}
        self.folder.write_json("summary.json", self.summary)  # replaced when the run ends
        self.timeseries: list[dict] = []
        self._tables: dict[str, tuple[list[str], list[list]]] = {}
        self.writer = None  # a FieldWriter, closed before fields/ is published
        self._start = time.perf_counter()

    def table(self, name: str, header: list[str]) -> list[list]:
        """Rows (filled by the caller on rank 0) of the CSV file `name`."""
        self._tables[name] = (list(header), [])
        return self._tables[name][1]

    @contextlib.contextmanager
    def guard(self, log):
        """Run the body. A SolverFailure (raised alike on every rank: PETSc's reasons are
        global) marks the run failed and lets `close` keep what is good. Any other error
        may be on this rank only: it is recorded in serial and re-raised without any
        collective call, for the caller to abort every rank."""
        from solver.linalg import SolverFailure

        try:
            yield
            self.summary["status"] = "completed"
        except SolverFailure as exc:
            t_last = self.timeseries[-1]["t_s"] if self.timeseries else 0.0
            self.summary["status"] = "failed"
            self.summary["message"] = f"{exc} (after the last good output at t = {t_last:g} s)"
            log.error(f"solver failure: {self.summary['message']}")
        except BaseException as exc:
            self.summary["status"] = "failed"
            self.summary["message"] = f"aborted by an unexpected error: {exc!r}"
            if self.comm.size == 1:
                self.folder.write_json("summary.json", self.summary)
            raise

    def close(self) -> dict:
        """Collective: close the field writer, publish fields/, write the tables and the
        final summary. Returns the summary."""
        if self.writer is not None:
            self.writer.close()
        self.folder.finish_fields()
        self.summary["wall_time_s"] = self.comm.allreduce(time.perf_counter() - self._start, op=MPI.MAX)
        if self.timeseries:
            header = list(self.timeseries[0])
            self.folder.write_csv("timeseries.csv", header, [[r[k] for k in header] for r in self.timeseries])
        for name, (header, rows) in self._tables.items():
            if rows:
                self.folder.write_csv(name, header, rows)
        self.folder.write_json("summary.json", self.summary)
        return self.summary

"""The output folder contract (README 'Outputs').

    case.yaml        fully resolved case
    summary.json     status (running, completed, failed, interrupted), versions, n_ranks,
                     host/pid/start of the job, dofs, wall time, mesh info, results;
                     a failed run's message, and reason 'bad input' when a protocol step
                     was refused at run time (solver/physics/protocol.py StepRefused)
    timeseries.csv   one row per output time, first column t_s
    profiles.csv     long format: t_s, r_m, one column per field
    fields/          XDMF (and VTX where ADIOS2 exists) time series for ParaView

Every text file is written to a temporary name and renamed when complete, on rank 0.
Field files are written into `fields.partial/`, which becomes `fields/` when closed.
An interrupted run leaves `checkpoint/` (solver/simulation/checkpoint.py) and `fields.partial/` for
`lrmo run --restart`, which keeps the results so far.

Safety: nothing is written outside the folder and no symlink inside it is followed (a
symlink where a result goes is removed, not written through); a re-run first clears
every result of the previous one (`oxygen/`, `mesh/` and checkpoints included). A
target that is not a folder, is not writable or fills up raises `OutputError` (exit 4).

Ownership: each command locks the folder it was given (`.lrmo-lock`, one writer at a
time: solver/io/folder_lock.py), marks it (`.lrmo-command`: run, sweep, verify,
reproduce, mesh or api) and refuses an existing, non-empty folder holding another
command's results unless asked (`--overwrite`): `claim_folder`.
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

from solver.io import folder_lock, rank_errors

# everything a run writes into its folder: cleared before a re-run
RESULT_ENTRIES = ("case.yaml", "summary.json", "timeseries.csv", "profiles.csv", "slices.csv",
                  "profiles_at_peak.csv", "fields_at_peak.xdmf", "fields_at_peak.h5", "fields_at_peak.partial",
                  "fields", "fields.partial", "mesh", "oxygen", "checkpoint", "checkpoint.partial",
                  "checkpoint.old")


class OutputError(OSError):
    """The output folder cannot be used or written (not a folder, not writable, full).
    The message names the path and the cause; the CLI exits with 4."""


def _describe(exc: OSError) -> str:
    return exc.strerror or str(exc)


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file in the same folder (rank-local).
    The temporary file is created exclusively (never through an existing file or
    symlink) and removed again if the write fails; `os.replace` swaps the name itself,
    so a symlink at `path` is replaced, not followed."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise OutputError(f"cannot write {path}: {_describe(exc)}") from None


def remove_entry(path: Path) -> None:
    """Remove a file, a folder tree or a symlink (the link itself, never its target)."""
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def prepare_folder(path: Path, clear: tuple[str, ...] = ()) -> None:
    """Create the folder if needed, check that it is a writable folder, and clear the
    named entries of a previous run (rank-local; raises OutputError)."""
    if path.exists() and not path.is_dir():
        raise OutputError(f"output folder {path} exists and is not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".lrmo-write-test-{os.getpid()}"
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        os.unlink(probe)
        for name in clear:
            remove_entry(path / name)
    except OutputError:
        raise
    except OSError as exc:
        raise OutputError(f"cannot use output folder {path}: {_describe(exc)}") from None


def root_collective(comm: MPI.Comm, action) -> None:
    """Run `action()` on rank 0 and raise its OutputError on every rank."""
    error = None
    if comm.rank == 0:
        try:
            action()
        except OutputError as exc:
            error = str(exc)
    error = comm.bcast(error, root=0)
    if error is not None:
        raise OutputError(error)


def json_text(data: dict) -> str:
    """A JSON file's text (summary.json and the like)."""
    return json.dumps(data, indent=2, sort_keys=False, default=float) + "\n"


def csv_text(header: list[str], rows: list[list[float]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([f"{v:.10g}" if isinstance(v, float) else v for v in row])
    return buf.getvalue()


class OutputFolder:
    """A run's output folder; all methods are collective-safe (rank 0 writes)."""

    def __init__(self, path: str | Path, comm: MPI.Comm = MPI.COMM_WORLD, fields: bool = True,
                 resume: bool = False):
        """`fields=False`: a folder of summaries only (nothing is cleared); `resume`: a
        restart, which keeps the results so far. Collective; raises OutputError on every
        rank when the folder cannot be used."""
        self.path = Path(path)
        self.comm = comm
        self.is_root = comm.rank == 0
        if not fields:
            root_collective(comm, lambda: prepare_folder(self.path))
            return

        def fresh():
            prepare_folder(self.path, clear=("checkpoint.partial",) if resume else RESULT_ENTRIES)
            (self.path / "fields.partial").mkdir(exist_ok=resume)

        root_collective(comm, fresh)

    @property
    def partial_fields_dir(self) -> Path:
        return self.path / "fields.partial"

    def write_text(self, name: str, text: str) -> None:
        """Rank 0 writes; an OutputError is raised on every rank (collective)."""
        root_collective(self.comm, lambda: write_atomic(self.path / name, text))

    def write_json(self, name: str, data: dict) -> None:
        self.write_text(name, json_text(data))

    def write_csv(self, name: str, header: list[str], rows: list[list[float]]) -> None:
        self.write_text(name, csv_text(header, rows))

    def finish_fields(self) -> None:
        """Publish `fields.partial/` as `fields/` (after every writer is closed)."""
        self.comm.barrier()

        def publish():
            try:
                if self.partial_fields_dir.exists():
                    remove_entry(self.path / "fields")
                    os.replace(self.partial_fields_dir, self.path / "fields")
            except OSError as exc:
                raise OutputError(f"cannot publish {self.path / 'fields'}: {_describe(exc)}") from None

        root_collective(self.comm, publish)


class RunRecord:
    """One run's folder from start to finish: case.yaml and a `running` summary at once,
    rows collected at the output times, and the closing write (fields published, CSV
    tables, final summary). Shared by every physics' `run_*` function."""

    def __init__(self, out_dir: str | Path, case_yaml: str, case_name: str, comm: MPI.Comm,
                 resume: bool = False):
        """`resume`: a restart from a checkpoint; the previous results stay until replaced.
        A running summary names the host and pid of rank 0 and the start time, so that a
        job killed without warning (SIGKILL) can be told from a live one."""
        import socket
        from datetime import datetime, timezone

        from solver.io.provenance import versions

        self.comm = comm
        self.folder = OutputFolder(out_dir, comm, resume=resume)
        self.folder.write_text("case.yaml", case_yaml)
        self.summary: dict = {"status": "running", "case": case_name, "versions": versions(),
                              "n_ranks": comm.size, "host": socket.gethostname(), "pid": os.getpid(),
                              "started_utc": datetime.now(timezone.utc).isoformat(timespec="seconds")}
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
        may be on this rank only: it is re-raised without any collective call, after the
        failed summary is written, by rank 0 if every rank raised one
        (solver/io/rank_errors.py `agree`), else by the failing rank (the caller then
        aborts every rank)."""
        from solver.numerics.linalg import SolverFailure

        try:
            yield
            self.summary["status"] = "completed"
        except SolverFailure as exc:
            t_last = self.timeseries[-1]["t_s"] if self.timeseries else 0.0
            self.summary["status"] = "failed"
            self.summary["message"] = f"{exc} (after the last good output at t = {t_last:g} s)"
            reason = getattr(exc, "reason", None)  # 'bad input': a step refused at run time
            if reason is not None:
                self.summary["reason"] = reason
            log.error(f"{reason or 'solver failure'}: {self.summary['message']}")
        except BaseException as exc:
            self.summary["status"] = "failed"
            self.summary["message"] = f"aborted by an unexpected error: {exc!r}"
            if isinstance(exc, Exception) and not isinstance(exc, OutputError):
                everywhere = rank_errors.agree(exc, self.comm) is not None
                if not everywhere:  # the run is aborted: this rank says why (rank 0 may wait)
                    self.summary["message"] = (f"aborted by an error on rank {self.comm.rank} of "
                                               f"{self.comm.size} only: {exc!r}")
                if self.comm.rank == 0 or not everywhere:
                    with contextlib.suppress(OutputError):
                        write_atomic(self.folder.path / "summary.json", json_text(self.summary))
            raise

    def write_timeseries(self) -> None:
        """(Re)write timeseries.csv with the rows so far (collective, atomic)."""
        if self.comm.bcast(bool(self.timeseries), root=0):
            header = list(self.timeseries[0])
            self.folder.write_csv("timeseries.csv", header, [[r[k] for k in header] for r in self.timeseries])

    def close(self, publish_fields: bool = True) -> dict:
        """Collective: close the field writer, publish fields/ (`publish_fields=False`,
        an interrupted run: left in fields.partial/ for the restart), write the tables
        and the final summary. Returns the summary."""
        if self.writer is not None:
            self.writer.close()
        if publish_fields:
            self.folder.finish_fields()
        self.summary["wall_time_s"] = self.comm.allreduce(time.perf_counter() - self._start, op=MPI.MAX)
        try:
            self.write_timeseries()
            for name, (header, rows) in self._tables.items():
                if self.comm.bcast(bool(rows), root=0):  # the rows live on rank 0
                    self.folder.write_csv(name, header, rows)
            self.folder.write_json("summary.json", self.summary)
        except OutputError as exc:  # e.g. a full disk: say so in the summary if it still fits
            self.summary.update(status="failed", message=f"output could not be written: {exc}")
            with contextlib.suppress(OutputError):
                self.folder.write_json("summary.json", self.summary)
            raise
        return self.summary


def watchable(rows: int) -> bool:
    """Rewrite timeseries.csv after this many rows? Every time up to 200 rows, then at
    every 1 % of growth (the rewrite costs O(rows))."""
    return rows <= 200 or rows % (rows // 100) == 0


# -- which command's results a folder holds ---------------------------------------------
COMMAND_MARKER = ".lrmo-command"
_MEMBER_FOLDERS = ("reproduce", "sweep", "verify")  # commands that write runs into subfolders
_LEGACY_SIGNS = (("report.md", "reproduce"), ("series.json", "sweep"))  # before markers


def _marker(path: Path) -> str | None:
    try:
        return (path / COMMAND_MARKER).read_text(encoding="utf-8").strip() or None
    except (OSError, UnicodeDecodeError):
        return None


def _multi_run_command(path: Path) -> str | None:
    """reproduce, sweep or verify if `path` is such a command's folder."""
    made_by = _marker(path)
    if made_by is not None:
        return made_by if made_by in _MEMBER_FOLDERS else None
    return next((cmd for name, cmd in _LEGACY_SIGNS if (path / name).is_file()), None)


def folder_maker(path: str | Path) -> str | None:
    """The lrmo command whose results `path` holds: its own marker, else the outermost
    reproduce/sweep/verify folder among its grandparent and parent (`path` is one of its
    runs or series), else its files (report.md, series.json, summary.json: run,
    info.json: mesh; folders written before markers existed)."""
    path = Path(path)
    made_by = _marker(path)
    if made_by is None and any(path.glob("verify_*/summary.json")):
        return "verify"  # an unmarked `lrmo verify` folder (reproduce runs no verify_* case)
    for folder in (path.resolve().parent.parent, path.resolve().parent, path):
        made_by = made_by or _multi_run_command(folder)
    if made_by is None and (path / "summary.json").is_file():
        return "run"
    if made_by is None and (path / "info.json").is_file():
        return "mesh"
    return made_by


class FolderClaim(contextlib.AbstractContextManager):
    """A command's hold on its folder: the lock (solver/io/folder_lock.py), held by rank 0
    until `release()` or the end of the `with` block. `note`: a stale lock replaced."""

    def __init__(self, path: Path, comm: MPI.Comm, note: str | None):
        self.path, self.comm, self.note = path, comm, note

    def release(self) -> None:
        if self.comm.rank == 0:
            folder_lock.release(self.path)

    def __exit__(self, *exc):
        self.release()
        return False


def claim_folder(path: str | Path, command: str, comm: MPI.Comm = MPI.COMM_WORLD,
                 overwrite: bool = False) -> FolderClaim:
    """Collective. Lock `path` for this command (creating it) and mark it as holding
    `command`'s results. Refuse with OutputError (on every rank) a folder another process
    is writing (its lock names it; a stale lock is replaced, see folder_lock), and an
    existing, non-empty folder that holds another command's results, unless `overwrite`."""
    path = Path(path)
    note = None

    def claim():
        nonlocal note
        prepare_folder(path)
        try:
            note = folder_lock.acquire(path, command, overwrite)
        except folder_lock.LockHeld as exc:
            raise OutputError(str(exc)) from None
        try:
            made_by = None
            if any(p.name != COMMAND_MARKER and not p.name.startswith(folder_lock.LOCK_NAME)
                   for p in path.iterdir()):
                made_by = folder_maker(path)
            if made_by not in (None, command) and not overwrite:
                raise OutputError(f"{path} holds the results of `lrmo {made_by}`; choose another "
                                  "--out, or add --overwrite to replace them")
            if _marker(path) != command:
                write_atomic(path / COMMAND_MARKER, command + "\n")
        except BaseException:
            folder_lock.release(path)
            raise

    root_collective(comm, claim)
    note, token = comm.bcast((note, folder_lock.token(path)) if comm.rank == 0 else None, root=0)
    folder_lock.held_by_rank_0(path, token)  # so that a rank aborting the run can release it
    return FolderClaim(path, comm, note)

"""Messages and progress on rank 0 only.

Progress: an interactive run (one rank, stderr a terminal) shows a progress bar; any
other (under mpirun/srun, a batch job, output to a file) prints a line every
LRMO_PROGRESS_SECONDS seconds of wall time (default 30) with the simulated time, the
step, what the physics reports about it and the estimated time to completion."""
from __future__ import annotations

import contextlib
import os
import sys
import time

from mpi4py import MPI


def quiet_library_logging() -> None:
    """FFCx installs a root log handler at import, and the JIT compiler's build step
    raises the root level to INFO: show only warnings and errors from libraries."""
    import logging

    import dolfinx  # noqa: F401  (imports FFCx, which adds the handler)

    for handler in logging.getLogger().handlers:
        handler.setLevel(logging.WARNING)


class Log:
    def __init__(self, comm: MPI.Comm = MPI.COMM_WORLD, quiet: bool = False):
        self.root = comm.rank == 0
        self.size = comm.size
        self.quiet = quiet
        self._bar = None

    def info(self, message: str) -> None:
        if self.root and not self.quiet:
            print(message, flush=True)

    def progress_note(self, message: str) -> None:
        if not (self.root and not self.quiet):
            return
        if self._bar is not None:
            self._bar.write(message)
        else:
            print(message, flush=True)

    def error(self, message: str) -> None:
        if self.root:
            print(f"error: {message}", file=sys.stderr, flush=True)

    def notice(self, message: str) -> None:
        """An important message that is not an error (stderr, rank 0, even when quiet)."""
        if self.root:
            print(f"lrmo: {message}", file=sys.stderr, flush=True)

    @contextlib.contextmanager
    def progress_bar(self, total: float, unit: str, start: float = 0.0):
        """Yields `advance(t, describe=None)`: the bar moves to t, or (not interactive) a
        line is printed when due, with `describe()` (a short text about the step)."""
        if not self.root or self.quiet:
            yield lambda t, describe=None: None
            return
        if self.size == 1 and sys.stderr.isatty():
            with self._bar_on_terminal(total, unit, start) as advance:
                yield advance
            return
        yield ProgressLines(total, unit, start, progress_seconds()).advance

    @contextlib.contextmanager
    def _bar_on_terminal(self, total: float, unit: str, start: float):
        from tqdm import tqdm

        bar = tqdm(total=total, initial=start, unit=unit, file=sys.stderr, leave=False,
                   bar_format="{l_bar}{bar}| {n:.4g}/{total:.4g} {unit} [{elapsed}<{remaining}]",
                   disable=None)
        self._bar = bar

        def advance(t: float, describe=None) -> None:
            bar.update(t - bar.n)

        try:
            yield advance
        finally:
            bar.close()
            self._bar = None


def progress_seconds() -> float:
    """Seconds between progress lines: $LRMO_PROGRESS_SECONDS, default 30."""
    try:
        value = float(os.environ.get("LRMO_PROGRESS_SECONDS", "30"))
    except ValueError:
        return 30.0
    return value if value >= 0 else 30.0


def _clock(seconds: float) -> str:
    if seconds != seconds or seconds == float("inf"):
        return "?"
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class ProgressLines:
    """A progress line every `every_s` seconds of wall time (rank 0 prints)."""

    def __init__(self, total: float, unit: str, start: float, every_s: float):
        self.total, self.unit, self.start_value, self.every_s = total, unit, start, every_s
        self.start = self.last = time.monotonic()

    def advance(self, t: float, describe=None) -> None:
        now = time.monotonic()
        if now - self.last < self.every_s:
            return
        self.last = now
        elapsed = now - self.start
        done = t - self.start_value
        detail = f", {describe()}" if describe is not None else ""
        if self.total is None:  # ends on an event (a protocol of steps without an end time)
            print(f"[progress] t = {t:.6g} {self.unit}{detail}; elapsed {_clock(elapsed)}", flush=True)
            return
        remaining = elapsed / done * (self.total - t) if done > 0 else float("inf")
        print(f"[progress] t = {t:.6g} of {self.total:.6g} {self.unit} ({100 * t / self.total:.1f} %)"
              f"{detail}; elapsed {_clock(elapsed)}, remaining ~{_clock(remaining)}", flush=True)

"""Messages and progress on rank 0 only."""
from __future__ import annotations

import contextlib
import sys

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

    @contextlib.contextmanager
    def progress_bar(self, total: float, unit: str):
        """Yields `advance(t)` that moves the bar to t (no bar off rank 0 or when quiet)."""
        if not self.root or self.quiet:
            yield lambda t: None
            return
        from tqdm import tqdm

        bar = tqdm(total=total, unit=unit, file=sys.stderr, leave=False,
                   bar_format="{l_bar}{bar}| {n:.4g}/{total:.4g} {unit} [{elapsed}<{remaining}]",
                   disable=None)
        self._bar = bar

        def advance(t: float) -> None:
            bar.update(t - bar.n)

        try:
            yield advance
        finally:
            bar.close()
            self._bar = None

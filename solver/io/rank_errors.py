"""An error raised on the ranks of an MPI run: agreed on by every rank, or the run aborted.

An error that every rank raises alike (a bad input found while building, the same bug
at the same line) ends the command cleanly: each rank learns that every other rank
failed too (`agree`), rank 0 reports the error once and writes the failed summary, the
folder's lock is released and every rank exits with the same code. An error on some
ranks only would leave the others waiting in a collective call forever (an MPI hang): it
is told apart by waiting `LRMO_RANK_ERROR_WAIT_S` seconds (default 30) for the other
ranks' errors; then the rank that has the error prints it, releases the folder's lock
(also the one rank 0 holds: rank 0 is killed by the abort) and aborts every rank
(`abort`, MPI_Abort with the command's exit code).

The agreement is made of point-to-point messages of a tag of its own, which never match
a collective call (MPI keeps the two apart), so a rank blocked in a collective is not
disturbed: each failing rank sends its error to every other rank and waits for theirs.
No collective call is made on the way, whatever happened before."""
from __future__ import annotations

import os
import sys
import time
import traceback
from dataclasses import dataclass

from mpi4py import MPI

from solver.io import folder_lock

TAG = 27183  # below the smallest MPI_TAG_UB that MPI allows (32767)
WAIT_ENV = "LRMO_RANK_ERROR_WAIT_S"
DEFAULT_WAIT_S = 30.0


@dataclass(frozen=True)
class RankError:
    rank: int
    kind: str  # the exception's class name
    message: str
    trace: str  # the formatted traceback

    def line(self) -> str:
        first = (self.message.splitlines() or [""])[0]
        return f"{self.kind}: {first}" if first else self.kind


def wait_s() -> float:
    """How long a failing rank waits for the others' errors (LRMO_RANK_ERROR_WAIT_S)."""
    try:
        return max(0.0, float(os.environ.get(WAIT_ENV, DEFAULT_WAIT_S)))
    except ValueError:
        return DEFAULT_WAIT_S


def agree(exc: BaseException, comm: MPI.Comm = MPI.COMM_WORLD) -> list[RankError] | None:
    """Called where `exc` was caught, on a rank of `comm`: every rank's error (by rank)
    if every rank of `comm` raised one within `wait_s()`, else None (then the caller
    aborts the run). Point-to-point only; the answer is kept on `exc`, so a second call
    for the same error (a handler further up) answers at once: the same answer for the
    same communicator, None for any other once one said None (the communicators of a run
    are parts of COMM_WORLD)."""
    answers = getattr(exc, "_lrmo_rank_agreement", None)
    if answers is None:
        answers = {}
        try:
            exc._lrmo_rank_agreement = answers
        except AttributeError:
            pass
    key = comm.py2f()
    if key in answers:
        return answers[key]
    if None in answers.values():  # some ranks of a smaller communicator did not raise it
        return None
    mine = RankError(comm.rank, type(exc).__name__, str(exc), "".join(traceback.format_exception(exc)))
    theirs = {comm.rank: mine}
    sends = [comm.isend(mine, dest=r, tag=TAG) for r in range(comm.size) if r != comm.rank]
    deadline = time.monotonic() + wait_s()
    while len(theirs) < comm.size:
        for r in range(comm.size):
            if r not in theirs and comm.iprobe(source=r, tag=TAG):
                theirs[r] = comm.recv(source=r, tag=TAG)
        if len(theirs) < comm.size:
            if time.monotonic() >= deadline:
                break
            time.sleep(0.01)
    agreed = None
    if len(theirs) == comm.size:
        MPI.Request.waitall(sends)
        agreed = [theirs[r] for r in range(comm.size)]
    answers[key] = agreed
    return agreed


def abort(exc: BaseException, code: int, comm: MPI.Comm = MPI.COMM_WORLD) -> None:
    """For an error the other ranks did not raise alike (`agree` gave None): print it
    (this rank's traceback and one line), release the folder locks of this run and
    abort every rank with `code` (never returns)."""
    traceback.print_exception(exc)
    print(f"lrmo: {type(exc).__name__} on rank {comm.rank} of {comm.size}, not raised on every rank "
          f"within {wait_s():g} s ({WAIT_ENV}): aborting every rank", file=sys.stderr)
    sys.stderr.flush()
    folder_lock.release_for_abort()
    comm.Abort(code)


__all__ = ["RankError", "agree", "abort", "wait_s", "WAIT_ENV"]

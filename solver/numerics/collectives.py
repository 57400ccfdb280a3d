"""Reductions over the ranks of a communicator that cost nothing on one rank: mpi4py's
object `allreduce` pickles its argument even then (~30 us a call; a 1D step makes a
dozen, more than its solve costs)."""
from __future__ import annotations


def allreduce(comm):
    """`comm.allreduce` (value, op=...), or the identity when `comm` has one rank."""
    if comm.size == 1:
        return lambda value, op=None: value
    return comm.allreduce


def allgather(comm):
    """`comm.allgather` (value), or [value] when `comm` has one rank."""
    if comm.size == 1:
        return lambda value: [value]
    return comm.allgather


__all__ = ["allreduce", "allgather"]

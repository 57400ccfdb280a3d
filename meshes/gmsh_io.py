"""Gmsh on rank 0: a quiet model session, the build run on rank 0 with its errors
re-raised on every rank, the model distributed by DOLFINx (`compat.model_to_mesh`,
collective), and the .msh + info.json files of a built mesh."""
from __future__ import annotations

import contextlib
import json
import signal
import threading
from pathlib import Path
from typing import Any, Callable

import gmsh
from mpi4py import MPI

MESH_FILE = "mesh.msh"
INFO_FILE = "info.json"


def expression_number(value) -> str:
    """A number for a Gmsh MathEval expression: the shortest repr of a plain float. (A
    numpy float's repr is "np.float64(0.5)" under numpy 2, which Gmsh's parser rejects
    with an abort, not an error.)"""
    return repr(float(value))


@contextlib.contextmanager
def gmsh_session(model_name: str):
    """A fresh, quiet Gmsh model on this process.

    Gmsh is initialised and finalised here unless it was already running (a caller's own
    session), in which case only the model is added and removed again. Gmsh options are
    global, so the ones set inside stay set in a caller's session. Gmsh's `initialize`
    resets SIGINT and SIGTERM to the default action (the process dies at once; Python
    still reports its own handlers) and never puts them back: the caller's handlers are
    installed again here, so that a run's stop request (a Python handler, run when Gmsh
    returns) also covers meshing. The two signals are held back meanwhile (a signal
    inside `initialize` would meet the default action) and delivered once the handlers
    are back."""
    owns_gmsh = not gmsh.isInitialized()
    if owns_gmsh:
        stops = (signal.SIGINT, signal.SIGTERM)
        main = threading.current_thread() is threading.main_thread()
        handlers = {s: signal.getsignal(s) for s in stops} if main else {}
        held = signal.pthread_sigmask(signal.SIG_BLOCK, stops) if main else None
        try:
            gmsh.initialize(readConfigFiles=False)
        finally:
            for s, handler in handlers.items():
                signal.signal(s, handler if handler is not None else signal.SIG_DFL)
            if held is not None:
                signal.pthread_sigmask(signal.SIG_SETMASK, held)
    gmsh.option.setNumber("General.Terminal", 0)
    gmsh.model.add(model_name)
    try:
        yield gmsh.model
    finally:
        if owns_gmsh:
            gmsh.finalize()
        else:
            gmsh.model.remove()


def run_gmsh_on_rank0(
    comm: MPI.Comm,
    build: Callable[[], Any],
    gdim: int | None = None,
    out_dir: str | Path | None = None,
    model_name: str = "lrmo",
):
    """Run `build()` (fills the current Gmsh model, returns an info dict) on rank 0.

    With `out_dir`, rank 0 writes mesh.msh and info.json there. With `gdim`, the model is
    distributed and (mesh, cell_tags, facet_tags, info) is returned on every rank;
    without, only the info (broadcast to every rank)."""
    rank0 = comm.rank == 0
    with gmsh_session(model_name) if rank0 else contextlib.nullcontext():
        info, error = None, None
        if rank0:
            try:
                info = build()
                if out_dir is not None:
                    write_mesh_files(out_dir, info)
            except Exception as exc:  # re-raised on every rank just below
                error = exc
        error, info = comm.bcast((error, info), root=0)
        if error is not None:
            raise error
        if gdim is None:
            return info
        from solver import compat

        msh, cell_tags, facet_tags = compat.model_to_mesh(gmsh.model, comm, 0, gdim)
    return msh, cell_tags, facet_tags, info


def write_mesh_files(out_dir: str | Path, info: dict | None) -> None:
    """Write the current Gmsh model's mesh as `mesh.msh` and `info` as `info.json`.

    Only elements in physical groups are saved (Mesh.SaveAll = 0)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    gmsh.option.setNumber("Mesh.SaveAll", 0)
    gmsh.write(str(out_dir / MESH_FILE))
    if info is not None:
        (out_dir / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n")

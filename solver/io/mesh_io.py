"""Gmsh models, .msh and XDMF files -> distributed DOLFINx meshes with their tags.

Gmsh runs on rank 0 only; DOLFINx then distributes the mesh over the communicator
(`compat.model_to_mesh`, collective). Errors raised while building on rank 0 are
re-raised on every rank, so a bad input never leaves the other ranks waiting.
`gmshio.read_from_msh` is broken on DOLFINx 0.5.2, so files are read the same way on
every version: `gmsh.merge` on rank 0, then `model_to_mesh`.

XDMF/HDF5 (`write_mesh_xdmf`, `read_mesh_xdmf`) is the parallel format: every rank reads
its own share, nothing passes through rank 0 (the mesh cache, solver/io/mesh_cache.py).
DOLFINx is imported lazily so that the mesh builders and the pre-flight estimate can be
imported without it.
"""
from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any, Callable

import gmsh
from mpi4py import MPI

MESH_FILE = "mesh.msh"
INFO_FILE = "info.json"
XDMF_FILE = "mesh.xdmf"  # with its HDF5 data in mesh.h5 beside it
XDMF_NAMES = {"mesh": "mesh", "cells": "cell_tags", "facets": "facet_tags"}


@contextlib.contextmanager
def gmsh_session(model_name: str):
    """A fresh, quiet Gmsh model on this process.

    Gmsh is initialised and finalised here unless it was already running (a caller's own
    session), in which case only the model is added and removed again. Gmsh options are
    global, so the ones set inside stay set in a caller's session."""
    owns_gmsh = not gmsh.isInitialized()
    if owns_gmsh:
        gmsh.initialize(readConfigFiles=False)
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


def read_particle_mesh(path: str | Path, comm: MPI.Comm = MPI.COMM_WORLD, gdim: int = 3):
    """(mesh, cell_tags, facet_tags) from a .msh file written by the mesh builders.

    Collective. Coordinates are taken as they are in the file (metres for lrmo's
    builders); tags are the physical-group numbers of `meshes.markers`."""
    path = Path(path)

    def merge():
        if not path.is_file():
            raise FileNotFoundError(f"mesh file {path} does not exist")
        gmsh.merge(str(path))

    msh, cell_tags, facet_tags, _ = run_gmsh_on_rank0(comm, merge, gdim=gdim)
    return msh, cell_tags, facet_tags


def h5_file(xdmf_path: str | Path) -> Path:
    """The HDF5 file that DOLFINx writes beside an .xdmf file."""
    return Path(xdmf_path).with_suffix(".h5")


def write_mesh_xdmf(path: str | Path, msh, cell_tags, facet_tags) -> None:
    """Write mesh + cell and facet tags to one XDMF/HDF5 pair. Collective; every rank
    writes its own part."""
    import dolfinx.io

    from solver import compat

    tdim = msh.topology.dim
    msh.topology.create_connectivity(tdim - 1, tdim)
    msh.name = XDMF_NAMES["mesh"]
    cell_tags.name, facet_tags.name = XDMF_NAMES["cells"], XDMF_NAMES["facets"]
    with dolfinx.io.XDMFFile(msh.comm, str(path), "w") as xdmf:
        xdmf.write_mesh(msh)
        compat.write_meshtags(xdmf, cell_tags, msh)
        compat.write_meshtags(xdmf, facet_tags, msh)


def read_mesh_xdmf(path: str | Path, comm: MPI.Comm = MPI.COMM_WORLD):
    """(mesh, cell_tags, facet_tags) from `write_mesh_xdmf`'s file, read in parallel:
    each rank reads a contiguous share of the cells, then DOLFINx partitions. Collective."""
    import dolfinx.io

    with dolfinx.io.XDMFFile(comm, str(path), "r") as xdmf:
        msh = xdmf.read_mesh(name=XDMF_NAMES["mesh"])
        cell_tags = xdmf.read_meshtags(msh, XDMF_NAMES["cells"])
        tdim = msh.topology.dim
        msh.topology.create_connectivity(tdim - 1, tdim)  # facet tags need facet->cell
        facet_tags = xdmf.read_meshtags(msh, XDMF_NAMES["facets"])
    return msh, cell_tags, facet_tags

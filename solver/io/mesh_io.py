""".msh and XDMF files -> distributed DOLFINx meshes with their tags.

A .msh file is merged into Gmsh on rank 0 and distributed as the builders' models are
(meshes/gmsh_io.py `run_gmsh_on_rank0`). `gmshio.read_from_msh` is broken on DOLFINx 0.5.2, so files are read the same way on
every version: `gmsh.merge` on rank 0, then `model_to_mesh`.

XDMF/HDF5 (`write_mesh_xdmf`, `read_mesh_xdmf`) is the parallel format: every rank reads
its own share, nothing passes through rank 0 (the mesh cache, solver/io/mesh_cache.py).
DOLFINx is imported lazily so that the mesh builders and the pre-flight estimate can be
imported without it.
"""
from __future__ import annotations

from pathlib import Path

import gmsh
from mpi4py import MPI

from meshes.gmsh_io import run_gmsh_on_rank0

XDMF_FILE = "mesh.xdmf"  # with its HDF5 data in mesh.h5 beside it
XDMF_NAMES = {"mesh": "mesh", "cells": "cell_tags", "facets": "facet_tags"}


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

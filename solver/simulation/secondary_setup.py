"""A secondary particle (geometry.shape: secondary) as a `Domain`: the Voronoi-grain mesh
of meshes/secondary.py through the mesh cache, every cell of region `core`, and the
grain of each cell kept beside it (`domain.grain_of_cell`, `domain.grain_tags`)."""
from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
from dolfinx import fem
from mpi4py import MPI

from meshes.markers import CELL_TAGS
from solver import compat
from solver.case.schema import Case
from solver.physics.domain import Domain


def secondary_inputs(case: Case) -> dict:
    """meshes/secondary.py `checked_inputs` from the case: geometry.radius, grains.count
    and seed, mesh.bulk (size inside) and mesh.surface (at the outer surface)."""
    from meshes.secondary import checked_inputs

    grains, m = case.grains, case.mesh
    if grains is None:
        raise ValueError("geometry.shape: secondary needs a grains: section (count, seed)")
    return checked_inputs(case.geometry.radius.si, grains.count, grains.seed,
                          size_m=None if m.bulk is None else m.bulk.si,
                          size_surface_m=None if m.surface is None else m.surface.si)


def secondary_domain(case: Case, comm: MPI.Comm, mesh_dir: Path | None = None) -> Domain:
    """Mesh (or read from the cache) the secondary particle and wrap it. Collective."""
    import gmsh

    from meshes.secondary import BUILDER_VERSION, secondary_model
    from solver.io.mesh_cache import load_mesh

    inputs = secondary_inputs(case)
    payload = {"builder": "meshes.secondary", "builder_version": BUILDER_VERSION,
               "gmsh_version": gmsh.__version__, "inputs": inputs}
    build = partial(secondary_model, **inputs)
    msh, grain_tags, facet_tags, info = load_mesh(comm, payload, build, gdim=3,
                                                  model_name="secondary", mesh_dir=mesh_dir)
    grain = grain_of_cells(msh, grain_tags, info["grain_tag_offset"])
    tdim = msh.topology.dim
    n_cells = msh.topology.index_map(tdim).size_local + msh.topology.index_map(tdim).num_ghosts
    regions = compat.meshtags(msh, tdim, np.arange(n_cells), np.full(n_cells, CELL_TAGS["core"]))
    domain = Domain(msh, regions, facet_tags, "secondary", inputs["radius_m"], 0.0, 0.0, info)
    domain.grain_of_cell = grain
    domain.grain_tags = grain_tags
    return domain


def grain_of_cells(msh, grain_tags, offset: int) -> np.ndarray:
    """Grain index (0-based) of every local cell, ghosts included: the tags scattered
    from the owning rank through a DG0 function (tags may cover owned cells only)."""
    V0 = compat.functionspace(msh, "DG", 0)
    f = fem.Function(V0)
    f.x.array[:] = -1.0
    dofs = compat.cell_dofs(V0)[:, 0]
    f.x.array[dofs[grain_tags.indices]] = grain_tags.values - offset
    f.x.scatter_forward()
    grain = np.rint(f.x.array[dofs]).astype(np.int64)
    if grain.size and grain.min() < 0:
        raise RuntimeError("secondary mesh: a cell without a grain tag")
    return grain

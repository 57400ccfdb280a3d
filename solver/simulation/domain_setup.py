"""From a case to a meshed `Domain`: the 1D radial interval, or a 3D particle through
the mesh cache. Shared by every run (Li/stress and O2 alone)."""
from __future__ import annotations

from pathlib import Path

from mpi4py import MPI

from solver.case.schema import Case
from solver.case.shape_geometry import SHAPE_KEYS, shape_parameters_si
from solver.physics.domain import Domain
from solver.simulation.preflight import mesh_arguments


def build_domain(case: Case, comm: MPI.Comm, mesh_dir: Path | None = None) -> Domain:
    """Mesh the particle as the case says (1D radial or 3D) and wrap it for the forms.

    3D meshes go through the mesh cache (solver/io/mesh_cache.py): built by Gmsh once,
    then read in parallel. The 1D interval is tiny and always built afresh."""
    if case.geometry.shape == "secondary":  # N primary grains (solver/simulation/secondary_setup.py)
        from solver.simulation.secondary_setup import secondary_domain

        return secondary_domain(case, comm, mesh_dir)
    args = mesh_arguments(case)
    if case.geometry.shape == "radial":
        msh, cell_tags, facet_tags, info = _radial_mesh(args, comm, mesh_dir)
    elif case.geometry.shape in SHAPE_KEYS:  # ellipsoid, platelet, ... (docs/shapes.md)
        params = shape_parameters_si(case.geometry.shape, lambda k: getattr(case.geometry, k))
        msh, cell_tags, facet_tags, info = shaped_mesh(args, case.geometry.shape, params,
                                                       comm, mesh_dir)
    else:
        msh, cell_tags, facet_tags, info = particle_mesh(args, case.geometry.shape, comm, mesh_dir)
    return Domain(
        msh, cell_tags, facet_tags, case.geometry.shape, args["radius_m"],
        args["layer_thickness_m"], args["coating_thickness_m"], info,
    )


def _radial_mesh(args: dict, comm: MPI.Comm, mesh_dir: Path | None):
    from meshes.radial import build_radial
    from solver.io.mesh_cache import record_run_mesh

    msh, cell_tags, facet_tags, info = build_radial(**args, comm=comm)
    if mesh_dir is not None:
        record_run_mesh(comm, Path(mesh_dir), info, msh, cell_tags, facet_tags)
    return msh, cell_tags, facet_tags, info


def particle_mesh(args: dict, shape: str, comm: MPI.Comm, mesh_dir: Path | None = None):
    """(mesh, cell_tags, facet_tags, info) of a 3D particle through the mesh cache;
    `args` as `mesh_arguments`. Collective."""
    from functools import partial

    import gmsh

    from meshes.particle import BUILDER_VERSION, checked_inputs, particle_model, SHAPES
    from solver.io.mesh_cache import load_mesh

    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {SHAPES}, got {shape!r}")
    inputs = {"shape": shape, **checked_inputs(**args, shape=shape)}  # every rank checks: same error
    payload = {"builder": "meshes.particle", "builder_version": BUILDER_VERSION,
               "gmsh_version": gmsh.__version__, "inputs": inputs}
    build = partial(particle_model, **args, shape=shape)
    return load_mesh(comm, payload, build, gdim=3, model_name="particle", mesh_dir=mesh_dir)


def shaped_mesh(args: dict, shape: str, params: dict, comm: MPI.Comm,
                mesh_dir: Path | None = None):
    """(mesh, cell_tags, facet_tags, info) of an ellipsoid, platelet, truncated
    octahedron (meshes/shapes.py) or imported particle (meshes/imported.py) through the
    mesh cache. The key holds the shape parameters and, for a file, its SHA-256 (a file
    edited in place is remeshed). Collective."""
    from functools import partial

    import gmsh

    from meshes import imported, shapes
    from meshes.sizes import checked_inputs
    from solver.io.mesh_cache import load_mesh

    inputs = {"shape": shape, **checked_inputs(**args, shape=shape)}  # every rank checks
    if shape == "imported":
        path = Path(params["file"])
        imported.file_kind(path)
        digest = comm.bcast(imported.file_sha256(path) if comm.rank == 0 else None, root=0)
        key_params = {"file_sha256": digest, "file_unit_m": params["file_unit_m"]}
        builder, version = "meshes.imported", imported.BUILDER_VERSION
        build = partial(imported.imported_model, path, params["file_unit_m"], inputs)
    else:
        key_params = params
        builder, version = "meshes.shapes", shapes.BUILDER_VERSION
        build = partial(shapes.shape_model, shape, params, inputs)
    payload = {"builder": builder, "builder_version": version, "gmsh_version": gmsh.__version__,
               "inputs": inputs, "shape_parameters": key_params}
    return load_mesh(comm, payload, build, gdim=3, model_name=shape, mesh_dir=mesh_dir)


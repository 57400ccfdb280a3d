"""1D radial mesh of the same core–shell particle: the interval 0 <= r <= R.

For spherically symmetric problems solved in r (the solver supplies the r^2 weight).
Cells carry the region tags of `meshes.markers` (core/layer/coating by radius); the
facets (vertices) r = 0, the interfaces and r = R carry `centre`, the interface tags and
`outer_surface`. Every interface is a Gmsh geometry point, so a mesh node sits on it.
Grading and units follow `meshes.particle`: built in units of R, node coordinates
scaled to metres.
"""
from __future__ import annotations

from functools import partial
from pathlib import Path

import gmsh
from mpi4py import MPI

from meshes.markers import CELL_TAGS, FACET_TAGS
from meshes.particle import (checked_inputs, mesh_info, region_radii, scale_nodes,
                             set_radial_size_field, surface_radii, surface_sizes)
from solver.mesh_io import run_gmsh_on_rank0


def radial_model(radius_m, layer_thickness_m=0.0, coating_thickness_m=0.0, **sizes) -> dict:
    """Build, tag and mesh [0, R] in the current Gmsh model (this process only); nodes
    end in metres. Returns the info dict. Arguments as for `build_radial`."""
    inputs = {"shape": "radial", **checked_inputs(radius_m, layer_thickness_m,
                                              coating_thickness_m, shape="radial", **sizes)}
    R = radius_m
    radii = region_radii(R, layer_thickness_m, coating_thickness_m)
    surfaces = surface_radii(R, layer_thickness_m, coating_thickness_m)

    geo = gmsh.model.geo
    points = [geo.addPoint(r / R, 0, 0) for r in [0.0, *radii.values()]]
    lines = [geo.addLine(a, b) for a, b in zip(points, points[1:])]
    geo.synchronize()
    for region, line in zip(radii, lines):
        gmsh.model.addPhysicalGroup(1, [line], CELL_TAGS[region], name=region)
    for name, point in zip(["centre", *surfaces], points):
        gmsh.model.addPhysicalGroup(0, [point], FACET_TAGS[name], name=name)

    set_radial_size_field([(r / R, h / R) for r, h in surface_sizes(inputs)],
                          inputs["size_bulk_m"] / R, inputs["size_growth"])
    gmsh.model.mesh.generate(1)
    info = mesh_info(1, inputs, radii)
    scale_nodes(R)
    return info


def build_radial(radius_m, layer_thickness_m=0.0, coating_thickness_m=0.0, *,
                 size_bulk_m=None, size_surface_m=None, size_interface_m=None,
                 size_growth=0.3, out_dir: str | Path | None = None,
                 comm: MPI.Comm = MPI.COMM_WORLD):
    """Interval mesh of [0, R] (gdim = 1, metres), graded toward the outer surface and the
    interfaces as `meshes.particle.build_particle`, same arguments and checks. Returns
    (mesh, cell_tags, facet_tags, info) on every rank; writes mesh.msh and info.json to
    `out_dir` if given (read back with `read_particle_mesh(path, comm, gdim=1)`).
    Collective."""
    sizes = dict(size_bulk_m=size_bulk_m, size_surface_m=size_surface_m,
                 size_interface_m=size_interface_m, size_growth=size_growth)
    checked_inputs(radius_m, layer_thickness_m, coating_thickness_m, shape="radial", **sizes)
    build = partial(radial_model, radius_m, layer_thickness_m, coating_thickness_m, **sizes)
    return run_gmsh_on_rank0(comm, build, gdim=1, out_dir=out_dir, model_name="radial")

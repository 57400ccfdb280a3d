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
import numpy as np
from mpi4py import MPI

from meshes.markers import CELL_TAGS, FACET_TAGS
from meshes.particle import (checked_inputs, mesh_info, region_radii, scale_nodes,
                             set_radial_size_field, surface_radii, surface_sizes)
from meshes.gmsh_io import run_gmsh_on_rank0


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
    if out_dir is None:  # no files wanted: no Gmsh session either
        return radial_interval_mesh(radius_m, layer_thickness_m, coating_thickness_m, comm=comm, **sizes)
    build = partial(radial_model, radius_m, layer_thickness_m, coating_thickness_m, **sizes)
    return run_gmsh_on_rank0(comm, build, gdim=1, out_dir=out_dir, model_name="radial")


def radial_nodes(inputs: dict) -> np.ndarray:
    """Node radii [m] of the graded interval mesh: on each region, nodes equidistribute
    the integral of 1/h(r) for the size function of `meshes.particle.set_radial_size_field`
    h(r) = min(size_bulk, min_i(h_i + g |r - r_i|)) (as Gmsh does on a line), with a node
    on every interface. `inputs` as from `checked_inputs`."""
    R = inputs["radius_m"]
    radii = region_radii(R, inputs["layer_thickness_m"], inputs["coating_thickness_m"])
    refined = np.array(surface_sizes(inputs))

    def size(r):
        h = refined[:, 1] + inputs["size_growth"] * np.abs(r[:, None] - refined[:, 0])
        return np.minimum(inputs["size_bulk_m"], h.min(axis=1))

    nodes = [np.zeros(1)]
    for a, b in zip([0.0, *radii.values()], radii.values()):
        r = np.linspace(a, b, 4001)
        density = 1 / size(r)
        cumulative = np.concatenate([[0.0], np.cumsum((density[1:] + density[:-1]) / 2 * np.diff(r))])
        count = max(1, int(np.ceil(cumulative[-1] - 1e-6)))
        inner = np.interp(np.linspace(0, cumulative[-1], count + 1)[1:-1], cumulative, r)
        nodes.append(np.concatenate([inner, [b]]))
    return np.concatenate(nodes)


def radial_interval_mesh(radius_m, layer_thickness_m=0.0, coating_thickness_m=0.0, *,
                         comm: MPI.Comm = MPI.COMM_WORLD, **sizes):
    """As `build_radial` without Gmsh (and without files): the interval mesh made
    directly from `radial_nodes`, cells tagged by region (midpoint radius), vertices at
    the centre, the interfaces and the surface tagged. Collective."""
    from solver import __version__ as lrmo_version
    from solver import compat

    inputs = {"shape": "radial", **checked_inputs(radius_m, layer_thickness_m,
                                              coating_thickness_m, shape="radial", **sizes)}
    radii = region_radii(radius_m, layer_thickness_m, coating_thickness_m)
    nodes = radial_nodes(inputs)
    msh = compat.interval_mesh(comm, nodes if comm.rank == 0 else np.zeros(0))
    num_cells = msh.topology.index_map(1).size_local + msh.topology.index_map(1).num_ghosts
    cells = np.arange(num_cells, dtype=np.int32)
    mid = compat.cell_midpoints(msh, cells)[:, 0]
    outer = np.array(list(radii.values()))
    region = np.minimum(np.searchsorted(outer, mid), len(outer) - 1)
    cell_tags = compat.meshtags(msh, 1, cells, [CELL_TAGS[name] for name in np.array(list(radii))[region]])
    named = {"centre": 0.0, **surface_radii(radius_m, layer_thickness_m, coating_thickness_m)}
    tol = 1e-9 * radius_m
    vertices, values = [], []
    for name, r in named.items():
        found = compat.locate_vertices(msh, lambda p, r=r: np.abs(p[0] - r) < tol)
        vertices.extend(found)
        values.extend([FACET_TAGS[name]] * len(found))
    facet_tags = compat.meshtags(msh, 0, vertices, values)
    owned = msh.topology.index_map(1).size_local
    counts = comm.allreduce(np.bincount(region[:owned], minlength=len(outer)), op=MPI.SUM)
    info = {
        "inputs": inputs,
        "coordinates_unit": "m",
        "region_outer_radius_m": radii,
        "gmsh_version": None,
        "lrmo_version": lrmo_version,
        "cells_per_region": {name: int(c) for name, c in zip(radii, counts)},
        "num_cells": int(counts.sum()),
        "num_nodes": int(len(nodes)) if comm.rank == 0 else None,
        "min_quality_minSICN": None,
        "cell_tags": {name: CELL_TAGS[name] for name in radii},
        "facet_tags": {name: FACET_TAGS[name] for name in named},
    }
    info["num_nodes"] = comm.bcast(info["num_nodes"], root=0)
    return msh, cell_tags, facet_tags, info

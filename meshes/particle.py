"""Gmsh builder for a spherical core–shell primary particle.

Concentric regions, centre outwards: the LRMO core (r < R - δ - t), the Li-deficient
layer (thickness δ) and the RuO2 coating (thickness t); a region of zero thickness is
left out. The particle is a full sphere or the octant x, y, z >= 0 with symmetry planes.
Cell and facet tags are the fixed numbers of `meshes.markers`.

Length unit: Gmsh builds and meshes in units of the radius R, so that OpenCASCADE's
absolute tolerances (~1e-7) stay small against every feature whatever the particle size
(in metres a 150 nm particle would be of the order of those tolerances). The mesh nodes
are scaled by R before the mesh is written or handed to DOLFINx: `mesh.msh` and the
DOLFINx mesh are in metres.
"""
from __future__ import annotations

import math
from functools import partial
from pathlib import Path

import gmsh
import numpy as np
from mpi4py import MPI

from meshes.markers import CELL_TAGS, FACET_TAGS
from meshes.sizes import (check_inputs, checked_inputs, default_sizes,  # noqa: F401 (the builders' API)
                          region_radii, surface_radii)
from solver import __version__ as lrmo_version
from meshes.gmsh_io import run_gmsh_on_rank0

SHAPES = ("octant", "sphere")
BUILDER_VERSION = 1  # bump when the same inputs give a different mesh (mesh-cache key)
SYMMETRY_PLANES = ("symmetry_x", "symmetry_y", "symmetry_z")  # planes x = 0, y = 0, z = 0


def surface_sizes(inputs: dict) -> list[tuple[float, float]]:
    """(radius, element size) [m] of every refined sphere: outer surface and interfaces."""
    surfaces = surface_radii(inputs["radius_m"], inputs["layer_thickness_m"],
                             inputs["coating_thickness_m"])
    return [(r, inputs["size_surface_m" if name == "outer_surface" else "size_interface_m"])
            for name, r in surfaces.items()]


def add_concentric_balls(radii: list[float], shape: str) -> list[int]:
    """OpenCASCADE balls (or ball octants) of the given radii, fragmented into conforming
    nested shells. Returns the volume tags, sorted by outer radius."""
    occ = gmsh.model.occ
    octant = dict(angle1=0.0, angle2=math.pi / 2, angle3=math.pi / 2)
    balls = [(3, occ.addSphere(0, 0, 0, r, **(octant if shape == "octant" else {})))
             for r in radii]
    occ.fragment(balls, [])
    occ.synchronize()
    volumes = [tag for _, tag in gmsh.model.getEntities(3)]
    return sorted(volumes, key=lambda v: max(gmsh.model.getBoundingBox(3, v)[3:]))


def _nearest(value: float, named_values: dict[str, float]) -> str:
    return min(named_values, key=lambda name: abs(named_values[name] - value))


def tag_surfaces(named_radii: dict[str, float]) -> None:
    """Physical groups for the spherical surfaces (named by their radius) and, for an
    octant, the symmetry planes (named by their normal axis)."""
    groups: dict[str, list[int]] = {}
    for _, surface in gmsh.model.getEntities(2):
        lo, hi = gmsh.model.getParametrizationBounds(2, surface)
        uv = (np.asarray(lo) + np.asarray(hi)) / 2
        if gmsh.model.getType(2, surface) == "Plane":
            normal = np.abs(gmsh.model.getNormal(surface, uv))
            name = SYMMETRY_PLANES[int(np.argmax(normal))]
        else:
            r = np.linalg.norm(gmsh.model.getValue(2, surface, uv))
            name = _nearest(r, named_radii)
        groups.setdefault(name, []).append(surface)
    for name, surfaces in groups.items():
        gmsh.model.addPhysicalGroup(2, surfaces, FACET_TAGS[name], name=name)


def set_radial_size_field(refined_spheres: list[tuple[float, float]], size_bulk: float,
                          size_growth: float) -> None:
    """Background mesh size h(ρ) = min(size_bulk, min_i(h_i + g |ρ - r_i|)), ρ = |x|.

    Each refined sphere i (radius r_i, size h_i) gets its exact radial distance. Gmsh's
    Distance field samples a surface at a fixed number of points (20 per parametric
    direction), overestimates the distance next to it and so coarsens the surface mesh
    (by ~15 % at R = 150 nm, where the coating is only a few elements thick). The same
    expression serves the 1D radial mesh (ρ = |x|)."""
    fields = []
    for r_i, h_i in refined_spheres:
        f = gmsh.model.mesh.field.add("MathEval")
        gmsh.model.mesh.field.setString(
            f, "F", f"{h_i!r} + {size_growth!r}*Abs(Sqrt(x^2 + y^2 + z^2) - {r_i!r})")
        fields.append(f)
    bulk = gmsh.model.mesh.field.add("MathEval")
    gmsh.model.mesh.field.setString(bulk, "F", repr(size_bulk))
    smallest = gmsh.model.mesh.field.add("Min")
    gmsh.model.mesh.field.setNumbers(smallest, "FieldsList", fields + [bulk])
    gmsh.model.mesh.field.setAsBackgroundMesh(smallest)
    for option in ("MeshSizeFromPoints", "MeshSizeFromCurvature", "MeshSizeExtendFromBoundary"):
        gmsh.option.setNumber(f"Mesh.{option}", 0)


def mesh_statistics(dim: int) -> dict:
    """Cells per tagged region, node count and, for dim >= 2, the worst element quality
    (Gmsh minSICN: 1 for a regular simplex, <= 0 for a flat or inverted one, which is
    rejected; Gmsh gives no quality for intervals)."""
    cells = {}
    for _, tag in gmsh.model.getPhysicalGroups(dim):
        entities = gmsh.model.getEntitiesForPhysicalGroup(dim, tag)
        cells[gmsh.model.getPhysicalName(dim, tag)] = int(sum(
            len(t) for e in entities for t in gmsh.model.mesh.getElements(dim, e)[1]))
    min_quality = None
    if dim >= 2:
        element_tags = np.concatenate(gmsh.model.mesh.getElements(dim)[1])
        qualities = gmsh.model.mesh.getElementQualities(element_tags, "minSICN")
        min_quality = float(np.min(qualities))
        if not min_quality > 0:
            raise ValueError(f"mesh has degenerate or inverted elements (min minSICN = "
                             f"{min_quality:g}); change the element sizes")
    return {
        "cells_per_region": cells,
        "num_cells": int(sum(cells.values())),
        "num_nodes": int(len(gmsh.model.mesh.getNodes()[0])),
        "min_quality_minSICN": min_quality,
    }


def scale_nodes(factor: float) -> None:
    """Multiply every mesh node coordinate by `factor` (units of R -> metres)."""
    gmsh.model.mesh.affineTransform([factor, 0, 0, 0, 0, factor, 0, 0, 0, 0, factor, 0])


def mesh_info(dim: int, inputs: dict, radii: dict[str, float]) -> dict:
    """info.json content: inputs in SI, versions, mesh statistics, present tags."""
    stats = mesh_statistics(dim)
    present_surfaces = {gmsh.model.getPhysicalName(dim - 1, tag)
                        for _, tag in gmsh.model.getPhysicalGroups(dim - 1)}
    return {
        "inputs": inputs,
        "coordinates_unit": "m",
        "region_outer_radius_m": radii,
        "gmsh_version": gmsh.__version__,
        "lrmo_version": lrmo_version,
        **stats,
        "cell_tags": {name: CELL_TAGS[name] for name in stats["cells_per_region"]},
        "facet_tags": {name: tag for name, tag in FACET_TAGS.items()
                       if name in present_surfaces},
    }


def particle_model(radius_m, layer_thickness_m=0.0, coating_thickness_m=0.0, *,
                   shape="octant", **sizes) -> dict:
    """Build, tag and mesh the particle in the current Gmsh model (this process only);
    nodes end in metres. Returns the info dict. Arguments as for `build_particle`."""
    inputs = _particle_inputs(radius_m, layer_thickness_m, coating_thickness_m,
                              shape=shape, **sizes)
    R = radius_m
    radii = region_radii(R, layer_thickness_m, coating_thickness_m)
    surfaces = surface_radii(R, layer_thickness_m, coating_thickness_m)

    volumes = add_concentric_balls([r / R for r in radii.values()], shape)
    for region, volume in zip(radii, volumes):
        gmsh.model.addPhysicalGroup(3, [volume], CELL_TAGS[region], name=region)
    tag_surfaces({name: r / R for name, r in surfaces.items()})

    set_radial_size_field([(r / R, h / R) for r, h in surface_sizes(inputs)],
                          inputs["size_bulk_m"] / R, inputs["size_growth"])
    gmsh.option.setNumber("Mesh.Algorithm3D", 10)  # HXT: fast, and no slivers in thin shells
    gmsh.model.mesh.generate(3)
    info = mesh_info(3, inputs, radii)
    scale_nodes(R)
    return info


def _particle_inputs(radius_m, layer_thickness_m, coating_thickness_m, *, shape, **sizes):
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {SHAPES}, got {shape!r}")
    return {"shape": shape, **checked_inputs(radius_m, layer_thickness_m,
                                             coating_thickness_m, shape=shape, **sizes)}


def _checked_particle_model(*args, **kwargs):
    """`particle_model` bound to its arguments, once they have been checked on this rank
    (every rank checks, so every rank raises the same ValueError)."""
    _particle_inputs(*args, **kwargs)
    return partial(particle_model, *args, **kwargs)


def build_particle(radius_m, layer_thickness_m=0.0, coating_thickness_m=0.0, *,
                   shape="octant", size_bulk_m=None, size_surface_m=None,
                   size_interface_m=None, size_growth=0.3,
                   out_dir: str | Path | None = None, comm: MPI.Comm = MPI.COMM_WORLD) -> dict:
    """Mesh a core–layer–coating particle on rank 0; write `mesh.msh` (metres) and
    `info.json` to `out_dir` if given. Returns the info dict on every rank. Collective.

    radius_m: particle radius R; layer_thickness_m: Li-deficient layer δ >= 0;
    coating_thickness_m: RuO2 coating t >= 0, with δ + t < R; shape: "octant" or "sphere".
    Element sizes [m]: size_surface_m at the outer surface and size_interface_m (default
    size_surface_m) at the interfaces, growing by size_growth metres per metre of radial
    distance up to size_bulk_m in the core. Defaults for production (`default_sizes`):
    size_bulk = R/8, size_surface = min(R/30, δ/3, t). Inputs are checked on every rank
    before Gmsh starts (ValueError naming the argument)."""
    build = _checked_particle_model(
        radius_m, layer_thickness_m, coating_thickness_m, shape=shape,
        size_bulk_m=size_bulk_m, size_surface_m=size_surface_m,
        size_interface_m=size_interface_m, size_growth=size_growth)
    return run_gmsh_on_rank0(comm, build, out_dir=out_dir, model_name="particle")


def build_and_load(radius_m, layer_thickness_m=0.0, coating_thickness_m=0.0, *,
                   shape="octant", size_bulk_m=None, size_surface_m=None,
                   size_interface_m=None, size_growth=0.3,
                   out_dir: str | Path | None = None, comm: MPI.Comm = MPI.COMM_WORLD):
    """As `build_particle`, then distribute the mesh in memory: returns
    (mesh, cell_tags, facet_tags, info) on every rank, mesh in metres. Collective."""
    build = _checked_particle_model(
        radius_m, layer_thickness_m, coating_thickness_m, shape=shape,
        size_bulk_m=size_bulk_m, size_surface_m=size_surface_m,
        size_interface_m=size_interface_m, size_growth=size_growth)
    return run_gmsh_on_rank0(comm, build, gdim=3, out_dir=out_dir, model_name="particle")

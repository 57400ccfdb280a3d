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
                          region_radii, shell_radii, surface_radii)
from solver import __version__ as lrmo_version
from meshes.gmsh_io import expression_number as num, run_gmsh_on_rank0

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
            name = _plane_name(surface)
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
            f, "F", f"{num(h_i)} + {num(size_growth)}*Abs(Sqrt(x^2 + y^2 + z^2) - {num(r_i)})")
        fields.append(f)
    bulk = gmsh.model.mesh.field.add("MathEval")
    gmsh.model.mesh.field.setString(bulk, "F", num(size_bulk))
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
    if "radial_layers" in inputs:
        return _layered_particle_model(inputs, radii)

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


def _layered_particle_model(inputs: dict, radii: dict[str, float]) -> dict:
    """`particle_model` with a radially layered outer shell (inputs["radial_layers"]):
    the ball r <= R - D is meshed by Gmsh as usual, its outer sphere at the surface size;
    that sphere's triangles are then copied outwards onto the node spheres of
    `shell_radii` (each node moved along its own radius, so the shell's nodes lie exactly
    on the spheres and on the symmetry planes) and every triangular prism between two
    spheres is split into three tets. The split of each quadrilateral side takes the
    diagonal from the bottom node of the larger Gmsh node tag to the top node of the
    smaller, so that neighbouring prisms share their faces (a conforming mesh). The shell
    is added as discrete Gmsh entities: one volume per region (the core's part joins the
    core group), the outer surface, the interfaces and the symmetry-plane strips."""
    R = inputs["radius_m"]
    node_radii = shell_radii(inputs) / R
    volumes = add_concentric_balls([node_radii[0]], inputs["shape"])
    set_radial_size_field([(node_radii[0], inputs["size_surface_m"] / R)],
                          inputs["size_bulk_m"] / R, inputs["size_growth"])
    gmsh.option.setNumber("Mesh.Algorithm3D", 10)
    gmsh.model.mesh.generate(3)

    spheres = [t for _, t in gmsh.model.getEntities(2) if gmsh.model.getType(2, t) != "Plane"]
    planes = [t for _, t in gmsh.model.getEntities(2) if gmsh.model.getType(2, t) == "Plane"]
    triangles = np.concatenate([gmsh.model.mesh.getElementsByType(2, t)[1] for t in spheres]).reshape(-1, 3)
    base = np.unique(triangles)  # the inner sphere's nodes, sorted by tag
    coords = {int(k): c for k, c in zip(*_nodes_of(base))}
    unit = np.array([coords[int(k)] / np.linalg.norm(coords[int(k)]) for k in base])
    n_base, n_layers = len(base), len(node_radii) - 1
    next_node = int(gmsh.model.mesh.getMaxNodeTag()) + 1
    # node tag of base node j on sphere k: base[j] for k = 0, else next_node + (k-1) n_base + j
    tags = np.vstack([base] + [next_node + (k - 1) * n_base + np.arange(n_base) for k in range(1, n_layers + 1)])
    local = np.searchsorted(base, triangles)
    local.sort(axis=1)  # by node tag: the prism split rule
    region_of_layer = np.searchsorted(np.array(list(radii.values())) / R,
                                      (node_radii[:-1] + node_radii[1:]) / 2)
    entity = max(t for _, t in gmsh.model.getEntities(3)) + 1
    shell_volumes = {}
    for region_index, region in enumerate(radii):
        layers = np.flatnonzero(region_of_layer == region_index)
        if not len(layers):
            continue
        shell_volumes[region] = entity
        gmsh.model.addDiscreteEntity(3, entity)
        top = layers + 1
        gmsh.model.mesh.addNodes(3, entity, tags[top].ravel().tolist(),
                                 (node_radii[top][:, None, None] * unit[None]).ravel().tolist())
        tets = [_prism_tets(tags[k][local], tags[k + 1][local]) for k in layers]
        gmsh.model.mesh.addElementsByType(entity, 4, [], _positive(np.concatenate(tets), tags, unit, node_radii).ravel().tolist())
        entity += 1
    surface_entities = {}
    entity = max(t for _, t in gmsh.model.getEntities(2)) + 1
    for name, r in surface_radii(R, inputs["layer_thickness_m"], inputs["coating_thickness_m"]).items():
        k = int(np.argmin(np.abs(node_radii - r / R)))
        gmsh.model.addDiscreteEntity(2, entity)
        gmsh.model.mesh.addElementsByType(entity, 2, [], tags[k][local].ravel().tolist())
        surface_entities[name] = [entity]
        entity += 1
    for plane in planes:
        name = _plane_name(plane)
        strip = []
        for _, curve in gmsh.model.getBoundary([(2, plane)], oriented=False):
            if gmsh.model.getType(1, curve) == "Line":
                continue
            edges = np.searchsorted(base, gmsh.model.mesh.getElementsByType(1, curve)[1].reshape(-1, 2))
            edges.sort(axis=1)
            strip += [_quad_triangles(tags[k][edges], tags[k + 1][edges]) for k in range(n_layers)]
        gmsh.model.addDiscreteEntity(2, entity)
        gmsh.model.mesh.addElementsByType(entity, 2, [], np.concatenate(strip).ravel().tolist())
        surface_entities.setdefault(name, []).extend([plane, entity])
        entity += 1

    for region in radii:
        members = [volumes[0]] if region == "core" else []
        members += [shell_volumes[region]] if region in shell_volumes else []
        gmsh.model.addPhysicalGroup(3, members, CELL_TAGS[region], name=region)
    for name, members in surface_entities.items():
        gmsh.model.addPhysicalGroup(2, members, FACET_TAGS[name], name=name)
    gmsh.model.mesh.renumberNodes()  # contiguous tags (DOLFINx reads them as indices)
    gmsh.model.mesh.renumberElements()
    info = mesh_info(3, inputs, radii)
    info["shell_node_radii_m"] = (node_radii * R).tolist()
    scale_nodes(R)
    return info


def _nodes_of(tags: np.ndarray):
    """(tags, coordinates (n, 3)) of the given mesh nodes."""
    all_tags, coords, _ = gmsh.model.mesh.getNodes()
    coords = coords.reshape(-1, 3)
    index = {int(t): i for i, t in enumerate(all_tags)}
    return tags, coords[[index[int(t)] for t in tags]]


def _prism_tets(bottom: np.ndarray, top: np.ndarray) -> np.ndarray:
    """Three tets of each prism (bottom triangle, top triangle), vertex columns sorted by
    the bottom node's tag v0 < v1 < v2: [v0 v1 v2 v0'], [v1 v2 v0' v1'], [v2 v0' v1' v2']
    (every side's diagonal joins the larger tag's bottom node to the smaller's top)."""
    b, t = bottom, top
    return np.concatenate([
        np.stack([b[:, 0], b[:, 1], b[:, 2], t[:, 0]], axis=1),
        np.stack([b[:, 1], b[:, 2], t[:, 0], t[:, 1]], axis=1),
        np.stack([b[:, 2], t[:, 0], t[:, 1], t[:, 2]], axis=1)])


def _quad_triangles(bottom: np.ndarray, top: np.ndarray) -> np.ndarray:
    """The two triangles of each side quadrilateral (bottom edge p < q by tag, top edge
    p' q'), split as `_prism_tets` splits it: diagonal q p'."""
    p, q, p1, q1 = bottom[:, 0], bottom[:, 1], top[:, 0], top[:, 1]
    return np.concatenate([np.stack([p, q, p1], axis=1), np.stack([q, p1, q1], axis=1)])


def _positive(tets: np.ndarray, tags: np.ndarray, unit: np.ndarray, node_radii: np.ndarray) -> np.ndarray:
    """The tets with two vertices swapped where needed for a positive volume."""
    order = np.argsort(tags.ravel(), kind="stable")
    position = order[np.searchsorted(tags.ravel(), tets.ravel(), sorter=order)]
    layer, column = np.divmod(position, tags.shape[1])
    points = (node_radii[layer][:, None] * unit[column]).reshape(-1, 4, 3)
    e = points[:, 1:] - points[:, :1]
    negative = np.einsum("ij,ij->i", e[:, 0], np.cross(e[:, 1], e[:, 2])) < 0
    tets = tets.copy()
    tets[negative, 0], tets[negative, 1] = tets[negative, 1], tets[negative, 0].copy()
    return tets


def _plane_name(plane: int) -> str:
    lo, hi = gmsh.model.getParametrizationBounds(2, plane)
    normal = np.abs(gmsh.model.getNormal(plane, (np.asarray(lo) + np.asarray(hi)) / 2))
    return SYMMETRY_PLANES[int(np.argmax(normal))]


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
                   size_interface_m=None, size_growth=0.3, radial_layers=None,
                   out_dir: str | Path | None = None, comm: MPI.Comm = MPI.COMM_WORLD) -> dict:
    """Mesh a core–layer–coating particle on rank 0; write `mesh.msh` (metres) and
    `info.json` to `out_dir` if given. Returns the info dict on every rank. Collective.

    radius_m: particle radius R; layer_thickness_m: Li-deficient layer δ >= 0;
    coating_thickness_m: RuO2 coating t >= 0, with δ + t < R; shape: "octant" or "sphere".
    Element sizes [m]: size_surface_m at the outer surface and size_interface_m (default
    size_surface_m) at the interfaces, growing by size_growth metres per metre of radial
    distance up to size_bulk_m in the core. Defaults for production (`default_sizes`):
    size_bulk = R/8, size_surface = min(R/30, δ/3, t). Inputs are checked on every rank
    before Gmsh starts (ValueError naming the argument). radial_layers = {"count": N,
    "depth_m": D} meshes the outer shell R - D <= r <= R as N radial element layers
    (prisms split into tets) under triangles of size_surface_m (`_layered_particle_model`);
    size_interface_m is then unused (the interfaces lie in the shell)."""
    build = _checked_particle_model(
        radius_m, layer_thickness_m, coating_thickness_m, shape=shape,
        size_bulk_m=size_bulk_m, size_surface_m=size_surface_m,
        size_interface_m=size_interface_m, size_growth=size_growth,
        radial_layers=radial_layers)
    return run_gmsh_on_rank0(comm, build, out_dir=out_dir, model_name="particle")


def build_and_load(radius_m, layer_thickness_m=0.0, coating_thickness_m=0.0, *,
                   shape="octant", size_bulk_m=None, size_surface_m=None,
                   size_interface_m=None, size_growth=0.3, radial_layers=None,
                   out_dir: str | Path | None = None, comm: MPI.Comm = MPI.COMM_WORLD):
    """As `build_particle`, then distribute the mesh in memory: returns
    (mesh, cell_tags, facet_tags, info) on every rank, mesh in metres. Collective."""
    build = _checked_particle_model(
        radius_m, layer_thickness_m, coating_thickness_m, shape=shape,
        size_bulk_m=size_bulk_m, size_surface_m=size_surface_m,
        size_interface_m=size_interface_m, size_growth=size_growth,
        radial_layers=radial_layers)
    return run_gmsh_on_rank0(comm, build, gdim=3, out_dir=out_dir, model_name="particle")

"""Gmsh builder for a secondary particle: a sphere of radius R tessellated into N primary
grains, the Voronoi cells of N seeded random points clipped by the sphere.

Each Voronoi cell is a convex polyhedron (scipy's half-space intersection of the
bisector planes with a box around the sphere), built as an OpenCASCADE volume from its
planar faces; the N cells and the ball are fragmented into one conforming model and the
pieces outside the ball removed. Grain g (0-based) is the physical volume
`GRAIN_TAG_OFFSET + g`; the outer surface is `outer_surface`; every internal face is
`grain_boundary`, and info.json keeps, per grain-boundary face, the grain pair.

Seeds: uniform in the ball of radius (1 - margin) R, drawn one at a time and kept only
at least `min_separation` x the mean seed spacing from the others (fewer slivers).
Gmsh works in units of R (OpenCASCADE tolerances) and the nodes are scaled to metres.
No DOLFINx import.
"""
from __future__ import annotations

import math

import gmsh
import numpy as np

from meshes.markers import FACET_TAGS
from meshes.gmsh_io import expression_number as num
from meshes.particle import mesh_statistics, scale_nodes
from solver import __version__ as lrmo_version

BUILDER_VERSION = 1  # bump when the same inputs give a different mesh (mesh-cache key)
GRAIN_TAG_OFFSET = 1000  # physical volume tag of grain g: GRAIN_TAG_OFFSET + g


def seed_points(count: int, seed: int, min_separation: float = 0.5,
                margin: float = 0.1) -> np.ndarray:
    """(count, 3) points in the unit ball, reproducible for a seed; each at least
    `min_separation` x (mean spacing (4/3 pi / count)^(1/3)) from the others."""
    rng = np.random.default_rng(seed)
    spacing = (4 / 3 * math.pi / count) ** (1 / 3)
    d_min = min_separation * spacing
    points: list[np.ndarray] = []
    for _ in range(200 * count + 1000):
        p = rng.uniform(-1, 1, 3)
        if np.linalg.norm(p) > 1 - margin:
            continue
        if points and np.min(np.linalg.norm(np.asarray(points) - p, axis=1)) < d_min:
            continue
        points.append(p)
        if len(points) == count:
            return np.asarray(points)
    raise ValueError(f"could not place {count} grain centres {min_separation} x the mean "
                     "spacing apart: lower min_separation")


def voronoi_cells(points: np.ndarray, half_width: float = 1.2) -> list[tuple[np.ndarray, list[list[int]]]]:
    """Per point, its Voronoi cell inside the box [-w, w]^3 as (vertices, faces), each
    face a list of vertex indices in order around it."""
    from scipy.spatial import ConvexHull, HalfspaceIntersection

    n = len(points)
    box = [(np.eye(3)[k] * s, -half_width) for k in range(3) for s in (1, -1)]
    cells = []
    for i in range(n):
        rows = []
        for j in range(n):  # bisector plane of i and j: (p_j - p_i).x <= (|p_j|^2 - |p_i|^2)/2
            if j != i:
                d = points[j] - points[i]
                rows.append(np.r_[d, -(points[j] @ points[j] - points[i] @ points[i]) / 2])
        rows += [np.r_[normal, offset] for normal, offset in box]
        halfspaces = np.asarray(rows)
        vertices = HalfspaceIntersection(halfspaces, points[i]).intersections
        hull = ConvexHull(vertices)
        vertices = hull.points[np.unique(hull.simplices)]
        hull = ConvexHull(vertices)
        cells.append((vertices, _polygon_faces(hull)))
    return cells


def _polygon_faces(hull) -> list[list[int]]:
    """Merge the hull's coplanar triangles into polygons, vertices ordered around each."""
    faces: dict[tuple, set] = {}
    normals: dict[tuple, np.ndarray] = {}
    for simplex, eq in zip(hull.simplices, hull.equations):
        key = tuple(np.round(eq, 9))
        faces.setdefault(key, set()).update(simplex.tolist())
        normals[key] = eq[:3]
    out = []
    for key, vids in faces.items():
        vids = np.array(sorted(vids))
        pts = hull.points[vids]
        centre = pts.mean(axis=0)
        n = normals[key]
        u = pts[0] - centre
        u /= np.linalg.norm(u)
        w = np.cross(n, u)
        angle = np.arctan2((pts - centre) @ w, (pts - centre) @ u)
        out.append(vids[np.argsort(angle)].tolist())
    return out


def _add_polyhedron(vertices: np.ndarray, faces: list[list[int]]) -> int:
    occ = gmsh.model.occ
    point_tags = [occ.addPoint(*v) for v in vertices]
    lines: dict[tuple[int, int], int] = {}
    surfaces = []
    for face in faces:
        curve = []
        for a, b in zip(face, face[1:] + face[:1]):
            key = (min(a, b), max(a, b))
            if key not in lines:
                lines[key] = occ.addLine(point_tags[key[0]], point_tags[key[1]])
            curve.append(lines[key] if a < b else -lines[key])
        surfaces.append(occ.addPlaneSurface([occ.addCurveLoop(curve)]))
    return occ.addVolume([occ.addSurfaceLoop(surfaces)])


def checked_inputs(radius_m, grain_count, seed=0, *, size_m=None, size_surface_m=None,
                   min_separation=0.5) -> dict:
    """Inputs in SI with the default sizes: size = R / (3 N^(1/3)) (about 6 elements
    across a grain), size_surface = size. Raises ValueError naming the argument."""
    if not radius_m > 0:
        raise ValueError(f"radius_m must be > 0, got {radius_m!r}")
    if not (isinstance(grain_count, int) and grain_count >= 1):
        raise ValueError(f"grain_count must be an integer >= 1, got {grain_count!r}")
    size = radius_m / (3 * grain_count ** (1 / 3)) if size_m is None else size_m
    surface = size if size_surface_m is None else size_surface_m
    for name, value in (("size_m", size), ("size_surface_m", surface)):
        if not 0 < value <= radius_m:
            raise ValueError(f"{name} must be in (0, radius_m = {radius_m:g} m], got {value!r}")
    return {"radius_m": float(radius_m), "grain_count": int(grain_count), "seed": int(seed),
            "size_m": float(size), "size_surface_m": float(surface),
            "min_separation": float(min_separation)}


def secondary_model(radius_m, grain_count, seed=0, **kwargs) -> dict:
    """Build, tag and mesh the secondary particle in the current Gmsh model (this
    process only); nodes end in metres. Returns the info dict."""
    inputs = checked_inputs(radius_m, grain_count, seed, **kwargs)
    R = inputs["radius_m"]
    points = seed_points(grain_count, seed, inputs["min_separation"])
    occ = gmsh.model.occ
    cells = [(3, _add_polyhedron(v, f)) for v, f in voronoi_cells(points)] if grain_count > 1 else []
    ball = (3, occ.addSphere(0, 0, 0, 1.0))
    if cells:
        _, children = occ.fragment([ball], cells)
        inside = set(t for _, t in children[0])
        grain_volumes = [[t for _, t in ch if t in inside] for ch in children[1:]]
        outside = [(3, t) for ch in children[1:] for _, t in ch if t not in inside]
        occ.remove(outside, recursive=True)
    else:
        grain_volumes = [[ball[1]]]
    occ.synchronize()
    for g, volumes in enumerate(grain_volumes):
        gmsh.model.addPhysicalGroup(3, volumes, GRAIN_TAG_OFFSET + g, name=f"grain_{g}")
    grain_of_volume = {v: g for g, vols in enumerate(grain_volumes) for v in vols}
    boundaries, outer = [], []
    for _, surface in gmsh.model.getEntities(2):
        up, _ = gmsh.model.getAdjacencies(2, surface)
        grains = sorted({grain_of_volume[v] for v in up if v in grain_of_volume})
        if len(grains) == 2:
            boundaries.append((surface, grains))
        elif len(up) == 1:
            outer.append(surface)
    gmsh.model.addPhysicalGroup(2, outer, FACET_TAGS["outer_surface"], name="outer_surface")
    if boundaries:
        gmsh.model.addPhysicalGroup(2, [s for s, _ in boundaries], FACET_TAGS["grain_boundary"],
                                    name="grain_boundary")

    _set_sizes(inputs["size_m"] / R, inputs["size_surface_m"] / R)
    gmsh.option.setNumber("Mesh.Algorithm3D", 10)
    gmsh.model.mesh.generate(3)
    stats = mesh_statistics(3)
    scale_nodes(R)
    return {
        "inputs": {"shape": "secondary", **inputs},
        "coordinates_unit": "m",
        "gmsh_version": gmsh.__version__,
        "lrmo_version": lrmo_version,
        **stats,
        "grain_count": len(grain_volumes),
        "grain_tag_offset": GRAIN_TAG_OFFSET,
        "grain_centres_m": (points * R).tolist(),
        "grain_boundaries": [{"surface": s, "grains": g} for s, g in boundaries],
        "facet_tags": {name: FACET_TAGS[name] for name in ("outer_surface", "grain_boundary")},
    }


def _set_sizes(size: float, size_surface: float) -> None:
    """Uniform size inside, size_surface at |x| = 1 (units of R), graded by 0.3 per unit."""
    f = gmsh.model.mesh.field.add("MathEval")
    gmsh.model.mesh.field.setString(
        f, "F", f"Min({num(size)}, {num(size_surface)} + 0.3*Abs(Sqrt(x^2 + y^2 + z^2) - 1))")
    gmsh.model.mesh.field.setAsBackgroundMesh(f)
    for option in ("MeshSizeFromPoints", "MeshSizeFromCurvature", "MeshSizeExtendFromBoundary"):
        gmsh.option.setNumber(f"Mesh.{option}", 0)

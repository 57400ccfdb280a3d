"""Gmsh builders for non-spherical primary particles: ellipsoid, hexagonal platelet,
truncated octahedron (and, through meshes/imported.py, an imported surface or volume).

Each particle is one volume tagged `core`, its whole boundary `outer_surface`
(`meshes.markers`); the centre (or centroid of the convex shapes) is the origin. There
is no separate layer volume: the Li-deficient layer is graded by the distance to the
surface computed on the mesh (solver/physics/surface_distance.py), so the mesh is
refined near the whole boundary instead, with a Gmsh Distance + Threshold field:
`size_surface` up to the layer depth, growing by `size_growth` per unit distance to
`size_bulk`.

Length unit: as in meshes/particle.py, Gmsh works in units of a characteristic length L
(the largest half-extent), so OpenCASCADE's absolute tolerances stay small against every
feature; the nodes are scaled to metres before the mesh leaves Gmsh.
"""
from __future__ import annotations

import math

import gmsh
import numpy as np

from meshes.markers import CELL_TAGS, FACET_TAGS

SHAPES = ("ellipsoid", "platelet", "truncated_octahedron")
BUILDER_VERSION = 3  # bump when the same inputs give a different mesh (mesh-cache key)
DISTANCE_SAMPLING = 40  # points per parametric direction of the Distance field


# -- closed forms (metres) ----------------------------------------------------------------
def hexagon_side_m(width_m: float) -> float:
    """Side (= circumradius) of a regular hexagon of across-flats width W: W / sqrt 3."""
    return width_m / math.sqrt(3.0)


def volume_area(shape: str, params: dict) -> tuple[float, float]:
    """(volume [m^3], surface area [m^2]) of an analytic shape. The ellipsoid's area uses
    Knud Thomsen's formula (relative error < 1.1 %); its volume is exact."""
    if shape == "ellipsoid":
        a, b, c = params["semi_axes_m"]
        p = 1.6075
        area = 4 * math.pi * (((a * b) ** p + (a * c) ** p + (b * c) ** p) / 3) ** (1 / p)
        return 4 / 3 * math.pi * a * b * c, area
    if shape == "platelet":
        w, t = params["width_m"], params["thickness_m"]
        s = hexagon_side_m(w)
        hexagon = 3 * math.sqrt(3) / 2 * s**2
        return hexagon * t, 2 * hexagon + 6 * s * t
    if shape == "truncated_octahedron":
        a = params["edge_length_m"]
        return 8 * math.sqrt(2) * a**3, (6 + 12 * math.sqrt(3)) * a**2
    raise ValueError(f"shape must be one of {SHAPES}, got {shape!r}")


def equivalent_radius_m(volume_m3: float, area_m2: float) -> float:
    """3 V / A: the radius of the sphere with the same volume-to-surface ratio. It sets
    the current per unit area of a C-rate (docs/model.md) exactly as for a sphere."""
    return 3 * volume_m3 / area_m2


def half_extent_m(shape: str, params: dict) -> float:
    """Largest distance from the centre to the surface along an axis direction (the
    length unit L of the Gmsh model)."""
    if shape == "ellipsoid":
        return max(params["semi_axes_m"])
    if shape == "platelet":
        return max(hexagon_side_m(params["width_m"]), params["thickness_m"] / 2)
    if shape == "truncated_octahedron":
        return math.sqrt(2) * params["edge_length_m"]  # centre to a square face
    raise ValueError(f"shape must be one of {SHAPES}, got {shape!r}")


def inradius_m(shape: str, params: dict) -> float:
    """Largest distance to the surface inside the particle (depth of its centre)."""
    if shape == "ellipsoid":
        return min(params["semi_axes_m"])
    if shape == "platelet":
        return min(params["width_m"], params["thickness_m"]) / 2
    if shape == "truncated_octahedron":
        return math.sqrt(1.5) * params["edge_length_m"]  # centre to a hexagonal face
    raise ValueError(f"shape must be one of {SHAPES}, got {shape!r}")


# -- convex polyhedra -----------------------------------------------------------------------
def platelet_planes(width: float, thickness: float):
    """Vertices and face planes (unit normal n, offset h: n.x <= h) of a hexagonal prism,
    axis z, vertices of the hexagon on +-x (flats normal to +-y), centred at the origin."""
    s = hexagon_side_m(width)
    angles = np.arange(6) * np.pi / 3
    ring = np.column_stack([s * np.cos(angles), s * np.sin(angles)])
    vertices = np.vstack([np.column_stack([ring, np.full(6, z)]) for z in (-thickness / 2, thickness / 2)])
    side = [(np.array([np.cos(a), np.sin(a), 0.0]), width / 2) for a in angles + np.pi / 6]
    return vertices, side + [(np.array([0.0, 0.0, 1.0]), thickness / 2),
                             (np.array([0.0, 0.0, -1.0]), thickness / 2)]


def truncated_octahedron_planes(edge: float):
    """Vertices (all permutations of (0, +-1, +-2) a / sqrt 2) and the 14 face planes: 6
    squares at sqrt 2 a along the axes, 8 hexagons at sqrt(3/2) a along the diagonals."""
    import itertools

    k = edge / math.sqrt(2)
    vertices = {tuple(sign * v for sign, v in zip(signs, perm))
                for perm in itertools.permutations((0.0, 1.0, 2.0))
                for signs in itertools.product((1, -1), repeat=3)}
    vertices = np.array(sorted(vertices)) * k
    planes = [(np.eye(3)[i] * s, 2 * k) for i in range(3) for s in (1, -1)]
    planes += [(np.array(s) / math.sqrt(3), 3 * k / math.sqrt(3))
               for s in itertools.product((1, -1), repeat=3)]
    return vertices, planes


def add_convex_polyhedron(vertices: np.ndarray, planes) -> int:
    """OpenCASCADE volume bounded by the given planes, each face the polygon of the
    vertices lying on its plane (ordered by angle around the face centre)."""
    occ = gmsh.model.occ
    points = [occ.addPoint(*v) for v in vertices]
    lines: dict[tuple[int, int], int] = {}
    faces = []
    for n, h in planes:
        on = np.where(np.abs(vertices @ n - h) <= 1e-9 * max(1.0, abs(h)))[0]
        centre = vertices[on].mean(axis=0)
        u = vertices[on[0]] - centre
        u /= np.linalg.norm(u)
        w = np.cross(n, u)
        rel = vertices[on] - centre
        ring = on[np.argsort(np.arctan2(rel @ w, rel @ u))]
        loop = []
        for i, j in zip(ring, np.roll(ring, -1)):
            key = (min(i, j), max(i, j))
            if key not in lines:
                lines[key] = occ.addLine(points[key[0]], points[key[1]])
            loop.append(lines[key] if i < j else -lines[key])
        faces.append(occ.addPlaneSurface([occ.addCurveLoop(loop)]))
    return occ.addVolume([occ.addSurfaceLoop(faces)])


def add_shape(shape: str, params_L: dict) -> int:
    """The particle volume, in units of L (params already divided by L)."""
    occ = gmsh.model.occ
    if shape == "ellipsoid":
        a, b, c = params_L["semi_axes_m"]
        ball = occ.addSphere(0, 0, 0, 1.0)
        occ.dilate([(3, ball)], 0, 0, 0, a, b, c)
        return ball
    if shape == "platelet":
        return add_convex_polyhedron(*platelet_planes(params_L["width_m"], params_L["thickness_m"]))
    if shape == "truncated_octahedron":
        return add_convex_polyhedron(*truncated_octahedron_planes(params_L["edge_length_m"]))
    raise ValueError(f"shape must be one of {SHAPES}, got {shape!r}")


# -- tags, sizes, meshing (shared with meshes/imported.py) --------------------------------
def tag_single_volume(volume: int | None = None) -> list[int]:
    """Physical groups: every volume `core`, every boundary surface `outer_surface`.
    Returns the boundary surface tags."""
    volumes = [tag for _, tag in gmsh.model.getEntities(3)] if volume is None else [volume]
    boundary = gmsh.model.getBoundary([(3, v) for v in volumes], oriented=False, combined=True)
    surfaces = sorted({abs(tag) for _, tag in boundary})
    gmsh.model.addPhysicalGroup(3, volumes, CELL_TAGS["core"], name="core")
    gmsh.model.addPhysicalGroup(2, surfaces, FACET_TAGS["outer_surface"], name="outer_surface")
    return surfaces


def set_surface_size_field(surfaces: list[int], inputs: dict, length_m: float) -> None:
    """Background size: size_surface within the layer depth of the boundary surfaces
    (Distance field), then growing by size_growth per unit distance up to size_bulk."""
    field = gmsh.model.mesh.field
    h_s = inputs["size_surface_m"] / length_m
    h_b = inputs["size_bulk_m"] / length_m
    near = max(inputs["layer_thickness_m"] / length_m, h_s)
    dist = field.add("Distance")
    field.setNumbers(dist, "SurfacesList", surfaces)
    field.setNumber(dist, "Sampling", DISTANCE_SAMPLING)
    threshold = field.add("Threshold")
    field.setNumber(threshold, "InField", dist)
    field.setNumber(threshold, "SizeMin", h_s)
    field.setNumber(threshold, "SizeMax", h_b)
    field.setNumber(threshold, "DistMin", near)
    field.setNumber(threshold, "DistMax", near + (h_b - h_s) / inputs["size_growth"])
    field.setAsBackgroundMesh(threshold)
    for option in ("MeshSizeFromPoints", "MeshSizeFromCurvature", "MeshSizeExtendFromBoundary"):
        gmsh.option.setNumber(f"Mesh.{option}", 0)


def mesh_and_describe(inputs: dict, length_m: float, generate: bool = True) -> dict:
    """Mesh the tagged model in 3D (unless already meshed; units of L), scale to
    metres, return info.json."""
    from meshes.particle import mesh_statistics, scale_nodes
    from solver import __version__ as lrmo_version

    if generate:
        gmsh.option.setNumber("Mesh.Algorithm3D", 10)  # HXT
        gmsh.model.mesh.generate(3)
    stats = mesh_statistics(3)
    scale_nodes(length_m)
    return {
        "inputs": inputs,
        "coordinates_unit": "m",
        "gmsh_version": gmsh.__version__,
        "lrmo_version": lrmo_version,
        **stats,
        "cell_tags": {"core": CELL_TAGS["core"]},
        "facet_tags": {"outer_surface": FACET_TAGS["outer_surface"]},
    }


def shape_model(shape: str, params: dict, inputs: dict) -> dict:
    """Build, tag and mesh an analytic shape in the current Gmsh model (this process
    only); nodes end in metres. `params` in SI (`semi_axes_m`, `width_m` +
    `thickness_m`, or `edge_length_m`); `inputs` the checked mesh inputs
    (meshes/sizes.py `checked_inputs`). Returns the info dict.

    Every shape here is symmetric under the mirrors x, y, z -> -x, -y, -z, and so is
    its mesh: the first octant is meshed and mirrored into the other seven (one discrete
    volume), so a symmetric load gives a symmetric solution to solver precision."""
    length = half_extent_m(shape, params)
    scaled = {k: (np.asarray(v) / length).tolist() if isinstance(v, (list, tuple)) else v / length
              for k, v in params.items()}
    occ = gmsh.model.occ
    volume = add_shape(shape, scaled)
    piece, _ = occ.intersect([(3, volume)], [(3, occ.addBox(0, 0, 0, 2, 2, 2))])
    occ.synchronize()
    boundary = gmsh.model.getBoundary(piece, oriented=False, combined=True)
    outer = [abs(tag) for _, tag in boundary if not _on_symmetry_plane(abs(tag))]
    set_surface_size_field(outer, inputs, length)
    gmsh.option.setNumber("Mesh.Algorithm3D", 10)  # HXT
    gmsh.model.mesh.generate(3)
    nodes, tets, triangles = _octant_mesh(piece[0][1], outer)
    _mirrored_discrete_model(nodes, tets, triangles)
    return mesh_and_describe({**inputs, "shape": shape, "shape_parameters": params}, length,
                             generate=False)


def _on_symmetry_plane(surface: int, tol: float = 1e-9) -> bool:
    """True for a plane face lying in x = 0, y = 0 or z = 0 (units of L)."""
    if gmsh.model.getType(2, surface) != "Plane":
        return False
    lo, hi = gmsh.model.getParametrizationBounds(2, surface)
    uv = (np.asarray(lo) + np.asarray(hi)) / 2
    normal = np.abs(gmsh.model.getNormal(surface, uv))
    axis = int(np.argmax(normal))
    point = gmsh.model.getValue(2, surface, uv)
    return bool(normal[axis] > 1 - tol and abs(point[axis]) < tol)


def _octant_mesh(volume: int, outer: list[int]):
    """(nodes (n, 3), tets (m, 4), outer triangles (k, 3)) of the meshed first octant,
    node indices from 0, coordinates within 1e-12 of a symmetry plane set on it."""
    tags, xyz, _ = gmsh.model.mesh.getNodes()
    index = np.zeros(int(tags.max()) + 1, dtype=np.int64)
    index[tags.astype(np.int64)] = np.arange(len(tags))
    nodes = xyz.reshape(-1, 3).copy()
    nodes[np.abs(nodes) < 1e-12] = 0.0
    _, tets = gmsh.model.mesh.getElementsByType(4, volume)
    triangles = [gmsh.model.mesh.getElementsByType(2, s)[1] for s in outer]
    return (nodes, index[tets.astype(np.int64)].reshape(-1, 4),
            index[np.concatenate(triangles).astype(np.int64)].reshape(-1, 3))


def _mirrored_discrete_model(nodes: np.ndarray, tets: np.ndarray, triangles: np.ndarray) -> None:
    """Replace the current model by one discrete volume: the octant mesh and its seven
    mirror images, nodes on the symmetry planes shared; tagged as `tag_single_volume`."""
    import itertools

    signs = [np.array(s, dtype=float) for s in itertools.product((1, -1), repeat=3)]
    copies = np.vstack([nodes * s for s in signs])
    unique, inverse = np.unique(copies, axis=0, return_inverse=True)
    inverse = inverse.ravel().reshape(len(signs), -1)
    all_tets, all_tris = [], []
    for k, s in enumerate(signs):
        flip = np.prod(s) < 0  # a reflection: swap two nodes to keep the orientation
        t = inverse[k][tets][:, [0, 2, 1, 3]] if flip else inverse[k][tets]
        f = inverse[k][triangles][:, [0, 2, 1]] if flip else inverse[k][triangles]
        all_tets.append(t)
        all_tris.append(f)
    name = gmsh.model.getCurrent()
    gmsh.model.remove()
    gmsh.model.add(name)
    surface = gmsh.model.addDiscreteEntity(2)
    volume = gmsh.model.addDiscreteEntity(3, -1, [surface])
    node_tags = np.arange(1, len(unique) + 1)
    gmsh.model.mesh.addNodes(3, volume, node_tags, unique.ravel())
    gmsh.model.mesh.addElementsByType(volume, 4, [], (np.vstack(all_tets) + 1).ravel())
    gmsh.model.mesh.addElementsByType(surface, 2, [], (np.vstack(all_tris) + 1).ravel())
    gmsh.model.addPhysicalGroup(3, [volume], CELL_TAGS["core"], name="core")
    gmsh.model.addPhysicalGroup(2, [surface], FACET_TAGS["outer_surface"], name="outer_surface")

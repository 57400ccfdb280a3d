"""Imported particle geometry: a STEP solid, an STL surface or a Gmsh .msh volume mesh
(e.g. from tomography), meshed or used as the one `core` volume of meshes/shapes.py.

- STEP (.step, .stp): OpenCASCADE `importShapes`; a shell without a solid is closed
  into a volume. Meshed with the same surface refinement as the analytic shapes.
- STL (.stl): the triangulation is merged, split into smooth patches
  (`classifySurfaces`, 40 degree feature angle), reparametrised (`createGeometry`),
  closed into a volume and meshed anew (the STL triangles only define the surface).
- Gmsh (.msh): the tetrahedra are used as they are (no remeshing); every volume becomes
  `core` and its boundary `outer_surface`, whatever physical groups the file had.

Coordinates in the file are multiplied by `unit_m` (the length of one file unit in
metres) and translated so that the centre of the bounding box is the origin (the island
directions and the profile ray start there). The mesh-cache key holds the file's SHA-256,
so an edited file is remeshed.
"""
from __future__ import annotations

import hashlib
import math
from pathlib import Path

import gmsh
import numpy as np

from meshes.shapes import mesh_and_describe, set_surface_size_field, tag_single_volume

KINDS = {".step": "step", ".stp": "step", ".stl": "stl", ".msh": "msh"}
BUILDER_VERSION = 1
FEATURE_ANGLE_DEG = 40.0


def file_kind(path: str | Path) -> str:
    """'step', 'stl' or 'msh' from the suffix; ValueError for anything else."""
    kind = KINDS.get(Path(path).suffix.lower())
    if kind is None:
        raise ValueError(f"geometry.file must end in one of {sorted(KINDS)}, got {str(path)!r}")
    return kind


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def _bounding_box() -> np.ndarray:
    return np.array(gmsh.model.getBoundingBox(-1, -1)).reshape(2, 3)


def _transform_nodes(scale: float, shift: np.ndarray) -> None:
    """x -> scale (x - shift) on every mesh node."""
    t = -scale * np.asarray(shift)
    gmsh.model.mesh.affineTransform([scale, 0, 0, t[0], 0, scale, 0, t[1], 0, 0, scale, t[2]])


def _load_step(path: Path, unit_over_length: float, shift: np.ndarray) -> None:
    occ = gmsh.model.occ
    entities = occ.importShapes(str(path))
    occ.synchronize()
    if not gmsh.model.getEntities(3):
        surfaces = [tag for dim, tag in gmsh.model.getEntities(2)]
        if not surfaces:
            raise ValueError(f"{path}: no solid and no surface in the STEP file")
        occ.addVolume([occ.addSurfaceLoop(surfaces, sewing=True)])
    occ.translate(gmsh.model.occ.getEntities(3), *(-np.asarray(shift)))
    occ.dilate(gmsh.model.occ.getEntities(3), 0, 0, 0, *(3 * [unit_over_length]))
    occ.synchronize()
    del entities


def _load_stl(path: Path, unit_over_length: float, shift: np.ndarray) -> None:
    gmsh.merge(str(path))
    _transform_nodes(unit_over_length, shift)
    angle = math.radians(FEATURE_ANGLE_DEG)
    gmsh.model.mesh.classifySurfaces(angle, True, True, math.pi)
    gmsh.model.mesh.createGeometry()
    surfaces = [tag for _, tag in gmsh.model.getEntities(2)]
    loop = gmsh.model.geo.addSurfaceLoop(surfaces)
    gmsh.model.geo.addVolume([loop])
    gmsh.model.geo.synchronize()


def raw_extent(path: str | Path) -> np.ndarray:
    """Bounding box (2, 3) of the file in its own units (current Gmsh model)."""
    path = Path(path)
    kind = file_kind(path)
    if kind == "step":
        gmsh.option.setNumber("Geometry.OCCBoundsUseStl", 1)  # tight boxes, not the control points
        gmsh.model.occ.importShapes(str(path))
        gmsh.model.occ.synchronize()
    else:
        gmsh.merge(str(path))
    box = _bounding_box()
    gmsh.model.remove()
    gmsh.model.add("imported")
    return box


def imported_model(path: str | Path, unit_m: float, inputs: dict) -> dict:
    """Build (or load), tag and mesh the imported particle in the current Gmsh model;
    nodes end in metres, centred on the bounding-box centre. Returns the info dict."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"geometry.file: {path} does not exist")
    kind = file_kind(path)
    box = raw_extent(path)
    shift = box.mean(axis=0)
    length_m = float(np.max(box[1] - box[0])) / 2 * unit_m
    info_inputs = {**inputs, "shape": "imported", "file": str(path), "file_kind": kind,
                   "file_sha256": file_sha256(path), "file_unit_m": unit_m,
                   "file_centre_in_file_units": shift.tolist()}
    if kind == "msh":
        from meshes.particle import mesh_statistics

        gmsh.merge(str(path))
        if not gmsh.model.getEntities(3):
            raise ValueError(f"{path}: the .msh file holds no volume (3D) elements")
        _transform_nodes(unit_m, shift)
        for dim, tag in gmsh.model.getPhysicalGroups():
            gmsh.model.removePhysicalGroups([(dim, tag)])
        if not gmsh.model.getEntities(2):
            gmsh.model.mesh.createTopology()
        tag_single_volume()
        from meshes.markers import CELL_TAGS, FACET_TAGS

        return {"inputs": info_inputs, "coordinates_unit": "m", "gmsh_version": gmsh.__version__,
                **mesh_statistics(3), "cell_tags": {"core": CELL_TAGS["core"]},
                "facet_tags": {"outer_surface": FACET_TAGS["outer_surface"]}}
    loader = _load_step if kind == "step" else _load_stl
    loader(path, unit_m / length_m, shift)
    surfaces = tag_single_volume()
    set_surface_size_field(surfaces, inputs, length_m)
    return mesh_and_describe(info_inputs, length_m)


def measure(path: str | Path, unit_m: float) -> tuple[float, float]:
    """(volume [m^3], surface area [m^2]) of the file's particle, from its triangulated
    surface (STL, .msh boundary) or the OpenCASCADE solid (STEP). Run in a Gmsh
    session (meshes.gmsh_io.gmsh_session)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"geometry.file: {path} does not exist")
    kind = file_kind(path)
    if kind == "step":
        gmsh.model.occ.importShapes(str(path))
        gmsh.model.occ.synchronize()
        volumes = gmsh.model.getEntities(3)
        if volumes:
            volume = sum(gmsh.model.occ.getMass(3, t) for _, t in volumes)
            boundary = gmsh.model.getBoundary(volumes, oriented=False, combined=True)
        else:
            boundary = gmsh.model.getEntities(2)
            volume = None
        area = sum(gmsh.model.occ.getMass(2, abs(t)) for _, t in boundary)
        if volume is None:
            volume = _enclosed_volume(*_surface_triangles_after_meshing())
        return volume * unit_m**3, area * unit_m**2
    gmsh.merge(str(path))
    if kind == "msh" and gmsh.model.getEntities(3) and not gmsh.model.getEntities(2):
        gmsh.model.mesh.createTopology()
    nodes, triangles = _boundary_triangles(kind)
    if len(triangles) == 0:
        raise ValueError(f"{path}: no surface triangles or volume elements in the file")
    volume = _enclosed_volume(nodes, triangles)
    p = nodes[triangles]
    area = 0.5 * np.linalg.norm(np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]), axis=1).sum()
    return volume * unit_m**3, float(area) * unit_m**2


def _boundary_triangles(kind: str):
    """(nodes (n, 3), triangles (m, 3) as node indices) of the particle's surface."""
    tags, xyz, _ = gmsh.model.mesh.getNodes()
    if len(tags) == 0:
        return np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64)
    index = np.zeros(int(tags.max()) + 1, dtype=np.int64)
    index[tags.astype(np.int64)] = np.arange(len(tags))
    nodes = xyz.reshape(-1, 3)
    if kind == "msh" and gmsh.model.getEntities(3):
        _, tets = gmsh.model.mesh.getElementsByType(4)
        tets = index[tets.astype(np.int64)].reshape(-1, 4)
        faces = np.vstack([tets[:, [1, 2, 3]], tets[:, [0, 3, 2]], tets[:, [0, 1, 3]], tets[:, [0, 2, 1]]])
        key = np.sort(faces, axis=1)
        _, inverse, counts = np.unique(key, axis=0, return_inverse=True, return_counts=True)
        return nodes, faces[counts[inverse.ravel()] == 1]
    _, tris = gmsh.model.mesh.getElementsByType(2)
    return nodes, index[tris.astype(np.int64)].reshape(-1, 3)


def _surface_triangles_after_meshing():
    gmsh.model.mesh.generate(2)
    return _boundary_triangles("stl")


def _enclosed_volume(nodes: np.ndarray, triangles: np.ndarray) -> float:
    """|sum of signed tetrahedra (origin, triangle)|: the enclosed volume of a closed,
    consistently oriented triangulation (divergence theorem)."""
    p = nodes[triangles]
    return float(abs(np.einsum("ij,ij->i", p[:, 0], np.cross(p[:, 1], p[:, 2])).sum()) / 6)

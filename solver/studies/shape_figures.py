"""Figures of the non-spherical particles (docs/shapes.md): for each shape, the mesh cut
open (one octant removed) and coloured by the depth below the surface that grades the
Li-deficient layer, and the whole surface with its RuO2 islands at 30 % coverage.

Two stages, because pyvista must be imported before DOLFINx: `prepare` (DOLFINx) builds
each shape's Domain and saves the arrays to an .npz; `render` (pyvista, off-screen, in
a process of its own) draws them.

    python -m solver.studies.shape_figures --out docs/figures
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

BASE_CASE = Path(__file__).resolve().parents[2] / "cases" / "platelet_stress.yaml"
GEOMETRIES = {
    "ellipsoid": {"semi_axes": ["150 nm", "110 nm", "70 nm"]},
    "platelet": {"width": "300 nm", "thickness": "80 nm"},
    "truncated_octahedron": {"edge_length": "60 nm"},
    "imported": {"file": "{blob}", "file_unit": "1 nm"},
}
LAYER, SURFACE, BULK = "20 nm", "6 nm", "25 nm"
COVERAGE, ISLANDS = 0.3, 24


def blob_stl(path: Path, radius_nm: float = 110.0, seed: int = 3) -> Path:
    """An ASCII STL of a lumpy particle (a sphere whose radius varies by a few smooth
    low-order harmonics, as a tomogram's segmented surface might), for the imported
    example."""
    import gmsh

    from meshes.gmsh_io import gmsh_session

    with gmsh_session("blob"):
        gmsh.model.occ.addSphere(0, 0, 0, 1.0)
        gmsh.model.occ.synchronize()
        gmsh.option.setNumber("Mesh.MeshSizeMax", 0.08)
        gmsh.model.mesh.generate(2)
        tags, xyz, _ = gmsh.model.mesh.getNodes()
        _, tri = gmsh.model.mesh.getElementsByType(2)
    index = np.zeros(int(tags.max()) + 1, dtype=np.int64)
    index[tags.astype(np.int64)] = np.arange(len(tags))
    x = xyz.reshape(-1, 3)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    rng = np.random.default_rng(seed)
    bumps = sum(a * np.sin(k * (x @ d) + p) for a, k, d, p in zip(
        rng.uniform(0.04, 0.1, 5), rng.integers(1, 4, 5), rng.normal(size=(5, 3)), rng.uniform(0, 6, 5)))
    x *= radius_nm * (1 + bumps)[:, None] * np.array([1.0, 0.85, 0.7])
    triangles = x[index[tri.astype(np.int64)].reshape(-1, 3)]
    lines = ["solid blob"]
    for a, b, c in triangles:
        n = np.cross(b - a, c - a)
        n /= np.linalg.norm(n)
        lines += [f"facet normal {n[0]:e} {n[1]:e} {n[2]:e}", "outer loop",
                  *(f"vertex {v[0]:.9e} {v[1]:.9e} {v[2]:.9e}" for v in (a, b, c)),
                  "endloop", "endfacet"]
    path.write_text("\n".join(lines + ["endsolid blob"]) + "\n")
    return path


def prepare(out: Path) -> list[Path]:
    """Build every shape's Domain (coarse), save its arrays; returns the .npz paths."""
    from mpi4py import MPI

    from meshes.markers import FACET_TAGS
    from solver.case.schema import load_case_data, validate_case
    from solver.physics.domain import facet_triangles
    from solver.physics.islands import fibonacci_centres, tag_islands_on_surface
    from solver.physics.materials import grading_shape
    from solver.simulation.domain_setup import build_domain
    from solver import compat
    from scipy.special import erf

    comm = MPI.COMM_SELF
    blob = blob_stl(out / "lumpy_particle.stl")  # removed below, once meshed
    saved = []
    for shape, params in GEOMETRIES.items():
        data = load_case_data(BASE_CASE)
        params = {k: (v.format(blob=blob) if isinstance(v, str) else v) for k, v in params.items()}
        data["geometry"] = {"shape": shape, **params, "layer_thickness": LAYER}
        data["mesh"] = {"surface": SURFACE, "bulk": BULK}
        case = validate_case(data)
        domain = build_domain(case, comm)
        msh = domain.msh
        points = msh.geometry.x
        depth = domain.distance_to_surface(points)
        layer = case.materials.layer
        g = np.clip(grading_shape(depth / domain.layer_thickness_m, layer.profile, erf), 0, 1)
        g[depth > domain.layer_thickness_m] = 0.0
        tagged = tag_islands_on_surface(domain, fibonacci_centres(ISLANDS), COVERAGE)
        tags = tagged.facet_tags
        islands = tags.indices[tags.values == FACET_TAGS["ruo2_islands"]]
        path = out / f"shape_{shape}.npz"
        np.savez_compressed(
            path, points_nm=points * 1e9, tets=compat.geometry_cells(msh)[:, :4],
            depth_nm=depth * 1e9, deficiency=layer.site_deficiency_at_surface.si * g,
            islands_nm=facet_triangles(msh, islands) * 1e9, shape=shape,
            radius_nm=domain.radius_m * 1e9, layer_nm=domain.layer_thickness_m * 1e9,
            cells=msh.topology.index_map(3).size_local)
        saved.append(path)
    blob.unlink()
    return saved


def render(npz: Path, png: Path) -> None:
    """Left: cut open, coloured by depth below the surface; right: the surface with
    its RuO2 islands. Off-screen; pyvista is imported here."""
    os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    import pyvista as pv

    d = np.load(npz)
    tets = d["tets"]
    cells = np.hstack([np.full((len(tets), 1), 4), tets]).ravel()
    grid = pv.UnstructuredGrid(cells, np.full(len(tets), pv.CellType.TETRA), d["points_nm"])
    grid.point_data["depth below the surface [nm]"] = d["depth_nm"]
    grid.point_data["site deficiency"] = d["deficiency"]
    cut = grid.clip_box([0, 1e4, 0, 1e4, 0, 1e4], invert=True, crinkle=False)
    plot = pv.Plotter(off_screen=True, shape=(1, 2), window_size=(1300, 570))
    shape = str(d["shape"]).replace("_", " ")
    plot.subplot(0, 0)
    plot.add_text(f"{shape}: depth below the surface (cut open)", font_size=11)
    plot.add_mesh(cut, scalars="depth below the surface [nm]", cmap="viridis", show_edges=True,
                  edge_color="#333333", line_width=0.3,
                  scalar_bar_args={"title": "depth below the surface [nm]", "vertical": False,
                                   "position_x": 0.2, "position_y": 0.04, "width": 0.6})
    plot.camera_position = "iso"
    plot.camera.azimuth = 20
    plot.subplot(0, 1)
    plot.add_text(f"RuO2 islands on the real surface ({COVERAGE:.0%} coverage)", font_size=11)
    surface = grid.extract_surface(algorithm="dataset_surface")
    surface.cell_data["island"] = _on_islands(surface, d["islands_nm"])
    plot.add_mesh(surface, scalars="island", cmap=["#c8c8c8", "#b03a2e"], show_edges=True,
                  edge_color="#777777", line_width=0.3, show_scalar_bar=False)
    plot.camera_position = "iso"
    plot.camera.azimuth = 20
    plot.screenshot(str(png))
    plot.close()


def _on_islands(surface, island_triangles: np.ndarray) -> np.ndarray:
    """1 for the surface cells that are island facets (matched by centroid), else 0."""
    from scipy.spatial import cKDTree

    if len(island_triangles) == 0:
        return np.zeros(surface.n_cells)
    centres = np.asarray(surface.cell_centers().points)
    distance, _ = cKDTree(island_triangles.mean(axis=1)).query(centres)
    return (distance < 1e-6).astype(float)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    one = sub.add_parser("render", help="draw one prepared .npz (pyvista)")
    one.add_argument("npz", type=Path)
    one.add_argument("png", type=Path)
    parser.add_argument("--out", type=Path, default=Path("docs/figures"))
    args = parser.parse_args(argv)
    if args.command == "render":
        render(args.npz, args.png)
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    for npz in prepare(args.out):
        png = npz.with_suffix(".png")
        subprocess.run([sys.executable, "-m", "solver.studies.shape_figures", "render",
                        str(npz), str(png)], check=True)
        npz.unlink()
        print(png)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

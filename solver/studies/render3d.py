"""3D renderings of output folders with pyvista, off-screen (the counterparts of the
paper's Fig. 4c-d and 6c):

* `particle`: the particle with one octant cut away, coloured by the Li concentration
  and by the von Mises stress at the peak (`fields_at_peak.xdmf`, else the output time of
  `fields/fields.xdmf` nearest the peak); an octant run is mirrored to the full sphere.
* `islands`: the particle surface with its RuO2 islands outlined, coloured by the O2
  flux leaving the oxide (`O2_flux_out_mol_m2_s`), at chosen output times.
* `o2`: the particle with one octant cut away, coloured by the mobile O2 concentration
  (`c_O2_mol_m3`, each panel its own log scale) a given time after each run's end of
  charge, RuO2 islands outlined: the paper's Fig. 6c ("O2 after 40 min").

Reads only the output folders (no DOLFINx): run it in a process of its own, as
`lrmo reproduce` does, because pyvista must be imported before DOLFINx.

    VTK_DEFAULT_OPENGL_WINDOW=vtkEGLRenderWindow python -m solver.studies.render3d \\
        particle --out particle_3d.png pristine=results/pristine_stress_octant Ru-1=results/ru1_stress_octant
    python -m solver.studies.render3d islands --out islands_3d.png results/ru1_islands_o2 --times 600 2400
    python -m solver.studies.render3d o2 --out o2_3d.png --after-charge 2400 \
        pristine=results/pristine_cycle_octant Ru-1=results/ru1_cycle_octant
"""
from __future__ import annotations

import argparse
import json
import os
from itertools import product
from pathlib import Path

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")  # no X server needed
import numpy as np  # noqa: E402
import pyvista as pv  # noqa: E402

PEAK_FIELDS = "fields_at_peak.xdmf"
LI_FIELD, VM_FIELD = "c_Li_mol_m3", "sigma_vm_Pa"
FLUX_FIELD, GAMMA_FIELD = "O2_flux_out_mol_m2_s", "Gamma_O2_mol_m2"
O2_FIELD = "c_O2_mol_m3"
LOG_DECADES = 4  # a panel's log scale spans at most this many decades below its largest value
REGION_FIELDS = ("regions", "region_id")
CAMERA = (1.0, 0.75, 0.6)  # looking into the cut-away octant


def read_fields(xdmf: str | Path, time_s: float | None = None) -> tuple[pv.UnstructuredGrid, float]:
    """The mesh with every field of an XDMF file (as DOLFINx writes it: one grid per
    field) at the output time nearest `time_s` (default: the last), coordinates in nm.
    Returns (grid, time shown)."""
    reader = pv.get_reader(str(xdmf))
    times = list(getattr(reader, "time_values", []) or [])
    t = 0.0
    if times:
        t = times[-1] if time_s is None else min(times, key=lambda s: abs(s - time_s))
        reader.set_active_time_value(t)
    data = reader.read()
    blocks = dict(zip(data.keys(), data)) if isinstance(data, pv.MultiBlock) else {"mesh": data}
    blocks = {k: b for k, b in blocks.items() if b is not None and b.n_cells}
    base = next(iter(blocks.values()))
    grid = pv.UnstructuredGrid(base.cast_to_unstructured_grid())
    grid.clear_data()
    # a field's own grid first: the XDMF reader also attaches other grids' arrays
    ordered = sorted(blocks.items(), key=lambda kb: kb[0] not in (*kb[1].point_data, *kb[1].cell_data))
    for name, block in ordered:
        if block.n_points != grid.n_points or block.n_cells != grid.n_cells:
            continue
        for key in block.point_data:
            if key not in grid.point_data:
                grid.point_data[key] = np.asarray(block.point_data[key])
        for key in block.cell_data:
            if key not in grid.cell_data:
                grid.cell_data[key] = np.asarray(block.cell_data[key])
    if np.abs(grid.points).max() < 1e-3:  # metres (output.length_unit m) -> nm
        grid.points = grid.points * 1e9
    return grid, float(t)


def mirror_octant(grid: pv.UnstructuredGrid, skip: tuple[int, int, int] | None = None) -> pv.UnstructuredGrid:
    """An octant (x, y, z >= 0) mirrored in the three symmetry planes to the full
    sphere; the copy in the octant of signs `skip` is left out (a cut-away view)."""
    grid = grid.copy()
    span = np.abs(grid.points).max()
    grid.points[np.abs(grid.points) < 1e-9 * span] = 0.0  # the planes' nodes meet their images
    copies = []
    for signs in product((1, -1), repeat=3):
        if skip is not None and signs == tuple(skip):
            continue
        copy = grid.copy()
        copy.points = grid.points * np.array(signs, dtype=float)
        if np.prod(signs) < 0:  # a reflection turns the cells inside out: swap two nodes
            copy = _reoriented(copy)
        copies.append(copy)
    return pv.merge(copies, merge_points=True)


def _reoriented(grid: pv.UnstructuredGrid) -> pv.UnstructuredGrid:
    """The grid with the first two nodes of every tetrahedron/triangle swapped (positive
    volumes again after a reflection)."""
    types = np.asarray(grid.celltypes)
    if not np.isin(types, (pv.CellType.TETRA, pv.CellType.TRIANGLE)).all():
        raise ValueError("mirroring is implemented for tetrahedra and triangles")
    cells = [np.asarray(grid.cells_dict[t]) for t in (pv.CellType.TETRA, pv.CellType.TRIANGLE) if t in grid.cells_dict]
    if len(cells) != 1:
        raise ValueError("mirroring is implemented for one cell type")
    cells = cells[0][:, [1, 0, *range(2, cells[0].shape[1])]]
    out = pv.UnstructuredGrid({int(types[0]): cells}, grid.points)
    for key in grid.point_data:
        out.point_data[key] = grid.point_data[key]
    for key in grid.cell_data:
        out.cell_data[key] = grid.cell_data[key]
    return out


def is_octant(grid: pv.DataSet) -> bool:
    return bool(grid.points.min() > -1e-6 * np.abs(grid.points).max())


def peak_state(folder: Path) -> tuple[pv.UnstructuredGrid, float, dict]:
    """(fields, time shown, the summary's "stress" entry) of a stress run."""
    stress = json.loads((folder / "summary.json").read_text())["stress"]
    path = folder / PEAK_FIELDS if (folder / PEAK_FIELDS).exists() else folder / "fields" / "fields.xdmf"
    grid, t = read_fields(path, stress["peak_time_s"])
    return grid, t, stress


def _cutaway(grid: pv.UnstructuredGrid) -> pv.UnstructuredGrid:
    return mirror_octant(grid, skip=(1, 1, 1)) if is_octant(grid) else grid.clip_box(
        (0, np.inf, 0, np.inf, 0, np.inf), invert=True)


def _layer_outline(solid: pv.UnstructuredGrid) -> pv.PolyData | None:
    """Edges between regions on the cut faces (e.g. the core | Li-deficient layer)."""
    name = next((k for k in REGION_FIELDS if k in solid.cell_data), None)
    if name is None or len(np.unique(solid.cell_data[name])) < 2:
        return None
    region = solid.cell_data_to_point_data()  # averaged tags: a level between two regions
    values = np.unique(solid.cell_data[name])
    return region.extract_surface(algorithm="dataset_surface").contour([0.5 * (values[0] + values[1])], scalars=name)


def render_particle(runs: dict[str, str | Path], png: str | Path) -> Path:
    """One row per run: c_Li and von Mises stress on the cut-away particle at the peak."""
    states = {label: peak_state(Path(folder)) for label, folder in runs.items()}
    # the stress scale tops out at the reported peak (the nodal field's max may be a little lower)
    peak_vm = max(max(float(s[0].point_data[VM_FIELD].max()), s[2]["peak_von_mises_Pa"]) for s in states.values())
    li = np.concatenate([s[0].point_data[LI_FIELD] for s in states.values()])
    scales = {LI_FIELD: ("c_Li", "kmol/m³", 1e-3, (li.min() * 1e-3, li.max() * 1e-3), "viridis"),
              VM_FIELD: ("von Mises", "MPa", 1e-6, (0.0, peak_vm * 1e-6), "inferno")}
    plotter = pv.Plotter(off_screen=True, shape=(len(runs), 2), window_size=(1400, 640 * len(runs)), border=False)
    for i, (label, (grid, t, stress)) in enumerate(states.items()):
        t_peak = stress["peak_time_s"]
        solid = _cutaway(grid)
        outline = _layer_outline(solid)
        edges = solid.extract_surface(algorithm="dataset_surface").extract_feature_edges(
            feature_angle=45, boundary_edges=False, non_manifold_edges=False, manifold_edges=False)
        for j, field in enumerate((LI_FIELD, VM_FIELD)):
            name, unit, factor, clim, cmap = scales[field]
            # pyvista keeps one bar per title: each row's own, told apart by trailing spaces
            title = f"{name} [{unit}]" + " " * i
            plotter.subplot(i, j)
            shown = solid.copy()
            shown.point_data[title] = values = np.asarray(solid.point_data[field]) * factor
            # unlit: a face's colour is its value alone (shading darkened the cut faces)
            plotter.add_mesh(shown, scalars=title, clim=clim, cmap=cmap, smooth_shading=False, lighting=False,
                             scalar_bar_args={"title": title, "vertical": True, "position_x": 0.82,
                                              "position_y": 0.15, "height": 0.7, "width": 0.06,
                                              "title_font_size": 18, "label_font_size": 16, "fmt": "%.0f"})
            if outline is not None and outline.n_points:
                plotter.add_mesh(outline, color="white", line_width=2)
            plotter.add_mesh(edges, color="grey", line_width=1)  # unlit faces: the cut's edges show the shape
            when = f"t = {t / 60:.1f} min" + ("" if abs(t - t_peak) < 1e-6 * max(t_peak, 1) else
                                               f" (peak at {t_peak / 60:.1f} min)")
            extent = (f"max {values.max():.1f} {unit} (vertices), peak {stress['peak_von_mises_Pa'] * factor:.1f} {unit}"
                      if field == VM_FIELD
                      else f"{values.min():.1f} to {values.max():.1f} {unit}")
            plotter.add_text(f"{label}: {name}, {when}\n{extent}",
                             font_size=11, position="upper_left")
            _look_into_cutaway(plotter)
    return _save(plotter, png)


def _look_into_cutaway(plotter: pv.Plotter) -> None:
    plotter.camera_position = [tuple(3.2 * 150 * np.array(CAMERA)), (0, 0, 0), (0, 0, 1)]
    plotter.reset_camera()
    plotter.camera.zoom(1.15)


def _save(plotter: pv.Plotter, png: str | Path) -> Path:
    png = Path(png)
    png.parent.mkdir(parents=True, exist_ok=True)
    plotter.screenshot(str(png))
    plotter.close()
    return png


def outer_surface(grid: pv.UnstructuredGrid) -> pv.PolyData:
    """The particle's outer surface (an octant mirrored to the full sphere first)."""
    solid = mirror_octant(grid) if is_octant(grid) else grid
    surface = solid.extract_surface(algorithm="dataset_surface")
    radius = np.linalg.norm(surface.points, axis=1).max()
    centres = surface.cell_centers().points
    return surface.extract_cells(np.linalg.norm(centres, axis=1) > 0.95 * radius).extract_surface(
        algorithm="dataset_surface")


def render_islands(folder: str | Path, png: str | Path, times_s: list[float] | None = None) -> Path:
    """The particle surface coloured by the outward O2 flux, RuO2 islands outlined (where
    O2 is captured: Gamma > 0), one panel per output time."""
    folder = Path(folder)
    xdmf = folder / "fields" / "fields.xdmf"
    summary = folder / "summary.json"
    name = json.loads(summary.read_text()).get("case", folder.name) if summary.exists() else folder.name
    reader_times = list(pv.get_reader(str(xdmf)).time_values)
    times = [min(reader_times, key=lambda s: abs(s - t)) for t in (times_s or reader_times[1:])]
    plotter = pv.Plotter(off_screen=True, shape=(1, len(times)), window_size=(620 * len(times), 620), border=False)
    for j, t_want in enumerate(times):
        grid, t = read_fields(xdmf, t_want)
        if FLUX_FIELD not in grid.point_data:
            raise ValueError(f"{xdmf}: no {FLUX_FIELD} (a run from before the field was written)")
        surface = outer_surface(grid)
        # a bar of its own per panel (pyvista keeps one per title): blank titles told apart by
        # their length; the title is a text under the bar (a bar's own title overprinted its labels)
        key = " " * (j + 1)
        surface.point_data[key] = np.asarray(surface.point_data[FLUX_FIELD]) * 1e9
        plotter.subplot(0, j)
        plotter.add_mesh(surface, scalars=key, cmap="plasma", smooth_shading=False,
                         clim=(0.0, float(surface.point_data[key].max())),
                         scalar_bar_args={"title": key, "position_x": 0.15, "position_y": 0.07,
                                          "width": 0.7, "height": 0.09, "label_font_size": 14, "fmt": "%.3g"})
        plotter.add_text("O2 flux out [nmol/(m² s)]", position=(0.33, 0.015), viewport=True, font_size=10)
        edges = _island_outline(surface)
        if edges is not None:
            plotter.add_mesh(edges, color="cyan", line_width=2)
        plotter.add_text(f"{name}: t = {t / 60:g} min", font_size=12, position="upper_left")
        plotter.camera_position = [tuple(3.5 * 150 * np.array(CAMERA)), (0, 0, 0), (0, 0, 1)]
        plotter.reset_camera()
    return _save(plotter, png)


def _island_outline(surface: pv.PolyData) -> pv.PolyData | None:
    """The edges of the RuO2 islands (where O2 is captured, Gamma > 0) on a surface."""
    surface = surface.copy()
    if GAMMA_FIELD not in surface.point_data or not surface.point_data[GAMMA_FIELD].max() > 0:
        return None
    surface.point_data["captured"] = (np.asarray(surface.point_data[GAMMA_FIELD]) > 0).astype(float)
    edges = surface.contour([0.5], scalars="captured")
    return edges if edges.n_points else None


def render_o2(runs: dict[str, str | Path], png: str | Path, after_charge_s: float = 2400.0) -> Path:
    """One panel per run: the mobile O2 concentration on the cut-away particle
    `after_charge_s` after the run's end of charge (the first protocol step of
    summary.json), on a log scale of its own (the samples differ by decades), RuO2
    islands outlined in cyan."""
    plotter = pv.Plotter(off_screen=True, shape=(1, len(runs)), window_size=(760 * len(runs), 700), border=False)
    for j, (label, folder) in enumerate(runs.items()):
        folder = Path(folder)
        steps = json.loads((folder / "summary.json").read_text())["protocol"]["steps"]
        t_charge = float(steps[0]["end_s"])
        grid, t = read_fields(folder / "fields" / "fields.xdmf", t_charge + after_charge_s)
        if O2_FIELD not in grid.point_data:
            raise ValueError(f"{folder}: no {O2_FIELD} in the fields")
        solid = _cutaway(grid)
        c = np.asarray(solid.point_data[O2_FIELD], dtype=float)
        top = float(c.max())
        low = max(float(c[c > 0].min()) if (c > 0).any() else top, top * 10.0 ** -LOG_DECADES)
        clim = (low, top) if top > low else (top / 10, top) if top > 0 else (1e-12, 1.0)
        title = "c_O2 [mol/m³]" + " " * j  # one bar per title in pyvista: told apart by trailing spaces
        solid.point_data[title] = np.clip(c, *clim)
        plotter.subplot(0, j)
        plotter.add_mesh(solid, scalars=title, clim=clim, log_scale=True, cmap="viridis", smooth_shading=False,
                         lighting=False,
                         scalar_bar_args={"title": title, "vertical": True, "position_x": 0.82, "position_y": 0.15,
                                          "height": 0.7, "width": 0.06, "title_font_size": 16,
                                          "label_font_size": 14, "fmt": "%.3g"})
        edges = solid.extract_surface(algorithm="dataset_surface").extract_feature_edges(
            feature_angle=45, boundary_edges=False, non_manifold_edges=False, manifold_edges=False)
        plotter.add_mesh(edges, color="grey", line_width=1)
        islands = _island_outline(outer_surface(solid))  # the cut-away octant's islands left out
        if islands is not None:
            plotter.add_mesh(islands, color="cyan", line_width=2)
        plotter.add_text(f"{label}: mobile O2, end of charge + {round((t - t_charge) / 60)} min\n"
                         f"{c.min():.3g} to {top:.3g} mol/m³ (log scale)"
                         + ("; RuO2 islands in cyan" if islands is not None else ""),
                         font_size=11, position="upper_left")
        _look_into_cutaway(plotter)
    return _save(plotter, png)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m solver.studies.render3d", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="view", required=True)
    a = sub.add_parser("particle", help="cut-away particle, c_Li and von Mises at the peak")
    a.add_argument("runs", nargs="+", metavar="LABEL=FOLDER")
    a.add_argument("--out", required=True, help="PNG file")
    b = sub.add_parser("islands", help="surface O2 flux with the RuO2 islands outlined")
    b.add_argument("folder")
    b.add_argument("--out", required=True, help="PNG file")
    b.add_argument("--times", nargs="*", type=float, help="output times in s (default: all but the first)")
    c = sub.add_parser("o2", help="cut-away particle, mobile O2 a given time after the end of charge")
    c.add_argument("runs", nargs="+", metavar="LABEL=FOLDER")
    c.add_argument("--out", required=True, help="PNG file")
    c.add_argument("--after-charge", type=float, default=2400.0, help="s after each run's end of charge")
    args = p.parse_args(argv)
    if args.view == "particle":
        print(render_particle(dict(item.split("=", 1) for item in args.runs), args.out))
    elif args.view == "o2":
        print(render_o2(dict(item.split("=", 1) for item in args.runs), args.out, args.after_charge))
    else:
        print(render_islands(args.folder, args.out, args.times))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

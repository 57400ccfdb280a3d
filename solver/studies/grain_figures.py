"""pyvista figures of a secondary-particle run folder (docs/secondary-particles.md):
grains coloured by their c-axis orientation, a clipped view of the von Mises stress at
the peak, and the grain-boundary tractions. Rendered off screen; pyvista is imported
before anything imports DOLFINx (the orientations come from solver/physics/anisotropy.py).

Run: .venv/bin/python -m solver.studies.grain_figures RUN_FOLDER [--out DIR]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pyvista as pv


CUT_NORMAL = (1, 1, 0.3)  # the grains and boundaries are cut open by this plane through the centre
VIEW = (1.0, 0.2, 0.5)  # camera direction onto the cut


def grain_of_points(points_m: np.ndarray, centres_m: np.ndarray) -> np.ndarray:
    """Voronoi grain of each point: the nearest grain centre (exact inside the ball)."""
    d = np.linalg.norm(points_m[:, None, :] - centres_m[None, :, :], axis=2)
    return np.argmin(d, axis=1)


def c_axes(run: Path, count: int) -> np.ndarray:
    """(count, 3) c axis of every grain, from the run's case (the same seed as the run)."""
    from solver.case.schema import load_case
    from solver.physics.anisotropy import grain_rotations  # imports dolfinx: pyvista is already in

    case = load_case(run / "case.yaml")
    return grain_rotations(case.grains, count)[:, :, 2]


def render(run: str | Path, out: str | Path | None = None) -> list[Path]:
    run = Path(run)
    out = Path(out) if out else run / "figures"
    out.mkdir(parents=True, exist_ok=True)
    info = json.loads((run / "mesh" / "info.json").read_text())
    summary = json.loads((run / "summary.json").read_text())
    unit = 1e-9 if summary.get("output", {}).get("length_unit", "nm") == "nm" else 1.0
    grid = pv.read(run / "fields_at_peak.xdmf")
    centres = np.asarray(info["grain_centres_m"])
    grain = grain_of_points(grid.cell_centers().points * unit, centres)
    axes = c_axes(run, len(centres))
    grid.cell_data["grain"] = grain
    grid.cell_data["c_axis_rgb"] = (np.abs(axes[grain]) * 255).astype(np.uint8)
    grid.point_data["sigma_vm_MPa"] = grid.point_data["sigma_vm_Pa"] / 1e6
    written = []

    p = pv.Plotter(off_screen=True, window_size=(900, 800))
    clipped = grid.clip(normal=CUT_NORMAL, origin=(0, 0, 0), invert=True)
    p.add_mesh(clipped, scalars="c_axis_rgb", rgb=True, show_edges=False)
    p.add_mesh(clipped.extract_feature_edges(20), color="black", line_width=1)
    p.add_text(f"{len(centres)} grains, cut open: colour = |c axis| (R, G, B = x, y, z)", font_size=11)
    p.view_vector(VIEW)
    written.append(_save(p, out / "grains_orientation.png"))

    p = pv.Plotter(off_screen=True, window_size=(900, 800))
    vm_max = float(grid.point_data["sigma_vm_MPa"].max())
    p.add_mesh(grid.clip(normal=(0, 1, 0), origin=(0, 0, 0)), scalars="sigma_vm_MPa", cmap="viridis",
               clim=(0, vm_max), scalar_bar_args={"title": "von Mises (MPa), P1 projection"})
    p.view_vector((0.3, 1.0, 0.4))  # onto the cut face (the half y < 0 is kept)
    t_peak = summary.get("stress", {}).get("peak_time_s", float("nan"))
    p.add_text(f"von Mises at the peak, t = {t_peak:.0f} s (clipped at y = 0)", font_size=11)
    written.append(_save(p, out / "von_mises_clip.png"))

    gb = pv.read(run / "grain_boundaries.vtu")
    stats = summary["grain_boundaries"]["at_max_normal_traction"]
    gb.cell_data["t_n_MPa"] = gb.cell_data["normal_traction_Pa"] / 1e6
    gb.cell_data["t_s_MPa"] = gb.cell_data["shear_traction_Pa"] / 1e6
    half = gb.clip(normal=CUT_NORMAL, origin=(0, 0, 0), invert=True)  # as the grains figure
    p = pv.Plotter(off_screen=True, shape=(1, 2), window_size=(1600, 800))
    limit = float(np.percentile(np.abs(gb.cell_data["t_n_MPa"]), 99))
    p.add_mesh(half, scalars="t_n_MPa", cmap="coolwarm", clim=(-limit, limit), lighting=False,
               scalar_bar_args={"title": "normal traction (MPa)"})
    p.add_text(f"grain boundaries (half), t = {stats['time_s']:.0f} s: normal, > 0 opens", font_size=11)
    p.view_vector(VIEW)
    p.subplot(0, 1)
    p.add_mesh(half.copy(), scalars="t_s_MPa", cmap="magma", lighting=False,
               clim=(0, float(np.percentile(gb.cell_data["t_s_MPa"], 99))),
               scalar_bar_args={"title": "shear traction (MPa)"})
    p.add_text("shear", font_size=11)
    p.view_vector(VIEW)
    written.append(_save(p, out / "grain_boundary_tractions.png"))
    return written


def _save(plotter, path: Path) -> Path:
    plotter.screenshot(str(path))
    plotter.close()
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run")
    parser.add_argument("--out", default=None)
    a = parser.parse_args()
    for path in render(a.run, a.out):
        print(path)

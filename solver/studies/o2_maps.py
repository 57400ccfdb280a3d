"""O2 concentration maps of the full cross-section through the particle centre, one row
per run (e.g. pristine, Ru-1, Ru-1 islands) and one column per output time, on one
colour scale, rendered off-screen with matplotlib (Agg).

Reads only the output folders (no DOLFINx): the z = 0 slice (`slices.csv`) of a 3D run,
mirrored to the full disc when the run is an octant (the octant stands for the mirror-
symmetric particle), or, for a radial run, the profile (`profiles.csv`) swept round the
centre. The samples are triangulated and refined (cubic, matplotlib's UniformTriRefiner)
so that the contours are smooth rather than faceted.

    python -m solver.studies.o2_maps pristine=results/pristine_o2 Ru-1=results/ru1_o2 --out o2_maps.png
"""
from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.tri as mtri  # noqa: E402
import numpy as np  # noqa: E402

from solver.io.tables import read_profiles  # noqa: E402

FIELD = "c_O2_mol_m3"
SWEEP_ANGLES = 145  # a radial profile swept round the centre
REFINE_SUBDIV = 2  # each triangle split into 4**2 for the contours


def mirror_quadrant(x: np.ndarray, y: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, ...]:
    """Samples of the quarter disc x, y >= 0 mirrored in both axes to the full disc (the
    octant's symmetry planes); points on an axis are kept once."""
    xs, ys, cs = [x], [y], [c]
    for sx, sy in ((-1, 1), (1, -1), (-1, -1)):
        keep = ((x > 0) | (sx > 0)) & ((y > 0) | (sy > 0))  # not on the mirror line
        xs.append(sx * x[keep]); ys.append(sy * y[keep]); cs.append(c[keep])
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(cs)


def slice_maps(folder: str | Path) -> dict[float, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """{t_s: (x_m, y_m, c)} on the whole plane through the centre (full disc)."""
    folder = Path(folder)
    if (folder / "slices.csv").exists():
        maps = {}
        for t, c in read_profiles(folder / "slices.csv").items():
            x, y, v = c["x_m"], c["y_m"], c[FIELD]
            tol = 1e-9 * np.max(np.hypot(x, y))
            quadrant = bool(np.all(x >= -tol) and np.all(y >= -tol))  # an octant run's slice
            maps[t] = mirror_quadrant(np.maximum(x, 0), np.maximum(y, 0), v) if quadrant else (x, y, v)
        return maps
    maps = {}
    for t, c in read_profiles(folder / "profiles.csv").items():  # radial: sweep c(r) round
        r, phi = np.meshgrid(c["r_m"], np.linspace(0, 2 * np.pi, SWEEP_ANGLES)[:-1])
        values = np.interp(r, c["r_m"], c[FIELD])
        keep = (r > 0) | (phi == 0)  # the centre once
        maps[t] = (r[keep] * np.cos(phi[keep]), r[keep] * np.sin(phi[keep]), values[keep])
    return maps


def smooth_field(x: np.ndarray, y: np.ndarray, c: np.ndarray,
                 subdiv: int = REFINE_SUBDIV) -> tuple[mtri.Triangulation, np.ndarray]:
    """A refined triangulation of the samples and the field on it (cubic, C1)."""
    tri = mtri.Triangulation(x, y)
    cubic = mtri.CubicTriInterpolator(tri, c, kind="geom")  # "min_E" is 10x slower here
    return mtri.UniformTriRefiner(tri).refine_field(c, triinterpolator=cubic, subdiv=subdiv)


def render_side_by_side(runs: dict[str, str | Path], png: str | Path,
                        times_s: list[float] | None = None, levels: int = 32) -> Path:
    """One row per run, one column per output time common to all runs, a shared colour
    scale and bar. The particle outline is drawn on every panel."""
    maps = {label: slice_maps(folder) for label, folder in runs.items()}
    common = sorted(set.intersection(*(set(m) for m in maps.values())))
    times = [t for t in common if times_s is None or any(abs(t - s) < 1e-6 for s in times_s)]
    if not times:
        raise ValueError(f"no output time common to {', '.join(runs)}")
    vmax = max(float(np.nanmax(m[t][2])) for m in maps.values() for t in times)
    vmin = min(0.0, min(float(np.nanmin(m[t][2])) for m in maps.values() for t in times))
    top = vmax + 1e-6 * (vmax - vmin) if vmax > vmin else vmin + 1  # a uniform field still fills
    bounds = np.linspace(vmin, top, levels + 1)
    fig, axes = plt.subplots(len(runs), len(times), figsize=(2.9 * len(times) + 1.3, 2.9 * len(runs) + 0.5),
                             squeeze=False, constrained_layout=True)
    for i, (label, m) in enumerate(maps.items()):
        for j, t in enumerate(times):
            x, y, c = m[t]
            ax = axes[i, j]
            tri, fine = smooth_field(x * 1e9, y * 1e9, c)
            filled = ax.tricontourf(tri, np.clip(fine, vmin, vmax), levels=bounds, cmap="viridis")
            radius_nm = float(np.max(np.hypot(x, y))) * 1e9
            ax.add_patch(plt.Circle((0, 0), radius_nm, fill=False, lw=0.8, color="k"))
            ax.set_aspect("equal")
            ax.set_title(f"{label}, t = {t / 60:g} min", fontsize=10)
            ax.tick_params(labelsize=8)
            if i == len(runs) - 1:
                ax.set_xlabel("x [nm]")
            if j == 0:
                ax.set_ylabel("y [nm]")
    bar = fig.colorbar(filled, ax=axes, shrink=0.9)
    bar.set_label("mobile O$_2$ concentration [mol m$^{-3}$]")
    fig.suptitle("O$_2$ on the plane z = 0 through the particle centre")
    png = Path(png)
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=120)
    plt.close(fig)
    return png


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m solver.studies.o2_maps", description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", metavar="LABEL=FOLDER")
    p.add_argument("--out", required=True, help="PNG file")
    p.add_argument("--times", nargs="*", type=float, help="output times in s (default: all common)")
    args = p.parse_args(argv)
    runs = dict(item.split("=", 1) for item in args.runs)
    print(render_side_by_side(runs, args.out, args.times))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

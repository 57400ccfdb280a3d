"""O2 concentration maps: slices through the particle centre, several runs side by side
(e.g. pristine and Ru-1) on one colour scale, rendered off-screen with matplotlib (Agg).

Reads only the output folders (no DOLFINx): the z = 0 slice (`slices.csv`) of a 3D run,
or, for a radial run, the profile (`profiles.csv`) swept round the centre.

    python -m solver.studies.o2_maps pristine=results/pristine_o2 Ru-1=results/ru1_o2 --out o2_maps.png
"""
from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.tri as mtri  # noqa: E402
import numpy as np  # noqa: E402

FIELD = "c_O2_mol_m3"


def _columns(path: Path) -> dict[float, dict[str, np.ndarray]]:
    by_time: dict[float, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for row in csv.DictReader(path.open()):
        entry = by_time[float(row["t_s"])]
        for k, v in row.items():
            entry[k].append(float(v))
    return {t: {k: np.asarray(v) for k, v in cols.items()} for t, cols in by_time.items()}


def slice_maps(folder: str | Path) -> dict[float, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """{t_s: (x_m, y_m, c)} on the plane through the centre."""
    folder = Path(folder)
    if (folder / "slices.csv").exists():
        return {t: (c["x_m"], c["y_m"], c[FIELD]) for t, c in _columns(folder / "slices.csv").items()}
    maps = {}
    for t, c in _columns(folder / "profiles.csv").items():  # radial: sweep c(r) round
        r, phi = np.meshgrid(c["r_m"], np.linspace(0, 2 * np.pi, 73))
        values = np.interp(r, c["r_m"], c[FIELD])
        maps[t] = (r.ravel() * np.cos(phi.ravel()), r.ravel() * np.sin(phi.ravel()), values.ravel())
    return maps


def render_side_by_side(runs: dict[str, str | Path], png: str | Path,
                        times_s: list[float] | None = None, levels: int = 32) -> Path:
    """One row per output time, one column per run, a shared colour scale and bar."""
    maps = {label: slice_maps(folder) for label, folder in runs.items()}
    common = sorted(set.intersection(*(set(m) for m in maps.values())))
    times = [t for t in common if times_s is None or any(abs(t - s) < 1e-6 for s in times_s)]
    if not times:
        raise ValueError(f"no output time common to {', '.join(runs)}")
    vmax = max(float(np.nanmax(m[t][2])) for m in maps.values() for t in times)
    vmin = min(0.0, min(float(np.nanmin(m[t][2])) for m in maps.values() for t in times))
    top = vmax + 1e-6 * (vmax - vmin) if vmax > vmin else vmin + 1  # a uniform field still fills
    bounds = np.linspace(vmin, top, levels + 1)
    fig, axes = plt.subplots(len(times), len(runs), figsize=(3.2 * len(runs) + 1.2, 3.0 * len(times)),
                             squeeze=False, constrained_layout=True)
    for i, t in enumerate(times):
        for j, (label, m) in enumerate(maps.items()):
            x, y, c = m[t]
            ax = axes[i, j]
            tri = mtri.Triangulation(x * 1e9, y * 1e9)
            filled = ax.tricontourf(tri, np.clip(c, vmin, vmax), levels=bounds, cmap="viridis")
            ax.set_aspect("equal")
            ax.set_title(f"{label}, t = {t / 60:g} min", fontsize=10)
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

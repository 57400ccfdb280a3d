"""O2 concentration maps of the full cross-section through the particle centre, one row
per run (e.g. pristine, Ru-1) and one column per output time, rendered off-screen with
matplotlib (Agg). By default each row has its own logarithmic colour scale and bar (its
range stated on the bar): O2 spans decades between samples and times, and one linear scale
hid the gradient of every row but the highest (`scale="linear"`: one shared linear bar).
Times are the output times, or, with `after_charge=True`, times after each run's end of
charge (the first protocol step of summary.json): the paper's "O2 after 40 min".

Reads only the output folders (no DOLFINx): the z = 0 slice (`slices.csv`) of a 3D run,
mirrored to the full disc when the run is an octant (the octant stands for the mirror-
symmetric particle), or, for a radial run, the profile (`profiles.csv`) swept round the
centre. The samples are triangulated and refined (cubic, matplotlib's UniformTriRefiner)
so that the contours are smooth rather than faceted.

    python -m solver.studies.o2_maps pristine=results/pristine_o2 Ru-1=results/ru1_o2 --out o2_maps.png
    python -m solver.studies.o2_maps pristine=results/pristine_cycle_octant Ru-1=results/ru1_cycle_octant \
        --after-charge --times 0 600 1200 2400 --out o2_maps.png
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.tri as mtri  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402

from solver.io.tables import read_profiles  # noqa: E402

FIELD = "c_O2_mol_m3"
SWEEP_ANGLES = 145  # a radial profile swept round the centre
REFINE_SUBDIV = 2  # each triangle split into 4**2 for the contours
LOG_DECADES = 4  # a row's log scale spans at most this many decades below its largest value


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


def charge_end_s(folder: str | Path) -> float:
    """The end of the run's first protocol step (its charge), from summary.json."""
    steps = json.loads((Path(folder) / "summary.json").read_text()).get("protocol", {}).get("steps") or []
    if not steps:
        raise ValueError(f"{folder}: no protocol steps in summary.json (a run without a charge)")
    return float(steps[0]["end_s"])


def _row_times(m: dict, wanted: list[float] | None, offset: float, label: str) -> list[float]:
    """The output times of one run shown: `wanted` + `offset` (each must be an output)."""
    if wanted is None:
        return sorted(t for t in m if t >= offset - 1e-6)
    out = []
    for w in wanted:
        hit = [t for t in m if abs(t - (offset + w)) <= 1e-6 * max(1.0, offset + w)]
        if not hit:
            raise ValueError(f"{label}: no output at {(offset + w) / 60:g} min ({w / 60:g} min after "
                             f"{offset / 60:g} min)")
        out.append(hit[0])
    return out


def render_side_by_side(runs: dict[str, str | Path], png: str | Path, times_s: list[float] | None = None,
                        levels: int = 32, after_charge: bool = False, scale: str = "log") -> Path:
    """One row per run, one column per time. `times_s`: output times common to all runs
    (default: all), or with `after_charge` times after each run's own end of charge.
    `scale="log"`: each row its own logarithmic scale and bar, from its largest value down
    to at most LOG_DECADES decades; `"linear"`: one linear scale shared by every panel.
    The particle outline is drawn on every panel."""
    if scale not in ("log", "linear"):
        raise ValueError(f"scale: 'log' or 'linear', not {scale!r}")
    maps = {label: slice_maps(folder) for label, folder in runs.items()}
    offsets = {label: charge_end_s(folder) if after_charge else 0.0 for label, folder in runs.items()}
    if after_charge:
        rows = {label: _row_times(m, times_s, offsets[label], label) for label, m in maps.items()}
    else:
        common = sorted(set.intersection(*(set(m) for m in maps.values())))
        times = [t for t in common if times_s is None or any(abs(t - s) < 1e-6 for s in times_s)]
        rows = {label: times for label in maps}
    n_cols = max(len(r) for r in rows.values())
    if n_cols == 0:
        raise ValueError(f"no output time common to {', '.join(runs)}")
    fig, axes = plt.subplots(len(runs), n_cols, figsize=(2.9 * n_cols + (2.2 if scale == "log" else 1.3),
                                                          2.9 * len(runs) + 0.5),
                             squeeze=False, constrained_layout=True)
    shared = _linear_bounds([m[t][2] for label, m in maps.items() for t in rows[label]], levels)
    for i, (label, m) in enumerate(maps.items()):
        values = [m[t][2] for t in rows[label]]
        bounds, norm = _log_bounds(values, levels) if scale == "log" else (shared, None)
        for j, t in enumerate(rows[label]):
            x, y, c = m[t]
            ax = axes[i, j]
            tri, fine = smooth_field(x * 1e9, y * 1e9, c)
            inside = np.clip(fine, bounds[0] * (1 + 1e-9), bounds[-1] * (1 - 1e-9))  # no unfilled specks
            filled = ax.tricontourf(tri, inside, levels=bounds, cmap="viridis", norm=norm)
            radius_nm = float(np.max(np.hypot(x, y))) * 1e9
            ax.add_patch(plt.Circle((0, 0), radius_nm, fill=False, lw=0.8, color="k"))
            ax.set_aspect("equal")
            when = (f"end of charge + {round((t - offsets[label]) / 60)} min" if after_charge
                    else f"t = {t / 60:g} min")
            ax.set_title(f"{label}, {when}", fontsize=10)
            ax.tick_params(labelsize=8)
            if i == len(runs) - 1:
                ax.set_xlabel("x [nm]")
            if j == 0:
                ax.set_ylabel("y [nm]")
        for j in range(len(rows[label]), n_cols):
            axes[i, j].set_visible(False)
        if scale == "log":
            bar = fig.colorbar(filled, ax=axes[i, :], shrink=0.9, ticks=np.geomspace(bounds[0], bounds[-1], 5))
            bar.ax.minorticks_off()
            bar.ax.set_yticklabels([f"{v:.3g}" for v in np.geomspace(bounds[0], bounds[-1], 5)])
            bar.set_label(f"{label}: O$_2$ [mol m$^{{-3}}$], log\n{bounds[0]:.3g} to {bounds[-1]:.3g}", fontsize=9)
    if scale == "linear":
        bar = fig.colorbar(filled, ax=axes, shrink=0.9)
        bar.set_label("mobile O$_2$ concentration [mol m$^{-3}$]")
    fig.suptitle("Mobile O$_2$ on the plane z = 0 through the particle centre"
                 + (" (each row its own log scale)" if scale == "log" else ""))
    png = Path(png)
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=120)
    plt.close(fig)
    return png


def _linear_bounds(values: list[np.ndarray], levels: int) -> np.ndarray:
    vmax = max(float(np.nanmax(v)) for v in values)
    vmin = min(0.0, min(float(np.nanmin(v)) for v in values))
    top = vmax + 1e-6 * (vmax - vmin) if vmax > vmin else vmin + 1  # a uniform field still fills
    return np.linspace(vmin, top, levels + 1)


def _log_bounds(values: list[np.ndarray], levels: int) -> tuple[np.ndarray, LogNorm]:
    """Log-spaced levels from the row's smallest positive value (at most LOG_DECADES
    decades below its largest) to its largest; an all-zero row gets 1e-12 to 1."""
    vmax = max(float(np.nanmax(v)) for v in values)
    if not vmax > 0:
        vmin, vmax = 1e-12, 1.0
    else:
        positive = np.concatenate([v[v > 0] for v in values])
        vmin = max(float(positive.min()), vmax * 10.0 ** -LOG_DECADES)
        vmin, vmax = (vmax / 10, vmax) if vmin >= vmax else (vmin, vmax * (1 + 1e-9))
    return np.geomspace(vmin, vmax, levels + 1), LogNorm(vmin, vmax)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m solver.studies.o2_maps", description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", metavar="LABEL=FOLDER")
    p.add_argument("--out", required=True, help="PNG file")
    p.add_argument("--times", nargs="*", type=float, help="output times in s (default: all common)")
    p.add_argument("--after-charge", action="store_true", help="--times counted from each run's end of charge")
    p.add_argument("--scale", choices=("log", "linear"), default="log",
                   help="log: each row its own log scale (default); linear: one shared scale")
    args = p.parse_args(argv)
    runs = dict(item.split("=", 1) for item in args.runs)
    print(render_side_by_side(runs, args.out, args.times, after_charge=args.after_charge, scale=args.scale))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

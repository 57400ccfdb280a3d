"""Which grain boundaries open first: figures of a secondary-particle run with the phase
field (cases/secondary_50grains_fracture.yaml; docs/secondary-particles.md §8).

- grain_boundary_onset.png (matplotlib): left, the boundaries (grain pairs) ranked by the
  time their largest facet damage first passed the onset threshold, bars coloured by
  their largest damage at the end; right, each boundary's onset time against its
  area-mean normal traction (grain_boundaries.vtu, at the time of the largest traction).
- grain_boundary_damage.png (pyvista, off screen): half of the boundary network coloured
  by the facet damage at the end and by the boundary's onset time.

Reads summary.json (fracture -> grain_boundaries -> by_onset) and grain_boundaries.vtu;
imports no DOLFINx (pyvista first).

Run: .venv/bin/python -m solver.studies.grain_fracture RUN_FOLDER [OUT_DIR]  (default RUN_FOLDER/figures)
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyvista as pv

SHOWN = 30  # boundaries in the ranking
CUT_NORMAL = (1, 1, 0.3)  # as solver/studies/grain_figures.py
VIEW = (1.0, 0.2, 0.5)


def boundary_tractions(gb) -> dict[tuple[int, int], float]:
    """Area-mean normal traction (Pa) of each grain pair from the facets of the .vtu."""
    sizes = gb.compute_cell_sizes(length=False, volume=False).cell_data["Area"]
    a, b = gb.cell_data["grain_a"], gb.cell_data["grain_b"]
    tn = gb.cell_data["normal_traction_Pa"]
    out = {}
    for pair in set(zip(a.tolist(), b.tolist())):
        mask = (a == pair[0]) & (b == pair[1])
        out[pair] = float(np.sum(tn[mask] * sizes[mask]) / np.sum(sizes[mask]))
    return out


def render(run: str | Path, out: str | Path | None = None) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run = Path(run)
    out = Path(out) if out else run / "figures"
    out.mkdir(parents=True, exist_ok=True)
    summary = json.loads((run / "summary.json").read_text())
    boundaries = summary["fracture"]["grain_boundaries"]
    ranked = boundaries["by_onset"]
    top = max(max((b["max_damage"] for b in ranked), default=0.0), 1e-6)  # the colour scale of d
    gb = pv.read(run / "grain_boundaries.vtu")
    traction = boundary_tractions(gb)
    written = []

    started = [b for b in ranked if b["onset_time_s"] is not None][:SHOWN]
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 7), gridspec_kw={"width_ratios": [1, 1.2]})
    if started:
        cmap = plt.get_cmap("viridis")
        names = [f"{b['grains'][0]}-{b['grains'][1]}" for b in started]
        ax.barh(range(len(started)), [b["onset_time_s"] for b in started],
                color=[cmap(b["max_damage"] / top) for b in started])
        ax.set_yticks(range(len(started)), names, fontsize=7)
        ax.invert_yaxis()
    ax.set_xlabel(f"onset time (s): boundary max d > {boundaries['thresholds']['onset']:g}")
    ax.set_title(f"first {len(started)} of {boundaries['started']} started ({boundaries['boundaries']} boundaries)\n"
                 f"bar colour: max d at the end (0 to {top:.2g}, viridis)", fontsize=9)
    for b in ranked:
        tn = traction.get(tuple(b["grains"]), np.nan) / 1e6
        t = b["onset_time_s"]
        bx.scatter(tn, t if t is not None else np.nan, c=[b["max_damage"]], vmin=0, vmax=top, s=14)
    never = [traction.get(tuple(b["grains"]), np.nan) / 1e6 for b in ranked if b["onset_time_s"] is None]
    if never:
        latest = max((b["onset_time_s"] for b in ranked if b["onset_time_s"] is not None), default=0.0)
        bx.scatter(never, np.full(len(never), 1.05 * latest + 1), marker="x", color="grey", s=14,
                   label="not started (plotted above)")
        bx.legend(fontsize=8)
    bx.set_xlabel("boundary area-mean normal traction at its largest (MPa; > 0 opens)")
    bx.set_ylabel("onset time (s)")
    bx.set_title("onset against the opening traction (colour: max d; the split's shear drives damage too)",
                 fontsize=9)
    fig.tight_layout()
    path = out / "grain_boundary_onset.png"
    fig.savefig(path, dpi=130)
    plt.close(fig)
    written.append(path)

    half = gb.clip(normal=CUT_NORMAL, origin=(0, 0, 0), invert=True)
    onset = half.cell_data["boundary_onset_time_s"]
    half.cell_data["onset_s"] = np.where(onset < 0, np.nan, onset)
    p = pv.Plotter(off_screen=True, shape=(1, 2), window_size=(1600, 800))
    p.add_mesh(half, scalars="damage", cmap="inferno", clim=(0, max(float(gb.cell_data["damage"].max()), 1e-6)), lighting=False,
               scalar_bar_args={"title": "facet damage d (end)"})
    p.add_text("grain boundaries (half): damage at the end", font_size=11)
    p.view_vector(VIEW)
    p.subplot(0, 1)
    p.add_mesh(half.copy(), scalars="onset_s", cmap="viridis_r", nan_color="lightgrey", lighting=False,
               scalar_bar_args={"title": "boundary onset time (s); grey: none"})
    p.add_text("when each boundary started to damage", font_size=11)
    p.view_vector(VIEW)
    path = out / "grain_boundary_damage.png"
    p.screenshot(str(path))
    p.close()
    written.append(path)
    return written


if __name__ == "__main__":
    import sys

    if len(sys.argv) not in (2, 3):
        sys.exit("usage: python -m solver.studies.grain_fracture RUN_FOLDER [OUT_DIR]")
    print(*render(*sys.argv[1:]), sep="\n")

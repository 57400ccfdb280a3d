"""The report's figures (matplotlib, rank 0 only), drawn from the output folders of
`lrmo reproduce`: stress maps and profiles at the peak, peak stress vs time, the Ru
series, O2 vs coverage and the O2 maps."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np


def _csv(path: Path) -> dict[str, np.ndarray]:
    rows = list(csv.DictReader(path.open()))
    return {k: np.array([float(r[k]) for r in rows]) for k in rows[0]}


def figures(out: Path, runs: dict[str, Path], series: list[dict], o2_runs: dict[str, Path],
            coverage: list[dict], band: dict | None = None) -> dict:
    """PNG figures (rank 0 only). Returns {name: file name}. `band`: {label: {t_s,
    centre_Pa, low_Pa, high_Pa}} curves with a shaded range on the peak-stress-vs-time
    figure (solver/studies/fidelity_report.py `bands`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = {}
    summaries = {k: json.loads((v / "summary.json").read_text()) for k, v in runs.items()}
    profiles = {k: _csv(v / "profiles.csv") for k, v in runs.items()}
    series_ts = {k: _csv(v / "timeseries.csv") for k, v in runs.items()}

    def at_time(p, t):
        times = np.unique(p["t_s"])
        nearest = times[np.argmin(np.abs(times - t))]
        sel = p["t_s"] == nearest
        return nearest, {k: v[sel] for k, v in p.items()}

    # stress maps through the centre (the radial solution swept round the centre)
    fig, axes = plt.subplots(1, len(runs), figsize=(5.5 * len(runs), 4.4), layout="constrained")
    vmax = max(np.max(at_time(profiles[k], summaries[k]["stress"]["peak_time_s"])[1]["sigma_vm_Pa"]) for k in runs)
    for ax, (label, p) in zip(axes, profiles.items()):
        t, prof = at_time(p, summaries[label]["stress"]["peak_time_s"])
        r = prof["r_m"] * 1e9
        th = np.linspace(0, 2 * np.pi, 181)
        R_, T_ = np.meshgrid(r, th)
        V = np.tile(prof["sigma_vm_Pa"] / 1e6, (len(th), 1))
        m = ax.pcolormesh(R_ * np.cos(T_), R_ * np.sin(T_), V, vmin=0, vmax=vmax / 1e6, shading="gouraud", cmap="inferno")
        ax.set_aspect("equal")
        ax.set_title(f"{label}: von Mises at t = {t / 60:.1f} min")
        ax.set_xlabel("x [nm]")
        ax.set_ylabel("y [nm]")
    fig.colorbar(m, ax=axes, label="von Mises stress [MPa]")
    files["stress_maps"] = "stress_maps.png"
    fig.savefig(out / files["stress_maps"], dpi=120)
    plt.close(fig)

    # radial profiles at the peak time
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
    for label, p in profiles.items():
        t, prof = at_time(p, summaries[label]["stress"]["peak_time_s"])
        a1.plot(prof["r_m"] * 1e9, prof["c_Li_mol_m3"] / 1e3, label=f"{label} (t = {t / 60:.1f} min)")
        a2.plot(prof["r_m"] * 1e9, prof["sigma_vm_Pa"] / 1e6, label=label)
    a1.set_xlabel("r [nm]"); a1.set_ylabel("c_Li [kmol/m³]"); a1.legend(); a1.set_title("Li concentration at the peak time")
    a2.set_xlabel("r [nm]"); a2.set_ylabel("von Mises [MPa]"); a2.legend(); a2.set_title("von Mises stress at the peak time")
    for label in runs:
        d = summaries[label]["mesh"]["inputs"]["layer_thickness_m"] * 1e9
        if d > 0:
            R = summaries[label]["mesh"]["inputs"]["radius_m"] * 1e9
            a2.axvspan(R - d, R, color="0.9", zorder=0, label="Li-deficient layer")
    files["profiles"] = "profiles_at_peak.png"
    fig.tight_layout()
    fig.savefig(out / files["profiles"], dpi=120)
    plt.close(fig)

    # peak stress vs time
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, ts in series_ts.items():
        ax.plot(ts["t_s"] / 60, ts["sigma_vm_max_Pa"] / 1e6, label=label)
    for label, b in (band or {}).items():
        line, = ax.plot(b["t_s"] / 60, np.asarray(b["centre_Pa"]) / 1e6, ls="--", lw=1, label=label)
        ax.fill_between(b["t_s"] / 60, b["low_Pa"] / 1e6, b["high_Pa"] / 1e6, color=line.get_color(), alpha=0.2)
    for key, target in (("pristine", 567), ("Ru-1", 418)):
        ax.axhline(target, ls=":", color="k")
        ax.text(1, target + 5, f"paper {key}: {target} MPa", fontsize=8)
    ax.set_xlabel("time [min]"); ax.set_ylabel("largest von Mises stress [MPa]"); ax.legend()
    files["peak_vs_time"] = "peak_stress_vs_time.png"
    fig.tight_layout()
    fig.savefig(out / files["peak_vs_time"], dpi=120)
    plt.close(fig)

    # Ru series
    fig, ax = plt.subplots(figsize=(6, 4))
    x = [m["variable"] for m in series]
    y = [m["summary"]["stress"]["peak_von_mises_Pa"] / 1e6 for m in series]
    ax.plot(x, y, "o-")
    for m, xi, yi in zip(series, x, y):
        ax.annotate(m["label"].split(" ")[0], (xi, yi), textcoords="offset points", xytext=(5, 5))
    ax.set_xlabel("RuCl3 concentration [mg/mL]"); ax.set_ylabel("peak von Mises [MPa]")
    ax.set_title("Ru series: peak first-charge stress")
    files["series"] = "ru_series.png"
    fig.tight_layout()
    fig.savefig(out / files["series"], dpi=120)
    plt.close(fig)

    if coverage:
        fig, ax = plt.subplots(figsize=(6, 4))
        x = [m["summary"]["oxygen"].get("ruo2_capture_coverage", 0.0) for m in coverage]
        for key, label in (("retained_fraction", "retained (mobile + captured)"), ("mobile_fraction", "mobile")):
            ax.plot(x, [m["summary"]["oxygen"][key] for m in coverage], "o-", label=label)
        ax.set_xlabel("RuO2-covered fraction of the surface (tagged)")
        ax.set_ylabel("fraction of the initial O2 after 40 min")
        ax.set_title("O2 kept vs RuO2 coverage (1 = continuous shell)")
        ax.legend()
        files["coverage"] = "o2_vs_coverage.png"
        fig.tight_layout()
        fig.savefig(out / files["coverage"], dpi=120)
        plt.close(fig)

    if o2_runs:
        from solver.studies.o2_maps import render_side_by_side

        files["o2_maps"] = "o2_maps.png"
        render_side_by_side({k: v for k, v in o2_runs.items()}, out / files["o2_maps"],
                            times_s=[0, 600, 1200, 2400])
    return files

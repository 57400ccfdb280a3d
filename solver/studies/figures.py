"""The report's figures (matplotlib, rank 0 only), drawn from the output folders of
`lrmo reproduce`: stress maps and profiles at the peak's own time, peak stress vs time,
the Ru series, O2 vs coverage and the O2 maps; and the pyvista 3D views
(solver/studies/render3d.py) run in processes of their own."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from solver.io.tables import read_columns


PEAK_PROFILES = "profiles_at_peak.csv"  # written by the run at the peak's own time


def peak_profile(folder: Path) -> tuple[float, dict[str, np.ndarray]]:
    """(t_s, {column: values along the radius}) at the reported peak's own time: the run's
    `profiles_at_peak.csv` (every node on the ray, both sides of an interface), or, for
    an output folder from before it existed, the output time of profiles.csv nearest
    the peak (the title then says which time is shown)."""
    folder = Path(folder)
    if (folder / PEAK_PROFILES).exists():
        p = read_columns(folder / PEAK_PROFILES)
    else:
        t_peak = json.loads((folder / "summary.json").read_text())["stress"]["peak_time_s"]
        p = read_columns(folder / "profiles.csv")
        times = np.unique(p["t_s"])
        p = {k: v[p["t_s"] == times[np.argmin(np.abs(times - t_peak))]] for k, v in p.items()}
    order = np.argsort(p["r_m"], kind="stable")  # keeps an interface's two nodes in order
    return float(p["t_s"][0]), {k: v[order] for k, v in p.items()}


def stress_map_inputs(runs: dict[str, Path]) -> dict[str, tuple[float, np.ndarray, np.ndarray]]:
    """{label: (t_s, r_nm, von Mises in MPa)}: what the stress maps and profiles plot."""
    out = {}
    for label, folder in runs.items():
        t, prof = peak_profile(folder)
        out[label] = (t, prof["r_m"] * 1e9, prof["sigma_vm_Pa"] / 1e6)
    return out


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
    peaks = {k: peak_profile(v) for k, v in runs.items()}
    maps = stress_map_inputs(runs)
    series_ts = {k: read_columns(v / "timeseries.csv") for k, v in runs.items()}

    def when(label, t):
        t_peak = summaries[label]["stress"]["peak_time_s"]
        return f"t = {t / 60:.1f} min" + ("" if abs(t - t_peak) <= 1e-9 * t_peak else f" (peak at {t_peak / 60:.1f} min)")

    # stress maps through the centre (the radial solution swept round the centre)
    fig, axes = plt.subplots(1, len(runs), figsize=(5.5 * len(runs), 4.4), layout="constrained")
    vmax = max(float(np.max(v)) for _, _, v in maps.values())
    for ax, (label, (t, r, vm)) in zip(axes, maps.items()):
        th = np.linspace(0, 2 * np.pi, 181)
        R_, T_ = np.meshgrid(r, th)
        V = np.tile(vm, (len(th), 1))
        m = ax.pcolormesh(R_ * np.cos(T_), R_ * np.sin(T_), V, vmin=0, vmax=vmax, shading="gouraud", cmap="inferno")
        ax.set_aspect("equal")
        ax.set_title(f"{label}: von Mises at {when(label, t)}\nmax {np.max(vm):.1f} MPa")
        ax.set_xlabel("x [nm]")
        ax.set_ylabel("y [nm]")
    bar = fig.colorbar(m, ax=axes, label="von Mises stress [MPa]")
    bar.set_ticks([*np.arange(0, 0.93 * vmax, 100.0), round(vmax, 1)])  # the top tick: the peak
    files["stress_maps"] = "stress_maps.png"
    fig.savefig(out / files["stress_maps"], dpi=120)
    plt.close(fig)

    # radial profiles at the peak time
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for label, (t, prof) in peaks.items():
        r, vm = maps[label][1], maps[label][2]
        a1.plot(r, prof["c_Li_mol_m3"] / 1e3, label=f"{label} ({when(label, t)})")
        line, = a2.plot(r, vm, label=label)
        i = int(np.argmax(vm))
        a2.plot(r[i], vm[i], "o", color=line.get_color())
        a2.annotate(f"{vm[i]:.1f} MPa\nr = {r[i]:.0f} nm", (r[i], vm[i]), textcoords="offset points",
                    xytext=(-78, -6), fontsize=8, color=line.get_color())
    a1.set_xlabel("r [nm]"); a1.set_ylabel("c_Li [kmol/m³]"); a1.set_title("Li concentration at the peak time")
    a2.set_xlabel("r [nm]"); a2.set_ylabel("von Mises [MPa]"); a2.set_title("von Mises stress at the peak time")
    shaded = False
    for label in runs:
        d = summaries[label]["mesh"]["inputs"]["layer_thickness_m"] * 1e9
        if d > 0:
            R = summaries[label]["mesh"]["inputs"]["radius_m"] * 1e9
            for ax in (a1, a2):
                ax.axvspan(R - d, R, color="0.9", zorder=0, label=None if shaded else f"Li-deficient layer ({label})")
            shaded = True
    a1.legend(fontsize=8); a2.legend(fontsize=8)
    files["profiles"] = "profiles_at_peak.png"
    fig.tight_layout()
    fig.savefig(out / files["profiles"], dpi=120)
    plt.close(fig)

    # peak stress vs time
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, ts in series_ts.items():
        ax.plot(ts["t_s"] / 60, ts["sigma_vm_max_Pa"] / 1e6, label=f"{label} (baseline case)")
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


def figures_3d(out: Path, stress_runs: dict[str, Path], islands_run: Path | None,
               timeout_s: float = 600) -> dict:
    """The pyvista renderings (solver/studies/render3d.py), each in a process of its own
    (pyvista must be imported before DOLFINx; off-screen through EGL). Returns {name: file
    name} of those made; a rendering that fails is reported and left out."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "VTK_DEFAULT_OPENGL_WINDOW": os.environ.get("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")}
    jobs = {}
    if stress_runs:
        jobs["particle_3d"] = ("particle_3d.png", ["particle", *(f"{k}={v}" for k, v in stress_runs.items())])
    if islands_run is not None:
        jobs["islands_3d"] = ("islands_3d.png", ["islands", str(islands_run), "--times", "600", "2400"])
    files = {}
    for key, (name, args) in jobs.items():
        proc = subprocess.run([sys.executable, "-m", "solver.studies.render3d", *args, "--out", str(out / name)],
                              env=env, capture_output=True, text=True, timeout=timeout_s)
        if proc.returncode == 0:
            files[key] = name
        else:
            print(f"render3d {args[0]} failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
    return files

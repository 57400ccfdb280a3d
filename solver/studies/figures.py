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
            coverage: list[dict], band: dict | None = None, maps_after_charge: bool = False) -> dict:
    """PNG figures (rank 0 only). Returns {name: file name}. `band`: {label: {t_s,
    centre_Pa, low_Pa, high_Pa}} curves with a shaded range on the peak-stress-vs-time
    figure (solver/studies/fidelity_report.py `bands`). `maps_after_charge`: the O2 maps'
    times (0, 10, 20, 40 min) count from each run's end of charge (coupled cycle runs)."""
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
                            times_s=[0, 600, 1200, 2400], after_charge=maps_after_charge)
    return files


def figures_3d(out: Path, stress_runs: dict[str, Path], islands_run: Path | None,
               timeout_s: float = 600, o2_runs: dict[str, Path] | None = None) -> dict:
    """The pyvista renderings (solver/studies/render3d.py), each in a process of its own
    (pyvista must be imported before DOLFINx; off-screen through EGL). Returns {name: file
    name} of those made; a rendering that fails is reported and left out. `o2_runs`:
    coupled cycle runs, their O2 concentration 40 min after the end of charge."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "VTK_DEFAULT_OPENGL_WINDOW": os.environ.get("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")}
    jobs = {}
    if stress_runs:
        jobs["particle_3d"] = ("particle_3d.png", ["particle", *(f"{k}={v}" for k, v in stress_runs.items())])
    if islands_run is not None:
        jobs["islands_3d"] = ("islands_3d.png", ["islands", str(islands_run), "--times", "600", "2400"])
    if o2_runs:
        jobs["o2_3d"] = ("o2_3d.png", ["o2", *(f"{k}={v}" for k, v in o2_runs.items()), "--after-charge", "2400"])
    files = {}
    for key, (name, args) in jobs.items():
        proc = subprocess.run([sys.executable, "-m", "solver.studies.render3d", *args, "--out", str(out / name)],
                              env=env, capture_output=True, text=True, timeout=timeout_s)
        if proc.returncode == 0:
            files[key] = name
        else:
            print(f"render3d {args[0]} failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
    return files


def cycle_steps(folder: Path) -> list[dict]:
    """The protocol's steps of a cycle run (summary.json `protocol.steps`), each with
    its rows of timeseries.csv: those from its start to its end time, both included (a
    step's end row is the next step's start row)."""
    folder = Path(folder)
    ts = read_columns(folder / "timeseries.csv")
    steps = json.loads((folder / "summary.json").read_text())["protocol"]["steps"]
    out = []
    for s in steps:
        tol = 1e-9 * max(s["end_s"], 1.0)
        rows = (ts["t_s"] >= s["start_s"] - tol) & (ts["t_s"] <= s["end_s"] + tol)
        out.append({**s, "rows": {k: v[rows] for k, v in ts.items()}})
    return out



def _step_kind(step) -> tuple[str, str]:
    """(colour, name) of a protocol Step (solver/case/steps.py)."""
    if step.mode == "current":
        return ("C0", "charge (CC)") if step.value > 0 else ("C3", "discharge (CC)")
    return {"voltage": ("C2", "hold (CV)"), "rest": ("0.5", "rest")}.get(step.mode, ("C4", step.mode))


def cycle_figure(folder: Path, path: Path):
    """A cycle with a voltage (rank 0), from a run's folder: (a) voltage vs capacity with
    the open-circuit voltage U at the mean site fraction (dashed) and the voltage
    cut-offs, (b) largest von Mises stress vs capacity, (c) current vs time, (d) stress vs
    voltage on the CC charge. Each step its own colour; every row of timeseries.csv is
    drawn, and a last row beyond the axes (where the surface saturates, V runs off) is
    named at the edge. Returns the matplotlib Figure (closed; its lines stay readable)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from solver.case.schema import load_case
    from solver.simulation import drive

    folder = Path(folder)
    case = load_case(folder / "case.yaml")
    protocol = drive.protocol_of_case(case)
    steps = cycle_steps(folder)
    kinds = [_step_kind(protocol.steps[s["step"]]) for s in steps]
    cutoffs = sorted({lim.value for st in protocol.steps for lim in st.limits if lim.kind == "voltage"})
    i_1C = protocol.current_1C_A_kg or max(abs(st.value) for st in protocol.steps if st.mode == "current")
    fig, axes = plt.subplots(2, 2, figsize=(12, 8.4))
    (a_v, a_i), (a_s, a_sv) = axes
    for s, (colour, name) in zip(steps, kinds):
        r, label = s["rows"], f"{name}: {s['text']}"
        a_v.plot(r["capacity_mAh_g"], r["voltage_V"], color=colour, label=label)
        a_s.plot(r["capacity_mAh_g"], r["sigma_vm_max_Pa"] / 1e6, color=colour, label=label)
        a_i.plot(r["t_s"] / 3600, r["current_mA_g"], color=colour, label=label)
        if name == "charge (CC)":
            a_sv.plot(r["voltage_V"], r["sigma_vm_max_Pa"] / 1e6, color=colour, label=label)
    reaction = drive.surface_reaction_of_case(case)
    if reaction is not None and case.geometry.layer_thickness.si == 0:  # uniform c_max: capacity <-> mean theta
        theta0 = case.lithium.initial_site_fraction.si
        theta = np.linspace(0.0, theta0, 400)
        c_max = case.materials.core.lithium_site_concentration.si
        capacity = drive.particle_of_case(case).capacity_C_kg(c_max * (theta0 - theta)) / 3600
        shown = capacity <= 1.05 * max(float(np.max(s["rows"]["capacity_mAh_g"])) for s in steps)
        a_v.plot(capacity[shown], reaction.ocv(theta[shown]), ls="--", lw=0.8, color="k", label="open-circuit voltage U(mean site fraction)")
    v_lo, v_hi = min(cutoffs, default=3.0) - 0.3, max(cutoffs, default=4.0) + 0.3
    a_v.set_ylim(v_lo, v_hi)
    for v in cutoffs:
        a_v.axhline(v, ls=":", color="k", lw=0.8)
        a_v.text(0.01, v, f"{v:.1f} V cut-off", transform=a_v.get_yaxis_transform(), ha="left", va="bottom", fontsize=8)
    i_lim = (-1.3 * i_1C, 1.3 * i_1C)
    a_i.set_ylim(*i_lim)
    for st in protocol.steps:
        if st.mode == "voltage" and st.limit("current") is not None:
            a_i.axhline(st.limit("current"), ls=":", color="k", lw=0.8)
            a_i.text(0.99, st.limit("current"), f"{st.limit('current'):.3g} mA/g: ends the hold", ha="right",
                     transform=a_i.get_yaxis_transform(), va="bottom", fontsize=8)
    last = steps[-1]["rows"]
    for ax, x, y, (lo, hi), unit in ((a_v, last["capacity_mAh_g"][-1], last["voltage_V"][-1], (v_lo, v_hi), "V"),
                                     (a_i, last["t_s"][-1] / 3600, last["current_mA_g"][-1], i_lim, "mA/g")):
        if not lo <= y <= hi:
            ax.annotate(f"last row: {y:.3g} {unit}, off the axis\n(the surface saturated)", (x, lo if y < lo else hi),
                        xytext=(15 if ax is a_v else -150, 25 if y < lo else -30), textcoords="offset points", fontsize=8,
                        arrowprops={"arrowstyle": "->", "lw": 0.6})
    capacity_label = "capacity, net charge passed [mAh/g]"
    for ax, x, y, title in ((a_v, capacity_label, "voltage vs Li/Li+ [V]", "(a) voltage vs capacity"),
                            (a_s, capacity_label, "largest von Mises stress [MPa]", "(b) peak von Mises stress vs capacity"),
                            (a_i, "time [h]", "current [mA/g] (charge > 0)", "(c) current vs time: CC, the CV hold's decay, rest, CC"),
                            (a_sv, "voltage vs Li/Li+ [V]", "largest von Mises stress [MPa]",
                             "(d) peak von Mises stress vs voltage, CC charge")):
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        ax.set_title(title)
        ax.grid(alpha=0.3)
    peak = json.loads((folder / "summary.json").read_text())["stress"]
    t_h = np.concatenate([s["rows"]["t_s"] for s in steps])
    at = int(np.argmin(np.abs(t_h - peak["peak_time_s"])))
    q = np.concatenate([s["rows"]["capacity_mAh_g"] for s in steps])[at]
    a_s.plot(q, peak["peak_von_mises_Pa"] / 1e6, "o", color="k", ms=4)
    a_s.annotate(f"run's peak {peak['peak_von_mises_Pa'] / 1e6:.1f} MPa\nat t = {peak['peak_time_s'] / 60:.1f} min",
                 (q, peak["peak_von_mises_Pa"] / 1e6), xytext=(-110, -45), textcoords="offset points", fontsize=8)
    a_s.set_xlim(a_v.get_xlim())
    a_v.legend(fontsize=7, loc="center right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return fig

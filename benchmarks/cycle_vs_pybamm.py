"""Benchmark: a first cycle (CC charge to 4.8 V, CV hold, rest, CC discharge to 2.0 V)
of one LRMO particle, lrmo against PyBaMM's single-particle half cell with the same
open-circuit voltage, kinetics, D, radius and protocol, in the same run.

lrmo: cases/cycle_lrmo_1d.yaml (1D radial), and with --octant its 3D octant twin (the
same case on shape octant). PyBaMM: benchmarks/pybamm_half_cell.py in PyBaMM's own
interpreter (LRMO_PYBAMM_PYTHON, see there), fed a JSON file written here from the
resolved lrmo case, so both read the same numbers.

Prints, per step: the capacities (mAh/g) and their relative difference (nan for a rest),
the voltage RMS and max difference (at lrmo's output times strictly inside the step,
PyBaMM's curve, output every second, interpolated at the same time since the step's
start), over the whole step and over its first 99 % of capacity (at a cut-off the
voltage plunges, and a 5e-5 difference in when it is reached is volts there), the stress: lrmo's surface hoop stress against PyBaMM's
particle-mechanics surface tangential stress at lrmo's output times of the CC charge,
and the wall times of both (build + solve, warm) and their ratio. Asserts nothing.
Run: LRMO_PYBAMM_PYTHON=~/pybamm-venv/bin/python .venv/bin/python benchmarks/cycle_vs_pybamm.py [--octant]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CASE = ROOT / "cases" / "cycle_lrmo_1d.yaml"


def pybamm_parameters(case) -> dict:
    core = case.materials.core
    site_fraction, voltage = core.open_circuit_voltage.arrays()
    return {
        "radius_m": case.geometry.radius.si,
        "site_concentration_mol_m3": core.lithium_site_concentration.si,
        "initial_site_fraction": case.lithium.initial_site_fraction.si,
        "temperature_K": case.mechanics.temperature.si,
        "density_kg_m3": core.density.si,
        "current_1C_A_kg": case.protocol.current_1C.si,
        "diffusivity_m2_s": core.lithium_diffusivity.si,
        "diffusivity_factor": (None if core.lithium_diffusivity_factor is None else dict(zip(
            ("site_fraction", "factor"), (a.tolist() for a in core.lithium_diffusivity_factor.arrays())))),
        "ocv": {"site_fraction": site_fraction.tolist(), "voltage": voltage.tolist()},
        "exchange_current_density_A_m2": core.exchange_current_density.si,
        "charge_transfer_coefficient": core.charge_transfer_coefficient.si,
        "mechanics": {"youngs_modulus_Pa": core.youngs_modulus.si, "poisson_ratio": core.poisson_ratio.si,
                      "partial_molar_volume_m3_mol": core.partial_molar_volume.si},
        "steps": list(case.protocol.steps),
        "output_period_s": 1.0,  # dense: the reference is interpolated at lrmo's times
    }


def run_pybamm(params: dict, folder: Path) -> tuple[dict, np.ndarray, list[str]]:
    python = os.environ.get("LRMO_PYBAMM_PYTHON")
    if not python:
        sys.exit("set LRMO_PYBAMM_PYTHON to PyBaMM's python (benchmarks/pybamm_half_cell.py)")
    (folder / "params.json").write_text(json.dumps(params))
    out = subprocess.run([python, str(ROOT / "benchmarks" / "pybamm_half_cell.py"), str(folder / "params.json"),
                          "--out", str(folder / "pybamm.csv")], capture_output=True, text=True, check=True)
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    header = (folder / "pybamm.csv").read_text().splitlines()[0].split(",")
    return summary, np.genfromtxt(folder / "pybamm.csv", delimiter=",", skip_header=1), header


def run_lrmo(case, folder: Path) -> tuple[float, dict, np.ndarray, list[str], dict]:
    from solver.simulation.run import run_case

    t0 = time.perf_counter()
    summary = run_case(case, folder)
    wall = time.perf_counter() - t0
    header = (folder / "timeseries.csv").read_text().splitlines()[0].split(",")
    data = np.genfromtxt(folder / "timeseries.csv", delimiter=",", skip_header=1)
    profiles = np.genfromtxt(folder / "profiles.csv", delimiter=",", names=True)
    return wall, summary, data, header, profiles


def compare(case, label: str, lrmo, pybamm) -> None:
    wall, summary, data, header, profiles = lrmo
    if summary["status"] != "completed":
        print(f"\n{label}: lrmo {summary['status']}: {summary.get('message', '')}")
        return
    pb_summary, pb, pb_header = pybamm
    col, pcol = {h: i for i, h in enumerate(header)}, {h: i for i, h in enumerate(pb_header)}
    steps = summary["protocol"]["steps"]
    print(f"\n{label}: lrmo {wall:.2f} s (run_case, 1 rank), PyBaMM {pb_summary.get('wall_s', float('nan')):.2f} s "
          f"(build + solve), ratio {wall / pb_summary.get('wall_s', float('nan')):.2f}")
    print(f"{'step':38s} {'lrmo mAh/g':>11s} {'PyBaMM':>9s} {'rel diff':>9s} {'V RMS mV':>9s} {'V max mV':>9s} "
          f"{'RMS 99%':>8s} {'max 99%':>8s}")
    for i, end in enumerate(steps):
        pb_rows = pb[pb[:, pcol["step"]] == i]
        pb_start = pb_rows[0, pcol["t_s"]]
        mine = data[(data[:, col["t_s"]] >= end["start_s"] - 1e-9) & (data[:, col["t_s"]] <= end["end_s"] + 1e-9)]
        pb_capacity = abs(pb_rows[-1, pcol["capacity_mAh_g"]] - pb_rows[0, pcol["capacity_mAh_g"]])
        since = mine[:, col["t_s"]] - end["start_s"]
        # strictly inside the step (its first row is the previous step's end state)
        inside = (since > 1e-3) & (since <= pb_rows[-1, pcol["t_s"]] - pb_start)  # CSV rounds t
        v_ref = np.interp(since[inside], pb_rows[:, pcol["t_s"]] - pb_start, pb_rows[:, pcol["voltage_V"]])
        dv = 1e3 * (mine[inside, col["voltage_V"]] - v_ref)
        passed = np.abs(mine[inside, col["capacity_mAh_g"]] - mine[0, col["capacity_mAh_g"]])
        early = passed <= 0.99 * max(end["capacity_mAh_g"], 1e-300) if end["capacity_mAh_g"] > 1e-6 else passed >= 0
        rel = (end["capacity_mAh_g"] - pb_capacity) / pb_capacity if pb_capacity > 1e-6 else float("nan")
        print(f"{end['text'][:38]:38s} {end['capacity_mAh_g']:11.4f} {pb_capacity:9.4f} {rel:9.2e} "
              f"{np.sqrt(np.mean(dv**2)) if dv.size else float('nan'):9.3f} "
              f"{np.abs(dv).max() if dv.size else float('nan'):9.3f} "
              f"{np.sqrt(np.mean(dv[early]**2)) if early.any() else float('nan'):8.3f} "
              f"{np.abs(dv[early]).max() if early.any() else float('nan'):8.3f}")
    if "sigma_t_surface_Pa" in pcol and "sigma_t_Pa" in (profiles.dtype.names or ()):
        charge = steps[0]
        times = np.unique(profiles["t_s"])
        times = times[(times > 0) & (times <= charge["end_s"])]
        R = case.geometry.radius.si
        ours, theirs = [], []
        pb_charge = pb[pb[:, pcol["step"]] == 0]
        for t in times:
            rows = profiles[profiles["t_s"] == t]
            ours.append(rows["sigma_t_Pa"][np.argmin(abs(rows["r_m"] - R))])
            theirs.append(np.interp(t, pb_charge[:, pcol["t_s"]], pb_charge[:, pcol["sigma_t_surface_Pa"]]))
        ours, theirs = np.array(ours), np.array(theirs)
        print(f"surface hoop stress during the CC charge ({times.size} times): largest |lrmo - PyBaMM| "
              f"{np.abs(ours - theirs).max() / 1e6:.3f} MPa of a largest {np.abs(theirs).max() / 1e6:.1f} MPa")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--octant", nargs="*", metavar="SURFACE,BULK",
                        help="also the 3D octant at these mesh sizes in nm (default 5,15: a quarter of an hour with "
                             "mechanics; e.g. --octant 5,15 3.5,10.6 2.5,7.5 --set 'physics=[lithium]' "
                             "--set output.interval=60s for a mesh study)")
    parser.add_argument("--set", action="append", default=[], dest="overrides",
                        help="a case override, e.g. materials.core.lithium_diffusivity_factor=from_set")
    args = parser.parse_args()
    from solver.case.schema import load_case

    case = load_case(CASE, args.overrides)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        pybamm = run_pybamm(pybamm_parameters(case), folder)
        compare(case, "1D radial", run_lrmo(case, folder / "radial"), pybamm)
        for sizes in ([] if args.octant is None else args.octant or ["5,15"]):
            surface, bulk = sizes.split(",")
            octant = load_case(CASE, [*args.overrides, "geometry.shape=octant", f"mesh.surface={surface} nm",
                                      f"mesh.bulk={bulk} nm", "time_stepping.max_step=30 s"])
            compare(octant, f"3D octant, mesh {surface}/{bulk} nm", run_lrmo(octant, folder / f"octant{sizes}"), pybamm)


if __name__ == "__main__":
    main()

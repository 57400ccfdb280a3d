"""Benchmark: the time of a full 1D cycle with mechanics (cases/cycle_lrmo_1d.yaml:
CC-CV-rest-CC, voltage and surface stress every 10 s), lrmo against PyBaMM's SPM half
cell with its particle-mechanics submodel, at the accuracy each reaches, in one run.

Accuracy: both against one reference, PyBaMM on 800 particle points with rtol = atol =
1e-9 (benchmarks/pybamm_half_cell.py): the largest relative capacity error over the
steps and the voltage RMS over each step's first 99 % of capacity.
Time: lrmo builds and runs the case in this process, warm (the JIT cache filled by a
first run), voltage and stress at the outputs handed to an observer, no files
(`run(observer, project_fields=False)`); PyBaMM builds and solves in its own
interpreter (LRMO_PYBAMM_PYTHON), timed there. The two alternate, repeat by repeat, so
the load of a shared machine hits both alike; prints best, median and the median of the
pairwise ratios. Asserts nothing.
Run: LRMO_PYBAMM_PYTHON=~/pybamm-venv/bin/python .venv/bin/python benchmarks/cycle_speed.py [--repeats 5]
     [--set time_stepping.max_change_per_step=0.01]
     dense output (rows interpolated between adaptive steps, as PyBaMM's): --set output.dense=true
     --set "time_stepping.max_step=100 s" --set time_stepping.max_change_per_step=0.004
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cycle_vs_pybamm import CASE, ROOT, pybamm_parameters  # noqa: E402

OUTPUT_S = 10.0


def lrmo_once(case):
    """(wall s, rows (t, V, capacity mAh/g, step)) of one in-process build + run."""
    from mpi4py import MPI

    from solver.simulation.chemomechanics import ChemoMechanics
    from solver.simulation.domain_setup import build_domain

    rows = []
    t0 = time.perf_counter()
    sim = ChemoMechanics(case, build_domain(case, MPI.COMM_WORLD))
    sim.run(lambda t, s: rows.append((t, s._observables["voltage_V"], s._observables["capacity_C_kg"] / 3600,
                                      s.protocol.index)), project_fields=False)
    wall = time.perf_counter() - t0
    return wall, np.array(rows), sim.protocol.step_ends


def pybamm_once(python: str, params: Path, out: Path, points: int):
    result = subprocess.run([python, str(ROOT / "benchmarks" / "pybamm_half_cell.py"), str(params), "--out", str(out),
                             "--points", str(points)], capture_output=True, text=True, check=True)
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    return summary["wall_s"], np.genfromtxt(out, delimiter=",", names=True), summary


def errors(capacities, curve_t, curve_v, curve_step, reference, ref_summary) -> tuple[float, float]:
    """(largest relative capacity error, voltage RMS in mV over each step's first 99 %)."""
    ref_caps = np.abs(ref_summary["step_capacity_mAh_g"])
    cap = max(abs(c - r) / r for c, r in zip(capacities, ref_caps) if r > 1e-6)
    squares = []
    for i, ref_cap in enumerate(ref_caps):
        ref = reference[reference["step"] == i]
        mine = curve_step == i
        if not mine.any() or ref_cap < 1e-6:
            continue
        since = curve_t[mine] - curve_t[mine][0]
        passed = np.interp(since, ref["t_s"] - ref["t_s"][0], np.abs(ref["capacity_mAh_g"] - ref["capacity_mAh_g"][0]))
        keep = (since > 0) & (passed <= 0.99 * ref_cap)
        v_ref = np.interp(since[keep], ref["t_s"] - ref["t_s"][0], ref["voltage_V"])
        squares.extend(((curve_v[mine][keep] - v_ref) * 1e3) ** 2)
    return cap, float(np.sqrt(np.mean(squares)))


def main() -> None:
    import os

    from solver.case.schema import load_case

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--points", type=int, default=200, help="PyBaMM's particle points")
    parser.add_argument("--output", type=float, default=OUTPUT_S, help="output interval, s (both codes)")
    parser.add_argument("--set", action="append", default=[], dest="overrides")
    args = parser.parse_args()
    python = os.environ.get("LRMO_PYBAMM_PYTHON") or sys.exit("set LRMO_PYBAMM_PYTHON (benchmarks/pybamm_half_cell.py)")
    case = load_case(CASE, ["output.fields=false", f"output.interval={args.output} s", *args.overrides])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        params = pybamm_parameters(case)
        params["output_period_s"] = args.output
        (folder / "p.json").write_text(json.dumps(params))
        dense = dict(params, output_period_s=1.0)
        (folder / "ref.json").write_text(json.dumps(dense))
        _, reference, ref_summary = pybamm_once(python, folder / "ref.json", folder / "ref.csv", 800)
        lrmo_once(case)  # warm: JIT cache
        lrmo_times, pybamm_times, ratios = [], [], []
        for _ in range(args.repeats):
            wall, rows, ends = lrmo_once(case)
            pb_wall, pb_rows, pb_summary = pybamm_once(python, folder / "p.json", folder / "pb.csv", args.points)
            lrmo_times.append(wall)
            pybamm_times.append(pb_wall)
            ratios.append(wall / pb_wall)
        lrmo_err = errors([e["capacity_mAh_g"] for e in ends], rows[:, 0], rows[:, 1], rows[:, 3], reference, ref_summary)
        pb_err = errors(np.abs(pb_summary["step_capacity_mAh_g"]), pb_rows["t_s"], pb_rows["voltage_V"],
                        pb_rows["step"], reference, ref_summary)
    print(f"reference: PyBaMM {ref_summary['pybamm_version']}, 800 points; outputs every {args.output:g} s")
    print(f"{'':24s} {'best s':>8s} {'median s':>9s} {'capacity err':>13s} {'V RMS mV':>9s}")
    print(f"{'lrmo (1D, P1, BDF2)':24s} {min(lrmo_times):8.3f} {statistics.median(lrmo_times):9.3f} "
          f"{lrmo_err[0]:13.2e} {lrmo_err[1]:9.3f}")
    print(f"{f'PyBaMM SPM ({args.points} points)':24s} {min(pybamm_times):8.3f} {statistics.median(pybamm_times):9.3f} "
          f"{pb_err[0]:13.2e} {pb_err[1]:9.3f}")
    print(f"time ratio lrmo / PyBaMM: best {min(lrmo_times) / min(pybamm_times):.2f}, "
          f"median of pairs {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()

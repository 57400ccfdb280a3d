"""Benchmark: the electrochemical-shock map (`lrmo shock-map`, solver/studies/shock_map.py)
at 100 points, the issue's target being within 5 minutes on a 2-core machine.

The map: cases/pristine_stress.yaml and cases/ru1_stress.yaml, 10 radii (50-500 nm) x 5
C-rates (0.5-5C) = 100 one-rank 1D runs of the first charge and hold, shared over the
ranks (`mpirun -n RANKS`), run as the user runs it (a child `lrmo shock-map` process, so
start-up and writing count) into a temporary folder. Prints the wall time, the members
per second, the load average before and after (a shared machine: the time is only
comparable at a similar load), and the map's own wall time from provenance.json.

`--check`: the map's member setting against the first map's (MAP_PROFILES = 51 output
profiles against FINE_PROFILES = 151) on a few members, in this process: the relative
change of max K_I / K_Ic (flaws up to 0.05, 0.1, 0.2 R) and of the Weibull effective
stress (m = 5, 10, 20), and the time of each. The map keeps 51 only while every change is
below 1 %. Asserts nothing.

Run: .venv/bin/python benchmarks/shock_map_speed.py [--ranks 2] [--check]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = [ROOT / "cases" / "pristine_stress.yaml", ROOT / "cases" / "ru1_stress.yaml"]
RADII_NM = [50, 65, 85, 110, 150, 190, 250, 320, 400, 500]
C_RATES = [0.5, 1, 2, 3, 5]
CHECK_MEMBERS = [("pristine", 50, 5.0), ("pristine", 150, 1.0), ("pristine", 250, 0.5), ("pristine", 500, 5.0),
                 ("Ru-1", 50, 0.5), ("Ru-1", 150, 1.0), ("Ru-1", 250, 2.0), ("Ru-1", 500, 0.5)]
MPI_ENV = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1", "OMPI_MCA_btl": "self,vader"}


def load() -> str:
    return ", ".join(f"{v:.2f}" for v in os.getloadavg())


def speed(ranks: int) -> None:
    lrmo = [str(Path(sys.executable).with_name("lrmo"))]
    if ranks > 1:
        lrmo = [shutil.which("mpirun") or "mpirun", "-n", str(ranks)] + lrmo
    members = len(CASES) * len(RADII_NM) * len(C_RATES)
    with tempfile.TemporaryDirectory(prefix="lrmo-shock-bench-") as folder:
        out = Path(folder) / "map"
        command = lrmo + ["shock-map", *map(str, CASES), "--out", str(out), "--quiet",
                          "--radii", *map(str, RADII_NM), "--rates", *map(str, C_RATES)]
        print(f"shock map: {members} members ({len(CASES)} samples x {len(RADII_NM)} radii x {len(C_RATES)} rates) "
              f"on {ranks} rank(s), {os.cpu_count()} cores; load average before: {load()}", flush=True)
        start = time.perf_counter()
        proc = subprocess.run(command, cwd=ROOT, env={**os.environ, **MPI_ENV}, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            print(proc.stdout[-2000:], proc.stderr[-4000:], sep="\n")
            raise SystemExit(f"lrmo shock-map exited {proc.returncode}")
        inside = json.loads((out / "provenance.json").read_text())["wall_time_s"]
        print(f"  wall time {wall:.1f} s ({wall / 60:.2f} min; the members alone {inside:.1f} s), "
              f"{members / wall:.2f} members/s, {wall * ranks / members:.2f} rank-s per member; "
              f"target 300 s: {'met' if wall <= 300 else 'MISSED'}")
        print(f"  load average after: {load()}")


def check() -> None:
    from solver.case.crack_inputs import CrackInputs
    from solver.studies import shock_map as sm

    inputs = CrackInputs()
    sm.run_member("pristine", 50, 1.0, inputs)  # warm (JIT cache, imports)
    print(f"the map's members with {sm.MAP_PROFILES} output profiles against {sm.FINE_PROFILES}: relative change "
          f"of max K_I (flaws up to 0.05, 0.1, 0.2 R) and sigma_eff (m = 5, 10, 20); load average {load()}")
    worst = 0.0
    for sample, radius, rate in CHECK_MEMBERS:
        runs, times = [], []
        for profiles in (sm.FINE_PROFILES, sm.MAP_PROFILES):
            start = time.perf_counter()
            runs.append(sm.run_member(sample, radius, rate, inputs, profiles=profiles))
            times.append(time.perf_counter() - start)
        fine, cheap = runs
        k = [sm.largest_k(m, f, inputs.min_flaw_depth_m)[0] for f in (0.05, 0.1, 0.2) for m in (fine, cheap)]
        dk = [abs(k[i + 1] / k[i] - 1) for i in (0, 2, 4)]
        s = [m["weibull_effective_stress_Pa"][key] for key in ("5", "10", "20") for m in (fine, cheap)]
        ds = [abs(s[i + 1] / s[i] - 1) for i in (0, 2, 4)]
        worst = max(worst, *dk, *ds)
        print(f"  {sample:9s} {radius:4g} nm {rate:4g}C  K_I/K_Ic {fine['status']:9s} "
              + " ".join(f"{v:8.1e}" for v in dk) + "   sigma_eff " + " ".join(f"{v:8.1e}" for v in ds)
              + f"   {times[0]:5.2f} s -> {times[1]:5.2f} s")
    print(f"  largest change {worst:.1e} ({'< 1 %: the map keeps ' + str(sm.MAP_PROFILES) if worst < 0.01 else '>= 1 %: raise MAP_PROFILES'})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ranks", type=int, default=2, help="MPI ranks for the map (at most the cores)")
    parser.add_argument("--check", action="store_true", help="the convergence check of the member setting instead")
    args = parser.parse_args()
    check() if args.check else speed(args.ranks)


if __name__ == "__main__":
    main()

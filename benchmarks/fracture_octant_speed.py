"""Benchmark (issue 20): the phase-field octant on 2 ranks, and what the phase field costs.

Times `mpirun -n RANKS lrmo run` of cases/pristine_fracture_octant.yaml (`--case`) and, in
the same invocation as the reference, the same case without the phase field (`physics:
[lithium, mechanics]`, no `fracture:` section): the same mesh, Li steps and stress
solves, so the ratio of the two wall times is the phase field's cost. Before either, the
case's mesh is built once into a private mesh cache (`lrmo mesh`), so that neither run
pays for Gmsh; the JIT cache is the user's (the first run ever of a structure compiles
its forms). Each run is its own process; its wall time is the whole `mpirun` (start-up,
mesh read, set-up, time loop, output), beside the run's own `wall_time_s` (summary.json).
Prints the two times, the ratio, and whether the target holds: the phase-field octant on 2
ranks within 30 minutes on a 2-core machine. The machine may be shared: the load average
(1 min) before and after each run is printed with it. Asserts nothing.

Run: .venv/bin/python benchmarks/fracture_octant_speed.py [--case cases/ru1_fracture_octant.yaml]
     [--ranks 2] [--target-min 30] [--json out.json]
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from solver.io.launch import mpirun_environment  # noqa: E402

WITHOUT_FRACTURE = ["physics=[lithium, mechanics]", "fracture=null"]


def lrmo(args: list[str], ranks: int, env: dict) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "lrmo", *args]
    if ranks > 1:
        cmd = ["mpirun", "-n", str(ranks), *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)


def timed_run(case: Path, out: Path, overrides: list[str], ranks: int, env: dict) -> dict:
    """One `lrmo run` on `ranks`: wall time of the whole process, the run's own, its
    status and the fracture summary (None without the phase field)."""
    args = ["run", str(case), "--out", str(out), "--overwrite", "--quiet"]
    for o in overrides:
        args += ["--set", o]
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    proc = lrmo(args, ranks, env)
    wall = time.perf_counter() - start
    try:
        summary = json.loads((out / "summary.json").read_text())
    except (OSError, ValueError):
        summary = {"status": f"failed: exit {proc.returncode}: {proc.stderr[-500:]}"}
    return {"wall_s": wall, "run_wall_s": summary.get("wall_time_s"), "status": summary["status"],
            "steps": summary.get("lithium", {}).get("steps") if isinstance(summary.get("lithium"), dict) else None,
            "fracture": summary.get("fracture"), "cells": summary.get("mesh", {}).get("num_cells"),
            "mesh_cache": summary.get("mesh", {}).get("cache", {}).get("status"),
            "load_before": load_before, "load_after": os.getloadavg()[0]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--case", default=str(ROOT / "cases" / "pristine_fracture_octant.yaml"))
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--target-min", type=float, default=30.0, help="wall-time target of the phase-field run")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    case = Path(args.case).resolve()
    with tempfile.TemporaryDirectory(prefix="lrmo-fracture-speed-") as tmp:
        tmp = Path(tmp)
        env = dict(mpirun_environment(), LRMO_MESH_CACHE=str(tmp / "mesh-cache"), OMP_NUM_THREADS="1")
        start = time.perf_counter()
        mesh = lrmo(["mesh", str(case), "--out", str(tmp / "mesh")], 1, env)
        print(f"{case.name}: mesh built in {time.perf_counter() - start:.0f} s (not in the times below)"
              + ("" if mesh.returncode == 0 else f"; FAILED: {mesh.stderr[-500:]}"), flush=True)
        runs = {}
        for label, overrides in (("without phase field", WITHOUT_FRACTURE), ("with phase field", [])):
            r = runs[label] = timed_run(case, tmp / label.replace(" ", "_"), overrides, args.ranks, env)
            print(f"  {label:20s}: {r['wall_s']:7.1f} s wall on {args.ranks} ranks (the run's own "
                  f"{r['run_wall_s'] or float('nan'):.1f} s), {r['status']}, {r['cells']} cells "
                  f"(mesh cache: {r['mesh_cache']}), {r['steps']} Li steps; "
                  f"load average {r['load_before']:.1f} -> {r['load_after']:.1f}", flush=True)
    base, pf = runs["without phase field"], runs["with phase field"]
    ratio = pf["wall_s"] / base["wall_s"]
    f = pf["fracture"] or {}
    print(f"  phase field / without: {ratio:.2f} x ({pf['wall_s'] - base['wall_s']:+.0f} s; "
          f"{f.get('solves', '?')} phase-field solves, {f.get('staggered_sweeps', '?')} staggered sweeps)")
    ok = pf["status"] == "completed" and pf["wall_s"] <= 60 * args.target_min
    print(f"  target: the phase-field octant on {args.ranks} ranks within {args.target_min:g} min: "
          f"{'MET' if ok else 'MISSED'} ({pf['wall_s'] / 60:.1f} min, {os.cpu_count()} cores, "
          f"load average {pf['load_before']:.1f} at its start)")
    if args.json:
        Path(args.json).write_text(json.dumps({"case": case.name, "ranks": args.ranks, "runs": runs,
                                               "ratio": ratio, "target_met": ok}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

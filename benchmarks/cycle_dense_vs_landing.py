"""Benchmark: lrmo alone, the 1D cycle (cases/cycle_lrmo_1d.yaml, outputs every 10 s, as
benchmarks/cycle_speed.py runs it) with dense output against landing a step on every
output, the two alternating in one warm process; prints each one's wall times and the
median of the pairwise ratios dense / landing. Asserts nothing.
Run: .venv/bin/python benchmarks/cycle_dense_vs_landing.py [--repeats 5]
     [--dense "time_stepping.max_change_per_step=0.004"] [--landing "time_stepping.max_change_per_step=0.008"]
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cycle_speed import CASE, lrmo_once  # noqa: E402

DENSE = ["output.dense=true", "time_stepping.max_step=100 s", "time_stepping.max_change_per_step=0.004"]
LANDING = ["time_stepping.max_change_per_step=0.008"]


def main() -> None:
    from solver.case.schema import load_case

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dense", action="append", default=[], help="more overrides of the dense run")
    parser.add_argument("--landing", action="append", default=[], help="more overrides of the landing run")
    args = parser.parse_args()
    common = ["output.fields=false", "output.interval=10 s"]
    cases = {"dense": load_case(CASE, [*common, *DENSE, *args.dense]),
             "landing": load_case(CASE, [*common, *LANDING, *args.landing])}
    walls, counts = {name: [] for name in cases}, {}
    for name, case in cases.items():
        lrmo_once(case)  # warm: JIT cache
    for _ in range(args.repeats):
        for name, case in cases.items():
            wall, rows, _ = lrmo_once(case)
            walls[name].append(wall)
            counts[name] = len(rows)
    for name in cases:
        print(f"{name:8s} {counts[name]} rows, best {min(walls[name]):.3f} s, median {statistics.median(walls[name]):.3f} s")
    ratios = [d / lan for d, lan in zip(walls["dense"], walls["landing"])]
    print(f"time ratio dense / landing: median of pairs {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()

"""Benchmark: what the oxygen redox costs. The coupled first cycle of
cases/pristine_cycle.yaml (Li, stress, oxygen redox, O2, vacancies in one loop) against
the same case with Li and stress only (the same mesh, protocol and step control), both
built and run in this process, warm (the JIT cache filled by a first run of each), no
files. The two alternate, repeat by repeat; prints each one's median and the median of
the pairwise ratios (the issue's bound: within 2x). Asserts nothing.
Run: .venv/bin/python benchmarks/oxygen_redox_cost.py [--repeats 5] [--set KEY=VALUE ...]
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASE = ROOT / "cases" / "pristine_cycle.yaml"
LI_ONLY = ["physics=[lithium, mechanics]", "oxygen=null", "oxygen_redox=null", "fitted={}"]


def once(overrides) -> float:
    from mpi4py import MPI

    from solver.case.schema import load_case
    from solver.simulation.domain_setup import build_domain
    from solver.simulation.run import engine_of_case

    case = load_case(CASE, overrides)
    start = time.perf_counter()
    engine_of_case(case, build_domain(case, MPI.COMM_WORLD)).run()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--set", action="append", default=[], dest="sets")
    args = parser.parse_args()
    variants = {"coupled": list(args.sets), "Li + stress": [*args.sets, *LI_ONLY]}
    for overrides in variants.values():  # warm the JIT cache
        once(overrides)
    times = {name: [] for name in variants}
    for _ in range(args.repeats):
        for name, overrides in variants.items():
            times[name].append(once(overrides))
    ratios = [a / b for a, b in zip(times["coupled"], times["Li + stress"])]
    for name, t in times.items():
        print(f"{name:12s} median {statistics.median(t):.2f} s  best {min(t):.2f} s  ({len(t)} runs)")
    print(f"coupled / Li + stress: median of pairwise ratios {statistics.median(ratios):.2f} "
          f"(range {min(ratios):.2f}-{max(ratios):.2f}); bound 2.0")


if __name__ == "__main__":
    main()

"""Benchmark: weak scaling of a secondary particle (cases/secondary_50grains.yaml) with
a fixed number of grains per rank (default 25) at fixed grain size: the radius grows as
N^(1/3) at the case's element sizes, so cells per rank stay about constant. For each rank
count it runs a short first charge (protocol.end_time 6 min, 3 output times, the peak
search) and prints: grains, cells, dofs, Gmsh meshing (rank 0, serial), ChemoMechanics
set-up, wall per Li step, wall and Krylov iterations per elasticity solve, and the
largest peak RSS over the ranks. Then a projection to --target grains (default 1000)
from the measured rates. Prints figures; asserts nothing.

CAVEAT: on a 2-core machine 4 ranks are oversubscribed (2 ranks per core), so the
4-rank wall times include time-sharing; the iteration counts and cells per rank are
exact, the times an upper bound. docs/secondary-particles.md §5 has a measured table.

Run: .venv/bin/python benchmarks/weak_scaling.py [--ranks 2,4] [--grains-per-rank 25]
     (it starts `mpirun -n P --oversubscribe` itself; the worker is `--worker`)
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASE = ROOT / "cases" / "secondary_50grains.yaml"
BASE_GRAINS, BASE_RADIUS_UM = 50, 2.0

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--ranks", default="2,4")
parser.add_argument("--grains-per-rank", type=int, default=25)
parser.add_argument("--target", type=int, default=1000, help="grains to project to")
parser.add_argument("--end-time-min", type=float, default=6.0)
parser.add_argument("--mesh-grains", default="50,100,200", help="grain counts of the serial Gmsh timing")
parser.add_argument("--worker", type=int, default=0, help="(internal) grains to run in this process group")
parser.add_argument("--json", default="", help="(internal) where the worker writes its figures")
args = parser.parse_args()


def overrides(grains: int) -> list[str]:
    radius_um = BASE_RADIUS_UM * (grains / BASE_GRAINS) ** (1 / 3)  # constant grain size
    n_out = 3
    return [f"grains.count={grains}", f"geometry.radius={radius_um:.6g} um",
            f"protocol.end_time={args.end_time_min} min", f"output.count={n_out}",
            "output.fields=false"]


def worker() -> None:
    import resource

    from mpi4py import MPI

    from solver.case.schema import load_case
    from solver.simulation.chemomechanics import ChemoMechanics
    from solver.simulation.domain_setup import build_domain

    comm = MPI.COMM_WORLD
    case = load_case(CASE, overrides(args.worker))
    t0 = time.perf_counter()
    domain = build_domain(case, comm)  # the cache is off: Gmsh on rank 0, then distributed
    t_mesh = time.perf_counter() - t0
    t0 = time.perf_counter()
    sim = ChemoMechanics(case, domain)
    t_setup = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    sim.run()
    t_run = time.perf_counter() - t0
    cpu_run = comm.allreduce(time.process_time() - c0, op=MPI.MAX)  # busiest rank's CPU
    st = sim.stats
    rss_mb = comm.allreduce(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, op=MPI.MAX)
    tdim = domain.msh.topology.dim
    cells = comm.allreduce(domain.msh.topology.index_map(tdim).size_local, op=MPI.SUM)
    V = sim.mechanics.V
    p2 = V.dofmap.index_map.size_global * V.dofmap.index_map_bs
    if comm.rank == 0:
        Path(args.json).write_text(json.dumps({
            "ranks": comm.size, "grains": domain.info["grain_count"], "cells": cells,
            "p2_dofs": p2, "mesh_s": t_mesh, "gmsh_s": domain.info.get("gmsh_wall_s"),
            "setup_s": t_setup, "run_s": t_run, "li_steps": st.steps,
            "li_ms_per_step": 1e3 * st.wall_lithium_s / max(st.steps, 1),
            "elasticity_solves": st.elasticity_solves,
            "elasticity_s_per_solve": st.wall_mechanics_s / max(st.elasticity_solves, 1),
            "krylov_per_solve": st.elasticity_iterations / max(st.elasticity_solves, 1),
            "peak_rss_mb": rss_mb, "run_cpu_s": cpu_run,
            "gb_facets": sim.grain_boundaries.summary()["at_max_normal_traction"]["facets"]}))


def main() -> None:
    env = dict(os.environ, LRMO_MESH_CACHE="off")
    env.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
    env.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    env.setdefault("OMPI_MCA_btl", "self,vader")
    rows = []
    for ranks in (int(r) for r in args.ranks.split(",")):
        out = Path(f"/tmp/lrmo-weak-{os.getpid()}-{ranks}.json")
        grains = ranks * args.grains_per_rank
        cmd = ["mpirun", "-n", str(ranks), "--oversubscribe", sys.executable, __file__,
               "--worker", str(grains), "--json", str(out), "--end-time-min", str(args.end_time_min)]
        subprocess.run(cmd, check=True, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
        rows.append(json.loads(out.read_text()))
        out.unlink()
    keys = ("ranks", "grains", "cells", "p2_dofs", "mesh_s", "setup_s", "li_ms_per_step",
            "elasticity_s_per_solve", "krylov_per_solve", "elasticity_solves", "peak_rss_mb", "run_s", "run_cpu_s")
    print(" | ".join(keys))
    for r in rows:
        print(" | ".join(f"{r[k]:.4g}" if isinstance(r[k], float) else str(r[k]) for k in keys))
    meshing = mesh_times([int(n) for n in args.mesh_grains.split(",")])
    project(rows, meshing)


def mesh_times(counts: list[int]) -> list[tuple[int, int, float]]:
    """(grains, cells, seconds) of the serial Gmsh build at constant grain size."""
    import gmsh

    from meshes.secondary import secondary_model
    from solver.case.schema import load_case
    from solver.simulation.secondary_setup import secondary_inputs

    out = []
    for n in counts:
        inputs = secondary_inputs(load_case(CASE, overrides(n)))
        gmsh.initialize(readConfigFiles=False)
        gmsh.option.setNumber("General.Terminal", 0)
        try:
            t0 = time.perf_counter()
            info = secondary_model(**inputs)
            out.append((n, info["num_cells"], time.perf_counter() - t0))
        finally:
            gmsh.finalize()
        print(f"  Gmsh, {n} grains: {out[-1][1]} cells in {out[-1][2]:.3g} s", flush=True)
    return out


def project(rows: list[dict], meshing: list[tuple[int, int, float]]) -> None:
    """Extrapolate to args.target grains at the same grains per rank: cells and dofs
    linear in the grains; serial Gmsh meshing as the power law fitted to `meshing`;
    the wall per elasticity solve as the 2-rank figure times the measured Krylov
    iteration growth per doubling (ideal weak scaling of the work per rank otherwise)."""
    import math

    import numpy as np

    a, b = rows[0], rows[-1]
    doublings_measured = math.log2(b["grains"] / a["grains"])
    doublings = math.log2(args.target / a["grains"])
    # Krylov growth per doubling, never below 1 (a measured drop is not extrapolated)
    iter_growth = max(1.0, (b["krylov_per_solve"] / a["krylov_per_solve"]) ** (1 / doublings_measured))
    g, _, t = (np.array(c, dtype=float) for c in zip(*meshing))
    exponent, log_c = np.polyfit(np.log(g), np.log(t), 1)
    ranks = args.target // args.grains_per_rank
    print(f"\nprojection to {args.target} grains on {ranks} ranks ({args.grains_per_rank} per rank):")
    print(f"  cells ~{a['cells'] * args.target / a['grains']:.3g}, P2 dofs ~{a['p2_dofs'] * args.target / a['grains']:.3g}")
    print(f"  meshing (Gmsh, serial on one process): ~{math.exp(log_c) * args.target ** exponent:.3g} s "
          f"(t ~ N^{exponent:.2f} fitted to {len(g)} grain counts)")
    print(f"  Krylov iterations per elasticity solve: ~{a['krylov_per_solve'] * iter_growth ** doublings:.3g} "
          f"(x{iter_growth:.2f} per doubling, {a['ranks']} -> {b['ranks']} ranks, at least 1)")
    print(f"  elasticity wall per solve, a core per rank: ~{a['elasticity_s_per_solve'] * iter_growth ** doublings:.3g} s "
          f"(measured {a['elasticity_s_per_solve']:.3g} s at {a['ranks']} ranks)")
    print(f"  whole run (this case's charge) per rank, ideal weak scaling: ~{a['run_s'] * iter_growth ** doublings:.3g} s "
          "+ meshing; memory per rank as measured, plus Gmsh's on the meshing process")


if __name__ == "__main__":
    worker() if args.worker else main()

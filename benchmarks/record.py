"""`make benchmark`: the cost of every stage of a chemo-mechanics run, in one table, for
the 1D particle, the 3D verification octant and an octant of >= 1M P2 displacement dofs,
serially and on 2 ranks, each beside a bare DOLFINx loop doing the same work on the same
mesh in the same process (the ratio columns). Prints figures; asserts nothing.

Stages, per configuration (each one a separate process, so that peak memory is its own):
- mesh: Gmsh on rank 0 into an empty mesh cache (a miss), then the parallel read of the
  cached mesh (a hit; 3D only; the 1D interval is built directly);
- set-up: the simulation object (spaces, forms, matrices, preconditioners);
- diffusion: ms per accepted step over the run (variable-step BDF2, step control,
  bookkeeping); bare: fixed-dt backward Euler, M c_old right-hand side, the same Krylov
  solver set up once (solver/numerics/linalg.py HYPRE_3D; LU in 1D), as many steps;
- elasticity: seconds and Krylov iterations per solve over the run (p-multigrid CG with
  warm starts in 3D, LU in 1D), and the number of solves against the number of steps
  (the peak over time is found from stored site fractions); bare: the DOLFINx demo's
  elasticity solver (CG + GAMG with the rigid-body near-null space, zero initial guess),
  set-up included once, on the final load;
- peak memory (ru_maxrss) of every rank at the end of the lrmo run (before the bare
  loops, whose GAMG on P2 needs more).
Where PyBaMM is available (LRMO_PYBAMM_PYTHON, see benchmarks/particle_1d.py), the 1D
particle is also timed against PyBaMM's particle model at equal accuracy.

Run: .venv/bin/python benchmarks/record.py [--ranks 1,2] [--only NAME]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CASES = HERE.parent / "cases"
CONFIGS = {  # name: (case file, overrides)
    "1D particle": ("verify_galvanostatic_radial.yaml", ["mechanics.stress_every_steps=null"]),
    "verification octant": ("verify_galvanostatic_octant.yaml", ["mechanics.stress_every_steps=null"]),
    # verification sizes x 0.53: ~240k tets, >= 1M P2 dofs; 2 simulated minutes
    "octant >= 1M P2 dofs": ("verify_galvanostatic_octant.yaml",
                             ["mesh.surface=2.1 nm", "mesh.bulk=3.2 nm", "protocol.end_time=2 min",
                              "output.times.values=[60, 120]", "mechanics.stress_every_steps=null"]),
}


def rss_MB() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(name: str) -> None:
    """Measure one configuration on MPI.COMM_WORLD; rank 0 prints one JSON line."""
    from mpi4py import MPI

    sys.path.insert(0, str(HERE))
    from diffusion import bare_steps

    from solver.numerics import linalg
    from solver.case.schema import load_case
    from solver.simulation.chemomechanics import ChemoMechanics
    from solver.physics.mechanics import Mechanics
    from solver.simulation.drive import galvanostatic_flux_of_case
    from solver.simulation.domain_setup import build_domain

    comm = MPI.COMM_WORLD
    file, overrides = CONFIGS[name]
    case = load_case(CASES / file, ["output.fields=false", *overrides])

    def timed(f):
        comm.barrier()
        t0 = time.perf_counter()
        result = f()
        comm.barrier()
        return result, time.perf_counter() - t0

    domain, mesh_s = timed(lambda: build_domain(case, comm))
    read_s = None
    if not domain.radial:
        domain, read_s = timed(lambda: build_domain(case, comm))  # now a cache hit
    sim, setup_s = timed(lambda: ChemoMechanics(case, domain))
    _, run_s = timed(sim.run)
    peaks = comm.gather(rss_MB(), root=0)  # lrmo's own peak, before the reference solvers
    st = sim.stats
    steps, solves = st.steps, max(st.elasticity_solves, 1)
    m = case.materials.core
    flux = galvanostatic_flux_of_case(case)
    bare_ms, bare_its = bare_steps(domain, m.lithium_diffusivity.si, m.lithium_site_concentration.si, flux,
                                   case.protocol.end_time.si / steps, steps, repeats=1,
                                   options=linalg.direct_options(comm) if domain.radial else None)
    # the DOLFINx demo's elasticity solver on the run's final load
    reference = linalg.DIRECT if domain.radial else linalg.ELASTICITY_3D_GAMG
    demo, demo_setup_s = timed(lambda: Mechanics(domain, sim.materials, sim.lithium.theta,
                                                 case.lithium.initial_site_fraction.si, reference,
                                                 warm_start_vectors=0))
    demo_its, demo_solve_s = timed(demo.solve)
    if comm.rank == 0:
        cells = domain.msh.topology.index_map(domain.msh.topology.dim).size_global
        print("RECORD " + json.dumps(dict(
            name=name, ranks=comm.size, cells=cells,
            li_dofs=sim.lithium.V.dofmap.index_map.size_global,
            u_dofs=sim.mechanics.V.dofmap.index_map.size_global * sim.mechanics.V.dofmap.index_map_bs,
            mesh_s=mesh_s, read_s=read_s, setup_s=setup_s, run_s=run_s, steps=steps, solves=st.elasticity_solves,
            diffusion_ms=1e3 * st.wall_lithium_s / steps, diffusion_its=st.lithium_iterations / steps,
            bare_ms=bare_ms, bare_its=bare_its,
            elasticity_s=st.wall_mechanics_s / solves, elasticity_its=st.elasticity_iterations / solves,
            demo_s=demo_setup_s + demo_solve_s, demo_solve_s=demo_solve_s, demo_its=demo_its,
            peak_MB=peaks)), flush=True)


def run_worker(name: str, ranks: int, cache: Path) -> dict | None:
    env = dict(os.environ, LRMO_MESH_CACHE=str(cache), OMP_NUM_THREADS="1")
    env.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
    env.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    cmd = [sys.executable, __file__, "--worker", name]
    if ranks > 1:
        cmd = ["mpirun", "-n", str(ranks), "--oversubscribe", *cmd]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    for line in proc.stdout.splitlines():
        if line.startswith("RECORD "):
            return json.loads(line[len("RECORD "):])
    print(f"  {name} on {ranks} rank(s) failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
    return None


def table(rows: list[dict]) -> str:
    head = ("| model | ranks | cells | Li dofs | P2 dofs | mesh s (Gmsh / cached read) | set-up s "
            "| diffusion ms/step (its) | bare loop ms/step (its) | ratio | elasticity s/solve (its) "
            "| DOLFINx demo s/solve (its; + set-up) | speed-up | solves / steps | peak MB per rank |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        read = f" / {r['read_s']:.1f}" if r["read_s"] is not None else " (1D: no Gmsh)"
        lines.append(
            f"| {r['name']} | {r['ranks']} | {r['cells']:,} | {r['li_dofs']:,} | {r['u_dofs']:,} "
            f"| {r['mesh_s']:.2f}{read} | {r['setup_s']:.2f} "
            f"| {r['diffusion_ms']:.3g} ({r['diffusion_its']:.1f}) | {r['bare_ms']:.3g} ({r['bare_its']:.1f}) "
            f"| {r['diffusion_ms'] / r['bare_ms']:.2f} "
            f"| {r['elasticity_s']:.3g} ({r['elasticity_its']:.1f}) "
            f"| {r['demo_solve_s']:.3g} ({r['demo_its']}; {r['demo_s']:.3g}) "
            f"| {r['demo_s'] / r['elasticity_s']:.1f} | {r['solves']} / {r['steps']} "
            f"| {' / '.join(f'{m:.0f}' for m in r['peak_MB'])} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", choices=list(CONFIGS))
    parser.add_argument("--ranks", default="1,2")
    parser.add_argument("--only", default=None, help="only configurations whose name contains this")
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker)
    rows = []
    cache = Path(tempfile.mkdtemp(prefix="lrmo-bench-cache-"))
    started = time.perf_counter()
    try:
        for ranks in (int(n) for n in args.ranks.split(",")):
            for name in CONFIGS:
                if args.only and args.only not in name:
                    continue
                shutil.rmtree(cache, ignore_errors=True)  # every configuration meshes afresh
                cache.mkdir()
                print(f"  {name}, {ranks} rank(s) ...", file=sys.stderr, flush=True)
                row = run_worker(name, ranks, cache)
                if row is not None:
                    rows.append(row)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    print(f"lrmo benchmark record ({os.cpu_count()} cores; {time.perf_counter() - started:.0f} s)")
    print("ratio = lrmo diffusion / bare loop per step (lower is better); speed-up = the DOLFINx "
          "demo's elasticity (set-up + one solve) / lrmo's average solve")
    print(table(rows))
    if shutil.which(sys.executable) and (os.environ.get("LRMO_PYBAMM_PYTHON") or _has_pybamm()):
        print("\n1D particle against PyBaMM (benchmarks/particle_1d.py):")
        proc = subprocess.run([sys.executable, str(HERE / "particle_1d.py"), "--repeats", "10"],
                              capture_output=True, text=True)
        print(proc.stdout.strip() or proc.stderr[-1000:])
    else:
        print("\nPyBaMM is not installed here (pip install '.[pybamm]' or set LRMO_PYBAMM_PYTHON): "
              "no 1D comparison.")


def _has_pybamm() -> bool:
    import importlib.util

    return importlib.util.find_spec("pybamm") is not None


if __name__ == "__main__":
    main()

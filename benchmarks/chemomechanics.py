"""Benchmark: wall time of the galvanostatic sphere (cases/verify_galvanostatic_*.yaml)
in 1D and 3D, split into meshing, set-up and stepping, with steps and Krylov iterations.
Prints figures; asserts nothing. Run: .venv/bin/python benchmarks/chemomechanics.py
(or under mpirun). For scale: PyBaMM solves the 1D particle with surface stress to 0.1 %
in about 13 ms on this machine kind (docs/performance.md)."""
import time

from mpi4py import MPI

from solver.case.schema import load_case
from solver.simulation.chemomechanics import ChemoMechanics
from solver.simulation.domain_setup import build_domain
from solver.studies.verify import CASES_DIR

comm = MPI.COMM_WORLD
rows = []
for name, overrides in (
    ("verify_galvanostatic_radial", []),
    ("verify_galvanostatic_octant", []),
    ("verify_galvanostatic_octant", ["mechanics.stress_every_steps=1"]),
):
    case = load_case(CASES_DIR / f"{name}.yaml", overrides + ["output.fields=false"])
    t0 = time.perf_counter()
    domain = build_domain(case, comm)
    t1 = time.perf_counter()
    sim = ChemoMechanics(case, domain)
    t2 = time.perf_counter()
    sim.run()
    t3 = time.perf_counter()
    st = sim.stats
    dofs = sim.lithium.V.dofmap.index_map.size_global
    rows.append((name.split("_")[-1] + (" (stress every step)" if overrides else ""), dofs, t1 - t0, t2 - t1,
                 t3 - t2, st.steps, st.lithium_iterations / st.steps,
                 1e3 * st.wall_lithium_s / st.steps, st.elasticity_iterations,
                 1e3 * st.wall_mechanics_s))
if comm.rank == 0:
    print(f"ranks: {comm.size}")
    print(f"{'model':30s} {'Li dofs':>8s} {'mesh s':>7s} {'setup s':>8s} {'run s':>7s} {'steps':>6s} "
          f"{'Li its/step':>11s} {'Li ms/step':>10s} {'elast. its':>10s} {'elast. ms':>10s}")
    for r in rows:
        print(f"{r[0]:30s} {r[1]:8d} {r[2]:7.2f} {r[3]:8.2f} {r[4]:7.2f} {r[5]:6d} {r[6]:11.1f} "
              f"{r[7]:10.2f} {r[8]:10d} {r[9]:10.0f}")

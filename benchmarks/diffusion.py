"""Benchmark: cost of one diffusion step in lrmo against a bare DOLFINx loop on the same
mesh (the 3D verification octant, cases/verify_galvanostatic_octant.yaml), in the same run.

- bare: fixed dt, right-hand side M c_old + surface flux, CG + the tuned BoomerAMG
  (solver/numerics/linalg.py HYPRE_3D) set up once, zero initial guess, as many steps as lrmo took;
- lrmo: ChemoMechanics with physics [lithium] (elasticity off) over the case's protocol:
  variable-step BDF2 with step-size control and landing on output times, the per-step
  bookkeeping (largest change, surface minimum, mean site fraction) included; as shipped
  (initial guess extrapolated from the last two steps) and with a zero initial guess.

Prints ms per step, Krylov iterations per step and the ratio; asserts nothing. Run:
    .venv/bin/python benchmarks/diffusion.py [case overrides...]
(or under mpirun). Both solve to the same ksp_rtol = 1e-10."""
import sys
import time

import ufl
from dolfinx import fem
from mpi4py import MPI

from solver import compat
from solver.numerics import linalg
from solver.case.schema import load_case
from solver.simulation.chemomechanics import ChemoMechanics
from solver.simulation.domain_setup import build_domain
from solver.studies.verify import CASES_DIR

comm = MPI.COMM_WORLD


def lrmo_steps(case, domain, repeats: int, warm_start: bool) -> tuple[float, int, float, int]:
    """(best ms per step, steps, Krylov its per step, preconditioner set-ups)."""
    best = float("inf")
    for _ in range(repeats):
        sim = ChemoMechanics(case, domain)
        sim.lithium.warm_start = warm_start
        comm.barrier()
        t0 = time.perf_counter()
        sim.run()
        comm.barrier()
        best = min(best, time.perf_counter() - t0)
    st = sim.stats
    return 1e3 * best / st.steps, st.steps, st.lithium_iterations / st.steps, sim.lithium.system.setups


def bare_steps(domain, D, c_max, flux, dt, steps: int, repeats: int,
               options: dict | None = None) -> tuple[float, float]:
    """(best ms per step, Krylov its per step) of a plain backward-Euler loop (CG + the
    tuned BoomerAMG unless `options` say otherwise; 1D meshes carry the radial weight)."""
    V = compat.functionspace(domain.msh, "Lagrange", 1)
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    grad, integral = domain.grad, domain.volume_integral
    M = compat.assemble_matrix(fem.form(integral(c_max * u * v)))
    A = compat.assemble_matrix(fem.form(integral((c_max / dt) * u * v + D * c_max * ufl.dot(grad(u), grad(v)))))
    load = fem.Function(V)
    compat.assemble_vector_into(compat.petsc_vec(load), fem.form(domain.surface_integral(flux * v)))
    ksp = linalg.make_ksp(comm, "bare", options or linalg.HYPRE_3D)
    ksp.setOperators(A)
    c, c_old, b = fem.Function(V), fem.Function(V), fem.Function(V)
    its, best = 0, float("inf")
    for _ in range(repeats):
        c_old.x.array[:] = 1.0
        its = 0
        comm.barrier()
        t0 = time.perf_counter()
        for _ in range(steps):
            bv = compat.petsc_vec(b)
            M.mult(compat.petsc_vec(c_old), bv)
            bv.scale(1.0 / dt)
            bv.axpy(-1.0, compat.petsc_vec(load))
            its += linalg.solve(ksp, bv, c)
            c_old.x.array[:] = c.x.array
        comm.barrier()
        best = min(best, time.perf_counter() - t0)
    return 1e3 * best / steps, its / steps


def main(overrides: list[str]) -> None:
    case = load_case(CASES_DIR / "verify_galvanostatic_octant.yaml", ["physics=[lithium]", *overrides])
    domain = build_domain(case, comm)
    core = case.materials.core
    from solver.simulation.drive import galvanostatic_flux_of_case

    flux = galvanostatic_flux_of_case(case)
    lrmo_ms, steps, lrmo_its, setups = lrmo_steps(case, domain, 3, warm_start=True)
    cold_ms, _, cold_its, _ = lrmo_steps(case, domain, 3, warm_start=False)
    dt = case.protocol.end_time.si / steps
    bare_ms, bare_its = bare_steps(domain, core.lithium_diffusivity.si, core.lithium_site_concentration.si,
                                   flux, dt, steps, repeats=3)
    if comm.rank == 0:
        dofs = compat.functionspace(domain.msh, "Lagrange", 1).dofmap.index_map.size_global
        print(f"verification octant: {dofs} P1 dofs, {comm.size} rank(s), {steps} steps (best of 3)")
        print(f"{'loop':34s} {'ms/step':>8s} {'its/step':>9s}")
        print(f"{'bare DOLFINx (fixed dt, set up once)':34s} {bare_ms:8.2f} {bare_its:9.1f}")
        print(f"{'lrmo (LithiumTransport + loop)':34s} {lrmo_ms:8.2f} {lrmo_its:9.1f}"
              f"   ({setups} preconditioner set-ups for {steps} steps)")
        print(f"{'lrmo, zero initial guess':34s} {cold_ms:8.2f} {cold_its:9.1f}")
        print(f"ratio lrmo / bare: {lrmo_ms / bare_ms:.2f} (zero initial guess: {cold_ms / bare_ms:.2f})")


if __name__ == "__main__":
    main(sys.argv[1:])

"""Benchmark: the 3D P2 elasticity solver (solver/physics/mechanics.py) against the previous
configuration (CG + GAMG on P2, zero initial guess) on the verification octant
(cases/verify_galvanostatic_octant.yaml) at three mesh levels: h = 2x, 1x and 0.5x the
verification sizes (surface/bulk 8/12, 4/6, 2/3 nm). For each level and solver it prints
dofs, matrix nonzeros, P2 assembly time, preconditioner set-up time, the cold-start
(first) solve, and the average over a sequence of smoothly varying loads: the closed-form
concentration of the galvanostatic sphere at t = 60, 120, ... s (1C extraction). The
last column is the largest relative difference of the final displacement from the
reference solver's. Prints figures; asserts nothing.

Run: .venv/bin/python benchmarks/elasticity.py [--levels 2,1,0.5] [--loads 10]
     [--methods pmg,gamg]   (also under mpirun -n 2)
"""
import argparse
import resource
import time

import numpy as np
from dolfinx import fem
from mpi4py import MPI

from solver.physics import analytic
from solver import compat
from solver.numerics import linalg
from solver.case.schema import load_case
from solver.physics.materials import MaterialFields
from solver.physics.mechanics import Mechanics
from solver.simulation.domain_setup import build_domain
from solver.studies.verify import CASES_DIR

FARADAY = 96485.33212
METHODS = {  # name: (PETSc options, warm-start vectors)
    "pmg": (linalg.ELASTICITY_3D, 8),
    "pmg-cold": (linalg.ELASTICITY_3D, 0),
    "gamg-warm": (linalg.ELASTICITY_3D_GAMG, 8),
    "gamg": (linalg.ELASTICITY_3D_GAMG, 0),  # the reference
}
REFERENCE = "gamg"

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--levels", default="2,1,0.5", help="mesh sizes as multiples of the verification sizes")
parser.add_argument("--loads", type=int, default=10)
parser.add_argument("--methods", default="pmg,gamg", help=f"from {', '.join(METHODS)}")
parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="extra PETSc option for the first method (e.g. mg_levels_ksp_max_it=3)")
args = parser.parse_args()
comm = MPI.COMM_WORLD


def say(*text):
    if comm.rank == 0:
        print(*text, flush=True)


def galvanostatic_theta(case, theta):
    """A function t -> sets `theta` (P1) to the site fraction of the closed-form sphere at
    time t under the case's C-rate (evaluated at the dof points: memory O(dofs))."""
    m = case.materials.core
    R, D = case.geometry.radius.si, m.lithium_diffusivity.si
    c_max = m.lithium_site_concentration.si
    current_A_m3 = case.protocol.c_rate.si * case.protocol.current_1C.si * m.density.si
    inward_flux = -current_A_m3 * R / 3 / FARADAY  # mol/m^2/s, extraction
    x = np.linalg.norm(theta.function_space.tabulate_dof_coordinates(), axis=1) / R

    def set_time(t):
        dc = analytic.galvanostatic_concentration(x, D * t / R**2, inward_flux, R, D)
        theta.x.array[:] = case.lithium.initial_site_fraction.si + dc / c_max
    return set_time


def run_method(name, domain, materials, theta, load):
    options, warm = METHODS[name]
    options = dict(options)
    if name == args.methods.split(",")[0]:
        options.update(item.split("=", 1) for item in args.set)
    load(60.0)
    mech = Mechanics(domain, materials, theta, 1.0, options, warm_start_vectors=warm)
    its, secs = [], []
    for k in range(1, args.loads + 1):
        load(60.0 * k)
        comm.barrier()
        start = time.perf_counter()
        its.append(mech.solve())
        secs.append(comm.allreduce(time.perf_counter() - start, op=MPI.MAX))
    info = mech.A.getInfo(info=mech.A.InfoType.GLOBAL_SUM)
    row = dict(method=name, dofs=mech.V.dofmap.index_map.size_global * mech.V.dofmap.index_map_bs,
               nnz=int(info["nz_used"]),
               assembly_s=comm.allreduce(mech.timings["assembly_s"], op=MPI.MAX),
               setup_s=comm.allreduce(mech.timings["setup_s"], op=MPI.MAX),
               cold_its=its[0], cold_s=secs[0], avg_its=np.mean(its), avg_s=np.mean(secs),
               its=its, u=compat.petsc_vec(mech.u).copy(),
               peak_MB=comm.allreduce(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, op=MPI.MAX))
    mech.destroy()
    return row


case0 = load_case(CASES_DIR / "verify_galvanostatic_octant.yaml", ["output.fields=false"])
methods = args.methods.split(",")
say(f"ranks: {comm.size}; loads per sequence: {args.loads} (theta of the galvanostatic sphere at "
    f"t = 60 .. {60 * args.loads} s); methods: {', '.join(methods)}; reference: {REFERENCE}")
rows = []
for level in (float(v) for v in args.levels.split(",")):
    surface, bulk = case0.mesh.surface.si * 1e9 * level, case0.mesh.bulk.si * 1e9 * level
    case = load_case(CASES_DIR / "verify_galvanostatic_octant.yaml",
                     [f"mesh.surface.value={surface}", f"mesh.bulk.value={bulk}", "output.fields=false"])
    start = time.perf_counter()
    domain = build_domain(case, comm)
    mesh_s = time.perf_counter() - start
    cells = domain.msh.topology.index_map(3).size_global
    say(f"\nmesh {surface:g}/{bulk:g} nm: {cells} tets, meshing {mesh_s:.1f} s")
    materials = MaterialFields(domain, case)
    theta = fem.Function(compat.functionspace(domain.msh, "Lagrange", 1))
    load = galvanostatic_theta(case, theta)
    results = {}
    for name in methods:
        results[name] = run_method(name, domain, materials, theta, load)
        r = results[name]
        say(f"  {name:10s} its per load: {r['its']}")
    ref = results.get(REFERENCE)
    for name, r in results.items():
        if ref is not None:
            d = r["u"].copy()
            d.axpy(-1.0, ref["u"])
            r["diff"] = d.norm() / ref["u"].norm()
            r["ratio"] = ref["avg_s"] / r["avg_s"]
        rows.append((f"{surface:g}/{bulk:g}", r))

say(f"\n{'mesh nm':8s} {'method':10s} {'dofs':>8s} {'nnz':>10s} {'asm s':>6s} {'setup s':>7s} "
    f"{'cold its':>8s} {'cold s':>7s} {'avg its':>7s} {'avg s':>6s} {'speed-up':>8s} {'|du|/|u|':>9s} {'peak MB':>8s}")
for mesh, r in rows:
    say(f"{mesh:8s} {r['method']:10s} {r['dofs']:8d} {r['nnz']:10d} {r['assembly_s']:6.2f} {r['setup_s']:7.2f} "
        f"{r['cold_its']:8d} {r['cold_s']:7.2f} {r['avg_its']:7.1f} {r['avg_s']:6.2f} "
        f"{r.get('ratio', float('nan')):8.2f} {r.get('diff', float('nan')):9.1e} {r['peak_MB']:8.0f}")
say("speed-up = reference avg s / avg s (same run); |du|/|u| = final displacement vs the reference;\n"
    "peak MB = largest resident set of a rank so far in the run (methods run in the order listed)")

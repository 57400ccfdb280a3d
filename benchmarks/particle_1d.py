"""Benchmark: the 1D particle, lrmo against PyBaMM at equal accuracy, in the same run.

The particle: homogeneous sphere, R = 150 nm, D = 1.5e-18 m^2/s, 1C galvanostatic
extraction, floor not reached (cases/verify_galvanostatic_radial.yaml with D, the end time
and the output times overridden). The accuracy: the worst error of the surface hoop
stress at t = 500, 1000, 2000, 3000 s against the closed form (solver/physics/analytic.py),
relative to the largest closed-form surface hoop stress over those times.

lrmo: build + solve in this process, warm (the JIT cache filled by a first run): mesh,
forms, the time loop with the stress solved at the output times only
(`mechanics.peak_over_time: false`: PyBaMM computes no peak over time either), without
the projection of the output fields for ParaView (`run(..., project_fields=False)`: the
surface hoop stress is read at the stress nodes, as PyBaMM returns only the variables
asked for). The case file is parsed once, outside the timing (a sweep parses it once).
PyBaMM (when importable): the same sphere as a PyBaMM model (Fickian diffusion in
spherical polar coordinates, finite volumes, N cells, the Casadi solver); surface hoop
stress K (c_avg - c_surf), K = Omega E / (3 (1 - nu)). Build (model, discretisation) +
solve, warm as well. PyBaMM may live in another interpreter: set LRMO_PYBAMM_PYTHON to
its python to run that part in a child process (timed there, driven from this run).
The two alternate run by run, so that the load of a shared machine hits both alike.

Prints time (best and median of the repeats), worst error, and the time ratio (best, and
the median of the ratios of alternating pairs); asserts nothing.
Run: .venv/bin/python benchmarks/particle_1d.py [--repeats 20]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import time

import numpy as np

TIMES_S = [500.0, 1000.0, 2000.0, 3000.0]
PARTICLE = dict(radius_m=150e-9, diffusivity_m2_s=1.5e-18, site_concentration_mol_m3=6.08e4,
                youngs_modulus_Pa=150e9, poisson_ratio=0.3, partial_molar_volume_m3_mol=7.1e-7)
# lrmo settings chosen for ~1e-3 (mesh and step control; everything else as the case file)
LRMO_OVERRIDES = [
    "materials.core.lithium_diffusivity=1.5e-18 m^2/s",
    "protocol.end_time=3000 s",
    "output.times.values=[500, 1000, 2000, 3000]",
    "mesh.surface=2 nm", "mesh.bulk=20 nm",
    "time_stepping.initial_step=2 s", "time_stepping.max_step=1000 s",
    "time_stepping.max_change_per_step=0.05",
    # the stress at the output times only, as PyBaMM computes it (no peak over time)
    "mechanics.peak_over_time=false",
]
PYBAMM_CELLS = 64


def exact_surface_hoop_Pa(flux_mol_m2_s: float) -> np.ndarray:
    from solver.physics import analytic

    p = PARTICLE
    return np.array([analytic.galvanostatic_sphere(
        [p["radius_m"]], t, flux_mol_m2_s, p["radius_m"], p["diffusivity_m2_s"],
        p["partial_molar_volume_m3_mol"], p["youngs_modulus_Pa"], p["poisson_ratio"])["sigma_t_Pa"][0]
        for t in TIMES_S])


def worst_error(computed, exact) -> float:
    return float(np.max(np.abs(np.asarray(computed) - exact)) / np.max(np.abs(exact)))


def lrmo_once(case, comm):
    from solver.simulation.chemomechanics import ChemoMechanics
    from solver.simulation.domain_setup import build_domain

    t0 = time.perf_counter()
    sim = ChemoMechanics(case, build_domain(case, comm))
    hoop = {}

    def observe(t, s):
        if t > 0:
            m = s.mechanics
            hoop[t] = m.stress_measures()["sigma_t_Pa"][np.argmax(m.node_radius_m)]

    sim.run(observe, project_fields=False)  # the observer reads the stress at the nodes
    return time.perf_counter() - t0, [hoop[t] for t in TIMES_S], sim


def pybamm_once(flux_mol_m2_s: float, cells: int):
    """(wall s, surface hoop stress at TIMES_S) of the sphere as a PyBaMM model."""
    import pybamm

    p = PARTICLE
    t0 = time.perf_counter()
    R, D = p["radius_m"], p["diffusivity_m2_s"]
    c0 = p["site_concentration_mol_m3"]
    model = pybamm.BaseModel()
    c = pybamm.Variable("c", domain="particle")
    model.rhs = {c: pybamm.div(D * pybamm.grad(c))}
    model.boundary_conditions = {c: {"left": (pybamm.Scalar(0), "Neumann"),
                                     "right": (pybamm.Scalar(-flux_mol_m2_s / D), "Neumann")}}
    model.initial_conditions = {c: pybamm.Scalar(c0)}
    K = p["partial_molar_volume_m3_mol"] * p["youngs_modulus_Pa"] / (3 * (1 - p["poisson_ratio"]))
    model.variables = {"hoop": K * (pybamm.r_average(c) - pybamm.surf(c))}
    r = pybamm.SpatialVariable("r", domain=["particle"], coord_sys="spherical polar")
    geometry = {"particle": {r: {"min": pybamm.Scalar(0), "max": pybamm.Scalar(R)}}}
    mesh = pybamm.Mesh(geometry, {"particle": pybamm.Uniform1DSubMesh}, {r: cells})
    pybamm.Discretisation(mesh, {"particle": pybamm.FiniteVolume()}).process_model(model)
    solution = pybamm.CasadiSolver(mode="fast", rtol=1e-8, atol=1e-6).solve(model, np.array([0.0, *TIMES_S]))
    hoop = solution["hoop"].entries[1:]
    return time.perf_counter() - t0, [float(h) for h in hoop]


class PyBaMMRunner:
    """One PyBaMM run per call, in this interpreter or in a child running
    LRMO_PYBAMM_PYTHON (driven over a pipe; the time is measured in the child)."""

    def __init__(self, flux: float, cells: int):
        self.flux, self.cells, self.child = flux, cells, None
        try:
            import pybamm

            self.version = pybamm.__version__
        except ImportError:
            python = os.environ.get("LRMO_PYBAMM_PYTHON")
            if not python:
                raise
            here = os.path.dirname(os.path.abspath(__file__))
            code = ("import json, sys; sys.path.insert(0, sys.argv[1]); import particle_1d as b; "
                    "import pybamm; print(json.dumps(pybamm.__version__), flush=True)\n"
                    "for line in sys.stdin: print(json.dumps(b.pybamm_once(float(sys.argv[2]), int(sys.argv[3]))), flush=True)")
            self.child = subprocess.Popen([python, "-c", code, here, repr(flux), str(cells)],
                                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            self.version = json.loads(self.child.stdout.readline())

    def __call__(self) -> tuple[float, list[float]]:
        if self.child is None:
            return pybamm_once(self.flux, self.cells)
        self.child.stdin.write("run\n")
        self.child.stdin.flush()
        wall, hoop = json.loads(self.child.stdout.readline())
        return wall, hoop

    def close(self) -> None:
        if self.child is not None:
            self.child.stdin.close()
            self.child.wait()


def main() -> None:
    from mpi4py import MPI

    from solver.case.schema import load_case
    from solver.simulation.drive import galvanostatic_flux_of_case
    from solver.studies.verify import CASES_DIR

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--cells", type=int, default=PYBAMM_CELLS, help="PyBaMM finite volumes")
    args = parser.parse_args()
    case = load_case(CASES_DIR / "verify_galvanostatic_radial.yaml", LRMO_OVERRIDES)
    flux = galvanostatic_flux_of_case(case)
    exact = exact_surface_hoop_Pa(flux)
    try:
        pybamm = PyBaMMRunner(flux, args.cells)
    except ImportError:
        pybamm = None
    # warm both, then alternate so that the load of a shared machine hits both alike
    _, hoop, sim = lrmo_once(case, MPI.COMM_SELF)
    if pybamm is not None:
        pybamm()
    lrmo_times, pybamm_times = [], []
    for _ in range(args.repeats):
        wall, hoop, sim = lrmo_once(case, MPI.COMM_SELF)
        lrmo_times.append(wall)
        if pybamm is not None:
            wall, pb_hoop = pybamm()
            pybamm_times.append(wall)
    print(f"particle: R = 150 nm, D = 1.5e-18 m^2/s, 1C ({flux:.4g} mol/m^2/s), "
          f"surface hoop stress at t = {', '.join(f'{t:g}' for t in TIMES_S)} s")
    print(f"{'model':48s} {'best ms':>8s} {'median ms':>9s} {'worst error':>11s}")
    label = (f"lrmo 1D ({sim.lithium.V.dofmap.index_map.size_global} dofs, {sim.stats.steps} steps, "
             f"{sim.stats.elasticity_solves} stress solves)")
    print(f"{label:48s} {1e3 * min(lrmo_times):8.1f} {1e3 * statistics.median(lrmo_times):9.1f} "
          f"{worst_error(hoop, exact):11.2e}")
    if pybamm is None:
        print("PyBaMM: absent (pip install pybamm, or set LRMO_PYBAMM_PYTHON to a python that has it)")
        return
    pybamm.close()
    label = f"PyBaMM {pybamm.version} ({args.cells} finite volumes, Casadi)"
    print(f"{label:48s} {1e3 * min(pybamm_times):8.1f} {1e3 * statistics.median(pybamm_times):9.1f} "
          f"{worst_error(pb_hoop, exact):11.2e}")
    ratios = [p / l for p, l in zip(pybamm_times, lrmo_times)]
    print(f"PyBaMM time / lrmo time: {min(pybamm_times) / min(lrmo_times):.2f} (best), "
          f"{statistics.median(ratios):.2f} (median of {len(ratios)} alternating pairs)")


if __name__ == "__main__":
    main()

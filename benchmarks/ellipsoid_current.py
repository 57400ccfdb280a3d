"""Benchmark: where the current goes on a prolate ellipsoid with Butler–Volmer kinetics and
one particle potential, at the high-curvature tips (x = +-a) or on the equator (x = 0),
at three mesh sizes, against closed forms.

The local outward Li flux is the law itself at each surface node,
j = SurfaceReaction.flux(theta_s, V) (solver/physics/electrochemistry.py), with the
particle potential V of ParticlePotential: the value the Newton solve puts on that node.

What to expect (interior diffusion, D, site concentration c; theta0 the initial site
fraction; H = (k1 + k2)/2 the mean and K = k1 k2 the Gauss curvature of the surface):

* Fast kinetics, a voltage hold: the surface sits at theta* = U^-1(V), and the flux is the
  normal flux of the Dirichlet problem inside the body. Its short-time expansion is

      j / (D c (theta0 - theta*)) = 1/sqrt(pi D t) - H - (H^2 - K) sqrt(D t / pi) + O(D t)

  (exact without the O(Dt) rest for the sphere, H^2 = K, Crank eq. 6.20; the cylinder's
  series, Crank eq. 5.23, fixes the H^2 - K coefficient). The curvature term is a LOSS: a
  convex point has less material behind it. On a prolate spheroid (a > b = c) the tip has
  H = a/b^2, K = H^2 and the equator H = (1/b + b/a^2)/2, K = 1/a^2, so the tips carry
  less current than the equator from the first instant, 1 - (H_tip - H_eq) sqrt(pi D t).
* Fast kinetics, a constant current: after a transient ~ b^2/D the profile is the
  pseudo-steady one with a uniform surface value, theta = theta_s(t) + beta (1 - x^2/a^2
  - y^2/b^2 - z^2/c^2) (its Laplacian is constant), whose normal flux is proportional to
  |grad| = 2 sqrt(x^2/a^4 + y^2/b^4 + z^2/c^4): tip / equator = b / a exactly.
* Finite kinetics, a constant current: at t = 0 the surface is uniform, so is the current.
  Under the uniform flux the tips deplete first; at one V the local current then changes
  with the local site fraction as

      d ln j / d theta_s = d ln i0 / d theta - (f/2) U'(theta) coth(f eta / 2)   (alpha = 1/2),

  > 0 wherever -U' outweighs the exchange-current factor: the depleted tips carry LESS
  current, and the ratio falls from 1 towards a value between 1 and b/a. Only within a few
  per cent of full lithiation, where d ln i0/d theta = (1 - 2 theta)/(2 theta (1 - theta))
  is large and U' small, can the first term win ((2 theta - 1)/(2 theta (1 - theta)) >
  (f/2)|U'|, i.e. theta_s > ~0.975 for |U'| = 1 V): there the current shifts towards the
  tips for a while.

Scenarios (semi-axes 200, 100, 100 nm; the linear OCV U = 4.0 - x except `lrmo_set`):

  hold_fast        Hold at 3.5 V (theta* = 0.5) from theta0 = 0.6, i0 = 1e4 A/m^2, D = 1e-17 m^2/s
  charge_fast      1C from theta0 = 0.9, i0 = 1e4 A/m^2, D = 1e-16 m^2/s (pseudo-steady in ~5 min)
  charge_kinetics  the same with i0 = 1 A/m^2 (finite kinetics)
  near_full        1C from theta0 = 0.999, i0 = 0.1 A/m^2, D = 1e-17 m^2/s (the i0 factor)
  lrmo_set         the lrmo_sun2025 OCV, i0 and D: 1C for 10 min from theta0 = 0.999,
                   then a hold at 4.1 V for 10 min

Run: .venv/bin/python benchmarks/ellipsoid_current.py [--sizes 10 7.07 5] [--scenarios ...]
Prints, per scenario, tip / equator flux at each output time and mesh size, its observed
order of convergence and Richardson extrapolation, and the closed form where there is
one. Asserts nothing (tests/test_ellipsoid_current.py holds the claims).
"""
from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass

import numpy as np
from mpi4py import MPI

SEMI_AXES_NM = (200.0, 100.0, 100.0)
LINEAR_OCV = "4.0 - x"
SITE_CONCENTRATION_MOL_M3 = 6.08e4
REFINED_BAND_NM = 20.0  # mesh.surface down to this depth (geometry.layer_thickness, no layer)


@dataclass
class Scenario:
    """One run: protocol steps (case-file words), output times, initial site fraction,
    i0 at theta = 1/2 and D (ignored with `lrmo_set`: the set's OCV, i0 and D)."""

    name: str
    steps: list
    times_s: list
    theta0: float
    i0_A_m2: float = 1e4
    D_m2_s: float = 1e-17
    lrmo_set: bool = False


SCENARIOS = {
    "hold_fast": Scenario("hold_fast", ["Hold at 3.5 V for 10 s"], [2.5, 5.0, 10.0], 0.6),
    "charge_fast": Scenario("charge_fast", ["Charge at 1C for 20 minutes"],
                            [10.0, 60.0, 300.0, 1200.0], 0.9, D_m2_s=1e-16),
    "charge_kinetics": Scenario("charge_kinetics", ["Charge at 1C for 20 minutes"],
                                [10.0, 60.0, 300.0, 1200.0], 0.9, i0_A_m2=1.0, D_m2_s=1e-16),
    "near_full": Scenario("near_full", ["Charge at 1C for 5 minutes"],
                          [5.0, 20.0, 60.0, 300.0], 0.999, i0_A_m2=0.1),
    "lrmo_set": Scenario("lrmo_set", ["Charge at 1C for 10 minutes", "Hold at 4.1 V for 10 minutes"],
                         [60.0, 300.0, 600.0, 900.0, 1200.0], 0.999, lrmo_set=True),
}


def ellipsoid_case(scenario: Scenario, surface_nm: float, semi_axes_nm=SEMI_AXES_NM):
    """The validated Case: lithium only (no mechanics), the ellipsoid meshed at
    `surface_nm` down to REFINED_BAND_NM and growing to 3 x `surface_nm` inside."""
    from solver.case.schema import validate_case

    given = "benchmark: a round value; only the comparison matters"
    if scenario.lrmo_set:
        core = {"parameter_set": "lrmo_sun2025", "open_circuit_voltage": "from_set",
                "exchange_current_density": "from_set", "charge_transfer_coefficient": "from_set"}
    else:
        core = {
            "density": {"value": 4.3, "unit": "g/cm^3", "source": given},
            "lithium_diffusivity": {"value": scenario.D_m2_s, "unit": "m^2/s", "source": given},
            "lithium_site_concentration": {"value": SITE_CONCENTRATION_MOL_M3, "unit": "mol/m^3",
                                           "source": given},
            "youngs_modulus": {"value": 150, "unit": "GPa", "source": given},
            "poisson_ratio": {"value": 0.3, "source": given},
            "partial_molar_volume": {"value": 7.1e-7, "unit": "m^3/mol", "source": given},
            "open_circuit_voltage": {"expression": LINEAR_OCV, "source": "linear: U' = -1 V"},
            "exchange_current_density": {"value": scenario.i0_A_m2, "unit": "A/m^2", "source": given},
        }
    return validate_case({
        "name": f"ellipsoid_current_{scenario.name}",
        "description": "Prolate ellipsoid with Butler-Volmer kinetics: tip vs equator current.",
        "physics": ["lithium"],
        "geometry": {"shape": "ellipsoid", "semi_axes": [f"{s} nm" for s in semi_axes_nm],
                     "layer_thickness": f"{REFINED_BAND_NM} nm"},
        "mesh": {"surface": f"{surface_nm} nm", "bulk": f"{3 * surface_nm} nm"},
        # a layer identical to the core: the band only refines the mesh
        "materials": {"core": core, "layer": {"site_deficiency_at_surface": 0.0}},
        "lithium": {"initial_site_fraction": scenario.theta0, "min_site_fraction": 0.0},
        "protocol": {"current_1C": {"value": 250, "unit": "mA/g", "source": "paper: 1C = 250 mA/g"},
                     "steps": scenario.steps},
        "time_stepping": {"max_change_per_step": 0.005, "initial_step": "1e-3 s", "max_step": "10 s"},
        "output": {"times": {"values": scenario.times_s, "unit": "s"}, "fields": False},
    })


class SurfaceFluxProbe:
    """Observer: the outward Li flux j(theta_s, V) (mol/m^2/s) at the tips (x = +-a) and on
    the equator (x = 0) of a spheroid about x, at every output time. Collective; every rank
    gets the values.

    A single node's flux carries the local mesh's irregularity (an O(h) scatter), so the
    values reported are least-squares fits of the nodal fluxes over a fixed patch, weighted
    by the nodes' surface weights: on the tip caps (a - |x| < TIP_CAP) j = c0 + c1 (a - |x|)
    + c2 (a - |x|)^2, on the band |x| < EQUATOR_BAND j = c0 + c1 x^2 (the exact j depends on x
    only, by the axial symmetry); c0 is the value at the tip or on the equator. The nodal
    values at (+-a, 0, 0) and (0, +-b, 0), (0, 0, +-b) are kept as `tip_node`, `equator_node`."""

    TIP_CAP_M = 10e-9  # depth of the tip cap (its radius is sqrt(2 * 50 nm * 10 nm) = 32 nm)
    EQUATOR_BAND_M = 20e-9

    def __init__(self, sim, semi_axes_m):
        potential = sim.potential
        self.comm = sim.domain.comm
        self.surface = potential.surface
        self.a = semi_axes_m[0]
        xyz = sim.lithium.V.tabulate_dof_coordinates()[self.surface]
        self.x = xyz[:, 0]
        self.weights = potential.weights
        b, c = semi_axes_m[1], semi_axes_m[2]
        targets = {"tip_node": [[self.a, 0, 0], [-self.a, 0, 0]],
                   "equator_node": [[0, b, 0], [0, -b, 0], [0, 0, c], [0, 0, -c]]}
        self.nodes = {}
        self.distance_m = 0.0
        for name, points in targets.items():
            picked = []
            for p in np.asarray(points):
                d = np.linalg.norm(xyz - p, axis=1) if len(xyz) else np.array([np.inf])
                i = int(np.argmin(d))
                best = self.comm.allreduce((float(d[i]), self.comm.rank), op=MPI.MINLOC)
                picked.append(i if best[1] == self.comm.rank else -1)
                self.distance_m = max(self.distance_m, best[0])
            self.nodes[name] = picked
        self.rows: list[dict] = []

    def _fit(self, s: np.ndarray, j: np.ndarray, w: np.ndarray, degree: int) -> float:
        """c0 of the weighted least-squares polynomial in s (gathered on every rank)."""
        s, j, w = (np.concatenate(self.comm.allgather(v)) for v in (s, j, w))
        scale = s.max() if s.size and s.max() > 0 else 1.0
        basis = np.vander(s / scale, degree + 1, increasing=True) * np.sqrt(w)[:, None]
        coeffs, *_ = np.linalg.lstsq(basis, j * np.sqrt(w), rcond=None)
        return float(coeffs[0])

    def __call__(self, t, sim):
        theta = sim.lithium.theta.x.array[self.surface]
        j, _, _ = sim.reaction.flux(theta, sim.potential.voltage_V)
        row = {"t_s": t, "voltage_V": sim.potential.voltage_V, "mean": sim.potential.mean_flux()}
        depth = self.a - np.abs(self.x)
        cap = depth < self.TIP_CAP_M
        band = np.abs(self.x) < self.EQUATOR_BAND_M
        row["tip"] = self._fit(depth[cap], j[cap], self.weights[cap], 2)
        row["equator"] = self._fit(self.x[band] ** 2, j[band], self.weights[band], 1)
        row["theta_tip"] = self._fit(depth[cap], theta[cap], self.weights[cap], 2)
        row["theta_equator"] = self._fit(self.x[band] ** 2, theta[band], self.weights[band], 1)
        for name, picked in self.nodes.items():
            local = np.array([[j[i], 1.0] if i >= 0 else [0.0, 0.0] for i in picked])
            values = self.comm.allreduce(local, op=MPI.SUM)
            row[name] = float(values[:, 0].sum() / values[:, 1].sum())
        self.rows.append(row)


def run_scenario(scenario: Scenario, surface_nm: float, semi_axes_nm=SEMI_AXES_NM,
                 comm=MPI.COMM_WORLD) -> tuple[list[dict], dict]:
    """Rows (t_s, voltage_V, mean, tip, equator, theta_tip, theta_equator, tip_node,
    equator_node; SurfaceFluxProbe) at the output times after 0, and mesh info."""
    from solver.simulation.chemomechanics import ChemoMechanics
    from solver.simulation.domain_setup import build_domain

    case = ellipsoid_case(scenario, surface_nm, semi_axes_nm)
    t0 = time.perf_counter()
    domain = build_domain(case, comm)
    sim = ChemoMechanics(case, domain)
    t_mesh = time.perf_counter() - t0
    probe = SurfaceFluxProbe(sim, [s * 1e-9 for s in semi_axes_nm])
    sim.run(probe, project_fields=False)
    info = {"cells": domain.msh.topology.index_map(3).size_global,
            "dofs": sim.lithium.V.dofmap.index_map.size_global, "steps": sim.stats.steps,
            "probe_distance_m": probe.distance_m, "mesh_s": t_mesh,
            "solve_s": time.perf_counter() - t0 - t_mesh,
            "D_m2_s": case.materials.core.lithium_diffusivity.si,
            "c_max": case.materials.core.lithium_site_concentration.si}
    return [r for r in probe.rows if r["t_s"] > 0], info


# -- closed forms ---------------------------------------------------------------------
def spheroid_curvatures(a: float, b: float) -> dict[str, tuple[float, float]]:
    """(H, K) at the tip (x = a) and on the equator of the spheroid x^2/a^2 + (y^2 + z^2)/b^2 = 1."""
    tip = a / b**2
    return {"tip": (tip, tip**2), "equator": ((1 / b + b / a**2) / 2, 1 / a**2)}


def dirichlet_short_time_flux(t: float, D: float, H: float, K: float) -> float:
    """j / (D c (theta0 - theta*)) of the interior Dirichlet problem, 1/m, to O(sqrt(Dt))."""
    return 1 / math.sqrt(math.pi * D * t) - H - (H**2 - K) * math.sqrt(D * t / math.pi)


def hold_ratio_short_time(t: float, D: float, a: float, b: float) -> float:
    curv = spheroid_curvatures(a, b)
    return dirichlet_short_time_flux(t, D, *curv["tip"]) / dirichlet_short_time_flux(t, D, *curv["equator"])


def pseudo_steady_ratio(a: float, b: float) -> float:
    """Constant current, fast kinetics, t >> b^2/D: |grad(x^2/a^2 + ...)| at the tip over the equator."""
    return b / a


# -- convergence ----------------------------------------------------------------------
def observed_order(h: list[float], q: list[float]) -> tuple[float, float]:
    """(p, extrapolated q) from three meshes with a constant refinement ratio r = h0/h1 = h1/h2:
    p = ln((q0 - q1)/(q1 - q2)) / ln r, q_inf = q2 + (q2 - q1)/(r^p - 1). nan when the
    differences do not shrink monotonically."""
    r = h[0] / h[1]
    d01, d12 = q[0] - q[1], q[1] - q[2]
    if d12 == 0 or d01 / d12 <= 0:
        return float("nan"), float("nan")
    p = math.log(d01 / d12) / math.log(r)
    if p <= 0:
        return p, float("nan")
    return p, q[2] + (q[2] - q[1]) / (r**p - 1)


def closed_form(scenario: Scenario, t: float, info: dict, semi_axes_nm=SEMI_AXES_NM) -> float:
    a, b = semi_axes_nm[0] * 1e-9, semi_axes_nm[1] * 1e-9
    if scenario.name == "hold_fast":
        return hold_ratio_short_time(t, info["D_m2_s"], a, b)
    if scenario.name == "charge_fast" and t * info["D_m2_s"] / b**2 > 10:
        return pseudo_steady_ratio(a, b)
    return float("nan")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[10.0, 7.07, 5.0],
                        help="mesh.surface in nm, coarse to fine, constant ratio (default 10 7.07 5)")
    parser.add_argument("--scenarios", nargs="+", default=list(SCENARIOS), choices=list(SCENARIOS))
    args = parser.parse_args(argv)
    rank0 = MPI.COMM_WORLD.rank == 0
    for name in args.scenarios:
        scenario = SCENARIOS[name]
        results = []
        for h in args.sizes:
            rows, info = run_scenario(scenario, h)
            results.append((h, rows, info))
            if rank0:
                print(f"[{name}] h = {h:g} nm: {info['cells']} cells, {info['dofs']} dofs, "
                      f"{info['steps']} steps, mesh {info['mesh_s']:.0f} s, solve {info['solve_s']:.0f} s, "
                      f"probe off the axes by {info['probe_distance_m']:.1e} m", flush=True)
        if not rank0:
            continue
        print(f"\n## {name}: tip / equator outward Li flux (steps: {'; '.join(scenario.steps)})")
        print("| t (s) | " + " | ".join(f"h = {h:g} nm" for h in args.sizes)
              + " | observed order | extrapolated | closed form | nodal ratio, finest | theta_s tip, equator | V (V) |")
        print("|---" * (len(args.sizes) + 7) + "|")
        for k, t in enumerate(scenario.times_s):
            ratios = [rows[k]["tip"] / rows[k]["equator"] for _, rows, _ in results]
            p, q_inf = (observed_order(args.sizes, ratios) if len(ratios) == 3
                        else (float("nan"), float("nan")))
            finest = results[-1][1][k]
            exact = closed_form(scenario, t, results[-1][2])
            print(f"| {t:g} | " + " | ".join(f"{q:.4f}" for q in ratios)
                  + f" | {p:.2f} | {q_inf:.4f} | {exact:.4f} | {finest['tip_node'] / finest['equator_node']:.4f} | "
                  f"{finest['theta_tip']:.4f}, {finest['theta_equator']:.4f} | {finest['voltage_V']:.4f} |")
        print(flush=True)


if __name__ == "__main__":
    main()

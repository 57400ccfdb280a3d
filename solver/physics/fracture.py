"""Variational phase-field fracture, AT1, with the volumetric-deviatoric energy split.

The displacement u and the damage d in [0, 1] minimise, at each load step, the energy

    Pi(u, d) = int g(d) psi+(eps) + psi-(eps) dx + 3 G_c / 8 int (d / l + l |grad d|^2) dx

(Ambrosio-Tortorelli, "AT1": w(d) = d, c_w = 8/3; Pham, Amor, Marigo and Maurini, Int.
J. Damage Mech. 20, 618, 2011), under d >= d_previous (a crack does not heal) and d <= 1.

- Degradation: g(d) = (1 - d)^2 + k_res, k_res a small residual stiffness.
- Split (Amor, Marigo and Maurini, J. Mech. Phys. Solids 57, 1209, 2009), in n = the
  model's dimension: psi+ = K_n/2 <tr eps>+^2 + mu eps_D : eps_D, psi- = K_n/2 <tr eps>-^2,
  K_n = lambda + 2 mu / n, eps_D = eps - tr(eps)/n I. Volumetric compression stores
  energy that damage does not degrade and does not drive damage; shear does.
- Strength: AT1 has an elastic phase. A bar in uniaxial tension (nu = 0) stays at d = 0
  up to sigma_c = sqrt(3 G_c E / (8 l)), where the homogeneous state softens and the
  damage localises: l = 3 G_c E / (8 sigma_c^2) ties l to the strength and toughness.

The solver is alternate minimisation: u at fixed d (Newton with SNES, nonlinear only
through the split's brackets), then d at fixed u, the bound-constrained quadratic
problem solved by PETSc's variational-inequality Newton (`vinewtonrsls`) with the bounds
[d_previous, 1]; repeated until the damage changes by less than `tol` in the max norm.
Physics only: no files, no case; the caller owns the mesh, the boundary conditions and
the loading.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import ufl
from dolfinx import fem
from mpi4py import MPI

from solver import compat
from solver.numerics.snes import SNESSolver

# AT1: w(d) = d, c_w = 4 int_0^1 sqrt(w) = 8/3, so the fracture energy is G_c/c_w (w/l + l|grad d|^2)
AT1_C_W = 8.0 / 3.0

DISPLACEMENT_OPTIONS = {"snes_type": "newtonls", "snes_linesearch_type": "basic",
                        "snes_rtol": 1e-10, "snes_atol": 1e-12, "snes_max_it": 30}
DAMAGE_OPTIONS = {"snes_type": "vinewtonrsls", "snes_linesearch_type": "basic",
                  "snes_rtol": 1e-10, "snes_atol": 1e-12, "snes_max_it": 200}


@dataclass(frozen=True)
class FractureParameters:
    """Elastic constants and the AT1 phase-field inputs, SI units."""

    youngs_modulus_Pa: float
    poisson_ratio: float
    toughness_J_m2: float  # G_c, the critical energy release rate
    length_scale_m: float  # l, the phase-field length
    residual_stiffness: float = 1e-6  # k_res in g(d) = (1 - d)^2 + k_res

    def __post_init__(self):
        checks = {"youngs_modulus_Pa": self.youngs_modulus_Pa > 0,
                  "poisson_ratio": -1 < self.poisson_ratio < 0.5,
                  "toughness_J_m2": self.toughness_J_m2 > 0,
                  "length_scale_m": self.length_scale_m > 0,
                  "residual_stiffness": 0 <= self.residual_stiffness < 1}
        for key, ok in checks.items():
            if not (ok and math.isfinite(getattr(self, key))):
                raise ValueError(f"{key} = {getattr(self, key)!r} is out of range")

    @property
    def lame_lambda_Pa(self) -> float:
        E, nu = self.youngs_modulus_Pa, self.poisson_ratio
        return E * nu / ((1 + nu) * (1 - 2 * nu))

    @property
    def shear_modulus_Pa(self) -> float:
        return self.youngs_modulus_Pa / (2 * (1 + self.poisson_ratio))

    @property
    def critical_stress_Pa(self) -> float:
        """AT1 strength of a bar in uniaxial tension: sqrt(3 G_c E / (8 l))."""
        return math.sqrt(3 * self.toughness_J_m2 * self.youngs_modulus_Pa / (8 * self.length_scale_m))


def at1_length_scale_m(youngs_modulus_Pa: float, toughness_J_m2: float, strength_Pa: float) -> float:
    """The AT1 length l that gives the strength sigma_c: l = 3 G_c E / (8 sigma_c^2)."""
    return 3 * toughness_J_m2 * youngs_modulus_Pa / (8 * strength_Pa ** 2)


def at1_onset_energy_density(params: FractureParameters) -> float:
    """psi_c = 3 G_c / (16 l) (J/m^3): AT1 keeps d = 0 at a point while psi+ < psi_c (the
    first variation of the energy in d at d = 0 is 3 G_c / (8 l) - 2 psi+); in a bar
    psi_c = sigma_c^2 / (2 E)."""
    return 3 * params.toughness_J_m2 / (16 * params.length_scale_m)


def spherical_positive_energy_density(sigma_r_Pa, sigma_t_Pa, params: FractureParameters):
    """psi+ (J/m^3) of the volumetric-deviatoric split (n = 3) for the spherically symmetric
    stress diag(sigma_r, sigma_t, sigma_t) of a homogeneous isotropic material:
    <tr sigma>+^2 / (18 K) + sigma_D : sigma_D / (4 mu), sigma_D : sigma_D = 2/3 (sigma_r - sigma_t)^2.
    At a free surface (sigma_r = 0) it is sigma_t^2 (1 - nu) / E, so the surface's AT1 onset
    is sigma_t = sigma_c / sqrt(2 (1 - nu)). Arrays in, array out."""
    sr, st = np.asarray(sigma_r_Pa, dtype=float), np.asarray(sigma_t_Pa, dtype=float)
    bulk = params.lame_lambda_Pa + 2 * params.shear_modulus_Pa / 3
    trace = np.clip(sr + 2 * st, 0.0, None)
    return trace ** 2 / (18 * bulk) + (sr - st) ** 2 / (6 * params.shear_modulus_Pa)


def strain(u):
    """Small strain, as an n x n tensor; in 1D u is a scalar and eps = [[u']]."""
    if u.ufl_shape == ():
        return ufl.as_matrix([[u.dx(0)]])
    return ufl.sym(ufl.grad(u))


def split_energy_densities(eps, params: FractureParameters, lame=None):
    """(psi+, psi-) of the volumetric-deviatoric split (Amor et al. 2009) in the strain's
    dimension n: psi+ + psi- = lambda/2 tr(eps)^2 + mu eps:eps. `lame` = (lambda, mu) as
    UFL expressions (e.g. per region) instead of the parameters' constants."""
    n = eps.ufl_shape[0]
    lmbda, mu = (params.lame_lambda_Pa, params.shear_modulus_Pa) if lame is None else lame
    bulk_n = lmbda + 2 * mu / n
    tr = ufl.tr(eps)
    tr_plus, tr_minus = (tr + abs(tr)) / 2, (tr - abs(tr)) / 2
    eps_dev = eps - tr / n * ufl.Identity(n)
    return bulk_n / 2 * tr_plus ** 2 + mu * ufl.inner(eps_dev, eps_dev), bulk_n / 2 * tr_minus ** 2


def degradation(d, residual_stiffness):
    """g(d) = (1 - d)^2 + k_res."""
    return (1 - d) ** 2 + residual_stiffness


def degraded_stress(elastic_strain, params: FractureParameters, d, lame=None):
    """The Cauchy stress of the degraded energy, d/d eps [g(d) psi+ + psi-] with the split
    of `split_energy_densities` at the elastic strain eps (n x n UFL): g(d) sigma+ + sigma-,
    sigma+ = K_n <tr eps>+ I + 2 mu eps_D, sigma- = K_n <tr eps>- I. At d = 0 with
    k_res = 0 it is Hooke's lambda tr(eps) I + 2 mu eps; volumetric compression is never
    degraded. Derived by UFL from the energy, so that it is the stress of the very split
    the phase field minimises."""
    eps = ufl.variable(elastic_strain)
    psi_plus, psi_minus = split_energy_densities(eps, params, lame)
    return ufl.diff(degradation(d, params.residual_stiffness) * psi_plus + psi_minus, eps)


def absolute_tolerances(params: FractureParameters, volume: float, relative: float = 1e-14,
                        smallest_cell_m: float | None = None) -> tuple[dict, dict]:
    """(displacement, damage) SNES options with `snes_atol` in the body's own units: a
    force E V^(2/3) and an energy G_c V / l, times `relative`. The defaults' 1e-12 (N, J)
    exceed a nanoparticle's whole residual (SNES would stop before its first step).

    With `smallest_cell_m` = h the damage's is raised by (l / h)^2 when l > h: the gradient
    term G_c l / h^2 then dominates each node's residual, and its round-off, about 1e-16
    of that term, would otherwise lie above the tolerance (a 1D sphere with l = 140 nm and
    h = 0.33 nm stalled at 1e-28 J against 1e-28 for 200 Newton steps)."""
    scale = 1.0 if smallest_cell_m is None else max(1.0, (params.length_scale_m / smallest_cell_m) ** 2)
    return ({"snes_atol": relative * params.youngs_modulus_Pa * volume ** (2 / 3)},
            {"snes_atol": relative * scale * params.toughness_J_m2 / params.length_scale_m * volume})


def rigid_body_pins(V) -> list:
    """Six point constraints that remove the rigid-body motion of a 3D vector space `V`
    without loading the body (the "3-2-1" support): all three components at the node A
    nearest the centre of the bounding box, the two components other than x at the node B
    of largest x, and at the node C farthest from the line AB the component k largest in
    |AB x AC|. A rigid motion a + w x (x - x_A) with these six values zero has a = 0, then
    w parallel to AB (AB_x != 0), then w = 0: the six are independent.

    Exact for a self-equilibrated load such as an eigenstrain: the energy does not change
    under a rigid motion (eps = 0), so its derivative along each of the six modes is zero
    for every u, which makes the six reactions at the pins zero; the pinned solution is
    the free body's, up to a rigid motion, stress and damage identical. Collective: the
    points are chosen from every rank's vertices (the same on every rank, ties broken by
    the coordinates) and each rank pins its local copy (owned or ghost) of them."""
    from dolfinx import mesh as dmesh

    msh = V.mesh
    comm = msh.comm
    tdim = msh.topology.dim
    if tdim != 3 or V.dofmap.index_map_bs != 3:
        raise ValueError("rigid_body_pins: a 3D vector space")
    x = msh.geometry.x
    lo = np.min(comm.allgather(x.min(axis=0, initial=np.inf)), axis=0)
    hi = np.max(comm.allgather(x.max(axis=0, initial=-np.inf)), axis=0)
    scale = float(np.linalg.norm(hi - lo))

    def best(score):  # the global node of smallest score (coordinates break ties)
        local = (float(score.min()), *x[int(np.argmin(score))]) if len(x) else (math.inf, 0.0, 0.0, 0.0)
        return np.array(min(comm.allgather(local))[1:])

    a = best(np.linalg.norm(x - (lo + hi) / 2, axis=1))
    b = best(-x[:, 0])
    ab = b - a
    if abs(ab[0]) < 1e-6 * scale:
        raise ValueError("rigid_body_pins: a degenerate body (no extent along x)")
    c = best(-np.linalg.norm(np.cross(ab, x - a), axis=1))
    k = int(np.argmax(np.abs(np.cross(ab, c - a))))
    tol = 1e-9 * scale
    msh.topology.create_connectivity(0, tdim)  # vertex dofs are located through their cells
    bcs = []
    for point, components in ((a, (0, 1, 2)), (b, (1, 2)), (c, (k,))):
        vertices = dmesh.locate_entities(msh, 0, lambda y, p=point: np.linalg.norm(y.T - p, axis=1) < tol)
        for i in components:
            Vi = V.sub(i)
            dofs = fem.locate_dofs_topological(Vi, 0, vertices)
            bcs.append(fem.dirichletbc(compat.scalar_type(0.0), dofs, Vi))
    return bcs


class StaggeredNotConverged(RuntimeError):
    """The alternate minimisation hit its iteration limit."""


@dataclass
class StaggeredResult:
    iterations: int  # alternate-minimisation sweeps (u then d)
    damage_change: float  # max |d_k - d_(k-1)| of the last sweep


class PhaseFieldFracture:
    """u in `V` (scalar on a 1D mesh, vector otherwise) with Dirichlet `bcs` (the caller
    changes their values between steps), d in P1 on the same mesh. `toughness_factor`
    (a UFL expression, default 1) scales G_c in space: a weak spot, a grain boundary.
    `displacement_options` and `damage_options` update the SNES/KSP options (LU by
    default: DISPLACEMENT_OPTIONS, DAMAGE_OPTIONS). `eigenstrain` (a UFL scalar e, e.g.
    the chemical strain Omega c_max (theta - theta_0) / 3, or an n x n UFL tensor eps*,
    e.g. a grain's anisotropic lattice strain) makes the energy that of the elastic strain
    eps(u) - e I (eps(u) - eps*); `lame` = (lambda, mu) UFL fields replace the constants.
    A body with no Dirichlet condition (a whole particle under its eigenstrain) needs
    `bcs` = rigid_body_pins(V): the LU of the u solve is then not singular.
    `quadrature_degree` caps the forms' quadrature (default: UFL's estimate, which for an
    eigenstrain through tables of theta, conditionals, runs to ~1700 points per cell).

    Spherical symmetry (the 1D radial model): `strain_operator` the mechanics' own strain
    (Domain.strain: diag(du/dr, u/r, u/r) for the scalar u_r) and `weight` its measure's
    weight (Domain.weight, 4 pi r^2), so that the energy is the 3D energy of a radially
    symmetric state, split in n = 3, per whole particle. The damage d(r) is then a
    spherical shell: it degrades the hoop tension uniformly around the sphere."""

    def __init__(self, V, params: FractureParameters, bcs, tol: float = 1e-5,
                 max_iterations: int = 1000, toughness_factor=1.0,
                 displacement_options: dict | None = None, damage_options: dict | None = None,
                 eigenstrain=None, lame=None, strain_operator=None, weight=1.0, quadrature_degree=None):
        msh = V.mesh
        self.params, self.tol, self.max_iterations = params, tol, max_iterations
        self.comm = msh.comm
        self.u = fem.Function(V, name="displacement")
        D = compat.functionspace(msh, "Lagrange", 1)
        self.d = fem.Function(D, name="damage")
        self.d_previous = fem.Function(D, name="damage_previous_step")  # lower bound
        self.d_upper = fem.Function(D)
        self.d_upper.x.array[:] = 1.0
        self._d_sweep = np.zeros_like(self.d.x.array)

        dx = ufl.dx(domain=msh, metadata={} if quadrature_degree is None else {"quadrature_degree": quadrature_degree})
        eps = (strain_operator or strain)(self.u)
        if eigenstrain is not None:  # a scalar e (isotropic, e I) or the n x n tensor itself
            eps = eps - (eigenstrain * ufl.Identity(eps.ufl_shape[0]) if eigenstrain.ufl_shape == ()
                         else eigenstrain)
        psi_plus, psi_minus = split_energy_densities(eps, params, lame)
        self.psi_plus = psi_plus
        # G_c, l and k_res as Constants: a new value compiles no new form
        k_res, ell, G_c = (compat.constant(msh, v) for v in
                           (params.residual_stiffness, params.length_scale_m, params.toughness_J_m2))
        elastic = (degradation(self.d, k_res) * psi_plus + psi_minus) * weight * dx
        fracture = (toughness_factor * G_c / AT1_C_W * (self.d / ell + ell * ufl.inner(ufl.grad(self.d), ufl.grad(self.d)))
                    * weight * dx)
        self._elastic, self._fracture = fem.form(elastic), fem.form(fracture)
        self._elastic_ufl = elastic
        total = elastic + fracture
        self.displacement_solver = SNESSolver(ufl.derivative(total, self.u, ufl.TestFunction(V)), self.u, bcs,
                                              {**DISPLACEMENT_OPTIONS, **(displacement_options or {})},
                                              name="fracture_u")
        self.damage_solver = SNESSolver(ufl.derivative(total, self.d, ufl.TestFunction(D)), self.d, (),
                                        {**DAMAGE_OPTIONS, **(damage_options or {})}, name="fracture_d")

    def solve_step(self) -> StaggeredResult:
        """Alternate minimisation at the current boundary values, until
        max |d_k - d_(k-1)| < tol; then the damage becomes the next step's lower bound."""
        change = math.inf
        for k in range(1, self.max_iterations + 1):
            self._d_sweep[:] = self.d.x.array
            self.displacement_solver.solve()
            self.damage_solver.solve(self.d_previous, self.d_upper)
            local = np.max(np.abs(self.d.x.array - self._d_sweep), initial=0.0)
            change = self.comm.allreduce(local, op=MPI.MAX)
            if change < self.tol:
                self.d_previous.x.array[:] = self.d.x.array
                return StaggeredResult(k, change)
        raise StaggeredNotConverged(f"alternate minimisation: max |delta d| = {change:.3g} after "
                                    f"{self.max_iterations} sweeps (tol {self.tol:g})")

    def _sum(self, form) -> float:
        return self.comm.allreduce(fem.assemble_scalar(form), op=MPI.SUM)

    def elastic_energy(self) -> float:
        """int g(d) psi+ + psi- dx (J, or J/m in 2D and J/m^2 in 1D: per unit depth/area;
        J of the whole sphere with the radial weight 4 pi r^2)."""
        return self._sum(self._elastic)

    def fracture_energy(self) -> float:
        """3 G_c / 8 int d / l + l |grad d|^2 dx (units as elastic_energy)."""
        return self._sum(self._fracture)

    def virtual_work_form(self, w):
        """The form int sigma(u, d) : eps(w) dx: with w the lift of the loaded boundary's
        unit displacement (w = 1 there, 0 on the other Dirichlet boundaries) it is the
        reaction force conjugate to the imposed displacement."""
        return fem.form(ufl.derivative(self._elastic_ufl, self.u, w))

    def assemble(self, form) -> float:
        """A scalar form summed over the ranks."""
        return self._sum(form)

    def destroy(self) -> None:
        self.displacement_solver.destroy()
        self.damage_solver.destroy()

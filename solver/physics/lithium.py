"""Li+ transport in the site-fraction formulation (docs/model.md §2).

    d(c_max theta)/dt = div( D c_max grad(theta) - D c_max theta Omega/(R_g T) grad(sigma_h) )

with c = c_max(r) theta. The Li-deficient layer has fewer sites (lower c_max) but the
same site fraction at t = 0, so an unloaded layered particle is at rest. On the outer
surface either an outward (extraction) flux j in mol/m^2/s is imposed, or theta is held
at the composition floor. The stress-drift term (two-way coupling) is optional and lagged
by one step.

Time discretisation: variable-step BDF2 (backward Euler on the first step). The matrices
M (c_max-weighted mass) and K (stiffness) are assembled once; the system matrix
a0/dt M + K is updated in place when a0/dt changes, with the preconditioner (or the LU
factors) cached per step size (solver/numerics/linalg.py ShiftedSystem); the right-hand side is
M h + loads, the hold's Dirichlet lifting two precomputed vectors.
"""
from __future__ import annotations

import ufl
from dolfinx import fem
from mpi4py import MPI
from petsc4py import PETSc

from meshes.markers import FACET_TAGS
from solver import compat
from solver.numerics import linalg, collectives
from solver.physics import grain_boundary_transport as gbt
from solver.physics.domain import Domain
from solver.physics.materials import MaterialFields
from solver.case.units import GAS_CONSTANT_J_MOL_K


class LithiumTransport:
    def __init__(
        self,
        domain: Domain,
        materials: MaterialFields,
        initial_site_fraction: float,
        floor_site_fraction: float,
        stress_drift: tuple | None = None,
        petsc_options: dict | None = None,
        boundary_resistance_s_m: float | None = None,
        diffusivity_factor=None,
        site_availability=None,
        diffusivity_multiplier=None,
    ):
        """`stress_drift = (sigma_h, temperature_K)` switches on two-way coupling;
        sigma_h is a P1 Function kept up to date by the caller. `boundary_resistance_s_m`
        (grains.boundary_resistance): theta is DG1, discontinuous across the grain
        boundaries (solver/physics/grain_boundary_transport.py); None: P1, continuous.
        `diffusivity_factor` (solver/physics/property_tables.py DiffusivityFactor):
        D(theta) = D f(theta), a nonlinear stiffness: `residual_form` and `jacobian_form`
        below, for Newton (solver/physics/particle_potential.py); None: D constant.
        `site_availability` a (a P1 Function kept up to date by the caller, lagged one
        step): the share of the Li sites left by the oxygen vacancies
        (solver/physics/vacancies.py); the flux is then driven by the occupancy of the
        sites left, J = -D c_max a grad(theta/a) = -D c_max (grad theta - theta grad ln a).
        `diffusivity_multiplier` m (a P1 Function kept up to date by the caller, lagged one
        step; e.g. 1 + (k - 1) d along crack faces, solver/simulation/fracture_submodel.py):
        D m in every term; after the caller changes it, `refresh_stiffness()`."""
        msh = domain.msh
        self.domain = domain
        self._allreduce = collectives.allreduce(domain.comm)
        self.discontinuous = boundary_resistance_s_m is not None
        if self.discontinuous and domain.radial:
            raise ValueError("grains.boundary_resistance needs a 2D/3D mesh with grain boundaries")
        self.V = compat.functionspace(msh, "DG" if self.discontinuous else "Lagrange", 1)
        self.theta = fem.Function(self.V, name="theta_Li")
        self.theta_n = fem.Function(self.V)
        self.theta_nm1 = fem.Function(self.V)
        for f in (self.theta, self.theta_n, self.theta_nm1):
            f.x.array[:] = initial_site_fraction
        self.c_max = materials.site_concentration()
        D = materials.diffusivity
        if diffusivity_multiplier is not None:
            if self.discontinuous:
                raise ValueError("a diffusivity multiplier (fracture.crack_diffusivity_factor) with "
                                 "grains.boundary_resistance is not supported")
            D = D * diffusivity_multiplier
        grad = domain.grad

        u, v = ufl.TrialFunction(self.V), ufl.TestFunction(self.V)
        mass = domain.volume_integral(self.c_max * u * v)
        stiffness = domain.volume_integral(D * self.c_max * ufl.dot(grad(u), grad(v)))
        if self.discontinuous:
            stiffness += gbt.interface_stiffness(domain, D, self.c_max, boundary_resistance_s_m, u, v)
        self.M = compat.assemble_matrix(fem.form(mass))
        self._stiffness_form = fem.form(stiffness)
        self.K = compat.assemble_matrix(self._stiffness_form)
        if self.discontinuous:
            self.M = gbt.on_pattern_of(self.K, self.M)
        self._surface_load = fem.Function(self.V)  # owns the memory the Vec wraps
        self.surface_load = compat.petsc_vec(self._surface_load)
        compat.assemble_vector_into(self.surface_load, fem.form(domain.surface_integral(v)))

        self.residual_form = self.jacobian_form = None
        if diffusivity_factor is not None:
            if self.discontinuous:
                raise ValueError("a diffusivity factor with grains.boundary_resistance is not supported")
            self.shift = compat.constant(msh, 1.0)  # a0/dt of the step
            theta, du = self.theta, ufl.TrialFunction(self.V)
            residual = domain.volume_integral(self.shift * self.c_max * theta * v + D * diffusivity_factor(theta)
                                              * self.c_max * ufl.dot(grad(theta), grad(v)))
            self.residual_form = fem.form(residual)
            self.jacobian_form = fem.form(ufl.derivative(residual, theta, du))
            D = D * diffusivity_factor(self.theta_n)  # the lagged drift's D
        self.drift_form = None
        drift_load = None
        if stress_drift is not None:
            sigma_h, temperature_K = stress_drift
            omega = materials.partial_molar_volume
            RT = compat.constant(msh, GAS_CONSTANT_J_MOL_K * temperature_K)  # J/mol, not a literal
            drift = D * self.c_max * omega / RT
            drift_load = domain.volume_integral(drift * self.theta_n * ufl.dot(grad(sigma_h), grad(v)))
            if self.discontinuous:
                drift_load += gbt.drift_facets(domain, drift * self.theta_n * grad(sigma_h), v)
        if site_availability is not None:
            if self.discontinuous:
                raise ValueError("oxygen vacancies with grains.boundary_resistance are not supported")
            sites = domain.volume_integral(D * self.c_max * self.theta_n
                                           * ufl.dot(grad(ufl.ln(site_availability)), grad(v)))
            drift_load = sites if drift_load is None else drift_load + sites
        if drift_load is not None:
            self.drift_form = fem.form(drift_load)
        fdim = msh.topology.dim - 1
        surface_facets = domain.facet_tags.find(FACET_TAGS["outer_surface"])
        if self.discontinuous:
            P1 = compat.functionspace(msh, "Lagrange", 1)
            self.surface_dofs = gbt.discontinuous_surface_dofs(
                self.V, fem.locate_dofs_topological(P1, fdim, surface_facets))
        else:
            self.surface_dofs = fem.locate_dofs_topological(self.V, fdim, surface_facets)
        self.floor_site_fraction = floor_site_fraction
        index_map = self.V.dofmap.index_map
        self._owned_surface = self.surface_dofs[self.surface_dofs < index_map.size_local]
        self._hold_rows = (self._owned_surface + index_map.local_range[0]).astype(PETSc.IntType)
        self._lift_K, self._lift_M = self._lifting_vectors()

        if domain.radial:
            options = linalg.direct_options(domain.comm)
        else:
            options = {**linalg.HYPRE_3D, **(petsc_options or {})}
        # 1D: one LU refactored when the step changes (cheaper than a solver per step size)
        self.system = linalg.ShiftedSystem(domain.comm, "lithium", self.K, self.M, options,
                                           refactor=domain.radial)
        self._b = fem.Function(self.V)
        self._history = fem.Function(self.V)
        self._drift = fem.Function(self.V)
        self.iterations = 0
        self.warm_start = True  # iterative solves start from the extrapolated history

    def refresh_stiffness(self) -> None:
        """K again, in place, after a coefficient it reads changed (the diffusivity
        multiplier): the hold's lifting and the solver's matrices follow at the next step."""
        compat.assemble_matrix_into(self.K, self._stiffness_form)
        self._lift_K, self._lift_M = self._lifting_vectors()
        self.system.operators_changed()

    def _lifting_vectors(self):
        """K g and M g for g = 1 on the surface dofs, 0 elsewhere: the hold's lifting is
        -floor (K g + c M g) off the surface rows, whatever c."""
        g = fem.Function(self.V)
        g.x.array[self.surface_dofs] = 1.0
        vectors = []
        for A in (self.K, self.M):
            out = fem.Function(self.V)
            A.mult(compat.petsc_vec(g), compat.petsc_vec(out))
            vectors.append(out)
        return vectors

    # -- one step -------------------------------------------------------------------
    def solve_step(self, dt: float, bdf: tuple[float, float, float], flux_mol_m2_s: float, hold: bool) -> int:
        """theta <- solution at t + dt. `bdf = (a0, a1, a2)`: the time derivative is
        (a0 theta + a1 theta_n + a2 theta_nm1)/dt. Returns the Krylov iterations."""
        a0, a1, a2 = bdf
        c = a0 / dt
        ksp = self.system.ksp(c, self._hold_rows if hold else None, "hold" if hold else None)
        b = self.history_rhs(dt, bdf, flux_mol_m2_s=None if hold else flux_mol_m2_s)
        if hold:
            floor = self.floor_site_fraction
            b.axpy(-floor, compat.petsc_vec(self._lift_K))
            b.axpy(-floor * c, compat.petsc_vec(self._lift_M))
            b.array[self._owned_surface] = floor
        if self.warm_start and not self.system.direct:  # guess: extrapolated history
            w = -a1 - 1.0 if a2 else 0.0  # dt / dt_previous (bdf_coefficients)
            self.theta.x.array[:] = (1 + w) * self.theta_n.x.array - w * self.theta_nm1.x.array
        ksp.setInitialGuessNonzero(self.warm_start and not self.system.direct)
        self.iterations = linalg.solve(ksp, b, self.theta)
        return self.iterations

    def history_rhs(self, dt: float, bdf: tuple[float, float, float], flux_mol_m2_s: float | None = None):
        """The right-hand side M h (- j * surface load) (+ the lagged stress drift), with
        h = -(a1 theta_n + a2 theta_nm1)/dt: everything of a step but the Dirichlet hold
        and a surface law (a PETSc Vec owned by this object)."""
        a0, a1, a2 = bdf
        h = self._history.x.array
        h[:] = -(a1 * self.theta_n.x.array + a2 * self.theta_nm1.x.array) / dt
        b = compat.petsc_vec(self._b)
        self.M.mult(compat.petsc_vec(self._history), b)
        if flux_mol_m2_s is not None:
            b.axpy(-flux_mol_m2_s, self.surface_load)
        if self.drift_form is not None:
            d = compat.petsc_vec(self._drift)
            compat.assemble_vector_into(d, self.drift_form)
            b.axpy(1.0, d)
        return b

    def accept(self) -> None:
        """Shift the history after an accepted step."""
        self.theta_nm1.x.array[:] = self.theta_n.x.array
        self.theta_n.x.array[:] = self.theta.x.array

    def reject(self) -> None:
        self.theta.x.array[:] = self.theta_n.x.array

    # -- quantities -------------------------------------------------------------------
    def surface_min(self, f=None) -> float:
        """Lowest site fraction on the outer surface (collective)."""
        f = self.theta if f is None else f
        local = f.x.array[self._owned_surface]
        value = local.min() if local.size else float("inf")
        return self._allreduce(value, op=MPI.MIN)

    def surface_max(self, f=None) -> float:
        """Highest site fraction on the outer surface (collective)."""
        f = self.theta if f is None else f
        local = f.x.array[self._owned_surface]
        value = local.max() if local.size else -float("inf")
        return self._allreduce(value, op=MPI.MAX)

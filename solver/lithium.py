"""Li+ transport in the site-fraction formulation (../shared/physics.md §2).

    d(c_max theta)/dt = div( D c_max grad(theta) - D c_max theta Omega/(R_g T) grad(sigma_h) )

with c = c_max(r) theta. The Li-deficient layer has fewer sites (lower c_max) but the
same site fraction at t = 0, so an unloaded layered particle is at rest. On the outer
surface either an outward (extraction) flux j in mol/m^2/s is imposed, or theta is held
at the composition floor. The stress-drift term (two-way coupling) is optional and lagged
by one step.

Time discretisation: variable-step BDF2 (backward Euler on the first step). The matrices
M (c_max-weighted mass) and K (stiffness) are assembled once; the system matrix
a0/dt M + K is rebuilt only when a0/dt changes, the right-hand side is M h + loads.
"""
from __future__ import annotations

import ufl
from dolfinx import fem
from petsc4py import PETSc

from meshes.markers import FACET_TAGS
from solver import compat, linalg
from solver.domain import Domain
from solver.materials import MaterialFields
from solver.units import GAS_CONSTANT_J_MOL_K


class LithiumTransport:
    def __init__(
        self,
        domain: Domain,
        materials: MaterialFields,
        initial_site_fraction: float,
        floor_site_fraction: float,
        stress_drift: tuple | None = None,
        petsc_options: dict | None = None,
    ):
        """`stress_drift = (sigma_h, temperature_K)` switches on two-way coupling;
        sigma_h is a P1 Function kept up to date by the caller."""
        msh = domain.msh
        self.domain = domain
        self.V = compat.functionspace(msh, "Lagrange", 1)
        self.theta = fem.Function(self.V, name="theta_Li")
        self.theta_n = fem.Function(self.V)
        self.theta_nm1 = fem.Function(self.V)
        for f in (self.theta, self.theta_n, self.theta_nm1):
            f.x.array[:] = initial_site_fraction
        self.c_max = materials.site_concentration()
        D = materials.diffusivity
        grad = domain.grad

        u, v = ufl.TrialFunction(self.V), ufl.TestFunction(self.V)
        mass = domain.volume_integral(self.c_max * u * v)
        stiffness = domain.volume_integral(D * self.c_max * ufl.dot(grad(u), grad(v)))
        self.time_coefficient = fem.Constant(msh, PETSc.ScalarType(1.0))  # a0 / dt
        self.a = fem.form(self.time_coefficient * mass + stiffness)
        self.M = compat.assemble_matrix(fem.form(mass))
        self._surface_load = fem.Function(self.V)  # owns the memory the Vec wraps
        self.surface_load = compat.petsc_vec(self._surface_load)
        compat.assemble_vector_into(self.surface_load, fem.form(domain.surface_integral(v)))

        self.drift_form = None
        if stress_drift is not None:
            sigma_h, temperature_K = stress_drift
            omega = materials.partial_molar_volume
            drift = D * self.c_max * omega / (GAS_CONSTANT_J_MOL_K * temperature_K)
            self.drift_form = fem.form(
                domain.volume_integral(drift * self.theta_n * ufl.dot(grad(sigma_h), grad(v)))
            )
        fdim = msh.topology.dim - 1
        surface_facets = domain.facet_tags.find(FACET_TAGS["outer_surface"])
        self.surface_dofs = fem.locate_dofs_topological(self.V, fdim, surface_facets)
        self.floor = fem.Constant(msh, PETSc.ScalarType(floor_site_fraction))
        self.hold_bcs = [fem.dirichletbc(self.floor, self.surface_dofs, self.V)]

        options = linalg.DIRECT if domain.radial else {**linalg.HYPRE_3D, **(petsc_options or {})}
        self.ksp = linalg.make_ksp(domain.comm, "lithium", options)
        self._operator_key = None
        self.A = None
        self._b = fem.Function(self.V)
        self._history = fem.Function(self.V)
        self._drift = fem.Function(self.V)
        self.iterations = 0

    # -- one step -------------------------------------------------------------------
    def _set_operator(self, time_coefficient: float, hold: bool) -> None:
        key = (time_coefficient, hold)
        if key == self._operator_key:
            return
        self.time_coefficient.value = time_coefficient
        bcs = self.hold_bcs if hold else []
        if self.A is not None:
            self.A.destroy()
        self.A = compat.assemble_matrix(self.a, bcs)
        self.ksp.setOperators(self.A)
        self._operator_key = key

    def solve_step(self, dt: float, bdf: tuple[float, float, float], flux_mol_m2_s: float, hold: bool) -> int:
        """theta <- solution at t + dt. `bdf = (a0, a1, a2)`: the time derivative is
        (a0 theta + a1 theta_n + a2 theta_nm1)/dt. Returns the Krylov iterations."""
        a0, a1, a2 = bdf
        self._set_operator(a0 / dt, hold)
        h = self._history.x.array
        h[:] = -(a1 * self.theta_n.x.array + a2 * self.theta_nm1.x.array) / dt
        b = compat.petsc_vec(self._b)
        self.M.mult(compat.petsc_vec(self._history), b)
        if not hold:
            b.axpy(-flux_mol_m2_s, self.surface_load)
        if self.drift_form is not None:
            d = compat.petsc_vec(self._drift)
            compat.assemble_vector_into(d, self.drift_form)
            b.axpy(1.0, d)
        if hold:
            compat.apply_lifting_and_bc(b, self.a, self.hold_bcs)
        self.iterations = linalg.solve(self.ksp, b, self.theta)
        return self.iterations

    def accept(self) -> None:
        """Shift the history after an accepted step."""
        self.theta_nm1.x.array[:] = self.theta_n.x.array
        self.theta_n.x.array[:] = self.theta.x.array

    def reject(self) -> None:
        self.theta.x.array[:] = self.theta_n.x.array

    # -- quantities -------------------------------------------------------------------
    def surface_min(self, f=None) -> float:
        """Lowest site fraction on the outer surface (collective)."""
        from mpi4py import MPI

        f = self.theta if f is None else f
        n_owned = self.V.dofmap.index_map.size_local
        local = f.x.array[self.surface_dofs[self.surface_dofs < n_owned]]
        value = local.min() if local.size else float("inf")
        return self.domain.comm.allreduce(value, op=MPI.MIN)

"""Oxygen vacancies left by lost lattice oxygen (docs/model.md §10):

    dv/dt = div(D_v grad v) + r          in the oxide, zero flux through the surface

v in mol/m^3, r (mol/m^3/s) the nodal release of the oxygen-redox law
(solver/physics/oxygen_redox.py), entered with the lumped rule w_i r_i (w_i = int phi_i dV),
which is how the O2 transport takes its half (r/2 mol O2): the two then receive the same
oxygen to round-off. Each vacancy removes `lithium_sites_per_vacancy` Li sites (2: the
net loss of Li2O of the Li2MnO3 activation) and swells the lattice by Omega_v v / 3.

Variable-step BDF2 like the other fields; (a0/dt M + K) v = M h + w r with a direct
solver in 1D and CG + BoomerAMG (tight tolerance, so the vacancy total is conserved to
round-off) in 3D.
"""
from __future__ import annotations

import ufl
from dolfinx import fem

from solver import compat
from solver.numerics import linalg
from solver.physics.domain import Domain

CONSERVING_KRYLOV = {**linalg.HYPRE_3D, "ksp_rtol": 1e-13, "ksp_atol": 1e-30}


class VacancyDiffusion:
    def __init__(self, domain: Domain, V, diffusivity_m2_s: float, nodal_volumes,
                 petsc_options: dict | None = None):
        self.domain, self.V = domain, V
        msh = domain.msh
        u, w = ufl.TrialFunction(V), ufl.TestFunction(V)
        D = compat.constant(msh, diffusivity_m2_s)
        self.M = compat.assemble_matrix(fem.form(domain.volume_integral(u * w)))
        self.K = compat.assemble_matrix(fem.form(domain.volume_integral(D * ufl.dot(domain.grad(u), domain.grad(w)))))
        options = (linalg.direct_options(domain.comm) if domain.radial
                   else {**CONSERVING_KRYLOV, **(petsc_options or {})})
        self.system = linalg.ShiftedSystem(domain.comm, "vacancies", self.K, self.M, options,
                                           refactor=domain.radial)
        self.nodal_volumes = nodal_volumes  # w_i, all local nodes
        self.v, self.v_n, self.v_nm1 = (fem.Function(V, name="vacancies_mol_m3") for _ in range(3))
        self._b, self._history = fem.Function(V), fem.Function(V)

    def step(self, dt: float, bdf, release) -> None:
        """v at t + dt with the nodal release `release` (mol/m^3/s) at t + dt."""
        a0, a1, a2 = bdf
        self._history.x.array[:] = -(a1 * self.v_n.x.array + a2 * self.v_nm1.x.array) / dt
        b = compat.petsc_vec(self._b)
        self.M.mult(compat.petsc_vec(self._history), b)
        n = self.V.dofmap.index_map.size_local
        self._b.x.array[:n] += (self.nodal_volumes * release)[:n]
        ksp = self.system.ksp(a0 / dt)
        ksp.setInitialGuessNonzero(False)
        linalg.solve(ksp, b, self.v)

    def accept(self) -> None:
        self.v_nm1.x.array[:] = self.v_n.x.array
        self.v_n.x.array[:] = self.v.x.array

    def reject(self) -> None:
        self.v.x.array[:] = self.v_n.x.array


__all__ = ["VacancyDiffusion"]

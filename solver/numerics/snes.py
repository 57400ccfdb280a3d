"""Nonlinear and bound-constrained solves with PETSc SNES, built from DOLFINx assembly.

`SNESSolver` solves F(u; v) = 0 for all v, with Dirichlet conditions, by a SNES whose
residual and Jacobian callbacks assemble the UFL forms (the pattern of DOLFINx's SNES
tests and of FESTIM: it works alike on 0.5, 0.9 and 0.10+, where DOLFINx's own
`NonlinearProblem` changed). With `snes_type vinewtonrsls` it solves the variational
inequality lower <= u <= upper (reduced-space active-set Newton, Benson and Munson
2006), the bounds given to `solve` as Functions."""
from __future__ import annotations

import itertools

import ufl
from dolfinx import fem
from petsc4py import PETSc

from solver import compat
from solver.numerics.linalg import SolverFailure, direct_options

_counter = itertools.count()


class SNESSolver:
    """F(u; v) = 0 for `u` under `bcs`; `J` defaults to the Gateaux derivative of F.
    `options` are SNES/KSP options (LU by default), set under the prefix
    `lrmo_<name>_<n>_`."""

    def __init__(self, F, u, bcs=(), options: dict | None = None, name: str = "snes", J=None):
        V = u.function_space
        self.u, self.bcs, self.name = u, list(bcs), name
        self.F_form = fem.form(F)
        self.J_form = fem.form(J if J is not None else ufl.derivative(F, u, ufl.TrialFunction(V)))
        self.A = compat.assemble_matrix(self.J_form, self.bcs)
        self.b = compat.petsc_vec(u).duplicate()
        comm = V.mesh.comm
        self.snes = PETSc.SNES().create(comm)
        prefix = f"lrmo_{name}_{next(_counter)}_"
        all_options = {**direct_options(comm), **(options or {})}
        opts = PETSc.Options()
        for key, value in all_options.items():
            opts[prefix + key] = value
        self.snes.setOptionsPrefix(prefix)
        self.snes.setFunction(self._residual, self.b)
        self.snes.setJacobian(self._jacobian, self.A)
        self.snes.setFromOptions()
        self.snes.getKSP().setFromOptions()
        for key in all_options:  # read: free PETSc's small options database (see linalg.make_ksp)
            opts.delValue(prefix + key)

    def _copy_in(self, x) -> None:
        x.ghostUpdate(addv=PETSc.InsertMode.INSERT, mode=PETSc.ScatterMode.FORWARD)
        ux = compat.petsc_vec(self.u)
        if x.handle != ux.handle:
            x.copy(ux)
        self.u.x.scatter_forward()

    def _residual(self, snes, x, b) -> None:
        self._copy_in(x)
        compat.assemble_residual_into(b, self.F_form, self.J_form, self.bcs, x)

    def _jacobian(self, snes, x, A, P) -> None:
        self._copy_in(x)
        compat.assemble_matrix_into(A, self.J_form, self.bcs)

    def solve(self, lower=None, upper=None) -> int:
        """Solve from the current `u` (bounds: Functions, for VI types); returns the
        Newton iterations; raises SolverFailure if SNES diverged."""
        if lower is not None or upper is not None:
            self.snes.setVariableBounds(compat.petsc_vec(lower), compat.petsc_vec(upper))
        x = compat.petsc_vec(self.u)
        self.snes.solve(None, x)
        reason = self.snes.getConvergedReason()
        if reason < 0:
            names = {v: k for k, v in vars(PETSc.SNES.ConvergedReason).items() if isinstance(v, int)}
            raise SolverFailure(f"{self.name}: SNES diverged (PETSc reason {reason} "
                                f"{names.get(reason, '')}, {self.snes.getIterationNumber()} iterations)")
        self.u.x.scatter_forward()
        return self.snes.getIterationNumber()

    def destroy(self) -> None:
        for obj in (self.snes, self.A, self.b):
            obj.destroy()

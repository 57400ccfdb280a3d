"""PETSc solver set-up shared by the physics: options under a unique prefix per
problem, a failure that names the problem, and the L2 projection used for outputs."""
from __future__ import annotations

import itertools

import ufl
from dolfinx import fem
from petsc4py import PETSc

from solver import compat

_counter = itertools.count()

# BoomerAMG tuned for 3D diffusion (measured 2.7x faster per step than the defaults on
# this machine kind: ../shared/physics.md §6).
HYPRE_3D = {
    "ksp_type": "cg",
    "pc_type": "hypre",
    "pc_hypre_type": "boomeramg",
    "pc_hypre_boomeramg_coarsen_type": "HMIS",
    "pc_hypre_boomeramg_interp_type": "ext+i",
    "pc_hypre_boomeramg_strong_threshold": 0.5,
    "pc_hypre_boomeramg_P_max": 4,
    "pc_hypre_boomeramg_agg_nl": 1,
    "ksp_rtol": 1e-10,
    "ksp_atol": 1e-30,
}
DIRECT = {"ksp_type": "preonly", "pc_type": "lu", "pc_factor_mat_solver_type": "mumps"}
ELASTICITY_3D = {
    "ksp_type": "cg",
    "pc_type": "gamg",
    "pc_gamg_type": "agg",
    "mg_levels_ksp_type": "chebyshev",
    "mg_levels_pc_type": "jacobi",
    "ksp_rtol": 1e-9,
    "ksp_atol": 1e-30,
}
MASS = {"ksp_type": "cg", "pc_type": "jacobi", "ksp_rtol": 1e-12, "ksp_atol": 1e-30}


class SolverFailure(RuntimeError):
    """A linear solve that did not converge; the message says which and why."""


def make_ksp(comm, name: str, options: dict) -> PETSc.KSP:
    """A KSP configured from `options` under the prefix `lrmo_<name>_<n>_`."""
    prefix = f"lrmo_{name}_{next(_counter)}_"
    opts = PETSc.Options()
    for key, value in options.items():
        opts[prefix + key] = value
    ksp = PETSc.KSP().create(comm)
    ksp.setOptionsPrefix(prefix)
    ksp.setFromOptions()
    ksp.setName(name)
    return ksp


def solve(ksp: PETSc.KSP, b: PETSc.Vec, x_function) -> int:
    """Solve into a Function; raises SolverFailure; returns the Krylov iterations."""
    x = compat.petsc_vec(x_function)
    ksp.solve(b, x)
    reason = ksp.getConvergedReason()
    if reason < 0:
        raise SolverFailure(
            f"{ksp.getName()} solver diverged "
            f"(PETSc reason {reason}, {ksp.getIterationNumber()} iterations)"
        )
    x_function.x.scatter_forward()
    return ksp.getIterationNumber()


class Projector:
    """L2 projection onto a space V; the mass matrix and its solver are built once."""

    def __init__(self, V, name: str = "projection"):
        u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
        self.V = V
        self.v = v
        self.dx = ufl.dx(domain=V.mesh)
        self.M = compat.assemble_matrix(fem.form(u * v * self.dx))
        self.ksp = make_ksp(V.mesh.comm, name, MASS)
        self.ksp.setOperators(self.M)
        self._forms = {}
        self._b = fem.Function(V)

    def project(self, expr, out, key=None) -> None:
        """out <- P(expr); `key` caches the compiled right-hand side form."""
        key = key if key is not None else id(expr)
        if key not in self._forms:
            self._forms[key] = fem.form(expr * self.v * self.dx)
        b = compat.petsc_vec(self._b)
        compat.assemble_vector_into(b, self._forms[key])
        solve(self.ksp, b, out)

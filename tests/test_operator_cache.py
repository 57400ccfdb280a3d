"""The shifted-operator cache of the diffusion solver (solver/numerics/linalg.py ShiftedSystem):
it solves (K + c M) x = b like a freshly assembled matrix, for direct and iterative
solvers, with and without identity (Dirichlet) rows, and sets up a preconditioner per
step-size rung, not per step size."""
from __future__ import annotations

import numpy as np
import pytest
import ufl
from dolfinx import fem, mesh
from mpi4py import MPI
from petsc4py import PETSc

from solver import compat
from solver.numerics import linalg

COMM = MPI.COMM_WORLD


@pytest.fixture(scope="module")
def problem():
    msh = mesh.create_unit_cube(COMM, 6, 6, 6)
    V = compat.functionspace(msh, "Lagrange", 1)
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    mass, stiffness = u * v * ufl.dx, ufl.dot(ufl.grad(u), ufl.grad(v)) * ufl.dx
    M = compat.assemble_matrix(fem.form(mass))
    K = compat.assemble_matrix(fem.form(stiffness))
    x = ufl.SpatialCoordinate(msh)
    b = fem.Function(V)
    compat.assemble_vector_into(compat.petsc_vec(b), fem.form((1 + x[0] * x[1]) * v * ufl.dx))
    boundary = mesh.locate_entities_boundary(msh, 2, lambda p: np.isclose(p[0], 1.0))
    dofs = fem.locate_dofs_topological(V, 2, boundary)
    owned = dofs[dofs < V.dofmap.index_map.size_local]
    rows = (owned + V.dofmap.index_map.local_range[0]).astype(PETSc.IntType)
    return dict(V=V, M=M, K=K, b=b, rows=rows, owned=owned, forms=(mass, stiffness), dofs=dofs)


def reference(problem, c, hold):
    """Solve with a matrix assembled from the form c M + K (and the Dirichlet rows)."""
    mass, stiffness = problem["forms"]
    V = problem["V"]
    bcs = [fem.dirichletbc(PETSc.ScalarType(0.0), problem["dofs"], V)] if hold else []
    A = compat.assemble_matrix(fem.form(c * mass + stiffness), bcs)
    ksp = linalg.make_ksp(COMM, "reference", linalg.DIRECT)
    ksp.setOperators(A)
    out = fem.Function(V)
    linalg.solve(ksp, right_hand_side(problem, hold), out)
    return out.x.array[: V.dofmap.index_map.size_local].copy()


def right_hand_side(problem, hold):
    b = compat.petsc_vec(problem["b"]).copy()
    if hold:
        b.array[problem["owned"]] = 0.0
    return b


def shifted_solve(problem, system, c, hold):
    V = problem["V"]
    ksp = system.ksp(c, problem["rows"] if hold else None, "hold" if hold else None)
    out = fem.Function(V)
    linalg.solve(ksp, right_hand_side(problem, hold), out)
    return out.x.array[: V.dofmap.index_map.size_local].copy()


@pytest.mark.parametrize("options", ["direct", "direct, refactored", "iterative"])
def test_shifted_system_solves_like_a_fresh_assembly(problem, options):
    opts = linalg.HYPRE_3D if options == "iterative" else linalg.direct_options(COMM)
    system = linalg.ShiftedSystem(COMM, "test", problem["K"], problem["M"], opts,
                                  refactor=options.endswith("refactored"))
    for c in (1.0, 3.7, 150.0, 3.7, 0.02):
        for hold in (False, True):
            expected = reference(problem, c, hold)
            computed = shifted_solve(problem, system, c, hold)
            scale = np.max(np.abs(expected)) if expected.size else 1.0
            scale = COMM.allreduce(scale, op=MPI.MAX)
            error = COMM.allreduce(float(np.max(np.abs(computed - expected))) if expected.size else 0.0,
                                   op=MPI.MAX)
            assert error <= 1e-8 * scale


def test_iterative_set_ups_follow_the_rungs_not_the_step_sizes(problem):
    system = linalg.ShiftedSystem(COMM, "test", problem["K"], problem["M"], linalg.HYPRE_3D)
    shifts = 10.0 * 1.1 ** np.arange(30)  # 30 different shifts spanning a factor of 16
    for c in shifts:
        shifted_solve(problem, system, float(c), hold=False)
    rungs = {round(np.log2(c)) for c in shifts}
    assert system.setups == len(rungs) < len(shifts)


def test_direct_factorisations_are_reused_when_a_step_size_repeats(problem):
    system = linalg.ShiftedSystem(COMM, "test", problem["K"], problem["M"], linalg.direct_options(COMM))
    for c in (2.0, 4.0, 2.0, 4.0, 2.0):
        shifted_solve(problem, system, c, hold=False)
    assert system.setups == 2


def test_refactored_direct_system_keeps_one_solver(problem):
    system = linalg.ShiftedSystem(COMM, "test", problem["K"], problem["M"], linalg.direct_options(COMM),
                                  refactor=True)
    solvers = {id(system.ksp(c)) for c in (2.0, 4.0, 2.0, 2.0)}
    assert len(solvers) == 1 and not system._cache
    assert system.setups == 3  # 2, 4, 2: the repeated 2.0 keeps the factors


def test_cache_is_bounded(problem):
    system = linalg.ShiftedSystem(COMM, "test", problem["K"], problem["M"], linalg.direct_options(COMM),
                                  max_cached=3)
    for c in range(1, 10):
        shifted_solve(problem, system, float(c), hold=False)
    assert len(system._cache) == 3

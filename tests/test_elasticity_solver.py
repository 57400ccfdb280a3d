"""The 3D elasticity solver: P1 -> P2 interpolation, p-multigrid against a direct solve,
warm starts (solver/numerics/pmultigrid.py, solver/numerics/warm_start.py, solver/physics/mechanics.py)."""
from __future__ import annotations

import shutil
import subprocess
import sys

import dolfinx
import numpy as np
import pytest
from dolfinx import fem
from mpi4py import MPI

from solver import compat
from solver.numerics import linalg, pmultigrid
from solver.case.schema import load_case
from solver.physics.materials import MaterialFields
from solver.physics.mechanics import Mechanics
from solver.simulation.domain_setup import build_domain
from tests.conftest import CASES, ROOT, mpi_env

DIRECT = {"ksp_type": "preonly", "pc_type": "lu", "pc_factor_mat_solver_type": "mumps"}


def _vector_spaces():
    msh = dolfinx.mesh.create_unit_cube(MPI.COMM_WORLD, 4, 3, 3)
    return (compat.functionspace(msh, "Lagrange", 1, (3,)),
            compat.functionspace(msh, "Lagrange", 2, (3,)))


def _apply(P, u1, V2):
    out = fem.Function(V2)
    P.mult(compat.petsc_vec(u1), compat.petsc_vec(out))
    out.x.scatter_forward()
    return out


def _rel_diff(a, b) -> float:
    d = a.copy()
    d.axpy(-1.0, b)
    return d.norm() / b.norm()


def test_interpolation_reproduces_linear_fields_and_p1_functions():
    V1, V2 = _vector_spaces()
    P = pmultigrid.interpolation_matrix(V1, V2)
    linear = lambda x: np.vstack([1 + 2 * x[0] - x[1], 3 * x[2] + x[0], -x[1] + 0.5])
    curved = lambda x: np.vstack([np.sin(3 * x[0]), x[1] * x[2], np.exp(x[0] - x[2])])
    for f in (linear, curved):
        u1 = fem.Function(V1)
        u1.interpolate(f)
        expected = fem.Function(V2)
        expected.interpolate(u1)  # the P2 interpolant of the P1 function
        result = _apply(P, u1, V2)  # (keep the Function alive while its Vec is used)
        assert _rel_diff(compat.petsc_vec(result), compat.petsc_vec(expected)) < 1e-13
    exact = fem.Function(V2)
    exact.interpolate(linear)  # P2 holds the linear field exactly
    u1 = fem.Function(V1)
    u1.interpolate(linear)
    result = _apply(P, u1, V2)
    assert _rel_diff(compat.petsc_vec(result), compat.petsc_vec(exact)) < 1e-13


def test_interpolation_drops_the_constrained_coarse_columns():
    V1, V2 = _vector_spaces()
    free = fem.Function(V1)
    free.x.array[:] = 1.0
    free.x.array[0::3] = 0.0  # every x component constrained
    P = pmultigrid.interpolation_matrix(V1, V2, compat.petsc_vec(free))
    u1 = fem.Function(V1)
    u1.x.array[:] = 1.0
    result = _apply(P, u1, V2)
    out = result.x.array
    assert np.all(out[0::3] == 0.0) and np.allclose(out[1::3], 1.0) and np.allclose(out[2::3], 1.0)


@pytest.fixture(scope="module", params=["octant", "sphere"])
def small_particle(request):
    """A coarse homogeneous particle with the verification case's materials and a
    galvanostatic-like load theta = 1 - a (r/R)^2."""
    case = load_case(CASES / "verify_galvanostatic_octant.yaml",
                     [f"geometry.shape={request.param}", "mesh.surface.value=20", "mesh.bulk.value=30",
                      "output.fields=false"])
    domain = build_domain(case, MPI.COMM_WORLD)
    theta = fem.Function(compat.functionspace(domain.msh, "Lagrange", 1))
    R = domain.radius_m
    theta.interpolate(lambda x: 1.0 - 0.05 * (x**2).sum(axis=0) / R**2 - 0.01 * x[0] / R)
    return domain, MaterialFields(domain, case), theta


def test_p_multigrid_matches_a_direct_solve(small_particle):
    domain, materials, theta = small_particle
    mech = Mechanics(domain, materials, theta, 1.0)
    its = mech.solve()
    if domain.shape == "octant":
        reference = Mechanics(domain, materials, theta, 1.0, DIRECT)
    else:  # singular (rigid-body modes): compare the stress against a tight GAMG solve
        reference = Mechanics(domain, materials, theta, 1.0, {**linalg.ELASTICITY_3D_GAMG, "ksp_rtol": 1e-12})
    reference.solve()
    assert 0 < its <= 30  # about 17 at every size measured (docs/elasticity-solver.md)
    if domain.shape == "octant":
        assert _rel_diff(compat.petsc_vec(mech.u), compat.petsc_vec(reference.u)) < 1e-7
    assert _rel_diff(compat.petsc_vec(mech.stress_components),
                     compat.petsc_vec(reference.stress_components)) < 1e-6


def test_warm_start_solves_a_load_in_the_span_of_earlier_ones_almost_for_free(small_particle):
    domain, materials, theta = small_particle
    mech = Mechanics(domain, materials, theta, 1.0)
    cold = Mechanics(domain, materials, theta, 1.0, warm_start_vectors=0)
    original = theta.x.array.copy()
    mech.solve()
    theta.x.array[:] = 1.0 - 3.0 * (1.0 - original)  # theta - 1 scaled: same displacement x 3
    its_warm, its_cold = mech.solve(), cold.solve()
    theta.x.array[:] = original
    assert its_warm <= 1 < its_cold
    assert _rel_diff(compat.petsc_vec(mech.stress_components),
                     compat.petsc_vec(cold.stress_components)) < 1e-6


def test_interpolation_is_exact_on_two_ranks():
    """The same check with the mesh split over two ranks (ghost columns, global indices)."""
    script = (
        "from tests.test_elasticity_solver import test_interpolation_reproduces_linear_fields_and_p1_functions"
        " as check\ncheck()\nprint('ok')"
    )
    if shutil.which("mpirun") is None:
        pytest.skip("mpirun not found")
    proc = subprocess.run(["mpirun", "-n", "2", "--oversubscribe", sys.executable, "-c", script],
                          capture_output=True, text=True, timeout=300, cwd=ROOT, env=mpi_env())
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("ok") == 2


def test_warm_starts_through_a_relaxing_load_keep_converging(small_particle):
    """A hold-like sequence (the site fraction relaxing to a steady profile: decaying
    radial and asymmetric parts) solved with warm starts. On the full sphere the
    Gram-Schmidt of the warm start, blind to rigid-body components, amplified them from
    solve to solve (1e-10 of the displacement by the 12th solve of this sequence, 60 % by
    the 18th) until CG stopped with DIVERGED_INDEFINITE_PC (27th solve): the
    displacement must stay orthogonal to the rigid-body modes, no warm solve may need
    more iterations than the cold one, and the stress must equal a direct solve's."""
    domain, materials, theta = small_particle
    original = theta.x.array.copy()
    mech = Mechanics(domain, materials, theta, 1.0)
    points = theta.function_space.tabulate_dof_coordinates()
    x_R = points / domain.radius_m
    r2 = (x_R**2).sum(axis=1)
    iterations = []
    for k in range(30):
        t = k / 4
        theta.x.array[:] = (0.6 + 0.2 * r2 + 0.2 * np.exp(-t) * r2**2 + 0.1 * np.exp(-3 * t) * r2**3
                            + 0.05 * np.exp(-6 * t) * x_R[:, 0])
        iterations.append(mech.solve())
        if domain.shape == "sphere":
            u = compat.petsc_vec(mech.u)
            rigid = max(abs(mode.dot(u)) for mode in mech._modes.getVecs())
            assert rigid <= 1e-10 * u.norm(), (k, rigid / u.norm())
    assert max(iterations[1:]) <= iterations[0], iterations
    # MUMPS on the singular sphere: null pivots detected (ICNTL(24)), null space projected out
    reference = Mechanics(domain, materials, theta, 1.0, {**DIRECT, "mat_mumps_icntl_24": 1})
    reference.solve()
    theta.x.array[:] = original
    if domain.shape == "octant":
        assert _rel_diff(compat.petsc_vec(mech.u), compat.petsc_vec(reference.u)) < 1e-7
    assert _rel_diff(compat.petsc_vec(mech.stress_components),
                     compat.petsc_vec(reference.stress_components)) < 1e-6
    mech.destroy()
    reference.destroy()

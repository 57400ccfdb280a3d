"""The affine response of the 1D elasticity (solver/physics/mechanics.py, AffineResponse):
where it is used, the displacement, the DG1 stress and the peak equal those of the
ordinary solve (assemble, direct solve, interpolate) to round-off at several site-fraction
profiles of different shapes; where its conditions fail it is not used; its guard refuses
a map that is not affine; and the 1D stress cases report the same peak with it and
without."""
import numpy as np
import pytest
from dolfinx import fem
from mpi4py import MPI
from scipy.special import erfc

from conftest import CASES
from solver import compat
from solver.case.schema import load_case
from solver.physics.materials import MaterialFields
from solver.physics.mechanics import AffineResponse, Mechanics, von_mises
from solver.simulation.chemomechanics import ChemoMechanics
from solver.simulation.domain_setup import build_domain

pytestmark = pytest.mark.skipif(MPI.COMM_WORLD.size > 1, reason="the affine response is built on one rank only")

# site fraction against rho = r/R, each with a stress of hundreds of MPa or more
PROFILES = {
    "surface erfc": lambda rho, t0: t0 - 0.4 * erfc((1 - rho) / 0.05),
    "linear": lambda rho, t0: 0.2 + 0.7 * rho,
    "parabola": lambda rho, t0: 0.9 - 0.6 * rho**2,
    "two-phase front": lambda rho, t0: 0.5 + 0.4 * np.tanh((rho - 0.7) / 0.02),
}
RTOL = 1e-10  # of the largest value; round-off is ~1e-12 (the difference of two direct solves)


def mechanics_of(name: str, theta0: float | None = None, extra_strain=None):
    """(domain, theta, Mechanics) of a 1D case, theta uniform at theta0 (default: the
    case's initial site fraction), the reference of the chemical strain;
    `extra_strain(theta)`: a strain of its own."""
    case = load_case(CASES / name, ["output.fields=false"])
    domain = build_domain(case, MPI.COMM_WORLD)
    theta0 = case.lithium.initial_site_fraction.si if theta0 is None else theta0
    theta = fem.Function(compat.functionspace(domain.msh, "Lagrange", 1))
    theta.x.array[:] = theta0
    extra = None if extra_strain is None else extra_strain(theta)
    return domain, theta, Mechanics(domain, MaterialFields(domain, case), theta, theta0, extra_strain=extra)


@pytest.mark.parametrize("name", ["cycle_lrmo_1d.yaml", "ru1_stress.yaml"])
def test_affine_response_equals_the_ordinary_solve(name):
    """At each profile: the same u, stress components and peak (value and radius) as the
    ordinary solve of the same Mechanics; Ru-1 has the graded layer (c_max(r)) and the
    0.1 nm interface mesh."""
    domain, theta, mech = mechanics_of(name)
    mech.solve()
    assert mech.affine_response_used
    rho = theta.function_space.tabulate_dof_coordinates()[:, 0] / domain.radius_m
    theta0 = float(theta.x.array[0])
    for profile in PROFILES.values():
        theta.x.array[:] = profile(rho, theta0)
        mech.solve()
        fast = [mech.u.x.array.copy(), mech.stress_components.x.array.copy(), mech.peak_von_mises()]
        mech.solve_linear_system()
        ordinary = [mech.u.x.array, mech.stress_components.x.array, mech.peak_von_mises()]
        assert np.abs(ordinary[1]).max() > 1e8  # a real stress: > 100 MPa
        for a, b in zip(fast[:2], ordinary[:2]):
            assert np.abs(a - b).max() <= RTOL * np.abs(b).max()
        assert fast[2]["value_Pa"] == pytest.approx(ordinary[2]["value_Pa"], rel=RTOL)
        assert fast[2]["radius_m"] == ordinary[2]["radius_m"]


def test_uniform_site_fraction_is_stress_free():
    """A uniform site fraction (any value) expands the free sphere without stress: the
    affine map gives ~0 stress there too, so its constant carries no spurious stress."""
    _, theta, mech = mechanics_of("cycle_lrmo_1d.yaml")
    theta.x.array[:] = 0.3
    mech.solve()
    assert mech.affine_response_used
    stressed = np.abs(mech.stress_components.x.array).max()
    theta.x.array[:] = np.linspace(0.3, 0.9, theta.x.array.size)  # for the scale
    mech.solve()
    assert stressed <= 1e-10 * np.abs(mech.stress_components.x.array).max()


def test_not_used_where_the_map_is_not_known_to_be_affine(monkeypatch):
    """An extra strain (a field of its own, like the oxygen vacancies') or the switch off:
    the ordinary solve."""
    _, _, mech = mechanics_of("cycle_lrmo_1d.yaml", extra_strain=lambda theta: fem.Function(theta.function_space))
    mech.solve()
    assert not mech.affine_response_used
    monkeypatch.setattr(Mechanics, "use_affine_response", False)
    _, _, mech = mechanics_of("cycle_lrmo_1d.yaml")
    mech.solve()
    assert not mech.affine_response_used


def test_the_guard_refuses_a_map_that_is_not_affine():
    """A strain quadratic in theta, with the conditions forced on: the check at a generic
    theta fails and the build gives None (the ordinary solve is kept)."""
    _, theta, mech = mechanics_of("cycle_lrmo_1d.yaml", 0.5, extra_strain=lambda theta: 0.01 * (theta - 0.5) ** 2)
    mech._affine_exact = True
    before = mech.stress_components.x.array.copy()
    assert AffineResponse.build(mech) is None
    assert np.array_equal(theta.x.array, np.full_like(theta.x.array, 0.5))  # left as it was
    assert np.array_equal(mech.stress_components.x.array, before)


@pytest.mark.parametrize("name", ["ru1_stress.yaml", "pristine_stress.yaml"])
def test_stress_cases_report_the_same_peak_with_and_without(name, monkeypatch):
    """The headline 1D peaks (value, time, radius, region) and the number of solves, run
    with the affine response and with the ordinary solve."""
    case = load_case(CASES / name, ["output.fields=false"])
    stress = {}
    for used in (True, False):
        monkeypatch.setattr(Mechanics, "use_affine_response", used)
        sim = ChemoMechanics(case, build_domain(case, MPI.COMM_WORLD))
        sim.run(None, project_fields=False)
        assert sim.mechanics.affine_response_used == used
        stress[used] = sim.results()["stress"]
    fast, ordinary = stress[True], stress[False]
    assert fast["peak_von_mises_Pa"] == pytest.approx(ordinary["peak_von_mises_Pa"], rel=1e-9)
    for key in ("peak_time_s", "peak_radius_m", "peak_region", "solves", "krylov_iterations"):
        assert fast[key] == ordinary[key]


@pytest.mark.parametrize("affine", [True, False])
def test_radial_peak_is_the_general_von_mises_bit_for_bit(affine, monkeypatch):
    """On the radial mesh the stress is diag(sigma_r, sigma_t, sigma_t): the shear
    components exactly 0 and the two hoop ones equal, from the ordinary solve and the
    affine map alike, so the peak's |sigma_r - sigma_t| is von Mises of all six
    components to the last bit (Ru-1: two regions)."""
    monkeypatch.setattr(Mechanics, "use_affine_response", affine)
    domain, theta, mech = mechanics_of("ru1_stress.yaml")
    rho = theta.function_space.tabulate_dof_coordinates()[:, 0] / domain.radius_m
    for profile in PROFILES.values():
        theta.x.array[:] = profile(rho, 1.0)
        mech.solve()
        assert mech.affine_response_used == affine
        comps = mech.stress_components.x.array.reshape(-1, 6)
        assert np.array_equal(comps[:, 1], comps[:, 2]) and not comps[:, 3:].any()
        best = -1.0
        for _, average in mech._vertex_averages():
            vm = von_mises(average.average_columns(comps, mech._average_out))
            best = max(best, float(vm[average.touched].max()))
        assert mech.peak_von_mises()["value_Pa"] == best

"""Claims about the particle at one potential (solver/physics/particle_potential.py) and
the protocol of steps in the time loop, checked against closed forms and invariants:
the voltage of a 1D galvanostatic step is U(theta_s) + the Butler–Volmer overpotential,
a voltage hold with fast kinetics follows Crank's series for a sphere with a fixed
surface concentration, a rest conserves Li, and each step ends on its event."""
import numpy as np
import pytest
from mpi4py import MPI

from conftest import CASES
from solver.case.schema import load_case
from solver.case.units import FARADAY_C_MOL
from solver.physics.steps import Limit, Protocol, Step
from solver.simulation import drive
from solver.simulation.chemomechanics import ChemoMechanics
from solver.simulation.domain_setup import build_domain

RADIAL = CASES / "verify_galvanostatic_radial.yaml"
LINEAR_OCV = "4.0 - x"  # V: a linear U(theta), slope -1 V


def simulate(monkeypatch, steps, end_s, overrides=(), i0="1 A/m^2", path=RADIAL, theta0=0.9):
    """A run of `steps` on the verification sphere (D = 1e-17 m^2/s) with the linear OCV."""
    case = load_case(path, [
        f"lithium.initial_site_fraction={theta0}", f"protocol.end_time={end_s} s",
        f"materials.core.open_circuit_voltage={{expression: '{LINEAR_OCV}', source: test}}",
        f"materials.core.exchange_current_density={{value: {i0.split()[0]}, unit: '{i0.split()[1]}', source: test}}",
        "output.times={values: [0], unit: s}", *overrides])
    monkeypatch.setattr(drive, "protocol_of_case", lambda c: Protocol(tuple(steps), end_s, 250.0, {}))
    sim = ChemoMechanics(case, build_domain(case, MPI.COMM_WORLD))
    rows = []
    sim.run(lambda t, s: rows.append((t, dict(s._observables or s.observables()))), project_fields=False)
    return case, sim, rows


def test_galvanostatic_voltage_is_ocv_plus_butler_volmer_overpotential_in_1d(monkeypatch):
    """In 1D the surface is one point: it carries the whole current, so
    V = U(theta_s) + (2 / f) asinh(i / (2 i0(theta_s)))."""
    step = Step("Charge at 1C for 300 s", "current", 250.0, (Limit("time", 300.0),))
    case, sim, _ = simulate(monkeypatch, [step], 300.0, ["mechanics.peak_over_time=false"])
    theta_s = sim.lithium.surface_min()
    kinetics = sim.reaction.kinetics
    i = sim.particle.flux_mol_m2_s(250.0) * FARADAY_C_MOL
    expected = (4.0 - theta_s) + kinetics.overpotential(i, theta_s)
    assert sim.potential.voltage_V == pytest.approx(expected, abs=1e-9)
    assert sim._observables["current_A_kg"] == pytest.approx(250.0, rel=1e-9)


def test_galvanostatic_step_with_kinetics_gives_the_uniform_flux_solution_in_1d(monkeypatch):
    """The same Li field as the imposed uniform flux (one surface point: j is the flux)."""
    step = Step("Charge at 1C for 300 s", "current", 250.0, (Limit("time", 300.0),))
    _, with_kinetics, _ = simulate(monkeypatch, [step], 300.0, ["mechanics.peak_over_time=false"])
    case = load_case(RADIAL, ["lithium.initial_site_fraction=0.9", "protocol.end_time=300 s",
                              "output.times={values: [0], unit: s}", "mechanics.peak_over_time=false"])
    monkeypatch.setattr(drive, "protocol_of_case", lambda c: Protocol((step,), 300.0, 250.0, {}))
    flux_only = ChemoMechanics(case, build_domain(case, MPI.COMM_WORLD))
    flux_only.run(project_fields=False)
    assert flux_only.potential is None
    assert np.abs(with_kinetics.lithium.theta.x.array - flux_only.lithium.theta.x.array).max() < 1e-9


def test_voltage_hold_with_fast_kinetics_follows_crank_sphere_series(monkeypatch):
    """Fast kinetics pin the surface at U^-1(V) = 0.5; the fraction of the final uptake
    is M_t/M_inf = 1 - 6/pi^2 sum exp(-n^2 pi^2 D t / R^2) / n^2 (Crank, The Mathematics
    of Diffusion, eq. 6.20)."""
    R, D = 150e-9, 1e-17
    times = [0.01, 0.03, 0.1, 0.3]  # D t / R^2
    end = times[-1] * R**2 / D
    step = Step("Hold at 3.5 V", "voltage", 3.5, (Limit("time", end),))
    case, sim, rows = simulate(monkeypatch, [step], end, [
        f"output.times={{values: {[tau * R**2 / D for tau in times]}, unit: s}}",
        "time_stepping.initial_step=1e-4 s", "time_stepping.max_change_per_step=0.005",
        "mechanics.peak_over_time=false", "mesh.surface=0.2 nm", "mesh.bulk=1 nm"], i0="1e4 A/m^2")
    final_C_kg = sim.particle.capacity_C_kg(case.materials.core.lithium_site_concentration.si * (0.9 - 0.5))
    n = np.arange(1, 400)
    assert [t for t, _ in rows] == pytest.approx([tau * R**2 / D for tau in times])
    for (t, obs), tau in zip(rows, times):
        exact = 1 - 6 / np.pi**2 * np.sum(np.exp(-n**2 * np.pi**2 * tau) / n**2)
        assert obs["capacity_C_kg"] / final_C_kg == pytest.approx(exact, abs=2e-3), tau


def test_rest_conserves_lithium_and_relaxes_to_the_ocv_of_the_mean(monkeypatch):
    """No current: the inventory is unchanged to Newton's tolerance (1e-9 in site
    fraction per step), and the particle equilibrates (V -> U(theta_mean))."""
    steps = [Step("Charge at 1C for 300 s", "current", 250.0, (Limit("time", 300.0),)),
             Step("Rest for 3000 s", "rest", 0.0, (Limit("time", 3000.0),))]
    _, sim, _ = simulate(monkeypatch, steps, 1e6, ["mechanics.peak_over_time=false"])
    charge, rest = sim.protocol.step_ends
    assert rest["capacity_mAh_g"] < 1e-7 * charge["capacity_mAh_g"]
    assert sim.potential.voltage_V == pytest.approx(4.0 - sim.mean_site_fraction(), abs=1e-4)


def test_each_step_ends_on_its_event(monkeypatch):
    """Charge to a voltage, hold to a current, discharge to a capacity: each lands on its
    limit (V to 1e-7 V, current and capacity to 1e-7 relative)."""
    steps = [Step("Charge at 2C until 3.45 V", "current", 500.0, (Limit("voltage", 3.45),)),
             Step("Hold at 3.45 V until C/20", "voltage", 3.45, (Limit("current", 12.5),)),
             Step("Discharge at 1C until 20 mAh/g", "current", -250.0, (Limit("capacity", 20 * 3600.0),))]
    _, sim, _ = simulate(monkeypatch, steps, 1e6, ["mechanics.peak_over_time=false"])
    ends = sim.protocol.step_ends
    assert [e["ended_by"] for e in ends] == ["voltage", "current", "capacity"]
    assert ends[2]["capacity_mAh_g"] == pytest.approx(20.0, rel=1e-7)
    assert sim.protocol.finished


def test_a_constant_diffusivity_factor_is_a_scaled_diffusivity(monkeypatch):
    """D f(theta) with f = 2 everywhere (the nonlinear Newton path, its Jacobian from UFL)
    gives the run with 2 D (the linear path) to Newton's tolerance."""
    steps = [Step("Charge at 1C until 3.3 V", "current", 250.0, (Limit("voltage", 3.3),)),
             Step("Hold at 3.3 V for 600 s", "voltage", 3.3, (Limit("time", 600.0),))]
    table = "materials.core.lithium_diffusivity_factor={site_fraction: [0.1, 0.5, 1.0], factor: [2, 2, 2], source: test}"
    _, factor, _ = simulate(monkeypatch, steps, 1e6, ["mechanics.peak_over_time=false", table])
    _, doubled, _ = simulate(monkeypatch, steps, 1e6, ["mechanics.peak_over_time=false",
                                                       "materials.core.lithium_diffusivity=2e-17 m^2/s"])
    assert factor.lithium.residual_form is not None and doubled.lithium.residual_form is None
    a, b = factor.protocol.step_ends, doubled.protocol.step_ends
    assert a[0]["end_s"] == pytest.approx(b[0]["end_s"], rel=1e-7)
    assert a[1]["capacity_mAh_g"] == pytest.approx(b[1]["capacity_mAh_g"], rel=1e-6)
    assert np.abs(factor.lithium.theta.x.array - doubled.lithium.theta.x.array).max() < 1e-7


def test_diffusivity_factor_interpolates_log_linearly_between_knots():
    """Halfway between two knots f is the geometric mean and beyond the ends the end
    value; at a knot (a rounded corner) within rounding x |d log f / d theta| / 2."""
    from solver.physics.property_tables import ROUNDING, log_linear_numpy

    knots, factors = [0.2, 0.5, 1.0], [0.01, 1.0, 4.0]
    f = log_linear_numpy([0.35, 0.75, 0.05, 1.2], knots, factors)
    assert f == pytest.approx([0.1, 2.0, 0.01, 4.0], rel=1e-6)
    steepest = np.log(100) / 0.3
    at_knots = log_linear_numpy(knots, knots, factors)
    assert np.abs(np.log(at_knots / factors)).max() <= ROUNDING * steepest / 2 * 1.01


def test_a_uniform_site_fraction_swells_freely_by_the_volume_change_table():
    """With materials.core.volume_change, a uniform change of site fraction strains the
    particle by the table's dV/V without stress (free swelling), whatever its shape."""
    from solver.physics.property_tables import VolumeChange

    table = {"site_fraction": [0.2, 0.6, 1.0], "value": [-0.05, -0.01, 0.0]}
    case = load_case(RADIAL, [f"materials.core.volume_change={{site_fraction: {table['site_fraction']}, "
                              f"value: {table['value']}, source: test}}", "lithium.initial_site_fraction=1.0"])
    sim = ChemoMechanics(case, build_domain(case, MPI.COMM_WORLD))
    sim.lithium.theta.x.array[:] = 0.4
    sim._solve_mechanics(0.0)
    expected = VolumeChange(sim.domain.msh, *(np.array(v) for v in table.values())).numpy(0.4) - 0.0
    assert sim.scalars(0.0)["volume_change"] == pytest.approx(expected, rel=1e-6)
    E = case.materials.core.youngs_modulus.si
    assert sim.peak.value_Pa < 1e-6 * E * abs(expected)


def test_a_linear_volume_change_table_is_a_partial_molar_volume(monkeypatch):
    """dV/V linear in theta with slope Omega c_max gives the stresses of Omega."""
    c_max = 6.08e4
    omega = 0.036 / (c_max * 0.8)
    table = "materials.core.volume_change={site_fraction: [0.2, 1.0], value: [-0.036, 0.0], source: test}"
    step = Step("Charge at 1C for 300 s", "current", 250.0, (Limit("time", 300.0),))
    _, tabled, _ = simulate(monkeypatch, [step], 300.0, [table, "mechanics.peak_over_time=false"])
    _, linear, _ = simulate(monkeypatch, [step], 300.0, [f"materials.core.partial_molar_volume={omega} m^3/mol",
                                                         "mechanics.peak_over_time=false"])
    assert tabled.peak.value_Pa == pytest.approx(linear.peak.value_Pa, rel=1e-6)

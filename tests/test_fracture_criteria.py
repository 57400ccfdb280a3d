"""The cheap crack criteria (solver/physics/fracture_criteria.py), the inputs' validation
(solver/case/crack_inputs.py) and the shock map's interpolation (solver/studies/shock_map.py),
against closed forms: no numbers from earlier runs."""
from __future__ import annotations

import math

import numpy as np
import pytest

from solver.case.crack_inputs import CrackInputs
from solver.physics import fracture_criteria as fc
from solver.studies import shock_map

R = 150e-9
V = 4 / 3 * math.pi * R**3


# -- Weibull ---------------------------------------------------------------------------


def test_a_uniform_stress_gives_the_weibull_closed_form():
    r = np.linspace(0, R, 401)
    sigma0, m, v0 = 400e6, 8.0, V / 3
    for s in (100e6, 400e6, 500e6):
        expected = 1 - math.exp(-(V / v0) * (s / sigma0) ** m)
        got = fc.sphere_volume_weibull_probability(r, np.full(r.size, s), sigma0, m, v0)
        assert got == pytest.approx(expected, rel=1e-4)  # trapezoid on r^2: O(h^2)
        assert fc.weibull_failure_probability(s, V, sigma0, m, v0) == pytest.approx(expected, rel=1e-12)
        assert fc.sphere_surface_weibull_probability(R, s, sigma0, m, 4 * math.pi * R**2) == pytest.approx(
            1 - math.exp(-(s / sigma0) ** m), rel=1e-12)


def test_a_linear_stress_profile_gives_the_integrated_weibull_risk():
    """sigma = S r/R: int (S r / (R s0))^m 4 pi r^2 dr = 4 pi R^3 (S/s0)^m / (m + 3)."""
    r = np.linspace(0, R, 4001)
    S, s0, m = 600e6, 500e6, 6.0
    expected = 1 - math.exp(-4 * math.pi * R**3 * (S / s0) ** m / (m + 3) / V)
    assert fc.sphere_volume_weibull_probability(r, S * r / R, s0, m, V) == pytest.approx(expected, rel=1e-5)


def test_the_failure_probability_grows_with_the_stress_and_ignores_compression():
    r = np.linspace(0, R, 101)
    shape = np.cos(np.pi * r / R)  # tension inside, compression outside
    p = [fc.sphere_volume_weibull_probability(r, s * shape, 300e6, 10.0, V) for s in np.linspace(0, 800e6, 30)]
    p = np.array(p)
    rising = p < 1 - 1e-12  # below round-off saturation every step raises P_f
    assert np.all(np.diff(p[rising]) > 0) and np.all(np.diff(p) >= 0) and rising.sum() > 20
    assert p[0] == 0.0
    squeezed = fc.sphere_volume_weibull_probability(r, -1e9 * np.ones(r.size), 300e6, 10.0, V)
    assert squeezed == 0.0


def test_an_infinite_weibull_modulus_is_a_step_at_the_characteristic_strength():
    r = np.linspace(0, R, 201)
    moduli = (20, 50, 100, 1000)
    below = [fc.sphere_volume_weibull_probability(r, np.full(r.size, 0.98 * 300e6), 300e6, m, V) for m in moduli]
    above = [fc.sphere_volume_weibull_probability(r, np.full(r.size, 1.02 * 300e6), 300e6, m, V) for m in moduli]
    assert below[-1] < 1e-8 and np.all(np.diff(below) < 0)
    assert above[-1] == pytest.approx(1.0, abs=1e-8) and np.all(np.diff(above[:3]) > 0)
    at = fc.sphere_volume_weibull_probability(r, np.full(r.size, 300e6), 300e6, 1000, V)
    assert at == pytest.approx(1 - math.exp(-1), rel=1e-4)  # exactly at sigma_0 (V = V_0): 1 - 1/e


def test_the_effective_stress_gives_the_probability_for_any_strength():
    r = np.linspace(0, R, 301)
    sigma = 700e6 * (r / R) ** 2
    eff = fc.sphere_weibull_effective_stress(r, sigma, 7.0, V)
    for s0 in (200e6, 500e6, 900e6):
        assert fc.weibull_probability_from_effective_stress(eff, s0, 7.0) == pytest.approx(
            fc.sphere_volume_weibull_probability(r, sigma, s0, 7.0, V), rel=1e-12)


# -- weight-function stress intensity --------------------------------------------------


def test_a_uniform_stress_gives_koiters_edge_crack_factor():
    x = np.linspace(0, 1e-6, 3)
    a = np.array([1e-9, 1e-8, 1e-7])
    k = fc.edge_crack_stress_intensity(x, np.full(x.size, 250e6), a)
    assert k == pytest.approx(fc.uniform_edge_crack_stress_intensity(250e6, a), rel=1e-4)  # 1.1215 to 4 digits


def test_a_linear_stress_gives_the_handbook_factors():
    """sigma = s0 x/a on the crack face: K = 0.683 s0 sqrt(pi a) (Buchalet and Bamford's
    shallow-crack coefficient for a linear stress, 0.682); sigma = s0 (1 - x/a): 1.1215 - 0.683 = 0.439."""
    a = 40e-9
    x = np.linspace(0, a, 2001)
    rising = fc.edge_crack_stress_intensity(x, 1e8 * x / a, a)[0] / (1e8 * math.sqrt(math.pi * a))
    falling = fc.edge_crack_stress_intensity(x, 1e8 * (1 - x / a), a)[0] / (1e8 * math.sqrt(math.pi * a))
    assert rising == pytest.approx(0.682, abs=2e-3)
    assert falling == pytest.approx(0.439, abs=2e-3)
    assert rising + falling == pytest.approx(1.1215, rel=1e-4)  # superposition


def test_stress_beyond_the_crack_tip_does_not_matter_and_compression_closes():
    a = 10e-9
    x = np.linspace(0, 100e-9, 1001)
    step = np.where(x <= a, 3e8, -5e9)
    assert fc.edge_crack_stress_intensity(x, step, a)[0] == pytest.approx(
        fc.uniform_edge_crack_stress_intensity(3e8, a), rel=2e-3)  # the step falls between two samples
    assert fc.edge_crack_stress_intensity(x, np.full(x.size, -1e8), a)[0] < 0


def test_the_surface_crack_of_a_sphere_reads_the_hoop_stress_from_the_surface_in():
    r = np.linspace(0, R, 3001)
    hoop = 5e8 * (r / R) ** 4
    a = 0.1 * R
    depth = np.linspace(0, a, 3001)
    direct = fc.edge_crack_stress_intensity(depth, 5e8 * ((R - depth) / R) ** 4, a)[0]
    assert fc.sphere_surface_crack_stress_intensity(r, hoop, a)[0] == pytest.approx(direct, rel=1e-5)


def test_bad_profiles_are_refused():
    with pytest.raises(ValueError, match="strictly increasing"):
        fc.edge_crack_stress_intensity([0, 0, 1], [1, 1, 1], 0.5)
    with pytest.raises(ValueError, match="crack_depths_m"):
        fc.edge_crack_stress_intensity([0, 1], [1, 1], 0.0)
    with pytest.raises(ValueError, match="must be > 0"):
        fc.sphere_volume_weibull_probability([0, 1], [1, 1], 0.0, 10, 1.0)


# -- inputs and the map's bookkeeping -------------------------------------------------


def test_crack_inputs_name_the_key_and_its_range():
    inputs = CrackInputs()
    assert inputs.with_changes(weibull_modulus=20).weibull_modulus == 20
    with pytest.raises(ValueError, match=r"fracture_toughness_Pa_sqrt_m: must be in \(10000, 2e\+07\]"):
        inputs.with_changes(fracture_toughness_Pa_sqrt_m=-1)
    with pytest.raises(ValueError, match="max_flaw_fraction_of_radius"):
        inputs.with_changes(max_flaw_fraction_of_radius=0.9)
    with pytest.raises(ValueError, match="toughness: not a crack input"):
        inputs.with_changes(toughness=1)
    a = inputs.flaw_depths_m(R)
    assert a[0] == pytest.approx(0.5e-9) and a[-1] == pytest.approx(0.1 * R)


def test_the_critical_rate_interpolates_a_power_law_exactly():
    rates = [0.5, 1, 2, 5]
    k = [0.3 * c**0.7 for c in rates]  # K proportional to C^0.7
    assert shock_map.critical_rate(rates, k, 0.3 * 3.0**0.7) == pytest.approx(3.0, rel=1e-12)
    assert shock_map.critical_rate(rates, k, 10.0) is None
    assert shock_map.critical_rate(rates, k, 0.1) == 0.0


def test_member_overrides_scale_the_end_time_and_the_mesh_with_the_radius():
    case = shock_map.load_case(shock_map.SAMPLES["pristine"])
    sets = shock_map.member_overrides(case, 50, 2.0)
    assert "protocol.end_time=37.5 min" in sets and "geometry.radius=50 nm" in sets
    assert "mesh.bulk=1 nm" in sets and any(s.startswith("mesh.surface=0.16") for s in sets)
    big = shock_map.member_overrides(case, 500, 0.5)
    assert "mesh.bulk=3 nm" in big and "mesh.surface=0.5 nm" in big and "protocol.end_time=150 min" in big
    shock_map.load_case(shock_map.SAMPLES["Ru-1"], big)  # a valid case


def test_the_map_reads_the_surface_hoop_stress_of_a_galvanostatic_sphere():
    """On the closed-form galvanostatic sphere (Cheng and Verbrugge) in its parabolic
    regime, the map's criteria see the steady surface hoop stress (1/5) K j R / D, and the
    shallowest flaw the handbook K of that surface stress and its gradient."""
    from solver.physics import analytic

    D, omega, E, nu, flux = 1e-18, 6.9e-7, 150e9, 0.3, 2e-7  # extraction (outward) flux, mol/m^2/s
    r = np.linspace(0, R, 3001)
    out = analytic.galvanostatic_sphere(r, 2.0 * R**2 / D, flux, R, D, omega, E, nu)
    profile = {"r_m": np.append(r, R / 2), "sigma_t_Pa": np.append(out["sigma_t_Pa"], -1e12),
               "sigma_1_Pa": np.append(np.maximum(out["sigma_r_Pa"], out["sigma_t_Pa"]), -1e12)}  # a repeated radius
    steady = analytic.steady_surface_hoop_stress(flux, R, D, omega, E, nu)
    member = shock_map.run_criteria([profile], R, CrackInputs())
    assert member["hoop_max_Pa"] == pytest.approx(steady, rel=1e-3)
    a = np.asarray(member["depths_m"])[0]
    assert a == pytest.approx(0.15e-9)  # 1e-3 R, below the 0.5 nm floor
    k = member["k_envelope_Pa_sqrt_m"][0]
    gradient = (out["sigma_t_Pa"][-2] - out["sigma_t_Pa"][-1]) / (r[-1] - r[-2])  # d sigma / d depth
    linear = fc.uniform_edge_crack_stress_intensity(steady, a) + 0.6830 * gradient * a * math.sqrt(math.pi * a)
    assert k == pytest.approx(linear, rel=2e-4)  # uniform + linear handbook terms
    assert member["weibull_effective_stress_Pa"]["10"] < steady  # tension only near the surface


def test_a_shock_map_member_meets_the_closed_form_sphere(tmp_path):
    """End to end on one small member (pristine, 50 nm, 0.5C; a 1D run of seconds): during
    the galvanostatic charge the run's hoop profile is the Cheng-Verbrugge sphere's (constant
    D, one-way stress), so K_I of a 0.1 R flaw and the Weibull effective stress read from
    the run's profile agree with those read from the closed form at the same time."""
    from mpi4py import MPI

    from solver.io.log import Log
    from solver.io.tables import read_profiles
    from solver.physics import analytic
    from solver.physics.protocol import galvanostatic_flux_mol_m2_s
    from solver.simulation.run import run_case

    base = shock_map.load_case(shock_map.SAMPLES["pristine"])
    case = shock_map.load_case(shock_map.SAMPLES["pristine"], shock_map.member_overrides(base, 50, 0.5))
    assert run_case(case, tmp_path, MPI.COMM_SELF, Log(MPI.COMM_SELF, quiet=True))["status"] == "completed"
    profiles = read_profiles(tmp_path / "profiles.csv")
    t = sorted(profiles)[40]  # 40 of 150 output intervals: 40 min into the ~110 min charge
    r, hoop, first = shock_map._ray(profiles[t])
    core = case.materials.core
    radius = case.geometry.radius.si
    flux = galvanostatic_flux_mol_m2_s(0.5, case.protocol.current_1C.si, core.density.si, radius)
    exact = analytic.galvanostatic_sphere(r, t, flux, radius, core.lithium_diffusivity.si,
                                          core.partial_molar_volume.si, core.youngs_modulus.si, core.poisson_ratio.si)
    a = 0.1 * radius
    k_run = fc.sphere_surface_crack_stress_intensity(r, hoop, a)[0]
    k_exact = fc.sphere_surface_crack_stress_intensity(r, exact["sigma_t_Pa"], a)[0]
    assert k_exact > 0 and k_run == pytest.approx(k_exact, rel=1e-3)
    first_exact = np.maximum(exact["sigma_r_Pa"], exact["sigma_t_Pa"])
    v0 = CrackInputs().reference_volume_m3
    assert fc.sphere_weibull_effective_stress(r, first, 10, v0) == pytest.approx(
        fc.sphere_weibull_effective_stress(r, first_exact, 10, v0), rel=1e-3)

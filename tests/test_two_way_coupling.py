"""Two-way coupling (stress-assisted diffusion, docs/model.md §2, docs/fidelity.md "One-way
or two-way coupling"): what the drift term must do, from closed forms, never from earlier
runs.

In a homogeneous sphere the hydrostatic stress is local in c (Timoshenko's thermal
analogy, docs/model.md §2): sigma_h = (2/3) K (mean of dc - dc(r)), K = Omega E / (3 (1 - nu)).
So grad sigma_h = -(2/3) K c_max grad theta and the flux
J = -D c_max (grad theta - theta Omega / (R_g T) grad sigma_h) is exactly a Fickian flux
with the diffusivity

    D_eff(theta) = D (1 + beta theta),   beta = 2 Omega^2 E c_max / (9 (1 - nu) R_g T).
"""
import numpy as np
import pytest
import yaml
from mpi4py import MPI
from scipy.integrate import solve_ivp
from scipy.sparse import diags

from conftest import CASES
from solver.case.schema import load_case
from solver.case.units import GAS_CONSTANT_J_MOL_K
from solver.simulation.chemomechanics import ChemoMechanics
from solver.simulation.domain_setup import build_domain
from solver.simulation.drive import galvanostatic_flux_of_case
from solver.studies import variants
from solver.studies.fitting import run_summary

RADIAL = CASES / "verify_galvanostatic_radial.yaml"  # homogeneous sphere, 10 min at 1C, no floor
PRISTINE_TWO_WAY = variants.TWO_WAY_FILES["pristine"]
TWO_WAY = "mechanics.stress_assisted_diffusion=true"


def simulate(path, overrides=()):
    case = load_case(path, ["output.fields=false", *overrides])
    sim = ChemoMechanics(case, build_domain(case, MPI.COMM_WORLD))
    sim.run()
    return case, sim


def beta_of(case) -> float:
    core = case.materials.core
    RT = GAS_CONSTANT_J_MOL_K * case.mechanics.temperature.si
    return (2 * core.partial_molar_volume.si**2 * core.youngs_modulus.si * core.lithium_site_concentration.si
            / (9 * (1 - core.poisson_ratio.si) * RT))


def fickian_sphere(R, D, beta, c_max, flux, t_end, cells=400):
    """Independent reference: finite volumes on [0, R] (uniform cells, theta at their
    centres), d(c_max theta)/dt = (1/r^2) d/dr (r^2 D (1 + beta theta) c_max dtheta/dr),
    outward flux `flux` at r = R, theta(0) = 1, integrated by scipy's BDF. Returns
    (surface theta, mean theta) at t_end; the surface value extrapolated from the last
    centre with the imposed flux."""
    h = R / cells
    faces = np.linspace(0.0, R, cells + 1)
    volumes = (faces[1:] ** 3 - faces[:-1] ** 3) / 3
    areas = faces[1:-1] ** 2

    def rate(_, theta):
        d_face = D * (1 + beta * 0.5 * (theta[1:] + theta[:-1]))
        inward = areas * d_face * (theta[1:] - theta[:-1]) / h  # per c_max, per 4 pi
        out = np.zeros_like(theta)
        out[:-1] += inward
        out[1:] -= inward
        out[-1] -= R**2 * flux / c_max
        return out / volumes

    pattern = diags([1, 1, 1], [-1, 0, 1], shape=(cells, cells))
    sol = solve_ivp(rate, (0.0, t_end), np.ones(cells), method="BDF", rtol=1e-8, atol=1e-11,
                    jac_sparsity=pattern)
    theta = sol.y[:, -1]
    surface = theta[-1]
    for _ in range(3):  # D_eff at the surface depends on the surface value itself
        surface = theta[-1] - flux / (c_max * D * (1 + beta * surface)) * h / 2
    return surface, float(volumes @ theta / volumes.sum())


def test_stress_drift_in_a_homogeneous_sphere_is_fickian_diffusion_with_D_1_plus_beta_theta():
    """The 1D two-way solver (lagged drift, BDF2) against the reference with D_eff: the
    surface site fraction and the peak (surface hoop) stress K c_max (mean theta -
    theta_surface) agree; one-way coupling is far from it (the check can fail)."""
    case, two = simulate(RADIAL, [TWO_WAY])
    _, one = simulate(RADIAL)
    core = case.materials.core
    c_max, t_end = core.lithium_site_concentration.si, case.protocol.end_time.si
    beta = beta_of(case)
    surface, mean = fickian_sphere(case.geometry.radius.si, core.lithium_diffusivity.si, beta, c_max,
                                   galvanostatic_flux_of_case(case), t_end)
    K = core.partial_molar_volume.si * core.youngs_modulus.si / (3 * (1 - core.poisson_ratio.si))
    reference_Pa = K * c_max * (mean - surface)
    print(f"\nbeta = {beta:.4f}; peak at {t_end:g} s: two-way {two.peak.value_Pa / 1e6:.3f} MPa, "
          f"D(1 + beta theta) reference {reference_Pa / 1e6:.3f} MPa, one-way {one.peak.value_Pa / 1e6:.3f} MPa; "
          f"surface theta {two.lithium.surface_min():.5f} vs {surface:.5f}")
    assert two.peak.time_s == pytest.approx(t_end)
    assert two.lithium.surface_min() == pytest.approx(surface, abs=1e-3)
    assert two.peak.value_Pa == pytest.approx(reference_Pa, rel=5e-3)
    assert abs(one.peak.value_Pa / reference_Pa - 1) > 0.05


def test_stress_drift_lowers_the_pristine_peak_at_the_same_D():
    """During extraction the surface is Li-poor, so the hydrostatic stress there is
    TENSILE, sigma_h(R) = (2/3) K (mean dc - dc(R)) > 0, and compressive in the core. The
    drift D c Omega/(R_g T) grad sigma_h carries Li up that gradient, outward, with the
    extraction: less concentration gradient is needed for the same current, so the peak
    falls. D_eff lies between D (1 + beta theta_floor) and D (1 + beta), and the
    quasi-steady peak goes as 1/D, which brackets the two-way peak."""
    fitted = ["materials.core.lithium_diffusivity=1.4381e-18 m^2/s"]  # the one-way headline's D
    case, two = simulate(PRISTINE_TWO_WAY, fitted)
    _, one = simulate(PRISTINE_TWO_WAY, [*fitted, "mechanics.stress_assisted_diffusion=false"])
    beta, floor = beta_of(case), case.lithium.min_site_fraction.si
    pairs = MPI.COMM_WORLD.allgather((two.sigma_h_P1.function_space.tabulate_dof_coordinates()[:, 0],
                                      two.sigma_h_P1.x.array.copy()))
    r, sigma_h = (np.concatenate(p) for p in zip(*pairs))
    print(f"\nbeta = {beta:.4f}: one-way {one.peak.value_Pa / 1e6:.1f} MPa, two-way {two.peak.value_Pa / 1e6:.1f} MPa; "
          f"bracket {one.peak.value_Pa / (1 + beta) / 1e6:.1f}-{one.peak.value_Pa / (1 + beta * floor) / 1e6:.1f} MPa")
    assert sigma_h[np.argmax(r)] > 0 > sigma_h[np.argmin(r)]  # tensile surface, compressive centre
    assert one.peak.value_Pa / (1 + beta) < two.peak.value_Pa < one.peak.value_Pa / (1 + beta * floor)


def peak_MPa(path, overrides):
    case = load_case(path, ["output.fields=false", *overrides])
    return run_summary(case, MPI.COMM_WORLD)["stress"]["peak_von_mises_Pa"] / 1e6


def test_two_way_peak_is_not_a_function_of_the_group_alone():
    """One-way, the peak is Omega E/(1 - nu) times a function of the concentration alone,
    which Omega and E do not change: Omega x2 with E /2 keeps the group
    Omega E i rho R^2 / ((1 - nu) D) and the peak exactly. Two-way, the same pair doubles
    beta = 2 Omega^2 E c_max / (9 (1 - nu) R_g T), D_eff grows and the peak falls. What
    survives is the C-rate/D scaling: i x2 with D x2 is the same problem in t' = 2t
    (flux and diffusion both twice as fast), so the fitted D still absorbs the
    unstated C-rate, but no longer E, Omega or nu."""
    case = load_case(PRISTINE_TWO_WAY)
    core = case.materials.core
    swap = [f"materials.core.partial_molar_volume={2 * core.partial_molar_volume.si!r} m^3/mol",
            f"materials.core.youngs_modulus={core.youngs_modulus.si / 2!r} Pa"]
    faster = ["protocol.c_rate=2", f"materials.core.lithium_diffusivity={2 * core.lithium_diffusivity.si!r} m^2/s",
              f"protocol.end_time={case.protocol.end_time.si / 2!r} s"]
    one_way = ["mechanics.stress_assisted_diffusion=false"]
    peaks = {"one-way": peak_MPa(PRISTINE_TWO_WAY, one_way), "one-way, Omega x2, E /2": peak_MPa(PRISTINE_TWO_WAY, one_way + swap),
             "two-way": peak_MPa(PRISTINE_TWO_WAY, []), "two-way, Omega x2, E /2": peak_MPa(PRISTINE_TWO_WAY, swap),
             "two-way, 2C, D x2": peak_MPa(PRISTINE_TWO_WAY, faster)}
    print("\n" + "\n".join(f"{k:26s} {v:9.3f} MPa" for k, v in peaks.items()))
    assert peaks["one-way, Omega x2, E /2"] == pytest.approx(peaks["one-way"], rel=1e-9)
    assert peaks["two-way, Omega x2, E /2"] < 0.9 * peaks["two-way"]
    assert peaks["two-way, 2C, D x2"] == pytest.approx(peaks["two-way"], rel=1e-6)


def _without_coupling_and_D(path) -> dict:
    """The case as data, less what a two-way twin may change: the coupling, the D values
    (and their sources), the fit's record, the name and the description."""
    data = yaml.safe_load(path.read_text())
    for key in ("name", "description", "mechanics", "fitted"):
        data.pop(key, None)
    for region in data["materials"].values():
        region.pop("lithium_diffusivity", None)
    return data


@pytest.mark.parametrize("sample", ["pristine", "B"])
def test_two_way_twins_are_the_headline_cases_but_for_the_coupling_and_D(sample):
    headline, twin = variants.CASE_FILES[sample], variants.TWO_WAY_FILES[sample]
    one, two = load_case(headline), load_case(twin)
    assert _without_coupling_and_D(headline) == _without_coupling_and_D(twin)
    assert not one.mechanics.stress_assisted_diffusion and two.mechanics.stress_assisted_diffusion
    d_two = load_case(variants.TWO_WAY_FILES["pristine"]).materials.core.lithium_diffusivity.si
    assert two.materials.core.lithium_diffusivity.si == d_two  # Ru-1 takes the two-way pristine fit
    if two.materials.layer.lithium_diffusivity is not None:  # the layer's D: x10 the core's, as the headline
        ratio = one.materials.layer.lithium_diffusivity.si / one.materials.core.lithium_diffusivity.si
        assert two.materials.layer.lithium_diffusivity.si == pytest.approx(ratio * d_two, rel=1e-4)


def test_two_way_coupling_raises_the_ru1_to_pristine_peak_ratio():
    """beta goes as Omega^2 and B's Ru-1 Omega is 23 % below the pristine one (the two
    XRD values): the drift speeds the pristine particle up more than Ru-1, so with D
    re-fitted to the same pristine peak the Ru-1 peak rises relative to one-way."""
    ratios = {}
    for label, files in (("one-way", variants.CASE_FILES), ("two-way", variants.TWO_WAY_FILES)):
        ratios[label] = peak_MPa(files["B"], []) / peak_MPa(files["pristine"], [])
    omega = {k: load_case(variants.TWO_WAY_FILES[k]).materials.core.partial_molar_volume.si for k in ("pristine", "B")}
    print(f"\nRu-1/pristine peak ratio: {ratios}; Omega_B/Omega_pristine {omega['B'] / omega['pristine']:.4f}")
    assert omega["B"] < omega["pristine"]
    assert ratios["two-way"] > ratios["one-way"]

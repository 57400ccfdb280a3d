"""Claims about the Li+ transport and diffusion-induced stress, checked against the
closed-form galvanostatic sphere (docs/model.md §2) and against invariants."""
import numpy as np
import pytest
from mpi4py import MPI

from conftest import CASES
from solver.physics import analytic
from solver.case.schema import load_case
from solver.simulation.chemomechanics import ChemoMechanics
from solver.physics.protocol import ProtocolDriver
from solver.physics.steps import Protocol, Step
from solver.simulation.drive import galvanostatic_flux_of_case
from solver.simulation.domain_setup import build_domain

RADIAL = CASES / "verify_galvanostatic_radial.yaml"


def simulate(overrides=(), path=RADIAL, rest=False):
    case = load_case(path, list(overrides))
    sim = ChemoMechanics(case, build_domain(case, MPI.COMM_WORLD))
    if rest:  # no current: the particle must stay at rest
        sim.protocol = ProtocolDriver(Protocol((Step("Rest", "rest"),), case.protocol.end_time.si),
                                      sim.particle, kinetics=False)
    sim.run()
    return case, sim


def closed_form_peak(case, t):
    core = case.materials.core
    R = case.geometry.radius.si
    flux = galvanostatic_flux_of_case(case)
    return analytic.galvanostatic_sphere(
        [R], t, flux, R, core.lithium_diffusivity.si, core.partial_molar_volume.si,
        core.youngs_modulus.si, core.poisson_ratio.si)["sigma_vm_Pa"][0]


def test_peak_von_mises_matches_closed_form_sphere_in_1d():
    case, sim = simulate()
    exact = closed_form_peak(case, sim.peak.time_s)
    assert sim.peak.time_s == pytest.approx(case.protocol.end_time.si)
    assert sim.peak.radius_m == pytest.approx(case.geometry.radius.si)
    assert abs(sim.peak.value_Pa / exact - 1) < 1e-3


def test_peak_error_shrinks_at_second_order_under_refinement():
    """Mesh size and step change halved together: P1/P2 in space, BDF2 in time."""
    rows = []
    for level, (surface, bulk, change) in enumerate([(4, 16, 0.016), (2, 8, 0.008), (1, 4, 0.004)]):
        case, sim = simulate([f"mesh.surface={surface} nm", f"mesh.bulk={bulk} nm",
                              f"time_stepping.max_change_per_step={change}"])
        exact = closed_form_peak(case, sim.peak.time_s)
        rows.append((surface, sim.peak.value_Pa, abs(sim.peak.value_Pa / exact - 1)))
    print("\nsurface size [nm]  peak von Mises [MPa]  relative error  observed order")
    for i, (h, value, err) in enumerate(rows):
        order = np.log2(rows[i - 1][2] / err) if i else float("nan")
        print(f"{h:17g}  {value / 1e6:20.4f}  {err:14.3e}  {order:14.2f}")
    errors = [r[2] for r in rows]
    assert errors[0] > errors[1] > errors[2]
    assert np.log2(errors[0] / errors[2]) / 2 > 1.5


def test_layer_with_the_core_properties_gives_the_homogeneous_result():
    _, homogeneous = simulate()
    _, layered = simulate(["geometry.layer_thickness=20 nm", "materials.layer.site_deficiency_at_surface=0"])
    assert layered.peak.value_Pa == pytest.approx(homogeneous.peak.value_Pa, rel=5e-4)
    assert layered.peak.region == "layer"  # the surface belongs to the layer


@pytest.mark.parametrize("profile", ["step", "linear", "erfc"])
def test_unloaded_layered_particle_stays_at_rest_and_stress_free(profile):
    case, sim = simulate(["geometry.layer_thickness=20 nm",
                          "materials.layer.site_deficiency_at_surface=0.2",
                          f"materials.layer.profile={profile}",
                          "materials.layer.lithium_diffusivity=5e-17 m^2/s"], rest=True)
    theta = sim.lithium.theta.x.array
    assert np.max(np.abs(theta - case.lithium.initial_site_fraction.si)) < 1e-12
    core = case.materials.core
    stress_scale = core.youngs_modulus.si * core.partial_molar_volume.si * core.lithium_site_concentration.si
    assert sim.peak.value_Pa < 1e-9 * stress_scale  # round-off of a ~6 GPa scale


def test_lithium_is_conserved_during_galvanostatic_extraction():
    """Li lost = flux x area x time (the outward flux is the only sink)."""
    case, sim = simulate()
    row = sim.scalars(case.protocol.end_time.si)
    R = case.geometry.radius.si
    c0 = case.materials.core.lithium_site_concentration.si
    initial = c0 * 4 / 3 * np.pi * R**3
    extracted = sim.first_flux_mol_m2_s * 4 * np.pi * R**2 * case.protocol.end_time.si
    assert row["li_mol"] == pytest.approx(initial - extracted, rel=1e-10)


def test_switch_to_hold_lands_on_the_floor_and_holds_it():
    case, sim = simulate(["lithium.min_site_fraction=0.95", "protocol.end_time=20 min",
                          "output.times={values: [300, 600, 900, 1200]}"])
    assert sim.stats.switch_time_s is not None and 0 < sim.stats.switch_time_s < 1200
    assert sim.protocol.holding
    assert sim.lithium.surface_min() == pytest.approx(0.95, abs=1e-9)


def test_stress_assisted_diffusion_reduces_to_one_way_as_omega_vanishes():
    """The drift term scales with Omega * sigma_h ~ Omega^2: the difference between
    two-way and one-way coupling must fall ~100x when Omega falls 10x."""
    def difference(omega):
        common = [f"materials.core.partial_molar_volume={omega} m^3/mol"]
        _, one = simulate(common)
        _, two = simulate(common + ["mechanics.stress_assisted_diffusion=true"])
        return np.max(np.abs(two.lithium.theta.x.array - one.lithium.theta.x.array))

    big, small = difference(7.1e-7), difference(7.1e-8)
    print(f"\nmax |theta_two-way - theta_one-way|: {big:.3e} (Omega), {small:.3e} (Omega/10)")
    assert big > 1e-5
    assert small / big < 0.03


def test_full_sphere_with_rigid_body_null_space_matches_closed_form():
    """No symmetry planes: the six rigid-body modes are the operator's null space."""
    case, sim = simulate(["geometry.shape=sphere", "mesh.surface=10 nm", "mesh.bulk=30 nm",
                          "protocol.end_time=2 min", "output.times={values: [120]}",
                          "mechanics.stress_every_steps=1000", "time_stepping.max_change_per_step=0.005"])
    exact = closed_form_peak(case, sim.peak.time_s)
    assert abs(sim.peak.value_Pa / exact - 1) < 0.03
    # rigid-body motion removed: the centre of mass does not move
    u = sim.mechanics.u.x.array.reshape(-1, 3)
    assert np.abs(u.mean(axis=0)).max() < 1e-3 * np.abs(u).max()


def test_layered_octant_agrees_with_the_radial_model():
    """One model, two geometries: a graded Li-deficient layer (fewer sites, faster D) in
    3D gives the 1D stress at the same times, within the 3D discretisation error."""
    common = ["geometry.layer_thickness=20 nm", "materials.layer.site_deficiency_at_surface=0.15",
              "materials.layer.lithium_diffusivity=1e-16 m^2/s", "protocol.end_time=5 min",
              "output.times={values: [300]}", "mechanics.stress_every_steps=100000",
              "time_stepping.max_change_per_step=0.005"]
    _, radial = simulate(common)
    _, octant = simulate(common + ["geometry.shape=octant", "mesh.surface=4 nm", "mesh.bulk=8 nm"])
    assert octant.peak.value_Pa == pytest.approx(radial.peak.value_Pa, rel=0.02)
    assert octant.peak.radius_m == pytest.approx(radial.peak.radius_m, abs=4e-9)

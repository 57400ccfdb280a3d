"""Closed forms that bound what the paper's stress numbers can tell apart (docs/model.md §2,
"What the fit fixes" and "A lower bound for any surface layer")."""
import pytest
from mpi4py import MPI

from conftest import CASES
from solver.case.schema import load_case
from solver.case.units import FARADAY_C_MOL
from solver.studies.fitting import run_summary

PRISTINE = CASES / "pristine_stress.yaml"


def peak(overrides=()):
    case = load_case(PRISTINE, ["output.fields=false", *overrides])
    return case, run_summary(case, MPI.COMM_WORLD)["stress"]


def test_quasi_steady_peak_is_the_group_omega_E_i_rho_R2_over_45_1_minus_nu_F_D():
    """Constant outward flux j = i rho R / (3F): once quasi-steady, the surface hoop
    stress is Omega E j R / (15 (1 - nu) D) (Crank's profile, §2), i.e.
    Omega E i rho R^2 / (45 (1 - nu) F D). The pristine peak (tau = D t / R^2 ~ 0.24, the
    transient's first term ~1 %) agrees within 2 %, so a fit to 567 MPa fixes only this
    group: D, the C-rate, E, Omega and R cannot be told apart by the peak."""
    case, st = peak()
    core = case.materials.core
    i_A_kg = case.protocol.c_rate.si * case.protocol.current_1C.si
    group = (core.partial_molar_volume.si * core.youngs_modulus.si * i_A_kg * core.density.si
             * case.geometry.radius.si**2 / (45 * (1 - core.poisson_ratio.si) * FARADAY_C_MOL
                                            * core.lithium_diffusivity.si))
    assert st["peak_von_mises_Pa"] == pytest.approx(group, rel=0.02)


LAYERS = {
    "fewer sites, linear": [],
    "soft (E 50 GPa, nu 0.2)": ["materials.layer.youngs_modulus=50 GPa", "materials.layer.poisson_ratio=0.2"],
    "stiff (E 400 GPa)": ["materials.layer.youngs_modulus=400 GPa"],
    "no strain (Omega ~ 0)": ["materials.layer.partial_molar_volume=1e-9 m^3/mol"],
    "faster (D x100)": ["materials.layer.lithium_diffusivity=1.4e-16 m^2/s"],
    "slower (D x0.1)": ["materials.layer.lithium_diffusivity=1.4e-19 m^2/s"],
    "twice as deficient, step": ["materials.layer.site_deficiency_at_surface=0.3", "materials.layer.profile=step"],
}


@pytest.mark.parametrize("thickness_nm", [4.5, 20])
@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_no_surface_layer_lowers_the_peak_below_the_core_bound(thickness_nm, layer):
    """In a spherically symmetric particle the layer acts on the core only through a
    uniform radial pressure, which adds hydrostatic stress and no von Mises stress; the
    core's quasi-steady profile gives von Mises ∝ r^2. So the peak is at least the
    homogeneous particle's peak x (r_inner/R)^2, whatever the layer's E, nu, Omega or D."""
    _, homogeneous = peak()
    case, st = peak([f"geometry.layer_thickness={thickness_nm} nm", "materials.layer.site_deficiency_at_surface=0.15",
                     "materials.layer.profile=linear", "mesh.interface=0.25 nm", *LAYERS[layer]])
    R = case.geometry.radius.si
    bound = homogeneous["peak_von_mises_Pa"] * ((R - thickness_nm * 1e-9) / R) ** 2
    assert st["peak_von_mises_Pa"] >= bound

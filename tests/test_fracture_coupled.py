"""The AT1 phase field driven by the chemo-mechanics (solver/simulation/fracture_submodel.py,
docs/fracture.md): a stress-free swelling does not crack, the damage never heals over a
run, the surface cracks only when its stress passes the AT1 onset, the case section is
validated, and 2 ranks give the serial run."""
import json
import math

import numpy as np
import pytest
from dolfinx import fem, mesh
from mpi4py import MPI

from conftest import CASES, run_lrmo
from solver import compat
from solver.case.loading import CaseError
from solver.case.schema import load_case, load_case_data, validate_case
from solver.physics.fracture import FractureParameters, PhaseFieldFracture, absolute_tolerances

E, NU = 150e9, 0.3
PEAK_BIAXIAL_ONSET = math.sqrt(2 * (1 - NU))  # sigma_c / this: where psi+ of sigma_t = sigma_p, sigma_r = 0 is 3 G_c / (16 l)


def _symmetric_box(n=4, side=1e-7):
    msh = mesh.create_box(MPI.COMM_WORLD, [np.zeros(3), np.full(3, side)], [n] * 3, mesh.CellType.tetrahedron)
    V = compat.functionspace(msh, "Lagrange", 1, (3,))
    bcs = []
    for axis in range(3):  # the planes x_i = 0: as the octant's symmetry planes
        facets = mesh.locate_entities_boundary(msh, 2, lambda x, a=axis: np.isclose(x[a], 0.0))
        Vi = V.sub(axis)
        bcs.append(fem.dirichletbc(compat.scalar_type(0.0), fem.locate_dofs_topological(Vi, 2, facets), Vi))
    return msh, V, bcs


@pytest.mark.parametrize("held", [False, True])
def test_uniform_swelling_of_a_free_body_is_stress_free_and_does_not_crack(held):
    """eps* = e I uniform on a body free but for its symmetry planes: u = e x, no stress,
    no damage, whatever e (here -100 x the onset strain sigma_c / E: shrinking, as on
    charge). The control: held on every face, e = -2 sigma_c / E is the hydrostatic
    tension -3K e, 30 times the onset energy, and it cracks."""
    msh, V, bcs = _symmetric_box()
    params = FractureParameters(E, NU, toughness_J_m2=0.35, length_scale_m=1e-7 / 4 * 1.25)
    strain_onset = params.critical_stress_Pa / E
    e = (-2 if held else -100) * strain_onset
    if held:
        facets = mesh.locate_entities_boundary(msh, 2, lambda x: np.full(x.shape[1], True))
        bcs = [fem.dirichletbc(np.zeros(3, dtype=compat.scalar_type),
                               fem.locate_dofs_topological(V, 2, facets), V)]
    u_options, d_options = absolute_tolerances(params, 1e-21)
    model = PhaseFieldFracture(V, params, bcs, eigenstrain=compat.constant(msh, e),
                               displacement_options=u_options, damage_options=d_options)
    model.solve_step()
    d_max = msh.comm.allreduce(model.d.x.array.max(), op=MPI.MAX)
    if held:
        assert d_max > 0.5
        return
    x = V.tabulate_dof_coordinates()
    u = model.u.x.array.reshape(-1, 3)
    assert np.allclose(u, e * x, atol=1e-9 * abs(e) * 1e-7)
    assert d_max == 0.0
    assert model.elastic_energy() < 1e-16 * (E * e ** 2 * 1e-21)


def _validated(change):
    data = load_case_data(CASES / "pristine_fracture_octant.yaml")
    change(data)
    return validate_case(data)


@pytest.mark.parametrize("change, message", [
    (lambda d: d["fracture"].update(toughness="0 J/m^2"), r"fracture.toughness: must be > 0"),
    (lambda d: d["fracture"].update(length_scale="10 nm"), r"less than 4 x mesh.surface \(5 nm\)"),
    (lambda d: d["fracture"].update(length_scale=None, strength="2 GPa"), r"fracture.strength .*less than 4 x mesh"),
    (lambda d: d["fracture"].update(strength="1 GPa"), r"exactly one of strength"),
    (lambda d: d["fracture"].update(residual_stiffness=1.5), r"fracture.residual_stiffness: must be >= 0 and < 1"),
    (lambda d: d["fracture"].update(every_steps=0), r"fracture.every_steps"),
    (lambda d: d.update(physics=["lithium", "fracture"]), r"'fracture' needs 'mechanics'"),
    (lambda d: d.pop("fracture"), r"fracture: required when physics includes 'fracture'"),
    (lambda d: d["fracture"].update(grain_boundary_toughness_factor=0.5), r"only on geometry.shape: secondary"),
    (lambda d: d["fracture"].update(grain_boundary_toughness_factor=0), r"toughness_factor: must be > 0 and <= 1"),
])
def test_fracture_section_is_validated_naming_the_key_and_range(change, message):
    with pytest.raises(CaseError, match=message):
        _validated(change)


def test_a_length_scale_of_exactly_four_surface_elements_is_accepted():
    """l = 1 um over 250 nm: 4 h to the digit, not refused by the SI conversion's round-off."""
    case = _validated(lambda d: (d["fracture"].update(length_scale="1 um"), d["mesh"].update(surface="250 nm", bulk="250 nm"),
                                 d["geometry"].update(radius="2 um")))
    assert case.fracture.length_scale.si == pytest.approx(4 * case.mesh.surface.si)


def test_the_shipped_fracture_case_resolves_its_length_scale():
    case = _validated(lambda d: None)
    assert case.fracture.length_scale_m(E) >= 4 * case.mesh.surface.si


def _charge(toughness_J_m2, end_min=4.0, comm=MPI.COMM_WORLD):
    """A 100 nm octant charged at 2C (l = 40 nm, h = 10 nm): the fracture submodel's
    history of (max d, nodal d) at every solve and the run's peak von Mises stress."""
    from solver.simulation.domain_setup import build_domain
    from solver.simulation.run import engine_of_case

    case = load_case(CASES / "pristine_fracture_octant.yaml")
    case.mesh.surface, case.mesh.bulk, case.geometry.radius = "10 nm", "30 nm", "100 nm"
    case.protocol.end_time = f"{end_min} min"
    case.fracture.toughness = f"{toughness_J_m2} J/m^2"
    case.fracture.length_scale = "40 nm"
    case.fracture.every_steps = 5
    case.output.count = 3
    engine = engine_of_case(case, build_domain(case, comm))
    fracture = engine.submodels[-1]
    history = []
    solve = fracture._solve

    def recorded():
        solve()
        history.append(fracture.damage.x.array[: fracture._n].copy())

    fracture._solve = recorded
    engine.run()
    return engine, fracture, history


def _toughness_for(sigma_c_Pa, ell_m=40e-9):
    return 8 * ell_m * sigma_c_Pa ** 2 / (3 * E)


@pytest.fixture(scope="module")
def weak_run():
    """G_c set so that the surface's biaxial onset stress is 0.6 of the run's peak."""
    peak = _charge(_toughness_for(10e9))[0].lithium.peak.value_Pa  # G_c so high nothing cracks
    engine, fracture, history = _charge(_toughness_for(0.6 * peak * PEAK_BIAXIAL_ONSET))
    return peak, engine, fracture, history


def test_damage_never_decreases_over_the_run(weak_run):
    _, _, fracture, history = weak_run
    assert len(history) > 5
    assert max(h.max() for h in history) > 0.01
    for before, after in zip(history, history[1:]):
        assert np.all(after >= before)  # every node, every solve: the lower bound is the past


def test_the_surface_cracks_above_the_at1_onset_and_not_below(weak_run):
    peak, engine, fracture, _ = weak_run
    assert engine.lithium.peak.value_Pa == pytest.approx(peak, rel=1e-9)  # one-way: the Li run is the same
    r = fracture.results()["fracture"]
    assert r["damage_max"] > 0.01
    assert r["onset"]["location"] == "surface"
    # below: sigma_c set so the biaxial onset is 1.2 x the run's peak stress -> d = 0 exactly
    _, strong, _ = _charge(_toughness_for(1.2 * peak * PEAK_BIAXIAL_ONSET))
    s = strong.results()["fracture"]
    assert s["damage_max"] == 0.0 and s["onset"] is None and s["fracture_energy_J"] == 0.0


SMALL = ["--set", "mesh.surface=10 nm", "--set", "mesh.bulk=30 nm", "--set", "geometry.radius=100 nm",
         "--set", "protocol.end_time=4 min", "--set", "fracture.length_scale=40 nm",
         "--set", f"fracture.toughness={_toughness_for(250e6):.6g} J/m^2", "--set", "fracture.every_steps=5",
         "--set", "output.count=3", "--set", "output.fields=false", "--quiet"]


@pytest.mark.slow
def test_serial_and_two_ranks_give_the_same_damage(tmp_path):
    """The small weak-surface charge (sigma_c = 250 MPa) by `lrmo run` on 1 and 2 ranks:
    the same damage to the staggered tolerance (1e-5 in d) and the same onset."""
    results = []
    for n in (1, 2):
        out = tmp_path / f"n{n}"
        proc = run_lrmo(["run", str(CASES / "pristine_fracture_octant.yaml"), "--out", str(out), *SMALL], n_ranks=n)
        assert proc.returncode == 0, proc.stderr[-2000:]
        results.append(json.loads((out / "summary.json").read_text())["fracture"])
    one, two = results
    assert one["damage_max"] > 0.01
    assert two["damage_max"] == pytest.approx(one["damage_max"], abs=1e-4)
    assert two["fracture_energy_J"] == pytest.approx(one["fracture_energy_J"], rel=1e-3)
    assert two["fracture_elastic_energy_J"] == pytest.approx(one["fracture_elastic_energy_J"], rel=1e-5)
    assert two["onset"]["location"] == one["onset"]["location"] == "surface"
    assert two["onset"]["time_s"] == pytest.approx(one["onset"]["time_s"], rel=1e-9)

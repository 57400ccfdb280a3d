"""The damage acting back on the chemo-mechanics (`fracture.coupling: two_way`,
solver/simulation/fracture_submodel.py, docs/fracture.md "Damage acting back"): the
default one-way runs are unchanged; two-way at d = 0 is the mechanics' own stress to
round-off; the degraded stress is g(d) times the intact tension of a uniformly damaged
held sphere (a closed form) and leaves compression alone; a surface that damages reports
a lower stress than one-way; the damage still never decreases."""
import json
import math

import numpy as np
import pytest
import ufl
from dolfinx import fem
from mpi4py import MPI
from petsc4py import PETSc

from conftest import CASES
from meshes.markers import FACET_TAGS
from meshes.radial import build_radial
from solver import compat
from solver.case.loading import CaseError
from solver.case.schema import load_case_data, validate_case
from solver.physics.domain import Domain
from solver.physics.fracture import (FractureParameters, PhaseFieldFracture, absolute_tolerances,
                                     at1_onset_energy_density, degraded_stress)
from solver.physics.mechanics import VOIGT

E, NU = 150e9, 0.3
BULK = E / (3 * (1 - 2 * NU))
G_C = 0.35  # J/m^2 (docs/fracture.md, ASSUMED)
R_M = 100e-9
BIAXIAL = math.sqrt(2 * (1 - NU))  # the surface's AT1 onset is sigma_c / BIAXIAL


# -- the degraded stress on a held sphere (physics only) ------------------------------------
def _held_sphere(eigenstrain, params):
    """The phase field on the 1D sphere held at u(0) = u(R) = 0 with a uniform eigenstrain
    e I (hydrostatic stress -3 K e), and the degraded stress at the DG1 nodes."""
    msh, cells, facets, _ = build_radial(R_M, size_bulk_m=10e-9, size_surface_m=5e-9, comm=MPI.COMM_WORLD)
    domain = Domain(msh, cells, facets, "radial", R_M)
    V = compat.functionspace(msh, "Lagrange", 2)
    bcs = [fem.dirichletbc(PETSc.ScalarType(0.0),
                           fem.locate_dofs_topological(V, 0, facets.find(FACET_TAGS[name])), V)
           for name in ("centre", "outer_surface")]
    u_options, d_options = absolute_tolerances(params, 4 / 3 * math.pi * R_M ** 3)
    e = compat.constant(msh, eigenstrain)
    model = PhaseFieldFracture(V, params, bcs, eigenstrain=e, displacement_options=u_options,
                               damage_options=d_options, strain_operator=domain.strain, weight=domain.weight)
    S = compat.functionspace(msh, "DG", 1, (6,))
    sigma = degraded_stress(domain.strain(model.u, pointwise=True) - e * ufl.Identity(3), params, model.d)
    stress = fem.Function(S)
    expr = fem.Expression(ufl.as_vector([sigma[i, j] for i, j in VOIGT]), compat.interpolation_points(S))

    def evaluate():
        stress.interpolate(expr)
        return stress.x.array.reshape(-1, 6)

    return model, evaluate


def test_a_uniformly_damaged_held_sphere_carries_g_of_d_times_the_intact_tension():
    """Held, e = 1.1 x the onset strain: psi+ = 9 K e^2 / 2 = 1.21 psi_c everywhere, and the
    homogeneous AT1 state has d = 1 - psi_c / psi+ (the minimum of g(d) psi+ + 2 psi_c d),
    uniform; the stress is then ((1 - d)^2 + k_res) x (-3 K e) on the diagonal, no shear."""
    params = FractureParameters(E, NU, G_C, 40e-9, residual_stiffness=1e-3)
    psi_c = at1_onset_energy_density(params)
    e = -1.1 * math.sqrt(2 * psi_c / (9 * BULK))
    model, evaluate = _held_sphere(e, params)
    model.solve_step()
    d = model.d.x.array
    d_closed = 1 - psi_c / (9 * BULK * e ** 2 / 2)
    assert d_closed == pytest.approx(1 - 1 / 1.21, rel=1e-12)
    assert np.allclose(d, d_closed, rtol=0, atol=1e-4)  # the staggered tolerance, 1e-5, and SNES's
    s = evaluate()
    intact = -3 * BULK * e
    g = (1 - d_closed) ** 2 + params.residual_stiffness
    assert np.allclose(s[:, :3], g * intact, rtol=3e-4, atol=0)
    assert np.allclose(s[:, 3:], 0.0, atol=1e-9 * intact)
    model.destroy()


def test_compression_is_not_degraded_and_d_zero_is_hooke():
    """The same held sphere in compression (e > 0: -3 K e < 0) with d prescribed 0.5
    everywhere: the stress is -3 K e, undegraded (the split: <tr eps>- carries it). In
    tension at d = 0 with k_res = 0 it is Hooke's -3 K e as well."""
    for e, d, k_res in ((1e-3, 0.5, 1e-6), (-1e-3, 0.0, 0.0)):
        params = FractureParameters(E, NU, G_C, 40e-9, residual_stiffness=k_res)
        model, evaluate = _held_sphere(e, params)
        model.d.x.array[:] = d
        model.displacement_solver.solve()
        s = evaluate()
        assert np.allclose(s[:, :3], -3 * BULK * e, rtol=1e-9, atol=0)
        model.destroy()


# -- the coupled 1D run ---------------------------------------------------------------------
def _case(coupling=None, strength_Pa=10e9, toughness_J_m2=G_C, end_min=12.0, sets=(), **fracture):
    """The pristine particle of cases/pristine_stress.yaml in 1D (R = 100 nm, 2C) with the
    phase field; the stress solved at every step (one-way and two-way alike)."""
    data = load_case_data(CASES / "pristine_stress.yaml", [
        f"geometry.radius={R_M * 1e9:g} nm", "protocol.c_rate=2", f"protocol.end_time={end_min} min",
        "mesh.surface=1 nm", "mesh.bulk=5 nm", "output.count=4", "output.fields=false",
        "mechanics.stress_every_steps=1", *sets])
    data["physics"] = ["lithium", "mechanics", "fracture"]
    data["fracture"] = {"toughness": f"{toughness_J_m2} J/m^2", "strength": f"{strength_Pa / 1e6:.9g} MPa",
                        "every_steps": 1, "staggered_tolerance": 1e-5, **fracture}
    if coupling is not None:
        data["fracture"]["coupling"] = coupling
    return validate_case(data)


def _run(case, comm=MPI.COMM_WORLD):
    """(engine, rows at the outputs, [(t, surface hoop stress as reported, nodal d)] after
    every accepted step)."""
    from solver.simulation.domain_setup import build_domain
    from solver.simulation.run import engine_of_case

    engine = engine_of_case(case, build_domain(case, comm))
    fracture, li = engine.submodels[-1], engine.lithium
    mech = li.mechanics
    at_surface = mech.node_radius_m >= case.geometry.radius.si * (1 - 1e-9)
    rows, steps = [], []
    accept = fracture.accept

    def recorded():  # the stress of this step (solved before the phase field's step), then d
        hoop = mech.stress_measures()["sigma_t_Pa"]
        surface = comm.allreduce(float(hoop[at_surface].max(initial=-np.inf)), op=MPI.MAX)
        accept()
        steps.append((li.t, surface, fracture.damage.x.array[: fracture._n].copy()))

    fracture.accept = recorded
    engine.run(observer=lambda t, sim: rows.append(sim.scalars(t)))
    return engine, rows, steps


def _same(a, b):
    assert a.keys() == b.keys()
    for k in (k for k in a if not k.startswith("wall")):
        assert a[k] == b[k] or (a[k] != a[k] and b[k] != b[k]), k  # NaN: both


def test_one_way_is_the_default_and_two_way_at_zero_damage_is_the_mechanics():
    """coupling unset and one_way: the same run, number for number (the same code path).
    two_way with the strength far above any stress (d = 0) and k_res = 0: the degraded
    stress of the phase field's u solve is the mechanics' linear P2 stress to round-off, at
    every output and for the peak; with the default k_res = 1e-6, higher by at most k_res."""
    runs = {c: _run(_case(c, toughness_J_m2=100.0, residual_stiffness=0.0)) for c in (None, "one_way", "two_way")}
    unset, one, two = (runs[c] for c in (None, "one_way", "two_way"))
    for a, b in zip(unset[1], one[1]):
        _same(a, b)
    _same(unset[0].results()["stress"], one[0].results()["stress"])
    assert two[0].submodels[-1].max_damage() == 0.0
    assert not two[0].lithium.mechanics.affine_response_used
    assert len(one[1]) == len(two[1]) >= 4
    for a, b in zip(one[1], two[1]):
        assert b["sigma_vm_max_Pa"] == pytest.approx(a["sigma_vm_max_Pa"], rel=1e-9, abs=1e-3)
        assert b["volume_change"] == pytest.approx(a["volume_change"], rel=1e-9, abs=1e-15)
    p1, p2 = one[0].results()["stress"], two[0].results()["stress"]
    assert p2["peak_von_mises_Pa"] == pytest.approx(p1["peak_von_mises_Pa"], rel=1e-9)
    assert p2["peak_time_s"] == p1["peak_time_s"]
    default_k = _run(_case("two_way", toughness_J_m2=100.0))[0].results()["stress"]["peak_von_mises_Pa"]
    # g(0) = 1 + k_res stiffens the tension only (the compressed core keeps its modulus): up to k_res
    assert 0.5e-6 < default_k / p1["peak_von_mises_Pa"] - 1 <= 1e-6 * (1 + 1e-3)


@pytest.fixture(scope="module")
def weak():
    """The strength set so that the surface's biaxial AT1 onset is 250 MPa (the 100 nm
    sphere's surface reaches ~480 MPa at 2C in 12 min): one-way and two-way."""
    return {c: _run(_case(c, strength_Pa=250e6 * BIAXIAL)) for c in ("one_way", "two_way")}


def test_a_damaged_surface_reports_a_lower_stress_than_one_way(weak):
    """Before the first damage the two runs report the same surface stress (to k_res);
    once the surface has damaged, two-way's is lower, and by about g(d) of the surface
    node (the surface's tension is the positive part; the damaged skin is thin, so its
    strain is nearly the intact one's: g(d) within the damage's own share). The damage
    itself is the same: the phase field already solves the degraded equilibrium."""
    (_, _, one), (engine, _, two) = weak["one_way"], weak["two_way"]
    assert len(one) == len(two)
    lagged = 0.0  # the damage this step's stress used: the step before's
    for (t1, s1, d1), (t2, s2, d2) in zip(one, two):
        assert t1 == t2
        np.testing.assert_array_equal(d1, d2)
        if lagged == 0.0:
            assert s2 == pytest.approx(s1, rel=2e-6)  # g(0) = 1 + k_res
        elif lagged > 1e-4:  # 2 d above k_res
            assert s2 < s1
        lagged = MPI.COMM_WORLD.allreduce(float(d2.max(initial=0.0)), op=MPI.MAX)
    surface_d = MPI.COMM_WORLD.allreduce(float(two[-2][2].max(initial=0.0)), op=MPI.MAX)  # the last step's stress used it
    assert surface_d > 0.01
    ratio = two[-1][1] / one[-1][1]
    g = (1 - surface_d) ** 2
    print(f"\nsurface d {surface_d:.4f}: two-way/one-way surface hoop stress {ratio:.5f}, g(d) {g:.5f}")
    assert g * (1 - 1e-3) < ratio < (1 + g) / 2  # the softer skin strains a little more than the intact one
    r1, r2 = weak["one_way"][0].results()["stress"], engine.results()["stress"]
    assert r2["peak_von_mises_Pa"] < r1["peak_von_mises_Pa"]
    # the state at the peak (fields_at_peak, profiles_at_peak) is solved again with the damage then
    with engine.lithium.at_peak():
        again = engine.lithium.mechanics.peak_von_mises()["value_Pa"]
    assert again == pytest.approx(r2["peak_von_mises_Pa"], rel=1e-8)


def test_damage_never_decreases_with_the_damage_acting_back(weak):
    _, _, steps = weak["two_way"]
    assert max(d.max(initial=0.0) for _, _, d in steps) > 0.01
    for (_, _, before), (_, _, after) in zip(steps, steps[1:]):
        assert np.all(after >= before)


def test_the_coupling_key_is_validated():
    with pytest.raises(CaseError, match=r"fracture.coupling"):
        _case("three_way")


# -- the crack faces as fast paths for Li ----------------------------------------------------
def test_a_uniform_damage_scales_the_li_diffusivity_by_one_plus_k_minus_one_d():
    """LithiumTransport with the multiplier 1 + (k - 1) d (k = 5, d = 0.25 prescribed
    everywhere: D x 2), set after the solver was built (refresh_stiffness must reach the
    factorisation): the galvanostatic sphere's closed form with D x 2, to the
    discretisation error, and far from the closed form with D."""
    from solver.physics import analytic
    from solver.physics.lithium import LithiumTransport
    from solver.physics.materials import MaterialFields
    from solver.simulation.chemomechanics import bdf_coefficients
    from solver.simulation.domain_setup import build_domain
    from solver.simulation.drive import galvanostatic_flux_of_case
    from solver.case.schema import load_case

    case = load_case(CASES / "verify_galvanostatic_radial.yaml")
    domain = build_domain(case, MPI.COMM_WORLD)
    materials = MaterialFields(domain, case)
    theta0 = case.lithium.initial_site_fraction.si
    multiplier = fem.Function(compat.functionspace(domain.msh, "Lagrange", 1))
    multiplier.x.array[:] = 1.0
    li = LithiumTransport(domain, materials, theta0, 0.0, diffusivity_multiplier=multiplier)
    li.system.ksp(1.0)  # a matrix built with m = 1
    k, d = 5.0, 0.25
    multiplier.x.array[:] = 1 + (k - 1) * d
    li.refresh_stiffness()
    j = galvanostatic_flux_of_case(case)  # outward, mol/m^2/s
    steps, end = 400, case.protocol.end_time.si
    dt, previous = end / steps, None
    for _ in range(steps):
        li.solve_step(dt, bdf_coefficients(dt, previous), j, False)
        li.accept()
        previous = dt
    core = case.materials.core
    R, D, c_max = case.geometry.radius.si, core.lithium_diffusivity.si, core.lithium_site_concentration.si
    r = np.abs(li.V.tabulate_dof_coordinates()[:, 0])
    theta = li.theta.x.array

    def error(D_m2_s):
        exact = theta0 + analytic.galvanostatic_concentration(r / R, D_m2_s * end / R ** 2, -j, R, D_m2_s) / c_max
        return np.abs(theta - exact).max() / np.abs(exact - theta0).max()

    scaled, intact = (MPI.COMM_WORLD.allreduce(error(D * f), op=MPI.MAX) for f in (1 + (k - 1) * d, 1.0))
    print(f"\nrelative error against the closed form with D x {1 + (k - 1) * d:g}: {scaled:.2e}; with D: {intact:.2e}")
    assert scaled < 5e-3
    assert intact > 0.1


@pytest.fixture(scope="module")
def fast_path():
    """The weak-surface charge (biaxial onset 250 MPa) two-way with crack_diffusivity_factor
    k = 1 and k = 20."""
    return {k: _run(_case("two_way", strength_Pa=250e6 * BIAXIAL, crack_diffusivity_factor=k)) for k in (1.0, 20.0)}


def test_a_fast_crack_path_keeps_the_li_and_lifts_the_damaged_surface(fast_path):
    """Galvanostatic: the Li removed is the current's whatever D, so the inventory is the
    same with k = 20 as with k = 1 (to the solver's round-off); where the surface has
    damaged, the faster D flattens the gradient the flux needs, so the surface site
    fraction stays higher. The damage never decreases."""
    (slow_engine, slow_rows, _), (fast_engine, fast_rows, steps) = fast_path[1.0], fast_path[20.0]
    assert fast_engine.submodels[-1].results()["fracture"]["crack_diffusivity_factor"] == 20.0
    assert fast_engine.submodels[-1].max_damage() > 0.01
    for a, b in zip(slow_rows, fast_rows):
        assert b["li_mol"] == pytest.approx(a["li_mol"], rel=1e-9)
    assert fast_rows[-1]["theta_surface_min"] > slow_rows[-1]["theta_surface_min"]
    for (_, _, before), (_, _, after) in zip(steps, steps[1:]):
        assert np.all(after >= before)


def test_the_crack_path_needs_two_way():
    with pytest.raises(CaseError, match=r"crack_diffusivity_factor.*two_way"):
        _case("one_way", crack_diffusivity_factor=2.0)
    with pytest.raises(CaseError, match=r"fracture.crack_diffusivity_factor"):
        _case("two_way", crack_diffusivity_factor=0.5)


@pytest.mark.slow
def test_two_way_with_a_fast_crack_path_gives_the_same_run_on_1_and_2_ranks(tmp_path):
    """`lrmo run` of the 1D weak-surface charge (100 nm, 2C, 12 min, biaxial onset 250 MPa)
    two-way with k = 10, serial and on 2 ranks: the same peak stress, damage and Li to the
    solvers' tolerances (the staggered 1e-5 in d)."""
    from conftest import run_on_one_and_two_ranks

    sets = ["geometry.radius=100 nm", "protocol.c_rate=2", "protocol.end_time=12 min", "mesh.surface=1 nm",
            "mesh.bulk=5 nm", "output.fields=false", "output.count=4", "physics=[lithium, mechanics, fracture]",
            f"fracture.toughness={G_C} J/m^2", f"fracture.strength={250 * BIAXIAL:.9g} MPa",
            "fracture.coupling=two_way", "fracture.crack_diffusivity_factor=10"]
    one, two = (json.loads((out / "summary.json").read_text())
                for out in run_on_one_and_two_ranks(tmp_path, CASES / "pristine_stress.yaml", sets, ["--quiet"]))
    assert one["fracture"]["damage_max"] > 0.01 and one["fracture"]["coupling"] == "two_way"
    assert two["fracture"]["damage_max"] == pytest.approx(one["fracture"]["damage_max"], abs=1e-4)
    assert two["stress"]["peak_von_mises_Pa"] == pytest.approx(one["stress"]["peak_von_mises_Pa"], rel=1e-4)
    assert two["stress"]["peak_time_s"] == pytest.approx(one["stress"]["peak_time_s"], rel=1e-9)
    assert two["fracture"]["onset"]["time_s"] == pytest.approx(one["fracture"]["onset"]["time_s"], rel=1e-9)


def test_a_restart_continues_the_two_way_run():
    """The two-way run with k = 10 stopped after a checkpoint taken once the surface has
    damaged (t >= 400 s), restored into a new engine and run to the end: the uninterrupted
    run's peak (value, time), damage, onset and Li, to the Newton tolerance of the
    restarted displacement solve (its u is not in the checkpoint; the damage, the damage at
    the peak and the Li's D multiplier are)."""
    from solver.simulation.domain_setup import build_domain
    from solver.simulation.run import engine_of_case

    case = _case("two_way", strength_Pa=250e6 * BIAXIAL, crack_diffusivity_factor=10.0)
    ref = engine_of_case(case, build_domain(case, MPI.COMM_WORLD))
    ref.run()

    class Stop(Exception):
        pass

    saved = []

    def checkpoint(sim):
        if sim.t >= 400.0:
            saved.append(sim.state())
            raise Stop

    cut = engine_of_case(case, build_domain(case, MPI.COMM_WORLD))
    with pytest.raises(Stop):
        cut.run(checkpoint=checkpoint)
    assert cut.submodels[-1].max_damage() > 1e-3
    again = engine_of_case(case, build_domain(case, MPI.COMM_WORLD))
    again.restore(*saved[0])
    again.run()
    a, b = ref.results(), again.results()
    for key in ("peak_von_mises_Pa", "peak_radius_m"):
        assert b["stress"][key] == pytest.approx(a["stress"][key], rel=1e-7), key
    assert b["stress"]["peak_time_s"] == pytest.approx(a["stress"]["peak_time_s"], rel=1e-12)
    for key in ("damage_max", "fracture_energy_J", "fracture_elastic_energy_J"):
        assert b["fracture"][key] == pytest.approx(a["fracture"][key], rel=1e-6), key
    assert b["fracture"]["onset"] == a["fracture"]["onset"]
    np.testing.assert_allclose(again.lithium.lithium.theta.x.array, ref.lithium.lithium.theta.x.array, rtol=1e-9)


@pytest.mark.slow
def test_two_way_on_the_octant_at_zero_damage_is_the_mechanics():
    """The 3D octant (R = 100 nm, 10 nm at the surface, 2C for 4 min): two-way with the
    strength far above any stress (d = 0) and k_res = 0, whose u solve is the mechanics'
    P2 by CG + GAMG, against one-way's p-multigrid mechanics: the same peak and output
    stresses to the Krylov tolerances (10^-9 relative residual in both; slow: ~1 min
    under load)."""
    from solver.case.schema import load_case
    from solver.simulation.domain_setup import build_domain
    from solver.simulation.run import engine_of_case

    runs = {}
    for coupling in ("one_way", "two_way"):
        case = load_case(CASES / "pristine_fracture_octant.yaml")
        case.mesh.surface, case.mesh.bulk, case.geometry.radius = "10 nm", "30 nm", "100 nm"
        case.protocol.end_time = "4 min"
        case.fracture.toughness, case.fracture.length_scale = "100 J/m^2", "40 nm"
        case.fracture.residual_stiffness, case.fracture.every_steps = 0.0, 5
        case.mechanics.stress_every_steps = 1
        case.output.count = 3
        case.fracture.coupling = coupling
        engine = engine_of_case(case, build_domain(case, MPI.COMM_WORLD))
        rows = []
        engine.run(observer=lambda t, sim: rows.append(sim.scalars(t)))
        runs[coupling] = (engine, rows)
    (one, one_rows), (two, two_rows) = runs["one_way"], runs["two_way"]
    assert two.submodels[-1].max_damage() == 0.0
    assert one.results()["stress"]["peak_von_mises_Pa"] > 100e6
    assert two.results()["stress"]["peak_von_mises_Pa"] == pytest.approx(
        one.results()["stress"]["peak_von_mises_Pa"], rel=1e-6)
    for a, b in zip(one_rows, two_rows):
        assert b["sigma_vm_max_Pa"] == pytest.approx(a["sigma_vm_max_Pa"], rel=1e-6, abs=1e-3)

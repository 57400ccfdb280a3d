"""Phase-field fracture (solver/physics/fracture.py) against closed forms.

The bar: [0, L], u(0) = 0, u(L) = t imposed in steps, one unit of cross-section, nu = 0 so
that its modulus is E, and a 0.1 % weaker spot (G_c x 0.999) over the two middle cells so
that the damage has a place to localise. Its reaction force is int sigma w' dx with
w = x/L, and the work done on it sum (R_n + R_(n-1))/2 (t_n - t_(n-1)) (trapezoids).
The inputs are illustrative, of the order of a layered oxide; they are not literature
values. Run as a script (`mpirun -n 2 python tests/test_fracture.py`) it prints the bar's
load-displacement curve as JSON, for the serial = 2 ranks test."""
from __future__ import annotations

import functools
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from dolfinx import fem
from mpi4py import MPI

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from solver import compat  # noqa: E402
from solver.physics.fracture import (FractureParameters, PhaseFieldFracture,  # noqa: E402
                                     at1_length_scale_m)

PARAMS = FractureParameters(youngs_modulus_Pa=140e9, poisson_ratio=0.0, toughness_J_m2=2.0,
                            length_scale_m=25e-9, residual_stiffness=1e-6)
SIGMA_C = PARAMS.critical_stress_Pa  # 2.05 GPa
WEAK_SPOT = 0.999


def onset_displacement_m(length_m: float) -> float:
    return SIGMA_C / PARAMS.youngs_modulus_Pa * length_m


def run_bar(length_m: float, cells: int, loads_m, comm=MPI.COMM_WORLD, weak_spot: float = WEAK_SPOT) -> dict:
    """Load the bar through `loads_m`; per step: reaction (Pa), elastic and fracture
    energies (J/m^2), work done (J/m^2), largest damage, the local damage values, the
    alternate-minimisation sweeps."""
    h = length_m / cells
    nodes = np.linspace(0.0, length_m, cells + 1) if comm.rank == 0 else np.zeros(0)
    msh = compat.interval_mesh(comm, nodes)
    V = compat.functionspace(msh, "Lagrange", 1)
    end = compat.constant(msh, 0.0)
    bcs = [fem.dirichletbc(compat.constant(msh, 0.0), fem.locate_dofs_geometrical(V, lambda x: x[0] < 1e-3 * h), V),
           fem.dirichletbc(end, fem.locate_dofs_geometrical(V, lambda x: x[0] > length_m - 1e-3 * h), V)]
    factor = fem.Function(compat.functionspace(msh, "DG", 0))
    factor.interpolate(lambda x: np.where(np.abs(x[0] - length_m / 2) < 0.6 * h, weak_spot, 1.0))
    bar = PhaseFieldFracture(V, PARAMS, bcs, toughness_factor=factor)
    lift = fem.Function(V)
    lift.interpolate(lambda x: x[0] / length_m)
    reaction_form = bar.virtual_work_form(lift)
    out = {key: [] for key in ("load_m", "reaction_Pa", "elastic_J_m2", "fracture_J_m2", "work_J_m2",
                               "max_damage", "damage", "sweeps")}
    work, last_load, last_reaction = 0.0, 0.0, 0.0
    for load in loads_m:
        end.value = load
        sweeps = bar.solve_step().iterations
        reaction = bar.assemble(reaction_form)
        work += 0.5 * (reaction + last_reaction) * (load - last_load)
        last_load, last_reaction = load, reaction
        for key, value in (("load_m", load), ("reaction_Pa", reaction), ("elastic_J_m2", bar.elastic_energy()),
                           ("fracture_J_m2", bar.fracture_energy()), ("work_J_m2", work),
                           ("max_damage", comm.allreduce(bar.d.x.array.max(initial=0.0), op=MPI.MAX)),
                           ("damage", bar.d.x.array.copy()), ("sweeps", sweeps)):
            out[key].append(value)
    bar.destroy()
    return {key: np.array(value) for key, value in out.items()}


# a long bar (20 l, l/h = 5): loaded to 1.05 times the onset displacement u_c, in 0.1 %
# steps from 0.99 u_c to u_c (the weak spot's onset is at sqrt(0.999) u_c = 0.9995 u_c)
LONG_M = 20 * PARAMS.length_scale_m
LONG_CELLS = 100
LONG_LOADS = onset_displacement_m(LONG_M) * np.concatenate(
    [np.linspace(0, 0.9, 10), np.linspace(0.91, 0.99, 9), np.linspace(0.991, 1.0, 10), np.linspace(1.005, 1.05, 10)])


@pytest.fixture(scope="module")
def long_bar():
    return run_bar(LONG_M, LONG_CELLS, LONG_LOADS)


def test_the_length_scale_formula_inverts_the_critical_stress():
    assert at1_length_scale_m(140e9, 2.0, SIGMA_C) == pytest.approx(PARAMS.length_scale_m, rel=1e-12)
    assert SIGMA_C == pytest.approx(math.sqrt(3 * 2.0 * 140e9 / (8 * 25e-9)), rel=1e-12)


@pytest.mark.parametrize("key, value", [("toughness_J_m2", 0.0), ("length_scale_m", -1e-9),
                                        ("poisson_ratio", 0.5), ("youngs_modulus_Pa", float("nan"))])
def test_bad_parameters_are_refused_by_name(key, value):
    good = dict(youngs_modulus_Pa=140e9, poisson_ratio=0.25, toughness_J_m2=2.0, length_scale_m=25e-9)
    with pytest.raises(ValueError, match=key):
        FractureParameters(**{**good, key: value})


def test_the_bar_peaks_at_the_at1_critical_stress_then_localises(long_bar):
    peak = long_bar["reaction_Pa"].max()
    print(f"\nAT1 bar: peak stress {peak / 1e9:.4f} GPa, closed form sigma_c = {SIGMA_C / 1e9:.4f} GPa "
          f"(ratio {peak / SIGMA_C:.4f})")
    assert peak == pytest.approx(SIGMA_C, rel=0.002)
    elastic = long_bar["load_m"] < 0.99 * onset_displacement_m(LONG_M)
    assert np.all(long_bar["max_damage"][elastic] == 0.0), "AT1 has an elastic phase: no damage below sigma_c"
    # after the peak the bar is broken at its weak middle, intact away from it
    assert long_bar["reaction_Pa"][-1] < 0.01 * SIGMA_C
    x = np.linspace(0, LONG_M, LONG_CELLS + 1)
    damage = long_bar["damage"][-1]
    assert damage[np.argmin(np.abs(x - LONG_M / 2))] == pytest.approx(1.0)
    assert np.all(damage[np.abs(x - LONG_M / 2) > 4 * PARAMS.length_scale_m] < 1e-8)


def test_a_full_crack_costs_g_c_to_discretisation_error(long_bar):
    """The localised AT1 profile dissipates G_c per unit area; the P1 profile at l/h = 5
    more (the error is first order in h/l: the slow test below)."""
    ratio = long_bar["fracture_J_m2"][-1] / PARAMS.toughness_J_m2
    print(f"\nfracture energy of the crack / G_c = {ratio:.4f} at l/h = 5")
    assert 1.0 < ratio < 1.2


def test_the_unstable_break_releases_energy_and_never_creates_it(long_bar):
    """Before the onset, elastic energy = work; the long bar snaps back at the peak, and
    the energy that the jump releases is dissipated: work >= elastic + fracture after it."""
    work, stored = long_bar["work_J_m2"], long_bar["elastic_J_m2"] + long_bar["fracture_J_m2"]
    before = long_bar["max_damage"] == 0
    assert np.all(np.abs(work[before] - stored[before]) <= 1e-9 * work[before].max())
    print(f"\nthe break dissipates {(work[-1] - stored[-1]) / work[-1]:.1%} of the work done")
    assert np.all(work[~before] >= stored[~before])


def test_the_energy_balance_closes_through_the_onset_of_a_stable_bar():
    """A bar of length 2 l softens stably (no snap-back): elastic + fracture = work to 1e-4
    of the work, before, at and after the onset, for the staggered scheme with
    max |delta d| < 1e-5 and 0.5 % load steps."""
    length = 2 * PARAMS.length_scale_m
    loads = onset_displacement_m(length) * np.linspace(0, 1.2, 241)
    bar = run_bar(length, 20, loads)
    stored = bar["elastic_J_m2"] + bar["fracture_J_m2"]
    error = np.abs(bar["work_J_m2"] - stored)[1:] / bar["work_J_m2"][1:]
    print(f"\nenergy balance, 2 l bar to 1.2 u_c: largest |W - E - S| / W = {error.max():.2e}; "
          f"final damage {bar['max_damage'][-1]:.3f}, fracture energy {bar['fracture_J_m2'][-1]:.3e} J/m^2")
    assert bar["max_damage"][-1] > 0.1, "the test must go past the onset"
    assert error.max() < 1e-4


def test_damage_never_decreases_under_loading_then_unloading():
    """Load past the onset, unload to zero, reload: at every node d_n >= d_(n-1); without
    the bound d >= d_previous the unloaded bar's damage minimiser is d = 0."""
    length = 2 * PARAMS.length_scale_m
    u_c = onset_displacement_m(length)
    loads = u_c * np.concatenate([np.linspace(0, 1.15, 24), np.linspace(1.1, 0, 23), np.linspace(0.1, 1.3, 13)])
    bar = run_bar(length, 20, loads)
    decrease = np.diff(bar["damage"], axis=0).min()
    print(f"\nirreversibility: largest decrease of d over a step {max(0.0, -decrease):.1e}, "
          f"max d at the peak load {bar['max_damage'][23]:.3f}, unloaded {bar['max_damage'][46]:.3f}")
    assert decrease >= 0.0
    assert bar["max_damage"][46] == bar["max_damage"][23] > 0.05
    # reloading: elastic (d fixed) until the previous peak displacement, damaging again after it
    assert bar["max_damage"][-1] > bar["max_damage"][23]


def test_a_bar_in_compression_does_not_crack():
    """Three times the tensile onset strain, in compression: no damage, a linear response."""
    loads = -3 * onset_displacement_m(LONG_M) * np.linspace(0, 1, 7)
    bar = run_bar(LONG_M, LONG_CELLS, loads)
    assert np.all(bar["max_damage"] == 0.0)
    assert bar["reaction_Pa"][-1] == pytest.approx(-3 * SIGMA_C, rel=1e-9)  # k_res degrades psi+ only


@pytest.mark.parametrize("sign", [-1, 1], ids=["compression", "tension"])
def test_volumetric_compression_does_not_crack_and_tension_does(sign):
    """A 2D square stretched equally in every direction (u = e x on its boundary, no
    deviatoric strain): the split leaves compression undamaged at any size, and tension
    damages past the volumetric onset psi+ = 3 G_c / (16 l)."""
    import dolfinx.mesh

    params = FractureParameters(youngs_modulus_Pa=140e9, poisson_ratio=0.25, toughness_J_m2=2.0,
                                length_scale_m=25e-9)
    side = 100e-9
    msh = dolfinx.mesh.create_rectangle(MPI.COMM_WORLD, [np.zeros(2), np.full(2, side)], [8, 8])
    V = compat.functionspace(msh, "Lagrange", 1, (2,))
    imposed = fem.Function(V)
    boundary = dolfinx.mesh.locate_entities_boundary(msh, 1, lambda x: np.full(x.shape[1], True))
    bcs = [fem.dirichletbc(imposed, fem.locate_dofs_topological(V, 1, boundary))]
    square = PhaseFieldFracture(V, params, bcs)
    bulk_2d = params.lame_lambda_Pa + params.shear_modulus_Pa  # K_n, n = 2
    onset_strain = math.sqrt(3 * params.toughness_J_m2 / (16 * params.length_scale_m) * 2 / bulk_2d) / 2
    damage = []
    for factor in (0.5, 1.5, 3.0):
        strain = sign * factor * onset_strain
        imposed.interpolate(lambda x: strain * x[:2])
        square.solve_step()
        damage.append(msh.comm.allreduce(square.d.x.array.max(initial=0.0), op=MPI.MAX))
    square.destroy()
    if sign < 0:
        assert damage == [0.0, 0.0, 0.0]
    else:
        assert damage[0] == 0.0 and damage[1] > 0.1 and damage[2] > damage[1]


def test_serial_and_two_ranks_give_the_same_bar(long_bar):
    """The peak load to round-off (the elastic branch), the broken bar to the staggered
    tolerance (the sweeps end at max |delta d| < 1e-5, after different round-off)."""
    if shutil.which("mpirun") is None:
        pytest.skip("mpirun not found")
    from conftest import mpi_env

    env = {**mpi_env(), "PYTHONPATH": str(ROOT)}
    run = subprocess.run(["mpirun", "-n", "2", "--oversubscribe", sys.executable, __file__],
                         capture_output=True, text=True, timeout=300, cwd=ROOT, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    parallel = json.loads(run.stdout.strip().splitlines()[-1])
    serial = long_bar["reaction_Pa"]
    difference = np.abs(np.array(parallel["reaction_Pa"]) - serial).max() / SIGMA_C
    peak_difference = abs(max(parallel["reaction_Pa"]) - serial.max()) / serial.max()
    print(f"\nserial vs 2 ranks: peak {serial.max():.9e} vs {max(parallel['reaction_Pa']):.9e} Pa "
          f"(relative {peak_difference:.1e}); largest curve difference {difference:.1e} sigma_c; "
          f"fracture energy {long_bar['fracture_J_m2'][-1]:.9e} vs {parallel['fracture_J_m2'][-1]:.9e}")
    assert peak_difference < 1e-9
    # after the break the states agree to the alternate minimisation's tolerance (1e-5 in d)
    assert difference < 1e-5
    assert parallel["fracture_J_m2"][-1] == pytest.approx(long_bar["fracture_J_m2"][-1], rel=1e-5)


@pytest.mark.parametrize("cells_per_ell", [4, 8])
def test_a_crack_costs_g_c_plus_3h_over_8l_per_further_broken_node(cells_per_ell):
    """The discrete toughness is set by the broken band's width: with d = 1 imposed (as the
    lower bound) on one node of an unloaded bar, the damage relaxes to the optimal P1 AT1
    profile, which costs G_c to second order in h/l; with d = 1 on two adjacent nodes it
    costs exactly (3/8)(h/l) G_c more (a plateau of width h, no gradient, same flanks)."""
    ell = PARAMS.length_scale_m
    cells = 20 * cells_per_ell
    h = 20 * ell / cells
    costs = []
    for broken in (1, 2):
        nodes = np.linspace(0.0, 20 * ell, cells + 1) if MPI.COMM_WORLD.rank == 0 else np.zeros(0)
        msh = compat.interval_mesh(MPI.COMM_WORLD, nodes)
        V = compat.functionspace(msh, "Lagrange", 1)
        ends = fem.locate_dofs_geometrical(V, lambda x: (x[0] < 1e-3 * h) | (x[0] > 20 * ell - 1e-3 * h))
        bar = PhaseFieldFracture(V, PARAMS, [fem.dirichletbc(compat.constant(msh, 0.0), ends, V)])
        x = bar.d.function_space.tabulate_dof_coordinates()[:, 0]
        band = (x > 10 * ell - 1e-3 * h) & (x < 10 * ell + (broken - 1) * h + 1e-3 * h)
        bar.d.x.array[band] = bar.d_previous.x.array[band] = 1.0
        bar.solve_step()
        costs.append(bar.fracture_energy() / PARAMS.toughness_J_m2)
        bar.destroy()
    print(f"\nl/h = {cells_per_ell}: one broken node {costs[0]:.6f} G_c, two {costs[1]:.6f} G_c "
          f"(difference {costs[1] - costs[0]:.6f}, 3h/8l = {3 * h / (8 * ell):.6f})")
    assert 0 < costs[0] - 1 < (h / ell) ** 2 / 16
    assert costs[1] - costs[0] == pytest.approx(3 * h / (8 * ell), rel=1e-4)


@pytest.mark.slow
def test_the_onset_is_mesh_independent_and_the_crack_energy_converges_to_g_c():
    """l/h = 5, 10, 20 at fixed l: the onset load does not move, and the fracture energy
    of the broken bar -> G_c, first order in h/l."""
    errors, peaks = [], []
    for cells in (100, 200, 400):
        bar = run_bar(LONG_M, cells, LONG_LOADS)
        errors.append(bar["fracture_J_m2"][-1] / PARAMS.toughness_J_m2 - 1)
        peaks.append(bar["reaction_Pa"].max() / SIGMA_C)
    print(f"\nl/h = 5, 10, 20: peak / sigma_c = {', '.join(f'{p:.5f}' for p in peaks)}; "
          f"crack energy / G_c - 1 = {', '.join(f'{e:.4f}' for e in errors)}")
    assert peaks == pytest.approx([peaks[-1]] * 3, rel=1e-9)
    assert peaks[-1] == pytest.approx(1.0, rel=0.002)
    assert errors[0] > errors[1] > errors[2] > 0
    for coarse, fine in zip(errors, errors[1:]):
        assert 1.6 < coarse / fine < 2.4


# the plane-strain strip of the Griffith checks: E = 140 GPa, nu = 0.25, G_c = 2 J/m^2, l = 25 nm
STRIP_PARAMS = FractureParameters(youngs_modulus_Pa=140e9, poisson_ratio=0.25, toughness_J_m2=2.0,
                                  length_scale_m=25e-9)
STRIP_K_C = math.sqrt(STRIP_PARAMS.toughness_J_m2 * STRIP_PARAMS.youngs_modulus_Pa
                      / (1 - STRIP_PARAMS.poisson_ratio ** 2))  # plane strain


def mode_one_displacement(K_Pa_sqrt_m: float, tip_x_m: float, params: FractureParameters = STRIP_PARAMS):
    """The plane-strain mode-I field of a crack along y = 0, x < tip_x:
    u = K/(2 mu) sqrt(r/2pi) (kappa - cos theta) (cos, sin)(theta/2), kappa = 3 - 4 nu,
    as a callable for Function.interpolate."""
    mu, nu = params.shear_modulus_Pa, params.poisson_ratio

    def displacement(p):
        r, theta = np.hypot(p[0] - tip_x_m, p[1]), np.arctan2(p[1], p[0] - tip_x_m)
        c = K_Pa_sqrt_m / (2 * mu) * np.sqrt(r / (2 * np.pi)) * (3 - 4 * nu - np.cos(theta))
        return np.vstack([c * np.cos(theta / 2), c * np.sin(theta / 2)])
    return displacement


def precracked_strip(length_ell: int, height_ell: int, cells_per_ell: int, precrack_ell: float, tol: float):
    """A strip [0, length] x [-height/2, height/2] (in units of l) of right triangles, h = l /
    cells_per_ell, with d = 1 (and d_previous = 1) on y = 0, x <= precrack, and the whole
    boundary's displacement imposed: (strip, imposed boundary Function, damage dof
    coordinates)."""
    import dolfinx.mesh

    ell = STRIP_PARAMS.length_scale_m
    h = ell / cells_per_ell
    msh = dolfinx.mesh.create_rectangle(
        MPI.COMM_WORLD, [np.array([0.0, -height_ell / 2 * ell]), np.array([length_ell * ell, height_ell / 2 * ell])],
        [length_ell * cells_per_ell, height_ell * cells_per_ell])
    V = compat.functionspace(msh, "Lagrange", 1, (2,))
    imposed = fem.Function(V)
    boundary = dolfinx.mesh.locate_entities_boundary(msh, 1, lambda x: np.full(x.shape[1], True))
    strip = PhaseFieldFracture(V, STRIP_PARAMS, [fem.dirichletbc(imposed, fem.locate_dofs_topological(V, 1, boundary))],
                               tol=tol)
    x = strip.d.function_space.tabulate_dof_coordinates()
    crack = (np.abs(x[:, 1]) < 1e-3 * h) & (x[:, 0] <= precrack_ell * ell + 1e-3 * h)
    strip.d.x.array[crack] = strip.d_previous.x.array[crack] = 1.0
    return strip, imposed, x


def broken_tip_m(strip, x) -> float:
    """The crack tip: the largest x of a node with d > 0.9 (collective)."""
    return strip.comm.allreduce(x[strip.d.x.array > 0.9, 0].max(initial=0.0), op=MPI.MAX)


@pytest.mark.slow
def test_a_precrack_does_not_grow_below_griffith_and_grows_above():
    """Griffith, bracketed: a plane-strain strip (24 l x 12 l, l/h = 4) with a pre-crack
    (d = 1 on y = 0, x <= 8 l) under the mode-I K field u = K/(2 mu) sqrt(r/2pi)
    (kappa - cos theta) (cos, sin)(theta/2) on its boundary, K ramped in 0.05 K_c steps,
    K_c = sqrt(G_c E / (1 - nu^2)). The crack (d > 0.9) must not advance while G <= G_c
    and must advance by K = 1.3 K_c. The onset between is printed; it lies above K_c by
    the discrete toughness (1D: G_c (1 + 0.7 h/l), about 1.17 G_c here) and the blunt
    one-element pre-crack, so this is a bracket, not a sharp check."""
    ell = STRIP_PARAMS.length_scale_m
    a0 = 8 * ell
    strip, imposed, x = precracked_strip(24, 12, 4, 8, tol=1e-4)
    advance = []
    ratios = np.round(np.arange(0.5, 1.31, 0.05), 2)
    for ratio in ratios:
        imposed.interpolate(mode_one_displacement(ratio * STRIP_K_C, a0))
        strip.solve_step()
        advance.append((broken_tip_m(strip, x) - a0) / ell)
    strip.destroy()
    onset = ratios[np.argmax(np.array(advance) > 0)]
    print(f"\nGriffith bracket: crack tip advance / l at K/K_c = {dict(zip(ratios.tolist(), advance))}; "
          f"first advance at K = {onset:.2f} K_c (G = {onset ** 2:.2f} G_c)")
    assert all(a == 0 for r, a in zip(ratios, advance) if r <= 1.0)
    assert advance[-1] > 0


def surf(length_ell: int, height_ell: int, cells_per_ell: int, precrack_ell: float, step_ell: float,
         steps: int, tol: float = 1e-4) -> dict:
    """The surfing boundary condition (Hossain, Hsueh, Bourdin and Bhattacharya, J. Mech.
    Phys. Solids 71, 15, 2014): the K_c field of `mode_one_displacement` on the boundary of
    a pre-cracked strip, its centre moved along the crack line by step_ell l per step from
    the pre-crack's tip. Per step: the imposed tip and the broken tip (m), the fracture and
    elastic energies and the work done by the boundary (J/m, per unit depth), the staggered
    sweeps; at the end, the damage on the node column x = `section_x_m` (y, d). The work
    increment is the trapezoid of int sigma : eps(w) dx before and after the step, w the
    field's increment (interpolated everywhere: inside, the equilibrium residual is zero)."""
    ell = STRIP_PARAMS.length_scale_m
    strip, imposed, x = precracked_strip(length_ell, height_ell, cells_per_ell, precrack_ell, tol)
    increment = fem.Function(imposed.function_space)
    work_form = strip.virtual_work_form(increment)
    out = {key: [] for key in ("imposed_m", "tip_m", "fracture_J_m", "elastic_J_m", "work_J_m", "sweeps")}
    work = 0.0
    for n in range(steps + 1):
        centre = (precrack_ell + n * step_ell) * ell
        previous = imposed.x.array.copy()
        imposed.interpolate(mode_one_displacement(STRIP_K_C, centre))
        increment.x.array[:] = imposed.x.array - previous
        before = strip.assemble(work_form)
        sweeps = strip.solve_step().iterations
        work += 0.5 * (before + strip.assemble(work_form))
        for key, value in (("imposed_m", centre), ("tip_m", broken_tip_m(strip, x)),
                           ("fracture_J_m", strip.fracture_energy()), ("elastic_J_m", strip.elastic_energy()),
                           ("work_J_m", work), ("sweeps", sweeps)):
            out[key].append(value)
    out = {key: np.array(value) for key, value in out.items()}
    out["x"], out["d"] = x, strip.d.x.array.copy()
    strip.destroy()
    return out


def section_energy_J_m2(y_m, d, ell_m: float, toughness_J_m2: float) -> float:
    """The AT1 energy per unit crack length of a damage profile d(y) across the crack, P1
    between the nodes y (exact): 3 G_c / 8 int d / l + l d'^2 dy."""
    order = np.argsort(y_m)
    y, d = np.asarray(y_m)[order], np.asarray(d)[order]
    dy, dd = np.diff(y), np.diff(d)
    return 3 * toughness_J_m2 / 8 * (np.sum(dy * (d[1:] + d[:-1]) / 2) / ell_m + ell_m * np.sum(dd ** 2 / dy))


@functools.lru_cache(maxsize=None)
def surfing_figures(cells_per_ell: int, length_ell: int, height_ell: int, steps: int,
                    first_steady_step: int = 8, section_x_ell: float = 10.0) -> dict:
    """Surf the strip (pre-crack x <= 6 l, 0.5 l per step) and measure, over the steady
    window (steps first_steady_step to the end): the tip lag (imposed - broken, m), the tip
    speed / the imposed speed, dS/da (slope of the fracture energy against the tip, J/m^2),
    dS/dt / v (against the imposed tip), the released energy (dW - dE)/da (J/m^2); on the
    node column x = section_x: the AT1 energy of the crack's damage profile across y
    (J/m^2), the number of node rows broken (d > 0.95: the AT1 profile off a d = 1 plateau
    is (1 - s/2l)^2, at most (1 - h/2l)^2 = 0.88 one node away for l/h <= 8) and the
    column's largest damage values; the sweeps per step. Cached: the surfing tests share
    their l/h = 4 run."""
    ell, g_c = STRIP_PARAMS.length_scale_m, STRIP_PARAMS.toughness_J_m2
    h = ell / cells_per_ell
    run = surf(length_ell, height_ell, cells_per_ell, 6.0, 0.5, steps)
    window = slice(first_steady_step, None)
    imposed, tip = run["imposed_m"][window], run["tip_m"][window]
    x, d = run["x"], run["d"]
    column = np.abs(x[:, 0] - section_x_ell * ell) < 1e-3 * h  # serial: the whole column is on this rank
    return {"h_m": h, "lag_m": imposed - tip, "speed_ratio": np.polyfit(imposed, tip, 1)[0],
            "ds_da_J_m2": np.polyfit(tip, run["fracture_J_m"][window], 1)[0],
            "ds_dt_over_v_J_m2": np.polyfit(imposed, run["fracture_J_m"][window], 1)[0],
            "released_J_m2": np.polyfit(tip, run["work_J_m"][window] - run["elastic_J_m"][window], 1)[0],
            "section_J_m2": section_energy_J_m2(x[column, 1], d[column], ell, g_c),
            "broken_rows": int(np.count_nonzero(d[column] > 0.95)),
            "column_top_d": np.sort(d[column])[::-1][:4], "sweeps": run["sweeps"]}


def broken_rows_toughness_J_m2(rows: int, h_m: float) -> float:
    """The closed form of a P1 crack with d = 1 on `rows` node rows: G_c (1 + (rows - 1)(3/8)(h/l)),
    to O(h^2/l^2) (test_a_crack_costs_g_c_plus_3h_over_8l_per_further_broken_node)."""
    ell, g_c = STRIP_PARAMS.length_scale_m, STRIP_PARAMS.toughness_J_m2
    return g_c * (1 + (rows - 1) * 3 * h_m / (8 * ell))


def report_and_check_steady_surfing(fig: dict, label: str) -> None:
    """Print the figures of `surfing_figures`, then the claims at any l/h: the tip keeps a
    constant lag (within h/2, under 3 l) and the imposed speed (2 %); dS/da = (dW - dE)/da
    (1 %: the continuum balance is exact, the trapezoid work and the staggered tolerance
    err far below that); dS/da = the crack's own section energy (5 %)."""
    ell, g_c = STRIP_PARAMS.length_scale_m, STRIP_PARAMS.toughness_J_m2
    lag, ds_da = fig["lag_m"], fig["ds_da_J_m2"]
    print(f"\nsurfing, {label}: tip lag {lag.min() / ell:.3f}-{lag.max() / ell:.3f} l, tip speed / imposed "
          f"{fig['speed_ratio']:.4f}; dS/da = {ds_da / g_c:.4f} G_c (dS/dt / v = {fig['ds_dt_over_v_J_m2'] / g_c:.4f}"
          f" G_c); (dW - dE)/da = {fig['released_J_m2'] / g_c:.4f} G_c; crack section "
          f"{fig['section_J_m2'] / g_c:.4f} G_c, {fig['broken_rows']} rows broken (column's top d "
          f"{np.round(fig['column_top_d'], 4).tolist()}): G_c (1 + (n - 1) 3h/8l) = "
          f"{broken_rows_toughness_J_m2(fig['broken_rows'], fig['h_m']) / g_c:.4f} G_c; dS/da / section = "
          f"{ds_da / fig['section_J_m2']:.4f}; sweeps per step {fig['sweeps'].tolist()}")
    assert lag.max() - lag.min() <= 0.5 * fig["h_m"], "steady: the crack keeps a constant distance to the imposed tip"
    assert lag.max() < 3 * ell
    assert fig["speed_ratio"] == pytest.approx(1.0, rel=0.02)
    assert fig["released_J_m2"] == pytest.approx(ds_da, rel=0.01), "G = the dissipation rate during growth"
    assert ds_da == pytest.approx(fig["section_J_m2"], rel=0.05), "dS/da = the discrete toughness of the crack"


@pytest.mark.slow
def test_a_surfing_crack_grows_steadily_and_dissipates_what_is_released():
    """Griffith, sharp (surfing): the K_c field (G = G_c) on the boundary of a plane-strain
    strip 30 l x 10 l, l/h = 4, pre-crack d = 1 on y = 0, x <= 6 l, its centre moved by
    0.5 l per step for 24 steps. Tip: the largest x of a node with d > 0.9. Steady window:
    steps 8-24 (imposed tip 10 l to 18 l), after the transient in which the crack starts.
    In it (report_and_check_steady_surfing): the tip moves with the imposed tip at a
    constant lag; the crack's surface energy grows at dS/da = the energy release rate
    measured independently of S, from the boundary's work and the elastic energy,
    (dW - dE)/da; dS/da = the discrete toughness of the crack that formed (the AT1 energy
    of its damage profile across y at x = 10 l, 2 l to 7 l behind the tip in the window).
    Printed, not asserted to 5 %: dS/da against the 1D bar's broken profile at the same
    l/h, whose d = 1 plateau is wider (3 nodes against 2 here), and against G_c: it lies
    between them."""
    g_c = STRIP_PARAMS.toughness_J_m2
    fig = surfing_figures(4, 30, 10, 24)
    report_and_check_steady_surfing(fig, "l/h = 4, 30 l x 10 l")
    bar = run_bar(LONG_M, 80, LONG_LOADS)  # l/h = 4, its own E and nu: the broken profile does not depend on them
    bar_factor = bar["fracture_J_m2"][-1] / PARAMS.toughness_J_m2
    print(f"1D bar at l/h = 4: {bar_factor:.4f} G_c, dS/da / bar = {fig['ds_da_J_m2'] / (g_c * bar_factor):.4f}")
    assert g_c < fig["ds_da_J_m2"] < g_c * bar_factor


@pytest.mark.slow
def test_the_surfing_crack_toughness_tends_to_g_c_first_order_in_h_over_l():
    """The surfing check of the test above at l/h = 8 (4x the cells; ~7 min of CPU) against
    l/h = 4 (cached: run once with the test above). At each: the steady claims of
    report_and_check_steady_surfing; dS/da = the closed form of the crack that
    formed, G_c (1 + (n - 1)(3/8)(h/l)) with n its broken node rows, within 2 % (less than
    half of one further row at l/h = 8, 4.7 %: the count is checked, not absorbed). With
    the same n at both, dS/da - G_c is first order in h/l: its ratio l/h = 8 to 4 is 1/2,
    asserted between 0.35 and 0.65."""
    g_c = STRIP_PARAMS.toughness_J_m2
    excess = []
    for cells_per_ell in (4, 8):
        fig = surfing_figures(cells_per_ell, 30, 10, 24)
        report_and_check_steady_surfing(fig, f"l/h = {cells_per_ell}, 30 l x 10 l")
        assert fig["ds_da_J_m2"] == pytest.approx(broken_rows_toughness_J_m2(fig["broken_rows"], fig["h_m"]),
                                                  rel=0.02)
        excess.append(fig["ds_da_J_m2"] / g_c - 1)
    print(f"dS/da / G_c - 1 at l/h = 4, 8: {excess[0]:.4f}, {excess[1]:.4f}; ratio {excess[1] / excess[0]:.3f}")
    assert 0.35 < excess[1] / excess[0] < 0.65


if __name__ == "__main__":
    bar = run_bar(LONG_M, LONG_CELLS, LONG_LOADS)
    if MPI.COMM_WORLD.rank == 0:
        print(json.dumps({key: bar[key].tolist() for key in ("load_m", "reaction_Pa", "fracture_J_m2")}))

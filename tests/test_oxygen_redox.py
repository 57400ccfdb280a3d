"""Oxygen from oxygen redox (docs/model.md §10): the charge split, the oxidised-oxygen
inventory, the vacancies and the one oxygen ledger, checked against exact recursions,
closed forms, conservation, the uncoupled limits and the rank count."""
from __future__ import annotations

import json

import numpy as np
import pytest
from mpi4py import MPI

from solver.case.schema import load_case
from solver.physics.oxygen_redox import NodalOxygenRedox, OxygenRedoxLaw, Switch
from tests.conftest import ROOT, run_lrmo

CASE = ROOT / "cases" / "pristine_cycle.yaml"
# a fast version of the coupled cycle: 1C on a coarse mesh, a fast irreversible path
QUICK = ["protocol.steps=[Charge at 1C until 4.8 V, Discharge at 1C until 2.0 V]",
         "oxygen_redox.dimerisation.rate=1e-2 1/s",
         "mesh.surface=2 nm", "mesh.bulk=10 nm", "output.interval=10 min",
         "time_stepping.max_change_per_step=0.01"]


def law(**changes) -> OxygenRedoxLaw:
    values = dict(oxygen_share=0.8, onset=Switch(0.0, 1e-3), lithium_per_formula_unit=1.2,
                  li_o_li_lithium_per_formula_unit=0.2, oxygen_per_formula_unit=2.0,
                  dimerisation_rate_1_s=0.0, dimerisation_onset=Switch(4.5, 0.05), surface_depth_m=3e-9,
                  release_rate_1_s=0.0, release_onset=Switch(4.7, 0.05))
    values.update(changes)
    return OxygenRedoxLaw(**values)


def bdf(dt, dt_previous):
    if dt_previous is None:
        return 1.0, -1.0, 0.0
    w = dt / dt_previous
    return (1 + 2 * w) / (1 + w), -(1 + w), w * w / (1 + w)


def test_li_o_li_fraction_counts_the_transition_metal_layer_lithium():
    """lambda = 1 with all Li sites, 0 once the layer lacks the 0.2 TM-layer Li of 1.2."""
    f = law().li_o_li_fraction(np.array([1.0, 1 - 0.1 / 1.2, 1 - 0.2 / 1.2, 0.5]))
    assert np.allclose(f, [1.0, 0.5, 0.0, 0.0])


def test_charge_split_without_losses_stores_exactly_the_oxygen_share():
    """With the onset always on and no irreversible path, P = f_O c_max (theta_0 - theta)
    after any sequence of variable BDF2 steps (the recursion is linear and exact)."""
    c_max = np.array([6e4, 5e4])
    redox = NodalOxygenRedox(law(), c_max, np.ones(2), np.ones(2))
    rng = np.random.default_rng(1)
    theta0, thetas, dts = 1.0, [1.0, 1.0], [None]
    for _ in range(30):
        dt = rng.uniform(1, 20)
        theta = thetas[-1] - rng.uniform(0, 0.02)
        redox.step(dt, bdf(dt, dts[-1]), np.full(2, theta), np.full(2, thetas[-1]), np.full(2, thetas[-2]),
                   theta0, np.full(2, 4.0))
        redox.accept()
        thetas.append(theta)
        dts.append(dt)
    assert np.allclose(redox.P, 0.8 * c_max * (theta0 - thetas[-1]), rtol=1e-12)


def test_discharge_refills_the_oxidised_oxygen_in_proportion_to_the_holes():
    """Charge then discharge back to theta_0: every hole refilled, P returns to 0."""
    redox = NodalOxygenRedox(law(), np.array([6e4]), np.ones(1), np.ones(1))
    path = list(np.linspace(1.0, 0.5, 51)) + list(np.linspace(0.5, 1.0, 51))[1:]
    prev, prevprev = 1.0, 1.0
    peak = 0.0
    for i, theta in enumerate(path[1:]):
        redox.step(10.0, bdf(10.0, None if i == 0 else 10.0), np.array([theta]), np.array([prev]),
                   np.array([prevprev]), 1.0, np.array([4.0]))
        redox.accept()
        prevprev, prev = prev, theta
        peak = max(peak, redox.P[0])
    assert peak == pytest.approx(0.8 * 6e4 * 0.5, rel=1e-9)
    assert abs(redox.P[0]) < 1e-6 * peak


@pytest.fixture(scope="module")
def coupled_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("redox") / "one_rank"
    done = run_lrmo(["run", str(CASE), "--out", str(out), "--quiet", *[a for s in QUICK for a in ("--set", s)]])
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((out / "summary.json").read_text())


def test_the_oxygen_ledger_closes_to_round_off(coupled_run):
    """lattice + oxidised + mobile + captured + escaped + returned = initial, and the
    vacancies equal the oxygen that left the lattice as O2 (two independent solves)."""
    r = coupled_run["oxygen_redox"]
    assert r["o2_released_mol"] > 0 and r["lattice_oxygen_lost_fraction"] > 1e-4
    assert r["oxygen_ledger_closure_error_relative"] < 1e-12
    released_O = 2 * r["o2_released_mol"]
    assert r["vacancies_mol"] == pytest.approx(released_O, rel=1e-10)


def test_lost_oxygen_costs_discharge_capacity(coupled_run, tmp_path):
    """The vacancies remove Li sites: the same cycle without the irreversible path has
    the higher Coulombic efficiency."""
    out = tmp_path / "no_loss"
    done = run_lrmo(["run", str(CASE), "--out", str(out), "--quiet",
                     *[a for s in [*QUICK, "oxygen_redox.dimerisation.rate=0 1/s"] for a in ("--set", s)]])
    assert done.returncode == 0, done.stderr[-3000:]
    lossless = json.loads((out / "summary.json").read_text())["oxygen_redox"]
    assert lossless["lattice_oxygen_lost_fraction"] == 0
    assert coupled_run["oxygen_redox"]["first_cycle_coulombic_efficiency"] < lossless["first_cycle_coulombic_efficiency"] - 0.01


def test_two_ranks_give_the_serial_numbers(coupled_run, tmp_path):
    out = tmp_path / "two_ranks"
    done = run_lrmo(["run", str(CASE), "--out", str(out), "--quiet", *[a for s in QUICK for a in ("--set", s)]],
                    n_ranks=2)
    assert done.returncode == 0, done.stderr[-3000:]
    two = json.loads((out / "summary.json").read_text())["oxygen_redox"]
    one = coupled_run["oxygen_redox"]
    for key in ("first_cycle_coulombic_efficiency", "o2_released_mol", "vacancies_mol", "lattice_O_mol"):
        assert two[key] == pytest.approx(one[key], rel=1e-8), key
    assert two["oxygen_ledger_closure_error_relative"] < 1e-12


def test_without_oxygen_redox_the_li_and_stress_results_are_unchanged(tmp_path):
    """An oxygen share of 0 and no vacancy strain: the coupled run's voltage, capacity
    and peak stress equal those of the Li+stress run of the same case."""
    quick = [a for s in QUICK for a in ("--set", s)]
    off = ["--set", "oxygen_redox.oxygen_share=0", "--set", "oxygen_redox.vacancies.partial_molar_volume=0 m^3/mol"]
    runs = {}
    for name, extra in (("coupled", off), ("li_only", ["--set", "physics=[lithium, mechanics]", "--set", "oxygen=null",
                                     "--set", "oxygen_redox=null", "--set", "fitted={}"])):
        done = run_lrmo(["run", str(CASE), "--out", str(tmp_path / name), "--quiet", *quick, *extra])
        assert done.returncode == 0, done.stderr[-3000:]
        runs[name] = json.loads((tmp_path / name / "summary.json").read_text())
    a, b = runs["coupled"], runs["li_only"]
    assert a["stress"]["peak_von_mises_Pa"] == pytest.approx(b["stress"]["peak_von_mises_Pa"], rel=1e-10)
    for step_a, step_b in zip(a["protocol"]["steps"], b["protocol"]["steps"], strict=True):
        assert step_a["capacity_mAh_g"] == pytest.approx(step_b["capacity_mAh_g"], rel=1e-10)
        assert step_a["end_s"] == pytest.approx(step_b["end_s"], rel=1e-10)
    assert a["oxygen_redox"]["oxidised_O_mol"] == 0.0


def test_a_nodal_source_equals_the_uniform_source():
    """The uncoupled limit: the O2 transport fed node by node with a uniform rate gives
    the prescribed-source results to round-off."""
    from solver.physics.oxygen import OxygenTransport
    from solver.simulation.domain_setup import build_domain

    case = load_case(ROOT / "cases" / "pristine_o2.yaml",
                     ["oxygen.source={rate: 2 mol/m^3/s, start: 0 s}", "mesh.surface=5 nm", "mesh.bulk=10 nm"])
    domain = build_domain(case, MPI.COMM_WORLD)
    uniform = OxygenTransport(domain, case.oxygen)
    nodal = OxygenTransport(domain, case.oxygen.model_copy(update={"source": None}))
    nodal.nodal_source = np.full(nodal.c.x.array.size, 2.0)
    dt_prev = None
    for _ in range(5):
        for tr in (uniform, nodal):
            tr.solve_step(10.0, bdf(10.0, dt_prev), 100.0)
            tr.accept()
        dt_prev = 10.0
    assert np.allclose(nodal.c.x.array, uniform.c.x.array, rtol=1e-12, atol=1e-12)
    assert nodal.accounts["generated"][0] == pytest.approx(uniform.accounts["generated"][0], rel=1e-12)


def test_vacancies_decay_as_the_first_neumann_mode_of_the_sphere():
    """Crank: with zero flux, v0 = sin(b r/R)/(r/R), tan b = b (b = 4.4934), decays as
    exp(-b^2 D t/R^2); the error falls about 4x per halving of the mesh (second order)."""
    from dolfinx import fem

    from solver import compat
    from solver.physics.vacancies import VacancyDiffusion
    from solver.simulation.domain_setup import build_domain
    import ufl

    b, D, R = 4.493409457909064, 1e-18, 150e-9
    t_end, steps = 0.02 * R**2 / D, 200
    errors = []
    for h in (6e-9, 3e-9):
        case = load_case(CASE, [f"mesh.surface={h * 1e9} nm", f"mesh.bulk={h * 1e9} nm"])
        domain = build_domain(case, MPI.COMM_WORLD)
        V = compat.functionspace(domain.msh, "Lagrange", 1)
        w = fem.Function(V)
        compat.assemble_vector_into(compat.petsc_vec(w), fem.form(domain.volume_integral(ufl.TestFunction(V))))
        vac = VacancyDiffusion(domain, V, D, w.x.array.copy())
        r = V.tabulate_dof_coordinates()[:, 0]
        mode = np.where(r > 0, np.sin(b * r / R) / np.maximum(r / R, 1e-300), b)
        for f in (vac.v_n, vac.v_nm1, vac.v):
            f.x.array[:] = mode
        dt, previous = t_end / steps, None
        for _ in range(steps):
            vac.step(dt, bdf(dt, previous), np.zeros_like(mode))
            vac.accept()
            previous = dt
        exact = mode * np.exp(-b**2 * D * t_end / R**2)
        errors.append(np.abs(vac.v.x.array - exact).max() / np.abs(exact).max())
    assert errors[0] < 1e-2
    assert errors[0] / errors[1] > 3.0


@pytest.mark.parametrize("setting, key", [
    ("oxygen_redox.onset.voltage=5.2 V", "oxygen_redox.onset.voltage"),
    ("oxygen_redox.dimerisation.rate=-1e-4 1/s", "oxygen_redox.dimerisation.rate"),
    ("oxygen_redox.oxygen_share=1.2", "oxygen_redox.oxygen_share"),
    ("oxygen_redox.release.onset.voltage=1.5 V", "oxygen_redox.release.onset.voltage"),
])
def test_bad_oxygen_redox_input_is_refused_naming_the_key(setting, key):
    done = run_lrmo(["validate", str(CASE), "--set", setting])
    assert done.returncode == 2
    assert key in done.stderr + done.stdout


def test_restart_of_the_coupled_cycle_equals_the_uninterrupted_run(coupled_run, tmp_path):
    """SIGTERM during the discharge, after O2 has been made: the restart continues Li,
    stress, oxygen redox, O2 and vacancies from the one checkpoint to every result of the
    uninterrupted run."""
    from tests.test_batch_robustness import _interrupt_late, _numbers

    args = [a for s in [*QUICK, "output.checkpoint_every.simulated=1 min"] for a in ("--set", s)]
    ref = tmp_path / "ref"
    assert run_lrmo(["run", str(CASE), "--out", str(ref), "--quiet", *args]).returncode == 0
    end_of_charge = json.loads((ref / "summary.json").read_text())["protocol"]["steps"][0]["end_s"]
    cut = tmp_path / "cut"
    code, stderr, _ = _interrupt_late(cut, end_of_charge + 120.0, str(CASE), ["--out", str(cut), "--quiet", *args])
    assert code == 5, stderr
    r = run_lrmo(["run", str(CASE), "--out", str(cut), "--quiet", "--restart", *args])
    assert r.returncode == 0, r.stderr[-3000:]
    a, b = (dict(_numbers(json.loads((f / "summary.json").read_text()))) for f in (ref, cut))
    for key, value in a.items():
        if "ledger_error" not in key and "closure_error" not in key:
            assert b[key] == pytest.approx(value, rel=1e-10, abs=1e-300), key
    for name in ("timeseries.csv", "profiles.csv"):  # a 1D restart is exact (NaN: c_O2 uniformity at 0)
        A, B = (np.genfromtxt(f / name, delimiter=",", skip_header=1) for f in (ref, cut))
        assert A.shape == B.shape and np.allclose(A, B, rtol=1e-10, atol=0, equal_nan=True), name


def test_the_prediction_table_says_missed_when_a_prediction_misses():
    """The report's verdicts follow the stated tolerances (ICE within 2 points, fractions
    and ratios within 20 %), whatever the numbers."""
    from solver.studies.oxygen_redox_report import table

    def run(ice, xps, escaped, onset, kept):
        return {"ice": ice, "xps": dict(zip(("4.4", "4.6", "4.8"), xps)), "o2_escaped_mol": escaped,
                "onset_V": onset, "at_40_min": {"kept_fraction": kept, "uniformity": 1.0}}

    lines = table({"pristine": run(0.86, (0.08, 0.151, 0.231), 1.0, 4.6, 0.1),
                   "Ru-1": run(0.90, (0.039, 0.107, 0.30), 0.5, 4.65, 0.2)})
    row = {(cells[0], cells[1]): cells[-1] for cells in
           ([c.strip() for c in line.split("|")[1:-1]] for line in lines[2:])}
    assert row[("first-cycle Coulombic efficiency, 0.1C", "pristine")] == "met"
    assert row[("first-cycle Coulombic efficiency, 0.1C", "Ru-1")] == "MISSED"
    assert row[("oxidised O within 20 nm at 4.6 V (XPS peroxide)", "Ru-1")] == "met"
    assert row[("oxidised O within 20 nm at 4.8 V (XPS peroxide)", "Ru-1")] == "MISSED"
    assert row[("O2 evolved (escaped), ratio to pristine (DEMS: lower)", "Ru-1")] == "met"

"""output.dense: the Li steps set by accuracy and events only, each row interpolated within
the accepted step that crosses its time (BDF2's quadratic) and its stress solved there.
The rows are at exactly the requested times; their error against the closed-form
galvanostatic sphere is that of the steps themselves and falls with the step; a cycle's
step ends mean what they meant; a restart equals the uninterrupted run; and the
combinations it does not support are refused."""
import json
import math

import numpy as np
import pytest
from mpi4py import MPI

from conftest import CASES
from solver.case.loading import CaseError
from solver.case.schema import load_case_data, validate_case
from solver.physics import analytic
from solver.simulation.chemomechanics import ChemoMechanics, _interpolated
from solver.simulation.domain_setup import build_domain
from solver.simulation.drive import galvanostatic_flux_of_case

OUTPUT_TIMES_S = [*np.arange(7.0, 600.0, 7.0).tolist(), 600.0]  # not on any step


def _galvanostatic(dense: bool, max_change: float):
    """The verification sphere with 86 outputs; the stress solved after every step too
    (one-way coupling: the rows are the same), for the steps' own error."""
    data = load_case_data(CASES / "verify_galvanostatic_radial.yaml")
    data["output"].update(times={"values": OUTPUT_TIMES_S, "unit": "s"}, dense=dense)
    data["time_stepping"] = {"max_change_per_step": max_change, "max_step": {"value": 600, "unit": "s"}}
    data["mechanics"] = {"stress_every_steps": 1}
    return validate_case(data)


def _run_galvanostatic(dense: bool, max_change: float) -> dict:
    """The largest errors against the closed form of the rows (surface theta and peak von
    Mises, relative to its largest) and of the accepted steps' ends."""
    case = _galvanostatic(dense, max_change)
    sim = ChemoMechanics(case, build_domain(case, MPI.COMM_WORLD))
    rows, ends = [], []

    def state(t, s=sim):
        return t, s.lithium.surface_min(), s.mechanics.peak_von_mises()["value_Pa"]

    sim.run(lambda t, s: rows.append(state(t)), project_fields=False, progress=lambda t: ends.append(state(t)))
    core = case.materials.core
    R = case.geometry.radius.si
    params = dict(radius=R, diffusivity=core.lithium_diffusivity.si, omega=core.partial_molar_volume.si,
                  E=core.youngs_modulus.si, nu=core.poisson_ratio.si)
    flux, c_max = galvanostatic_flux_of_case(case), core.lithium_site_concentration.si

    def exact(t):
        e = analytic.galvanostatic_sphere([R], t, flux, **params)
        return 1 + e["dc_mol_m3"][0] / c_max, e["sigma_vm_Pa"][0]

    scale = exact(600.0)[1]

    def largest_errors(states):
        states = [s for s in states if s[0] > 0]
        return (max(abs(th - exact(t)[0]) for t, th, _ in states),
                max(abs(vm - exact(t)[1]) for t, _, vm in states) / scale)

    rows = [r for r in rows if r[0] > 0]
    (theta_error, stress_error), (step_theta_error, step_stress_error) = largest_errors(rows), largest_errors(ends)
    return {"times": [r[0] for r in rows], "theta_error": theta_error, "stress_error": stress_error,
            "step_theta_error": step_theta_error, "step_stress_error": step_stress_error, "steps": len(ends)}


@pytest.fixture(scope="module")
def galvanostatic():
    return {(dense, change): _run_galvanostatic(dense, change)
            for dense, change in [(True, 0.04), (True, 0.01), (True, 0.0025), (False, 0.01)]}


def test_dense_rows_are_at_exactly_the_requested_times(galvanostatic):
    assert galvanostatic[True, 0.01]["times"] == OUTPUT_TIMES_S
    assert galvanostatic[True, 0.01]["steps"] < len(OUTPUT_TIMES_S) < galvanostatic[False, 0.01]["steps"]


def test_interpolated_rows_are_as_accurate_as_the_steps(galvanostatic):
    """Against the closed form: the rows between the steps err hardly more than the
    steps' own ends (BDF2's quadratic adds less than the step's error: at most 1.4x),
    and the error falls as the steps shrink (4x smaller max_change_per_step: 2.5-6x)."""
    runs = [galvanostatic[True, c] for c in (0.04, 0.01, 0.0025)]
    for run in runs:
        assert run["theta_error"] < 1.6 * run["step_theta_error"]
        assert run["stress_error"] < 1.6 * run["step_stress_error"]
    for coarse, fine in zip(runs, runs[1:]):
        assert fine["theta_error"] < 0.5 * coarse["theta_error"]
        assert fine["stress_error"] < 0.5 * coarse["stress_error"]


def test_dense_rows_agree_with_landing_rows_to_the_time_discretisation(galvanostatic):
    """The landing run's steps are capped by its 86 outputs (93 steps at max_change_per_step
    0.01); a dense run with fewer steps (0.0025: 73) is about as far from the closed form,
    within 2x in theta and in the stress."""
    dense, landing = galvanostatic[True, 0.0025], galvanostatic[False, 0.01]
    assert dense["steps"] < landing["steps"]
    assert dense["theta_error"] < 2 * landing["theta_error"]
    assert dense["stress_error"] < 2 * landing["stress_error"]


# -- a short cycle with a voltage: the step ends and restarts -----------------------------------
def _cycle(dense: bool):
    data = load_case_data(CASES / "cycle_lrmo_1d.yaml")
    data["mesh"] = {"surface": {"value": 2, "unit": "nm"}, "bulk": {"value": 10, "unit": "nm"}}
    data["protocol"]["steps"] = ["Charge at 4C until 4.8 V", "Hold at 4.8 V until 1C", "Rest for 5 minutes",
                                 "Discharge at 4C until 2.0 V"]
    data["time_stepping"] = {"max_change_per_step": 0.01, "max_step": {"value": 100, "unit": "s"}}
    data["output"]["dense"] = dense
    return validate_case(data)


class _Stop(Exception):
    pass


def _run_cycle(case, stop_after_steps=None, state=None):
    """(rows, results or the state after `stop_after_steps` accepted steps)."""
    sim = ChemoMechanics(case, build_domain(case, MPI.COMM_WORLD))
    if state is not None:
        sim.restore(*state)
    rows, saved = [], []

    def checkpoint(s):
        if s.stats.steps == stop_after_steps:
            scalars, arrays = s.state()
            saved.append((json.loads(json.dumps(scalars)), {k: v.copy() for k, v in arrays.items()}))
            raise _Stop

    try:
        results = sim.run(lambda t, s: rows.append(s.scalars(t)), project_fields=False, checkpoint=checkpoint)
    except _Stop:
        return rows, saved[0]
    return rows, results


@pytest.fixture(scope="module")
def cycles():
    return {dense: _run_cycle(_cycle(dense)) for dense in (False, True)}


def test_cycle_rows_every_interval_and_at_each_step_end(cycles):
    (_, landing), (rows, dense) = cycles[False], cycles[True]
    ends = [e["end_s"] for e in dense["protocol"]["steps"]]
    between = [r["t_s"] for r in rows if r["t_s"] not in ends]
    assert between == [10.0 * k for k in range(len(between))]
    assert dense["lithium"]["steps"] < 0.8 * landing["lithium"]["steps"]


def test_cycle_step_ends_and_capacities_keep_their_meaning(cycles):
    """Each step ends by the same limit at the same time and capacity within the steps'
    accuracy, and the rows' capacity, voltage and step are the landing run's. The
    discharge ends where its surface saturates, where the steps matter most: against a
    run with 10x smaller max_change_per_step its capacity is 0.8 % short with dense
    output, 0.14 % with landing (whose steps the 10-s outputs cap)."""
    (landing_rows, landing), (rows, dense) = cycles[False], cycles[True]
    for a, b in zip(landing["protocol"]["steps"], dense["protocol"]["steps"], strict=True):
        assert a["ended_by"] == b["ended_by"]
        assert b["end_s"] == pytest.approx(a["end_s"], rel=2e-3)
        assert b["capacity_mAh_g"] == pytest.approx(a["capacity_mAh_g"], rel=1e-2, abs=1e-3)
    dense_at = {r["t_s"]: r for r in rows}
    common = [r for r in landing_rows if r["t_s"] in dense_at and r["t_s"] % 10 == 0]
    assert len(common) > 100
    for r in common:
        assert dense_at[r["t_s"]]["capacity_mAh_g"] == pytest.approx(r["capacity_mAh_g"], rel=2e-3, abs=0.2)
        assert dense_at[r["t_s"]]["step"] == r["step"]
    volts = np.array([abs(dense_at[r["t_s"]]["voltage_V"] - r["voltage_V"]) for r in common])
    assert np.percentile(volts, 90) < 1e-3 and volts.max() < 1e-2  # the largest where V plunges


def test_dense_restart_equals_the_uninterrupted_run(cycles):
    rows, results = cycles[True]
    first, state = _run_cycle(_cycle(True), stop_after_steps=120)
    rest, again = _run_cycle(_cycle(True), state=state)
    assert len(first) > 10 and first + rest == rows
    for key in ("lithium", "stress"):
        results[key].pop("wall_s"), again[key].pop("wall_s")
    assert again == results


def test_interpolated_observables_do_not_depend_on_the_float_type():
    """A restart's times are Python floats (from JSON) where the run's may be numpy.float64,
    so the rows' interpolation weights are either: the interpolated value is the same bits
    for both (sum() compensates the round-off of exact Python floats only since Python
    3.12: the restart's rows were 1 ulp off on Debian 13), a Python float, and the exactly
    rounded sum to within the round-off of adding three terms."""
    rng = np.random.default_rng(16)
    for _ in range(2000):
        values, weights = rng.uniform(-700.0, 700.0, 3).tolist(), rng.uniform(-0.5, 1.5, 3).tolist()
        plain = _interpolated(values, weights)
        assert type(plain) is float
        assert _interpolated(values, [np.float64(w) for w in weights]) == plain
        assert _interpolated([np.float64(v) for v in values], weights) == plain
        terms = [w * v for w, v in zip(weights, values)]
        assert abs(plain - math.fsum(terms)) <= 4 * np.finfo(float).eps * sum(abs(x) for x in terms)


@pytest.mark.parametrize("change, message", [
    ({"physics": ["lithium", "mechanics", "oxygen"], "oxygen": "from pristine_o2"}, "not with 'oxygen'"),
    ({"mechanics": {"stress_assisted_diffusion": True}}, "stress_assisted_diffusion"),
    ({"geometry": {"shape": "octant"}, "output": {"fields": True}}, "3D geometry.shape"),
])
def test_unsupported_combinations_are_refused(change, message):
    data = load_case_data(CASES / "pristine_stress.yaml")
    data.setdefault("output", {})["dense"] = True
    for section, value in change.items():
        if value == "from pristine_o2":
            data[section] = load_case_data(CASES / "pristine_o2.yaml")[section]
        elif isinstance(value, dict):
            data.setdefault(section, {}).update(value)
        else:
            data[section] = value
    with pytest.raises(CaseError, match=message):
        validate_case(data)

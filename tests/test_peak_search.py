"""The peak stress over time from few elasticity solves (solver/numerics/peak_search.py) agrees
with solving after every step, in 1D and 3D, and the search itself finds the largest of
a sequence with few evaluations."""
from __future__ import annotations

import numpy as np
import pytest
from mpi4py import MPI

from solver.case.schema import load_case
from solver.simulation.chemomechanics import ChemoMechanics
from solver.numerics.peak_search import SiteFractionHistory, search_peak
from solver.simulation.domain_setup import build_domain
from tests.conftest import CASES


def found(values: np.ndarray) -> tuple[int, int]:
    """(index found, evaluations used) for a sequence."""
    calls = []

    def evaluate(i):
        calls.append(i)
        return float(values[i])

    return search_peak(len(values), evaluate, {}), len(calls)


@pytest.mark.parametrize("shape", ["interior", "rising", "falling", "kink", "two_bumps", "plateau"])
def test_search_finds_the_largest_value_with_few_evaluations(shape):
    t = np.linspace(0.0, 1.0, 1000)
    values = {
        "interior": np.sin(np.pi * t) * (1 + 0.3 * t),
        "rising": np.sqrt(t),
        "falling": np.exp(-3 * t),
        "kink": np.where(t < 0.613, t, 0.613 - 2 * (t - 0.613)),
        "two_bumps": np.exp(-((t - 0.2) / 0.1) ** 2) + 1.02 * np.exp(-((t - 0.75) / 0.1) ** 2),
        "plateau": np.minimum(t, 0.5),
    }[shape]
    index, evaluations = found(values)
    assert index == int(np.argmax(values))  # the first of equal values, as an every-step scan
    assert evaluations < 80  # of 1000


def test_history_thins_to_its_bound_and_keeps_marked_steps():
    h = SiteFractionHistory(max_count=10)
    for k in range(100):
        h.append(float(k), np.full(3, k), keep=(k == 37))
    assert len(h) <= 10 + 1
    assert 37.0 in h.times and 99.0 in h.times
    assert all(s[0] == t for s, t in zip(h.snapshots, h.times))


def run(path, overrides, observe=None):
    case = load_case(path, overrides)
    sim = ChemoMechanics(case, build_domain(case, MPI.COMM_WORLD))
    return sim.run(observe)["stress"], sim


def compare_sparse_with_every_step(path, overrides):
    seen = {}

    def observer(key):
        def observe(t, s):
            seen.setdefault(key, []).append((t, s.scalars(t)["sigma_vm_max_Pa"]))
        return observe

    every, _ = run(path, [*overrides, "mechanics.stress_every_steps=1"], observer("every"))
    sparse, sim = run(path, overrides, observer("sparse"))
    assert sparse["peak_search"] and not every["peak_search"]
    assert sparse["peak_von_mises_Pa"] == pytest.approx(every["peak_von_mises_Pa"], rel=3e-3)
    assert sparse["peak_time_s"] == pytest.approx(every["peak_time_s"], rel=3e-3)
    for key in ("peak_radius_m", "peak_region", "peak_location"):
        assert sparse[key] == every[key]
    assert sparse["solves"] < every["solves"] / 2
    # the output-time observer saw the stress of the output times in both runs
    assert [t for t, _ in seen["sparse"]] == [t for t, _ in seen["every"]]
    np.testing.assert_allclose([v for _, v in seen["sparse"]], [v for _, v in seen["every"]], rtol=1e-6)
    return sparse, every, sim


def test_sparse_peak_search_matches_every_step_in_1d_with_the_hold():
    """The pristine particle (1D): galvanostatic charge, then the hold at the floor."""
    sparse, every, sim = compare_sparse_with_every_step(CASES / "pristine_stress.yaml", [])
    assert sim.stats.switch_time_s is not None
    assert sim.mechanics.u.x.array.any()  # fields left as at the end, not as the last probe


def test_sparse_peak_search_matches_every_step_in_3d():
    """A coarse octant whose surface reaches the floor early, so that the peak is not at
    the end."""
    overrides = ["mechanics.stress_every_steps=null",  # the case file sets 1000
                 "mesh.surface=15 nm", "mesh.bulk=25 nm", "lithium.min_site_fraction=0.9",
                 "protocol.end_time=900 s", "output.times.values=[300, 900]",
                 "time_stepping.max_change_per_step=0.005"]
    sparse, every, sim = compare_sparse_with_every_step(CASES / "verify_galvanostatic_octant.yaml", overrides)
    assert sim.stats.switch_time_s is not None
    assert every["peak_time_s"] < 900


def test_two_way_coupling_still_solves_every_step():
    stress, sim = run(CASES / "verify_galvanostatic_radial.yaml",
                      ["mechanics.stress_assisted_diffusion=true", "protocol.end_time=60 s",
                       "output.times.values=[60]"])
    assert not stress["peak_search"]
    assert stress["solves"] == sim.stats.steps



@pytest.mark.parametrize("name, overrides", [
    ("verify_galvanostatic_radial.yaml",  # no switch: the end is an output time
     ["protocol.end_time=3000 s", "output.times.values=[500, 1000, 2000, 3000]"]),
    ("pristine_stress.yaml", []),  # the switch to the hold on the way
])
def test_peak_over_output_times_only(name, overrides):
    """`mechanics.peak_over_time: false`: the same stress at the output times, one solve
    per output time (and one at the switch), and the peak the largest of those solves."""
    def observer(seen):
        def observe(t, s):
            if t > 0:
                seen[t] = (s.mechanics.stress_components.x.array.copy(),
                           s.mechanics.peak_von_mises()["value_Pa"])
        return observe

    full, only = {}, {}
    searched, _ = run(CASES / name, overrides, observer(full))
    stress, sim = run(CASES / name, [*overrides, "mechanics.peak_over_time=false"], observer(only))
    assert searched["peak_over"] == "every step" and searched["peak_search"]
    assert stress["peak_over"] == "output times and the switch" and not stress["peak_search"]
    assert sim.history is None
    assert list(only) == list(full)
    for t in full:
        np.testing.assert_array_equal(only[t][0], full[t][0])
    switched = sim.stats.switch_time_s is not None
    assert switched == (name == "pristine_stress.yaml")
    assert stress["solves"] == len(only) + switched
    largest_at_outputs = max(value for _, value in only.values())
    if stress["peak_time_s"] in only:
        assert stress["peak_von_mises_Pa"] == largest_at_outputs
    else:  # at the switch
        assert stress["peak_time_s"] == sim.stats.switch_time_s
        assert stress["peak_von_mises_Pa"] >= largest_at_outputs
    assert stress["peak_von_mises_Pa"] <= searched["peak_von_mises_Pa"]

"""Claims about where the current goes on a prolate ellipsoid (semi-axes 200, 100, 100 nm)
with Butler–Volmer kinetics and one particle potential (benchmarks/ellipsoid_current.py,
docs/shapes.md "Current distribution on non-spherical particles"): the high-curvature
tips carry LESS current than the equator, by the mean-curvature term of the Dirichlet
problem's short-time expansion under a hold and by b/a under a constant current with fast
kinetics, except near full lithiation, where the exchange current's sqrt(theta (1 -
theta)) first favours the tips; a sphere carries a uniform current."""
from __future__ import annotations

import dataclasses
import importlib.util
import sys

import numpy as np
import pytest

from conftest import ROOT


def _benchmark():
    spec = importlib.util.spec_from_file_location("ellipsoid_current", ROOT / "benchmarks" / "ellipsoid_current.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


bench = _benchmark()
A, B = bench.SEMI_AXES_NM[0] * 1e-9, bench.SEMI_AXES_NM[1] * 1e-9


def ratios(rows):
    return np.array([r["tip"] / r["equator"] for r in rows])


def test_spheroid_curvatures_are_those_of_the_sphere_when_the_axes_are_equal():
    curv = bench.spheroid_curvatures(100e-9, 100e-9)
    assert curv["tip"] == pytest.approx(curv["equator"], rel=1e-12)
    assert curv["tip"][0] == pytest.approx(1 / 100e-9)
    # the prolate tip: H = a / b^2 (radius of curvature b^2 / a = 50 nm); equator (1/b + b/a^2) / 2
    curv = bench.spheroid_curvatures(A, B)
    assert curv["tip"][0] == pytest.approx(1 / 50e-9)
    assert curv["equator"][0] == pytest.approx(1 / 160e-9)


def test_voltage_hold_with_fast_kinetics_puts_less_current_on_the_tips_as_the_mean_curvature_term_says():
    """Hold at theta* = 0.5 from 0.6, i0 = 1e4 A/m^2: the Dirichlet problem. At t = 10 s
    (sqrt(D t) = 10 nm, a fifth of the tip's radius of curvature) the short-time expansion
    gives tip / equator = 0.727; the meshes of 10, 7.07 and 5 nm give 0.730, 0.749 and
    0.741 (docs/shapes.md): within 0.025, the meshes' scatter and the expansion's O(D t)
    term."""
    scenario = dataclasses.replace(bench.SCENARIOS["hold_fast"], times_s=[10.0])
    rows, info = bench.run_scenario(scenario, 7.07)
    ratio = ratios(rows)[0]
    expected = bench.hold_ratio_short_time(10.0, info["D_m2_s"], A, B)
    assert expected == pytest.approx(0.727, abs=1e-3)
    assert ratio < 1
    assert ratio == pytest.approx(expected, abs=0.04)


def test_constant_current_with_fast_kinetics_tends_to_the_pseudo_steady_b_over_a():
    """1C, i0 = 1e4 A/m^2, D = 1e-16 m^2/s: after a few b^2/D (100 s) the surface is at one
    site fraction and the profile is the quadratic pseudo-steady one, tip / equator = b / a
    = 0.5 exactly; the coarse mesh (10 nm) gives it within 2 %."""
    scenario = dataclasses.replace(bench.SCENARIOS["charge_fast"], steps=["Charge at 1C for 10 minutes"],
                                   times_s=[10.0, 600.0])
    rows, _ = bench.run_scenario(scenario, 10.0)
    early, late = ratios(rows)
    assert late == pytest.approx(bench.pseudo_steady_ratio(A, B), rel=0.02)
    assert late < early < 1
    assert rows[-1]["theta_tip"] == pytest.approx(rows[-1]["theta_equator"], abs=1e-4)


def test_finite_kinetics_current_starts_uniform_and_moves_off_the_tips():
    """i0 = 1 A/m^2: the ratio falls from 1 and stays above the fast-kinetics limit b / a
    (the Robin pseudo-steady state lies between uniform flux and Dirichlet); 10, 7.07 and
    5 nm meshes agree to 0.002."""
    scenario = dataclasses.replace(bench.SCENARIOS["charge_kinetics"], steps=["Charge at 1C for 10 minutes"],
                                   times_s=[0.1, 10.0, 600.0])
    rows, _ = bench.run_scenario(scenario, 10.0)
    first, early, late = ratios(rows)
    assert first == pytest.approx(1.0, abs=0.02)
    assert 1 > first > early > late > bench.pseudo_steady_ratio(A, B)
    assert rows[-1]["theta_tip"] < rows[-1]["theta_equator"]  # the tips have emptied further


def test_near_full_lithiation_the_current_first_moves_toward_the_tips():
    """From theta0 = 0.999 with i0 = 0.1 A/m^2 and U' = -1 V: while the surface is above
    ~0.98, d ln i0 / d theta outweighs (f/2) |U'| coth(f eta / 2), so the tips (emptier,
    larger i0) carry more current; later, less."""
    scenario = dataclasses.replace(bench.SCENARIOS["near_full"], times_s=[5.0, 300.0])
    rows, _ = bench.run_scenario(scenario, 10.0)
    early, late = ratios(rows)
    assert early > 1.01
    assert late < 0.8
    # the sign of d ln j / d theta_s at the tip's state explains both
    f = 96485.33212 / (8.314462618 * 298.15)
    for row, sign in ((rows[0], -1), (rows[-1], 1)):
        theta = row["theta_tip"]
        eta = row["voltage_V"] - (4.0 - theta)
        slope = (1 - 2 * theta) / (2 * theta * (1 - theta)) + (f / 2) / np.tanh(f * eta / 2)
        assert np.sign(slope) == sign


def test_sphere_carries_a_uniform_current():
    """Semi-axes 100, 100, 100 nm, finite kinetics at 1C: the x pole and the y, z poles
    (not images of each other under the mesh's mirrors) carry the same current to 0.5 %."""
    scenario = dataclasses.replace(bench.SCENARIOS["charge_kinetics"], steps=["Charge at 1C for 5 minutes"],
                                   times_s=[10.0, 300.0])
    rows, _ = bench.run_scenario(scenario, 10.0, semi_axes_nm=(100.0, 100.0, 100.0))
    assert ratios(rows) == pytest.approx([1.0, 1.0], abs=5e-3)


@pytest.mark.slow
def test_tip_to_equator_ratio_agrees_across_three_meshes_and_with_the_closed_forms():
    """Meshes of 10, 7.07 and 5 nm (not nested: their scatter, not an asymptotic order, is
    the discretisation error): at the end of the 1C charge with fast kinetics they agree
    within 0.012 and the finest is within 1 % of b / a; during the hold, at t = 10 s, within
    0.02 of each other and within 0.025 of the short-time expansion."""
    sizes = [10.0, 7.07, 5.0]
    charge = dataclasses.replace(bench.SCENARIOS["charge_fast"], steps=["Charge at 1C for 10 minutes"],
                                 times_s=[600.0])
    late = [ratios(bench.run_scenario(charge, h)[0])[0] for h in sizes]
    assert max(late) - min(late) < 0.012
    assert late[-1] == pytest.approx(bench.pseudo_steady_ratio(A, B), rel=0.01)
    hold = dataclasses.replace(bench.SCENARIOS["hold_fast"], times_s=[10.0])
    runs = [bench.run_scenario(hold, h) for h in sizes]
    q = [ratios(rows)[0] for rows, _ in runs]
    assert max(q) - min(q) < 0.02
    expected = bench.hold_ratio_short_time(10.0, runs[0][1]["D_m2_s"], A, B)
    assert all(abs(r - expected) < 0.025 for r in q), q

"""The report's cycle figure and table show the run (cases/cycle_lrmo_1d.yaml): the
plotted curves are the timeseries' columns step by step, the table's capacities are the
summary's and equal the timeseries' change over each step, the charge lands on 4.8 V,
the hold ends at C/50, the rest passes no charge."""
import json

import numpy as np
import pytest

from conftest import CASES
from solver.case.schema import load_case
from solver.io.tables import read_columns
from solver.physics.protocol import EVENT_TOLERANCE
from solver.simulation.run import run_case
from solver.studies import cycle_report
from solver.studies import figures as figs


@pytest.fixture(scope="module")
def cycle(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cycle") / "cycle_lrmo_1d"
    assert run_case(load_case(CASES / "cycle_lrmo_1d.yaml"), folder)["status"] == "completed"
    return folder


def _summary(folder):
    return json.loads((folder / "summary.json").read_text())


def test_the_figure_draws_every_row_of_the_timeseries_step_by_step(cycle, tmp_path):
    fig = figs.cycle_figure(cycle, tmp_path / "cycle.png")
    assert (tmp_path / "cycle.png").stat().st_size > 30000
    ts = read_columns(cycle / "timeseries.csv")
    steps = _summary(cycle)["protocol"]["steps"]
    a_v, a_i, a_s, a_sv = fig.axes
    v_lines, s_lines, i_lines = (ax.lines[:len(steps)] for ax in (a_v, a_s, a_i))
    for k, (step, lv, ls, li) in enumerate(zip(steps, v_lines, s_lines, i_lines)):
        inside = (ts["t_s"] >= step["start_s"] * (1 - 1e-9)) & (ts["t_s"] <= step["end_s"] * (1 + 1e-9))
        assert np.array_equal(lv.get_xdata(), ts["capacity_mAh_g"][inside])
        assert np.array_equal(lv.get_ydata(), ts["voltage_V"][inside])
        assert np.array_equal(ls.get_ydata(), ts["sigma_vm_max_Pa"][inside] / 1e6)
        assert np.array_equal(li.get_xdata(), ts["t_s"][inside] / 3600)
        assert np.array_equal(li.get_ydata(), ts["current_mA_g"][inside])
        assert li.get_xdata()[0] * 3600 == pytest.approx(step["start_s"], rel=1e-9)  # each step's own ends
        assert li.get_xdata()[-1] * 3600 == pytest.approx(step["end_s"], rel=1e-9)
    drawn = np.unique(np.concatenate([line.get_xdata() for line in i_lines]))
    assert drawn.size == np.unique(ts["t_s"]).size  # no row left out


def test_step_capacities_in_the_table_are_the_timeseries_change_over_each_step(cycle):
    table = cycle_report.step_table(_summary(cycle))
    ts = read_columns(cycle / "timeseries.csv")
    for step in table:
        at = [int(np.argmin(np.abs(ts["t_s"] - t))) for t in (step["start_s"], step["end_s"])]
        passed = abs(ts["capacity_mAh_g"][at[1]] - ts["capacity_mAh_g"][at[0]])
        assert passed == pytest.approx(step["capacity_mAh_g"], rel=1e-8, abs=2e-7)  # CSV: 10 digits
    assert [s["ended_by"] for s in table] == ["voltage", "current", "time", "voltage"]


def test_the_charge_lands_on_4p8_V_the_hold_ends_at_C50_and_the_rest_passes_no_charge(cycle):
    steps = figs.cycle_steps(cycle)
    charge, hold, rest, _ = (s["rows"] for s in steps)
    assert charge["voltage_V"][-1] == pytest.approx(4.8, abs=EVENT_TOLERANCE["voltage"])
    assert charge["voltage_V"][:-1].max() < 4.8
    assert np.allclose(hold["voltage_V"], 4.8, rtol=0, atol=1e-12)
    assert hold["current_mA_g"][-1] == pytest.approx(250 / 50, rel=1e-6)
    assert np.all(np.diff(hold["current_mA_g"]) < 0)  # the CV current decays
    assert abs(rest["capacity_mAh_g"][-1] - rest["capacity_mAh_g"][0]) < 1e-4


def test_the_discharge_ends_where_the_surface_fills_carrying_its_current(cycle):
    """The LRMO curve ends at 3.2 V at site fraction 1, so the 2.0 V cut-off is reached
    where the surface fills (i0 -> 0, V runs off): the last row is a solved state that
    still carries the step's current, above the cut-off, with the surface nearly full."""
    discharge = figs.cycle_steps(cycle)[-1]["rows"]
    end = _summary(cycle)["protocol"]["steps"][-1]
    assert end["ended_by"] == "voltage" and end["surface_saturated"]
    assert discharge["current_mA_g"][-1] == pytest.approx(-250, rel=1e-6)
    assert 2.0 < discharge["voltage_V"][-1] == pytest.approx(end["last_solved_voltage_V"], abs=1e-8)
    assert discharge["theta_surface_min"][-1] > 0.999

"""A protocol with a voltage fails well, restarts exactly and runs on 2 ranks: bad input is
refused with exit 2 naming the key or step and nothing written (or, found at run time, a
summary that says why), a step the kinetics cannot end is exit 3 naming the step, a
restart in the CV hold equals the uninterrupted run bit for bit, and 1 or 2 ranks agree."""
from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import CASES, run_lrmo

CYCLE = str(CASES / "cycle_lrmo_1d.yaml")
RADIAL = str(CASES / "verify_galvanostatic_radial.yaml")
OCTANT = str(CASES / "verify_galvanostatic_octant.yaml")


def _summary(folder) -> dict:
    return json.loads((folder / "summary.json").read_text())


def _refused(args: list[str], out, capsys) -> str:
    """`lrmo ARGS` in process: exit 2, the output folder never created; the message."""
    from lrmo.cli import main

    assert main(args) == 2
    assert not out.exists()
    return capsys.readouterr().err


# -- refused before the run: exit 2, nothing written ---------------------------------------
def test_ocv_table_out_of_order_is_refused_by_run(tmp_path, capsys):
    out = tmp_path / "x"
    err = _refused(["run", CYCLE, "--out", str(out), "--quiet", "--set",
                    "materials.core.open_circuit_voltage={site_fraction: [0.2, 0.1, 1.0], "
                    "voltage: [4.8, 4.4, 3.2], window: [2.0 V, 4.8 V], source: test}"], out, capsys)
    assert "materials.core.open_circuit_voltage" in err and "site_fraction[1] = 0.1 is not above" in err


@pytest.mark.parametrize("table, needle", [
    ("site_fraction: [0.2, 0.6, 1.0], voltage: [4.6, 4.4, 3.2]",
     "window: the upper cut-off 4.8 V is above the curve's highest voltage 4.6 V"),
    ("site_fraction: [0.1655, 0.6, 0.9], voltage: [4.8, 4.4, 3.5]",
     "window: the lower cut-off 2 V is below the curve's lowest voltage 3.5 V"),
])
def test_ocv_that_does_not_cover_its_window_is_refused(tmp_path, capsys, table, needle):
    """A cut-off beyond the curve's end is refused unless that end is site fraction 0 (1):
    the shipped LRMO curve ends at 3.2 V at site fraction 1 and its 2.0 V cut-off is fine."""
    out = tmp_path / "x"
    err = _refused(["run", CYCLE, "--out", str(out), "--quiet", "--set",
                    f"materials.core.open_circuit_voltage={{{table}, window: [2.0 V, 4.8 V], "
                    "source: test}"], out, capsys)
    assert "materials.core.open_circuit_voltage" in err and needle in err


@pytest.mark.parametrize("command", ["run", "validate"])
@pytest.mark.parametrize("step, needle", [
    ("Charge at 1C until 5.5 V", "protocol.steps[0] 'Charge at 1C until 5.5 V': 5.5 V is above the "
     "open-circuit voltage's range (2 to 4.8 V, materials.core.open_circuit_voltage.window): "),
    ("Hold at 1.5 V for 1 hour", "protocol.steps[0] 'Hold at 1.5 V for 1 hour': 1.5 V is below the "
     "open-circuit voltage's range (2 to 4.8 V"),
])
def test_step_voltage_outside_the_ocv_range_is_refused(tmp_path, capsys, command, step, needle):
    out = tmp_path / "x"
    args = [command, CYCLE, "--set", f"protocol.steps=[{step}]"] + (["--out", str(out)] if command == "run" else [])
    assert needle in _refused(args, out, capsys)


def test_step_voltage_without_ocv_and_kinetics_is_refused(tmp_path, capsys):
    out = tmp_path / "x"
    err = _refused(["run", RADIAL, "--out", str(out), "--set",
                    "protocol={current_1C: 250 mA/g, steps: [Charge at 1C for 1 minute, "
                    "{repeat: 2, steps: [Rest for 1 minute, Hold at 4.5 V for 1 minute]}]}"], out, capsys)
    assert ("protocol.steps[1].steps[1] 'Hold at 4.5 V for 1 minute': a voltage needs the open-circuit "
            "voltage and Butler-Volmer kinetics") in err
    assert "materials.core.open_circuit_voltage and materials.core.exchange_current_density" in err


def test_step_list_that_cannot_be_read_is_refused_by_run(tmp_path, capsys):
    out = tmp_path / "x"
    err = _refused(["run", CYCLE, "--out", str(out), "--set",
                    "protocol.steps=[Charge at 1C until 4.8 V, Charge at 1 until 4.8V]"], out, capsys)
    assert "protocol.steps[1]: cannot read 'Charge at 1 until 4.8V'" in err


def test_shipped_cycle_is_valid(capsys):
    from lrmo.cli import main

    assert main(["validate", CYCLE]) == 0


# -- refused at run time ---------------------------------------------------------------------
def test_cv_hold_below_the_ocv_after_a_charge_exits_2_naming_the_step(tmp_path):
    out = tmp_path / "cv"
    r = run_lrmo(["run", CYCLE, "--out", str(out), "--quiet", "--set",
                  "protocol.steps=[Charge at 5C until 4.8 V, Hold at 4.5 V until C/50]"])
    assert r.returncode == 2, r.stderr
    s = _summary(out)
    assert s["status"] == "failed" and s["reason"] == "bad input"
    assert s["message"].startswith("protocol step 2 'Hold at 4.5 V until C/50': 4.5 V is ")
    assert "below the open-circuit voltage of the surface" in s["message"]
    assert "would discharge the particle" in s["message"] and "bad input" in r.stderr
    last = (out / "timeseries.csv").read_text().splitlines()[-1].split(",")
    assert last[2] == "2"  # the charge's end is the last row


def test_step_the_kinetics_cannot_carry_exits_3_naming_the_step(tmp_path):
    """A tiny exchange current density: the charge's voltage end lies where Newton on the
    surface reaction cannot go; the run stops at min_step with the step named."""
    out = tmp_path / "i0"
    r = run_lrmo(["run", CYCLE, "--out", str(out), "--quiet", "--set", "protocol.steps=[Charge at 1C until 4.79 V]",
                  "--set", "materials.core.exchange_current_density={value: 1e-30, unit: A/m^2, source: test}"])
    assert r.returncode == 3, r.stderr
    s = _summary(out)
    assert s["status"] == "failed" and "reason" not in s
    assert "protocol step 1 'Charge at 1C until 4.79 V'" in s["message"]
    assert "diverged" in s["message"] and "likely cause" in s["message"]


# -- restart in the CV hold ------------------------------------------------------------------
def _results(folder) -> tuple[dict, np.ndarray]:
    s = _summary(folder)
    numbers = {k: s[k] for k in ("lithium", "protocol", "electrochemistry", "stress")}
    for section in numbers.values():
        if isinstance(section, dict):
            for k in [k for k in section if "wall" in k]:
                del section[k]
    return numbers, np.loadtxt(folder / "timeseries.csv", delimiter=",", skiprows=1)


def test_restart_in_the_cv_hold_gives_the_uninterrupted_results_exactly(tmp_path, monkeypatch):
    """cases/cycle_lrmo_1d.yaml stopped (as by SIGTERM) at t = 5000 s, in the hold at 4.8 V,
    and restarted: every row and every summary number equals the uninterrupted run's (the
    checkpoint carries V's history and Newton's contraction rate: ParticlePotential.state)."""
    from solver.case.schema import load_case
    from solver.simulation import checkpoint
    from solver.simulation.run import run_case

    case = load_case(CYCLE)
    assert run_case(case, tmp_path / "ref")["status"] == "completed"
    poll = checkpoint.Schedule.poll

    def stop_in_the_hold(self, t_s):
        due, stop = poll(self, t_s)
        return (True, "SIGTERM") if t_s >= 5000.0 else (due, stop)

    monkeypatch.setattr(checkpoint.Schedule, "poll", stop_in_the_hold)
    cut = tmp_path / "cut"
    stopped = run_case(case, cut)
    monkeypatch.setattr(checkpoint.Schedule, "poll", poll)
    ref_steps = _summary(tmp_path / "ref")["protocol"]["steps"]
    assert stopped["status"] == "interrupted"
    assert ref_steps[1]["start_s"] < stopped["t_reached_s"] < ref_steps[1]["end_s"]  # in the CV hold
    assert run_case(case, cut, restart=True)["status"] == "completed"
    (a, A), (b, B) = _results(tmp_path / "ref"), _results(cut)
    assert a == b
    assert A.shape == B.shape and np.array_equal(A, B)


# -- 1 and 2 ranks ---------------------------------------------------------------------------
SHORT_CYCLE = ["--set", "protocol.steps=[Charge at 5C until 4.6 V, Hold at 4.6 V until 2C, Discharge at 5C until 3.9 V]",
               "--set", "time_stepping.max_change_per_step=0.02", "--set", "time_stepping.max_step=30 s",
               "--set", "mesh.surface=2 nm", "--set", "mesh.bulk=10 nm"]
OCTANT_CYCLE = ["--set", "mesh.surface=10 nm", "--set", "mesh.bulk=30 nm",
                "--set", "lithium.initial_site_fraction=0.95",
                "--set", 'materials.core.open_circuit_voltage={expression: "4.4 - 0.8*x", source: test}',
                "--set", "materials.core.exchange_current_density={value: 1, unit: A/m^2, source: test}",
                "--set", "protocol={current_1C: 250 mA/g, steps: [Charge at 2C until 3.7 V, "
                "Hold at 3.7 V for 1 minute, Discharge at 2C for 1 minute]}",
                "--set", "output={interval: 30 s, fields: false}"]


def _same_cycle_on_1_and_2_ranks(tmp_path, case, args, rel):
    runs = []
    for n in (1, 2):
        out = tmp_path / f"n{n}"
        r = run_lrmo(["run", case, "--out", str(out), "--quiet", *args], n_ranks=n)
        assert r.returncode == 0, r.stderr
        runs.append(_summary(out))
    one, two = runs
    assert len(one["protocol"]["steps"]) == len(two["protocol"]["steps"]) == 3
    for a, b in zip(one["protocol"]["steps"], two["protocol"]["steps"]):
        assert a["ended_by"] == b["ended_by"]
        assert b["end_s"] == pytest.approx(a["end_s"], rel=rel)
        assert b["capacity_mAh_g"] == pytest.approx(a["capacity_mAh_g"], rel=rel)
    for key in ("final_voltage_V", "capacity_mAh_g"):
        assert two["electrochemistry"][key] == pytest.approx(one["electrochemistry"][key], rel=rel)


def test_voltage_cycle_1d_on_2_ranks_gives_the_serial_results(tmp_path):
    """The particle's current counted once on 2 ranks (the rank without the surface
    carried it twice before)."""
    _same_cycle_on_1_and_2_ranks(tmp_path, CYCLE, SHORT_CYCLE, rel=1e-9)


@pytest.mark.slow
def test_voltage_cycle_octant_on_2_ranks_agrees_with_1(tmp_path):
    """3D, iterative solvers (CG + AMG to 1e-9): 1 and 2 ranks agree to ~1e-7."""
    _same_cycle_on_1_and_2_ranks(tmp_path, OCTANT, OCTANT_CYCLE, rel=2e-7)

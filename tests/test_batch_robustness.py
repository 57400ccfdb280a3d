"""Batch-job robustness (issue 9): divergence ends the run with exit 3, SIGTERM leaves a
checkpoint that `--restart` continues to the uninterrupted run's results, many runs in
one process leak nothing, a failing sweep member does not stop the series."""
from __future__ import annotations

import json

import pytest

from conftest import CASES, run_lrmo

RADIAL = str(CASES / "verify_galvanostatic_radial.yaml")


def _summary(folder) -> dict:
    return json.loads((folder / "summary.json").read_text())


# -- divergence is a failure -------------------------------------------------------------
def test_collapsed_step_ends_with_exit_3(tmp_path):
    """A step stuck at min_step that still changes theta by more than allowed."""
    out = tmp_path / "stall"
    r = run_lrmo(["run", RADIAL, "--out", str(out), "--quiet",
                  "--set", "time_stepping.max_change_per_step=1e-7",
                  "--set", "time_stepping.min_step=1 s", "--set", "time_stepping.initial_step=1 s"])
    assert r.returncode == 3, r.stderr
    s = _summary(out)
    assert s["status"] == "failed"
    assert "step size collapsed" in s["message"] and "min_step" in s["message"]
    assert "t = " in s["message"] and "likely cause" in s["message"]
    assert "step size collapsed" in r.stderr


def test_non_finite_site_fraction_ends_with_exit_3(tmp_path):
    """A diffusivity validation admits but the operator overflows: theta becomes NaN."""
    out = tmp_path / "nan"
    r = run_lrmo(["run", RADIAL, "--out", str(out), "--quiet",
                  "--set", "materials.core.lithium_diffusivity=1e300 m^2/s"])
    assert r.returncode == 3, r.stderr
    s = _summary(out)
    assert s["status"] == "failed" and "not finite" in s["message"]
    assert "step 1 " in s["message"]


def test_emptied_particle_leaves_the_physical_range_with_exit_3(tmp_path):
    """Extraction without the hold beyond the particle's capacity drives theta below 0."""
    out = tmp_path / "range"
    r = run_lrmo(["run", RADIAL, "--out", str(out), "--quiet", "--set", "protocol.hold_at_floor=false",
                  "--set", "protocol.end_time=90 min"])
    assert r.returncode == 3, r.stderr
    s = _summary(out)
    assert s["status"] == "failed" and "physical range [0, 1]" in s["message"]
    rows = (out / "timeseries.csv").read_text().splitlines()
    assert len(rows) == 1 + 3  # the last good outputs (60, 300, 600 s) are kept


# -- SIGTERM, checkpoint, restart ----------------------------------------------------------
# one-way coupling with the peak search (its stored snapshots are part of the state), many
# small steps so that the run lasts long enough to be interrupted late
SLOW = ["--set", "time_stepping.max_step=0.02 s", "--set", "time_stepping.initial_step=0.01 s",
        "--set", "output.checkpoint_every.simulated=1 min",
        "--set", "output.times.values=[60, 120, 180, 240, 300, 360, 420, 480, 540, 600]"]


def _interrupt_late(out, t_min_s: float):
    """Start `lrmo run`, send SIGTERM once a checkpoint at t >= t_min_s exists."""
    import signal
    import subprocess
    import sys
    import time

    from conftest import ROOT, mpi_env

    proc = subprocess.Popen([sys.executable, "-m", "solver", "run", RADIAL, "--out", str(out), *SLOW],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=mpi_env())
    state = out / "checkpoint" / "state.json"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if json.loads(state.read_text())["t_s"] >= t_min_s:
                break
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.05)
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=120)
    return proc.returncode, stderr, time.monotonic() - sent


def _numbers(d: dict, prefix=""):
    for k, v in d.items():
        if isinstance(v, dict):
            yield from _numbers(v, f"{prefix}{k}.")
        elif isinstance(v, (int, float)) and not isinstance(v, bool) and "wall" not in k and k not in ("pid", "n_ranks"):
            yield f"{prefix}{k}", v


def _assert_same_results(ref, other, rel: float = 1e-10):
    import numpy as np

    a, b = dict(_numbers(_summary(ref))), dict(_numbers(_summary(other)))
    for k, v in a.items():
        assert abs(b[k] - v) <= rel * abs(v), (k, v, b[k])
    for name in ("timeseries.csv", "profiles.csv"):
        A = np.loadtxt(ref / name, delimiter=",", skiprows=1)
        B = np.loadtxt(other / name, delimiter=",", skiprows=1)
        assert A.shape == B.shape, name
        scale = np.abs(A).max(axis=0)  # near-zero entries compared to their column's scale
        assert (np.abs(A - B) <= 1e-9 * scale + rel * np.abs(A)).all(), name


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory):
    """(uninterrupted run, a run interrupted by SIGTERM) of the same case."""
    base = tmp_path_factory.mktemp("restart")
    ref = base / "ref"
    r = run_lrmo(["run", RADIAL, "--out", str(ref), "--quiet", *SLOW])
    assert r.returncode == 0, r.stderr
    cut = base / "cut"
    code, stderr, seconds = _interrupt_late(cut, 300.0)
    return ref, cut, code, stderr, seconds


def test_sigterm_leaves_a_checkpoint_and_says_how_to_continue(interrupted):
    ref, cut, code, stderr, seconds = interrupted
    assert code == 5, stderr
    assert seconds < 20
    s = _summary(cut)
    assert s["status"] == "interrupted"
    assert 300.0 <= s["t_reached_s"] < 600.0
    assert s["restart_command"].endswith("--restart") and str(cut) in s["restart_command"]
    assert "--restart" in stderr and "interrupted by SIGTERM" in stderr
    assert (cut / "checkpoint" / "state.json").is_file() and not (cut / "fields").exists()
    assert isinstance(s["pid"], int) and s["host"]
    rows = (cut / "timeseries.csv").read_text().splitlines()
    assert 1 + 5 <= len(rows) < 1 + 10  # the outputs reached so far (t = 0 is not an output)


@pytest.mark.parametrize("ranks", [1, 2])
def test_restart_gives_the_uninterrupted_results(interrupted, tmp_path, ranks):
    import shutil

    ref, cut, code, _, _ = interrupted
    assert code == 5
    out = tmp_path / "restarted"
    shutil.copytree(cut, out)
    r = run_lrmo(["run", RADIAL, "--out", str(out), "--quiet", *SLOW, "--restart"], n_ranks=ranks)
    assert r.returncode == 0, r.stderr
    s = _summary(out)
    assert s["status"] == "completed" and s["restarts"][0]["n_ranks"] == ranks
    _assert_same_results(ref, out)


def test_restart_refused_without_checkpoint_or_for_another_case(interrupted, tmp_path):
    ref, cut, _, _, _ = interrupted
    r = run_lrmo(["run", RADIAL, "--out", str(tmp_path / "empty"), "--quiet", "--restart"])
    assert r.returncode == 2 and "no checkpoint" in r.stderr
    before = (cut / "summary.json").read_text()
    r = run_lrmo(["run", RADIAL, "--out", str(cut), "--quiet", *SLOW, "--set", "protocol.c_rate=2", "--restart"])
    assert r.returncode == 2 and "case differs" in r.stderr
    assert (cut / "summary.json").read_text() == before  # nothing touched

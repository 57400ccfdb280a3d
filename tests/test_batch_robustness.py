"""Batch-job robustness (issue 9): divergence ends the run with exit 3, SIGTERM leaves a
checkpoint that `--restart` continues to the uninterrupted run's results, many runs in
one process leak nothing, a failing sweep member does not stop the series."""
from __future__ import annotations

import json

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

"""Claim: an interrupted `lrmo sweep` exits 5 with a restart line, and
`lrmo sweep ... --restart` continues only the unfinished members, to the results of an
uninterrupted sweep: the completed member is kept as it was, the interrupted one
continues from its checkpoint, the one not started runs (docs/batch-jobs.md, "Sweeps").
Small 1D members; member b is the long one, interrupted after its first checkpoint."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
import yaml

from conftest import CASES, ROOT, mpi_env, run_lrmo
from test_batch_robustness import _assert_same_results

SHORT = ["protocol.end_time=2 min", "output.times.values=[60, 120]", "output.fields=false",
         "output.profile_points=5"]
MEMBERS = [
    {"name": "a", "set": SHORT},
    {"name": "b", "set": [*SHORT, "protocol.c_rate=2", "time_stepping.max_step=0.1 s",
                          "time_stepping.initial_step=0.1 s", "output.checkpoint_every.simulated=10 s"]},
    {"name": "c", "set": [*SHORT, "protocol.c_rate=0.5"]},
]


def _series(folder):
    path = folder / "series.yaml"
    path.write_text(yaml.safe_dump({"name": "restartable", "base": str(CASES / "verify_galvanostatic_radial.yaml"),
                                    "members": MEMBERS}))
    return path


def _summary(folder) -> dict:
    return json.loads((folder / "summary.json").read_text())


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory):
    """(series file, uninterrupted sweep, a sweep interrupted in member b: exit code, stderr)."""
    base = tmp_path_factory.mktemp("sweep-restart")
    series = _series(base)
    ref = base / "ref"
    r = run_lrmo(["sweep", str(series), "--out", str(ref)])
    assert r.returncode == 0, r.stderr
    cut = base / "cut"
    proc = subprocess.Popen([sys.executable, "-m", "lrmo", "sweep", str(series), "--out", str(cut)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=mpi_env())
    state = cut / "b" / "checkpoint" / "state.json"
    deadline = time.monotonic() + 300
    while not state.is_file() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    return series, ref, cut, proc.returncode, stderr


def test_an_interrupted_sweep_exits_5_and_says_how_to_continue(sweeps):
    series, _, cut, code, stderr = sweeps
    assert code == 5, stderr
    assert f"lrmo sweep {series} --out {cut} --restart" in stderr
    assert _summary(cut / "a")["status"] == "completed"
    b = _summary(cut / "b")
    assert b["status"] == "interrupted" and b["restart_command"].startswith("lrmo sweep ")
    assert not (cut / "c" / "summary.json").exists()
    members = {m["name"]: m["summary"]["status"] for m in json.loads((cut / "series.json").read_text())["members"]}
    assert members == {"a": "completed", "b": "interrupted", "c": "not run"}


def test_restart_continues_the_unfinished_members_to_the_uninterrupted_results(sweeps):
    series, ref, cut, code, _ = sweeps
    assert code == 5
    kept = (cut / "a" / "summary.json").read_text()
    r = run_lrmo(["sweep", str(series), "--out", str(cut), "--restart"])
    assert r.returncode == 0, r.stderr
    assert "a: completed before, kept" in r.stdout and "b: continuing from its checkpoint" in r.stdout
    assert "c: running from the start" in r.stdout
    assert (cut / "a" / "summary.json").read_text() == kept
    assert [x["n_ranks"] for x in _summary(cut / "b")["restarts"]] == [1]
    for name in ("a", "b", "c"):
        _assert_same_results(ref / name, cut / name)
    members = {m["name"]: m["summary"]["status"] for m in json.loads((cut / "series.json").read_text())["members"]}
    assert set(members.values()) == {"completed"}


def test_a_member_of_a_changed_case_runs_again(sweeps, tmp_path):
    """--restart keeps a completed member only if its case is the series' case now."""
    import shutil

    series, ref, _, _, _ = sweeps
    out = tmp_path / "out"
    shutil.copytree(ref, out)
    (out / "c" / "case.yaml").write_text((out / "c" / "case.yaml").read_text() + "# edited\n")
    r = run_lrmo(["sweep", str(series), "--out", str(out), "--restart"])
    assert r.returncode == 0, r.stderr
    assert "a: completed before, kept" in r.stdout and "b: completed before, kept" in r.stdout
    assert "c: running from the start" in r.stdout
    _assert_same_results(ref / "c", out / "c")

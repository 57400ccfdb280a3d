"""An error raised while a 2-rank run starts its submodels (solver/io/rank_errors.py):
raised on every rank it ends the command with one exit code and one message from rank 0;
raised on one rank only it aborts every rank instead of leaving the other one waiting in a
collective call (the hang this replaces: rank 1 returned exit 2 and rank 0 waited for
ever). Either way within the time limit, the folder's lock removed and the summary failed."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from conftest import CASES, ROOT, mpi_env

# lrmo with the O2 submodel's construction raising on the ranks FAIL_RANKS ("all" or one rank)
SCRIPT = '''
import os, sys
from mpi4py import MPI
import solver.simulation.run as run
kind, where = os.environ["FAIL_KIND"], os.environ["FAIL_RANKS"]
build = run.OxygenSubmodel
def broken(*args, **kwargs):
    if where == "all" or MPI.COMM_WORLD.rank == int(where):
        raise {"ValueError": ValueError, "RuntimeError": RuntimeError}[kind]("injected start-up failure")
    return build(*args, **kwargs)
run.OxygenSubmodel = broken
from lrmo.cli import main
sys.argv = ["lrmo", *sys.argv[1:]]
sys.exit(main())
'''


CASE = CASES / "verify_o2_escape_L5_radial.yaml"
SERIES = f"""name: one
description: one member on both ranks
base: {CASE}
variable: none
scaling: none
members:
  - {{name: a, label: a, variable: 0.0, set: []}}
"""


def _run_broken(tmp_path, kind: str, where: str, command: list[str]) -> subprocess.CompletedProcess:
    """`lrmo COMMAND` on 2 ranks with the O2 submodel raising `kind` on the ranks `where`."""
    if shutil.which("mpirun") is None:
        pytest.skip("mpirun not found")
    script = tmp_path / "broken_lrmo.py"
    script.write_text(SCRIPT)
    env = {**mpi_env(), "FAIL_KIND": kind, "FAIL_RANKS": where, "LRMO_RANK_ERROR_WAIT_S": "3",
           "PYTHONPATH": str(ROOT)}
    cmd = ["mpirun", "-n", "2", "--oversubscribe", "-x", "FAIL_KIND", "-x", "FAIL_RANKS", "-x",
           "LRMO_RANK_ERROR_WAIT_S", "-x", "PYTHONPATH", sys.executable, str(script), *command]
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)
    except subprocess.TimeoutExpired:
        pytest.fail("the 2-rank run hung after a start-up error")


@pytest.mark.parametrize("kind, where, code, message", [
    ("ValueError", "all", 2, "error: injected start-up failure"),
    ("RuntimeError", "all", 1, "lrmo: unexpected error on every rank: RuntimeError: injected start-up failure"),
    ("ValueError", "1", 2, "lrmo: ValueError on rank 1 of 2, not raised on every rank within 3 s"),
])
def test_a_start_up_error_on_the_ranks_ends_every_rank(tmp_path, kind, where, code, message):
    out = tmp_path / "out"
    proc = _run_broken(tmp_path, kind, where, ["run", str(CASE), "--out", str(out)])
    assert proc.returncode == code, proc.stderr[-3000:]
    assert proc.stderr.count(message) == 1, proc.stderr[-3000:]  # one rank says it
    assert not (out / ".lrmo-lock").exists()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "failed" and "injected start-up failure" in summary["message"]
    assert ("only" in summary["message"]) == (where != "all")


def test_a_sweep_member_failing_on_one_of_its_ranks_aborts_instead_of_hanging(tmp_path):
    """A member run on both ranks that fails on rank 1 only: recording it as failed there
    would send rank 1 on to the series' next collective while rank 0 waits in the
    member's: every rank is aborted instead (exit 1), the series' lock removed."""
    series, out = tmp_path / "one.yaml", tmp_path / "out"
    series.write_text(SERIES)
    proc = _run_broken(tmp_path, "ValueError", "1", ["sweep", str(series), "--out", str(out)])
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert proc.stderr.count("lrmo: ValueError on rank 1 of 2, not raised on every rank") == 1, proc.stderr[-3000:]
    assert not list(out.rglob(".lrmo-lock"))

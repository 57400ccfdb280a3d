"""Shared helpers: running lrmo in-process and under mpirun."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from solver.io.launch import mpirun_environment

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "cases"


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", help="also run the slow tests")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow (make test-all)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True, scope="session")
def _private_mesh_cache(tmp_path_factory):
    """Tests use a mesh cache of their own, never the user's (~/.cache/lrmo/meshes)."""
    os.environ["LRMO_MESH_CACHE"] = str(tmp_path_factory.mktemp("mesh-cache"))


def mpi_env() -> dict:
    """Environment for mpirun as root, with the shared-memory transport of this Open MPI."""
    return mpirun_environment()


def run_lrmo(args: list[str], n_ranks: int = 1, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run `python -m lrmo ARGS` (under `mpirun -n N` when N > 1)."""
    cmd = [sys.executable, "-m", "lrmo", *args]
    if n_ranks > 1:
        if shutil.which("mpirun") is None:
            pytest.skip("mpirun not found")
        cmd = ["mpirun", "-n", str(n_ranks), "--oversubscribe", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=mpi_env())


def run_on_one_and_two_ranks(tmp_path, case, sets=(), extra=()) -> list:
    """`lrmo run CASE --set S ... EXTRA` on 1 and on 2 ranks, each into tmp_path/n1, n2:
    the two output folders (a failed run fails the test with its stderr)."""
    outs = []
    for n in (1, 2):
        out = tmp_path / f"n{n}"
        args = ["run", str(case), "--out", str(out), *[a for s in sets for a in ("--set", s)], *extra]
        proc = run_lrmo(args, n_ranks=n)
        assert proc.returncode == 0, proc.stderr[-2000:]
        outs.append(out)
    return outs

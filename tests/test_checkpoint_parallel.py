"""Claim: a checkpoint is written by every rank (checkpoint/fields.h5, each rank its own
part; solver/simulation/checkpoint.py) and read back on any number of ranks, each node's
values where they were: written on 1 rank and read on 2, and the other way round, on a
3D mesh that the ranks share out differently. A checkpoint of the earlier format is
refused with a message. End to end, a run interrupted on one number of ranks and
restarted on the other gives the uninterrupted results: tests/test_batch_robustness.py
(1 -> 2: test_restart_gives_the_uninterrupted_results, 2 -> 1:
test_signal_to_rank_0_only_stops_every_rank_and_restarts_on_one) and, in 3D, the slow
test below."""
from __future__ import annotations

import json
import shutil
import sys

import pytest

from conftest import CASES, ROOT, run_lrmo

SCRIPT = r'''
import json, sys
from pathlib import Path

import dolfinx
import numpy as np
from mpi4py import MPI

from solver import compat
from solver.simulation import checkpoint

mode, folder = sys.argv[1], Path(sys.argv[2])
comm = MPI.COMM_WORLD
msh = dolfinx.mesh.create_box(comm, [np.zeros(3), np.ones(3)], [7, 6, 5])
spaces = {"P1": compat.functionspace(msh, "Lagrange", 1), "DG1": compat.functionspace(msh, "DG", 1)}


def expected(order):  # node values that say where the node is
    x = order.coordinates
    return {"f": 1 + x[0] + 10 * x[1] + 100 * x[2], "g": np.stack([x[0] * x[1], x[2] ** 2]),
            "empty": np.zeros((0, x.shape[1]))}


for name, V in spaces.items():
    order = checkpoint.NodeOrder(V)
    where = folder / name
    if mode == "write":
        arrays = {**expected(order), "local:rank": np.full(comm.rank + 1, float(comm.rank))}
        if comm.rank == 0:
            where.mkdir(parents=True, exist_ok=True)
        comm.barrier()
        checkpoint.write(where, order, {"case_hash": "h", "summary": {}}, arrays)
    else:
        state = json.loads((where / "checkpoint" / "state.json").read_text())
        state["location"] = str(where / "checkpoint")
        arrays = checkpoint.read_arrays(state, order, {})
        for key, values in expected(order).items():
            assert values.shape == arrays[key].shape, (key, values.shape, arrays[key].shape)
            # node coordinates are computed per rank, equal to round-off
            np.testing.assert_allclose(arrays[key], values, rtol=1e-12, atol=1e-12, err_msg=key)
        same = state["n_ranks"] == comm.size
        assert ("local:rank" in arrays) == same
        if same:
            assert np.array_equal(arrays["local:rank"], np.full(comm.rank + 1, float(comm.rank)))
        print(f"rank {comm.rank}: {name} read back, {order.owned.size} owned nodes", flush=True)
'''


@pytest.mark.parametrize("written, read", [(1, 2), (2, 1)])
def test_a_checkpoint_written_on_some_ranks_is_read_on_others(tmp_path, written, read):
    import os
    import subprocess

    from conftest import mpi_env

    script = tmp_path / "roundtrip.py"
    script.write_text(SCRIPT)
    env = dict(mpi_env(), PYTHONPATH=str(ROOT))
    for mode, ranks in (("write", written), ("read", read)):
        cmd = [sys.executable, str(script), mode, str(tmp_path)]
        if ranks > 1:
            cmd = ["mpirun", "-n", str(ranks), "--oversubscribe", *cmd]
        r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr
    assert os.path.isfile(tmp_path / "P1" / "checkpoint" / "fields.h5")
    assert r.stdout.count("read back") == 2 * read


def test_a_checkpoint_of_the_earlier_format_is_refused(tmp_path):
    """Format 2 (fields.npz, gathered on rank 0) is refused with exit 2 and a message."""
    case = str(CASES / "verify_galvanostatic_radial.yaml")
    old = tmp_path / "old"
    (old / "checkpoint").mkdir(parents=True)
    (old / "checkpoint" / "state.json").write_text(json.dumps({"format": 2, "t_s": 1.0}))
    (old / "checkpoint" / "fields.npz").write_bytes(b"")
    r = run_lrmo(["run", case, "--out", str(old), "--quiet", "--restart"])
    assert r.returncode == 2, r.stderr
    assert "format 2" in r.stderr and "earlier lrmo" in r.stderr


@pytest.mark.slow
def test_a_3d_run_interrupted_on_two_ranks_restarts_on_one_and_vice_versa(tmp_path):
    """The coarse verification octant: SIGTERM after a checkpoint, then --restart on the
    other number of ranks; the results equal the uninterrupted one-rank run's to the
    Krylov tolerance of the stress solves (1e-5 of a value or 1e-6 of its column's
    largest: other ranks solve in another order, and the warm-start basis is kept only
    on the same ranks)."""
    from test_batch_robustness import _assert_same_results, _interrupt_late

    case = str(CASES / "verify_galvanostatic_octant.yaml")
    args = ["--set", "mesh.surface=25 nm", "--set", "mesh.bulk=40 nm", "--set", "protocol.end_time=2 min",
            "--set", "time_stepping.max_step=0.2 s", "--set", "output.checkpoint_every.simulated=20 s",
            "--set", "output.times.values=[30, 60, 90, 120]"]
    ref = tmp_path / "ref"
    assert run_lrmo(["run", case, "--out", str(ref), "--quiet", *args]).returncode == 0
    for cut_ranks, restart_ranks in ((2, 1), (1, 2)):
        cut = tmp_path / f"cut{cut_ranks}"
        code, stderr, _ = _interrupt_late(cut, 20.0, case, ["--out", str(cut), *args], n_ranks=cut_ranks)
        assert code == 5, stderr
        r = run_lrmo(["run", case, "--out", str(cut), "--quiet", *args, "--restart"], n_ranks=restart_ranks)
        assert r.returncode == 0, r.stderr
        # the solver counts differ with the number of ranks (the AMG hierarchy does)
        _assert_same_results(ref, cut, rel=1e-5, ignore=("iterations",), column_rel=1e-6)
    shutil.rmtree(tmp_path / "cut1", ignore_errors=True)

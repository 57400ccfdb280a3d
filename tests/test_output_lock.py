"""One writer per output folder (issue "Runs that survive real clusters", item 2): a
command locks its folder (`.lrmo-lock`) while it runs; a second writer exits 4 naming
the holder; the lock goes when the command ends (completed, failed, interrupted); a
stale lock (its process killed) is replaced with a note; srun's one-rank copies of a run
(srun without the MPI library's PMI plugin) are refused with exit 2."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import CASES, ROOT, mpi_env
from lrmo.cli import main
from solver.io import folder_lock
from solver.io.launch import single_rank_copy
from solver.io.output import OutputError, claim_folder

RADIAL = str(CASES / "verify_galvanostatic_radial.yaml")
QUICK = ["--quiet", "--set", "output.fields=false", "--set", "output.times.values=[600]"]
# many small steps (a few seconds) and a checkpoint each simulated minute: long enough to
# be contended and interrupted, and interruptible once the first checkpoint is written
SLOW = ["--set", "output.fields=false", "--set", "time_stepping.max_step=0.02 s",
        "--set", "time_stepping.initial_step=0.01 s", "--set", "output.checkpoint_every.simulated=1 min"]


def _lrmo(args: list[str], env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "lrmo", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env or mpi_env())


def _wait_for(path, procs, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        assert all(p.poll() is None for p in procs), "a run ended before " + str(path)
        time.sleep(0.05)


def _lock(folder) -> dict | None:
    try:
        return json.loads((folder / folder_lock.LOCK_NAME).read_text())
    except FileNotFoundError:
        return None


def _live_holder(command: str = "run") -> dict:
    """A lock naming a live process on this host that is not this one (pytest's parent)."""
    holder = folder_lock._holder(command, "theirs")
    ppid = os.getppid()
    holder.update(pid=ppid, process_start_ticks=folder_lock._process_start(ppid)[1],
                  command_line="lrmo run cases/demo.yaml --out elsewhere")
    return holder


# -- two real processes into one folder ------------------------------------------------------
@pytest.fixture(scope="module")
def contended(tmp_path_factory):
    """Two copies of one run started together into one folder (what srun's one-rank
    copies do); the one that got the lock is then stopped with SIGTERM."""
    out = tmp_path_factory.mktemp("contended") / "run"
    a, b = (_lrmo(["run", RADIAL, "--out", str(out), *SLOW]) for _ in range(2))
    deadline = time.monotonic() + 120
    while a.poll() is None and b.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    second, first = (a, b) if a.poll() is not None else (b, a)
    _, second_err = second.communicate()
    lock_while_running = _lock(out)
    _wait_for(out / "checkpoint" / "state.json", [first])
    first.send_signal(signal.SIGTERM)
    _, first_err = first.communicate(timeout=120)
    return {"out": out, "first": first, "second": second, "second_err": second_err,
            "first_err": first_err, "lock_while_running": lock_while_running}


def test_a_second_writer_exits_4_with_one_line_naming_the_holder(contended):
    second, first, out = contended["second"], contended["first"], contended["out"]
    assert second.returncode == 4, contended["second_err"]
    line = contended["second_err"].strip()
    assert "\n" not in line
    assert line.startswith(f"lrmo: {out} is being written by another lrmo process: `lrmo run ")
    assert f"pid {first.pid} on host {socket.gethostname()}, started 20" in line
    assert "wait for it to end or choose another --out" in line
    assert contended["lock_while_running"]["pid"] == first.pid


def test_the_lock_is_released_when_the_run_is_interrupted(contended):
    assert contended["first"].returncode == 5, contended["first_err"]
    summary = json.loads((contended["out"] / "summary.json").read_text())
    assert summary["status"] == "interrupted"
    assert _lock(contended["out"]) is None


def test_a_sigkilled_run_leaves_a_stale_lock_that_the_next_run_replaces(tmp_path, capsys):
    out = tmp_path / "killed"
    proc = _lrmo(["run", RADIAL, "--out", str(out), *SLOW])
    _wait_for(out / folder_lock.LOCK_NAME, [proc])
    proc.kill()
    proc.communicate()
    assert _lock(out)["pid"] == proc.pid  # left behind, detectably stale
    assert main(["run", RADIAL, "--out", str(out), *QUICK]) == 0
    err = capsys.readouterr().err
    assert f"lrmo: replaced a stale lock on {out}, of `lrmo run " in err
    assert f"pid {proc.pid} on host {socket.gethostname()}" in err and "that process no longer exists" in err
    assert _lock(out) is None


# -- released at the end, whatever the end ---------------------------------------------------
def test_the_lock_is_held_while_running_and_released_after_completion(tmp_path, monkeypatch):
    from solver.simulation import run as run_module

    out, seen = tmp_path / "done", []
    run_case = run_module.run_case

    def watched(case, folder, *args, **kwargs):
        seen.append(_lock(out))
        return run_case(case, folder, *args, **kwargs)

    monkeypatch.setattr(run_module, "run_case", watched)
    assert main(["run", RADIAL, "--out", str(out), *QUICK]) == 0
    assert seen[0]["pid"] == os.getpid() and seen[0]["command"] == "run"
    assert _lock(out) is None


def test_the_lock_is_released_after_a_solver_failure(tmp_path):
    out = tmp_path / "stall"
    code = main(["run", RADIAL, "--out", str(out), "--quiet", "--set", "output.fields=false",
                 "--set", "time_stepping.max_change_per_step=1e-7", "--set", "time_stepping.min_step=1 s",
                 "--set", "time_stepping.initial_step=1 s"])
    assert code == 3
    assert _lock(out) is None


# -- stale and live locks ------------------------------------------------------------------
def test_a_stale_lock_of_a_dead_pid_is_replaced_with_a_note(tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    holder = folder_lock._holder("run", "dead")
    holder["pid"] = dead.pid
    tmp_path.joinpath(folder_lock.LOCK_NAME).write_text(json.dumps(holder))
    with claim_folder(tmp_path, "run") as claim:
        assert f"pid {dead.pid}" in claim.note and "that process no longer exists" in claim.note
        assert _lock(tmp_path)["pid"] == os.getpid()
    assert _lock(tmp_path) is None


@pytest.mark.parametrize("argv", [["mesh", RADIAL], ["sweep", str(CASES / "series" / "ru_series.yaml")],
                                  ["verify", "--only", "radial"], ["reproduce", "--no-3d"]],
                         ids=lambda a: a[0])
def test_every_writing_command_refuses_a_folder_a_live_process_holds(tmp_path, argv, capsys):
    holder = _live_holder()
    lock = tmp_path / folder_lock.LOCK_NAME
    lock.write_text(json.dumps(holder))
    assert main([*argv, "--out", str(tmp_path), "--overwrite"]) == 4  # --overwrite: not a live one on this host
    err = capsys.readouterr().err
    assert f"pid {holder['pid']} on host {holder['host']}" in err and "`lrmo run cases/demo.yaml" in err
    assert json.loads(lock.read_text()) == holder  # not touched


def test_a_holder_on_another_host_is_refused_unless_overwrite(tmp_path):
    holder = dict(_live_holder(), host="node-elsewhere")
    tmp_path.joinpath(folder_lock.LOCK_NAME).write_text(json.dumps(holder))
    with pytest.raises(OutputError, match="node-elsewhere.*another host.*add --overwrite"):
        claim_folder(tmp_path, "run")
    with claim_folder(tmp_path, "run", overwrite=True) as claim:
        assert "held on another host" in claim.note


def test_a_requeued_slurm_job_replaces_the_lock_of_its_earlier_run(tmp_path, monkeypatch):
    holder = dict(_live_holder(), host="node-elsewhere", slurm_job_id="4242", slurm_restart_count=0)
    tmp_path.joinpath(folder_lock.LOCK_NAME).write_text(json.dumps(holder))
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    monkeypatch.setenv("SLURM_RESTART_COUNT", "1")
    with claim_folder(tmp_path, "run") as claim:
        assert "an earlier run of Slurm job 4242 (requeued)" in claim.note


# -- srun's one-rank copies ----------------------------------------------------------------
@pytest.mark.parametrize("env, world, refused", [
    ({"SLURM_STEP_NUM_TASKS": "4", "SLURM_PROCID": "0", "SLURM_NTASKS": "4"}, 1, True),
    ({"SLURM_PROCID": "3"}, 1, True),
    ({"SLURM_STEP_NUM_TASKS": "4", "SLURM_PROCID": "0"}, 4, False),  # srun --mpi=pmix: one world
    ({"SLURM_NTASKS": "8", "SLURM_PROCID": "0"}, 1, False),  # the batch script itself
    ({"SLURM_STEP_NUM_TASKS": "1", "SLURM_PROCID": "0"}, 1, False),  # srun -n 1
    ({"SLURM_STEP_NUM_TASKS": "4", "OMPI_COMM_WORLD_SIZE": "1"}, 1, False),  # mpirun -n 1
    ({"SLURM_STEP_NUM_TASKS": "4", "LRMO_ALLOW_SINGLE_RANK_TASKS": "1"}, 1, False),
    ({}, 1, False),
])
def test_one_rank_copies_are_told_from_the_environment(env, world, refused):
    assert (single_rank_copy(env, world) is not None) == refused


def test_srun_without_pmix_is_refused_in_every_copy_before_writing(tmp_path):
    out = tmp_path / "copies"
    copies = []
    for rank in range(2):
        env = dict(mpi_env(), SLURM_JOB_ID="4242", SLURM_NTASKS="2", SLURM_STEP_NUM_TASKS="2",
                   SLURM_PROCID=str(rank))
        copies.append(_lrmo(["run", RADIAL, "--out", str(out), *QUICK], env))
    for proc in copies:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 2, err
        assert err.startswith("lrmo: srun started 2 tasks (SLURM_STEP_NUM_TASKS=2") and "\n" not in err.strip()
        assert "`srun --mpi=pmix`" in err and "`mpirun -n N`" in err
    assert not out.exists()

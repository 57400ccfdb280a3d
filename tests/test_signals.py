"""Claim: SIGINT or SIGTERM at any moment of `lrmo run` (meshing, JIT compilation, set-up,
stepping, writing) ends it with exit 5 and summary status `interrupted`, saying how to go
on (run again when there is no checkpoint yet, --restart when there is), and never leaves
the JIT cache in a state that makes the next run wait for a dead compile
(docs/batch-jobs.md, "Signals").

Each run is its own process. The moment is found from outside, without hooks in the
code: a line the run prints, a compile in progress in the (private, XDG_CACHE_HOME) JIT
cache (`<module>.c` without `<module>.c.cached`), or a field file appearing."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import CASES, ROOT, mpi_env

OCTANT = str(CASES / "verify_galvanostatic_octant.yaml")
COARSE = ["--set", "mesh.surface=25 nm", "--set", "mesh.bulk=40 nm",
          "--set", "protocol.end_time=2 min", "--set", "output.times.values=[60, 120]"]
SLOW_STEPS = ["--set", "time_stepping.max_step=0.05 s", "--set", "time_stepping.initial_step=0.05 s",
              "--set", "output.times.values=[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 120]", "--set", "output.fields=true"]


class Run:
    """`lrmo run ARGS` in a subprocess, its stdout read line by line as it comes."""

    def __init__(self, args: list[str], env: dict):
        self.proc = subprocess.Popen([sys.executable, "-m", "lrmo", "run", *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env, start_new_session=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=lambda: self.lines.extend(self.proc.stdout), daemon=True)
        self._reader.start()

    def signal_when(self, ready, *signals: int, timeout: float = 120.0, gap_s: float = 0.3,
                    group: bool = False) -> None:
        """Send `signals` (`gap_s` apart) once `ready()` holds, to the process or with
        `group` to its process group (as Ctrl-C and Slurm do: the C compiler too); fail if
        the run ends first."""
        deadline = time.monotonic() + timeout
        while not ready():
            assert self.proc.poll() is None, f"the run ended before the moment: {''.join(self.lines)}"
            assert time.monotonic() < deadline, "the moment never came"
            time.sleep(0.005)
        for i, s in enumerate(signals):
            if i:
                time.sleep(gap_s)
            if group:
                os.killpg(self.proc.pid, s)
            else:
                self.proc.send_signal(s)

    def finish(self, timeout: float = 180.0) -> tuple[int, str]:
        stderr = self.proc.communicate(timeout=timeout)[1]
        self._reader.join(timeout=5)
        return self.proc.returncode, stderr


def _env(cache: Path | None = None, mesh_cache: str | None = None, **extra) -> dict:
    env = mpi_env()
    if cache is not None:
        env["XDG_CACHE_HOME"] = str(cache)
    if mesh_cache is not None:
        env["LRMO_MESH_CACHE"] = mesh_cache
    env.update(extra)
    return env


def _summary(out: Path) -> dict:
    return json.loads((out / "summary.json").read_text())


def _compiling(cache: Path):
    """True while a JIT compile is under way in `cache` (a lock without its done mark)."""
    fenics = cache / "fenics"

    def ready() -> bool:
        return any(not c.with_suffix(".c.cached").exists() for c in fenics.glob("libffcx_*.c"))

    return ready


def _stale_locks(cache: Path) -> list[str]:
    return [c.name for c in (cache / "fenics").glob("libffcx_*.c") if not c.with_suffix(".c.cached").exists()]


def _assert_run_again(code: int, stderr: str, out: Path, stage: str | tuple[str, ...]) -> None:
    summary = _summary(out)
    assert code == 5, stderr[-3000:]
    assert summary["status"] == "interrupted", summary
    assert summary["interrupted_during"] in ((stage,) if isinstance(stage, str) else stage), summary
    assert "there is no checkpoint to continue from: run it again with: lrmo run" in summary["message"]
    assert "--restart" not in summary["message"] and "restart_command" not in summary
    assert summary["message"] in stderr and "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    assert not (out / "checkpoint").exists()
    assert not (out / ".lrmo-lock").exists()  # the command ended: the folder is free


def _assert_next_run_completes(out: Path, env: dict) -> None:
    done = subprocess.run([sys.executable, "-m", "lrmo", "run", OCTANT, "--out", str(out), *COARSE],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert _summary(out)["status"] == "completed"


@pytest.fixture(scope="module")
def jit_cache(tmp_path_factory) -> Path:
    """A private JIT cache, fresh for the first test that uses it."""
    return tmp_path_factory.mktemp("jit-cache")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_while_meshing_ends_with_exit_5_and_says_run_again(tmp_path, signum):
    """The case's own 39k-cell mesh (~1.5 s in Gmsh), signalled 0.4 s into it: inside
    Gmsh's meshing, past its `initialize` (see docs/batch-jobs.md for that window)."""
    out = tmp_path / "run"
    run = Run([OCTANT, "--out", str(out)], _env(mesh_cache="off"))
    meshing = []

    def inside_gmsh() -> bool:
        if not meshing and any("meshing (octant)" in line for line in run.lines):
            meshing.append(time.monotonic())
        return bool(meshing) and time.monotonic() > meshing[0] + 0.4

    run.signal_when(inside_gmsh, signum)
    code, stderr = run.finish()
    _assert_run_again(code, stderr, out, "meshing")
    assert signal.Signals(signum).name in _summary(out)["message"]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_while_the_libraries_load_ends_with_exit_5_and_says_run_again(tmp_path, signum):
    """Held back by the CLI until the run's handlers are in place, then handled there."""
    out = tmp_path / "run"
    run = Run([OCTANT, "--out", str(out), *COARSE], _env())
    run.signal_when(lambda: any("pre-flight" in line for line in run.lines), signum)
    code, stderr = run.finish()
    _assert_run_again(code, stderr, out, "set-up")


def test_sigint_during_jit_compilation_ends_with_exit_5_and_the_next_run_works(tmp_path, jit_cache):
    """Sent to the process group, as Ctrl-C does: the compile under way (and its C
    compiler) finishes, the signal is handled after it, so nothing is left half-written
    in the cache; the run stops after meshing or after the set-up."""
    out = tmp_path / "run"
    env = _env(jit_cache)
    run = Run([OCTANT, "--out", str(out), *COARSE], env)
    run.signal_when(_compiling(jit_cache), signal.SIGINT, group=True)
    code, stderr = run.finish()
    _assert_run_again(code, stderr, out, ("meshing", "set-up"))
    assert _stale_locks(jit_cache) == []
    _assert_next_run_completes(out, env)


@pytest.mark.slow
def test_sigterm_during_jit_compilation_ends_with_exit_5_and_the_next_run_works(tmp_path):
    cache = tmp_path / "cache"
    out = tmp_path / "run"
    run = Run([OCTANT, "--out", str(out), *COARSE], _env(cache))
    run.signal_when(_compiling(cache), signal.SIGTERM, group=True)
    code, stderr = run.finish()
    _assert_run_again(code, stderr, out, ("meshing", "set-up"))
    assert _stale_locks(cache) == []
    _assert_next_run_completes(out, _env(cache))


@pytest.mark.slow
def test_a_second_sigint_inside_a_compile_stops_once_the_module_is_built(tmp_path):
    """Ctrl-C twice inside a compile stops as soon as the module is built: exit 5, no
    checkpoint, no lock left behind (and were one left, by SIGKILL, the next test)."""
    cache = tmp_path / "cache"
    out = tmp_path / "run"
    run = Run([OCTANT, "--out", str(out), *COARSE], _env(cache))
    run.signal_when(_compiling(cache), signal.SIGINT, signal.SIGINT, gap_s=0.05, group=True)
    code, stderr = run.finish()
    summary = _summary(out)
    assert code == 5, stderr[-3000:]
    assert summary["status"] == "interrupted" and "run it again" in summary["message"], summary
    _assert_next_run_completes(out, _env(cache))
    assert _stale_locks(cache) == []


def test_a_lock_left_by_a_dead_compile_is_taken_over_by_the_next_run(tmp_path, jit_cache):
    """What SIGKILL (or a cut compile) leaves: `<module>.c` without its done mark, and the
    owner record of a process that no longer exists. FFCx alone would wait for it and
    fail with "JIT compilation timed out"; the next run removes it and compiles."""
    env = _env(jit_cache)
    _assert_next_run_completes(tmp_path / "warm", env)  # every module of the case compiled
    dead = subprocess.Popen(["true"])
    dead.wait()
    fenics = jit_cache / "fenics"
    forms = sorted(fenics.glob("libffcx_forms_*.c"))
    assert forms
    for c in forms:  # every form module looks like a compile killed half-way
        c.with_suffix(".c.cached").unlink()
        c.write_text("/* half written */")
        c.with_suffix(".c.owner").write_text(f"{socket.gethostname()} {dead.pid}\n")
    _assert_next_run_completes(tmp_path / "run", env)
    assert _stale_locks(jit_cache) == []


def test_a_lock_of_a_live_or_unknown_compile_is_left_alone(tmp_path):
    from solver import compat

    c = tmp_path / "libffcx_forms_x.c"
    c.write_text("")
    assert not compat.remove_stale_jit_lock(tmp_path, "libffcx_forms_x")  # no owner record
    owner = tmp_path / "libffcx_forms_x.c.owner"
    owner.write_text(f"{socket.gethostname()} {os.getppid()}\n")  # alive
    assert not compat.remove_stale_jit_lock(tmp_path, "libffcx_forms_x")
    owner.write_text("another-node.cluster 1\n")  # not this host's to judge
    assert not compat.remove_stale_jit_lock(tmp_path, "libffcx_forms_x")
    assert c.exists()
    owner.write_text(f"{socket.gethostname()} {os.getpid()}\n")  # this process, not compiling it
    assert compat.remove_stale_jit_lock(tmp_path, "libffcx_forms_x")
    assert not c.exists() and not owner.exists()


def test_sigint_while_stepping_writes_a_checkpoint_and_says_restart(tmp_path):
    out = tmp_path / "run"
    run = Run([OCTANT, "--out", str(out), *COARSE, *SLOW_STEPS], _env(LRMO_PROGRESS_SECONDS="0"))
    run.signal_when(lambda: any(line.startswith("[progress]") for line in run.lines), signal.SIGINT)
    code, stderr = run.finish()
    summary = _summary(out)
    assert code == 5, stderr[-3000:]
    assert summary["status"] == "interrupted" and summary["interrupted_during"] == "stepping"
    assert summary["restart_command"].endswith("--restart") and "continue with:" in summary["message"]
    assert (out / "checkpoint" / "state.json").is_file()


def test_sigterm_while_writing_fields_writes_a_checkpoint_and_says_restart(tmp_path):
    out = tmp_path / "run"
    run = Run([OCTANT, "--out", str(out), *COARSE, *SLOW_STEPS], _env())
    run.signal_when(lambda: any((out / "fields.partial").glob("*.h5")), signal.SIGTERM)
    code, stderr = run.finish()
    summary = _summary(out)
    assert code == 5, stderr[-3000:]
    assert summary["status"] == "interrupted" and summary["interrupted_during"] == "stepping"
    assert "SIGTERM" in summary["message"] and summary["restart_command"].endswith("--restart")
    assert (out / "checkpoint" / "state.json").is_file()


def test_a_nested_stop_request_starts_with_the_outer_one_and_hands_its_own_back():
    from solver.simulation.checkpoint import StopRequests

    with StopRequests() as outer:
        outer.received = "SIGTERM"
        with StopRequests() as inner:
            assert inner.received == "SIGTERM"
        outer.received = None
        with StopRequests() as inner:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
            assert inner.received == "SIGINT"
        assert outer.received == "SIGINT"
        assert signal.getsignal(signal.SIGINT) == outer._handle

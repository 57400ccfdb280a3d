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
# small steps (6000) so that the run lasts long enough to be interrupted late; not smaller:
# two ranks on a loaded 2-core machine take ~50 ms a step (0.02 s steps took 8-15 min)
SLOW = ["--set", "time_stepping.max_step=0.1 s", "--set", "time_stepping.initial_step=0.01 s",
        "--set", "output.checkpoint_every.simulated=1 min",
        "--set", "output.times.values=[60, 120, 180, 240, 300, 360, 420, 480, 540, 600]"]


def _interrupt_late(out, t_min_s: float, case: str = RADIAL, args: list[str] = SLOW, n_ranks: int = 1):
    """Start `lrmo run` (under `mpirun -n n_ranks` if more than 1), send SIGTERM once a
    checkpoint at t >= t_min_s exists in `out` (`--out out` unless `args` give it)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from conftest import ROOT, mpi_env

    where = [] if "--out" in args else ["--out", str(out)]
    mpirun = ["mpirun", "-n", str(n_ranks), "--oversubscribe"] if n_ranks > 1 else []
    proc = subprocess.Popen([*mpirun, sys.executable, "-m", "lrmo", "run", case, *where, *args],
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
    if n_ranks > 1:  # to rank 0 (Open MPI's mpirun ends a job it passes SIGTERM to with 1)
        os.kill(json.loads((out / "summary.json").read_text())["pid"], signal.SIGTERM)
    else:
        proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=120)
    return proc.returncode, stderr, time.monotonic() - sent


# not results: where and how the job ran, and the closure error of the O2 ledger (round-off,
# ~1e-13 of the amounts, which depends on the summation order of the ranks)
IGNORED = ("pid", "n_ranks", "ledger_closure_error_mol", "ledger_closure_error_relative",
           "ledger_error_mol")


def _numbers(d: dict, prefix=""):
    for k, v in d.items():
        if isinstance(v, dict):
            yield from _numbers(v, f"{prefix}{k}.")
        elif isinstance(v, (int, float)) and not isinstance(v, bool) and k not in IGNORED and "wall" not in k:
            yield f"{prefix}{k}", v


def _assert_same_results(ref, other, rel: float = 1e-10, ignore: tuple[str, ...] = (),
                         column_rel: float = 1e-9):
    """Equal summaries (but for the keys containing a word of `ignore`) and tables (each
    entry to `rel` of itself or `column_rel` of its column's largest)."""
    import numpy as np

    a, b = dict(_numbers(_summary(ref))), dict(_numbers(_summary(other)))
    for k, v in a.items():
        if any(word in k for word in ignore):
            continue
        assert abs(b[k] - v) <= rel * abs(v), (k, v, b[k])
    for name in ("timeseries.csv", "profiles.csv"):
        A = np.loadtxt(ref / name, delimiter=",", skiprows=1, ndmin=2)
        B = np.loadtxt(other / name, delimiter=",", skiprows=1, ndmin=2)
        assert A.shape == B.shape, name
        keep = [i for i, c in enumerate((ref / name).read_text().split("\n", 1)[0].split(","))
                if c not in IGNORED]
        A, B = A[:, keep], B[:, keep]
        scale = np.abs(A).max(axis=0)  # near-zero entries compared to their column's scale
        assert (np.abs(A - B) <= column_rel * scale + rel * np.abs(A)).all(), name


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


# -- many runs in one process, failing members ---------------------------------------------
CHEAP = ["protocol.end_time=1 min", "output.times.values=[30, 60]", "output.fields=false",
         "output.profile_points=5"]


def _series(folder, members: list[dict]):
    import yaml

    path = folder / "series.yaml"
    path.write_text(yaml.safe_dump({"name": "many", "base": RADIAL, "members": members}))
    return path


def test_200_member_sweep_in_one_process(tmp_path):
    """Every member completes and PETSc's options table does not grow (it holds 512
    entries per process: each run used to leave 10)."""
    from mpi4py import MPI
    from petsc4py import PETSc

    from solver.studies.sweep import run_series

    members = [{"name": f"m{i:03d}", "variable": 0.5 + i / 200,
                "set": [*CHEAP, f"protocol.c_rate={0.5 + i / 200}"]} for i in range(200)]
    before = len(PETSc.Options().getAll())
    results = run_series(_series(tmp_path, members), tmp_path / "out", MPI.COMM_SELF)
    assert [r["summary"]["status"] for r in results] == ["completed"] * 200
    assert len(PETSc.Options().getAll()) <= before
    series = json.loads((tmp_path / "out" / "series.json").read_text())
    assert len(series["members"]) == 200
    # a faster charge extracts more Li in the same time: the mean site fraction falls
    means = [float((tmp_path / "out" / m["name"] / "timeseries.csv").read_text().splitlines()[-1]
                   .split(",")[3]) for m in members[::50]]
    assert means == sorted(means, reverse=True)


def test_a_failing_member_does_not_stop_the_series(tmp_path, monkeypatch):
    """An unexpected error in one member (here a mesh error) is recorded as a failed
    member in series.json; the members after it still run."""
    from mpi4py import MPI

    import solver.simulation.lifecycle
    from solver.studies.sweep import run_series

    real = solver.simulation.lifecycle.build_domain  # every run meshes there

    def broken_for_b(case, comm, mesh_dir=None):
        if case.name == "b":
            raise RuntimeError("mesh generation failed (injected)")
        return real(case, comm, mesh_dir)

    monkeypatch.setattr(solver.simulation.lifecycle, "build_domain", broken_for_b)
    members = [{"name": n, "set": list(CHEAP)} for n in ("a", "b", "c")]
    results = run_series(_series(tmp_path, members), tmp_path / "out", MPI.COMM_SELF)
    assert [r["summary"]["status"] for r in results] == ["completed", "failed", "completed"]
    assert "injected" in results[1]["summary"]["message"]
    series = json.loads((tmp_path / "out" / "series.json").read_text())
    assert series["members"][1]["summary"]["status"] == "failed"
    assert _summary(tmp_path / "out" / "b")["status"] == "failed"


def test_a_diverging_member_under_mpirun(tmp_path):
    """Two ranks, one member each group: the diverging member fails, its sibling completes,
    and `lrmo sweep` exits with 3."""
    stall = ["time_stepping.max_change_per_step=1e-7", "time_stepping.min_step=1 s",
             "time_stepping.initial_step=1 s"]
    members = [{"name": "bad", "set": [*CHEAP, *stall]}, {"name": "good", "set": list(CHEAP)}]
    r = run_lrmo(["sweep", str(_series(tmp_path, members)), "--out", str(tmp_path / "out")], n_ranks=2)
    assert r.returncode == 3, r.stderr
    series = json.loads((tmp_path / "out" / "series.json").read_text())
    assert [m["summary"]["status"] for m in series["members"]] == ["failed", "completed"]
    assert (tmp_path / "out" / "good" / "timeseries.csv").is_file()


@pytest.mark.slow
def test_memory_after_five_3d_runs_within_10_percent_of_the_first(tmp_path):
    """Five small octant runs in one process (a child, so that this process's own
    allocations do not count): the resident memory after the fifth is within 10 % of
    that after the first (it grew by a third per run before PETSc objects were freed)."""
    import subprocess
    import sys

    from conftest import ROOT, mpi_env

    script = f"""
import json, sys
from mpi4py import MPI
from solver.case.schema import load_case
from solver.io.log import Log
from solver.simulation.run import run_case
case = load_case({str(CASES / 'ru1_stress_octant.yaml')!r}, ["mesh.surface=6 nm", "mesh.interface=4 nm",
                 "mesh.radial_layers=null", "mesh.bulk=20 nm", "geometry.layer_thickness=20 nm", "protocol.end_time=10 min", "output.times.values=[300, 600]"])
rss = []
for i in range(5):
    assert run_case(case, {str(tmp_path)!r} + f"/run{{i}}", MPI.COMM_SELF, Log(quiet=True))["status"] == "completed"
    rss.append(int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0]))
print(json.dumps(rss))
"""
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT,
                       env=mpi_env(), timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    rss = json.loads(r.stdout.strip().splitlines()[-1])
    assert rss[-1] <= 1.10 * rss[0], rss


def test_oxygen_run_restarts_to_the_same_ledger(tmp_path):
    """O2 transport: SIGTERM, then --restart on two ranks; the ledger and every row equal
    the uninterrupted run's."""
    case = str(CASES / "verify_o2_escape_L5_radial.yaml")
    args = ["--set", "oxygen.time_step=0.1 s", "--set", "output.checkpoint_every.simulated=5 min"]
    ref = tmp_path / "ref"
    assert run_lrmo(["run", case, "--out", str(ref), "--quiet", *args]).returncode == 0
    cut = tmp_path / "cut"
    code, stderr, _ = _interrupt_late(cut, 600.0, case, args)
    assert code == 5, stderr
    assert _summary(cut)["status"] == "interrupted"
    r = run_lrmo(["run", case, "--out", str(cut), "--quiet", *args, "--restart"], n_ranks=2)
    assert r.returncode == 0, r.stderr
    _assert_same_results(ref, cut)


def test_signal_to_rank_0_only_stops_every_rank_and_restarts_on_one(tmp_path):
    """SIGTERM to rank 0's process only (its pid is in summary.json): the ranks agree to
    stop at the same step; the checkpoint of two ranks continues on one."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from conftest import ROOT, mpi_env

    args = ["--set", "time_stepping.max_step=0.1 s", "--set", "output.checkpoint_every.simulated=1 min",
            "--set", "output.times.values=[60, 180, 300, 420, 600]"]
    ref = tmp_path / "ref"
    assert run_lrmo(["run", RADIAL, "--out", str(ref), "--quiet", *args]).returncode == 0
    cut = tmp_path / "cut"
    proc = subprocess.Popen(["mpirun", "-n", "2", "--oversubscribe", sys.executable, "-m", "lrmo", "run",
                             RADIAL, "--out", str(cut), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT, env=mpi_env())
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if json.loads((cut / "checkpoint" / "state.json").read_text())["t_s"] >= 120:
                break
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.05)
    os.kill(_summary(cut)["pid"], signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 5, stderr
    s = _summary(cut)
    assert s["status"] == "interrupted" and s["n_ranks"] == 2
    r = run_lrmo(["run", RADIAL, "--out", str(cut), "--quiet", *args, "--restart"])
    assert r.returncode == 0, r.stderr
    _assert_same_results(ref, cut)


def test_progress_lines_without_a_terminal(tmp_path):
    """Output to a pipe: progress lines (every LRMO_PROGRESS_SECONDS) with t, dt, the
    largest change, Krylov iterations and the remaining time."""
    import subprocess
    import sys

    from conftest import ROOT, mpi_env

    env = {**mpi_env(), "LRMO_PROGRESS_SECONDS": "0"}
    r = subprocess.run([sys.executable, "-m", "lrmo", "run", RADIAL, "--out", str(tmp_path / "p")],
                       capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    lines = [line for line in r.stdout.splitlines() if line.startswith("[progress]")]
    assert len(lines) > 10
    assert all(k in lines[-1] for k in ("t = ", "dt ", "max d(theta)", "Krylov/step", "remaining ~"))


@pytest.mark.slow
def test_octant_restart_gives_the_uninterrupted_results(tmp_path):
    """3D: the Li transport, the stress (its solver's warm-start basis is checkpointed)
    and every row of a restart on the same rank equal the uninterrupted run's."""
    case = str(CASES / "ru1_stress_octant.yaml")
    args = ["--set", "mesh.surface=6 nm", "--set", "mesh.interface=4 nm", "--set", "mesh.bulk=20 nm",
            "--set", "mesh.radial_layers=null",  # isotropic tets, as before the layered shell
            "--set", "geometry.layer_thickness=20 nm",  # the coarse mesh resolves a 20 nm layer
            "--set", "protocol.end_time=20 min", "--set", "output.times.values=[300, 600, 900, 1200]",
            "--set", "output.checkpoint_every.simulated=2 min"]
    ref = tmp_path / "ref"
    assert run_lrmo(["run", case, "--out", str(ref), "--quiet", *args]).returncode == 0
    cut = tmp_path / "cut"
    code, stderr, _ = _interrupt_late(cut, 500.0, case, args)
    assert code == 5, stderr
    r = run_lrmo(["run", case, "--out", str(cut), "--quiet", *args, "--restart"])
    assert r.returncode == 0, r.stderr
    _assert_same_results(ref, cut)
    assert (cut / "fields" / "fields.xdmf").is_file() and (cut / "fields" / "fields_restart1.xdmf").is_file()


def test_restart_of_a_li_and_o2_run_equals_the_uninterrupted_run(tmp_path):
    """Both physics in the one loop: SIGTERM while Li and O2 step together (after the
    O2 source has switched on); the restart continues both from the one checkpoint
    (Li clock, O2 fields, ledger accounts and source start) to every result of the
    uninterrupted run."""
    import yaml

    data = yaml.safe_load((CASES / "verify_galvanostatic_radial.yaml").read_text())
    oxygen = yaml.safe_load((CASES / "pristine_o2.yaml").read_text())["oxygen"]
    oxygen.update(end_time="10 min", source={"rate": "1 mol/m^3/s", "start_at_mean_site_fraction": 0.95})
    data.update(physics=["lithium", "mechanics", "oxygen"], oxygen=oxygen)
    data["time_stepping"]["max_change_per_step"] = 0.0002  # more steps: time to interrupt
    data["output"]["checkpoint_every"] = {"simulated": "1 min"}
    case = tmp_path / "both.yaml"
    case.write_text(yaml.safe_dump(data))
    ref = tmp_path / "ref"
    assert run_lrmo(["run", str(case), "--out", str(ref), "--quiet"]).returncode == 0
    assert _summary(ref)["oxygen_source_start_s"] < 360.0
    cut = tmp_path / "cut"
    code, stderr, _ = _interrupt_late(cut, 360.0, str(case), ["--out", str(cut)])
    assert code == 5, stderr
    s = _summary(cut)
    assert s["status"] == "interrupted" and 360.0 <= s["t_reached_s"] < 600.0
    assert not (cut / "oxygen").exists()  # one folder, one checkpoint
    r = run_lrmo(["run", str(case), "--out", str(cut), "--quiet", "--restart"])
    assert r.returncode == 0, r.stderr
    _assert_same_results(ref, cut)


def test_restart_refused_for_another_mesh(interrupted):
    """The checkpoint's nodes are checked against the mesh: another node count, or nodes
    moved, is refused (a changed case is refused before, by its hash)."""
    from mpi4py import MPI

    from solver.simulation import checkpoint
    from solver import compat
    from solver.case.schema import load_case
    from solver.simulation.domain_setup import build_domain

    _, cut, _, _, _ = interrupted
    case = load_case(RADIAL, [s for s in SLOW if s != "--set"])
    state = checkpoint.read_state(cut, case, MPI.COMM_SELF)
    domain = build_domain(case, MPI.COMM_SELF)
    order = checkpoint.NodeOrder(compat.functionspace(domain.msh, "Lagrange", 1))
    assert set(checkpoint.read_arrays(state, order, domain.info)) >= {"theta_n", "theta_nm1", "history"}
    with pytest.raises(checkpoint.RestartRefused, match="mesh differs"):
        checkpoint.read_arrays({**state, "nodes": state["nodes"] + 1}, order, domain.info)
    order.coordinates = order.coordinates * 1.01
    with pytest.raises(checkpoint.RestartRefused, match="node coordinates"):
        checkpoint.read_arrays(state, order, domain.info)

"""The Slurm examples run as written: `srun` stands in for Slurm's launcher (mpirun on 2
ranks), the #SBATCH lines are comments to bash, and the job ends with a completed run."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import CASES, ROOT, mpi_env

EXAMPLES = ROOT / "examples" / "slurm"


def fake_slurm(tmp_path: Path) -> dict:
    if shutil.which("mpirun") is None:
        pytest.skip("mpirun not found")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "srun").write_text('#!/bin/sh\nexec mpirun -n 2 --oversubscribe "$@"\n')
    (bin_dir / "lrmo").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m lrmo "$@"\n')
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    env = mpi_env()
    env.update(PATH=f"{bin_dir}{os.pathsep}{env['PATH']}", SLURM_JOB_ID="4242",
               LRMO_MESH_CACHE=str(tmp_path / "cache"))
    env.setdefault("XDG_CACHE_HOME", str(Path.home() / ".cache"))  # the tests' JIT cache, not /tmp's
    return env


def test_case_job_runs_the_case_under_srun(tmp_path):
    env = fake_slurm(tmp_path)
    env.update(CASE=str(CASES / "verify_galvanostatic_radial.yaml"), OUT=str(tmp_path / "run"))
    proc = subprocess.run(["bash", str(EXAMPLES / "run_case.sbatch")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["n_ranks"] == 2


def test_sweep_job_runs_every_member(tmp_path):
    env = fake_slurm(tmp_path)
    env.update(SERIES=str(CASES / "series" / "ru_series.yaml"), OUT=str(tmp_path / "series"))
    proc = subprocess.run(["bash", str(EXAMPLES / "run_sweep.sbatch")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    series = json.loads((tmp_path / "series" / "series.json").read_text())
    assert [m["summary"]["status"] for m in series["members"]] == ["completed"] * len(series["members"])


@pytest.mark.parametrize("code, requeued", [(5, True), (1, False), (3, False)])
def test_case_job_requeues_an_interrupted_run_only(tmp_path, code, requeued):
    """Exit 5 (interrupted: continue from the checkpoint, or start again without one) is
    requeued; the job ends with the run's code either way."""
    env = fake_slurm(tmp_path)
    (tmp_path / "bin" / "srun").write_text(f"#!/bin/sh\nexit {code}\n")
    (tmp_path / "bin" / "scontrol").write_text(f'#!/bin/sh\necho "$@" >> "{tmp_path}/scontrol.log"\n')
    (tmp_path / "bin" / "scontrol").chmod(0o755)
    env.update(CASE=str(CASES / "verify_galvanostatic_radial.yaml"), OUT=str(tmp_path / "run"))
    proc = subprocess.run(["bash", str(EXAMPLES / "run_case.sbatch")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == code, proc.stderr[-3000:]
    log = tmp_path / "scontrol.log"
    assert (log.read_text().split() if log.exists() else []) == (["requeue", "4242"] if requeued else [])


@pytest.mark.parametrize("code, requeued", [(5, True), (3, False)])
def test_sweep_job_requeues_an_interrupted_sweep_and_continues_it(tmp_path, code, requeued):
    """Exit 5 is requeued; the requeued job (its folder exists) adds --restart."""
    env = fake_slurm(tmp_path)
    (tmp_path / "bin" / "srun").write_text(f'#!/bin/sh\necho "$@" >> "{tmp_path}/srun.log"\nexit {code}\n')
    (tmp_path / "bin" / "scontrol").write_text(f'#!/bin/sh\necho "$@" >> "{tmp_path}/scontrol.log"\n')
    (tmp_path / "bin" / "scontrol").chmod(0o755)
    env.update(SERIES=str(CASES / "series" / "ru_series.yaml"), OUT=str(tmp_path / "series"))
    for attempt in range(2):
        proc = subprocess.run(["bash", str(EXAMPLES / "run_sweep.sbatch")], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == code, proc.stderr[-3000:]
        (tmp_path / "series").mkdir(exist_ok=True)  # what the interrupted sweep left
    runs = (tmp_path / "srun.log").read_text().splitlines()
    assert [run.endswith("--restart") for run in runs] == [False, True]
    log = tmp_path / "scontrol.log"
    assert (log.read_text().split() if log.exists() else []) == (["requeue", "4242"] * 2 if requeued else [])

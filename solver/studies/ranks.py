"""One case on N ranks from a one-rank study: `mpirun -n N python -m lrmo run CASE` as a
child process, its output passed through line by line (its rank 0's progress lines, one
every LRMO_PROGRESS_SECONDS, default 30 s), then its summary.json read back. Used by
`lrmo reproduce --np N` for the 3D cases; the results do not depend on N
(tests/test_outputs_and_mpi.py `test_rank_count_does_not_change_the_peak_stress_3d`).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from solver.case.schema import load_case
from solver.io.launch import mpirun_environment
from solver.simulation.run import run_case


def usable_ranks(requested: int) -> int:
    """`requested`, at most the cores this process may run on (Open MPI refuses more
    ranks than slots), and 1 without mpirun."""
    if requested <= 1 or shutil.which("mpirun") is None:
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return max(1, min(requested, cores))


def run_case_file(case_path: Path, out: Path, comm, log, ranks: int = 1) -> dict:
    """Run `case_path` into `out`: in this process on `comm` when `ranks` is 1 or this
    process is already one of several ranks, else under `mpirun -n ranks`. Returns the
    run's summary (a failed child without one: {"status": "failed: exit N"})."""
    start = time.perf_counter()
    if ranks <= 1 or comm.size > 1:
        summary, used = run_case(load_case(case_path), out, comm, log), comm.size
    else:
        summary, used = _run_on_ranks(case_path, out, ranks, log), ranks
    log.info(f"reproduce: {case_path.stem}: {summary['status']} in {time.perf_counter() - start:.0f} s "
             f"on {used} rank{'s' if used > 1 else ''}")
    return summary


def _run_on_ranks(case_path: Path, out: Path, ranks: int, log) -> dict:
    cmd = ["mpirun", "-n", str(ranks), sys.executable, "-m", "lrmo", "run", str(case_path),
           "--out", str(out), "--overwrite"]
    summary_file = out / "summary.json"
    summary_file.unlink(missing_ok=True)  # an earlier run's, not this one's
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             env=mpirun_environment(), bufsize=1)
    for line in child.stdout:
        log.info(f"  [{case_path.stem}] {line.rstrip()}")
    code = child.wait()
    if summary_file.exists():  # completed, or interrupted/failed with its own status
        return json.loads(summary_file.read_text())
    return {"status": f"failed: `{' '.join(cmd[:3])} lrmo run` exit {code}"}

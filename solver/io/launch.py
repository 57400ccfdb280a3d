"""Was this MPI world launched as meant? `srun` without the PMI plugin its MPI library
needs (conda-forge MPICH under a Slurm whose default is `--mpi=none`, say) starts N
copies of the program, each a one-rank MPI world: N runs of the whole case into one
folder. Slurm tells each copy how many tasks its step has (SLURM_STEP_NUM_TASKS, set by
`srun` only, not in the batch script itself) and which one it is (SLURM_PROCID), so

    one MPI rank, and SLURM_STEP_NUM_TASKS > 1 or SLURM_PROCID > 0

is such a copy. Not SLURM_NTASKS alone: the batch script has it too (`#SBATCH
--ntasks=8`), where a one-rank `lrmo mesh` or `lrmo validate` is meant. A launcher that
says the world has one rank (Open MPI's OMPI_COMM_WORLD_SIZE, Hydra's PMI_SIZE) is
believed; LRMO_ALLOW_SINGLE_RANK_TASKS=1 skips the check."""
from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping

ALLOW = "LRMO_ALLOW_SINGLE_RANK_TASKS"


def _int(env: Mapping[str, str], name: str) -> int | None:
    try:
        return int(env.get(name, ""))
    except ValueError:
        return None


def single_rank_copy(env: Mapping[str, str], world_size: int) -> str | None:
    """The refusal (one line) if this process is one of several one-rank copies that Slurm
    started as one step, else None."""
    if world_size != 1 or env.get(ALLOW) == "1":
        return None
    if env.get("OMPI_COMM_WORLD_SIZE") == "1" or env.get("PMI_SIZE") == "1":
        return None
    tasks, procid = _int(env, "SLURM_STEP_NUM_TASKS"), _int(env, "SLURM_PROCID")
    if not ((tasks or 0) > 1 or (procid or 0) > 0):
        return None
    n = tasks if tasks and tasks > 1 else "several"
    return (f"srun started {n} tasks (SLURM_STEP_NUM_TASKS={env.get('SLURM_STEP_NUM_TASKS', '?')}, "
            f"this is SLURM_PROCID={env.get('SLURM_PROCID', '?')}) but MPI sees 1 rank: each task would "
            "run the whole case alone into the same folder. Launch with `srun --mpi=pmix` (or the PMI "
            "your MPI library was built for: `srun --mpi=list`) or with `mpirun -n N`; "
            f"{ALLOW}=1 runs the copies anyway")


def mpirun_environment() -> dict:
    """This environment for a child `mpirun`, plus what Open MPI needs to start as root
    and its shared-memory transport (vader in Open MPI 4, sm in 5); values already set
    are kept."""
    env = dict(os.environ)
    env.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
    env.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    try:
        version = subprocess.run(["mpirun", "--version"], capture_output=True, text=True).stdout
    except OSError:
        version = ""
    env.setdefault("OMPI_MCA_btl", "self,vader" if "4." in version.split("\n")[0] else "self,sm")
    return env

"""Claims about where the pre-flight's available memory comes from
(solver/simulation/preflight.py): the smallest of physical memory, the memory cgroup's
remaining limit (v2 or v1) and the Slurm allocation, and a refusal says which."""
import os
import subprocess
import sys

from conftest import CASES
from solver.simulation import preflight


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_cgroup_v2_limit_less_usage(tmp_path):
    write(tmp_path / "memory.max", "8589934592\n")  # 8 GiB
    write(tmp_path / "memory.current", "1073741824\n")  # 1 GiB in use
    assert preflight.cgroup_memory_bytes(str(tmp_path)) == 7 * 2**30


def test_cgroup_v2_max_means_no_limit(tmp_path):
    write(tmp_path / "memory.max", "max\n")
    assert preflight.cgroup_memory_bytes(str(tmp_path)) is None


def test_cgroup_v1_limit_and_its_unlimited_value(tmp_path):
    write(tmp_path / "memory/memory.limit_in_bytes", "4294967296\n")
    write(tmp_path / "memory/memory.usage_in_bytes", "0\n")
    assert preflight.cgroup_memory_bytes(str(tmp_path)) == 4 * 2**30
    write(tmp_path / "memory/memory.limit_in_bytes", "9223372036854771712\n")
    assert preflight.cgroup_memory_bytes(str(tmp_path)) is None


def test_slurm_mem_per_node_and_mem_per_cpu():
    assert preflight.slurm_memory_bytes({"SLURM_MEM_PER_NODE": "16000"}) == 16000 * 2**20
    assert preflight.slurm_memory_bytes({"SLURM_MEM_PER_CPU": "2000", "SLURM_CPUS_ON_NODE": "4"}) == 8000 * 2**20
    assert preflight.slurm_memory_bytes({}) is None


def test_the_smallest_limit_wins_and_is_named(monkeypatch):
    monkeypatch.setattr(preflight, "physical_memory_bytes", lambda: 64e9)
    monkeypatch.setattr(preflight, "cgroup_memory_bytes", lambda: 32e9)
    monkeypatch.setattr(preflight, "slurm_memory_bytes", lambda: 2e9)
    assert preflight.available_memory() == (2e9, "the Slurm allocation")
    monkeypatch.setattr(preflight, "slurm_memory_bytes", lambda: None)
    assert preflight.available_memory() == (32e9, "the memory cgroup's limit")


def test_a_small_slurm_allocation_refuses_a_case_that_fits_the_node():
    """`lrmo validate` under --mem-per-cpu=100M (one CPU) refuses the 3D octant (~0.5 GB)
    with exit 2, naming the Slurm allocation."""
    env = {**os.environ, "SLURM_MEM_PER_CPU": "100", "SLURM_CPUS_ON_NODE": "1"}
    env.pop("SLURM_MEM_PER_NODE", None)
    out = subprocess.run([sys.executable, "-m", "lrmo", "validate", str(CASES / "pristine_stress_octant.yaml")],
                         capture_output=True, text=True, env=env)
    assert out.returncode == 2, out.stderr[-2000:]
    assert "the Slurm allocation" in out.stderr and "mesh too large" in out.stderr

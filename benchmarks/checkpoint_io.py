"""Benchmark: the cost of writing (and reading back) a checkpoint, and who pays it.

A checkpoint as a 3D chemo-mechanics run writes it (solver/simulation/checkpoint.py):
four P1 arrays (theta_n, theta_nm1, sigma_h_Pa, peak_theta) and the node coordinates,
on a box of hexahedra with ~1M and ~4M nodes (P1 dofs), on 1 and 2 ranks. Each size and
rank count is a process of its own (`mpirun -n N`); per rank it measures

- the write of the checkpoint (checkpoint.write: every rank writes its part of
  fields.h5 through PETSc's HDF5 viewer), and its read on the same ranks (a restart);
- for comparison, the format-2 write of earlier versions: every array gathered to
  rank 0 in the original node order and written by it to one .npz;
- wall time (the slowest rank) and each rank's peak memory growth during the write:
  the kernel's peak RSS (VmHWM) reset just before (/proc/self/clear_refs), read just
  after, minus the RSS before (glibc made to return freed memory: `release_freed_memory`).

Prints one table; asserts nothing. `make benchmark` runs it after benchmarks/record.py.

Run: .venv/bin/python benchmarks/checkpoint_io.py [--sizes 1e6,4e6] [--ranks 1,2]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ARRAYS = ("theta_n", "theta_nm1", "sigma_h_Pa", "peak_theta")


def _status_kB(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def release_freed_memory() -> None:
    """Large blocks mapped and unmapped again, and the heap trimmed now (glibc), so that
    a step's peak is its own: Open MPI turns glibc's mmap off (M_MMAP_MAX = 0), after
    which freed memory stays in the heap and the next step reuses it unseen."""
    import ctypes

    libc = ctypes.CDLL("libc.so.6")
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_MMAP_MAX = -1, -3, -4
    libc.mallopt(M_MMAP_MAX, 1 << 20)
    libc.mallopt(M_MMAP_THRESHOLD, 128 * 1024)
    libc.mallopt(M_TRIM_THRESHOLD, 128 * 1024)
    libc.malloc_trim(0)


def measured(comm, action) -> tuple[float, list[float]]:
    """(seconds of the slowest rank, each rank's peak memory growth in MB) of
    `action()` (collective)."""
    from mpi4py import MPI

    release_freed_memory()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # peak RSS := RSS now
    except OSError:
        pass
    before = _status_kB("VmRSS")
    comm.barrier()
    start = time.perf_counter()
    action()
    seconds = time.perf_counter() - start
    grown_MB = (_status_kB("VmHWM") - before) / 1024
    return comm.allreduce(seconds, op=MPI.MAX), comm.gather(grown_MB, root=0)


def gathered_npz(folder: Path, order, arrays: dict) -> None:
    """The format-2 write of earlier versions, for comparison: gather to rank 0 in node
    order, rank 0 writes one .npz."""
    import numpy as np

    comm = order.comm
    out = {}
    for name, values in {"node_coordinates": order.coordinates, **arrays}.items():
        parts = comm.gather((order.owned, values), root=0)
        if comm.rank == 0:
            full = np.zeros(np.shape(values)[:-1] + (order.count,))
            for index, part in parts:
                full[..., index] = part
            out[name] = full
    if comm.rank == 0:
        with open(folder / "fields.npz", "wb") as f:
            np.savez(f, **out)
            f.flush()
            os.fsync(f.fileno())
    comm.barrier()


def worker(nodes: float, folder: Path) -> None:
    """Measure one size on MPI.COMM_WORLD; rank 0 prints one JSON line."""
    import dolfinx
    import numpy as np
    from mpi4py import MPI

    from solver import compat
    from solver.simulation import checkpoint

    comm = MPI.COMM_WORLD
    n = max(1, round(nodes ** (1 / 3)) - 1)  # (n + 1)^3 nodes
    msh = dolfinx.mesh.create_box(comm, [np.zeros(3), np.ones(3)], [n, n, n],
                                  cell_type=dolfinx.mesh.CellType.hexahedron)
    order = checkpoint.NodeOrder(compat.functionspace(msh, "Lagrange", 1))
    x = order.coordinates
    arrays = {name: np.sin((i + 1) * x[0]) + x[1] * x[2] for i, name in enumerate(ARRAYS)}
    state = {"t_s": 1.0, "case_hash": "benchmark", "summary": {}}
    if comm.rank == 0:
        folder.mkdir(parents=True, exist_ok=True)
    comm.barrier()
    write_s, write_MB = measured(comm, lambda: checkpoint.write(folder, order, state, arrays))
    size_MB = (folder / checkpoint.FOLDER / checkpoint.ARRAYS_FILE).stat().st_size / 2**20 if comm.rank == 0 else 0
    saved = json.loads((folder / checkpoint.FOLDER / checkpoint.STATE_FILE).read_text())
    saved["location"] = str(folder / checkpoint.FOLDER)
    read_s, read_MB = measured(comm, lambda: checkpoint.read_arrays(saved, order, {}))
    old_s, old_MB = measured(comm, lambda: gathered_npz(folder, order, arrays))
    if comm.rank == 0:
        print("RECORD " + json.dumps(dict(
            ranks=comm.size, nodes=order.count, file_MB=size_MB, write_s=write_s, write_MB=write_MB,
            read_s=read_s, read_MB=read_MB, old_s=old_s, old_MB=old_MB)), flush=True)


def run_worker(nodes: float, ranks: int) -> dict | None:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
    env.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE.parent), env.get("PYTHONPATH")]))
    folder = Path(tempfile.mkdtemp(prefix="lrmo-bench-checkpoint-"))
    cmd = [sys.executable, __file__, "--worker", str(nodes), "--folder", str(folder)]
    if ranks > 1:
        cmd = ["mpirun", "-n", str(ranks), "--oversubscribe", *cmd]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    for line in proc.stdout.splitlines():
        if line.startswith("RECORD "):
            return json.loads(line[len("RECORD "):])
    print(f"  {nodes:.0f} nodes on {ranks} rank(s) failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
    return None


def table(rows: list[dict]) -> str:
    def per_rank(values):
        return " / ".join(f"{v:.0f}" for v in values)

    head = ("| P1 dofs | ranks | fields.h5 MB | write s | write: peak MB growth per rank (0 / 1) "
            "| read s | read: MB per rank | format 2 (gathered .npz) s | format 2: MB per rank |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        lines.append(f"| {r['nodes']:,} | {r['ranks']} | {r['file_MB']:.0f} | {r['write_s']:.2f} "
                     f"| {per_rank(r['write_MB'])} | {r['read_s']:.2f} | {per_rank(r['read_MB'])} "
                     f"| {r['old_s']:.2f} | {per_rank(r['old_MB'])} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", type=float, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--sizes", default="1e6,4e6", help="node counts (P1 dofs), comma-separated")
    parser.add_argument("--ranks", default="1,2")
    args = parser.parse_args()
    if args.worker is not None:
        return worker(args.worker, args.folder)
    rows = []
    started = time.perf_counter()
    for nodes in (float(s) for s in args.sizes.split(",")):
        for ranks in (int(r) for r in args.ranks.split(",")):
            print(f"  checkpoint of {nodes:.0f} P1 dofs, {ranks} rank(s) ...", file=sys.stderr, flush=True)
            row = run_worker(nodes, ranks)
            if row is not None:
                rows.append(row)
    print(f"lrmo checkpoint benchmark ({os.cpu_count()} cores; {time.perf_counter() - started:.0f} s): "
          f"{len(ARRAYS)} P1 arrays + node coordinates; memory = peak RSS growth during the step")
    print(table(rows))


if __name__ == "__main__":
    main()

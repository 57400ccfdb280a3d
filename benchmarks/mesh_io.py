"""Mesh I/O at cluster scale: today's path (Gmsh on rank 0, then `model_to_mesh`
funnels the mesh to the other ranks) against the mesh cache (every rank reads its share
of an XDMF/HDF5 file in parallel), for an octant of >= 1M tets on 2 ranks.

Each measurement runs in its own `mpirun -n RANKS` subprocess, so that the peak memory
(getrusage ru_maxrss) of each rank belongs to that path alone. Prints wall time and
peak RSS of every rank, plus the one-time cost of filling the cache. Asserts nothing.

    .venv/bin/python benchmarks/mesh_io.py [--surface-nm 1.5 --bulk-nm 1.8] [--ranks 2]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MODES = {
    "gmsh": "today: Gmsh on rank 0 + model_to_mesh",
    "fill": "cache miss: Gmsh + model_to_mesh + XDMF write + parallel read (once)",
    "read": "cache hit: parallel XDMF read",
}


def worker(mode: str, surface_nm: float, bulk_nm: float) -> None:
    """One measurement (inside mpirun): build or read the mesh, report per-rank figures."""
    from mpi4py import MPI

    from solver.simulation.domain_setup import particle_mesh

    comm = MPI.COMM_WORLD
    import dolfinx  # noqa: F401  (imports counted in the baseline, not in the path)
    import gmsh  # noqa: F401

    args = dict(radius_m=150e-9, layer_thickness_m=0.0, coating_thickness_m=0.0,
                size_surface_m=surface_nm * 1e-9, size_bulk_m=bulk_nm * 1e-9,
                size_interface_m=None)
    baseline_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    comm.barrier()
    start = time.perf_counter()
    if mode == "gmsh":
        from meshes.particle import build_and_load

        msh, _, _, info = build_and_load(**args, shape="octant", comm=comm)
    else:
        msh, _, _, info = particle_mesh(args, "octant", comm)
    comm.barrier()
    seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cells = msh.topology.index_map(3).size_global
    ranks = comm.gather({"peak_MB": peak_kb / 1024, "baseline_MB": baseline_kb / 1024}, root=0)
    if comm.rank == 0:
        print(json.dumps({"mode": mode, "seconds": seconds, "cells": cells, "ranks": ranks,
                          "cache": info.get("cache", {}).get("status", "-")}))


def run_mode(mode: str, ranks: int, surface_nm: float, bulk_nm: float, cache: str) -> dict:
    env = dict(os.environ, LRMO_MESH_CACHE=cache,
               OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    env.setdefault("OMPI_MCA_btl", "self,vader")
    command = ["mpirun", "-n", str(ranks), sys.executable, __file__, "--worker", mode,
               "--surface-nm", str(surface_nm), "--bulk-nm", str(bulk_nm)]
    proc = subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"{mode} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", choices=list(MODES))
    parser.add_argument("--surface-nm", type=float, default=1.5)
    parser.add_argument("--bulk-nm", type=float, default=1.8)
    parser.add_argument("--ranks", type=int, default=2)
    a = parser.parse_args()
    if a.worker:
        return worker(a.worker, a.surface_nm, a.bulk_nm)
    print(f"octant R = 150 nm, surface {a.surface_nm} nm, bulk {a.bulk_nm} nm, "
          f"mpirun -n {a.ranks}; peak RSS = getrusage ru_maxrss (baseline after imports)")
    with tempfile.TemporaryDirectory(prefix="lrmo-mesh-bench-") as cache:
        results = [run_mode("gmsh", a.ranks, a.surface_nm, a.bulk_nm, "off"),
                   run_mode("fill", a.ranks, a.surface_nm, a.bulk_nm, cache),
                   run_mode("read", a.ranks, a.surface_nm, a.bulk_nm, cache)]
        size_mb = sum(p.stat().st_size for p in Path(cache).rglob("*") if p.is_file()) / 1e6
    print(f"cells: {results[0]['cells']:,}; cache entry on disk: {size_mb:.0f} MB")
    header = f"{'path':62s} {'wall s':>7s}" + "".join(
        f" {'rank ' + str(r) + ' peak MB':>15s}" for r in range(a.ranks))
    print(header)
    for res in results:
        row = f"{MODES[res['mode']]:62s} {res['seconds']:7.1f}"
        row += "".join(f" {r['peak_MB']:8.0f} ({r['baseline_MB']:4.0f})" for r in res["ranks"])
        print(row)
    old, new = results[0], results[2]
    print(f"cache hit vs today: time x{old['seconds'] / new['seconds']:.1f} faster, rank-0 "
          f"peak {old['ranks'][0]['peak_MB']:.0f} -> {new['ranks'][0]['peak_MB']:.0f} MB")


if __name__ == "__main__":
    main()

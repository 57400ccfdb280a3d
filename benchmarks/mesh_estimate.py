"""Calibration check of the pre-flight mesh estimate (meshes/estimate.py) against real
Gmsh meshes: cells, vertices (P1 nodes) and vertices + edges (P2 nodes), estimated vs
built, and the implied constants. Prints figures, asserts nothing.

    .venv/bin/python benchmarks/mesh_estimate.py [--big]

--big adds the ~0.9M-tet octant (half a minute of Gmsh).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gmsh  # noqa: E402

from meshes.estimate import (BOUNDARY_CELLS_PER_H2, CELLS_PER_H3,  # noqa: E402
                             INTERFACE_CELLS_PER_H2,
                             P1_NODES_PER_CELL,
                             P2_NODES_PER_CELL, estimate_cells)
from meshes.particle import _particle_inputs, particle_model  # noqa: E402
from meshes.gmsh_io import gmsh_session  # noqa: E402

NM = 1e-9
MESHES = [  # (label, radius, layer, coating, shape, surface, bulk): the calibration set
    ("octant R150 d30 t10 10/30 nm", 150, 30, 10, "octant", 10, 30),
    ("verification octant 4/6 nm", 150, 0, 0, "octant", 4, 6),
    ("octant R150 d20 3D defaults", 150, 20, 0, "octant", None, None),
    ("sphere R150 d20 8/20 nm", 150, 20, 0, "sphere", 8, 20),
    ("octant R150 d20 2/8 nm", 150, 20, 0, "octant", 2, 8),
    ("octant R150 6/12 nm", 150, 0, 0, "octant", 6, 12),
    ("octant R150 3/12 nm", 150, 0, 0, "octant", 3, 12),
    ("sphere R150 8/16 nm", 150, 0, 0, "sphere", 8, 16),
    ("octant R150 d20 3/10 nm", 150, 20, 0, "octant", 3, 10),
    ("sphere R200 d15 10/30 nm", 200, 15, 0, "sphere", 10, 30),
    ("octant R100 d10 t5 3/10 nm", 100, 10, 5, "octant", 3, 10),
    ("octant R150 uniform 10 nm", 150, 0, 0, "octant", 10, 10),
    ("octant R150 uniform 5 nm", 150, 0, 0, "octant", 5, 5),
    ("octant R150 d30 2.5/15 nm", 150, 30, 0, "octant", 2.5, 15),
]
BIG = ("octant R150 1.6/2.0 nm (1M benchmark)", 150, 0, 0, "octant", 1.6, 2.0)


def measure(radius, layer, coating, shape, surface, bulk) -> dict:
    sizes = dict(size_surface_m=None if surface is None else surface * NM,
                 size_bulk_m=None if bulk is None else bulk * NM)
    args = (radius * NM, layer * NM, coating * NM)
    inputs = _particle_inputs(*args, shape=shape, **sizes)
    with gmsh_session("calibration"):
        start = time.perf_counter()
        info = particle_model(*args, shape=shape, **sizes)
        seconds = time.perf_counter() - start
        gmsh.model.mesh.createEdges()
        edges = len(gmsh.model.mesh.getAllEdges()[0])
    return {"inputs": inputs, "cells": info["num_cells"], "vertices": info["num_nodes"],
            "edges": edges, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big", action="store_true", help="add a ~1M-tet octant")
    meshes = MESHES + ([BIG] if parser.parse_args().big else [])
    print(f"constants: CELLS_PER_H3 = {CELLS_PER_H3}, BOUNDARY_CELLS_PER_H2 = "
          f"{BOUNDARY_CELLS_PER_H2}, INTERFACE_CELLS_PER_H2 = {INTERFACE_CELLS_PER_H2}, P1/cell = {P1_NODES_PER_CELL}, "
          f"P2/cell = {P2_NODES_PER_CELL}")
    print(f"{'mesh':34s} {'cells':>9s} {'estimate':>9s} {'error':>7s} "
          f"{'P1/cell':>7s} {'P2/cell':>7s} {'gmsh s':>7s}")
    for label, *spec in meshes:
        m = measure(*spec)
        est = estimate_cells(m["inputs"])
        print(f"{label:34s} {m['cells']:9d} {est:9.0f} {est / m['cells'] - 1:+7.1%} "
              f"{m['vertices'] / m['cells']:7.3f} "
              f"{(m['vertices'] + m['edges']) / m['cells']:7.3f} {m['seconds']:7.1f}", flush=True)


if __name__ == "__main__":
    main()

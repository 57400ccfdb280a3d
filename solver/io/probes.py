"""Sampling fields along the profile ray, the same on any number of ranks."""
from __future__ import annotations

import numpy as np
from mpi4py import MPI

from solver import compat
from solver.physics.domain import Domain


class RayProbe:
    """Points from the centre to the surface (Domain.ray_points). Each point is
    evaluated on the lowest rank that holds a cell containing it; points that lie just
    outside the faceted surface use the nearest cell (P1 extrapolation over < h^2/R)."""

    def __init__(self, domain: Domain, count: int, points: np.ndarray | None = None):
        """`points` (n, 3) replaces the ray (e.g. a slice through the centre)."""
        self.domain = domain
        self.points = domain.ray_points(count) if points is None else np.asarray(points, dtype=float)
        self.radii_m = domain.point_radii(self.points)
        msh = domain.msh
        tree = compat.bounding_box_tree(msh)
        cells = compat.cells_containing(msh, tree, self.points)
        found = np.where(cells >= 0, domain.comm.rank, domain.comm.size).astype(np.int32)
        owner = np.empty_like(found)
        domain.comm.Allreduce(found, owner, op=MPI.MIN)
        missing = owner == domain.comm.size
        if missing.any():
            near_cells, distance = compat.closest_cells(msh, tree, self.points[missing])
            # the rank with the smallest distance owns each missing point
            pairs = domain.comm.allgather(distance)
            ranks = np.argmin(np.vstack(pairs), axis=0)
            cells[missing] = np.where(ranks == domain.comm.rank, near_cells, -1)
            owner[missing] = ranks
        self.mine = np.where(owner == domain.comm.rank)[0]
        self.cells = cells[self.mine]

    def sample(self, functions: list) -> np.ndarray | None:
        """(count, len(functions)) array of scalar values on rank 0, None elsewhere."""
        local = np.zeros((len(self.mine), len(functions)))
        for k, f in enumerate(functions):
            if len(self.mine):
                local[:, k] = f.eval(self.points[self.mine], self.cells).reshape(len(self.mine), -1)[:, 0]
        gathered = self.domain.comm.gather((self.mine, local), root=0)
        if self.domain.comm.rank != 0:
            return None
        values = np.full((len(self.points), len(functions)), np.nan)
        for idx, vals in gathered:
            values[idx] = vals
        return values


def on_ray(domain: Domain, points: np.ndarray, tolerance: float = 1e-6) -> np.ndarray:
    """Mask of the points on the profile ray (every point of a 1D mesh; in 3D within
    `tolerance` R of the half-line along (1,1,1)/sqrt(3))."""
    if domain.radial:
        return np.ones(len(points), dtype=bool)
    d = np.full(3, 1 / np.sqrt(3.0))
    along = points @ d
    off = np.linalg.norm(points - along[:, None] * d, axis=1)
    tol = tolerance * domain.radius_m
    return (off <= tol) & (along >= -tol)


def gather_rows(comm, rows: np.ndarray) -> np.ndarray | None:
    """Row blocks of every rank stacked on rank 0 (None elsewhere)."""
    blocks = comm.gather(rows, root=0)
    return np.vstack(blocks) if comm.rank == 0 else None


def sort_ray_rows(rows: np.ndarray, radius_m: float) -> np.ndarray:
    """Rows (r, cell centre radius, values...) ordered by r, then the inner cell's node
    first (so that a line through them draws the jump at a vertex), then by value: the
    same order on any number of ranks. Radii below 1e-9 R (round-off at the centre)
    become 0."""
    if not len(rows):
        return rows
    rows = rows.copy()
    rows[rows[:, 0] < 1e-9 * radius_m, 0] = 0.0
    keys = [np.round(rows[:, k] / radius_m, 9) for k in (0, 1)]
    return rows[np.lexsort((*rows[:, :1:-1].T, keys[1], keys[0]))]

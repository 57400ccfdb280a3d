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

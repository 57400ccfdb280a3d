"""Grain-boundary decohesion with the AT1 phase field (docs/fracture.md, "The whole
particle and grain-boundary decohesion"; docs/secondary-particles.md §8).

The toughness G_c is lowered near the tagged grain-boundary facets (tag `grain_boundary`):

    G_c(x) = G_c f(x),   f = 1 - (1 - g) exp(-dist(x, boundaries) / l)

with g = `fracture.grain_boundary_toughness_factor` in (0, 1] and l the phase-field length,
f a P1 field (its nodal values). Why a smooth band of width l rather than an indicator of
the boundary's cells or nodes: the AT1 onset is pointwise (d = 0 is optimal while
2 psi+ < f 3 G_c / (8 l) at every point), so any f with f = g on the boundary gives the
boundary's onset at sigma_c sqrt(g); but a crack has a width ~ 2 l, and its energy
weights f over that width: an indicator one element (h <= l / 4) wide would give a
crack along the boundary nearly the bulk toughness (the band would be diluted by the
crack's own width). With a band of width l, f ~ g over most of the crack profile. The
effective toughness of a crack running along the boundary is then between g G_c and G_c
(not calibrated here). At the discrete level the onset at a boundary node is at
sigma_c sqrt(f_eff), f_eff = int f phi_i / int phi_i, which tends to g as h / l -> 0
(0.30, 0.28, 0.26 for g = 0.25 at l = 4, 8, 16 h; tests/test_grain_boundary_fracture.py).

dist is the distance from each P1 node to the nearest sample point of the boundary
triangles (their vertices, edge midpoints and centroid): exact (0) on the boundary, within
about h / 3 of the point-to-triangle distance off it.

GrainBoundaryDamage reports, per boundary (pair of grains), the largest damage at the
vertices of its facets (nodal, as the run's own onset), the area-weighted mean of its
facets' damage (a facet's: the mean of its three vertex values) and the first time the
largest exceeds ONSET and OPENED."""
from __future__ import annotations

import numpy as np
from dolfinx import fem
from mpi4py import MPI

from meshes.markers import FACET_TAGS
from solver import compat

ONSET = 1e-3  # a boundary's largest facet damage above this: the damage has started there
OPENED = 0.5  # ... above this: the boundary has opened (cracked)


def owned_boundary_facets(domain):
    """(facet index, cell of the lower grain, cell of the higher grain) of the owned
    grain-boundary facets, in the order of solver/physics/grain_boundaries.py."""
    msh = domain.msh
    fdim = msh.topology.dim - 1
    msh.topology.create_connectivity(fdim, fdim + 1)
    f2c = msh.topology.connectivity(fdim, fdim + 1)
    facets = domain.facet_tags.find(FACET_TAGS["grain_boundary"])
    facets = facets[facets < msh.topology.index_map(fdim).size_local]
    grain = domain.grain_of_cell
    rows = []
    for f in facets:
        cells = f2c.links(f)
        if len(cells) == 2:
            c0, c1 = sorted(cells, key=lambda c: grain[c])
            rows.append((f, c0, c1))
    return np.asarray(rows, dtype=np.int64).reshape(-1, 3)


def facet_p1_dofs(domain, D, rows) -> np.ndarray:
    """(n, 3) local dofs of the P1 space D at the three vertices of each facet (rows of
    owned_boundary_facets): a P1 cell's dofs follow its vertices' order."""
    msh = domain.msh
    tdim = msh.topology.dim
    msh.topology.create_connectivity(tdim - 1, 0)
    msh.topology.create_connectivity(tdim, 0)
    f2v, c2v = msh.topology.connectivity(tdim - 1, 0), msh.topology.connectivity(tdim, 0)
    cell_dofs = compat.cell_dofs(D)
    out = np.empty((len(rows), 3), dtype=np.int64)
    for k, (f, c, _) in enumerate(rows):
        vertices = list(c2v.links(c))
        out[k] = [cell_dofs[c][vertices.index(v)] for v in f2v.links(f)]
    return out


def boundary_sample_points(domain) -> np.ndarray:
    """Every rank's grain-boundary triangles sampled at their vertices, edge midpoints and
    centroids, (m, 3), the same on every rank (collective)."""
    D = compat.functionspace(domain.msh, "Lagrange", 1)
    rows = owned_boundary_facets(domain)
    x = D.tabulate_dof_coordinates()
    tri = x[facet_p1_dofs(domain, D, rows)] if len(rows) else np.zeros((0, 3, 3))
    mids = [(tri[:, i] + tri[:, j]) / 2 for i, j in ((0, 1), (1, 2), (0, 2))]
    local = np.concatenate([tri.reshape(-1, 3), *mids, tri.mean(axis=1)])
    return np.concatenate(domain.comm.allgather(local))


def boundary_toughness_factor(domain, factor: float, length_m: float):
    """The P1 field f = 1 - (1 - factor) exp(-dist / l) (module docstring); the constant
    1.0 when factor == 1 (no boundary is weaker). Collective."""
    if factor == 1.0:
        return 1.0
    from scipy.spatial import cKDTree

    D = compat.functionspace(domain.msh, "Lagrange", 1)
    f = fem.Function(D, name="toughness_factor")
    points = boundary_sample_points(domain)
    if len(points) == 0:
        f.x.array[:] = 1.0
        return f
    dist, _ = cKDTree(points).query(D.tabulate_dof_coordinates())
    f.x.array[:] = 1.0 - (1.0 - factor) * np.exp(-dist / length_m)
    return f


class GrainBoundaryDamage:
    """Per grain boundary (pair of grains a < b): the largest damage at its facets'
    vertices and the area-mean of its facets' damage, and the first time the largest
    passes ONSET and OPENED; `update(t)` after every phase-field solve (collective)."""

    def __init__(self, domain, damage):
        self.comm = domain.comm
        self.damage = damage
        rows = owned_boundary_facets(domain)
        D = damage.function_space
        self.dofs = facet_p1_dofs(domain, D, rows)
        grain = domain.grain_of_cell
        self.pairs = np.stack([grain[rows[:, 1]], grain[rows[:, 2]]], axis=1) if len(rows) else \
            np.zeros((0, 2), dtype=np.int64)
        x = D.tabulate_dof_coordinates()
        tri = x[self.dofs] if len(rows) else np.zeros((0, 3, 3))
        self.areas_m2 = np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1) / 2
        every = np.concatenate(self.comm.allgather(self.pairs)).reshape(-1, 2)
        self.boundaries = sorted({(int(a), int(b)) for a, b in every})  # the same on every rank
        self._index = {p: k for k, p in enumerate(self.boundaries)}
        self._local = np.array([self._index[(int(a), int(b))] for a, b in self.pairs], dtype=np.int64)
        n = len(self.boundaries)
        areas = np.zeros(n)
        np.add.at(areas, self._local, self.areas_m2)
        self.comm.Allreduce(MPI.IN_PLACE, areas, op=MPI.SUM)
        self.area_m2 = areas
        self.onset_s = np.full(n, np.nan)  # first time the boundary's max d > ONSET
        self.opened_s = np.full(n, np.nan)  # ... > OPENED
        self.max_damage = np.zeros(n)
        self.mean_damage = np.zeros(n)

    def facet_damage(self) -> np.ndarray:
        """The owned facets' damage, the mean of their three vertex values."""
        return self.damage.x.array[self.dofs].mean(axis=1) if len(self.dofs) else np.zeros(0)

    def update(self, t: float) -> None:
        self._statistics()
        for times, threshold in ((self.onset_s, ONSET), (self.opened_s, OPENED)):
            times[np.isnan(times) & (self.max_damage > threshold)] = t

    def _statistics(self) -> None:
        n = len(self.boundaries)
        d = self.facet_damage()
        largest, weighted = np.zeros(n), np.zeros(n)
        if len(self.dofs):
            np.maximum.at(largest, self._local, self.damage.x.array[self.dofs].max(axis=1))
        np.add.at(weighted, self._local, d * self.areas_m2)
        self.comm.Allreduce(MPI.IN_PLACE, largest, op=MPI.MAX)
        self.comm.Allreduce(MPI.IN_PLACE, weighted, op=MPI.SUM)
        self.max_damage, self.mean_damage = largest, weighted / np.maximum(self.area_m2, 1e-300)

    def facet_fields(self) -> dict[str, np.ndarray]:
        """Cell data of this rank's facets, in owned_boundary_facets' order: the facet's
        damage and its boundary's max, mean and onset/opening times (-1: not yet; a VTK
        ASCII reader does not take NaN)."""
        k = self._local
        return {"damage": self.facet_damage(), "boundary_max_damage": self.max_damage[k],
                "boundary_mean_damage": self.mean_damage[k],
                "boundary_onset_time_s": np.nan_to_num(self.onset_s[k], nan=-1.0),
                "boundary_opened_time_s": np.nan_to_num(self.opened_s[k], nan=-1.0)}

    def ranking(self) -> list[dict]:
        """Every boundary, by onset time (never: last), then by largest damage."""
        order = sorted(range(len(self.boundaries)),
                       key=lambda k: (np.nan_to_num(self.onset_s[k], nan=np.inf), -self.max_damage[k]))
        return [{"grains": list(self.boundaries[k]), "area_m2": float(self.area_m2[k]),
                 "max_damage": float(self.max_damage[k]), "mean_damage": float(self.mean_damage[k]),
                 "onset_time_s": _none_if_nan(self.onset_s[k]), "opened_time_s": _none_if_nan(self.opened_s[k])}
                for k in order]

    def summary(self) -> dict:
        """summary.json's fracture -> grain_boundaries (the same on every rank)."""
        return {"thresholds": {"onset": ONSET, "opened": OPENED}, "boundaries": len(self.boundaries),
                "started": int(np.sum(~np.isnan(self.onset_s))), "opened": int(np.sum(~np.isnan(self.opened_s))),
                "by_onset": self.ranking()}

    def state(self) -> dict:
        """The onset and opening times (None: not yet), for a checkpoint."""
        return {key: [_none_if_nan(t) for t in times] for key, times in
                (("onset_s", self.onset_s), ("opened_s", self.opened_s))}

    def restore(self, scalars: dict) -> None:
        """The times of `state`, and the statistics of the current damage (collective)."""
        self.onset_s = np.array(scalars["onset_s"], dtype=float)
        self.opened_s = np.array(scalars["opened_s"], dtype=float)
        self._statistics()


def _none_if_nan(value: float):
    return None if np.isnan(value) else float(value)

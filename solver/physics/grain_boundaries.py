"""Grain-boundary tractions, the driver of intergranular cracking
(docs/secondary-particles.md §4).

On every grain-boundary facet (tag `grain_boundary`) with unit normal n (pointing from
the lower- to the higher-numbered grain) the traction is t = sigma n, its normal part
t_n = n . sigma . n (> 0: opening) and its shear part |t - t_n n|. sigma is the DG1
stress at the facet's centroid (the mean of its three vertex values, exact for a linear
field), averaged over the two cells that share the facet. Statistics are area-weighted
over all facets of all ranks: max, mean and 95th percentile.
"""
from __future__ import annotations

import numpy as np
from mpi4py import MPI

from meshes.markers import FACET_TAGS
from solver import compat

VOIGT = ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))


def weighted_percentile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """The q-th percentile (0-100) of values with weights (step function of the weighted
    cumulative distribution: the smallest value with at least q % of the weight at or
    below it)."""
    if values.size == 0:
        return 0.0
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    k = int(np.searchsorted(cumulative, q / 100 * cumulative[-1]))
    return float(values[order][min(k, values.size - 1)])


def traction_components(stress: np.ndarray, normals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(t_n, |t_s|) for (n, 3, 3) stresses and (n, 3) unit normals."""
    t = np.einsum("nij,nj->ni", stress, normals)
    tn = np.einsum("ni,ni->n", t, normals)
    ts = np.linalg.norm(t - tn[:, None] * normals, axis=1)
    return tn, ts


class GrainBoundaryTractions:
    """Geometry of the owned grain-boundary facets, found once; `evaluate()` gives their
    tractions from the mechanics' DG1 stress; `update(t)` keeps the state at the time of
    the largest normal traction."""

    def __init__(self, domain, mechanics):
        self.domain, self.mechanics = domain, mechanics
        msh = domain.msh
        tdim = msh.topology.dim
        fdim = tdim - 1
        msh.topology.create_connectivity(fdim, tdim)
        f2c = msh.topology.connectivity(fdim, tdim)
        n_owned = msh.topology.index_map(fdim).size_local
        facets = domain.facet_tags.find(FACET_TAGS["grain_boundary"])
        facets = facets[facets < n_owned]
        S = mechanics.S
        X = S.tabulate_dof_coordinates()
        nodes = compat.cell_dofs(S)
        grain = domain.grain_of_cell
        pairs, sides, normals, areas, centroids = [], [], [], [], []
        for f in facets:
            cells = f2c.links(f)
            if len(cells) != 2:
                continue
            c0, c1 = sorted(cells, key=lambda c: grain[c])
            n0, n1 = nodes[c0], nodes[c1]
            d = np.linalg.norm(X[n0][:, None, :] - X[n1][None, :, :], axis=2)
            shared0 = np.argsort(d.min(axis=1))[:3]
            shared1 = np.argmin(d[shared0], axis=1)
            v = X[n0[shared0]]
            normal = np.cross(v[1] - v[0], v[2] - v[0])
            area = np.linalg.norm(normal) / 2
            normal /= 2 * area
            if (X[n1].mean(axis=0) - v.mean(axis=0)) @ normal < 0:
                normal = -normal  # towards the higher-numbered grain
            pairs.append((grain[c0], grain[c1]))
            sides.append((n0[shared0], n1[shared1]))
            normals.append(normal)
            areas.append(area)
            centroids.append(v.mean(axis=0))
        self.pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        self.sides = np.asarray(sides, dtype=np.int64).reshape(-1, 2, 3)
        self.normals = np.asarray(normals).reshape(-1, 3)
        self.areas_m2 = np.asarray(areas)
        self.centroids_m = np.asarray(centroids).reshape(-1, 3)
        self.vertices_m = X[self.sides[:, 0]] if len(facets) else np.zeros((0, 3, 3))
        self.total_area_m2 = domain.comm.allreduce(float(self.areas_m2.sum()), op=MPI.SUM)
        self.at_max: dict | None = None  # statistics at the time of the largest t_n
        self.fields_at_max: tuple[np.ndarray, np.ndarray] | None = None  # (t_n, |t_s|) then

    def facet_stress(self) -> np.ndarray:
        """(n, 3, 3) stress at the facet centroids, the mean of both sides."""
        s = self.mechanics.stress_components.x.array.reshape(-1, 6)
        voigt = s[self.sides].mean(axis=(1, 2))
        S = np.empty((len(voigt), 3, 3))
        for k, (i, j) in enumerate(VOIGT):
            S[:, i, j] = S[:, j, i] = voigt[:, k]
        return S

    def evaluate(self) -> tuple[np.ndarray, np.ndarray]:
        """(t_n, |t_s|) in Pa on the owned facets."""
        return traction_components(self.facet_stress(), self.normals)

    def statistics(self, tn: np.ndarray, ts: np.ndarray) -> dict:
        """Area-weighted max, mean and 95th percentile of t_n and |t_s| over every rank's
        facets (collective; the same on every rank)."""
        comm = self.domain.comm
        parts = comm.allgather((tn, ts, self.areas_m2))
        tn_all = np.concatenate([p[0] for p in parts])
        ts_all = np.concatenate([p[1] for p in parts])
        area = np.concatenate([p[2] for p in parts])
        out = {"facets": int(area.size), "area_m2": float(area.sum())}
        for name, values in (("normal", tn_all), ("shear", ts_all)):
            if values.size == 0:
                continue
            out[f"{name}_max_Pa"] = float(values.max())
            out[f"{name}_mean_Pa"] = float(values @ area / area.sum())
            out[f"{name}_p95_Pa"] = weighted_percentile(values, area, 95)
        if tn_all.size:
            out["normal_min_Pa"] = float(tn_all.min())
        return out

    def update(self, t: float) -> dict:
        """Evaluate at time t; keep it if its largest normal traction is the largest yet."""
        tn, ts = self.evaluate()
        stats = self.statistics(tn, ts)
        if self.at_max is None or stats.get("normal_max_Pa", 0.0) > self.at_max.get("normal_max_Pa", 0.0):
            self.at_max = {"time_s": t, **stats}
            self.fields_at_max = (tn.copy(), ts.copy())
        return stats

    def restore(self, at_max: dict | None) -> None:
        """Continue a restarted run: the statistics at the largest t_n so far (from the
        checkpoint's `at_max`); the facet fields of that time are rank-local and not
        checkpointed, so the .vtu shows the state at the end unless a larger t_n comes."""
        self.at_max = at_max
        self.fields_at_max = None

    def summary(self) -> dict:
        """summary.json's `grain_boundaries`: the statistics at the time of the largest
        normal traction over the solved steps."""
        return {"at_max_normal_traction": self.at_max, "total_area_m2": self.total_area_m2,
                "normal_points_from": "lower- to higher-numbered grain"}

    def facets_at_max(self):
        """(vertices [m] of this rank's boundary facets, 3 per facet; t_n, |t_s| [Pa];
        grain pairs) at the time of the largest t_n (after a restart that found no larger
        one: the current state)."""
        tn, ts = self.fields_at_max if self.fields_at_max is not None else self.evaluate()
        return self.vertices_m, tn, ts, self.pairs

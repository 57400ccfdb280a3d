"""Exact distance from points to a triangulated surface (numpy + scipy's KD-tree).

Used for the depth below the particle surface that grades the Li-deficient layer on any
shape (solver/physics/domain.py). Why exact point-to-triangle distances rather than an
eikonal or heat-method solve: the layer is a few elements thick, where a PDE
approximation is least accurate (the heat method's error is largest next to the
boundary, a first-order eikonal solve smears over an element), whereas the exact distance
to the faceted surface is as good as the surface mesh itself, needs no solve, is the
same on any number of ranks (every rank holds every surface triangle) and reproduces
R - |x| on the sphere up to the facets' sagitta h^2 / (8 R).

Cost: a KD-tree over the triangle centroids; each point checks its k nearest triangles
exactly (in batches of at most MAX_PAIRS pairs, so memory stays bounded), k doubling until no unchecked triangle can be closer (a triangle whose
centroid is farther than d + r_max, r_max the largest centroid-to-vertex distance,
cannot be). Points found deeper than `exact_depth_m` stop at the first k: they may
overestimate the distance, by less than r_max (about one surface element; the first
candidate's centroid lies on its triangle). The layer is always within the exact band.
"""
from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

FIRST_CANDIDATES = 8
MAX_CANDIDATES = 64
# (point, triangle) pairs checked at once: each holds ~60 float64 temporaries, so a batch
# needs ~120 MB. Unbatched, 160k cell midpoints of a platelet (all within the exact band)
# at 64 candidates took 9.8 GB (issue 19, the pre-flight's "0.67x on the platelet").
MAX_PAIRS = 2**18


def point_triangle_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Distance from points p (n, 3) to triangles (a, b, c) (n, 3 each), row by row."""
    return np.linalg.norm(p - closest_points_on_triangles(p, a, b, c), axis=1)


def closest_points_on_triangles(p: np.ndarray, a: np.ndarray, b: np.ndarray,
                                c: np.ndarray) -> np.ndarray:
    """The point of triangle (a, b, c) nearest to p, row by row (n, 3) (closest-point
    regions of Ericson, Real-Time Collision Detection, §5.1.5)."""
    ab, ac, ap = b - a, c - a, p - a
    d1, d2 = _dot(ab, ap), _dot(ac, ap)
    bp = p - b
    d3, d4 = _dot(ab, bp), _dot(ac, bp)
    cp = p - c
    d5, d6 = _dot(ab, cp), _dot(ac, cp)
    va = d3 * d6 - d5 * d4
    vb = d5 * d2 - d1 * d6
    vc = d1 * d4 - d3 * d2
    with np.errstate(divide="ignore", invalid="ignore"):
        denom = va + vb + vc
        v = np.where(denom != 0, vb / denom, 0.0)
        w = np.where(denom != 0, vc / denom, 0.0)
        closest = a + ab * v[:, None] + ac * w[:, None]  # inside the face
        t_ab = np.clip(d1 / (d1 - d3), 0, 1)
        t_ac = np.clip(d2 / (d2 - d6), 0, 1)
        t_bc = np.clip((d4 - d3) / ((d4 - d3) + (d5 - d6)), 0, 1)
    # Ericson's tests in his order A, B, AB, C, AC, BC (the first that holds wins), so
    # applied here in reverse over the inside-face point
    ordered = [
        ((d1 <= 0) & (d2 <= 0), a),
        ((d3 >= 0) & (d4 <= d3), b),
        ((vc <= 0) & (d1 >= 0) & (d3 <= 0), a + ab * np.nan_to_num(t_ab)[:, None]),
        ((d6 >= 0) & (d5 <= d6), c),
        ((vb <= 0) & (d2 >= 0) & (d6 <= 0), a + ac * np.nan_to_num(t_ac)[:, None]),
        ((va <= 0) & (d4 - d3 >= 0) & (d5 - d6 >= 0), b + (c - b) * np.nan_to_num(t_bc)[:, None]),
    ]
    for mask, point in reversed(ordered):
        closest = np.where(mask[:, None], point, closest)
    return closest


def _dot(u, v):
    return np.einsum("ij,ij->i", u, v)


class SurfaceDistance:
    """Distance to a fixed set of triangles (m, 3, 3); call with points (n, 3)."""

    def __init__(self, triangles: np.ndarray, exact_depth_m: float = np.inf):
        self.triangles = np.asarray(triangles, dtype=float)
        centroids = self.triangles.mean(axis=1)
        self.r_max = float(np.max(np.linalg.norm(self.triangles - centroids[:, None], axis=2)))
        self.tree = cKDTree(centroids)
        self.exact_depth_m = exact_depth_m

    def __call__(self, points: np.ndarray) -> np.ndarray:
        points = np.asarray(points, dtype=float).reshape(-1, 3)
        m = len(self.triangles)
        result = np.full(len(points), np.inf)
        todo = np.arange(len(points))
        k = min(FIRST_CANDIDATES, m)
        while len(todo):
            chunk = max(1, MAX_PAIRS // k)
            left = [self._nearest(points, part, k, m, result) for part in
                    (todo[i:i + chunk] for i in range(0, len(todo), chunk))]
            todo = np.concatenate(left)
            k = min(2 * k, m)
        return result

    def _nearest(self, points, todo, k, m, result) -> np.ndarray:
        """result[todo] = the distance to the nearest of each point's k candidate
        triangles; returns the points not yet settled."""
        centroid_dist, cand = self.tree.query(points[todo], k=k)
        centroid_dist = centroid_dist.reshape(len(todo), -1)
        cand = cand.reshape(len(todo), -1)
        t = self.triangles[cand.ravel()]
        p = np.repeat(points[todo], cand.shape[1], axis=0)
        d = point_triangle_distance(p, t[:, 0], t[:, 1], t[:, 2]).reshape(cand.shape).min(axis=1)
        result[todo] = d
        settled = (k >= m) | (centroid_dist[:, -1] > d + self.r_max)
        settled |= (k >= MAX_CANDIDATES) | (d > self.exact_depth_m)
        return todo[~settled]

    def closest_point(self, point: np.ndarray) -> np.ndarray:
        """The surface point nearest to one `point` (3,), by checking every triangle."""
        t = self.triangles
        p = np.broadcast_to(np.asarray(point, dtype=float), (len(t), 3))
        best = int(np.argmin(point_triangle_distance(p, t[:, 0], t[:, 1], t[:, 2])))
        return closest_points_on_triangles(p[:1], *(t[best : best + 1, k] for k in range(3)))[0]

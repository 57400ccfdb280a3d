"""RuO2 islands on the outer surface of a 3D particle, tagged after meshing.

The islands are spherical caps (angular radius alpha) centred on points of the unit
sphere. Rather than cutting them into the Gmsh geometry, every outer-surface facet
whose midpoint lies within alpha of a centre is re-tagged `ruo2_islands` (the other
outer facets keep `outer_surface`). Island edges therefore follow the surface mesh (a
facet-sized staircase); the covered fraction actually tagged is measured and reported.
Tagging uses facet midpoints only, so it is the same on any number of ranks.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import ufl
from dolfinx import fem
from dolfinx import mesh as dmesh
from mpi4py import MPI

from meshes.markers import FACET_TAGS
from solver.physics.domain import Domain


def fibonacci_centres(count: int) -> np.ndarray:
    """`count` nearly evenly spaced unit vectors (Fibonacci / golden-angle spiral)."""
    i = np.arange(count) + 0.5
    z = 1 - 2 * i / count
    phi = np.pi * (3 - np.sqrt(5)) * i
    rho = np.sqrt(1 - z**2)
    return np.column_stack([rho * np.cos(phi), rho * np.sin(phi), z])


def random_centres(count: int, seed: int) -> np.ndarray:
    """`count` uniformly random unit vectors, reproducible from `seed`."""
    v = np.random.default_rng(seed).normal(size=(count, 3))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def island_centres(count: int, placement: str = "fibonacci", seed: int = 0,
                   shape: str = "sphere") -> np.ndarray:
    """Unit-vector centres on the full sphere. For an octant mesh (which stands for the
    mirror-symmetric full sphere) the centres inside the first octant are kept with their
    mirror images in the symmetry planes, so about `count` islands cover the full sphere
    and the pattern is symmetric as the model assumes."""
    centres = fibonacci_centres(count) if placement == "fibonacci" else random_centres(count, seed)
    if shape != "octant":
        return centres
    kept = centres[(centres >= 0).all(axis=1)]
    signs = np.array([[sx, sy, sz] for sx in (1, -1) for sy in (1, -1) for sz in (1, -1)])
    return (kept[None, :, :] * signs[:, None, :]).reshape(-1, 3)


def tag_islands(domain: Domain, centres: np.ndarray, angular_radius_rad: float) -> Domain:
    """A copy of `domain` whose outer-surface facets within `angular_radius_rad` of any
    centre carry the `ruo2_islands` tag. Collective."""
    if domain.radial:
        raise ValueError("RuO2 islands need a 3D mesh (octant or sphere)")
    msh, tags = domain.msh, domain.facet_tags
    fdim = msh.topology.dim - 1
    outer = tags.indices[tags.values == FACET_TAGS["outer_surface"]]
    values = tags.values.copy()
    if len(outer):
        mid = dmesh.compute_midpoints(msh, fdim, outer)
        mid /= np.linalg.norm(mid, axis=1, keepdims=True)
        on_island = (mid @ centres.T).max(axis=1) >= np.cos(angular_radius_rad)
        values[np.isin(tags.indices, outer[on_island])] = FACET_TAGS["ruo2_islands"]
    new_tags = dmesh.meshtags(msh, fdim, tags.indices.astype(np.int32), values.astype(np.int32))
    new_tags.name = tags.name
    return dataclasses.replace(domain, facet_tags=new_tags)


def covered_fraction(domain: Domain) -> float:
    """Tagged island area / whole outer area (collective)."""
    one = fem.Constant(domain.msh, 1.0)
    area = {
        name: domain.comm.allreduce(
            fem.assemble_scalar(fem.form(one * domain.ds(FACET_TAGS[name]))), op=MPI.SUM)
        for name in ("outer_surface", "ruo2_islands")
    }
    total = area["outer_surface"] + area["ruo2_islands"]
    return area["ruo2_islands"] / total if total > 0 else 0.0


def requested_coverage(islands) -> float:
    """The covered fraction an `oxygen.islands` section asks for: its coverage, or that
    of `count` caps of its angular radius on a sphere (overlaps ignored, at most 1)."""
    if islands.coverage is not None:
        return islands.coverage.si
    return min(1.0, islands.count * (1 - np.cos(islands.angular_radius_rad())) / 2)


def tag_islands_on_surface(domain: Domain, directions: np.ndarray, coverage: float) -> Domain:
    """Islands on the real surface of any 3D shape, covering `coverage` of its area to
    within one facet. Each island is centred on the surface point seen from the origin
    in one of the unit `directions` (the outer facet whose midpoint direction is
    nearest); a facet belongs to an island when its midpoint lies within a distance rho
    of the island's centre, one rho for all islands, chosen over the sorted facet
    distances so that the union of the islands has the requested area. Collective; the
    same facets on any number of ranks (decided on gathered midpoints and areas)."""
    from scipy.spatial import cKDTree

    from solver.physics.domain import outer_surface_triangles

    if domain.radial:
        raise ValueError("RuO2 islands need a 3D mesh")
    msh, tags = domain.msh, domain.facet_tags
    fdim = msh.topology.dim - 1
    n_owned = msh.topology.index_map(fdim).size_local
    outer = tags.indices[(tags.values == FACET_TAGS["outer_surface"]) & (tags.indices < n_owned)]
    triangles = outer_surface_triangles(domain)  # every rank: the whole surface
    midpoints = triangles.mean(axis=1)
    seen = midpoints / np.linalg.norm(midpoints, axis=1, keepdims=True)
    centres = midpoints[np.argmax(directions @ seen.T, axis=1)]
    mid = dmesh.compute_midpoints(msh, fdim, outer) if len(outer) else np.zeros((0, 3))
    distance = cKDTree(centres).query(mid)[0] if len(outer) else np.zeros(0)
    area = _facet_areas(msh, outer)
    every = np.concatenate(domain.comm.allgather(np.column_stack([distance, area])))
    every = every[np.lexsort((every[:, 1], every[:, 0]))]
    fraction = np.cumsum(every[:, 1]) / every[:, 1].sum()
    k = int(np.argmin(np.abs(fraction - coverage)))  # the k + 1 nearest facets
    rho = every[k, 0]
    values = tags.values.copy()
    island = outer[distance <= rho]
    values[np.isin(tags.indices, island)] = FACET_TAGS["ruo2_islands"]
    new_tags = dmesh.meshtags(msh, fdim, tags.indices.astype(np.int32), values.astype(np.int32))
    new_tags.name = tags.name
    return dataclasses.replace(domain, facet_tags=new_tags)


def _facet_areas(msh, facets: np.ndarray) -> np.ndarray:
    """Areas of the given local triangle facets."""
    from solver.physics.domain import facet_triangles

    p = facet_triangles(msh, facets)
    return 0.5 * np.linalg.norm(np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]), axis=1)


__all__ = ["fibonacci_centres", "random_centres", "island_centres", "tag_islands",
           "covered_fraction", "requested_coverage", "tag_islands_on_surface", "ufl"]

"""The particle as the forms see it: measures, radius, gradients and strains for the
3D meshes (octant, full sphere, the other shapes of meshes/shapes.py) and the
spherically symmetric 1D mesh alike.

In the radial mode the mesh is the interval [0, R], the unknowns depend on r only, the
volume measure carries the weight 4 pi r^2, the displacement is the scalar u_r and the
strain is diag(du/dr, u/r, u/r). Every form is written once against this interface, so
the 1D and 3D models are the same model. Integrals are always over the whole particle:
an octant's are multiplied by 8 (`symmetry_factor`).

Depth below the surface (`surface_depth`, which grades the Li-deficient layer): R - |x|
on the sphere, octant and 1D mesh; on every other shape (and on the sphere when asked,
`depth_from_distance=True`) the exact distance to the outer surface triangles, computed
on the mesh at the P1 nodes (solver/physics/surface_distance.py). There the layer is not
a Gmsh volume: cells whose midpoint lies within the layer thickness of the surface are
tagged `layer`. On those shapes `radius_m` is the equivalent radius 3 V / A and a
"radius" reported for a point (`point_radii`) is radius_m - depth, so that R - r is the
depth below the surface on every shape.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import ufl
from mpi4py import MPI

from meshes.markers import CELL_TAGS, FACET_TAGS
from solver.physics.surface_distance import SurfaceDistance

SPHERICAL = ("radial", "octant", "sphere", "secondary")  # outer surface |x| = R
OUTER_FACETS = ("outer_surface", "ruo2_islands")


@dataclass
class Domain:
    msh: object
    cell_tags: object
    facet_tags: object
    shape: str  # "radial", "octant", "sphere" or a shape of meshes/shapes.py, "imported"
    radius_m: float  # the sphere's radius; 3 V / A for the other shapes
    layer_thickness_m: float = 0.0
    coating_thickness_m: float = 0.0
    info: dict = field(default_factory=dict)
    depth_from_distance: bool | None = None  # None: True for every shape but the spheres

    def __post_init__(self):
        self.radial = self.shape == "radial"
        self.symmetry_factor = 8.0 if self.shape == "octant" else 1.0
        # a whole 3D particle (sphere or any other shape) has no Dirichlet condition:
        # the rigid-body motions are the elasticity operator's null space
        self.free_floating = self.shape not in ("radial", "octant")
        from solver import compat

        compat.settle_coordinate_element(self.msh)  # before the first form: stable signatures
        self.x = ufl.SpatialCoordinate(self.msh)
        self.r = self.x[0] if self.radial else ufl.sqrt(ufl.dot(self.x, self.x))
        self.comm: MPI.Comm = self.msh.comm
        tdim = self.msh.topology.dim
        self.msh.topology.create_connectivity(tdim - 1, tdim)
        self.spherical = self.shape in SPHERICAL
        if self.depth_from_distance is None:
            self.depth_from_distance = not self.spherical
        if self.depth_from_distance:
            self.distance_to_surface = surface_distance_from_mesh(self)
            self.distance = self._distance_function()
            self.surface_depth = self.distance - compat.constant(self.msh, self.coating_thickness_m)
            if not self.spherical:  # before the measures take the cell tags
                self.cell_tags = self._tag_layer_cells()
        else:
            self.surface_depth = compat.constant(self.msh, self.oxide_radius_m) - self.r
        # lengths as fem.Constants: one compiled form whatever their values
        self.layer_thickness = compat.constant(self.msh, self.layer_thickness_m)
        self._centre_tolerance = compat.constant(self.msh, 1e-9 * self.radius_m)
        self.dx = ufl.Measure("dx", domain=self.msh, subdomain_data=self.cell_tags)
        self.ds = ufl.Measure("ds", domain=self.msh, subdomain_data=self.facet_tags)
        self.weight = 4 * ufl.pi * self.r**2 if self.radial else 1

    # -- measures -------------------------------------------------------------------
    def volume_integral(self, expr, region: str | None = None):
        """Integrand `expr` over the particle (or one region) with the radial weight."""
        dx = self.dx if region is None else self.dx(CELL_TAGS[region])
        return expr * self.weight * dx

    def surface_integral(self, expr, surface: str = "outer_surface"):
        """Integrand `expr` over a tagged surface, by default the outer surface (weight
        4 pi R^2 in 1D)."""
        return expr * self.weight * self.ds(FACET_TAGS[surface])

    def regions_present(self) -> list[str]:
        local = set(np.unique(self.cell_tags.values).tolist())
        present = set().union(*self.comm.allgather(local))
        return [name for name, tag in CELL_TAGS.items() if tag in present]

    @property
    def oxide_radius_m(self) -> float:
        return self.radius_m - self.coating_thickness_m

    @property
    def layer_inner_radius_m(self) -> float:
        return self.oxide_radius_m - self.layer_thickness_m

    def describe_radius(self, r: float) -> str:
        """'surface', 'core_layer_interface', 'layer_coating_interface' or 'inside <region>'
        (interfaces and surface within 1e-4 R)."""
        tol = 1e-4 * self.radius_m
        if r >= self.radius_m - tol:
            return "surface"
        if self.layer_thickness_m > 0 and abs(r - self.layer_inner_radius_m) <= tol:
            return "core_layer_interface"
        if self.coating_thickness_m > 0 and abs(r - self.oxide_radius_m) <= tol:
            return "oxide_coating_interface"
        if r < self.layer_inner_radius_m:
            return "inside core"
        return "inside layer" if r < self.oxide_radius_m else "inside coating"

    # -- operators ------------------------------------------------------------------
    def grad(self, f):
        return ufl.as_vector([f.dx(0)]) if self.radial else ufl.grad(f)

    def strain(self, u, pointwise: bool = False):
        """Small strain as a 3x3 tensor (u is u_r in 1D). `pointwise=True` gives the
        form safe to evaluate at r = 0 (u/r -> du/dr there), for outputs only."""
        if self.radial:
            hoop = u / self.r
            if pointwise:
                hoop = ufl.conditional(ufl.gt(self.r, self._centre_tolerance), hoop, u.dx(0))
            return ufl.as_matrix([[u.dx(0), 0, 0], [0, hoop, 0], [0, 0, hoop]])
        return ufl.sym(ufl.grad(u))

    @property
    def displacement_shape(self):
        return None if self.radial else (self.msh.geometry.dim,)

    def radial_directions(self, points: np.ndarray) -> np.ndarray:
        """Unit radial vectors (n, 3) at points; the x axis in 1D and at the centre."""
        if self.radial:
            n = np.zeros_like(points)
            n[:, 0] = 1.0
            return n
        norm = np.linalg.norm(points, axis=1)
        n = np.zeros_like(points)
        n[:, 0] = 1.0
        nonzero = norm > 1e-12 * self.radius_m
        n[nonzero] = points[nonzero] / norm[nonzero, None]
        return n

    def point_radii(self, points: np.ndarray) -> np.ndarray:
        """|x| (x in 1D); radius_m - depth below the surface on the non-spherical shapes."""
        if self.radial:
            return np.abs(points[:, 0])
        if not self.spherical:
            return self.radius_m - self.distance_to_surface(points)
        return np.linalg.norm(points, axis=1)

    # -- distance to the surface (non-spherical shapes) -----------------------------
    def _distance_function(self):
        """P1 function d(x): the exact distance to the outer surface at every node."""
        from dolfinx import fem

        from solver import compat

        V = compat.functionspace(self.msh, "Lagrange", 1)
        d = fem.Function(V, name="distance_to_surface_m")
        d.x.array[:] = self.distance_to_surface(V.tabulate_dof_coordinates())
        return d

    def _tag_layer_cells(self):
        """Cell tags with the cells whose midpoint lies within layer_thickness_m of the
        surface (and that are not coating) re-tagged `layer`."""
        from solver import compat

        if self.layer_thickness_m <= 0:
            return self.cell_tags
        tags = self.cell_tags
        values = tags.values.copy()
        core = np.where(values == CELL_TAGS["core"])[0]
        if len(core):
            mid = compat.cell_midpoints(self.msh, tags.indices[core])
            depth = self.distance_to_surface(mid) - self.coating_thickness_m
            values[core[depth < self.layer_thickness_m]] = CELL_TAGS["layer"]
        new = compat.meshtags(self.msh, self.msh.topology.dim, tags.indices, values)
        new.name = tags.name
        return new

    def ray_points(self, count: int) -> np.ndarray:
        """`count` points from the centre to the surface along (1,1,1)/sqrt(3)
        (along r in 1D), r = 0 and r = R included. Other shapes: from the origin to
        the surface point nearest to it (the whole depth range, for a convex shape)."""
        if not self.radial and not self.spherical:
            end = self.distance_to_surface.closest_point(np.zeros(3))
            return np.linspace(0.0, 1.0, count)[:, None] * end[None, :]
        r = np.linspace(0.0, self.radius_m, count)
        pts = np.zeros((count, 3))
        if self.radial:
            pts[:, 0] = r
        else:
            pts[:] = r[:, None] / np.sqrt(3.0)
        return pts


def facet_triangles(msh, facets: np.ndarray) -> np.ndarray:
    """(n, 3, 3) vertex coordinates of the given local facets of a tetrahedral mesh."""
    from solver import compat

    tdim = msh.topology.dim
    msh.topology.create_connectivity(tdim - 1, 0)
    msh.topology.create_connectivity(tdim, 0)
    f_to_v = msh.topology.connectivity(tdim - 1, 0)
    c_to_v = msh.topology.connectivity(tdim, 0)
    vertex_map = msh.topology.index_map(0)
    node_of_vertex = np.empty(vertex_map.size_local + vertex_map.num_ghosts, dtype=np.int64)
    node_of_vertex[c_to_v.array] = compat.geometry_cells(msh)[:, : tdim + 1].ravel()
    vertices = np.array([f_to_v.links(f) for f in facets], dtype=np.int64).reshape(-1, tdim)
    return msh.geometry.x[node_of_vertex[vertices]].reshape(-1, 3, 3)


def outer_surface_triangles(domain: Domain) -> np.ndarray:
    """(m, 3, 3) vertex coordinates of every outer-surface facet of the whole mesh, the
    same array in the same order on every rank (gathered, deduplicated, sorted).
    Collective."""
    tags = domain.facet_tags
    facets = tags.indices[np.isin(tags.values, [FACET_TAGS[n] for n in OUTER_FACETS])]
    local = facet_triangles(domain.msh, facets).reshape(-1, 3)
    every = np.vstack(domain.comm.allgather(local))
    # each triangle's vertices in lexicographic order, then the triangles sorted and
    # counted once (a facet may be listed by two ranks, with its vertices in any order)
    tri = np.repeat(np.arange(len(every) // 3), 3)
    every = every[np.lexsort((every[:, 2], every[:, 1], every[:, 0], tri))]
    return np.unique(every.reshape(-1, 9), axis=0).reshape(-1, 3, 3)


def surface_distance_from_mesh(domain: Domain) -> SurfaceDistance:
    """Exact distance to the outer surface of `domain` (collective); exact to at least
    twice the layer and coating depth, within one surface element deeper."""
    triangles = outer_surface_triangles(domain)
    if len(triangles) == 0:
        raise ValueError("the mesh has no outer_surface facets to measure depths from")
    exact = 2 * (domain.layer_thickness_m + domain.coating_thickness_m)
    return SurfaceDistance(triangles, exact_depth_m=max(exact, 0.1 * domain.radius_m))

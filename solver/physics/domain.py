"""The particle as the forms see it: measures, radius, gradients and strains for the
3D meshes (octant, full sphere) and the spherically symmetric 1D mesh alike.

In the radial mode the mesh is the interval [0, R], the unknowns depend on r only, the
volume measure carries the weight 4 pi r^2, the displacement is the scalar u_r and the
strain is diag(du/dr, u/r, u/r). Every form is written once against this interface, so
the 1D and 3D models are the same model. Integrals are always over the whole particle:
an octant's are multiplied by 8 (`symmetry_factor`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import ufl
from mpi4py import MPI

from meshes.markers import CELL_TAGS, FACET_TAGS


@dataclass
class Domain:
    msh: object
    cell_tags: object
    facet_tags: object
    shape: str  # "radial", "octant" or "sphere"
    radius_m: float
    layer_thickness_m: float = 0.0
    coating_thickness_m: float = 0.0
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        self.radial = self.shape == "radial"
        self.symmetry_factor = 8.0 if self.shape == "octant" else 1.0
        self.x = ufl.SpatialCoordinate(self.msh)
        self.r = self.x[0] if self.radial else ufl.sqrt(ufl.dot(self.x, self.x))
        self.dx = ufl.Measure("dx", domain=self.msh, subdomain_data=self.cell_tags)
        self.ds = ufl.Measure("ds", domain=self.msh, subdomain_data=self.facet_tags)
        self.weight = 4 * ufl.pi * self.r**2 if self.radial else 1
        self.comm: MPI.Comm = self.msh.comm
        tdim = self.msh.topology.dim
        self.msh.topology.create_connectivity(tdim - 1, tdim)

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
                hoop = ufl.conditional(ufl.gt(self.r, 1e-9 * self.radius_m), hoop, u.dx(0))
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
        return np.abs(points[:, 0]) if self.radial else np.linalg.norm(points, axis=1)

    def ray_points(self, count: int) -> np.ndarray:
        """`count` points from the centre to the surface along (1,1,1)/sqrt(3)
        (along r in 1D), r = 0 and r = R included."""
        r = np.linspace(0.0, self.radius_m, count)
        pts = np.zeros((count, 3))
        if self.radial:
            pts[:, 0] = r
        else:
            pts[:] = r[:, None] / np.sqrt(3.0)
        return pts

"""Li transport with an interface resistance on the grain boundaries
(docs/secondary-particles.md §3, `grains.boundary_resistance`).

The site fraction is discontinuous across grain boundaries: DG1 everywhere, continuity
inside the grains imposed weakly by the symmetric interior penalty (SIPG) method, and
on every grain-boundary facet (tag `grain_boundary`) the interface law

    j = (c_from - c_to) / R_gb        (mol/m^2/s; c = c_max theta in mol/m^3, R_gb in s/m)

instead of the penalty. The interior facets get their own tags (INSIDE_GRAIN, or the
grain-boundary tag), so that no integral mixes "everywhere" with a subdomain (whose
meaning differs between UFL versions). R_gb -> 0 tends to the continuous model (tests/test_grains.py).
"""
from __future__ import annotations

import numpy as np
import ufl
from dolfinx import fem
from petsc4py import PETSc

from meshes.markers import FACET_TAGS
from solver import compat

# SIPG penalty alpha k |F| / min(|K+|, |K-|): coercive on simplices for alpha above
# (p+1)(p+d)/d times half the number of facets (Shahbazi 2005), 16/3 for P1 tetrahedra
PENALTY = 8.0
INSIDE_GRAIN = 1  # interior-facet tag of the facets that are not grain boundaries
GRAIN_BOUNDARY = FACET_TAGS["grain_boundary"]


def interior_facet_measure(domain):
    """dS with every local interior facet (two cells) tagged INSIDE_GRAIN or
    GRAIN_BOUNDARY."""
    msh = domain.msh
    tdim = msh.topology.dim
    msh.topology.create_connectivity(tdim - 1, tdim)
    f2c = msh.topology.connectivity(tdim - 1, tdim)
    n_facets = msh.topology.index_map(tdim - 1).size_local + msh.topology.index_map(tdim - 1).num_ghosts
    counts = np.diff(f2c.offsets)[:n_facets]
    facets = np.flatnonzero(counts == 2).astype(np.int32)
    values = np.full(facets.size, INSIDE_GRAIN, dtype=np.int32)
    values[np.isin(facets, domain.facet_tags.find(GRAIN_BOUNDARY))] = GRAIN_BOUNDARY
    tags = compat.meshtags(msh, tdim - 1, facets, values)
    return ufl.Measure("dS", domain=msh, subdomain_data=tags)


def interior_penalty(k, u, v, msh, dS):
    """SIPG terms of -div(k grad u) on the interior facets of measure dS."""
    n = ufl.FacetNormal(msh)
    volume = ufl.CellVolume(msh)
    inverse_h = ufl.FacetArea(msh) / ufl.min_value(volume("+"), volume("-"))
    flux = lambda w: ufl.dot(ufl.avg(k * ufl.grad(w)), n("+"))  # noqa: E731
    return (-flux(u) * ufl.jump(v) - flux(v) * ufl.jump(u)
            + PENALTY * ufl.max_value(k("+"), k("-")) * inverse_h * ufl.jump(u) * ufl.jump(v)) * dS


def interface_stiffness(domain, diffusivity, c_max, resistance_s_m: float, u, v):
    """The facet terms added to the DG1 stiffness: SIPG inside the grains, the
    resistive coupling (c_max/R_gb) [theta][v] on the grain boundaries."""
    dS = interior_facet_measure(domain)
    sipg = interior_penalty(diffusivity * c_max, u, v, domain.msh, dS(INSIDE_GRAIN))
    conductance = compat.constant(domain.msh, 1.0 / resistance_s_m)
    resistive = conductance * ufl.jump(c_max * u) * ufl.jump(v) * dS(GRAIN_BOUNDARY)
    return sipg + resistive


def on_pattern_of(K: PETSc.Mat, M: PETSc.Mat) -> PETSc.Mat:
    """M with K's nonzero pattern (the DG mass lacks the facet couplings), as
    solver/numerics/linalg.py ShiftedSystem updates K + c M on one pattern."""
    out = K.duplicate(copy=False)
    out.zeroEntries()
    out.axpy(1.0, M, structure=PETSc.Mat.Structure.SUBSET_NONZERO_PATTERN)
    return out


def drift_facets(domain, drift_flux, v):
    """The facet term of the stress-drift load for DG test functions: the average
    drift flux through the interior facets inside the grains (the grain-boundary flux
    is the interface law's)."""
    n = ufl.FacetNormal(domain.msh)
    return -ufl.dot(ufl.avg(drift_flux), n("+")) * ufl.jump(v) * interior_facet_measure(domain)(INSIDE_GRAIN)


def discontinuous_surface_dofs(V, surface_dofs_p1) -> np.ndarray:
    """DG1 dofs at the outer-surface vertices (every cell's value there): the P1 surface
    dofs (found with their ghosts by DOLFINx) marked in a P1 function and interpolated."""
    P1 = compat.functionspace(V.mesh, "Lagrange", 1)
    mark = fem.Function(P1)
    mark.x.array[surface_dofs_p1] = 1.0
    vec = compat.petsc_vec(mark)
    vec.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
    vec.ghostUpdate(addv=PETSc.InsertMode.INSERT, mode=PETSc.ScatterMode.FORWARD)
    marked = fem.Function(V)
    marked.interpolate(mark)
    return np.flatnonzero(marked.x.array > 0.5).astype(np.int32)

"""What the phase field (solver/physics/fracture.py) takes from the chemo-mechanics, shape
by shape (docs/fracture.md, "The whole particle and grain-boundary decohesion"):

- the displacement constraints: the mechanics' own (the octant's symmetry planes, u_r(0) = 0
  in 1D), or, on a whole particle (sphere, secondary particle, any 3D shape) which has
  none, six point pins that remove the rigid-body motion without loading it
  (`rigid_body_pins`: exact for the self-equilibrated eigenstrain);
- the eigenstrain: the mechanics' scalar chemical strain, or its tensor when the grains
  have an anisotropic (or tabulated) lattice strain;
- the toughness factor: 1, or the band of reduced G_c along the grain boundaries of a
  secondary particle (`fracture.grain_boundary_toughness_factor`);
- per grain boundary, the damage statistics (GrainBoundaryDamage), also handed to the
  grain-boundary tractions so that grain_boundaries.vtu carries them."""
from __future__ import annotations

from solver.physics.fracture import rigid_body_pins
from solver.physics.grain_boundary_fracture import GrainBoundaryDamage, boundary_toughness_factor


def phase_field_loading(lithium, V, grain_boundary_factor: float, length_m: float) -> dict:
    """Keyword arguments of PhaseFieldFracture: bcs, eigenstrain, toughness_factor,
    quadrature_degree."""
    mech, domain = lithium.mechanics, lithium.domain
    has_grains = hasattr(domain, "grain_of_cell")
    return {"bcs": rigid_body_pins(V) if domain.free_floating else mech._rigid_body_constraints(V),
            "eigenstrain": mech.eigenstrain,  # the mechanics' own: scalar e (eps* = e I) or tensor
            "toughness_factor": (boundary_toughness_factor(domain, grain_boundary_factor, length_m)
                                 if has_grains else 1.0),
            "quadrature_degree": quadrature_degree(lithium)}


# 3D: g(d) psi+ + psi- with P1 d (g quadratic), a P1 or P2 u (eps(u) of degree <= 1) and
# P1 theta (the eigenstrain linear per cell where c_max and Omega are cell-wise constant):
# psi of degree 2 and the integrand of degree 4, exact away from the split's bracket
# <tr eps>+ (no finite degree integrates that kink exactly). UFL's own estimate is this 4
# (14 points per cell) on the pristine octant, but 16 (729 points) on the Ru-1 one: there
# c_max(r) ~ erf(2 (R - |x|) / t) of the graded layer counts +2 for the square root and +2
# for erf, 7 for e, 14 for psi, 16 with g(d); that c_max varies over the layer's 4.5 nm
# and is nearly linear across one of its ~1 nm radial cells (docs/fracture.md, "What remains").
PHASE_FIELD_QUADRATURE_DEGREE_3D = 4


def quadrature_degree(lithium) -> int | None:
    """The phase-field forms' quadrature cap: the lattice-strain tables' 2 (their
    conditionals in theta: UFL would take ~1700 points per cell; the elastic energy of a
    P1 u and P1 theta with piecewise-linear tables is quadratic per cell), else 4 in 3D
    (above), and UFL's estimate in 1D (cheap there; u / r and the weight 4 pi r^2 are not
    polynomials of the cell)."""
    if lithium.lattice_strain is not None:
        return 2
    return None if lithium.domain.radial else PHASE_FIELD_QUADRATURE_DEGREE_3D


def boundary_damage(lithium, damage) -> GrainBoundaryDamage | None:
    """Per-boundary damage of a particle with tagged grain boundaries (None otherwise),
    also given to the boundary tractions (`.damage`) for grain_boundaries.vtu."""
    tractions = getattr(lithium, "grain_boundaries", None)
    if tractions is None:
        return None
    tracker = GrainBoundaryDamage(lithium.domain, damage)
    tractions.damage = tracker
    return tracker

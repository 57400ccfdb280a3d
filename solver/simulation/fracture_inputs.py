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
    """Keyword arguments of PhaseFieldFracture: bcs, eigenstrain, toughness_factor."""
    mech, domain = lithium.mechanics, lithium.domain
    has_grains = hasattr(domain, "grain_of_cell")
    return {"bcs": rigid_body_pins(V) if domain.free_floating else mech._rigid_body_constraints(V),
            "eigenstrain": mech.eigenstrain,  # the mechanics' own: scalar e (eps* = e I) or tensor
            "toughness_factor": (boundary_toughness_factor(domain, grain_boundary_factor, length_m)
                                 if has_grains else 1.0),
            # the tables' conditionals in theta: UFL would take ~1700 points per cell; the
            # energy of a P1 u and P1 theta with piecewise-linear tables is quadratic per cell
            "quadrature_degree": None if lithium.lattice_strain is None else 2}


def boundary_damage(lithium, damage) -> GrainBoundaryDamage | None:
    """Per-boundary damage of a particle with tagged grain boundaries (None otherwise),
    also given to the boundary tractions (`.damage`) for grain_boundaries.vtu."""
    tractions = getattr(lithium, "grain_boundaries", None)
    if tractions is None:
        return None
    tracker = GrainBoundaryDamage(lithium.domain, damage)
    tractions.damage = tracker
    return tracker

"""The `grains:` section of a case file (docs/secondary-particles.md): grain orientations
and the anisotropic lattice strain of the layered oxide, and for `geometry.shape:
secondary` the number of primary grains in the Voronoi tessellation.

    grains:
      count: 50                     # secondary particles: Voronoi cells of the sphere
      seed: 7                       # seed points and random orientations
      orientations: random          # or a list of [phi1, Phi, phi2] (Bunge, degrees), one per grain
      lattice_strain:               # optional; left out: isotropic, Omega c_max / 3
        a_axis: {value: 0.0041, source: ...}   # linear strain per unit site-fraction increase
        c_axis: {value: -0.0021, source: ...}
      boundary_resistance: 1e10 s/m # optional; left out: Li continuous across the boundaries

Kept in its own module so that solver/case/schema.py only gains the `grains` field.
"""
from __future__ import annotations

from typing import Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

from solver.case.units import quantity

Strain = quantity("")  # dimensionless, either sign
Resistance = quantity("s/m", gt=0)  # interface flux j = (c_from - c_to) / R in mol/m^2/s


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True, strict=True,
                              allow_inf_nan=False)


class LatticeStrain(_Strict):
    """Linear lattice strain per unit increase of the Li site fraction, along the
    crystal's a axes (in the layers) and its c axis (the stacking axis), in the core."""

    a_axis: Strain
    c_axis: Strain


class Grains(_Strict):
    count: int = Field(1, ge=1, le=100000, description="primary grains (geometry.shape: secondary)")
    seed: int = Field(0, ge=0, description="seed of the grain centres and of random orientations")
    orientations: Union[Literal["random"], list[list[float]]] = Field(
        "random", description="'random' (uniform on the rotations) or one Bunge Euler "
        "triple [phi1, Phi, phi2] in degrees per grain; the c axis is R e_z")
    lattice_strain: Optional[LatticeStrain] = Field(
        None, description="anisotropic eigenstrain; left out: isotropic Omega c_max / 3")
    boundary_resistance: Optional[Resistance] = Field(
        None, description="grain-boundary resistance to Li transport in s/m: the flux "
        "through a boundary is the jump of c_Li (mol/m^3) divided by it; left out: "
        "continuous (no resistance)")

    @model_validator(mode="after")
    def _one_orientation_per_grain(self):
        if self.orientations != "random" and any(len(e) != 3 for e in self.orientations):
            raise ValueError("grains.orientations: each entry is [phi1, Phi, phi2] in degrees")
        if self.orientations != "random" and len(self.orientations) != self.count:
            raise ValueError(f"grains.orientations: give one [phi1, Phi, phi2] per grain "
                             f"({self.count}); got {len(self.orientations)}")
        return self

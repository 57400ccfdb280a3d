"""The `grains:` section of a case file (docs/secondary-particles.md): grain orientations
and the anisotropic lattice strain of the layered oxide, and for `geometry.shape:
secondary` the number of primary grains in the Voronoi tessellation.

    grains:
      count: 50                     # secondary particles: Voronoi cells of the sphere
      seed: 7                       # seed points and random orientations
      orientations: random          # or a list of [phi1, Phi, phi2] (Bunge, degrees), one per grain
      lattice_strain:               # optional; left out: isotropic, Omega c_max / 3
        a_axis: {value: 0.0041, source: ...}   # linear strain per unit site-fraction increase
        c_axis:                     # or a table: the axis's strain vs the site fraction
          table: {site_fraction: [0.19, 0.67, 1.0], strain: [0.0, 0.008, 0.0]}
          source: ...
      boundary_resistance: 1e10 s/m # optional; left out: Li continuous across the boundaries

Kept in its own module so that solver/case/schema.py only gains the `grains` field.
"""
from __future__ import annotations

from typing import Annotated, Literal, Optional, Union

import numpy as np
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from solver.case.electrochemistry import MAX_POINTS, _check_same_length, _check_site_fractions, _check_source
from solver.case.units import quantity

Strain = quantity("")  # dimensionless, either sign
Resistance = quantity("s/m", gt=0)  # interface flux j = (c_from - c_to) / R in mol/m^2/s


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True, strict=True,
                              allow_inf_nan=False)


MAX_LATTICE_STRAIN = 0.2  # |strain| of a table entry: a fraction, not per cent


class StrainTable(_Strict):
    """An axis's fractional lattice strain (relative to any fixed reference lattice)
    against the Li site fraction; interpolated linearly, continued along the end segments
    beyond the ends (the numerical overshoot of theta above 1)."""

    site_fraction: list[float] = Field(min_length=2, max_length=MAX_POINTS)
    strain: list[float] = Field(min_length=2, max_length=MAX_POINTS)

    @model_validator(mode="after")
    def _checked(self):
        _check_same_length(self.site_fraction, self.strain, "strain")
        _check_site_fractions(self.site_fraction)
        for i, e in enumerate(self.strain):
            if not abs(e) < MAX_LATTICE_STRAIN:
                raise ValueError(f"strain[{i}] = {e:g} is outside (-{MAX_LATTICE_STRAIN:g}, "
                                 f"{MAX_LATTICE_STRAIN:g}) (a fraction, not per cent)")
        return self


class TabulatedStrain(_Strict):
    """`{table: {site_fraction: [...], strain: [...]}, source: ...}`."""

    table: StrainTable
    source: Optional[str] = None

    @model_validator(mode="after")
    def _sourced(self):
        _check_source(self.source)
        return self


# the union's tags start with "function-": format_validation_error leaves such parts out
# of key paths, so a message names grains.lattice_strain.c_axis.table.site_fraction
TABLE_TAG, LINEAR_TAG = "function-table", "function-linear"


def _strain_form(value) -> str:
    return TABLE_TAG if isinstance(value, dict) and "table" in value else LINEAR_TAG


AxisStrain = Annotated[Union[Annotated[TabulatedStrain, Tag(TABLE_TAG)], Annotated[Strain, Tag(LINEAR_TAG)]],
                       Discriminator(_strain_form)]


class LatticeStrain(_Strict):
    """Lattice strain along the crystal's a axes (in the layers) and its c axis (the
    stacking axis), in the core: per axis either a linear coefficient (strain per unit
    increase of the Li site fraction) or a table of the strain against the site fraction."""

    a_axis: AxisStrain
    c_axis: AxisStrain

    @property
    def tabulated(self) -> bool:
        return any(isinstance(x, TabulatedStrain) for x in (self.a_axis, self.c_axis))

    def tables(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """{"a_axis": (site_fraction, strain), "c_axis": ...}; a linear coefficient alpha is
        the exact two-point table (0, -alpha), (1, 0) (the site fraction stays in [0, 1])."""
        out = {}
        for name in ("a_axis", "c_axis"):
            x = getattr(self, name)
            if isinstance(x, TabulatedStrain):
                out[name] = (np.asarray(x.table.site_fraction, float), np.asarray(x.table.strain, float))
            else:
                out[name] = (np.array([0.0, 1.0]), np.array([-x.si, 0.0]))
        return out

    def check_window(self, low: float, high: float) -> None:
        """Each table's site fractions cover the case's window [low, high]: the data, not
        the extension of its end segments, sets the strain the run visits."""
        for name in ("a_axis", "c_axis"):
            x = getattr(self, name)
            if not isinstance(x, TabulatedStrain):
                continue
            s = x.table.site_fraction
            if s[0] > low or s[-1] < high:
                raise ValueError(
                    f"grains.lattice_strain.{name}.table.site_fraction spans [{s[0]:g}, {s[-1]:g}]; it "
                    f"must cover the case's site-fraction window [{low:g}, {high:g}] "
                    f"(lithium.min_site_fraction to lithium.initial_site_fraction)")


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

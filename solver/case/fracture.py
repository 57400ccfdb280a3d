"""The `fracture:` section of a case file (docs/fracture.md): the AT1 phase field driven by
the Li eigenstrain, read with physics [lithium, mechanics, fracture] on a 3D octant.

    fracture:
      toughness: {value: 0.4, unit: J/m^2, source: ...}   # G_c
      strength: {value: 500, unit: MPa, source: ...}      # sigma_c, or length_scale (l)
      residual_stiffness: 1e-6                            # k_res in g(d) = (1 - d)^2 + k_res
      every_steps: 5                                      # solve every 5 accepted Li steps
      split: volumetric_deviatoric                        # the only split implemented (the default)
      coupling: one_way                                   # two_way: the damage degrades the stress
      crack_diffusivity_factor: 1                         # k: D (1 + (k - 1) d) (two_way only)

Give the strength sigma_c or the length l, not both: l = 3 G_c E / (8 sigma_c^2) (E of
the core). The mesh must resolve l: l / mesh.surface >= 4 (`check_resolution`)."""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import ConfigDict, Field, model_validator

from solver.case.units import AssignmentChecked, PositiveLength, quantity

Toughness = quantity("J/m^2", gt=0)
Strength = quantity("Pa", gt=0)
ResidualStiffness = quantity("", ge=0, lt=1)
ToughnessFactor = quantity("", gt=0, le=1)
MIN_LENGTH_PER_ELEMENT = 4.0  # l / h: the AT1 tests' crack energy is 14 % high at 5, 17 % at 4


class Fracture(AssignmentChecked):
    model_config = ConfigDict(extra="forbid", validate_default=True, validate_assignment=True)

    toughness: Toughness = Field(description="G_c, the critical energy release rate")
    strength: Optional[Strength] = Field(None, description="sigma_c = sqrt(3 G_c E / (8 l)); or give length_scale")
    length_scale: Optional[PositiveLength] = Field(None, description="the phase-field length l; or give strength")
    residual_stiffness: ResidualStiffness = "1e-6"
    every_steps: int = Field(1, ge=1, le=100000, description="solve every this many accepted Li steps (and at outputs)")
    staggered_tolerance: float = Field(1e-5, gt=0, le=0.1, description="max |d_k - d_(k-1)| that ends the sweeps")
    split: Literal["volumetric_deviatoric"] = Field(
        "volumetric_deviatoric", description="the tension-compression split of the elastic energy: "
        "volumetric_deviatoric (Amor, Marigo and Maurini 2009), the only one implemented")
    grain_boundary_toughness_factor: ToughnessFactor = Field(
        "1", description="G_c on the grain boundaries / G_c, in (0, 1]: a band of width l of reduced "
        "toughness along the tagged boundary facets (secondary particles; ASSUMED, docs/fracture.md)")
    coupling: Literal["one_way", "two_way"] = Field(
        "one_way", description="two_way: the damage degrades the mechanics' stress, g(d) sigma+ + sigma- with the "
        "split (compression not degraded), with the latest accepted damage (lagged one Li step); "
        "one_way: the damage does not act back")
    crack_diffusivity_factor: float = Field(
        1.0, ge=1, le=1e6, description="k >= 1: the Li diffusivity D (1 + (k - 1) d), a fast path along the "
        "crack faces, with the latest accepted damage (lagged one Li step); needs coupling: two_way. "
        "Default 1: the damage does not change D")

    @model_validator(mode="after")
    def _strength_or_length(self):
        if (self.strength is None) == (self.length_scale is None):
            raise ValueError("fracture: give exactly one of strength (sigma_c) or length_scale (l), "
                             "e.g. {strength: 500 MPa}")
        return self

    @model_validator(mode="after")
    def _crack_path_acts_back(self):
        if self.crack_diffusivity_factor != 1 and self.coupling != "two_way":
            raise ValueError("fracture.crack_diffusivity_factor != 1 acts back on the Li transport: "
                             "it needs fracture.coupling: two_way")
        return self

    def length_scale_m(self, youngs_modulus_Pa: float) -> float:
        """l, given or from the strength: l = 3 G_c E / (8 sigma_c^2)."""
        if self.length_scale is not None:
            return self.length_scale.si
        return 3 * self.toughness.si * youngs_modulus_Pa / (8 * self.strength.si ** 2)

    def check_resolution(self, youngs_modulus_Pa: float, surface_size_m: float) -> None:
        """l / h >= 4 at the surface, where the hoop stress peaks and a crack starts."""
        ell = self.length_scale_m(youngs_modulus_Pa)
        if ell < MIN_LENGTH_PER_ELEMENT * surface_size_m * (1 - 1e-12):  # l = 4 h exactly is allowed (SI round-off)
            given = "fracture.length_scale" if self.length_scale is not None else \
                "fracture.strength (l = 3 G_c E / (8 sigma_c^2))"
            raise ValueError(
                f"{given}: the phase-field length l = {ell * 1e9:.3g} nm is less than "
                f"{MIN_LENGTH_PER_ELEMENT:g} x mesh.surface ({surface_size_m * 1e9:.3g} nm): the mesh "
                f"does not resolve the crack; refine mesh.surface to <= {ell / MIN_LENGTH_PER_ELEMENT * 1e9:.3g} nm, "
                "or raise l (lower the strength or raise the toughness)")

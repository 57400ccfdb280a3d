"""The `oxygen:` section of a case file (docs/model.md §4): mobile O2 in the oxide,
the condition on each tagged outer surface, the RuO2 capture sites and the islands.

    oxygen:
      diffusivity: {value: 1e-17, unit: m^2/s, source: ...}
      initial_concentration: "1000 mol/m^3"
      external_concentration: "0 mol/m^3"
      source: {rate: "0 mol/m^3/s", start: "0 s", end: "40 min"}    # optional
      end_time: "40 min"
      time_step: "10 s"
      surfaces:
        outer_surface: {kind: escape, rate: "6.7e-10 m/s"}
        ruo2_islands:  {kind: ruo2_capture}                           # 3D only
      ruo2: {loading_wt_percent: 0.46, ...}                          # for ruo2_capture
      islands: {count: 12, coverage: 0.3, placement: fibonacci}       # for ruo2_islands

Kept in its own module so that solver/case/schema.py only gains the `oxygen` field and the
cross-section checks.
"""
from __future__ import annotations

import math
from typing import Literal, Optional

from pydantic import ConfigDict, Field, model_validator

from solver.case.units import (
    BOLTZMANN_EV_K,
    Diffusivity,
    Concentration,
    Time,
    PositiveTime,
    Temperature,
    Density,
    quantity,
    AssignmentChecked,
)

SourceRate = quantity("mol/m^3/s", ge=0)
RateVelocity = quantity("m/s", ge=0)
Frequency = quantity("1/s", ge=0)
PositiveFrequency = quantity("1/s", gt=0)
MolarMass = quantity("kg/mol", gt=0)
SiteDensity = quantity("mol/m^2", ge=0)
AdsorptionEnergy = quantity("eV", lt=0)  # adsorption is exothermic
WeightPercent = quantity("", ge=0, lt=100)
Coverage = quantity("", gt=0, le=1)
Angle = quantity("rad", gt=0, le=math.pi / 2)
SurfaceName = Literal["outer_surface", "ruo2_islands"]


class Strict(AssignmentChecked):
    model_config = ConfigDict(extra="forbid", validate_default=True, validate_assignment=True)


class O2Source(Strict):
    """Lattice-oxygen activation as a uniform volumetric source, on in [start, end).
    With `start_at_mean_site_fraction` (cases that also run lithium) the start is the time
    at which the Li run's particle-mean site fraction falls to that value: the activation
    threshold in state of charge (solver/physics/coupling.py)."""

    rate: SourceRate
    start: Time = "0 s"
    end: Optional[Time] = None
    start_at_mean_site_fraction: Optional[quantity("", gt=0, lt=1)] = None

    @model_validator(mode="after")
    def _window(self):
        if self.end is not None and self.end.si <= self.start.si:
            raise ValueError(
                f"oxygen.source.end must be > oxygen.source.start; got {self.end.short()} "
                f"<= {self.start.short()}"
            )
        return self


class O2Surface(Strict):
    """The condition on one tagged surface.

    sink: c = c_ext; escape: -D dc/dn = rate (c - c_ext); ruo2_capture: Langmuir
    adsorption on RuO2 sites (oxygen.ruo2) plus an optional pass-through escape
    `escape_rate` (default 0: the RuO2 blocks escape)."""

    kind: Literal["sink", "escape", "ruo2_capture"]
    rate: Optional[RateVelocity] = Field(None, description="escape: exchange rate k")
    escape_rate: RateVelocity = Field("0 m/s", description="ruo2_capture: pass-through escape")

    @model_validator(mode="after")
    def _rate_for_escape(self):
        if self.kind == "escape" and self.rate is None:
            raise ValueError("rate: required when kind is 'escape' (in m/s)")
        if self.kind != "escape" and self.rate is not None:
            raise ValueError(f"rate: only for kind 'escape' (kind is {self.kind!r})")
        if self.kind != "ruo2_capture" and self.escape_rate.si > 0:
            raise ValueError("escape_rate: only for kind 'ruo2_capture'")
        return self


class RuO2(Strict):
    """RuO2 capture sites. Capacity (design, documented in solver/physics/oxygen.py):

        n_Ru = (w / (1 - w)) * rho * (4/3) pi R^3 / M_RuO2      (mol RuO2 per particle)
        Gamma_max = sites_per_Ru * n_Ru / (coverage * 4 pi R^2)  (mol O2 per m^2 of RuO2)

    with coverage the RuO2-covered fraction of the surface (1 for a shell, the islands'
    tagged fraction otherwise). `capacity` overrides the derivation (tests, studies).
    Desorption k_d = attempt_frequency * exp(adsorption_energy / (k_B T)) (negative
    energy: slower desorption); `return_rate` is the catalytic return of captured O2 to
    the lattice (1/s)."""

    loading_wt_percent: WeightPercent
    particle_density: Density
    molar_mass: MolarMass = "0.13307 kg/mol"
    sites_per_Ru: quantity("", ge=0) = "1"
    capacity: Optional[SiteDensity] = None
    adsorption_energy: AdsorptionEnergy
    attempt_frequency: PositiveFrequency = "1e13 1/s"
    temperature: Temperature = "298.15 K"
    adsorption_rate: RateVelocity
    return_rate: Frequency = "0 1/s"

    def desorption_rate_1_s(self) -> float:
        return self.attempt_frequency.si * math.exp(
            self.adsorption_energy.si / (BOLTZMANN_EV_K * self.temperature.si)
        )

    def capacity_mol_m2(self, radius_m: float, coverage: float) -> float:
        if self.capacity is not None:
            return self.capacity.si
        w = self.loading_wt_percent.si / 100
        particle_kg = self.particle_density.si * 4 / 3 * math.pi * radius_m**3
        n_ru = w / (1 - w) * particle_kg / self.molar_mass.si
        return self.sites_per_Ru.si * n_ru / (coverage * 4 * math.pi * radius_m**2)


class Islands(Strict):
    """RuO2 islands on the outer surface (3D meshes): `count` spherical caps on the full
    sphere, of angular radius `angular_radius`, or sized so that together they cover
    `coverage` (overlaps ignored). Centres: an even Fibonacci spiral, or uniform random
    from `seed`. On an octant only the centres inside it are kept, with their mirror
    images, so the pattern is mirror-symmetric as the octant model assumes (the tagged
    coverage is measured and reported)."""

    count: int = Field(ge=1, le=100000)
    angular_radius: Optional[Angle] = None
    coverage: Optional[Coverage] = None
    placement: Literal["fibonacci", "random"] = "fibonacci"
    seed: int = 0

    @model_validator(mode="after")
    def _one_size(self):
        if (self.angular_radius is None) == (self.coverage is None):
            raise ValueError("oxygen.islands: give exactly one of angular_radius and coverage")
        return self

    def angular_radius_rad(self) -> float:
        if self.angular_radius is not None:
            return self.angular_radius.si
        # a cap of angular radius a covers (1 - cos a)/2 of the sphere
        return math.acos(max(-1.0, 1 - 2 * self.coverage.si / self.count))


class Oxygen(Strict):
    diffusivity: Diffusivity
    initial_concentration: Concentration
    external_concentration: Concentration = "0 mol/m^3"
    source: Optional[O2Source] = None
    end_time: PositiveTime
    time_step: PositiveTime = Field(
        "10 s", description="largest step; each output interval is cut into equal steps"
    )
    surfaces: dict[SurfaceName, O2Surface]
    ruo2: Optional[RuO2] = None
    islands: Optional[Islands] = None

    @model_validator(mode="after")
    def _consistent(self):
        if "outer_surface" not in self.surfaces:
            raise ValueError("oxygen.surfaces.outer_surface: required key is missing")
        kinds = {s.kind for s in self.surfaces.values()}
        if "ruo2_capture" in kinds and self.ruo2 is None:
            raise ValueError("oxygen.ruo2: required when a surface has kind 'ruo2_capture'")
        if ("ruo2_islands" in self.surfaces) != (self.islands is not None):
            raise ValueError(
                "oxygen.islands and oxygen.surfaces.ruo2_islands go together (give both or neither)"
            )
        if self.time_step.si > self.end_time.si:
            raise ValueError(
                f"oxygen.time_step must be <= oxygen.end_time; got {self.time_step.short()}"
            )
        return self

"""The first-charge protocol (docs/model.md §3): galvanostatic extraction until the
surface reaches the composition floor, then a hold at the floor.

The switch is per particle: the whole outer surface switches from the flux to the hold
at the moment its lowest site fraction reaches the floor (the time stepper lands on that
moment to a tolerance of 1e-7 in site fraction). In a spherically symmetric particle the
surface is uniform, so per particle and pointwise are the same thing.
"""
from __future__ import annotations

from dataclasses import dataclass

from solver.case.schema import Case
from solver.case.units import FARADAY_C_MOL


def galvanostatic_flux_mol_m2_s(c_rate: float, current_1C_A_kg: float, density_kg_m3: float,
                                radius_m: float) -> float:
    """Outward Li flux of a sphere charged at `c_rate`: j = i_m rho R / (3 F), from the
    particle's charge balance (current = i_m * rho * 4/3 pi R^3 = F j 4 pi R^2)."""
    return c_rate * current_1C_A_kg * density_kg_m3 * radius_m / (3 * FARADAY_C_MOL)


@dataclass
class ChargeProtocol:
    flux_mol_m2_s: float
    floor_site_fraction: float
    hold_at_floor: bool
    end_time_s: float
    holding: bool = False

    @classmethod
    def from_case(cls, case: Case) -> "ChargeProtocol":
        p = case.protocol
        flux = galvanostatic_flux_mol_m2_s(
            p.c_rate.si, p.current_1C.si, case.materials.core.density.si, case.geometry.radius.si
        )
        return cls(flux, case.lithium.min_site_fraction.si, p.hold_at_floor, p.end_time.si)

    def floor_crossed(self, surface_min: float) -> bool:
        return self.hold_at_floor and not self.holding and surface_min < self.floor_site_fraction

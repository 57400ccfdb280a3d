"""The `oxygen_redox:` section of a case file (docs/model.md §10): which share of the
extracted charge oxidises lattice oxygen, where the oxidised oxygen goes, and the oxygen
vacancies its loss leaves. Read with physics [lithium, oxygen, oxygen_redox].

    oxygen_redox:
      oxygen_share: {value: 0.842, source: ...}        # f_O of the bulk above the onset
      onset: {voltage: "4.4 V", width: "0.05 V"}        # the LMCT onset (local U)
      lithium_per_formula_unit: 1.2                      # Li sites per f.u. (ICP)
      li_o_li_lithium_per_formula_unit: 0.2              # Li in the TM layer per f.u.
      dimerisation: {rate: "1e-4 1/s", onset: {voltage: "4.5 V", width: "0.05 V"},
                     surface_depth: "3 nm"}             # oxidised O -> Li2O2-like, near the surface
      release: {rate: "0.02 1/s", onset: {voltage: "4.7 V", width: "0.05 V"}}  # Li2O2 -> O2
      vacancies: {diffusivity: "1e-18 m^2/s", lithium_sites_per_vacancy: 2,
                  partial_molar_volume: "0 m^3/mol"}
      report: {depth: "20 nm", voltages: {values: [4.4, 4.6, 4.8], unit: V}}

Kept in its own module so that solver/case/schema.py only gains the field and the
cross-section checks (the onsets inside the open-circuit voltage's window)."""
from __future__ import annotations

from pydantic import ConfigDict, Field, field_validator, model_validator

from solver.case.units import (AssignmentChecked, Diffusivity, Fraction, MolarVolume, PositiveLength,
                               check_unit_of, quantity, ureg)

Voltage = quantity("V", gt=0)
Rate = quantity("1/s", ge=0)
Count = quantity("", gt=0)
SitesPerVacancy = quantity("", ge=0)


class Strict(AssignmentChecked):
    model_config = ConfigDict(extra="forbid", validate_default=True, validate_assignment=True)


class Onset(Strict):
    """A smooth switch w(U) = (1 + tanh((U - voltage)/width))/2 of the local equilibrium
    potential U."""

    voltage: Voltage
    width: Voltage = "0.05 V"


class Dimerisation(Strict):
    """Oxidised lattice oxygen -> a Li2O2-like, immobile species (the irreversible path),
    at rate k w(U) exp(-depth/surface_depth)."""

    rate: Rate
    onset: Onset
    surface_depth: PositiveLength


class Release(Strict):
    """The Li2O2-like species -> mobile O2 at rate k w(U) (each O leaves a vacancy)."""

    rate: Rate
    onset: Onset


class Vacancies(Strict):
    diffusivity: Diffusivity
    lithium_sites_per_vacancy: SitesPerVacancy = 2.0
    partial_molar_volume: MolarVolume = "0 m^3/mol"


class ReportVoltages(Strict):
    values: list[float] = Field(min_length=1, max_length=20)
    unit: str = "V"

    @field_validator("unit")
    @classmethod
    def _unit(cls, unit: str) -> str:
        return check_unit_of(unit, "V", "voltage (V or mV)")

    def si(self) -> list[float]:
        factor = ureg.Quantity(1.0, self.unit).to("V").magnitude
        return [v * factor for v in self.values]


class Report(Strict):
    depth: PositiveLength = "20 nm"
    voltages: ReportVoltages = ReportVoltages(values=[4.4, 4.6, 4.8])


class OxygenRedox(Strict):
    oxygen_share: Fraction
    onset: Onset
    lithium_per_formula_unit: Count = 1.2
    li_o_li_lithium_per_formula_unit: Count = 0.2
    oxygen_per_formula_unit: Count = 2.0
    dimerisation: Dimerisation
    release: Release
    vacancies: Vacancies
    report: Report = Report()

    @model_validator(mode="after")
    def _consistent(self):
        if self.li_o_li_lithium_per_formula_unit.si > self.lithium_per_formula_unit.si:
            raise ValueError("oxygen_redox.li_o_li_lithium_per_formula_unit must be <= "
                             f"lithium_per_formula_unit ({self.lithium_per_formula_unit.si:g}); "
                             f"got {self.li_o_li_lithium_per_formula_unit.si:g}")
        return self

    def onsets(self) -> dict[str, float]:
        """Key path -> voltage (V), for the check against the OCV's window."""
        return {"oxygen_redox.onset.voltage": self.onset.voltage.si,
                "oxygen_redox.dimerisation.onset.voltage": self.dimerisation.onset.voltage.si,
                "oxygen_redox.release.onset.voltage": self.release.onset.voltage.si}


__all__ = ["OxygenRedox", "Onset"]

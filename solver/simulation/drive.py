"""From a case to the plain objects that drive a particle: the protocol of steps, the
particle's charge balance and, when the case gives them, the surface electrochemistry
(open-circuit voltage and Butler–Volmer kinetics). The physics never sees the case."""
from __future__ import annotations

import math

from solver.case.schema import Case
from solver.physics.electrochemistry import ButlerVolmer, OpenCircuitVoltage, SurfaceReaction
from solver.physics.protocol import Particle
from solver.physics.steps import Protocol


def protocol_of_case(case: Case) -> Protocol:
    """The case's protocol as steps (solver/case/protocol_steps.py)."""
    from solver.case.protocol_steps import protocol_of

    return protocol_of(case)


def particle_of_case(case: Case) -> Particle:
    return Particle(case.materials.core.density.si, case.geometry.radius.si)


def galvanostatic_flux_of_case(case: Case) -> float:
    """The outward flux of the case's first current step (the legacy first charge)."""
    protocol = protocol_of_case(case)
    step = next(s for s in protocol.steps if s.mode == "current")
    return particle_of_case(case).flux_mol_m2_s(step.value)


def temperature_of_case(case: Case) -> float:
    return case.mechanics.temperature.si


def surface_reaction_of_case(case: Case) -> SurfaceReaction | None:
    """U(theta) and the kinetics of the core material, or None when the case gives no
    open-circuit voltage (then currents are imposed as a uniform flux, and voltage steps
    are refused)."""
    core = case.materials.core
    ocv, i0 = core.open_circuit_voltage, core.exchange_current_density
    if ocv is None or i0 is None:
        return None
    if ocv.is_table:
        curve = OpenCircuitVoltage.from_table(*ocv.arrays())
    else:
        curve = OpenCircuitVoltage.from_expression(ocv.expression, ocv.range())
    return SurfaceReaction(curve, ButlerVolmer(i0.si, core.charge_transfer_coefficient.si, temperature_of_case(case)))


def diffusivity_factor_of_case(case: Case, msh):
    """D(theta) = D f(theta) from materials.core.lithium_diffusivity_factor, or None."""
    table = case.materials.core.lithium_diffusivity_factor
    if table is None:
        return None
    from solver.physics.property_tables import DiffusivityFactor

    return DiffusivityFactor(msh, *table.arrays())


def volume_change_of_case(case: Case, msh):
    """dV/V(theta) from materials.core.volume_change (the chemical strain then follows it
    instead of partial_molar_volume), or None."""
    table = case.materials.core.volume_change
    if table is None:
        return None
    from solver.physics.property_tables import VolumeChange

    return VolumeChange(msh, *table.arrays())


def end_time_or_inf(protocol: Protocol) -> float:
    return math.inf if protocol.end_time_s is None else protocol.end_time_s


__all__ = ["protocol_of_case", "particle_of_case", "galvanostatic_flux_of_case", "surface_reaction_of_case"]


def oxygen_redox_law_of_case(case: Case):
    """The oxygen-redox law's plain parameters (solver/physics/oxygen_redox.py), or None."""
    from solver.physics.oxygen_redox import OxygenRedoxLaw, Switch

    o = case.oxygen_redox
    if o is None:
        return None

    def switch(onset):
        return Switch(onset.voltage.si, onset.width.si)

    return OxygenRedoxLaw(
        oxygen_share=o.oxygen_share.si, onset=switch(o.onset),
        lithium_per_formula_unit=o.lithium_per_formula_unit.si,
        li_o_li_lithium_per_formula_unit=o.li_o_li_lithium_per_formula_unit.si,
        oxygen_per_formula_unit=o.oxygen_per_formula_unit.si,
        dimerisation_rate_1_s=o.dimerisation.rate.si, dimerisation_onset=switch(o.dimerisation.onset),
        surface_depth_m=o.dimerisation.surface_depth.si,
        release_rate_1_s=o.release.rate.si, release_onset=switch(o.release.onset))

"""The protocol as the time loop sees it (docs/model.md §3): which step runs, what it
imposes on the particle's surface, and when it ends. One place for every kind of step
(solver/physics/steps.py): a new kind of step or end event is one branch here.

What a step imposes on the surface:
  - a current without surface kinetics: a uniform outward flux j = i_m rho R / (3 F)
    (R = 3 V / A: the particle's charge balance, any shape);
  - a current with surface kinetics: the same particle current, distributed by the local
    overpotential at one particle potential V (solver/physics/particle_potential.py);
  - a voltage (kinetics needed): V given, the current follows;
  - rest: a zero current;
  - a site fraction: the surface held at it (the legacy hold at the composition floor).

End events: each limit is a function e of the state that is positive while the step
runs and reaches 0 at the event; the time loop shortens the step that crosses 0 so that
it lands on the event (solver/simulation/chemomechanics.py). A time limit is a target
time, reached exactly. The site-fraction event of the legacy first charge is per
particle: the whole surface switches to the hold when its lowest site fraction reaches
the floor.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from solver.case.units import FARADAY_C_MOL
from solver.numerics.linalg import SolverFailure
from solver.physics.steps import Protocol, Step

# |e| at which a landing on an event is done, by limit kind (site fraction; V; relative
# to the limit for current and capacity)
EVENT_TOLERANCE = {"site_fraction": 1e-7, "voltage": 1e-7, "current": 1e-7, "capacity": 1e-9}
# a voltage hold right after a charge may start this far below the surface's open-circuit
# voltage (the charge's landing and the PCHIP curve's round-off), no further
HOLD_BELOW_OCV_TOLERANCE_V = 5e-3


class StepRefused(SolverFailure):
    """A step that cannot run from the state its predecessor left: bad input that only the
    run can find. Raised alike on every rank; the run ends `failed` with the summary's
    reason 'bad input' (`lrmo run` exits 2)."""

    reason = "bad input"


def galvanostatic_flux_mol_m2_s(c_rate: float, current_1C_A_kg: float, density_kg_m3: float,
                                radius_m: float) -> float:
    """Outward Li flux of a sphere charged at `c_rate`: j = i_m rho R / (3 F), from the
    particle's charge balance (current = i_m * rho * 4/3 pi R^3 = F j 4 pi R^2)."""
    return c_rate * current_1C_A_kg * density_kg_m3 * radius_m / (3 * FARADAY_C_MOL)


@dataclass(frozen=True)
class Particle:
    """What converts a mass-specific current into a surface flux: j = i_m rho R / (3 F),
    R = 3 V / A."""

    density_kg_m3: float
    radius_m: float

    def flux_mol_m2_s(self, current_A_kg: float) -> float:
        return galvanostatic_flux_mol_m2_s(1.0, current_A_kg, self.density_kg_m3, self.radius_m)

    def current_A_kg(self, flux_mol_m2_s: float) -> float:
        return flux_mol_m2_s * 3 * FARADAY_C_MOL / (self.density_kg_m3 * self.radius_m)

    def capacity_C_kg(self, extracted_mol_m3: float) -> float:
        """Charge per mass of Li extracted per particle volume (mol/m^3)."""
        return extracted_mol_m3 * FARADAY_C_MOL / self.density_kg_m3


@dataclass(frozen=True)
class SurfaceCondition:
    """What the running step imposes: kind 'flux' (mol/m^2/s, outward), 'hold' (site
    fraction), 'current' (with kinetics: mean outward flux, mol/m^2/s) or 'voltage' (V)."""

    kind: str
    value: float


class ProtocolDriver:
    """The running step of a Protocol, its start, and its end events."""

    def __init__(self, protocol: Protocol, particle: Particle, kinetics: bool):
        self.protocol = protocol
        self.particle = particle
        self.kinetics = kinetics
        self.index = 0
        self.step_start_s = 0.0
        self.start_values: dict = {}  # the observables when the step started
        self.step_ends: list[dict] = []  # one entry per finished step
        for i, step in enumerate(protocol.steps):
            needs = step.mode == "voltage" or any(lim.kind in ("voltage",) for lim in step.limits)
            if needs and not kinetics:
                raise ValueError(
                    f"protocol.steps[{i}] {step.text!r}: a voltage needs an open-circuit voltage and "
                    "kinetics (materials.core.open_circuit_voltage and exchange_current_density)")

    # -- the running step ------------------------------------------------------------
    @property
    def finished(self) -> bool:
        return self.index >= len(self.protocol.steps)

    @property
    def step(self) -> Step:
        return self.protocol.steps[min(self.index, len(self.protocol.steps) - 1)]

    @property
    def end_time_s(self) -> float:
        """The protocol's overall end (inf: it ends with its last step)."""
        return math.inf if self.protocol.end_time_s is None else self.protocol.end_time_s

    @property
    def holding(self) -> bool:
        """A hold (site fraction or voltage) is running."""
        return self.step.mode in ("site_fraction", "voltage")

    def surface_condition(self) -> SurfaceCondition:
        step = self.step
        if step.mode == "site_fraction":
            return SurfaceCondition("hold", step.value)
        if step.mode == "voltage":
            return SurfaceCondition("voltage", step.value)
        flux = self.particle.flux_mol_m2_s(step.value if step.mode == "current" else 0.0)
        return SurfaceCondition("current" if self.kinetics else "flux", flux)

    def step_time_limit_s(self) -> float | None:
        """The absolute time at which the running step ends by its time limit."""
        duration = self.step.limit("time")
        return None if duration is None else self.step_start_s + duration

    # -- events ------------------------------------------------------------------------
    def event_values(self, observables: dict) -> dict[str, float]:
        """e for each non-time limit of the running step: > 0 while it runs, <= 0 once
        its event is reached. `observables`: surface_min, surface_max, voltage_V,
        current_A_kg, capacity_C_kg (of the whole run, charge positive)."""
        step, start = self.step, self.start_values
        values = {}
        for lim in step.limits:
            if lim.kind == "site_fraction":
                values[lim.kind] = (observables["surface_min"] - lim.value if self._sign(lim, "surface_min") > 0
                                    else lim.value - observables["surface_max"])
            elif lim.kind == "voltage":
                values[lim.kind] = self._sign(lim, "voltage_V") * (lim.value - observables["voltage_V"])
            elif lim.kind == "current":
                values[lim.kind] = (abs(observables["current_A_kg"]) - lim.value) / lim.value
            elif lim.kind == "capacity":
                passed = abs(observables["capacity_C_kg"] - start.get("capacity_C_kg", 0.0))
                values[lim.kind] = (lim.value - passed) / lim.value
        return values

    def _sign(self, lim, key: str) -> int:
        """The side the quantity approaches its limit from: +1 for a falling site
        fraction or a rising voltage (a charge), -1 the other way (a discharge); from the
        step's direction, or for a rest or a hold from where the quantity started."""
        direction = self.step.direction
        if lim.kind == "site_fraction":
            if direction:
                return direction
            start = self.start_values.get("surface_min", 1.0)
            return 1 if start >= lim.value else -1
        if direction:
            return direction
        start = self.start_values.get(key)
        return 1 if start is None or start <= lim.value else -1

    # -- moving on ---------------------------------------------------------------------
    def start(self, t_s: float, observables: dict) -> None:
        self.step_start_s = t_s
        self.start_values = dict(observables)

    def advance(self, t_s: float, observables: dict, reason: str, surface_saturated: bool = False) -> None:
        """The running step ended at t_s by `reason` (a limit kind, 'time' or 'end');
        `surface_saturated`: a voltage cut-off reached where the surface emptied or
        filled (the state is the last one the kinetics carry, its voltage short of the
        cut-off: V runs off past it within the landing tolerance)."""
        step = self.step
        end = {"step": self.index, "text": step.text, "cycle": step.cycle, "start_s": self.step_start_s,
               "end_s": t_s, "ended_by": reason,
               "capacity_mAh_g": abs(observables.get("capacity_C_kg", 0.0)
                                     - self.start_values.get("capacity_C_kg", 0.0)) / 3600.0}
        if surface_saturated:
            end["surface_saturated"] = True
            end["last_solved_voltage_V"] = observables.get("voltage_V")
        self.step_ends.append(end)
        self.index += 1
        self.start(t_s, observables)

    def check_start(self, surface_ocv_V: float) -> None:
        """Refuse (StepRefused) a voltage hold that starts right after a charge more than
        HOLD_BELOW_OCV_TOLERANCE_V below `surface_ocv_V`, the open-circuit voltage at the
        surface's mean site fraction: it would discharge the particle, not finish its
        charge at constant voltage."""
        if self.finished or self.index == 0:
            return
        step, before = self.step, self.protocol.steps[self.index - 1]
        if step.mode != "voltage" or before.direction <= 0:
            return
        gap = surface_ocv_V - step.value
        if gap > HOLD_BELOW_OCV_TOLERANCE_V:
            raise StepRefused(
                f"protocol step {self.index + 1} {step.text!r}: {step.value:g} V is {1e3 * gap:.0f} mV "
                f"below the open-circuit voltage of the surface ({surface_ocv_V:.4g} V) where the "
                f"charge {before.text!r} ended: the hold would discharge the particle; hold at "
                "or above it (e.g. at the charge's end voltage)")

    # -- checkpoints -------------------------------------------------------------------
    def state(self) -> dict:
        return {"index": self.index, "step_start_s": self.step_start_s,
                "start_values": self.start_values, "step_ends": self.step_ends}

    def restore(self, state: dict) -> None:
        self.index = state["index"]
        self.step_start_s = state["step_start_s"]
        self.start_values = dict(state["start_values"])
        self.step_ends = [dict(e) for e in state["step_ends"]]


__all__ = ["ProtocolDriver", "StepRefused", "Particle", "SurfaceCondition", "galvanostatic_flux_mol_m2_s", "EVENT_TOLERANCE"]

"""A cycling protocol as a list of steps, each a plain parameter object (no case file,
no parsing: solver/case/protocol_steps.py reads the case's step strings into these).
They live in the case layer because the case schema builds them while validating, and
solver.case imports nothing above it (tests/test_layout.py); solver/physics/steps.py
re-exports them for the physics and the time loop.

A step drives the particle's surface in one `mode` and ends at the first of its `limits`
that is reached (the time stepper lands on that moment):

    mode "current"       the particle's current, mass-specific, in A/kg (1 mA/g = 1 A/kg);
                         value > 0 charges (Li leaves the particle), < 0 discharges
    mode "voltage"       the particle's potential against Li/Li+ in V; the current follows
    mode "rest"          no current (value 0)
    mode "site_fraction" the surface held at a site fraction (the legacy hold at the
                         composition floor: no voltage model needed)

    limit "voltage"        V: a charge ends when the voltage rises to it, a discharge when
                           it falls to it
    limit "current"        A/kg: a voltage step ends when |current| falls to it
    limit "time"           s: the step's own duration
    limit "capacity"       C/kg (1 mAh/g = 3600 C/kg): |charge passed in the step|
    limit "site_fraction"  the surface's lowest site fraction falls (charge) or its highest
                           rises (discharge) to it

Sign convention everywhere: current and capacity are positive on charge (oxidation of
the cathode, Li extraction), as a cell cycler reports a half cell's charge.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Mode = Literal["current", "voltage", "rest", "site_fraction"]
LimitKind = Literal["voltage", "current", "time", "capacity", "site_fraction"]

MODES: tuple[str, ...] = ("current", "voltage", "rest", "site_fraction")
LIMIT_KINDS: tuple[str, ...] = ("voltage", "current", "time", "capacity", "site_fraction")
MAH_PER_G_IN_C_PER_KG = 3600.0  # 1 mAh/g = 3.6 C/g = 3600 C/kg


@dataclass(frozen=True)
class Limit:
    """An end event of a step, `value` in SI (see the module docstring)."""

    kind: LimitKind
    value: float


@dataclass(frozen=True)
class Step:
    """One step of a protocol. `text`: as the user wrote it, for messages; `limits`: the
    step ends at the first one reached (a "for 30 minutes" is a time limit)."""

    text: str
    mode: Mode
    value: float = 0.0
    limits: tuple[Limit, ...] = ()
    cycle: int = 1  # which repetition of a repeated block this step belongs to (1-based)

    def limit(self, kind: str) -> float | None:
        """The value of this step's limit of `kind`, None if it has none."""
        return next((lim.value for lim in self.limits if lim.kind == kind), None)

    @property
    def direction(self) -> int:
        """+1 on charge, -1 on discharge, 0 when the sign is not known in advance
        (rest; voltage and site-fraction holds)."""
        if self.mode == "current":
            return 1 if self.value > 0 else -1
        return 0


@dataclass(frozen=True)
class Protocol:
    """The whole protocol: the steps in order (repeats already unrolled) and an optional
    overall end time in s (None: the protocol ends when its last step does)."""

    steps: tuple[Step, ...]
    end_time_s: float | None = None
    current_1C_A_kg: float | None = None
    notes: dict = field(default_factory=dict)


__all__ = ["Limit", "Step", "Protocol", "MODES", "LIMIT_KINDS", "MAH_PER_G_IN_C_PER_KG"]

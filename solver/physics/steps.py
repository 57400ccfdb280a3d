"""A cycling protocol as a list of steps (Step, Limit, Protocol): the objects and their
meaning are in solver/case/steps.py, where the case schema builds them from the case's
step strings (solver/case/protocol_steps.py); re-exported here for the physics and the
time loop, which take these parameters and never the case file."""
from __future__ import annotations

from solver.case.steps import LIMIT_KINDS, MAH_PER_G_IN_C_PER_KG, MODES, Limit, LimitKind, Mode, Protocol, Step

__all__ = ["Limit", "Step", "Protocol", "Mode", "LimitKind", "MODES", "LIMIT_KINDS", "MAH_PER_G_IN_C_PER_KG"]

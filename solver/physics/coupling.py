"""One-way coupling from the Li run to the O2 run: lattice-oxygen activation switched on
above a state of charge. The Li run records the particle-mean site fraction after every
accepted step; the O2 source starts when it first falls to the threshold (linear
interpolation between the two steps around the crossing)."""
from __future__ import annotations

from solver.case.schema import Case
from solver.case.units import Quantity


def crossing_time(history: list[tuple[float, float]], threshold: float) -> float | None:
    """First time at which the recorded value falls to `threshold`, or None."""
    for (t0, v0), (t1, v1) in zip(history, history[1:]):
        if v0 > threshold >= v1:
            return t0 + (t1 - t0) * (v0 - threshold) / (v0 - v1)
    return None


def with_activation_start(case: Case, history: list[tuple[float, float]]) -> tuple[Case, float | None]:
    """The case with oxygen.source.start set from the Li run (after the end time when the
    threshold is never reached: no source)."""
    src = case.oxygen.source
    if src is None or src.start_at_mean_site_fraction is None:
        return case, None
    t = crossing_time(history, src.start_at_mean_site_fraction.si)
    start_s = t if t is not None else 2 * case.end_time_s()
    note = (f"from the Li run: mean site fraction reached {src.start_at_mean_site_fraction.si:g}"
            if t is not None else "threshold not reached in the Li run: no source")
    start = Quantity(value=start_s, unit="s", source=note, si=start_s, si_unit="s")
    oxygen = case.oxygen.model_copy(update={"source": src.model_copy(update={"start": start})})
    return case.model_copy(update={"oxygen": oxygen}), t

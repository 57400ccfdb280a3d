"""Coupling from the Li state to the O2 source: lattice-oxygen activation switched on
below a state of charge. After every accepted Li step the loop feeds the particle-mean
site fraction; the O2 source starts when it first falls to the threshold (linear
interpolation between the two steps around the crossing)."""
from __future__ import annotations


def crossing_time(history: list[tuple[float, float]], threshold: float) -> float | None:
    """First time at which the recorded value falls to `threshold`, or None."""
    for (t0, v0), (t1, v1) in zip(history, history[1:]):
        if v0 > threshold >= v1:
            return t0 + (t1 - t0) * (v0 - threshold) / (v0 - v1)
    return None


class ActivationStart:
    """The source's start time, found as the run goes: `update(t, theta_mean)` after
    every accepted step (repeated or older times are ignored); `start_s` is None until
    the threshold is reached."""

    def __init__(self, threshold: float):
        self.threshold = threshold
        self.start_s: float | None = None
        self._last: tuple[float, float] | None = None

    def update(self, t: float, theta_mean: float) -> None:
        if self._last is not None and t <= self._last[0]:
            return
        if self.start_s is None and self._last is not None:
            self.start_s = crossing_time([self._last, (t, theta_mean)], self.threshold)
        self._last = (t, theta_mean)

    def state(self) -> dict:
        return {"start_s": self.start_s, "last": self._last}

    def restore(self, state: dict) -> None:
        self.start_s = state["start_s"]
        self._last = None if state["last"] is None else tuple(state["last"])

"""The peak stress over time with few elasticity solves (one-way coupling).

Without stress-assisted diffusion the stress is a linear function of the site fraction
and does not feed back, so it need not be solved at every step: the site fraction
(owned P1 dofs) is stored at every accepted step, and after the run the peak over the
stored steps is located by a coarse pass (about `COARSE_SAMPLES` evenly spaced steps plus
the steps already solved: output times, the switch to the hold) and a bracketing
refinement around every coarse local maximum within `REFINE_WITHIN` of the best. The
refinement is a discrete golden-section-like search (halving the larger side of the
bracket), so where the peak-over-time curve is unimodal inside a bracket it returns
exactly the step an every-step run would find.

Memory is bounded: past about `BUDGET_BYTES` on the largest rank every other stored step is dropped
(the solved ones are kept), so a very long run searches a coarser set of steps.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

COARSE_SAMPLES = 16
REFINE_WITHIN = 0.95  # refine around coarse local maxima >= this fraction of the best
BUDGET_BYTES = 512 * 2**20


class SiteFractionHistory:
    """(t, owned site-fraction copy) at the accepted steps, at most `max_count` of them
    (the same count on every rank, so that thinning stays collective)."""

    def __init__(self, max_count: int):
        self.max_count = max_count
        self.times: list[float] = []
        self.snapshots: list[np.ndarray] = []
        self.keep: list[bool] = []  # solved during the run: never thinned
        self.thinned = 0

    def __len__(self) -> int:
        return len(self.times)

    def append(self, t: float, owned: np.ndarray, keep: bool = False) -> None:
        """Store a copy (indices shift when the store is thinned: key by time)."""
        self.times.append(t)
        self.snapshots.append(owned.copy())
        self.keep.append(keep)
        if len(self.times) > self.max_count:
            self._thin()

    def _thin(self) -> None:
        """Drop every other step that is neither kept nor the last."""
        last = len(self.times) - 1
        stay = [i for i in range(len(self.times)) if self.keep[i] or i == last or i % 2 == 0]
        self.thinned += len(self.times) - len(stay)
        self.times = [self.times[i] for i in stay]
        self.snapshots = [self.snapshots[i] for i in stay]
        self.keep = [self.keep[i] for i in stay]


def search_peak(count: int, evaluate: Callable[[int], float], known: dict[int, float]) -> int:
    """Index in 0..count-1 of the largest value, with `evaluate(i)` called for few i.
    `known`: values already available (updated in place with every evaluation)."""
    values = known

    def value(i: int) -> float:
        if i not in values:
            values[i] = evaluate(i)
        return values[i]

    if count == 0:
        raise ValueError("no stored steps")
    stride = max(1, -(-count // COARSE_SAMPLES))
    for i in [*range(0, count, stride), count - 1]:
        value(i)
    coarse = sorted(values)

    def better(i: int, j: int) -> bool:  # larger, or equal and earlier (as a scan finds)
        return (values[i], -i) > (values[j], -j)

    best = max(values[i] for i in coarse)
    starts = [i for k, i in enumerate(coarse)
              if values[i] >= REFINE_WITHIN * best
              and (k == 0 or better(i, coarse[k - 1]))
              and (k == len(coarse) - 1 or better(i, coarse[k + 1]))]
    for b in starts:
        k = coarse.index(b)
        lo = coarse[k - 1] if k > 0 else b
        hi = coarse[k + 1] if k < len(coarse) - 1 else b
        _refine(lo, b, hi, value, better)
    return max(values, key=lambda i: (values[i], -i))


def _refine(lo: int, b: int, hi: int, value: Callable[[int], float], better) -> int:
    """Bracket lo <= b <= hi with b the best of the three: evaluate inside the larger
    side until both sides are a single step."""
    while b - lo > 1 or hi - b > 1:
        m = (lo + b) // 2 if b - lo >= hi - b else (b + hi + 1) // 2
        value(m)
        if better(m, b):
            lo, b, hi = (lo, m, b) if m < b else (b, m, hi)
        elif m < b:
            lo = m
        else:
            hi = m
    return b

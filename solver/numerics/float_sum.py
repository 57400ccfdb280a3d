"""A sum of floats that is the same bits whatever the floats' Python type.

Since Python 3.12 the builtin `sum()` compensates the round-off (Neumaier) of a sum of
exact Python floats, but not of NumPy floats (a float subclass), nor on Python 3.11. The
same numbers then sum to a different last bit on Debian 12 (Python 3.11) and Debian 13
(3.13), and in a run (numpy.float64) and its restart (Python floats read from JSON).
Every stored or compared sum of a few floats goes through `summed`: plain left-to-right
addition, as `sum()` did before 3.12."""
from __future__ import annotations

from collections.abc import Iterable


def summed(terms: Iterable[float]) -> float:
    """t0 + t1 + ... added left to right as Python floats (0.0 for no terms)."""
    total = None
    for t in terms:
        total = float(t) if total is None else total + float(t)
    return 0.0 if total is None else total


__all__ = ["summed"]

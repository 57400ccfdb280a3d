"""What a verification check is (computed vs expected within a tolerance) and how the
profiles a run wrote are read back; shared by the Li/stress and the O2 checks."""
from __future__ import annotations

from dataclasses import dataclass



@dataclass
class Check:
    """One comparison. `error_kind`: "relative" |computed - expected| / |expected|;
    "absolute" |computed - expected| (fractions of an initial amount, where a relative
    error near 0 would only measure a decay rate); "scaled": `computed` is already an
    error measure (e.g. the largest profile error) and `expected` its scale."""

    case: str
    quantity: str
    computed: float
    expected: float
    tolerance: float
    error_kind: str = "relative"

    @property
    def error(self) -> float:
        if self.error_kind == "absolute":
            return abs(self.computed - self.expected)
        if self.error_kind == "scaled":
            return abs(self.computed) / abs(self.expected)
        return abs(self.computed - self.expected) / abs(self.expected)

    @property
    def passed(self) -> bool:
        return self.error <= self.tolerance

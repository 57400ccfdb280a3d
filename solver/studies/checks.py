"""What a verification check is (computed vs expected within a tolerance) and how the
profiles a run wrote are read back; shared by the Li/stress and the O2 checks."""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np


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


def read_profiles(path: Path) -> dict[float, dict[str, np.ndarray]]:
    rows = list(csv.DictReader(path.open()))
    by_time: dict[float, dict[str, list]] = {}
    for row in rows:
        t = float(row["t_s"])
        entry = by_time.setdefault(t, {k: [] for k in row if k != "t_s"})
        for k, v in row.items():
            if k != "t_s":
                entry[k].append(float(v))
    return {t: {k: np.array(v) for k, v in cols.items()} for t, cols in by_time.items()}

"""Reading back the CSV tables a run writes (timeseries.csv, profiles*.csv, slices.csv):
columns of floats, and profiles grouped by output time."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np


def read_columns(path: str | Path) -> dict[str, np.ndarray]:
    """{column name: values} of a CSV file of numbers with a header line ({} if empty)."""
    with Path(path).open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows:
        return {}
    header, body = rows[0], rows[1:]
    data = np.array(body, dtype=float).reshape(len(body), len(header))
    return {name: data[:, i].copy() for i, name in enumerate(header)}


def by_time(columns: dict[str, np.ndarray], time_key: str = "t_s") -> dict[float, dict[str, np.ndarray]]:
    """{t: {column: values at t}} (without the time column), in the order of the file."""
    times = columns[time_key]
    return {float(t): {k: v[times == t] for k, v in columns.items() if k != time_key}
            for t in dict.fromkeys(times.tolist())}


def read_profiles(path: str | Path) -> dict[float, dict[str, np.ndarray]]:
    """A profiles/slices CSV grouped by output time."""
    return by_time(read_columns(path))

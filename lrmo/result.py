"""What a run gives back in Python: `Result` (summary, time series and profiles as numpy
arrays, the output folder) and the matplotlib helpers that plot them.

A Result is read from a run's output folder (the output contract, solver/io/output.py)
by rank 0 and broadcast, so every rank holds the same arrays."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np

from solver.io.tables import read_columns


class Table(dict):
    """Columns of a CSV file of a run: column name -> 1D numpy array (floats), all of one
    length, in the file's order. `table["t_s"]`, `table.columns`, `len(table)` rows."""

    @property
    def columns(self) -> list[str]:
        """The column names, in the file's order."""
        return list(self)

    def __len__(self) -> int:  # rows, not columns
        return len(next(iter(self.values()))) if dict.__len__(self) else 0

    def rows_where(self, mask: np.ndarray) -> "Table":
        """The rows where `mask` (a boolean array) is true, as a Table."""
        return type(self)({k: v[mask] for k, v in self.items()})


class Profiles(Table):
    """profiles.csv: the fields along the ray from the centre to the surface, in long
    format (one row per output time and radius): columns `t_s`, `r_m`, `c_Li_mol_m3`,
    `sigma_vm_Pa`, ... `profiles.times` lists the output times; `profiles.at(t)` gives
    the profile at the output time nearest `t` (seconds)."""

    @property
    def times(self) -> np.ndarray:
        """The output times (s) at which profiles were sampled."""
        return np.unique(self["t_s"]) if "t_s" in self else np.array([])

    def at(self, t_s: float) -> Table:
        """The profile (a Table with `r_m` and the fields) at the output time nearest `t_s`."""
        times = self.times
        if times.size == 0:
            raise ValueError("this run wrote no profiles")
        t = times[np.argmin(np.abs(times - t_s))]
        return Table({k: v for k, v in self.rows_where(self["t_s"] == t).items() if k != "t_s"})


def read_table(path: Path, kind: type = Table) -> Table:
    """A CSV file of numbers as a Table (empty if the file does not exist)."""
    return kind(read_columns(path)) if path.is_file() else kind()


def _read_folder(path: Path) -> dict:
    """Everything a Result holds, read from an output folder (on one rank)."""
    summary_file = path / "summary.json"
    data: dict[str, Any] = {
        "summary": json.loads(summary_file.read_text(encoding="utf-8")) if summary_file.is_file() else {},
        "timeseries": read_table(path / "timeseries.csv"),
        "profiles": read_table(path / "profiles.csv", Profiles),
        "slices": read_table(path / "slices.csv"),
        "tables": {p.stem: read_table(p, Profiles if p.stem.startswith("profiles") else Table)
                   for p in sorted(path.glob("*.csv"))},
        "case_yaml": (path / "case.yaml").read_text(encoding="utf-8") if (path / "case.yaml").is_file() else None,
        "oxygen": _read_folder(path / "oxygen") if (path / "oxygen" / "summary.json").is_file() else None,
    }
    return data


@dataclass(frozen=True)
class Result:
    """One run: `summary` (the dict of summary.json: status, versions, mesh, results),
    `timeseries` (a Table: one row per output time, first column `t_s`), `profiles`
    (Profiles along the ray, long format), `slices` (O2 runs: c on the plane z = 0),
    `oxygen` (a Result of `oxygen/` in folders of the former two-stage Li + O2 runs; a
    Li + O2 run now has its O2 columns in `timeseries`), `tables` (every CSV file of
    the folder by name, e.g. tables["profiles"]), `out` (the output folder, or None for
    a run kept in memory), `case` (the resolved case) and `label` (sweeps)."""

    summary: dict
    timeseries: Table
    profiles: Profiles
    out: Optional[Path] = None
    case: Any = None
    slices: Table = field(default_factory=Table)
    oxygen: Optional["Result"] = None
    tables: dict = field(default_factory=dict)
    label: str = ""

    @classmethod
    def from_folder(cls, path, comm=None, out: Path | None | bool = True, label: str = "") -> "Result":
        """Read a run's output folder (collective: rank 0 reads, every rank gets the same
        Result). `out=None` records no folder (for a temporary one)."""
        from mpi4py import MPI

        comm = comm or MPI.COMM_WORLD
        path = Path(path)
        data = comm.bcast(_read_folder(path) if comm.rank == 0 else None, root=0)
        return cls._build(data, path if out is True else out, label)

    @classmethod
    def _build(cls, data: dict, out, label: str = "") -> "Result":
        case = None
        if data["case_yaml"] is not None:
            from lrmo.api import Case

            case = Case.from_yaml(data["case_yaml"])
        oxygen = None
        if data["oxygen"] is not None:
            oxygen = cls._build(data["oxygen"], None if out is None else Path(out) / "oxygen", label)
        return cls(summary=data["summary"], timeseries=data["timeseries"], profiles=data["profiles"],
                   out=out, case=case, slices=data["slices"], oxygen=oxygen, tables=data["tables"],
                   label=label)

    @property
    def status(self) -> str:
        """completed, failed or interrupted (summary.json's status)."""
        return self.summary.get("status", "unknown")

    @property
    def stress(self) -> dict:
        """The stress results of the summary (peak_von_mises_Pa, peak_time_s,
        peak_radius_m, peak_region, peak_location, ...); ValueError for a run without mechanics."""
        if "stress" not in self.summary:
            raise ValueError(f"this run has no stress results (status {self.status}; "
                             "physics without 'mechanics'?)")
        return self.summary["stress"]

    @property
    def peak_von_mises_Pa(self) -> float:
        """The peak von Mises stress over the run (Pa)."""
        return float(self.stress["peak_von_mises_Pa"])

    @property
    def peak_time_s(self) -> float:
        """The time of the peak von Mises stress (s)."""
        return float(self.stress["peak_time_s"])

    def plot(self, kind: str = "peak", ax=None, **kwargs):
        """Plot this run with matplotlib: kind 'peak' (largest von Mises vs time, the peak
        marked: `plot_peak_vs_time`) or 'profiles' (a field along the ray at output times:
        `plot_profiles`, keyword arguments `field` and `times_s`). Returns the Axes."""
        if kind == "peak":
            return plot_peak_vs_time([self], ax=ax, **kwargs)
        if kind == "profiles":
            return plot_profiles(self, ax=ax, **kwargs)
        raise ValueError(f"kind must be 'peak' or 'profiles'; got {kind!r}")

    def __repr__(self) -> str:
        what = f"status={self.status!r}"
        if "stress" in self.summary:
            what += f", peak {self.peak_von_mises_Pa / 1e6:.1f} MPa at {self.peak_time_s / 60:.2f} min"
        if "retained_fraction" in self.summary.get("oxygen", {}):
            what += f", O2 retained {self.summary['oxygen']['retained_fraction']:.4f}"
        return f"Result({what}, out={str(self.out) if self.out else None!r})"


def _axes(ax):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(6, 4), constrained_layout=True)[1]


def plot_peak_vs_time(results, ax=None, labels=None):
    """The largest von Mises stress in the particle at each output time (MPa vs min), one
    line per Result, each run's peak (over every step, summary.json) marked with a dot.
    `labels`: one per Result (default: its label, else its case name). Returns the Axes."""
    results = [results] if isinstance(results, Result) else list(results)
    ax = _axes(ax)
    for i, r in enumerate(results):
        label = labels[i] if labels is not None else (r.label or (r.case.name if r.case is not None else f"run {i}"))
        ts = r.timeseries
        line, = ax.plot(ts["t_s"] / 60, ts["sigma_vm_max_Pa"] / 1e6, label=label)
        ax.plot([r.peak_time_s / 60], [r.peak_von_mises_Pa / 1e6], "o", color=line.get_color())
    ax.set_xlabel("time [min]")
    ax.set_ylabel("largest von Mises stress [MPa]")
    ax.legend(frameon=False)
    return ax


def plot_profiles(result: Result, field: str = "sigma_vm_Pa", times_s=None, ax=None):
    """`field` (a profiles.csv column: c_Li_mol_m3, sigma_vm_Pa, sigma_r_Pa, sigma_t_Pa,
    sigma_h_Pa, sigma_1_Pa; c_O2_mol_m3 for O2 runs) along the ray from the centre to the
    surface, at the output times nearest `times_s` (default: the output time nearest the
    peak, and 4 evenly spaced ones). Stresses in MPa, radius in nm. Returns the Axes."""
    ax = _axes(ax)
    if times_s is None:
        times = result.profiles.times
        times_s = list(times[np.linspace(0, len(times) - 1, 5).astype(int)][1:])
        if "stress" in result.summary:
            times_s.append(result.peak_time_s)
    name, scale, unit = field, 1.0, ""
    for suffix, factor, shown in (("_Pa", 1e-6, "MPa"), ("_mol_m3", 1.0, "mol/m^3")):
        if field.endswith(suffix):
            name, scale, unit = field[: -len(suffix)], factor, shown
    for t in sorted(set(times_s)):
        prof = result.profiles.at(t)
        t_out = result.profiles.times[np.argmin(np.abs(result.profiles.times - t))]
        ax.plot(prof["r_m"] * 1e9, prof[field] * scale, label=f"{t_out / 60:.1f} min")
    ax.set_xlabel("radius [nm]")
    ax.set_ylabel(f"{name} [{unit}]" if unit else name)
    ax.legend(frameon=False)
    return ax

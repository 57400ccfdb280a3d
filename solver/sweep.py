"""`lrmo sweep SERIES.yaml`: run the members of a series (a base case plus overrides per
member). Under `mpirun -n N` the ranks are split into min(N, members) sub-communicators
and the members are shared among them; each member's output folder is as for `lrmo run`.
"""
from __future__ import annotations

from pathlib import Path

import yaml
from mpi4py import MPI
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from solver.case import CaseError, format_validation_error, load_case
from solver.log import Log
from solver.output import OutputFolder
from solver.run import run_case


class Member(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    label: str = ""
    variable: float | None = Field(None, description="the series variable's value")
    set: list[str] = []


class Series(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    base: str = Field(description="base case file, relative to the series file")
    variable: str = Field("", description="name and unit of the series variable")
    scaling: str = Field("", description="how the members differ, in words, with sources")
    members: list[Member] = Field(min_length=1)


def load_series(path: str | Path) -> tuple[Series, Path]:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
        series = Series.model_validate(raw)
    except FileNotFoundError:
        raise CaseError(f"{path}: no such series file") from None
    except ValidationError as exc:
        raise CaseError(format_validation_error(exc, Series)) from None
    return series, path.parent / series.base


def run_series(path: str | Path, out_dir: str | Path, comm: MPI.Comm = MPI.COMM_WORLD,
               log: Log | None = None) -> list[dict]:
    """Run every member; returns [{name, label, variable, summary}] on every rank."""
    log = log or Log(comm)
    series, base = load_series(path)
    cases = [load_case(base, m.set) for m in series.members]  # all inputs checked first
    groups = min(comm.size, len(cases))
    color = comm.rank % groups
    sub = comm.Split(color, comm.rank)
    sizes = comm.allgather(sub.size if sub.rank == 0 else 0)
    for i, member in enumerate(series.members):  # the plan, printed once by rank 0
        log.info(f"  {series.name}: {member.name} on group {i % groups} "
                 f"({sum(sizes[r] for r in range(i % groups, comm.size, groups))} rank(s))")
    mine = []
    for i, (member, case) in enumerate(zip(series.members, cases)):
        if i % groups != color:
            continue
        summary = run_case(case.model_copy(update={"name": member.name}), Path(out_dir) / member.name,
                           sub, Log(sub, quiet=True))
        mine.append((i, summary if sub.rank == 0 else None))
    sub.Free()
    gathered = comm.allgather(mine)
    summaries = {i: s for part in gathered for i, s in part if s is not None}
    results = [
        {"name": m.name, "label": m.label, "variable": m.variable, "summary": summaries[i]}
        for i, m in enumerate(series.members)
    ]
    OutputFolder(out_dir, comm, fields=False).write_json(
        "series.json", {"series": series.model_dump(), "members": results})
    return results

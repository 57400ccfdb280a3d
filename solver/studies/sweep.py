"""`lrmo sweep SERIES.yaml`: run the members of a series (a base case plus overrides per
member). Under `mpirun -n N` the ranks are split into min(N, members) sub-communicators
and the members are shared among them; each member's output folder is as for `lrmo run`.

SIGTERM/SIGINT stop the series: the running members stop as `lrmo run` does (at their
next accepted step with a checkpoint, or before their first step without one), the
members not started yet are `not run`. `restart=True` (`lrmo sweep ... --restart`)
continues only the unfinished members: a member whose folder holds a completed run of
the same case is kept; one with a checkpoint of its case continues from it; any other
runs again from the start (docs/batch-jobs.md).
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from mpi4py import MPI
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from solver.case.schema import PLAIN_NAME, CaseError, format_validation_error, load_case
from solver.case.loading import clip, read_yaml_file
from solver.io import rank_errors
from solver.io.log import Log
from solver.io.output import OutputFolder
from solver.simulation import checkpoint
from solver.simulation.run import run_case

KEPT, RESTARTED, RUN = "kept", "restarted", "run"


class Member(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
    name: str = Field(pattern=PLAIN_NAME)
    label: str = ""
    variable: float | None = Field(None, description="the series variable's value")
    set: list[str] = []


class Series(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
    name: str = Field(pattern=PLAIN_NAME)
    description: str = ""
    base: str = Field(description="base case file, relative to the series file")
    variable: str = Field("", description="name and unit of the series variable")
    scaling: str = Field("", description="how the members differ, in words, with sources")
    members: list[Member] = Field(min_length=1, max_length=10000)


def load_series(path: str | Path) -> tuple[Series, Path]:
    path = Path(path)
    raw = read_yaml_file(path, "series")  # the case files' bounded reading
    if not isinstance(raw, dict):
        raise CaseError(f"{clip(str(path), 200)}: a series file must be a mapping")
    try:
        series = Series.model_validate(raw)
    except ValidationError as exc:
        raise CaseError(format_validation_error(exc, Series)) from None
    counts = Counter(m.name for m in series.members)
    twice = sorted(n for n, k in counts.items() if k > 1)
    if twice:
        raise CaseError(f"members: names must be unique (each is a folder); {clip(', '.join(twice))} given twice")
    return series, path.parent / series.base


def _member_case(base: Path, index: int, member: Member):
    """The member's case; a refusal names the member."""
    try:
        return load_case(base, member.set)
    except CaseError as exc:
        raise CaseError(f"members.{index} ({member.name}): {exc}") from None


def member_plan(case, out: Path, comm: MPI.Comm, restart: bool) -> str:
    """What a (re)started sweep does with a member: KEPT (its folder holds a completed
    run of this very case), RESTARTED (a checkpoint to continue from) or RUN (from the
    start). Collective over the member's communicator."""
    if not restart:
        return RUN
    plan = None
    if comm.rank == 0:
        import json

        from solver.case.schema import dump_case_yaml

        try:
            done = (json.loads((out / "summary.json").read_text(encoding="utf-8")).get("status") == "completed"
                    and (out / "case.yaml").read_text(encoding="utf-8") == dump_case_yaml(case))
        except (OSError, ValueError, AttributeError):
            done = False
        plan = KEPT if done else None
    plan = comm.bcast(plan, root=0)
    if plan is None:
        plan = RESTARTED if checkpoint.exists(out, comm) else RUN
    return plan


def _kept_summary(out: Path, comm: MPI.Comm) -> dict:
    import json

    return comm.bcast(json.loads((out / "summary.json").read_text(encoding="utf-8")) if comm.rank == 0 else None)


def _run_member(case, out: Path, sub: MPI.Comm, restart: bool = False, restart_command: str | None = None) -> dict:
    """run_case, with any error of the member (a mesh or output error, say) recorded as
    a failed member rather than ending the series, once every rank of the member's
    communicator has raised one (solver/io/rank_errors.py); an error on some of its ranks
    only is raised (the caller aborts the run: the other ranks wait in a collective call);
    a SolverFailure already gives a failed summary. `restart`: continue
    from the member's checkpoint; one that is refused (of another case or mesh) is run
    from the start instead."""
    log = Log(sub, quiet=True)
    try:
        if restart:
            try:
                return run_case(case, out, sub, log, restart=True, restart_command=restart_command)
            except checkpoint.RestartRefused:
                pass
        return run_case(case, out, sub, log, restart_command=restart_command)
    except Exception as exc:  # noqa: BLE001 (one member's failure is recorded, the series goes on)
        if rank_errors.agree(exc, sub) is None:
            raise
        summary = {"status": "failed", "case": case.name, "n_ranks": sub.size,
                   "message": clip(f"{type(exc).__name__}: {exc}", 2000)}
        if sub.rank == 0:
            import contextlib
            import json

            from solver.io.output import OutputError, prepare_folder, write_atomic

            with contextlib.suppress(OutputError):
                prepare_folder(out)
                write_atomic(out / "summary.json", json.dumps(summary, indent=2) + "\n")
        return summary


def run_series(path: str | Path, out_dir: str | Path, comm: MPI.Comm = MPI.COMM_WORLD,
               log: Log | None = None, restart: bool = False, restart_command: str | None = None) -> list[dict]:
    """Run every member (with `restart`, the unfinished ones); returns [{name, label,
    variable, summary}] on every rank. `restart_command`: how to continue the series
    after a signal (quoted in the interrupted members' summaries)."""
    log = log or Log(comm)
    series, base = load_series(path)
    cases = [_member_case(base, i, m) for i, m in enumerate(series.members)]  # all checked first
    groups = min(comm.size, len(cases))
    color = comm.rank % groups
    sub = comm.Split(color, comm.rank)
    sizes = comm.allgather(sub.size if sub.rank == 0 else 0)
    for i, member in enumerate(series.members):  # the plan, printed once by rank 0
        log.info(f"  {series.name}: {member.name} on group {i % groups} "
                 f"({sum(sizes[r] for r in range(i % groups, comm.size, groups))} rank(s))")
    mine = []
    with checkpoint.StopRequests() as stops:  # a signal between two members ends the series too
        for i, (member, case) in enumerate(zip(series.members, cases)):
            if i % groups != color:
                continue
            if stops.requested(sub) is not None:
                break
            out = Path(out_dir) / member.name
            case = case.model_copy(update={"name": member.name})
            plan = member_plan(case, out, sub, restart)
            if restart:  # on the group's first rank
                Log(sub).info(f"  {series.name}: {member.name}: " + {
                    KEPT: "completed before, kept", RESTARTED: "continuing from its checkpoint",
                    RUN: "running from the start"}[plan])
            if plan == KEPT:
                summary = _kept_summary(out, sub)
            else:
                summary = _run_member(case, out, sub, plan == RESTARTED, restart_command)
            mine.append((i, summary if sub.rank == 0 else None))
            if summary["status"] == "interrupted":  # SIGTERM/SIGINT: stop this group's members
                break
    sub.Free()
    gathered = comm.allgather(mine)
    summaries = {i: s for part in gathered for i, s in part if s is not None}
    results = [
        {"name": m.name, "label": m.label, "variable": m.variable,
         "summary": summaries.get(i, {"status": "not run", "message": "the series was interrupted"})}
        for i, m in enumerate(series.members)
    ]
    OutputFolder(out_dir, comm, fields=False).write_json(
        "series.json", {"series": series.model_dump(), "members": results})
    return results

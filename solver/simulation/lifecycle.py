"""The one life cycle of a run: every case, whatever its physics, goes through
`run_sequence`.

    StopRequests  from the start: SIGTERM/SIGINT stop the run at its next accepted step,
              or right after meshing / after the build (before the first step: no
              checkpoint, the message says to run again); the first signal never cuts a
              JIT compile half-way
    restart?  read the checkpoint, mesh, build, read its arrays: every check before the
              folder is touched (RestartRefused otherwise)
    RunRecord case.yaml and a `running` summary
    mesh      (a fresh run)
    build     the simulation (its forms compiled), or restore it from the checkpoint
    outputs   the tables, the field writer and the observer (`RunPlan.outputs`)
    run       with the progress bar and the checkpoint saver
    close     completed or failed: `record.close()`; interrupted: a checkpoint is
              written and `close_interrupted`; then the PETSc objects are released

What differs between physics is a `RunPlan`: how to build the simulation from the
domain, its node order and dofs, its outputs and how it runs."""
from __future__ import annotations

import gc
from pathlib import Path
from typing import Any, Callable, Protocol

from mpi4py import MPI

from solver.case.schema import Case, dump_case_yaml
from solver.io.fields_io import FieldWriter, write_tags
from solver.io.log import Log
from solver.io.output import RunRecord
from solver.numerics import linalg
from solver.physics.domain import Domain
from solver.simulation import checkpoint
from solver.simulation.domain_setup import build_domain


class RunPlan(Protocol):
    """What a run needs from its physics; the life cycle does the rest."""

    label: str  # in the log lines, e.g. "" or " (oxygen)"

    def build(self, domain: Domain) -> Any:
        """The simulation on `domain` (its `domain`, `t`, `state`, `restore`)."""

    def order(self, sim) -> checkpoint.NodeOrder: ...

    def dofs(self, sim) -> dict: ...

    def describe(self, sim) -> str:
        """The rest of the log line after the dofs and ranks."""

    def outputs(self, record: RunRecord, sim, restarted: bool) -> tuple[dict[str, list], Callable]:
        """(the tables a checkpoint carries, `observe(t, sim)`); may set `record.writer`."""

    def end_time_s(self, sim) -> float | None: ...

    def advance(self, sim, observe, progress, save) -> dict:
        """Run to the end; the results for the summary."""

    def finish(self, record: RunRecord, sim, save) -> None:
        """After a completed run, before the record closes (may still be interrupted)."""


def field_writer(record: RunRecord, domain: Domain, fields: dict, case: Case, restarted: bool,
                 tagged: Domain | None = None) -> FieldWriter:
    """The run's field files in fields.partial/: `fields`, or after the n-th restart
    `fields_restart<n>` (the earlier files stay as they were); beside them mesh_tags.xdmf,
    the facet tags of `tagged` (default `domain`; the O2 domain carries the RuO2 islands)."""
    stem = f"fields_restart{len(record.summary['restarts'])}" if restarted else "fields"
    writer = FieldWriter(record.folder.partial_fields_dir, domain, fields, stem, case.output.length_unit)
    write_tags(record.folder.partial_fields_dir, tagged or domain, case.output.length_unit)
    return writer


def release(sim) -> None:
    """Free the run's PETSc objects and its garbage (solver objects refer to each other
    in cycles): many runs in one process (sweeps) then keep a flat memory."""
    linalg.release(sim)
    gc.collect()


def run_sequence(case: Case, out_dir: str | Path, comm: MPI.Comm, log: Log, plan: RunPlan,
                 restart: bool = False, restart_command: str | None = None,
                 domain: Domain | None = None) -> dict:
    """Run `case` with `plan` into `out_dir`; returns the summary (the same on every
    rank). Solver failures end in status `failed`; a stop request in status
    `interrupted` with a checkpoint and `restart_command`. `domain`: an already meshed
    particle (not meshed again)."""
    out_dir = Path(out_dir)
    restart_command = restart_command or f"lrmo run CASE.yaml --out {out_dir} --restart"
    name = f"lrmo run {case.name}{plan.label}"
    saved = sim = None
    with checkpoint.StopRequests() as stops:  # from the start: meshing and JIT included
        if restart:  # every check before the folder is touched
            saved = checkpoint.read_state(out_dir, case, comm)
            log.info(f"{name}: restarting from the checkpoint at t = {saved['t_s']:.6g} s "
                     f"(written on {saved['n_ranks']} rank(s))")
            if domain is None:
                log.info(f"{name}: meshing ({case.geometry.shape})")
                domain = build_domain(case, comm)
            sim = plan.build(domain)
            order = plan.order(sim)
            arrays = checkpoint.read_arrays(saved, order, sim.domain.info)
        record = RunRecord(out_dir, dump_case_yaml(case), case.name, comm, resume=restart)
        summary = record.summary
        interrupted = None
        with record.guard(log):
            try:
                stage = "set-up"
                stops.check(comm, stage)  # e.g. held back by the CLI while it loaded
                if saved is None and domain is None:
                    log.info(f"{name}: meshing ({case.geometry.shape})")
                    domain = build_domain(case, comm, record.folder.path / "mesh")
                    stage = "meshing"
                stops.check(comm, stage)
                if saved is None:
                    sim = plan.build(domain)  # the forms are compiled here (JIT)
                    stops.check(comm, "set-up")
                    summary["mesh"] = sim.domain.info
                    order = plan.order(sim)
                    summary["dofs"] = plan.dofs(sim)
                else:
                    checkpoint.resume_summary(record, saved)
                    sim.restore(saved["sim"], arrays)
                log.info(f"  dofs: {summary['dofs']}, ranks: {comm.size}, {plan.describe(sim)}")
                tables, observe = plan.outputs(record, sim, saved is not None)
                if saved is not None:
                    checkpoint.resume_rows(record, saved, tables)
                save = checkpoint.saver(case, record, order, stops, sim.t, tables)
                with log.progress_bar(plan.end_time_s(sim), "simulated s", start=sim.t) as progress:
                    summary.update(plan.advance(sim, observe, progress, save))
                    plan.finish(record, sim, save)
            except checkpoint.Interrupted as exc:
                interrupted = exc
            except KeyboardInterrupt:  # a second SIGINT; in parallel the other ranks may wait
                if comm.size > 1:
                    raise
                interrupted = checkpoint.Interrupted(None, "SIGINT", checkpoint.Interrupted.AT_ONCE)
        if sim is not None:
            release(sim)
        if interrupted is not None:
            return checkpoint.close_interrupted(record, interrupted, restart_command, log)
        return record.close()


__all__ = ["RunPlan", "run_sequence", "field_writer", "release"]

"""`lrmo run`: case -> mesh -> simulation -> output folder (the output contract in
solver/io/output.py). The only module that connects physics and files."""
from __future__ import annotations

import contextlib
from pathlib import Path

from mpi4py import MPI

from solver.simulation import checkpoint
from solver.numerics import linalg
from solver.case.schema import Case, dump_case_yaml
from solver.simulation.chemomechanics import ChemoMechanics
from solver.simulation.domain_setup import build_domain
from solver.io.fields_io import FieldWriter
from solver.io.log import Log
from solver.io.output import RunRecord, watchable
from solver.io.probes import RayProbe

PROFILE_COLUMNS = ("c_Li_mol_m3", "sigma_vm_Pa", "sigma_r_Pa", "sigma_t_Pa", "sigma_h_Pa", "sigma_1_Pa")


def degrees_of_freedom(sim: ChemoMechanics) -> dict:
    def global_size(V):
        return V.dofmap.index_map.size_global * V.dofmap.index_map_bs

    dofs = {"lithium": global_size(sim.lithium.V)}
    if sim.mechanics is not None:
        dofs["displacement"] = global_size(sim.mechanics.V)
    return dofs


def run_case(case: Case, out_dir: str | Path, comm: MPI.Comm = MPI.COMM_WORLD, log: Log | None = None,
             restart: bool = False, restart_command: str | None = None) -> dict:
    """Run a case into `out_dir`; returns the summary (the same on every rank).
    Raises nothing for solver failures: the summary says `failed`. `restart`: continue
    from the checkpoint in `out_dir` (RestartRefused, a ValueError, if there is none or
    it is of another case or mesh; nothing is touched then). SIGTERM/SIGINT end the run
    at its next accepted step with a checkpoint and the summary `interrupted`, which
    quotes `restart_command`."""
    log = log or Log(comm)
    if "lithium" not in case.physics:  # oxygen only
        from solver.simulation.run_oxygen import run_oxygen_case

        return run_oxygen_case(case, out_dir, comm, log, restart=restart, restart_command=restart_command)
    out_dir = Path(out_dir)
    restart_command = restart_command or f"lrmo run CASE.yaml --out {out_dir} --restart"
    saved = None
    if restart:  # every check before the folder is touched
        saved = checkpoint.read_state(out_dir, case, comm)
        log.info(f"lrmo run {case.name}: restarting from the checkpoint at t = {saved['t_s']:.6g} s "
                 f"(written on {saved['n_ranks']} rank(s)); meshing ({case.geometry.shape})")
        domain = build_domain(case, comm)
        sim = ChemoMechanics(case, domain)
        order = checkpoint.NodeOrder(sim.lithium.V)
        arrays = checkpoint.read_arrays(saved, order, domain.info)
    record = RunRecord(out_dir, dump_case_yaml(case), case.name, comm, resume=restart)
    summary = record.summary
    interrupted = None
    with record.guard(log), contextlib.ExitStack() as stack:
        if saved is None:
            log.info(f"lrmo run {case.name}: meshing ({case.geometry.shape})")
            domain = build_domain(case, comm, record.folder.path / "mesh")
            stops = stack.enter_context(checkpoint.StopRequests())  # after Gmsh (see there)
            summary["mesh"] = domain.info
            sim = ChemoMechanics(case, domain)
            order = checkpoint.NodeOrder(sim.lithium.V)
            summary["dofs"] = degrees_of_freedom(sim)
        else:
            stops = stack.enter_context(checkpoint.StopRequests())
            checkpoint.resume_summary(record, saved)
            sim.restore(saved["sim"], arrays)
        log.info(f"  dofs: {summary['dofs']}, ranks: {comm.size}, flux {sim.protocol.flux_mol_m2_s:.4g} mol/m2/s")
        probe = RayProbe(domain, case.output.profile_points)
        columns = [c for c in PROFILE_COLUMNS if c in sim.output_fields]
        tables = {"profiles.csv": record.table("profiles.csv", ["t_s", "r_m", *columns])}
        profiles = tables["profiles.csv"]
        if saved is not None:
            checkpoint.resume_rows(record, saved, tables)
        if case.output.fields and sim.t < sim.protocol.end_time_s:
            stem = f"fields_restart{len(summary['restarts'])}" if saved else "fields"
            record.writer = FieldWriter(record.folder.partial_fields_dir, domain, sim.output_fields, stem)

        def observe(t: float, s: ChemoMechanics) -> None:
            record.timeseries.append(s.scalars(t))
            values = probe.sample([s.output_fields[c] for c in columns])
            if values is not None:
                profiles.extend([[t, r, *v] for r, v in zip(probe.radii_m, values)])
            if record.writer is not None:
                record.writer.write(t)
            if watchable(len(record.timeseries)):
                record.write_timeseries()  # a running job can be watched
            st = s.stats
            log.progress_note(
                f"  t = {t:9.4g} s  steps {st.steps:5d} (rejected {st.rejected})  "
                f"Krylov/step: Li {st.lithium_iterations / max(st.steps, 1):.1f}, elasticity "
                f"{st.elasticity_iterations / max(st.steps, 1):.1f}  "
                f"ms/step {1e3 * (st.wall_lithium_s + st.wall_mechanics_s) / max(st.steps, 1):.1f}"
            )

        save = checkpoint.saver(case, record, order, stops, sim.t, tables)
        with log.progress_bar(case.protocol.end_time.si, "simulated s", start=sim.t) as advance:
            try:
                summary.update(sim.run(observe, lambda t: advance(t, sim.progress_text), checkpoint=save))
                if sim.grain_boundaries is not None:  # tractions at their largest, for ParaView
                    sim.grain_boundaries.write_vtu(record.folder.path / "grain_boundaries.vtu")
                if "oxygen" in case.physics:  # a restart in the O2 stage starts after Li
                    save(sim, force=True)
            except checkpoint.Interrupted as exc:
                interrupted = exc
    if interrupted is not None:
        _release(locals().get("sim"))
        return checkpoint.close_interrupted(record, interrupted, restart_command, log)
    if "oxygen" in case.physics and summary["status"] == "completed":
        # both physics: O2 runs after Li on the same mesh, into <out>/oxygen/; the only
        # coupling is the source start from the state of charge (solver/physics/coupling.py)
        from solver.simulation.run_oxygen import run_oxygen_case

        from solver.physics.coupling import with_activation_start

        o2_case, activation_s = with_activation_start(case, sim.mean_site_fraction_history)
        o2_dir = record.folder.path / "oxygen"
        o2 = run_oxygen_case(o2_case, o2_dir, comm, log, domain=domain, restart_command=restart_command,
                             restart=restart and checkpoint.exists(o2_dir, comm))
        if o2_case.oxygen.source is not None:
            summary["oxygen_source_start_s"] = o2_case.oxygen.source.start.si
            summary["oxygen_activation_reached"] = activation_s is not None
        summary["oxygen"] = o2.get("oxygen", {"status": o2["status"], "message": o2.get("message")})
        if o2["status"] == "interrupted":  # the fields stay in fields.partial/ for the restart
            summary.update({k: o2[k] for k in ("status", "restart_command", "message")})
            summary["t_reached_s"] = {"lithium": sim.t, "oxygen": o2["t_reached_s"]}
            _release(sim)
            return record.close(publish_fields=False)
    _release(locals().get("sim"))
    return record.close()


def _release(sim) -> None:
    """Free the run's PETSc objects and its garbage (solver objects refer to each other
    in cycles): many runs in one process (sweeps) then keep a flat memory."""
    import gc

    linalg.release(sim)
    gc.collect()


__all__ = ["run_case"]

"""`lrmo run`: case -> mesh -> simulation -> output folder (the output contract in
solver/io/output.py). The only module that connects physics and files."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from mpi4py import MPI

from solver.simulation import checkpoint
from solver.case.schema import Case
from solver.simulation.chemomechanics import ChemoMechanics
from solver.simulation.lifecycle import field_writer, run_sequence
from solver.io.fields_io import FieldWriter, region_function
from solver.io.grain_boundary_file import write_grain_boundaries
from solver.io.log import Log
from solver.io.output import RunRecord, remove_entry, root_collective, watchable
from solver.io.probes import RayProbe, gather_rows, on_ray, sort_ray_rows

PROFILE_COLUMNS = ("c_Li_mol_m3", "sigma_vm_Pa", "sigma_r_Pa", "sigma_t_Pa", "sigma_h_Pa", "sigma_1_Pa")
PEAK_PROFILES = "profiles_at_peak.csv"  # the ray at the peak's own time (docs/paraview.md)
PEAK_FIELDS = "fields_at_peak"  # .xdmf + .h5 in the output folder


def degrees_of_freedom(sim: ChemoMechanics) -> dict:
    def global_size(V):
        return V.dofmap.index_map.size_global * V.dofmap.index_map_bs

    dofs = {"lithium": global_size(sim.lithium.V)}
    if sim.mechanics is not None:
        dofs["displacement"] = global_size(sim.mechanics.V)
    return dofs


class LithiumPlan:
    """The Li/stress physics in the run life cycle (solver/simulation/lifecycle.py)."""

    label = ""

    def __init__(self, case: Case, log: Log):
        self.case, self.log = case, log

    def build(self, domain) -> ChemoMechanics:
        return ChemoMechanics(self.case, domain)

    def order(self, sim: ChemoMechanics) -> checkpoint.NodeOrder:
        return checkpoint.NodeOrder(sim.lithium.V)

    def dofs(self, sim: ChemoMechanics) -> dict:
        return degrees_of_freedom(sim)

    def describe(self, sim: ChemoMechanics) -> str:
        return f"flux {sim.first_flux_mol_m2_s:.4g} mol/m2/s"

    def end_time_s(self, sim: ChemoMechanics) -> float | None:
        end = sim.protocol.end_time_s
        return end if np.isfinite(end) else None

    def outputs(self, record: RunRecord, sim: ChemoMechanics, restarted: bool):
        case, log = self.case, self.log
        self.probe = probe = RayProbe(sim.domain, case.output.profile_points)
        self.columns = columns = [c for c in PROFILE_COLUMNS if c in sim.output_fields]
        profiles = record.table("profiles.csv", ["t_s", "r_m", *columns])
        if case.output.fields and sim.t < sim.protocol.end_time_s and not sim.protocol.finished:
            record.writer = field_writer(record, sim.domain, sim.output_fields, case, restarted)

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

        return {"profiles.csv": profiles}, observe

    def advance(self, sim: ChemoMechanics, observe, progress, save) -> dict:
        return sim.run(observe, lambda t: progress(t, sim.progress_text), checkpoint=save)

    def finish(self, record: RunRecord, sim: ChemoMechanics, save) -> None:
        if sim.grain_boundaries is not None:  # tractions at their largest, for ParaView
            write_grain_boundaries(record.folder.path / "grain_boundaries.vtu", sim.grain_boundaries)
        if sim.mechanics is not None:
            write_peak_state(self.case, record, sim, self.probe, self.columns)
        if "oxygen" in self.case.physics:  # a restart in the O2 stage starts after Li
            save(sim, force=True)


def run_case(case: Case, out_dir: str | Path, comm: MPI.Comm = MPI.COMM_WORLD, log: Log | None = None,
             restart: bool = False, restart_command: str | None = None) -> dict:
    """Run a case into `out_dir`; returns the summary (the same on every rank).
    Raises nothing for solver failures: the summary says `failed`. `restart`: continue
    from the checkpoint in `out_dir` (RestartRefused, a ValueError, if there is none or
    it is of another case or mesh; nothing is touched then). SIGTERM/SIGINT end the run
    at its next accepted step with a checkpoint and the summary `interrupted`, which
    quotes `restart_command`. Every case goes through the one life cycle
    (solver/simulation/lifecycle.py)."""
    log = log or Log(comm)
    if "lithium" not in case.physics:  # oxygen only
        from solver.simulation.run_oxygen import run_oxygen_case

        return run_oxygen_case(case, out_dir, comm, log, restart=restart, restart_command=restart_command)
    out_dir = Path(out_dir)
    restart_command = restart_command or f"lrmo run CASE.yaml --out {out_dir} --restart"

    def oxygen_stage(record: RunRecord, sim: ChemoMechanics):
        """Both physics: O2 runs after Li on the same mesh, into <out>/oxygen/; the only
        coupling is the source start from the state of charge (solver/physics/coupling.py)."""
        from solver.physics.coupling import with_activation_start
        from solver.simulation.run_oxygen import run_oxygen_case

        summary = record.summary
        o2_case, activation_s = with_activation_start(case, sim.mean_site_fraction_history)
        o2_dir = record.folder.path / "oxygen"
        o2 = run_oxygen_case(o2_case, o2_dir, comm, log, domain=sim.domain, restart_command=restart_command,
                             restart=restart and checkpoint.exists(o2_dir, comm))
        if o2_case.oxygen.source is not None:
            summary["oxygen_source_start_s"] = o2_case.oxygen.source.start.si
            summary["oxygen_activation_reached"] = activation_s is not None
        summary["oxygen"] = o2.get("oxygen", {"status": o2["status"], "message": o2.get("message")})
        if o2["status"] == "interrupted":  # the fields stay in fields.partial/ for the restart
            summary.update({k: o2[k] for k in ("status", "restart_command", "message")})
            summary["t_reached_s"] = {"lithium": sim.t, "oxygen": o2["t_reached_s"]}
            return record.close(publish_fields=False)
        return None

    return run_sequence(case, out_dir, comm, log, LithiumPlan(case, log), restart, restart_command,
                        then=oxygen_stage if "oxygen" in case.physics else None)


def write_peak_state(case: Case, record: RunRecord, sim: ChemoMechanics, probe: RayProbe,
                     columns: list[str]) -> None:
    """`profiles_at_peak.csv` and `fields_at_peak.xdmf`: the state at the reported peak's
    own time (collective). The profile holds every stress node on the ray with its own
    values (in 1D every mesh vertex, once per adjacent cell, so both sides of an
    interface and the node the peak is taken from), plus in 3D the ray points of
    profiles.csv with its P1 fields; column region_id is the node's (or point's) cell
    tag. The CSV is written when the run closes."""
    domain = sim.domain
    header = ["t_s", "r_m", *columns, "region_id"]
    table = record.table(PEAK_PROFILES, header)
    with sim.at_peak() as t_peak:
        points, region, cell_radius, values = sim.node_values()
        mask = on_ray(domain, points)
        local = np.column_stack([domain.point_radii(points[mask]), cell_radius[mask],
                                 *[values[c][mask] for c in columns], region[mask]])
        rows = gather_rows(domain.comm, local)
        if not domain.radial:
            rows = _with_ray_points(sim, probe, columns, rows)
        if rows is not None:
            table.extend([[t_peak, row[0], *row[2:-1], int(row[-1])] for row in sort_ray_rows(rows, domain.radius_m)])
        if case.output.fields:
            _write_peak_fields(case, record, sim, t_peak)


def _with_ray_points(sim: ChemoMechanics, probe: RayProbe, columns: list[str], rows):
    """Add the probe's ray points with the P1 fields as in profiles.csv (a DG1 value at a
    point on a face would depend on which cell, and so rank, evaluates it)."""
    values = probe.sample([sim.output_fields[c] for c in columns] + [region_function(sim.domain)])
    if rows is None:
        return None
    r = probe.radii_m
    return np.vstack([rows, np.column_stack([r, r, values])])


def _write_peak_fields(case: Case, record: RunRecord, sim: ChemoMechanics, t: float) -> None:
    """fields_at_peak.xdmf/.h5, written in a folder of their own and moved into place."""
    folder = record.folder.path / f"{PEAK_FIELDS}.partial"
    root_collective(sim.domain.comm, lambda: folder.mkdir(exist_ok=True))
    writer = FieldWriter(folder, sim.domain, sim.output_fields, PEAK_FIELDS, case.output.length_unit)
    writer.write(t)
    writer.close()
    sim.domain.comm.barrier()

    def publish():
        for suffix in (".xdmf", ".h5"):
            os.replace(folder / f"{PEAK_FIELDS}{suffix}", record.folder.path / f"{PEAK_FIELDS}{suffix}")
        remove_entry(folder)

    root_collective(sim.domain.comm, publish)


__all__ = ["run_case"]

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
from solver.simulation.engine import Engine
from solver.simulation.oxygen_simulation import OxygenSubmodel, oxygen_domain, slice_points
from solver.simulation.oxygen_redox_submodel import OxygenRedoxSubmodel
from solver.simulation.fracture_submodel import FractureSubmodel
from solver.physics.domain import Domain
from solver.simulation.lifecycle import field_writer, run_sequence
from solver.io.fields_io import FieldWriter, region_function
from solver.io.grain_boundary_file import write_grain_boundaries
from solver.io.log import Log
from solver.io.output import RunRecord, remove_entry, root_collective, watchable
from solver.io.probes import RayProbe, gather_rows, on_ray, sort_ray_rows

PROFILE_COLUMNS = ("c_Li_mol_m3", "sigma_vm_Pa", "sigma_r_Pa", "sigma_t_Pa", "sigma_h_Pa", "sigma_1_Pa")
PEAK_PROFILES = "profiles_at_peak.csv"  # the ray at the peak's own time (docs/paraview.md)
PEAK_FIELDS = "fields_at_peak"  # .xdmf + .h5 in the output folder


def submodels_of_case(case: Case, domain: Domain, lithium: ChemoMechanics | None = None) -> list:
    """The submodels the loop advances with the Li transport (or alone), in the order
    they are stepped: the one place where a submodel (solver/simulation/submodel.py) is
    added to the runs."""
    submodels = []
    if "oxygen" in case.physics:
        o2_domain, coverage = oxygen_domain(case, domain)  # RuO2 islands tagged: O2's own facets
        oxygen = OxygenSubmodel(case, o2_domain, coverage)
        if "oxygen_redox" in case.physics:  # makes the O2: stepped first
            submodels.append(OxygenRedoxSubmodel(case, lithium, oxygen))
        submodels.append(oxygen)
    if "fracture" in case.physics:  # reads the accepted Li state only
        submodels.append(FractureSubmodel(case, lithium))
    return submodels


def engine_of_case(case: Case, domain: Domain) -> Engine:
    lithium = ChemoMechanics(case, domain) if "lithium" in case.physics else None
    submodels = submodels_of_case(case, domain, lithium)
    if lithium is not None and lithium.lithium.discontinuous and submodels:
        raise ValueError("grains.boundary_resistance (discontinuous Li) with other physics in the same "
                         "run is not supported yet: the checkpoint holds one node numbering")
    return Engine(case, domain, lithium, submodels)


def degrees_of_freedom(sim: Engine) -> dict:
    def global_size(V):
        return V.dofmap.index_map.size_global * V.dofmap.index_map_bs

    dofs = {}
    if sim.lithium is not None:
        dofs["lithium"] = global_size(sim.lithium.lithium.V)
        if sim.lithium.mechanics is not None:
            dofs["displacement"] = global_size(sim.lithium.mechanics.V)
    for m in sim.submodels:  # its first output field's space
        dofs[m.name] = global_size(next(iter(m.output_fields.values())).function_space)
    return dofs


class CasePlan:
    """Every case in the run life cycle (solver/simulation/lifecycle.py): the engine of
    its physics and the outputs of each part."""

    label = ""

    def __init__(self, case: Case, log: Log):
        self.case, self.log = case, log

    def build(self, domain: Domain) -> Engine:
        return engine_of_case(self.case, domain)

    def order(self, sim: Engine) -> checkpoint.NodeOrder:
        space = (sim.lithium.lithium.V if sim.lithium is not None
                 else next(iter(sim.submodels[0].output_fields.values())).function_space)
        return checkpoint.NodeOrder(space)

    def dofs(self, sim: Engine) -> dict:
        return degrees_of_freedom(sim)

    def describe(self, sim: Engine) -> str:
        parts = []
        if sim.lithium is not None:
            parts.append(f"flux {sim.lithium.first_flux_mol_m2_s:.4g} mol/m2/s")
        parts += [f"RuO2-covered fraction {m.capture_coverage:.3f}" for m in sim.submodels if m.name == "oxygen"]
        return ", ".join(parts)

    def end_time_s(self, sim: Engine) -> float | None:
        end = sim.end_time_s
        return end if np.isfinite(end) else None

    def outputs(self, record: RunRecord, sim: Engine, restarted: bool):
        case, log, li = self.case, self.log, sim.lithium
        self.probe = probe = RayProbe(sim.domain, case.output.profile_points)
        self.li_columns = [c for c in PROFILE_COLUMNS if li is not None and c in li.output_fields]
        columns = self.li_columns + [c for m in sim.submodels for c in m.profile_columns]
        tables = {"profiles.csv": record.table("profiles.csv", ["t_s", "r_m", *columns])}
        profiles = tables["profiles.csv"]
        oxygen = next((m for m in sim.submodels if m.name == "oxygen"), None)
        plane = None
        if oxygen is not None and not sim.domain.radial:  # O2 maps (solver/studies/o2_maps.py)
            plane = RayProbe(sim.domain, 0, slice_points(sim.domain))
            tables["slices.csv"] = record.table("slices.csv", ["t_s", "x_m", "y_m", "c_O2_mol_m3"])
        if case.output.fields and not sim.done():
            # the facet tags written beside the fields: an O2 submodel's carry the RuO2 islands
            tagged = next((m.domain for m in sim.submodels if m.name == "oxygen"), sim.domain)
            record.writer = field_writer(record, sim.domain, sim.output_fields, case, restarted, tagged)

        def observe(t: float, s: Engine) -> None:
            record.timeseries.append(s.scalars(t))
            values = probe.sample([s.output_fields[c] for c in columns])
            if values is not None:
                profiles.extend([[t, r, *v] for r, v in zip(probe.radii_m, values)])
            if plane is not None:
                values = plane.sample([oxygen.transport.c])
                if values is not None:
                    tables["slices.csv"].extend([[t, p[0], p[1], v[0]] for p, v in zip(plane.points, values)])
            if record.writer is not None:
                s.update_output_fields()
                record.writer.write(t)
            if watchable(len(record.timeseries)):
                record.write_timeseries()  # a running job can be watched
            row = record.timeseries[-1]
            if li is not None:
                st = li.stats
                note = (f"  t = {t:9.4g} s  steps {st.steps:5d} (rejected {st.rejected})  "
                        f"Krylov/step: Li {st.lithium_iterations / max(st.steps, 1):.1f}, elasticity "
                        f"{st.elasticity_iterations / max(st.steps, 1):.1f}  "
                        f"ms/step {1e3 * (st.wall_lithium_s + st.wall_mechanics_s) / max(st.steps, 1):.1f}")
            else:
                note = f"  t = {t:9.4g} s  steps {oxygen.steps}"
            if oxygen is not None:
                note += f"  O2 retained {row['retained_fraction']:.4f}  uniformity {row['uniformity']:.4f}"
            log.progress_note(note)

        return tables, observe

    def advance(self, sim: Engine, observe, progress, save) -> dict:
        describe = sim.lithium.progress_text if sim.lithium is not None else None
        return sim.run(observe, lambda t: progress(t, describe), checkpoint=save)

    def finish(self, record: RunRecord, sim: Engine, save) -> None:
        li = sim.lithium
        if li is not None and li.grain_boundaries is not None:  # tractions at their largest, for ParaView
            write_grain_boundaries(record.folder.path / "grain_boundaries.vtu", li.grain_boundaries)
        if li is not None and li.mechanics is not None:
            write_peak_state(self.case, record, li, self.probe, self.li_columns)


def run_case(case: Case, out_dir: str | Path, comm: MPI.Comm = MPI.COMM_WORLD, log: Log | None = None,
             restart: bool = False, restart_command: str | None = None) -> dict:
    """Run a case into `out_dir`; returns the summary (the same on every rank).
    Raises nothing for solver failures: the summary says `failed`. `restart`: continue
    from the checkpoint in `out_dir` (RestartRefused, a ValueError, if there is none or
    it is of another case or mesh; nothing is touched then). SIGTERM/SIGINT end the run
    at its next accepted step with a checkpoint and the summary `interrupted`, which
    quotes `restart_command`. Every case goes through the one life cycle
    (solver/simulation/lifecycle.py) and the one time loop (solver/simulation/engine.py)."""
    log = log or Log(comm)
    summary = run_sequence(case, out_dir, comm, log, CasePlan(case, log), restart, restart_command)
    o = summary.get("oxygen")
    if summary["status"] == "completed" and o is not None:
        log.info(f"O2 after {case.oxygen.end_time.short()}: retained {o['retained_fraction']:.4f} "
                 f"(mobile {o['mobile_fraction']:.4f}), uniformity {o['uniformity']:.4f}, "
                 f"ledger closure {o['ledger_closure_error_relative']:.2e}")
    return summary


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

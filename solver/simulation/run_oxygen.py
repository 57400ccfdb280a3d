"""`lrmo run` for the O2 physics: case -> mesh (+ RuO2 islands) -> OxygenSimulation ->
output folder (solver/io/output.py contract), with the O2 results under "oxygen" in
summary.json and, in addition, `slices.csv` (c on the plane z = 0 through the centre,
3D only) for the maps of solver/studies/o2_maps.py, and the outward surface flux
(`O2_flux_out_mol_m2_s`) among the fields for the 3D view (solver/studies/render3d.py)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from dolfinx import fem
from mpi4py import MPI

from solver.simulation import checkpoint
from solver.case.schema import Case
from solver.physics.domain import Domain
from solver.io.log import Log
from solver.io.output import RunRecord, watchable
from solver.simulation.lifecycle import field_writer, run_sequence
from solver.simulation.oxygen_simulation import OxygenSimulation
from solver.io.probes import RayProbe

PROFILE_COLUMNS = ("c_O2_mol_m3",)
FLUX_FIELD = "O2_flux_out_mol_m2_s"
SLICE_RADII, SLICE_ANGLES = 31, 49


def oxygen_domain(case: Case, domain: Domain) -> tuple[Domain, float]:
    """The domain with the RuO2 islands tagged (if any) and the RuO2-covered fraction
    of the surface that the capture capacity is spread over."""
    from solver.physics.islands import covered_fraction, island_centres, tag_islands

    ox = case.oxygen
    if ox.islands is None:
        capture = [n for n, s in ox.surfaces.items() if s.kind == "ruo2_capture"]
        return domain, 1.0 if capture else 0.0
    isl = ox.islands
    centres = island_centres(isl.count, isl.placement, isl.seed, domain.shape)
    if domain.spherical:
        domain = tag_islands(domain, centres, isl.angular_radius_rad())
    else:  # any other shape: islands on its real surface, at the requested coverage
        from solver.physics.islands import requested_coverage, tag_islands_on_surface

        domain = tag_islands_on_surface(domain, centres, requested_coverage(isl))
    coverage = covered_fraction(domain)
    if coverage <= 0:
        raise ValueError("oxygen.islands: no surface facet lies inside an island; "
                         "use larger islands or a finer mesh.surface")
    return domain, coverage


def slice_points(domain: Domain) -> np.ndarray:
    """Polar grid on the plane z = 0 (a quarter disc for an octant), just inside z >= 0."""
    R = domain.radius_m
    span = np.pi / 2 if domain.shape == "octant" else 2 * np.pi
    r = np.linspace(0, R, SLICE_RADII)
    phi = np.linspace(0, span, SLICE_ANGLES)
    rr, pp = np.meshgrid(r, phi)
    pts = np.column_stack([(rr * np.cos(pp)).ravel(), (rr * np.sin(pp)).ravel(),
                           np.full(rr.size, 1e-9 * R)])
    return pts[np.unique(np.round(pts / R, 12), axis=0, return_index=True)[1]]


class OxygenPlan:
    """The O2 physics in the run life cycle (solver/simulation/lifecycle.py)."""

    label = " (oxygen)"

    def __init__(self, case: Case, log: Log):
        self.case, self.log = case, log

    def build(self, domain: Domain) -> OxygenSimulation:
        domain, coverage = oxygen_domain(self.case, domain)
        return OxygenSimulation(self.case, domain, coverage)

    def order(self, sim: OxygenSimulation) -> checkpoint.NodeOrder:
        return checkpoint.NodeOrder(sim.transport.V)

    def dofs(self, sim: OxygenSimulation) -> dict:
        return {"oxygen": sim.transport.V.dofmap.index_map.size_global}

    def describe(self, sim: OxygenSimulation) -> str:
        return f"RuO2-covered fraction {sim.capture_coverage:.3f}"

    def end_time_s(self, sim: OxygenSimulation) -> float:
        return self.case.oxygen.end_time.si

    def outputs(self, record: RunRecord, sim: OxygenSimulation, restarted: bool):
        case, log, domain = self.case, self.log, sim.domain
        probe = RayProbe(domain, case.output.profile_points)
        plane = None if domain.radial else RayProbe(domain, 0, slice_points(domain))
        tables = {"profiles.csv": record.table("profiles.csv", ["t_s", "r_m", *PROFILE_COLUMNS]),
                  "slices.csv": record.table("slices.csv", ["t_s", "x_m", "y_m", "c_O2_mol_m3"])}
        profiles, slices = tables["profiles.csv"], tables["slices.csv"]
        flux = None
        if case.output.fields:
            flux = fem.Function(sim.transport.V, name=FLUX_FIELD)
            record.writer = field_writer(record, domain, {**sim.output_fields, FLUX_FIELD: flux}, case, restarted)

        def observe(t: float, s: OxygenSimulation) -> None:
            record.timeseries.append(s.scalars(t))
            values = probe.sample([s.output_fields[c] for c in PROFILE_COLUMNS])
            if values is not None:
                profiles.extend([[t, r, *v] for r, v in zip(probe.radii_m, values)])
            if plane is not None:
                values = plane.sample([s.transport.c])
                if values is not None:
                    slices.extend([[t, p[0], p[1], v[0]] for p, v in zip(plane.points, values)])
            if record.writer is not None:
                s.transport.outward_flux(flux)
                record.writer.write(t)
            if watchable(len(record.timeseries)):
                record.write_timeseries()  # a running job can be watched
            row = record.timeseries[-1]
            log.progress_note(f"  t = {t:9.4g} s  retained {row['retained_fraction']:.4f}  "
                              f"uniformity {row['uniformity']:.4f}  steps {s.steps}")

        return tables, observe

    def advance(self, sim: OxygenSimulation, observe, progress, save) -> dict:
        return sim.run(observe, progress, checkpoint=save)

    def finish(self, record: RunRecord, sim: OxygenSimulation, save) -> None:
        pass


def run_oxygen_case(case: Case, out_dir: str | Path, comm: MPI.Comm = MPI.COMM_WORLD,
                    log: Log | None = None, domain: Domain | None = None, restart: bool = False,
                    restart_command: str | None = None) -> dict:
    """Run the oxygen physics of `case` into `out_dir`; returns the summary. Solver
    failures end in a summary with status `failed`, as `run_case`; `restart`, signals
    and checkpoints as there: the one life cycle (solver/simulation/lifecycle.py)."""
    log = log or Log(comm)
    summary = run_sequence(case, out_dir, comm, log, OxygenPlan(case, log), restart, restart_command, domain)
    if summary["status"] == "completed":
        o = summary["oxygen"]
        log.info(f"O2 after {case.oxygen.end_time.short()}: retained {o['retained_fraction']:.4f} "
                 f"(mobile {o['mobile_fraction']:.4f}), uniformity {o['uniformity']:.4f}, "
                 f"ledger closure {o['ledger_closure_error_relative']:.2e}")
    return summary

"""O2 as a submodel of the one time loop (solver/simulation/engine.py): the O2 transport
(solver/physics/oxygen.py) advanced with each accepted step, its ledger checked after
every step, its timeseries columns and results. Its source may read the Li state: with
`oxygen.source.start_at_mean_site_fraction` it starts when the particle-mean site
fraction of the Li transport first falls to the threshold (solver/physics/coupling.py),
evaluated after every accepted Li step. `OxygenSimulation` is the loop with O2 alone:
each output interval cut into equal steps no longer than oxygen.time_step. No file is
written here (see solver/simulation/run.py)."""
from __future__ import annotations

import math
import time

import numpy as np
from dolfinx import fem

from solver.case.schema import Case
from solver.physics.coupling import ActivationStart
from solver.physics.domain import Domain
from solver.physics.oxygen import OxygenTransport
from solver.simulation.engine import Engine

SLICE_RADII, SLICE_ANGLES = 31, 49
LEDGER_COLUMNS = ("mobile_mol", "captured_mol", "escaped_mol", "returned_mol", "generated_mol")
FLUX_FIELD = "O2_flux_out_mol_m2_s"


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


class OxygenSubmodel:
    """Mobile and captured O2 (docs/model.md §4) as a submodel
    (solver/simulation/submodel.py)."""

    name = "oxygen"
    profile_columns = ("c_O2_mol_m3",)

    def __init__(self, case: Case, domain: Domain, capture_coverage: float = 1.0):
        self.case = case
        self.domain = domain
        self.capture_coverage = capture_coverage
        self.transport = tr = OxygenTransport(domain, case.oxygen, capture_coverage, case.solvers.petsc_options)
        self.end_time_s = case.oxygen.end_time.si
        self.time_step_s = case.oxygen.time_step.si
        # fed by the oxygen redox (solver/simulation/oxygen_redox_submodel.py): stepped with
        # the Li protocol only, up to oxygen.end_time at most
        self.follows_lead = "oxygen_redox" in case.physics
        self.sf = domain.symmetry_factor
        self.initial_mol = tr.mobile() * self.sf
        self.flux = fem.Function(tr.V, name=FLUX_FIELD)  # filled only for the field files
        self.output_fields = {"c_O2_mol_m3": tr.c, "Gamma_O2_mol_m2": tr.gamma, FLUX_FIELD: self.flux}
        src = case.oxygen.source
        self.activation = (ActivationStart(src.start_at_mean_site_fraction.si)
                           if src is not None and src.start_at_mean_site_fraction is not None else None)
        if self.activation is not None:
            tr.source_start_s = math.inf  # until the Li state reaches the threshold
        self.steps = 0
        self.max_ledger_error_mol = 0.0
        self.wall_s = 0.0

    # -- one step ---------------------------------------------------------------------------
    def step(self, t_new: float, dt: float, bdf: tuple[float, float, float], lead=None) -> None:
        if self.activation is not None and lead is not None:
            for t, theta_mean in lead.mean_site_fraction_history[-2:]:
                self.activation.update(t, theta_mean)
            if self.activation.start_s is not None:
                self.transport.source_start_s = self.activation.start_s
        start = time.perf_counter()
        self.transport.solve_step(dt, bdf, t_new)
        self.wall_s += time.perf_counter() - start

    def accept(self) -> None:
        self.transport.accept()
        self.steps += 1
        self.max_ledger_error_mol = max(self.max_ledger_error_mol, abs(self.ledger()["ledger_error_mol"]))

    def reject(self) -> None:
        """Nothing to undo: a trial step changes only c, Gamma and the rates."""

    # -- quantities (collective) ------------------------------------------------------------
    def ledger(self) -> dict:
        """Whole-particle amounts (mol) and the closure error
        initial + generated - mobile - captured - escaped - returned."""
        tr = self.transport
        row = {
            "mobile_mol": tr.mobile() * self.sf,
            "captured_mol": tr.captured() * self.sf,
            "escaped_mol": tr.accounts["escaped"][0] * self.sf,
            "returned_mol": tr.accounts["returned"][0] * self.sf,
            "generated_mol": tr.accounts["generated"][0] * self.sf,
        }
        row["ledger_error_mol"] = (self.initial_mol + row["generated_mol"] - row["mobile_mol"]
                                   - row["captured_mol"] - row["escaped_mol"] - row["returned_mol"])
        return row

    def scalars(self, t: float) -> dict:
        """Its timeseries columns: ledger, retained fractions and uniformity
        (max - min)/mean of c over the nodes, mean = volume average."""
        row = self.ledger()
        supplied = self.initial_mol + row["generated_mol"]
        lo, hi = self.transport.extremes()
        mean = row["mobile_mol"] / (self.transport.volume_m3 * self.sf)
        row.update({
            "retained_fraction": (row["mobile_mol"] + row["captured_mol"]) / supplied if supplied else 0.0,
            "mobile_fraction": row["mobile_mol"] / supplied if supplied else 0.0,
            "c_O2_min_mol_m3": lo,
            "c_O2_max_mol_m3": hi,
            "c_O2_mean_mol_m3": mean,
            "uniformity": (hi - lo) / mean if mean > 0 else float("nan"),
        })
        return row

    def update_output_fields(self) -> None:
        self.transport.outward_flux(self.flux)

    def results(self) -> dict:
        tr = self.transport
        final = self.scalars(self.end_time_s)
        supplied = self.initial_mol + final["generated_mol"]
        out = {"oxygen": {
            "initial_mol": self.initial_mol,
            **{k: final[k] for k in LEDGER_COLUMNS},
            "retained_fraction": final["retained_fraction"],
            "mobile_fraction": final["mobile_fraction"],
            "uniformity": final["uniformity"],
            "ledger_closure_error_mol": self.max_ledger_error_mol,
            "ledger_closure_error_relative": self.max_ledger_error_mol / supplied if supplied else 0.0,
            "ruo2_capacity_mol_m2": tr.capacity_mol_m2,
            "ruo2_capture_coverage": self.capture_coverage,
            "desorption_rate_1_s": tr.k_d,
            "steps": self.steps,
            "wall_s": self.wall_s,
        }}
        if self.activation is not None:
            out["oxygen_source_start_s"] = self.activation.start_s
            out["oxygen_activation_reached"] = self.activation.start_s is not None
        return out

    # -- checkpoints ------------------------------------------------------------------------
    def state(self) -> tuple[dict, dict]:
        """(JSON-able scalars, owned P1 dof arrays): fields, BDF2 histories, ledger
        accounts, the activation's progress."""
        tr, n = self.transport, self.transport.n_owned
        scalars = {"steps": self.steps, "max_ledger_error_mol": self.max_ledger_error_mol, "wall_s": self.wall_s,
                   "accounts": {k: list(v) for k, v in tr.accounts.items()},
                   "activation": None if self.activation is None else self.activation.state()}
        arrays = {name: getattr(tr, name).x.array[:n].copy()
                  for name in ("c_n", "c_nm1", "gamma_n", "gamma_nm1")}
        return scalars, arrays

    def restore(self, scalars: dict, arrays: dict) -> None:
        tr, n = self.transport, self.transport.n_owned
        for name, f in (("c_n", tr.c_n), ("c_nm1", tr.c_nm1), ("c_n", tr.c),
                        ("gamma_n", tr.gamma_n), ("gamma_nm1", tr.gamma_nm1), ("gamma_n", tr.gamma)):
            f.x.array[:n] = arrays[name]
            f.x.scatter_forward()
        self.steps, self.wall_s = scalars["steps"], scalars["wall_s"]
        self.max_ledger_error_mol = scalars["max_ledger_error_mol"]
        tr.accounts = {k: list(v) for k, v in scalars["accounts"].items()}
        if self.activation is not None:
            self.activation.restore(scalars["activation"])
            if self.activation.start_s is not None:
                tr.source_start_s = self.activation.start_s


class OxygenSimulation(Engine):
    """The loop with O2 alone (the O2-only cases): a fixed schedule, each output
    interval cut into equal steps no longer than oxygen.time_step."""

    def __init__(self, case: Case, domain: Domain, capture_coverage: float = 1.0):
        self.oxygen = OxygenSubmodel(case, domain, capture_coverage)
        super().__init__(case, domain, None, [self.oxygen])
        self.transport = self.oxygen.transport
        self.capture_coverage = capture_coverage

    @property
    def initial_mol(self) -> float:
        return self.oxygen.initial_mol

    @property
    def max_ledger_error_mol(self) -> float:
        return self.oxygen.max_ledger_error_mol

    @property
    def steps(self) -> int:
        return self.oxygen.steps

    def ledger(self) -> dict:
        return self.oxygen.ledger()


__all__ = ["OxygenSubmodel", "OxygenSimulation", "oxygen_domain", "slice_points", "FLUX_FIELD", "LEDGER_COLUMNS"]

"""The O2 simulation: OxygenTransport stepped from 0 to oxygen.end_time with fixed
steps (each output interval cut into equal steps no longer than oxygen.time_step), the
ledger checked after every step, and the results handed to an observer at the output
times. No file is written here (see solver/run_oxygen.py)."""
from __future__ import annotations

import math
import time

from solver.case import Case
from solver.chemomechanics import bdf_coefficients
from solver.domain import Domain
from solver.oxygen import OxygenTransport

LEDGER_COLUMNS = ("mobile_mol", "captured_mol", "escaped_mol", "returned_mol", "generated_mol")


class OxygenSimulation:
    def __init__(self, case: Case, domain: Domain, capture_coverage: float = 1.0):
        self.case = case
        self.domain = domain
        self.capture_coverage = capture_coverage
        self.transport = OxygenTransport(domain, case.oxygen, capture_coverage, case.solvers.petsc_options)
        self.sf = domain.symmetry_factor
        self.initial_mol = self.transport.mobile() * self.sf
        self.output_fields = {"c_O2_mol_m3": self.transport.c, "Gamma_O2_mol_m2": self.transport.gamma}
        self.steps = 0
        self.max_ledger_error_mol = 0.0
        self.wall_s = 0.0

    # -- quantities (collective) ----------------------------------------------------------
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
        """The timeseries row at time t: ledger, retained fractions and uniformity
        (max - min)/mean of c over the nodes, mean = volume average."""
        row = {"t_s": t, **self.ledger()}
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

    # -- stepping -------------------------------------------------------------------------
    def run(self, observer=None, progress=None) -> dict:
        """`observer(t, sim)` at every output time; `progress(t)` after every step."""
        ox = self.case.oxygen
        end = ox.end_time.si
        outputs = [t for t in self.case.output_times_s() if t <= end * (1 + 1e-12)]
        targets = sorted({t for t in outputs if t > 0} | {end})
        if observer is not None and outputs and outputs[0] == 0.0:
            observer(0.0, self)
        t, dt_previous = 0.0, None
        for target in targets:
            n = max(1, math.ceil((target - t) / ox.time_step.si - 1e-9))
            dt = (target - t) / n
            for i in range(n):
                t_new = target if i == n - 1 else t + dt
                start = time.perf_counter()
                self.transport.solve_step(dt, bdf_coefficients(dt, dt_previous), t_new)
                self.transport.accept()
                self.wall_s += time.perf_counter() - start
                t, dt_previous = t_new, dt
                self.steps += 1
                error = abs(self.ledger()["ledger_error_mol"])
                self.max_ledger_error_mol = max(self.max_ledger_error_mol, error)
                if progress is not None:
                    progress(t)
            if observer is not None and any(abs(t - o) <= 1e-9 * max(1.0, o) for o in outputs):
                observer(t, self)
        return self.results()

    def results(self) -> dict:
        tr = self.transport
        final = self.scalars(self.case.oxygen.end_time.si)
        supplied = self.initial_mol + final["generated_mol"]
        return {"oxygen": {
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

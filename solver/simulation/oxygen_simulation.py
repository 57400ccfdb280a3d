"""The O2 simulation: OxygenTransport stepped from 0 to oxygen.end_time with fixed
steps (each output interval cut into equal steps no longer than oxygen.time_step), the
ledger checked after every step, and the results handed to an observer at the output
times. No file is written here (see solver/simulation/run_oxygen.py)."""
from __future__ import annotations

import math
import time

from solver.case.schema import Case
from solver.simulation.chemomechanics import bdf_coefficients
from solver.physics.domain import Domain
from solver.physics.oxygen import OxygenTransport

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
        self._clock: dict | None = None  # time and position in the output intervals

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
    def run(self, observer=None, progress=None, checkpoint=None) -> dict:
        """From 0 or from the state given to `restore`: `observer(t, sim)` at every
        output time; `progress(t)` and then `checkpoint(sim)` after every step
        (`checkpoint` may save `state()` and raise to stop the run there)."""
        ox = self.case.oxygen
        end = ox.end_time.si
        outputs = [t for t in self.case.output_times_s() if t <= end * (1 + 1e-12)]
        targets = sorted({t for t in outputs if t > 0} | {end})
        if self._clock is None:  # a fresh start
            if observer is not None and outputs and outputs[0] == 0.0:
                observer(0.0, self)
            self._clock = {"t": 0.0, "dt_previous": None, "interval": 0, "interval_start": 0.0, "step": 0}
        clock = self._clock
        while clock["interval"] < len(targets):
            target, t0 = targets[clock["interval"]], clock["interval_start"]
            n = max(1, math.ceil((target - t0) / ox.time_step.si - 1e-9))
            dt = (target - t0) / n
            while clock["step"] < n:
                i, t = clock["step"], clock["t"]
                t_new = target if i == n - 1 else t + dt
                start = time.perf_counter()
                self.transport.solve_step(dt, bdf_coefficients(dt, clock["dt_previous"]), t_new)
                self.transport.accept()
                self.wall_s += time.perf_counter() - start
                clock.update(t=t_new, dt_previous=dt, step=i + 1)
                self.steps += 1
                error = abs(self.ledger()["ledger_error_mol"])
                self.max_ledger_error_mol = max(self.max_ledger_error_mol, error)
                last = clock["step"] == n
                if last:
                    clock.update(interval=clock["interval"] + 1, interval_start=target, step=0)
                    if observer is not None and any(abs(t_new - o) <= 1e-9 * max(1.0, o) for o in outputs):
                        observer(t_new, self)
                if progress is not None:
                    progress(t_new)
                if checkpoint is not None:
                    checkpoint(self)
                if last:
                    break
        return self.results()

    # -- checkpoints ----------------------------------------------------------------------
    @property
    def t(self) -> float:
        return self._clock["t"] if self._clock else 0.0

    def state(self) -> tuple[dict, dict]:
        """(JSON-able scalars, owned P1 dof arrays) at the last step: fields, BDF2
        histories, ledger accounts, the step position; `restore` continues from it."""
        tr, n = self.transport, self.transport.n_owned
        scalars = {"t_s": self.t, "clock": dict(self._clock), "steps": self.steps,
                   "max_ledger_error_mol": self.max_ledger_error_mol, "wall_s": self.wall_s,
                   "accounts": {k: list(v) for k, v in tr.accounts.items()}}
        arrays = {name: getattr(tr, name).x.array[:n].copy()
                  for name in ("c_n", "c_nm1", "gamma_n", "gamma_nm1")}
        return scalars, arrays

    def restore(self, scalars: dict, arrays: dict) -> None:
        tr, n = self.transport, self.transport.n_owned
        for name, f in (("c_n", tr.c_n), ("c_nm1", tr.c_nm1), ("c_n", tr.c),
                        ("gamma_n", tr.gamma_n), ("gamma_nm1", tr.gamma_nm1), ("gamma_n", tr.gamma)):
            f.x.array[:n] = arrays[name]
            f.x.scatter_forward()
        self._clock = dict(scalars["clock"])
        self.steps, self.wall_s = scalars["steps"], scalars["wall_s"]
        self.max_ledger_error_mol = scalars["max_ledger_error_mol"]
        tr.accounts = {k: list(v) for k, v in scalars["accounts"].items()}

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

"""Fitted parameters: declared in a case's `fitted:` block, each with the target it was
fitted to, and re-fitted by `lrmo fit CASE.yaml` (root finding with scipy's brentq on
log10 of the parameter, the full model inside)."""
from __future__ import annotations

import math

from mpi4py import MPI
from scipy.optimize import brentq


def _lookup(data: dict, dotted: str):
    for part in dotted.split("."):
        data = data[part] if isinstance(data, dict) else getattr(data, part)
    return data


def run_summary(case, comm):
    """Run a case in memory (no files), every submodel with it, and return its results."""
    from solver.simulation.domain_setup import build_domain
    from solver.simulation.run import engine_of_case

    return engine_of_case(case, build_domain(case, comm)).run()


def fit_case(path, comm=MPI.COMM_WORLD, log=print, overrides=()) -> dict[str, float]:
    """Re-fit every entry of the case's `fitted:` block (one at a time, the others held
    at their declared values), the case read with `overrides` (`--set` texts). Returns
    {key path: fitted SI value}."""
    from solver.case.schema import load_case

    case = load_case(path, overrides)
    fitted = {}
    for key, entry in case.fitted.items():
        unit = _lookup(case, key).si_unit

        def residual(log10_value):
            trial = load_case(path, [*overrides, f"{key}={float(10 ** log10_value)!r} {unit}",
                                     "output.fields=false"])
            got = _lookup(run_summary(trial, comm), entry.target_quantity)
            log(f"  {key} = {10 ** log10_value:.6g} {unit}: {entry.target_quantity} = {got:.6g}")
            return math.log(got / entry.target.si)

        lo, hi = (math.log10(b) for b in entry.bracket)
        best = 10 ** brentq(residual, lo, hi, xtol=1e-5)
        fitted[key] = best
        log(f"{key}: fitted {best:.4g} {unit} (declared {entry.value.short()}) "
            f"to {entry.target_quantity} = {entry.target.short()}")
    return fitted

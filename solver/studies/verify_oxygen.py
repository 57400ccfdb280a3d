"""`lrmo verify` checks for the O2 cases (cases/verify_o2_*.yaml), against Crank's sphere
(solver/physics/analytic.py) and the mass ledger:

- sink / escape surfaces (and ruo2_capture with zero capacity, which must act as its
  pass-through escape): the retained fraction at every output time (absolute error, i.e.
  relative to the initial amount) and the profile along the ray (largest error /
  (C1 - C0)), 0.1 % in 1D and 1 % in 3D;
- every case: ledger closure |initial + generated - mobile - captured - escaped -
  returned| / (initial + generated) at round-off;
- cases whose name contains "irreversible": mobile + captured = initial + generated and
  nothing escaped.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from solver.physics import analytic
from solver.io.tables import read_columns, read_profiles
from solver.studies.checks import Check

TOLERANCE = {"radial": 1e-3, "octant": 1e-2, "sphere": 1e-2}
ROUND_OFF = 1e-12


def closed_form(case):
    """(fraction retained(t), profile(r, t)) for the outer surface's condition, or None
    when no closed form applies."""
    ox = case.oxygen
    R, D = case.geometry.radius.si, ox.diffusivity.si
    C1, C0 = ox.initial_concentration.si, ox.external_concentration.si
    if set(ox.surfaces) != {"outer_surface"} or ox.source is not None:
        return None
    s = ox.surfaces["outer_surface"]
    capacity = 0.0 if ox.ruo2 is None or ox.ruo2.capacity is None else ox.ruo2.capacity.si
    if s.kind == "sink":
        lost = lambda t: analytic.sink_fraction_lost(t, R, D)
        profile = lambda r, t: analytic.sink_sphere(r, t, R, D, C1, C0)
    else:
        if s.kind == "escape":
            k = s.rate.si
        elif s.kind == "ruo2_capture" and capacity == 0.0 and s.escape_rate.si > 0:
            k = s.escape_rate.si
        else:
            return None
        lost = lambda t: analytic.robin_fraction_lost(t, R, D, k)
        profile = lambda r, t: analytic.robin_sphere(r, t, R, D, k, C1, C0)
    retained = lambda t: 1 - lost(t) * (1 - C0 / C1)
    return retained, profile


def oxygen_checks(case, summary: dict, out_dir: Path, comm) -> list:

    data = None
    if comm.rank == 0:
        data = (read_columns(out_dir / "timeseries.csv"), read_profiles(out_dir / "profiles.csv"))
    series, profiles = comm.bcast(data, root=0)
    o = summary["oxygen"]
    tol = TOLERANCE[case.geometry.shape]
    ox = case.oxygen
    checks = [Check(case.name, "ledger closure error / supplied",
                    o["ledger_closure_error_relative"], 0.0, ROUND_OFF, "absolute")]
    forms = closed_form(case)
    if forms is not None:
        retained, profile = forms
        C1, C0 = ox.initial_concentration.si, ox.external_concentration.si
        for t, mobile in zip(series["t_s"].tolist(), series["mobile_fraction"].tolist()):
            if t <= 0:
                continue
            checks.append(Check(case.name, f"retained fraction, t = {t:g} s",
                                mobile, retained(t), tol, "absolute"))
            cols = profiles[t]
            err = np.max(np.abs(cols["c_O2_mol_m3"] - profile(cols["r_m"], t)))
            checks.append(Check(case.name, f"c_O2 profile, t = {t:g} s: max |error|, C1 - C0",
                                float(err), abs(C1 - C0), tol, "scaled"))
    if "irreversible" in case.name:
        supplied = o["initial_mol"] + o["generated_mol"]
        checks.append(Check(case.name, "mobile + captured [mol]",
                            o["mobile_mol"] + o["captured_mol"], supplied, ROUND_OFF))
        checks.append(Check(case.name, "escaped / supplied", o["escaped_mol"] / supplied,
                            0.0, ROUND_OFF, "absolute"))
    return checks

"""`lrmo verify`: run the built-in verification cases (cases/verify_*.yaml) and compare
with closed forms. Prints case, quantity, computed, closed form, relative error,
tolerance and pass/fail; the exit code is 1 when any comparison fails."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from mpi4py import MPI

from solver.physics import analytic
from solver.case.schema import Case, load_case
from solver.io.tables import read_profiles
from solver.studies.checks import Check
from solver.studies.verify_oxygen import oxygen_checks
from solver.io.log import Log
from solver.simulation.drive import galvanostatic_flux_of_case
from solver.simulation.run import run_case

CASES_DIR = Path(__file__).resolve().parents[2] / "cases"

# tolerances by geometry: 1D radial is exact up to discretisation, the 3D octant adds the
# faceted surface (issue 3: 0.1 % and 1 % on the peak von Mises). Profiles in 3D are
# limited by P1 over the early diffusion front (sqrt(D t) = 24 nm at 60 s against 4-6 nm
# cells: 2-3 % of the range; the 1D mesh has 0.5 nm cells): 4 %.
PEAK_TOLERANCE = {"radial": 1e-3, "octant": 1e-2, "sphere": 1e-2}
PROFILE_TOLERANCE = {"radial": 5e-3, "octant": 4e-2, "sphere": 4e-2}


def galvanostatic_checks(case: Case, summary: dict, profiles) -> list[Check]:
    """Homogeneous sphere, constant extraction: peak von Mises (at the surface, at the
    end), and the c_Li and hoop-stress profiles at every output time, as the largest
    error relative to the profile's range."""
    core = case.materials.core
    R, D = case.geometry.radius.si, core.lithium_diffusivity.si
    params = dict(radius=R, diffusivity=D, omega=core.partial_molar_volume.si,
                  E=core.youngs_modulus.si, nu=core.poisson_ratio.si)
    flux = galvanostatic_flux_of_case(case)
    shape = case.geometry.shape
    stress = summary["stress"]
    exact_peak = analytic.galvanostatic_sphere([R], stress["peak_time_s"], flux, **params)["sigma_vm_Pa"][0]
    checks = [Check(case.name, "peak von Mises [Pa]", stress["peak_von_mises_Pa"], exact_peak,
                    PEAK_TOLERANCE[shape])]
    c0 = core.lithium_site_concentration.si * case.lithium.initial_site_fraction.si
    for t, cols in sorted(profiles.items()):
        if t <= 0:
            continue
        exact = analytic.galvanostatic_sphere(cols["r_m"], t, flux, **params)
        for name, computed, expected in (
            ("c_Li - c_0", cols["c_Li_mol_m3"] - c0, exact["dc_mol_m3"]),
            ("hoop stress", cols["sigma_t_Pa"], exact["sigma_t_Pa"]),
        ):
            checks.append(Check(case.name, f"{name} profile, t = {t:g} s: max |error|, range",
                                float(np.max(np.abs(computed - expected))), float(np.max(np.abs(expected))),
                                PROFILE_TOLERANCE[shape], "scaled"))
    return checks


def format_table(checks: list[Check]) -> str:
    head = (f"{'case':40s} {'quantity':52s} {'computed':>13s} {'closed form':>13s} "
            f"{'error':>9s} {'kind':8s} {'tol.':>7s}  result")
    lines = [head, "-" * len(head)]
    for c in checks:
        lines.append(
            f"{c.case:40s} {c.quantity:52s} {c.computed:13.6g} {c.expected:13.6g} "
            f"{c.error:9.2e} {c.error_kind:8s} {c.tolerance:7.0e}  {'pass' if c.passed else 'FAIL'}"
        )
    return "\n".join(lines)


def verification_cases(only: str | None = None) -> list[Path]:
    paths = sorted(CASES_DIR.glob("verify_*.yaml"))
    return [p for p in paths if only is None or only in p.stem]


def run_verification(out_dir="results/verify", only=None, comm=MPI.COMM_WORLD) -> int:
    log = Log(comm)
    checks: list[Check] = []
    for path in verification_cases(only):
        case = load_case(path)
        log.info(f"verify: {case.name}")
        summary = run_case(case, Path(out_dir) / case.name, comm, Log(comm, quiet=True))
        if summary["status"] != "completed":
            log.error(f"{case.name}: {summary.get('message')}")
            checks.append(Check(case.name, "run completed", 0.0, 1.0, 0.0))
            continue
        if "lithium" not in case.physics:  # O2 cases (cases/verify_o2_*.yaml)

            checks.extend(oxygen_checks(case, summary, Path(out_dir) / case.name, comm))
            continue
        profiles = read_profiles(Path(out_dir) / case.name / "profiles.csv") if comm.rank == 0 else None
        profiles = comm.bcast(profiles, root=0)
        checks.extend(galvanostatic_checks(case, summary, profiles))
    log.info(format_table(checks))
    failed = sum(not c.passed for c in checks)
    log.info(f"{len(checks) - failed} of {len(checks)} checks passed")
    return 0 if failed == 0 and checks else 1

"""The electrochemical-shock map (Woodford, Chiang and Carter, J. Electrochem. Soc. 157,
A1052, 2010, doi:10.1149/1.3464773): the critical C-rate for crack initiation against the
particle radius, for the pristine and Ru-1 headline particles (cases/pristine_stress.yaml,
cases/ru1_stress.yaml, or any 1D stress case with a first charge: `lrmo shock-map CASE ...`),
from 1D radial runs of the first charge.

Each member is the sample's case with geometry.radius and protocol.c_rate changed, its
end_time scaled by 1/C (the same charge and hold), its mesh scaled with the radius
(surface min(0.5 nm, R/300), bulk min(3 nm, R/50); the Ru-1 layer keeps its 0.1 nm
interface), MAP_PROFILES output profiles and no field files. From every output profile
(and the profile at the peak von Mises stress) the criteria of
solver/physics/fracture_criteria.py are taken, their largest value over the run kept:

- K: a radial edge crack of depth a opened by the hoop stress, K_I(a) by the half-plane
  weight function, for a from 0.5 nm to a fraction of R; cracks when max K_I >= K_Ic.
- Weibull: the volume failure probability from the largest principal stress; cracks
  when P_f >= 0.5.

The critical C-rate is where the criterion is met, interpolated between the rates of the
grid on log-log axes (max K_I and the Weibull effective stress are close to power laws
of the rate); none in range is reported as such. A case with a `fracture:` section runs
the 1D phase field in every member; its critical rate is where the run's largest
psi+ / psi_c (the AT1 onset) reaches 1, by the same interpolation, bracketed by the
phase-field solve's own verdicts (`phase_field_critical_rates`). Under mpirun the members are shared out
over the ranks (each runs on its own rank). The inputs: solver/case/crack_inputs.py. The
paper's particle (150 nm) is also given as a band: its critical C-rate over the sourced
input range (`paper_band`). Files: shock_map.csv (one row per member), critical_rates.csv,
shock_map.png, .txt, .json and provenance.json (`make_map`, `write_map`).

    lrmo shock-map cases/pristine_stress.yaml cases/ru1_stress.yaml --out results/shock_map
    python -m solver.studies.shock_map --out results/shock_map   # the same, samples by name
    python -m solver.studies.shock_map --out results/shock_map_fine \\
        --radii 50 75 100 150 200 300 400 500 --rates 0.5 0.75 1 1.5 2 3 5
"""
from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np
from mpi4py import MPI

from solver.case.crack_inputs import RANGES, CrackInputs
from solver.case.schema import CaseError, load_case
from solver.io.log import Log
from solver.io.tables import read_profiles
from solver.physics import fracture_criteria as fc
from solver.physics.fracture import (FractureParameters, at1_onset_energy_density,
                                     spherical_positive_energy_density)
from solver.simulation.checkpoint import StopRequests
from solver.simulation.run import run_case

CASES = Path(__file__).resolve().parents[2] / "cases"
SAMPLES = {"pristine": CASES / "pristine_stress.yaml", "Ru-1": CASES / "ru1_stress.yaml"}
RADII_NM = (50, 100, 150, 250, 500)
C_RATES = (0.5, 1.0, 2.0, 5.0)
TOUGHNESS_SENSITIVITY_PA_SQRT_M = (0.24e6, 0.81e6)  # Mughal et al. 2017: pillar splitting, COD
FLAW_SENSITIVITY = (0.05, 0.1, 0.2)  # deepest flaw / R
DEPTH_FRACTIONS = np.union1d(np.geomspace(1e-3, 0.5, 60), FLAW_SENSITIVITY)  # flaw depths a / R kept per run
# output profiles per member: the criteria are the largest over them (and the profile at the
# peak von Mises stress). 151: the first map's setting; 51: the map's default, K_I and
# sigma_eff within 0.6 % of 151 on 8 members, six within 4e-4 (benchmarks/
# shock_map_speed.py --check), at about half the cost (a run rewrites timeseries.csv at
# every output, solver/simulation/run.py)
FINE_PROFILES, MAP_PROFILES = 151, 51
WEIBULL_MODULI = (5.0, 7.5, 10.0, 15.0, 20.0)  # the assumed m and up to a factor 2 either side


def member_overrides(case, radius_nm: float, c_rate: float, profiles: int = FINE_PROFILES) -> list[str]:
    """The --set texts of one member: radius, rate, end time x (C_case / C), mesh scaled
    with R, `profiles` output profiles (output.count)."""
    end_min = case.protocol.end_time.si / 60 * case.protocol.c_rate.si / c_rate
    return [f"geometry.radius={radius_nm} nm", f"protocol.c_rate={c_rate}",
            f"protocol.end_time={end_min:.6g} min",
            f"mesh.surface={min(0.5, radius_nm / 300):.6g} nm", f"mesh.bulk={min(3.0, radius_nm / 50):.6g} nm",
            "output.fields=false", f"output.count={profiles}"]


def _ray(profile: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """r (strictly increasing), hoop and largest principal stress of one profile; at a
    radius sampled twice (a region boundary) the larger stress is kept."""
    r, inverse = np.unique(profile["r_m"], return_inverse=True)
    hoop = np.full(r.size, -np.inf)
    first = np.full(r.size, -np.inf)
    np.maximum.at(hoop, inverse, profile["sigma_t_Pa"])
    np.maximum.at(first, inverse, profile["sigma_1_Pa"])
    return r, hoop, first


def run_criteria(profiles: list[dict], radius_m: float, inputs: CrackInputs) -> dict:
    """The largest values over the run's profiles: the K_I(a) envelope over DEPTH_FRACTIONS x R,
    the Weibull effective stress for each of WEIBULL_MODULI (and the inputs' m), the largest hoop stress."""
    fractions = np.union1d(DEPTH_FRACTIONS, [inputs.max_flaw_fraction_of_radius])
    depths = np.union1d(fractions * radius_m, [min(inputs.min_flaw_depth_m, fractions[-1] * radius_m)])
    k_envelope = np.full(depths.size, -np.inf)
    moduli = sorted(set(WEIBULL_MODULI) | {inputs.weibull_modulus})
    sigma_eff = dict.fromkeys(moduli, 0.0)
    hoop_max = -np.inf
    for profile in profiles:
        r, hoop, first = _ray(profile)
        k_envelope = np.maximum(k_envelope, fc.sphere_surface_crack_stress_intensity(r, hoop, depths))
        for m in moduli:
            effective = fc.sphere_weibull_effective_stress(r, first, m, inputs.reference_volume_m3)
            sigma_eff[m] = max(sigma_eff[m], effective)
        hoop_max = max(hoop_max, float(hoop.max()))
    return {"depths_m": depths.tolist(), "k_envelope_Pa_sqrt_m": k_envelope.tolist(),
            "weibull_effective_stress_Pa": {f"{m:g}": v for m, v in sigma_eff.items()},
            "weibull_probability": fc.weibull_probability_from_effective_stress(
                sigma_eff[inputs.weibull_modulus], inputs.characteristic_strength_Pa, inputs.weibull_modulus),
            "hoop_max_Pa": hoop_max}


def largest_k(member: dict, max_flaw_fraction: float, min_depth_m: float) -> tuple[float, float]:
    """max K_I over flaw depths min_depth <= a <= fraction x R, and the depth where it is largest."""
    a = np.asarray(member["depths_m"])
    k = np.asarray(member["k_envelope_Pa_sqrt_m"])
    inside = (a <= max_flaw_fraction * member["radius_m"] * (1 + 1e-12)) & (a >= min_depth_m * (1 - 1e-12))
    i = int(np.argmax(np.where(inside, k, -np.inf)))
    return float(k[i]), float(a[i])


def critical_flaw_depth(member: dict, toughness: float) -> float | None:
    """The shallowest stored depth at which K_I reaches the toughness (interpolated), or None."""
    a = np.asarray(member["depths_m"])
    k = np.asarray(member["k_envelope_Pa_sqrt_m"])
    above = np.nonzero(k >= toughness)[0]
    if above.size == 0:
        return None
    i = int(above[0])
    if i == 0:
        return float(a[0])
    return float(np.exp(np.interp(toughness, [k[i - 1], k[i]], np.log([a[i - 1], a[i]]))))


def critical_rate(rates, values, threshold) -> float | None:
    """The rate at which `values` (increasing with rate) reach `threshold`, log-log
    interpolated between grid rates; None if not reached in range, 0 if reached at the lowest."""
    rates = np.asarray(rates, dtype=float)
    values = np.asarray(values, dtype=float)
    above = np.nonzero(values >= threshold)[0]
    if above.size == 0:
        return None
    i = int(above[0])
    if i == 0:
        return 0.0
    lo, hi = values[i - 1], values[i]
    if lo <= 0:
        return float(rates[i])
    t = (math.log(threshold) - math.log(lo)) / (math.log(hi) - math.log(lo))
    return float(math.exp(math.log(rates[i - 1]) + t * (math.log(rates[i]) - math.log(rates[i - 1]))))


def at1_criterion(params: FractureParameters):
    """profiles -> the largest psi+ / psi_c over every profile and radius, and where (the
    AT1 onset in closed form: d leaves 0 where psi+ first reaches psi_c = 3 G_c / (16 l));
    and the largest sigma_1 and where."""
    psi_c = at1_onset_energy_density(params)

    def criterion(profiles: list[dict]) -> dict:
        best, radius = -1.0, float("nan")
        sigma_1_max, sigma_1_radius = -np.inf, float("nan")
        for p in profiles:
            ratio = spherical_positive_energy_density(p["sigma_r_Pa"], p["sigma_t_Pa"], params) / psi_c
            i = int(np.argmax(ratio))
            if ratio[i] > best:
                best, radius = float(ratio[i]), float(p["r_m"][i])
            j = int(np.argmax(p["sigma_1_Pa"]))
            if p["sigma_1_Pa"][j] > sigma_1_max:
                sigma_1_max, sigma_1_radius = float(p["sigma_1_Pa"][j]), float(p["r_m"][j])
        return {"at1_ratio_max": best, "at1_ratio_radius_m": radius,
                "sigma_1_max_Pa": sigma_1_max, "sigma_1_max_radius_m": sigma_1_radius}

    return criterion


class MapInterrupted(Exception):
    """A stop request (SIGTERM/SIGINT) ended the map before its files were written."""


class _MemberLog(Log):
    """A member's run says nothing, not even that it was interrupted (its checkpoint is
    in a temporary folder): the map's interruption is reported once, by its caller."""

    def notice(self, message: str) -> None:
        pass


def run_member(sample: str, radius_nm: float, c_rate: float, inputs: CrackInputs,
               extra_overrides=(), more_criteria=None, case_path: Path | None = None, overrides=(),
               profiles: int = FINE_PROFILES) -> dict:
    """One 1D run on this rank alone (COMM_SELF) in a temporary folder, and its criteria.
    `case_path`: the sample's case (default: SAMPLES[sample]); `overrides`: --set texts
    applied to it before the member's own; `extra_overrides`: more --set texts after them
    (e.g. the phase field's physics and section); `more_criteria(profiles)`: a dict of
    further numbers from the run's profiles. The phase field's summary, when it runs, is
    kept as `phase_field`, and with it the AT1 closed form on the run's stress profiles
    (`at1_criterion`: E and nu of the core, the phase field's G_c and l). A run that fails or raises is kept with its status and message
    (never raised: the other ranks' members go on); one stopped by SIGTERM/SIGINT as
    `interrupted`, silently (the map's caller says it once: `shock_map`)."""
    path = SAMPLES[sample] if case_path is None else Path(case_path)
    member = {"sample": sample, "case": str(path), "radius_nm": radius_nm, "radius_m": radius_nm * 1e-9,
              "c_rate": c_rate}
    try:
        base = load_case(path, list(overrides))
        case = load_case(path, list(overrides) + member_overrides(base, radius_nm, c_rate, profiles)
                         + list(extra_overrides))
        with tempfile.TemporaryDirectory(prefix="lrmo-shock-") as folder:
            summary = run_case(case, folder, MPI.COMM_SELF, _MemberLog(MPI.COMM_SELF, quiet=True))
            if summary["status"] == "interrupted":  # its checkpoint goes with the folder
                member.update(status="interrupted", message=summary.get("message", "").split(";")[0])
                return member
            profiles = list(read_profiles(Path(folder) / "profiles.csv").values())
            peak_file = Path(folder) / "profiles_at_peak.csv"
            if peak_file.is_file():
                profiles += list(read_profiles(peak_file).values())
    except Exception as exc:  # noqa: BLE001 - one member's failure is reported, not fatal
        member.update(status="failed", message=f"{type(exc).__name__}: {exc}".splitlines()[0])
        return member
    member.update(status=summary["status"], peak_von_mises_Pa=summary.get("stress", {}).get("peak_von_mises_Pa"))
    if summary["status"] != "completed":
        member["message"] = (str(summary.get("message", "")).splitlines() or [""])[0]
    else:
        member.update(run_criteria(profiles, radius_nm * 1e-9, inputs))
        if more_criteria is not None:
            member.update(more_criteria(profiles))
    if "fracture" in summary:
        member["phase_field"] = pf = summary["fracture"]
        if summary["status"] == "completed":
            core = case.materials.core
            params = FractureParameters(core.youngs_modulus.si, core.poisson_ratio.si, pf["toughness_J_m2"],
                                        pf["length_scale_m"])
            member.update(at1_criterion(params)(profiles))
    return member


def shock_map(radii_nm=RADII_NM, rates=C_RATES, samples=tuple(SAMPLES), inputs: CrackInputs | None = None,
              comm: MPI.Comm = MPI.COMM_WORLD, log: Log | None = None, cases: dict | None = None,
              overrides=(), profiles: int = MAP_PROFILES) -> list[dict]:
    """Every (sample, radius, rate) member, shared round-robin over the ranks; the list on
    every rank. `cases`: sample -> case file (default: SAMPLES), `overrides`: --set texts
    applied to every sample's case. SIGTERM/SIGINT (on any rank) stop the member running
    at its next step and every rank after that round of members (one member per rank):
    MapInterrupted on every rank, nothing returned."""
    inputs = inputs or CrackInputs()
    log = log or Log(comm)
    cases = cases or {s: SAMPLES[s] for s in samples}
    plan = [(s, float(r), float(c)) for s in cases for r in radii_nm for c in rates]
    mine = []
    with StopRequests() as stops:
        for first in range(0, len(plan), comm.size):
            i = first + comm.rank
            if i < len(plan):
                s, r, c = plan[i]
                mine.append((i, run_member(s, r, c, inputs, case_path=cases[s], overrides=overrides,
                                           profiles=profiles)))
                log.info(f"  shock map: {s} R = {r:g} nm at {c:g}C {mine[-1][1]['status']} "
                         f"(member {i + 1} of {len(plan)})")
            stop = stops.requested(comm)  # collective: every rank runs the same number of rounds
            if stop is not None:
                raise MapInterrupted(f"interrupted by {stop}; no map written (the members run are discarded): "
                                     "run the command again")
    members = dict(pair for part in comm.allgather(mine) for pair in part)
    return [members[i] for i in range(len(plan))]


def critical_rates(members: list[dict], inputs: CrackInputs, toughness: float, max_flaw_fraction: float) -> list[dict]:
    """Per sample and radius with a completed run: the critical C-rate by the K criterion
    (this toughness and flaw range) and by the Weibull median."""
    rows = []
    threshold = inputs.characteristic_strength_Pa * (-math.log1p(-inputs.failure_probability)) ** (
        1.0 / inputs.weibull_modulus)
    for sample, radius, runs in completed_by_radius(members):
        rates = [m["c_rate"] for m in runs]
        k = [largest_k(m, max_flaw_fraction, inputs.min_flaw_depth_m)[0] for m in runs]
        sigma_eff = [m["weibull_effective_stress_Pa"][f"{inputs.weibull_modulus:g}"] for m in runs]
        rows.append({"sample": sample, "radius_nm": radius, "rates": rates,
                     "k_max_over_k_ic": [v / toughness for v in k],
                     "critical_rate_k": critical_rate(rates, k, toughness),
                     "critical_rate_weibull": critical_rate(rates, sigma_eff, threshold)})
    return rows


def completed_by_radius(members: list[dict]):
    """(sample, radius, its completed runs by increasing rate) for every sample and radius
    with at least one completed run, in the members' order."""
    for sample in dict.fromkeys(m["sample"] for m in members):
        for radius in dict.fromkeys(m["radius_nm"] for m in members if m["sample"] == sample):
            runs = sorted((m for m in members if m["sample"] == sample and m["radius_nm"] == radius
                           and m["status"] == "completed"), key=lambda m: m["c_rate"])
            if runs:
                yield sample, radius, runs


def phase_field_critical_rates(members: list[dict]) -> list[dict]:
    """Per sample and radius whose completed runs ran the phase field (a case with a
    `fracture:` section; [] otherwise): the phase field's critical C-rate, where the run's
    largest psi+ / psi_c (`at1_criterion`, the AT1 onset: d leaves 0 where psi+ reaches
    psi_c) reaches 1, log-log interpolated between the rates run by `critical_rate` as K
    and Weibull; and the phase-field solve's own verdicts (onset: max d > 1e-3) around the
    first crack on the grid: `cracks_at`, the lowest rate run at which it cracks (None:
    none), `no_crack_at`, the rate run just below it (None: it cracks at the lowest) or
    the highest rate run if none cracks. `agrees`: the solve cracks exactly at the runs
    with psi+ / psi_c >= 1."""
    rows = []
    for sample, radius, runs in completed_by_radius(members):
        runs = [m for m in runs if "at1_ratio_max" in m]
        if not runs:
            continue
        rates = [m["c_rate"] for m in runs]
        ratio = [m["at1_ratio_max"] for m in runs]
        cracks = [m["phase_field"].get("onset") is not None for m in runs]
        first = cracks.index(True) if any(cracks) else len(runs)
        pf = runs[0]["phase_field"]
        rows.append({"sample": sample, "radius_nm": radius, "rates": rates, "at1_ratio": ratio, "cracks": cracks,
                     "critical_rate": critical_rate(rates, ratio, 1.0),
                     "no_crack_at": rates[first - 1] if first > 0 else None,
                     "cracks_at": rates[first] if first < len(runs) else None,
                     "agrees": all(c == (r >= 1.0) for c, r in zip(cracks, ratio)),
                     "strength_Pa": pf["critical_stress_Pa"], "length_scale_m": pf["length_scale_m"],
                     "toughness_J_m2": pf["toughness_J_m2"]})
    return rows


def _rate_text(rate: float | None, rates) -> str:
    if rate is None:
        return f"> {max(rates):g}C"
    if rate == 0.0:
        return f"<= {min(rates):g}C"
    return f"{rate:.2f}C"


def report(members: list[dict], inputs: CrackInputs, paper_radius_nm: float = 150.0, paper_rate: float = 1.0) -> str:
    """The map's table, its sensitivity to K_Ic and the flaw range, and the paper's particle."""
    lines = [f"Electrochemical-shock map: crack when max K_I(a) >= K_Ic, radial edge crack opened by the hoop "
             f"stress, a <= {inputs.max_flaw_fraction_of_radius:g} R (ASSUMED); Weibull: P_f >= "
             f"{inputs.failure_probability:g} (m = {inputs.weibull_modulus:g}, sigma_0 = "
             f"{inputs.characteristic_strength_Pa / 1e6:g} MPa at V_0 of a 150 nm sphere; ASSUMED)", ""]
    for toughness in TOUGHNESS_SENSITIVITY_PA_SQRT_M:
        for fraction in FLAW_SENSITIVITY:
            rows = critical_rates(members, inputs, toughness, fraction)
            if not rows:
                continue
            lines.append(f"K_Ic = {toughness / 1e6:g} MPa m^0.5, a <= {fraction:g} R: critical C-rate")
            lines.append(f"  {'sample':9s} {'R/nm':>6s} {'K crit.':>9s} {'Weibull':>9s}   max K_I/K_Ic at "
                         + ", ".join(f"{c:g}C" for c in rows[0]["rates"]))
            for row in rows:
                by_k = _rate_text(row["critical_rate_k"], row["rates"])
                by_weibull = _rate_text(row["critical_rate_weibull"], row["rates"])
                lines.append(f"  {row['sample']:9s} {row['radius_nm']:6g} {by_k:>9s} {by_weibull:>9s}   "
                             + "  ".join(f"{v:6.3f}" for v in row["k_max_over_k_ic"]))
            lines.append("")
    lines += phase_field_text(members)
    paper = [m for m in members if m["radius_nm"] == paper_radius_nm and m["c_rate"] == paper_rate
             and m["status"] == "completed"]
    if paper:
        lines.append(f"The paper's particle (R = {paper_radius_nm:g} nm, {paper_rate:g}C):")
        for m in paper:
            k, a = largest_k(m, inputs.max_flaw_fraction_of_radius, inputs.min_flaw_depth_m)
            crit = {t: critical_flaw_depth(m, t) for t in TOUGHNESS_SENSITIVITY_PA_SQRT_M}
            crit_text = ", ".join(
                f"{t / 1e6:g} MPa m^0.5: "
                + (f"{d * 1e9:.1f} nm ({d / m['radius_m']:.2f} R)" if d else f"none up to {DEPTH_FRACTIONS[-1]:g} R")
                for t, d in crit.items())
            lines.append(f"  {m['sample']:9s} peak von Mises {m['peak_von_mises_Pa'] / 1e6:.0f} MPa, largest hoop "
                         f"{m['hoop_max_Pa'] / 1e6:.0f} MPa; max K_I (a <= {inputs.max_flaw_fraction_of_radius:g} R) = "
                         f"{k / 1e6:.3f} MPa m^0.5 at a = {a * 1e9:.1f} nm -> "
                         f"{'CRACKS' if k >= inputs.fracture_toughness_Pa_sqrt_m else 'no crack'} at K_Ic = "
                         f"{inputs.fracture_toughness_Pa_sqrt_m / 1e6:g}; Weibull P_f = {m['weibull_probability']:.3g}")
            lines.append(f"            critical flaw depth for K_Ic = {crit_text}")
            median = -math.log1p(-inputs.failure_probability)
            strengths = ", ".join(f"m = {k}: {v / median ** (1 / float(k)) / 1e6:.0f} MPa"
                                  for k, v in m["weibull_effective_stress_Pa"].items())
            lines.append(f"            Weibull P_f >= {inputs.failure_probability:g} for sigma_0 below {strengths}")
    by_sample = {m["sample"]: m for m in paper}
    if {"pristine", "Ru-1"} <= set(by_sample):
        for fraction in FLAW_SENSITIVITY:
            k_p, k_r = (largest_k(by_sample[s], fraction, inputs.min_flaw_depth_m)[0] for s in ("pristine", "Ru-1"))
            lines.append(f"  flaws up to {fraction:g} R: pristine cracks and Ru-1 does not for K_Ic in "
                         f"({k_r / 1e6:.3f}, {k_p / 1e6:.3f}] MPa m^0.5" if k_r < k_p else
                         f"  flaws up to {fraction:g} R: no K_Ic makes pristine crack and Ru-1 not")
    return "\n".join(lines)


def phase_field_text(members: list[dict]) -> list[str]:
    """The phase field's critical C-rates as a table (no lines when no member ran it)."""
    rows = phase_field_critical_rates(members)
    if not rows:
        return []
    verdict = {True: "yes", False: "no"}
    lines = ["Phase field (AT1, the case's fracture: section): critical C-rate where the run's largest psi+/psi_c "
             "reaches 1 (the AT1 onset; log-log between the rates run, as K and Weibull), and the phase-field "
             "solve's own verdicts (crack: max d > 1e-3) on either side of its first crack",
             f"  {'sample':9s} {'R/nm':>6s} {'sigma_c':>8s} {'l/nm':>6s} {'PF crit.':>9s} {'no crack at':>11s} "
             f"{'cracks at':>9s}  agrees   max psi+/psi_c (crack) at " + ", ".join(f"{c:g}C" for c in rows[0]["rates"])]
    for r in rows:
        no_crack = "-" if r["no_crack_at"] is None else f"{r['no_crack_at']:g}C"
        cracks = "-" if r["cracks_at"] is None else f"{r['cracks_at']:g}C"
        lines.append(f"  {r['sample']:9s} {r['radius_nm']:6g} {r['strength_Pa'] / 1e6:8.0f} "
                     f"{r['length_scale_m'] * 1e9:6.1f} {_rate_text(r['critical_rate'], r['rates']):>9s} "
                     f"{no_crack:>11s} {cracks:>9s}  {verdict[r['agrees']]:6s}   "
                     + "  ".join(f"{v:6.3f} ({verdict[c]})" for v, c in zip(r["at1_ratio"], r["cracks"])))
    lines.append("")
    return lines


def plot(members: list[dict], inputs: CrackInputs, path: Path) -> None:
    """Critical C-rate against radius, both samples: the K criterion at the two toughnesses
    (left) and the Weibull median (right); rates beyond the grid drawn as open markers on its edge."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FormatStrFormatter, NullFormatter

    rates_all = sorted({m["c_rate"] for m in members})
    colours = {"pristine": "tab:red", "Ru-1": "tab:blue"}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6), sharey=True)
    panels = [(axes[0], [(t, "-" if i == 0 else "--") for i, t in enumerate(TOUGHNESS_SENSITIVITY_PA_SQRT_M)], "k"),
              (axes[1], [(inputs.fracture_toughness_Pa_sqrt_m, "-")], "weibull")]
    samples = list(dict.fromkeys(m["sample"] for m in members))
    phase_field = []
    for sample in samples:  # per sample: radii, critical rates, the solve's bracket clipped to the grid
        rows = [r for r in phase_field_critical_rates(members) if r["sample"] == sample]
        if rows:
            phase_field.append({
                "sample": sample, "strength_Pa": rows[0]["strength_Pa"], "length_scale_m": rows[0]["length_scale_m"],
                "radii": np.array([r["radius_nm"] for r in rows]), "crit": [r["critical_rate"] for r in rows],
                "no_crack_at": [min(rates_all) if r["no_crack_at"] is None else r["no_crack_at"] for r in rows],
                "cracks_at": [max(rates_all) if r["cracks_at"] is None else r["cracks_at"] for r in rows]})
    for ax, variants, kind in panels:
        for v, (toughness, style) in enumerate(variants):
            for j, row_sample in enumerate(samples):
                shift = 1 + 0.035 * (v * len(samples) + j - (len(variants) * len(samples) - 1) / 2)  # markers apart
                rows = [r for r in critical_rates(members, inputs, toughness, inputs.max_flaw_fraction_of_radius)
                        if r["sample"] == row_sample]
                key = "critical_rate_k" if kind == "k" else "critical_rate_weibull"
                radii = np.array([r["radius_nm"] for r in rows])
                crit = [r[key] for r in rows]
                label = (f"{row_sample}, K$_{{Ic}}$ = {toughness / 1e6:g} MPa m$^{{1/2}}$" if kind == "k"
                         else f"{row_sample}, P_f = {inputs.failure_probability:g}")
                _draw_critical(ax, radii, crit, shift, rates_all, colours.get(row_sample, "k"), style, "o",
                               7 if v == 0 else 4, label)
        for j, row in enumerate(phase_field):  # the phase field's, the same on both panels
            shift = 1 + 0.035 * (j - (len(phase_field) - 1) / 2)
            label = (f"{row['sample']}, phase field $\\sigma_c$ = {row['strength_Pa'] / 1e6:g} MPa "
                     f"(l = {row['length_scale_m'] * 1e9:.3g} nm)")
            _draw_critical(ax, row["radii"], row["crit"], shift, rates_all, colours.get(row["sample"], "k"), ":",
                           "D", 6, label)
            ax.vlines(row["radii"] * shift, row["no_crack_at"], row["cracks_at"], color=colours.get(row["sample"], "k"),
                      lw=1, alpha=0.6)  # the solve's own verdicts: no crack at the lower end, a crack at the upper
        for j, b in enumerate(paper_band(members, inputs)):  # the paper's particle over the input range
            key = "k" if kind == "k" else "weibull"
            ends = [max(rates_all) if r is None else max(r, min(rates_all)) for r in (b[f"{key}_low"], b[f"{key}_high"])]
            ax.vlines(b["radius_nm"] * (1 + 0.05 * (j - 0.5)), *ends, color=colours.get(b["sample"], "k"), lw=7,
                      alpha=0.25, zorder=1, label=f"{b['sample']}, {b['radius_nm']:g} nm: the input range")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylim(min(rates_all) / 1.2, max(rates_all) * 1.2)
        ax.set_xticks(sorted({m["radius_nm"] for m in members}))
        ax.set_yticks(rates_all)
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_formatter(FormatStrFormatter("%g"))
            axis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("particle radius R (nm)")
        ax.axhspan(min(rates_all), max(rates_all), color="0.95", zorder=0)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, loc="lower left")
    axes[0].set_ylabel("critical C-rate for crack initiation")
    axes[0].set_title(f"K$_I$(a) $\\geq$ K$_{{Ic}}$, radial edge crack, "
                      f"a $\\leq$ {inputs.max_flaw_fraction_of_radius:g} R", fontsize=10)
    axes[1].set_title(f"Weibull volume P$_f$ $\\geq$ {inputs.failure_probability:g} (m = {inputs.weibull_modulus:g}, "
                      f"$\\sigma_0$ = {inputs.characteristic_strength_Pa / 1e6:g} MPa)", fontsize=10)
    fig.text(0.5, 0.005, "crack above a line; ▲ no crack up to the grid's highest rate, ▼ cracks at its lowest "
             "(small: the second K$_{Ic}$); grey: the rates run;\nbars: the critical rate at 150 nm over K$_{Ic}$ "
             "0.24-0.81 MPa m$^{1/2}$ and flaws up to 0.05-0.2 R (left), m 5-20 (right)"
             + ("\ndotted, ◆: the phase field (where max $\\psi^+/\\psi_c$ = 1), its thin line from the highest rate "
                "run at which the phase-field solve does not crack to the lowest at which it does" if phase_field else ""),
             ha="center", fontsize=8)
    fig.tight_layout(rect=(0, 0.075 if phase_field else 0.05, 1, 1))
    fig.savefig(path, dpi=150)
    plt.close(fig)


def _draw_critical(ax, radii, crit, shift, rates_all, colour, style, marker, marker_size, label) -> None:
    """One criterion's critical rates against the radius: a line through those inside the
    grid, open markers on its edge for those beyond it (▲ none up to the highest rate, ▼
    at or below the lowest), shifted by the factor `shift` in R to keep markers apart."""
    radii = np.asarray(radii)
    shown = np.array([c if c not in (None, 0.0) else np.nan for c in crit])
    ax.plot(radii, shown, style, marker=marker, color=colour, label=label)
    above = radii[[c is None for c in crit]]
    below = radii[[c == 0.0 for c in crit]]
    ax.plot(above * shift, np.full(above.size, max(rates_all)), linestyle="none", marker="^", mfc="none",
            ms=marker_size, color=colour)
    ax.plot(below * shift, np.full(below.size, min(rates_all)), linestyle="none", marker="v", mfc="none",
            ms=marker_size, color=colour)


class MapInputError(ValueError):
    """A shock-map option out of range or a case the map cannot vary; the message names
    the option (`--radii`, ...) or the case key."""


def check_options(radii_nm, rates, toughness_MPa_sqrt_m=None, max_flaw_fraction=None) -> CrackInputs:
    """The map's options checked (MapInputError naming the option) and its crack inputs."""
    radii_nm, rates = list(radii_nm), list(rates)
    for option, values, unit in (("--radii", radii_nm, " nm"), ("--rates", rates, "C")):
        if not values:
            raise MapInputError(f"{option}: give at least one value")
        bad = [v for v in values if not (math.isfinite(v) and v > 0)]
        if bad:
            raise MapInputError(f"{option}: every value must be > 0{unit}; got {bad[0]:g}")
    changes = {}
    if toughness_MPa_sqrt_m is not None:
        low, high = RANGES["fracture_toughness_Pa_sqrt_m"]
        if not (math.isfinite(toughness_MPa_sqrt_m) and low / 1e6 < toughness_MPa_sqrt_m <= high / 1e6):
            raise MapInputError(f"--toughness: K_Ic must be in ({low / 1e6:g}, {high / 1e6:g}] MPa m^0.5; "
                                f"got {toughness_MPa_sqrt_m:g}")
        changes["fracture_toughness_Pa_sqrt_m"] = toughness_MPa_sqrt_m * 1e6
    if max_flaw_fraction is not None:
        low, high = RANGES["max_flaw_fraction_of_radius"]
        if not (math.isfinite(max_flaw_fraction) and low < max_flaw_fraction <= high):
            raise MapInputError(f"--max-flaw: the deepest flaw as a fraction of R must be in ({low:g}, {high:g}]; "
                                f"got {max_flaw_fraction:g}")
        changes["max_flaw_fraction_of_radius"] = max_flaw_fraction
    return CrackInputs().with_changes(**changes)


def map_problem(case) -> str | None:
    """Why the map cannot vary this case (its radius and C-rate in 1D runs), or None."""
    if case.geometry.shape != "radial":
        return (f"geometry.shape: the shock map runs the 1D radial model; got {case.geometry.shape} "
                "(a spherically symmetric case runs in 1D with --set geometry.shape=radial)")
    if "mechanics" not in case.physics:
        return f"physics: the shock map needs 'mechanics' (the stress); got {case.physics}"
    if case.protocol is None or case.protocol.c_rate is None or case.protocol.end_time is None:
        return ("protocol: the shock map varies protocol.c_rate of the first charge (kind: "
                "galvanostatic_charge with c_rate and end_time), not a protocol of steps")
    return None


def sample_cases(paths, overrides=()) -> dict[str, Path]:
    """Sample label -> case file, every case loaded with the overrides and checked
    (CaseError naming the key, MapInputError for a case given twice). A shipped headline
    case keeps its sample name (pristine, Ru-1), any other its case name."""
    shipped = {path.resolve(): name for name, path in SAMPLES.items()}
    samples = {}
    for path in map(Path, paths):
        case = load_case(path, list(overrides))
        problem = map_problem(case)
        if problem:
            raise CaseError(problem)
        label = shipped.get(path.resolve(), case.name)
        if label in samples:
            raise MapInputError(f"CASE: {path} is the same sample ({label}) as {samples[label]}")
        samples[label] = path
    return samples


def check_members(samples: dict, radii_nm, rates, overrides=()) -> None:
    """Every member's case loaded before any run (CaseError naming the key), so that a
    bad combination is refused before the map starts."""
    for path in samples.values():
        base = load_case(path, list(overrides))
        for r in radii_nm:
            for c in rates:
                load_case(path, list(overrides) + member_overrides(base, r, c))


def _yes(flag: bool | None) -> str:
    return "" if flag is None else ("yes" if flag else "no")


def member_table(members: list[dict], inputs: CrackInputs) -> tuple[list[str], list[list]]:
    """shock_map.csv: one row per member. K_I is the largest over flaws from
    min_flaw_depth to max_flaw_fraction x R; P_f the volume Weibull probability at the
    inputs' m and sigma_0; the crack columns: K_I >= K_Ic, P_f >= failure_probability,
    and the phase field's onset when the case runs one (else empty); when it does, also
    AT1_psi_plus_over_psi_c, the run's largest psi+ / psi_c (`at1_criterion`)."""
    moduli = weibull_moduli(members) or sorted(WEIBULL_MODULI)
    at1 = any("at1_ratio_max" in m for m in members)
    header = (["sample", "case", "radius_nm", "c_rate", "status", "peak_von_mises_MPa", "hoop_max_MPa",
               "max_K_I_MPa_sqrt_m", "flaw_depth_at_max_K_I_nm", "K_I_over_K_Ic"]
              + [f"sigma_eff_m{m:g}_MPa" for m in moduli]
              + [f"P_f_m{inputs.weibull_modulus:g}", "crack_K", "crack_Weibull", "crack_phase_field"]
              + (["AT1_psi_plus_over_psi_c"] if at1 else []) + ["message"])
    rows = []
    for m in members:
        row = [m["sample"], m.get("case", ""), m["radius_nm"], m["c_rate"], m["status"]]
        if m["status"] == "completed":
            k, a = largest_k(m, inputs.max_flaw_fraction_of_radius, inputs.min_flaw_depth_m)
            sigma = m["weibull_effective_stress_Pa"]
            p_f = m["weibull_probability"]
            pf = m.get("phase_field")
            row += [m["peak_von_mises_Pa"] / 1e6, m["hoop_max_Pa"] / 1e6, k / 1e6, a * 1e9,
                    k / inputs.fracture_toughness_Pa_sqrt_m]
            row += [sigma[f"{mod:g}"] / 1e6 if f"{mod:g}" in sigma else "" for mod in moduli]
            row += [p_f, _yes(k >= inputs.fracture_toughness_Pa_sqrt_m), _yes(p_f >= inputs.failure_probability),
                    "" if pf is None else _yes(pf.get("onset") is not None)]
            row += ([m.get("at1_ratio_max", "")] if at1 else []) + [""]
        else:
            row += [""] * (len(header) - len(row) - 1) + [m.get("message", "")]
        rows.append(row)
    return header, rows


def _bound(rate: float | None) -> str:
    return "above_grid" if rate is None else ("at_or_below_lowest_rate" if rate == 0.0 else "interpolated")


def critical_rate_table(members: list[dict], inputs: CrackInputs) -> tuple[list[str], list[list]]:
    """critical_rates.csv: per sample and radius, the critical C-rate by the K criterion
    for the inputs' K_Ic and flaw range and the sensitivity set (K_Ic 0.24 and 0.81 MPa
    m^0.5, flaws up to 0.05, 0.1, 0.2 R), and by the Weibull median for every stored m
    (sigma_0 as given). `bound`: interpolated, above_grid (no crack up to the highest rate
    run) or at_or_below_lowest_rate (cracks at the lowest rate run). When the case runs the
    phase field, also the criterion phase_field (`phase_field_critical_rates`) and six
    more columns, empty for K and Weibull: its sigma_c, l and G_c, and the solve's own
    verdicts around the first crack: the rate run at which it does not crack and the
    lowest at which it cracks (empty: none), and whether they agree with psi+/psi_c >= 1
    at every rate run. Without the phase field the file is as before (no such columns)."""
    header = ["sample", "radius_nm", "criterion", "inputs", "K_Ic_MPa_sqrt_m", "max_flaw_fraction_of_R",
              "weibull_modulus", "sigma_0_MPa", "critical_c_rate", "bound", "lowest_rate_run", "highest_rate_run"]
    phase_field = phase_field_critical_rates(members)
    rows = []
    toughnesses = [inputs.fracture_toughness_Pa_sqrt_m] + [t for t in TOUGHNESS_SENSITIVITY_PA_SQRT_M
                                                           if t != inputs.fracture_toughness_Pa_sqrt_m]
    fractions = [inputs.max_flaw_fraction_of_radius] + [f for f in FLAW_SENSITIVITY
                                                        if f != inputs.max_flaw_fraction_of_radius]
    for t in toughnesses:
        for f in fractions:
            given = "given" if (t, f) == (toughnesses[0], fractions[0]) else "sensitivity"
            for row in critical_rates(members, inputs, t, f):
                rows.append([row["sample"], row["radius_nm"], "K", given, t / 1e6, f, "", "",
                             row["critical_rate_k"] or "", _bound(row["critical_rate_k"]),
                             min(row["rates"]), max(row["rates"])])
    for modulus in weibull_moduli(members):
        given = "given" if modulus == inputs.weibull_modulus else "sensitivity"
        for sample, radius, rates, rate in weibull_critical_rates(members, inputs, modulus):
            rows.append([sample, radius, "Weibull", given, "", "", modulus, inputs.characteristic_strength_Pa / 1e6,
                         rate or "", _bound(rate), min(rates), max(rates)])
    if not phase_field:
        return header, rows
    more = ["sigma_c_MPa", "length_scale_nm", "G_c_J_m2", "phase_field_no_crack_at_c_rate",
            "phase_field_cracks_at_c_rate", "phase_field_agrees_with_AT1"]
    rows = [row + [""] * len(more) for row in rows]
    for r in phase_field:
        rate = r["critical_rate"]
        rows.append([r["sample"], r["radius_nm"], "phase_field", "given", "", "", "", "", rate or "", _bound(rate),
                     min(r["rates"]), max(r["rates"]), r["strength_Pa"] / 1e6, r["length_scale_m"] * 1e9,
                     r["toughness_J_m2"], _or_empty(r["no_crack_at"]), _or_empty(r["cracks_at"]), _yes(r["agrees"])])
    return header + more, rows


def _or_empty(value):
    return "" if value is None else value


def weibull_moduli(members: list[dict]) -> list[float]:
    return sorted({float(k) for m in members for k in m.get("weibull_effective_stress_Pa", {})})


def weibull_critical_rates(members: list[dict], inputs: CrackInputs, modulus: float):
    """(sample, radius, rates run, critical rate) by P_f >= failure_probability at this m."""
    threshold = inputs.characteristic_strength_Pa * (-math.log1p(-inputs.failure_probability)) ** (1.0 / modulus)
    for sample, radius, runs in completed_by_radius(members):
        rates = [m["c_rate"] for m in runs]
        sigma = [m["weibull_effective_stress_Pa"][f"{modulus:g}"] for m in runs]
        yield sample, radius, rates, critical_rate(rates, sigma, threshold)


def _order(rate: float | None, rates) -> float:
    """A critical rate as a number for ordering: beyond the grid above its highest rate."""
    return math.inf if rate is None else rate


def paper_band(members: list[dict], inputs: CrackInputs, radius_nm: float = 150.0, c_rate: float = 1.0) -> list[dict]:
    """The paper's particle: per sample, the critical C-rate at `radius_nm` across the
    sourced input range, low and high, from the same runs (no refits): the K criterion over
    K_Ic in TOUGHNESS_SENSITIVITY and flaws up to FLAW_SENSITIVITY x R (the critical rate
    is monotone in both, so the corners bound it), the Weibull median over the stored
    moduli m (sigma_0 as given). And at `c_rate`: how many of those input sets crack; and
    the largest K_I over the rates run (deepest flaw): above it no rate of the grid cracks
    the particle (K_I saturates once the surface reaches the composition floor early).
    When the case runs the phase field: its critical rate at `radius_nm`
    (`phase_field_critical_rates`; one input set, the case's sigma_c and G_c, so one rate,
    not a band) and whether it cracks at `c_rate`; else `phase_field` is None."""
    band = []
    phase_field = {(r["sample"], r["radius_nm"]): r for r in phase_field_critical_rates(members)}
    for sample in dict.fromkeys(m["sample"] for m in members):
        runs = sorted((m for m in members if m["sample"] == sample and m["radius_nm"] == radius_nm
                       and m["status"] == "completed"), key=lambda m: m["c_rate"])
        if not runs:
            continue
        rates = [m["c_rate"] for m in runs]
        at_rate = next((m for m in runs if m["c_rate"] == c_rate), None)
        k_rates, k_cracks = [], []
        for t in TOUGHNESS_SENSITIVITY_PA_SQRT_M:
            for f in FLAW_SENSITIVITY:
                k = [largest_k(m, f, inputs.min_flaw_depth_m)[0] for m in runs]
                k_rates.append(critical_rate(rates, k, t))
                if at_rate is not None:
                    k_cracks.append(largest_k(at_rate, f, inputs.min_flaw_depth_m)[0] >= t)
        w_rates, w_cracks = [], []
        for modulus in weibull_moduli(runs):
            w_rates.append(next(r for *_, r in weibull_critical_rates(runs, inputs, modulus)))
            if at_rate is not None:
                p_f = fc.weibull_probability_from_effective_stress(
                    at_rate["weibull_effective_stress_Pa"][f"{modulus:g}"], inputs.characteristic_strength_Pa, modulus)
                w_cracks.append(p_f >= inputs.failure_probability)
        band.append({"sample": sample, "radius_nm": radius_nm, "rates": rates, "c_rate": c_rate,
                     "k_low": min(k_rates, key=lambda r: _order(r, rates)),
                     "k_high": max(k_rates, key=lambda r: _order(r, rates)),
                     "weibull_low": min(w_rates, key=lambda r: _order(r, rates)),
                     "weibull_high": max(w_rates, key=lambda r: _order(r, rates)),
                     "weibull_moduli": weibull_moduli(runs),
                     "k_largest_Pa_sqrt_m": max(largest_k(m, max(FLAW_SENSITIVITY), inputs.min_flaw_depth_m)[0]
                                                for m in runs),
                     "k_cracks_at_rate": None if at_rate is None else f"{sum(k_cracks)} of {len(k_cracks)}",
                     "weibull_cracks_at_rate": None if at_rate is None else f"{sum(w_cracks)} of {len(w_cracks)}",
                     "phase_field": _band_phase_field(phase_field.get((sample, radius_nm)), c_rate)})
    return band


def _band_phase_field(row: dict | None, c_rate: float) -> dict | None:
    if row is None:
        return None
    at_rate = dict(zip(row["rates"], row["cracks"])).get(c_rate)
    return {key: row[key] for key in ("critical_rate", "no_crack_at", "cracks_at", "agrees", "strength_Pa",
                                      "length_scale_m", "toughness_J_m2")} | {"cracks_at_rate": at_rate}


def band_text(band: list[dict], inputs: CrackInputs) -> list[str]:
    """The paper's particle's band, printed as low-high."""
    if not band:
        return ["The paper's particle (R = 150 nm): not in the map's radii, no band."]
    t_lo, t_hi = (t / 1e6 for t in (min(TOUGHNESS_SENSITIVITY_PA_SQRT_M), max(TOUGHNESS_SENSITIVITY_PA_SQRT_M)))
    first = band[0]
    lines = [f"The paper's particle (R = {first['radius_nm']:g} nm): the critical C-rate across the sourced input "
             f"range, low - high (from the same runs, no refits; rates run {', '.join(f'{c:g}' for c in first['rates'])}C):",
             f"  K criterion: K_Ic {t_lo:g}-{t_hi:g} MPa m^0.5 (MEASURED on LiMn2O4, ASSUMED for LRMO), flaws up to "
             f"{min(FLAW_SENSITIVITY):g}-{max(FLAW_SENSITIVITY):g} R (ASSUMED); Weibull: P_f >= "
             f"{inputs.failure_probability:g}, m {min(first['weibull_moduli']):g}-{max(first['weibull_moduli']):g} "
             f"(at m = {', '.join(f'{m:g}' for m in first['weibull_moduli'])}; ASSUMED), sigma_0 = "
             f"{inputs.characteristic_strength_Pa / 1e6:g} MPa (ASSUMED)"]
    for b in band:
        k = f"{_rate_text(b['k_low'], b['rates'])} - {_rate_text(b['k_high'], b['rates'])}"
        w = f"{_rate_text(b['weibull_low'], b['rates'])} - {_rate_text(b['weibull_high'], b['rates'])}"
        line = (f"  {b['sample']:9s} K criterion {k:>17s} (K_I at most {b['k_largest_Pa_sqrt_m'] / 1e6:.3f} "
                f"MPa m^0.5 at any rate run)   Weibull {w:>17s}")
        if b["k_cracks_at_rate"] is not None:
            line += (f"   at {b['c_rate']:g}C cracks for {b['k_cracks_at_rate']} K input sets, "
                     f"{b['weibull_cracks_at_rate']} Weibull moduli")
        lines.append(line)
    ran = [b for b in band if b["phase_field"] is not None]
    if ran:
        lines.append("  phase field (AT1; one input set, the case's sigma_c and G_c, so one critical rate, not a band):")
    for b in ran:
        pf = b["phase_field"]
        solve = ", ".join(text for text in (
            None if pf["no_crack_at"] is None else f"no crack at {pf['no_crack_at']:g}C",
            None if pf["cracks_at"] is None else f"cracks at {pf['cracks_at']:g}C") if text)
        line = (f"  {b['sample']:9s} phase field {_rate_text(pf['critical_rate'], b['rates']):>9s} (sigma_c = "
                f"{pf['strength_Pa'] / 1e6:g} MPa, l = {pf['length_scale_m'] * 1e9:.1f} nm, G_c = "
                f"{pf['toughness_J_m2']:g} J/m^2; the solve: {solve}"
                + ("" if pf["agrees"] else "; DISAGREES with psi+/psi_c >= 1 at some rate") + ")")
        if pf["cracks_at_rate"] is not None:
            line += f"   at {b['c_rate']:g}C: {'cracks' if pf['cracks_at_rate'] else 'no crack'}"
        lines.append(line)
    for b in band:
        if ran and b["phase_field"] is None:
            lines.append(f"  {b['sample']:9s} phase field not run (its case has no fracture: section)")
    return lines


OUTPUTS = ("shock_map.csv", "critical_rates.csv", "shock_map.png", "shock_map.txt", "shock_map.json",
           "provenance.json")


def write_map(out: Path, members: list[dict], inputs: CrackInputs, comm: MPI.Comm, provenance: dict) -> str:
    """Every output file into `out`, on rank 0, each through a temporary name (a failed
    write leaves no half file; OutputError, exit 4, on every rank). Returns the report text."""
    from solver.io.output import OutputError, csv_text, root_collective, write_atomic

    text = report(members, inputs) + "\n\n" + "\n".join(band_text(paper_band(members, inputs), inputs))

    def write():
        files = {"shock_map.csv": csv_text(*member_table(members, inputs)),
                 "critical_rates.csv": csv_text(*critical_rate_table(members, inputs)),
                 "shock_map.txt": text + "\n",
                 "shock_map.json": json.dumps({"inputs": vars(inputs), "paper_band": paper_band(members, inputs),
                                               "members": members}, indent=1),
                 "provenance.json": json.dumps(provenance, indent=1)}
        png = out / f".shock_map.tmp-{os.getpid()}.png"
        try:
            plot(members, inputs, png)  # everything made before the first file is written
            for name, content in files.items():
                write_atomic(out / name, content)
            os.replace(png, out / "shock_map.png")
        except OSError as exc:
            raise OutputError(f"cannot write {out}: {exc.strerror or exc}") from None
        finally:
            png.unlink(missing_ok=True)

    root_collective(comm, write)
    return text


def provenance(samples: dict, overrides, radii_nm, rates, inputs: CrackInputs, comm: MPI.Comm,
               wall_time_s: float, profiles: int = MAP_PROFILES) -> dict:
    """What the map was made from: versions, the command line, the case files (SHA-256),
    the overrides, the grid, the crack inputs and the member settings."""
    import hashlib
    import sys

    from solver.io.provenance import versions

    return {"versions": versions(), "command": sys.argv, "n_ranks": comm.size, "wall_time_s": wall_time_s,
            "cases": {s: {"path": str(p), "sha256": hashlib.sha256(Path(p).read_bytes()).hexdigest()}
                      for s, p in samples.items()},
            "overrides": list(overrides), "radii_nm": list(radii_nm), "c_rates": list(rates),
            "member_settings": "geometry.radius, protocol.c_rate, protocol.end_time x C_case/C, mesh.surface "
                               f"min(0.5 nm, R/300), mesh.bulk min(3 nm, R/50), output.count {profiles}, no fields",
            "crack_inputs": vars(inputs), "weibull_moduli": list(WEIBULL_MODULI)}


def make_map(out, samples: dict, radii_nm, rates, inputs: CrackInputs, overrides=(),
             comm: MPI.Comm = MPI.COMM_WORLD, log: Log | None = None) -> tuple[list[dict], str]:
    """The map into the folder `out` (already claimed by the caller): clear the previous
    map's files, run every member (shared over the ranks), write the outputs. Returns the
    members and the report text (on every rank)."""
    import time

    from solver.io.output import prepare_folder, root_collective

    out = Path(out)
    radii_nm, rates = sorted(set(radii_nm)), sorted(set(rates))
    root_collective(comm, lambda: prepare_folder(out, clear=OUTPUTS))
    start = time.perf_counter()
    members = shock_map(radii_nm, rates, inputs=inputs, comm=comm, log=log, cases=samples, overrides=overrides)
    wall = comm.allreduce(time.perf_counter() - start, op=MPI.MAX)
    text = write_map(out, members, inputs, comm, provenance(samples, overrides, radii_nm, rates, inputs, comm, wall))
    return members, text


def main(argv=None) -> int:
    """The developer entry (the same map as `lrmo shock-map`, with the shipped samples by
    name): raises on bad input instead of exiting 2."""
    from solver.io.output import claim_folder

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="folder for the map's files")
    parser.add_argument("--radii", nargs="+", type=float, default=list(RADII_NM), help="radii in nm")
    parser.add_argument("--rates", nargs="+", type=float, default=list(C_RATES), help="C-rates")
    parser.add_argument("--samples", nargs="+", default=list(SAMPLES), choices=list(SAMPLES))
    parser.add_argument("--toughness", type=float, default=None, help="K_Ic in MPa m^0.5 (default: crack_inputs)")
    parser.add_argument("--max-flaw", type=float, default=None, help="deepest flaw as a fraction of R")
    parser.add_argument("--overwrite", action="store_true", help="write into --out even if it holds other results")
    args = parser.parse_args(argv)
    comm = MPI.COMM_WORLD
    inputs = check_options(args.radii, args.rates, args.toughness, args.max_flaw)
    samples = sample_cases([SAMPLES[s] for s in args.samples])
    check_members(samples, args.radii, args.rates)
    with claim_folder(args.out, "shock-map", comm, overwrite=args.overwrite):
        _, text = make_map(args.out, samples, args.radii, args.rates, inputs, comm=comm)
    if comm.rank == 0:
        print(text)
        print(f"written: {args.out}/" + ", ".join(OUTPUTS))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

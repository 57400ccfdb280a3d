"""Will it crack? The AT1 phase field against the cheap crack criteria at points of the
electrochemical-shock map (issue 20; docs/fracture.md).

Each point is a shock-map member (solver/studies/shock_map.py: the sample's 1D case at a
radius and C-rate, the same charge and hold, the mesh scaled with R) run once with
physics [lithium, mechanics, fracture] on the 1D radial model. The phase field is one-way
(it does not change the Li run or the stress), so the same run's profiles give the cheap
criteria as on the map:

- phase field: cracks when max d passes 10^-3 (the submodel's onset; AT1 has an elastic
  phase, so this is where and when the local state first reaches the strength), with the
  radius of the onset, max d at the end and the volume with d > 0.5;
- AT1 closed form from the stress profiles: max psi+ / psi_c over r and the output times,
  psi_c = 3 G_c / (16 l) (the onset the phase field should reproduce; shock_map.at1_criterion,
  which run_member applies to every run with the phase field);
- K: max K_I(a) / K_Ic of a radial surface flaw, a <= 0.1 R (cracks at >= 1);
- Weibull: the volume P_f (cracks at >= 0.5), and the radius of the largest sigma_1.

The phase field's inputs: G_c = K_Ic^2 (1 - nu^2) / E from the toughness of the cheap
criteria (CrackInputs: 0.24 MPa m^0.5 -> 0.349 J/m^2), and the strength sigma_c, which
with G_c fixes l = 3 G_c E / (8 sigma_c^2); each strength is a second run of every point.

    python -m solver.studies.phase_field_check --out results/phase_field_check
    mpirun -n 2 python -m solver.studies.phase_field_check --out ...   # points over 2 ranks
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from mpi4py import MPI

from solver.case.crack_inputs import CrackInputs
from solver.case.schema import load_case
from solver.io.log import Log
from solver.physics.fracture import FractureParameters
from solver.studies.shock_map import SAMPLES, largest_k, run_member

# (radius nm, C-rate): both sides of the cheap criteria's boundaries on the default map
POINTS = ((50, 5.0), (100, 1.0), (100, 5.0), (150, 1.0), (150, 5.0), (250, 0.5), (250, 2.0), (500, 1.0))
# sigma_c (MPa): the shipped octant case's 750 (l = 35 nm with G_c = 0.349 J/m^2) and the
# Weibull characteristic strength 375 (l = 140 nm); both ASSUMED (docs/fracture.md)
STRENGTHS_MPA = (750.0, 375.0)
ONSET_DAMAGE = 1e-3  # as solver/simulation/fracture_submodel.py


def griffith_toughness_J_m2(inputs: CrackInputs, youngs_modulus_Pa: float, poisson_ratio: float) -> float:
    """G_c = K_Ic^2 (1 - nu^2) / E (plane strain)."""
    return inputs.fracture_toughness_Pa_sqrt_m ** 2 * (1 - poisson_ratio ** 2) / youngs_modulus_Pa


def phase_field_overrides(toughness_J_m2: float, strength_Pa: float) -> list[str]:
    return ["physics=[lithium, mechanics, fracture]",
            f"fracture.toughness={toughness_J_m2:.9g} J/m^2", f"fracture.strength={strength_Pa / 1e6:.9g} MPa",
            "fracture.every_steps=1", "fracture.staggered_tolerance=1e-5"]


def check(points=POINTS, samples=("pristine",), strengths_MPa=STRENGTHS_MPA, inputs: CrackInputs | None = None,
          comm: MPI.Comm = MPI.COMM_WORLD, log: Log | None = None) -> list[dict]:
    """Every (strength, sample, point), shared round-robin over the ranks; the list on every rank."""
    inputs = inputs or CrackInputs()
    log = log or Log(comm)
    plan = [(s, float(sc), float(r), float(c)) for sc in strengths_MPa for s in samples for r, c in points]
    mine = []
    for i, (sample, sigma_c_MPa, radius_nm, c_rate) in enumerate(plan):
        if i % comm.size != comm.rank:
            continue
        core = load_case(SAMPLES[sample]).materials.core
        E, nu = core.youngs_modulus.si, core.poisson_ratio.si
        G_c = griffith_toughness_J_m2(inputs, E, nu)
        strength = sigma_c_MPa * 1e6
        params = FractureParameters(E, nu, G_c, 3 * G_c * E / (8 * strength ** 2))
        start = time.perf_counter()
        member = run_member(sample, radius_nm, c_rate, inputs, phase_field_overrides(G_c, strength))
        member.update(strength_Pa=strength, toughness_J_m2=G_c, length_scale_m=params.length_scale_m,
                      wall_s=time.perf_counter() - start)
        mine.append((i, member))
        log.info(f"  phase-field check: {sample} R = {radius_nm:g} nm at {c_rate:g}C, sigma_c = {sigma_c_MPa:g} MPa "
                 f"done in {member['wall_s']:.1f} s (point {i + 1} of {len(plan)})")
    members = dict(pair for part in comm.allgather(mine) for pair in part)
    return [members[i] for i in range(len(plan))]


def _where(radius_m: float, R: float) -> str:
    depth = R - radius_m
    return "surface" if depth <= 1e-4 * R else f"{depth * 1e9:.1f} nm deep"


def rows(members: list[dict], inputs: CrackInputs) -> list[dict]:
    """One row per member: each criterion's verdict and its numbers."""
    out = []
    for m in members:
        R = m["radius_m"]
        if m["status"] != "completed":
            out.append({key: m[key] for key in ("sample", "radius_nm", "c_rate", "status", "wall_s")}
                       | {"strength_MPa": m["strength_Pa"] / 1e6, "length_scale_nm": m["length_scale_m"] * 1e9})
            continue
        pf = m.get("phase_field") or {}
        onset = pf.get("onset")
        k, a = largest_k(m, inputs.max_flaw_fraction_of_radius, inputs.min_flaw_depth_m)
        out.append({
            "sample": m["sample"], "strength_MPa": m["strength_Pa"] / 1e6, "length_scale_nm": m["length_scale_m"] * 1e9,
            "radius_nm": m["radius_nm"], "c_rate": m["c_rate"], "status": m["status"],
            "pf_cracks": onset is not None, "pf_onset_time_s": onset["time_s"] if onset else None,
            "pf_onset_where": _where(onset["radius_m"], R) if onset else "-",
            "pf_damage_max": pf.get("damage_max"), "pf_damaged_fraction": pf.get("damaged_volume_fraction"),
            "at1_ratio": m["at1_ratio_max"], "at1_where": _where(m["at1_ratio_radius_m"], R),
            "hoop_max_MPa": m["hoop_max_Pa"] / 1e6,
            "k_ratio": k / inputs.fracture_toughness_Pa_sqrt_m, "k_cracks": k >= inputs.fracture_toughness_Pa_sqrt_m,
            "k_depth_nm": a * 1e9,
            "weibull_pf": m["weibull_probability"], "weibull_cracks": m["weibull_probability"] >= inputs.failure_probability,
            "sigma_1_where": _where(m["sigma_1_max_radius_m"], R), "wall_s": m["wall_s"]})
    return out


def report(members: list[dict], inputs: CrackInputs) -> str:
    yes = {True: "CRACKS", False: "no"}
    lines = [f"Phase field (AT1, 1D radial, G_c = K_Ic^2 (1 - nu^2) / E, onset: max d > {ONSET_DAMAGE:g}) against "
             f"K (K_Ic = {inputs.fracture_toughness_Pa_sqrt_m / 1e6:g} MPa m^0.5, a <= "
             f"{inputs.max_flaw_fraction_of_radius:g} R) and Weibull (P_f >= {inputs.failure_probability:g}, "
             f"m = {inputs.weibull_modulus:g}, sigma_0 = {inputs.characteristic_strength_Pa / 1e6:g} MPa)", ""]
    header = (f"  {'sample':9s} {'R/nm':>5s} {'C':>4s} | {'phase field':11s} {'onset t/s':>9s} {'where':>12s} "
              f"{'max d':>7s} | {'psi+/psi_c':>10s} | {'hoop/MPa':>8s} | {'K_I/K_Ic':>8s} {'K':6s} | "
              f"{'P_f':>6s} {'Weibull':7s} {'s1 at':>12s} | {'wall/s':>6s}")
    table = rows(members, inputs)
    for strength in dict.fromkeys(r["strength_MPa"] for r in table):
        group = [r for r in table if r["strength_MPa"] == strength]
        lines.append(f"sigma_c = {strength:g} MPa, l = {group[0]['length_scale_nm']:.1f} nm "
                     f"(surface onset sigma_c / sqrt(2 (1 - nu)))")
        lines.append(header)
        for r in group:
            if r["status"] != "completed":
                lines.append(f"  {r['sample']:9s} {r['radius_nm']:5g} {r['c_rate']:4g} | run {r['status']}")
                continue
            onset_t = f"{r['pf_onset_time_s']:.0f}" if r["pf_onset_time_s"] is not None else "-"
            lines.append(
                f"  {r['sample']:9s} {r['radius_nm']:5g} {r['c_rate']:4g} | {yes[r['pf_cracks']]:11s} {onset_t:>9s} "
                f"{r['pf_onset_where']:>12s} {r['pf_damage_max']:7.3g} | {r['at1_ratio']:10.3f} | "
                f"{r['hoop_max_MPa']:8.0f} | {r['k_ratio']:8.3f} {yes[r['k_cracks']]:6s} | {r['weibull_pf']:6.3f} "
                f"{yes[r['weibull_cracks']]:7s} {r['sigma_1_where']:>12s} | {r['wall_s']:6.1f}")
        done = [r for r in group if r["status"] == "completed"]
        agree_k = sum(r["pf_cracks"] == r["k_cracks"] for r in done)
        agree_w = sum(r["pf_cracks"] == r["weibull_cracks"] for r in done)
        agree_at1 = sum(r["pf_cracks"] == (r["at1_ratio"] >= 1) for r in done)
        lines.append(f"  the phase field agrees with K at {agree_k} of {len(done)} points, with Weibull at "
                     f"{agree_w}, with its own closed form (psi+/psi_c >= 1) at {agree_at1}"
                     + (f"; {len(group) - len(done)} run(s) failed" if len(done) < len(group) else ""))
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="folder for phase_field_check.json and .txt")
    parser.add_argument("--samples", nargs="+", default=list(SAMPLES), choices=list(SAMPLES))
    parser.add_argument("--strengths", nargs="+", type=float, default=list(STRENGTHS_MPA),
                        help="phase-field strengths sigma_c in MPa (each: one run of every point)")
    parser.add_argument("--points", nargs="+", default=None,
                        help="radius_nm:C-rate pairs, e.g. 150:1 250:2 (default: 8 points across the map)")
    args = parser.parse_args(argv)
    points = POINTS if args.points is None else tuple(tuple(float(v) for v in p.split(":")) for p in args.points)
    comm = MPI.COMM_WORLD
    inputs = CrackInputs()
    start = time.perf_counter()
    members = check(points, tuple(args.samples), tuple(args.strengths), inputs, comm)
    text = report(members, inputs) + f"\ntotal wall time {time.perf_counter() - start:.0f} s on {comm.size} rank(s)"
    if comm.rank == 0:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "phase_field_check.json").write_text(json.dumps(
            {"inputs": vars(inputs), "rows": rows(members, inputs), "members": members}, indent=1, default=str))
        (args.out / "phase_field_check.txt").write_text(text + "\n")
        print(text)
        print(f"written: {args.out}/phase_field_check.json, phase_field_check.txt")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

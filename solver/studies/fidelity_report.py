"""The report's fidelity section (`lrmo reproduce`): both model variants side by side,
the inputs they derive, the evidence for the Ru-1 peak location, the sensitivity table
and tornado plot (docs/fidelity.md). Runs are collective; figures and text rank 0 only."""
from __future__ import annotations

from pathlib import Path

from mpi4py import MPI

from solver.studies import sensitivity, variants

PAPER = {"pristine_peak_MPa": 567.0, "ru1_peak_MPa": 418.0, "pristine_volume_change": 0.0362,
         "ru1_volume_change": 0.0269}
TOLERANCE = 0.03  # the targets: within 3 %


def run_fidelity(comm=MPI.COMM_WORLD, log=lambda text: None) -> dict:
    """Baseline variants, the one-at-a-time sensitivity study and the location evidence."""
    log("reproduce: fidelity variants A and B, sensitivity (1D)")
    study = sensitivity.run_sensitivity(comm)
    log("reproduce: fidelity, the Ru-1 peak location for each layer physics")
    evidence = variants.location_evidence(comm)
    base = study["baseline"]
    profiles = {}
    for label, sample, sets, t in (
            ("pristine", "pristine", [], base["pristine"]["stress"]["peak_time_s"]),
            ("Ru-1 variant A", "A", [], base["A"]["stress"]["peak_time_s"]),
            ("Ru-1 variant B", "B", [], base["B"]["stress"]["peak_time_s"]),
            ("Ru-1 B, linear c_max and uniform layer D", "B", variants.LOCATION_ALTERNATIVES[0][1],
             evidence[0]["peak_time_s"])):
        profiles[label] = variants.profile_at_peak(variants.CASE_FILES[sample], sets, t, comm)
    return {"study": study, "evidence": evidence, "profiles": profiles}


def bands(fidelity: dict) -> dict:
    """{label: {t_s, low_Pa, high_Pa, centre_Pa}} for the peak-stress-vs-time figure."""
    study = fidelity["study"]
    out = {}
    for variant in ("B", "A"):
        band = sensitivity.peak_band(study, variant)
        band["centre_Pa"] = study["baseline"][variant]["history"]["sigma_vm_max_Pa"]
        out[f"Ru-1 variant {variant} (band: sensitivity range)"] = band
    return out


def figures(out: Path, fidelity: dict) -> dict:
    files = {"tornado": "fidelity_tornado.png", "profiles": "fidelity_profiles.png"}
    sensitivity.tornado_figure(fidelity["study"], out / files["tornado"], PAPER["ru1_peak_MPa"], TOLERANCE)
    profiles_figure(fidelity, out / files["profiles"])
    return files


def profiles_figure(fidelity: dict, path: Path, depth_nm: float = 15.0) -> None:
    """Von Mises stress against depth below the surface at each run's peak time, the
    outer `depth_nm`, the measured layer shaded, each largest value marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    v = fidelity["study"]["baseline"]["values"]
    R_nm, d_nm = v["radius_nm"], v["layer_thickness_nm"]
    fig, ax = plt.subplots(figsize=(7, 4.2), layout="constrained")
    ax.axvspan(0, d_nm, color="0.9", label=f"Li-deficient layer ({d_nm:g} nm, HAADF)")
    for label, p in fidelity["profiles"].items():
        depth = R_nm - p["radius_m"] * 1e9
        keep = depth <= depth_nm
        line, = ax.plot(depth[keep], p["sigma_vm_Pa"][keep] / 1e6, label=label,
                        ls="--" if "linear" in label else "-")
        i = int(p["sigma_vm_Pa"].argmax())
        ax.plot(depth[i], p["sigma_vm_Pa"][i] / 1e6, "o", color=line.get_color())
    ax.axhline(PAPER["ru1_peak_MPa"], ls=":", color="k", lw=1)
    ax.text(depth_nm, PAPER["ru1_peak_MPa"] + 4, "paper Ru-1: 418 MPa ", ha="right", fontsize=8)
    ax.set_xlim(0, depth_nm)
    ax.set_xlabel("depth below the surface [nm]")
    ax.set_ylabel("von Mises stress at the peak time [MPa]")
    ax.set_title("Where the peak sits (dots: each run's largest value)", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _err(value: float, target: float) -> str:
    e = value / target - 1
    return f"{100 * e:+.1f} % ({'met' if abs(e) <= TOLERANCE else 'MISSED'})"


def _place(s: dict, R_nm: float, d_nm: float) -> str:
    where = "strictly inside the layer" if s["ru1_inside_layer"] else s["ru1_location"].replace("_", " ")
    return (f"{where}: r = {s['ru1_peak_radius_nm']:.2f} nm, {s['ru1_peak_depth_nm']:.2f} nm below the "
            f"surface (layer {R_nm - d_nm:.1f}-{R_nm:.1f} nm)")


def section(fidelity: dict, files: dict) -> str:
    """The report section (markdown)."""
    study = fidelity["study"]
    base = study["baseline"]
    v, der = base["values"], base["derived"]
    s = variants.summarize(base)
    R_nm, d_nm = v["radius_nm"], v["layer_thickness_nm"]
    lines = ["## Fidelity: two model variants from the paper's own measurements", "",
             "Cases `cases/fidelity/` (derived by `solver/studies/variants.py`; method and sources in "
             "docs/fidelity.md). Both variants share the pristine case and every Ru-1 input but one: "
             "**A** uses one strain coefficient Omega for both samples, derived from the pristine XRD "
             "(3.62 %); **B** derives each sample's Omega from its own XRD volume change. One parameter is "
             f"fitted, on the pristine sample only: the core D = {base['diffusivity_m2_s']:.4g} m²/s to "
             "567 MPa. Nothing is fitted to Ru-1.", ""]
    lines += ["| quantity | paper | variant A | variant B |", "|---|---|---|---|"]
    a, b = s["A"], s["B"]
    lines.append(f"| pristine peak | 567 MPa at the surface | {a['pristine_peak_MPa']:.1f} MPa, "
                 f"{a['pristine_location']} (fitted) | same case |")
    lines.append(f"| Ru-1 peak | 418 MPa | {a['ru1_peak_MPa']:.1f} MPa, {_err(a['ru1_peak_MPa'], 418)} | "
                 f"{b['ru1_peak_MPa']:.1f} MPa, {_err(b['ru1_peak_MPa'], 418)} |")
    lines.append(f"| Ru-1 peak location | inside the buffer layer | {_place(a, R_nm, d_nm)} | "
                 f"{_place(b, R_nm, d_nm)} |")
    lines.append(f"| pristine volume change (end of first charge) | 3.62 % | {100 * a['pristine_volume_change']:.3f} % "
                 "(Omega derived from it) | same case |")
    lines.append(f"| Ru-1 volume change (end of first charge) | 2.69 % | {100 * a['ru1_volume_change']:.3f} %, "
                 f"{_err(a['ru1_volume_change'], 0.0269)} | {100 * b['ru1_volume_change']:.3f} % (Omega derived "
                 "from it) |")
    lines.append(f"| Ru-1 / pristine peak | 0.737 | {a['ratio']:.3f} | {b['ratio']:.3f} |")
    lines.append("| volume change at the end of the 1C run (75 min, not yet at the floor everywhere) | | "
                 f"pristine {100 * abs(base['pristine']['volume_change_at_end']):.2f} %, Ru-1 "
                 f"{100 * abs(base['A']['volume_change_at_end']):.2f} % | Ru-1 "
                 f"{100 * abs(base['B']['volume_change_at_end']):.2f} % |")
    lines.append("| fitted parameters | | 1 (pristine D) | 1 (the same) |")
    omega_ratio = der.omega_ru1_B / der.omega_pristine
    closed = 567 * omega_ratio * (b["ru1_peak_radius_nm"] / R_nm) ** 2
    q_needed = der.ru1_charge_mAh_g * 0.0362 / 0.0269
    lines += ["", "**Conclusion.** Variant B explains the paper's four numbers better. B meets three targets "
              f"(pristine peak by the fit; both volume changes, which B derives Omega from) and misses the Ru-1 "
              f"peak by {100 * (b['ru1_peak_MPa'] / 418 - 1):+.1f} % ({b['ru1_peak_MPa']:.0f} vs 418 MPa), "
              f"with the peak strictly inside the measured {d_nm:g} nm layer. A misses the Ru-1 peak by "
              f"{100 * (a['ru1_peak_MPa'] / 418 - 1):+.0f} % and the Ru-1 volume change by "
              f"{100 * (a['ru1_volume_change'] / 0.0269 - 1):+.0f} %: with the ICE-derived capacities both "
              f"samples extract nearly the same Li (first charge {der.pristine_charge_mAh_g:.1f} vs "
              f"{der.ru1_charge_mAh_g:.1f} mAh/g of LRMO), so one Omega gives nearly the same volume change; "
              f"2.69 % would need a pristine first charge of {q_needed:.0f} mAh/g, above the "
              f"{der.theoretical_mAh_g:.0f} mAh/g of all 1.2 Li. B's Ru-1 peak follows in closed form: the "
              f"XRD ratio with the capacities, Omega_B/Omega_pristine = (2.69/3.62) x "
              f"({der.pristine_charge_mAh_g:.1f}/{der.ru1_charge_mAh_g:.1f}) = {omega_ratio:.4f}, gives "
              f"{567 * omega_ratio:.0f} MPa at the surface, and the quasi-steady galvanostatic profile "
              f"(von Mises ∝ r²) lowers it by (r_peak/R)² = {(b['ru1_peak_radius_nm'] / R_nm) ** 2:.3f} at "
              f"the peak's depth: {closed:.0f} MPa (computed {b['ru1_peak_MPa']:.0f}). With equal extraction "
              "in both samples, the paper's 418/567 = 0.737 against its XRD ratio 2.69/3.62 = 0.743 leaves a "
              f"factor 0.992, a peak within {R_nm * (1 - (0.737 / 0.743) ** 0.5):.1f} nm of the surface in "
              f"this profile; the measured interlayer puts it {b['ru1_peak_depth_nm']:.1f} nm deep.", ""]
    lines += _inputs_table(base)
    lines += _evidence_table(fidelity["evidence"], files)
    lines += _sensitivity_table(study, files)
    return "\n".join(lines)


def _inputs_table(base: dict) -> list[str]:
    v, der = base["values"], base["derived"]
    lines = ["### Inputs and their sources", "",
             "Measured: the paper's numbers. Derived: closed forms of them. Assumed: chosen before running; "
             "each is swept by the sensitivity study below.", "",
             "| input | value | kind | source |", "|---|---|---|---|"]
    for name, entry in {**variants.MEASURED, **variants.ASSUMED}.items():
        lines.append(f"| {name} | {v[name]:.5g} {entry.unit} | {entry.kind} | {entry.source} |")
    derived_rows = (
        ("first charge, pristine", f"{der.pristine_charge_mAh_g:.2f} mAh/g", "discharge (0.1C) / ICE"),
        ("first charge, Ru-1", f"{der.ru1_charge_mAh_g:.2f} mAh/g", "307 / 0.97 / (1 - 0.0046): per g of LRMO"),
        ("capacity of 1.2 Li", f"{der.theoretical_mAh_g:.2f} mAh/g", "1.20 F / M"),
        ("c_max (core)", f"{der.c_max_core:.5g} mol/m³", "1.20 Li/f.u. x density / M"),
        ("mean c_max / core, Ru-1", f"{der.ru1_mean_to_core:.5f}", "the graded layer's fewer sites"),
        ("min_site_fraction, pristine", f"{der.pristine_floor:.5f}", "1 - Q_charge / Q_theory"),
        ("min_site_fraction, Ru-1", f"{der.ru1_floor:.5f}", "1 - Q_charge / (Q_theory x mean c_max / c_max)"),
        ("Omega, pristine and Ru-1 A", f"{der.omega_pristine:.5g} m³/mol", "0.0362 / (c_max (1 - floor))"),
        ("Omega, Ru-1 B", f"{der.omega_ru1_B:.5g} m³/mol", "0.0269 / (mean c_max (1 - floor))"),
    )
    for name, value, how in derived_rows:
        lines.append(f"| {name} | {value} | derived | {how} |")
    lines += ["", "The XRD volume change is evaluated at the end of the first charge with the whole particle at "
              "its floor (the state that extracts the first-charge capacity): the paper's cell volume changes "
              "monotonically with the extracted Li in this model, so its largest change over the first cycle "
              "is there. The 1C run itself has not reached it by 75 min (row above).", ""]
    return lines


def _evidence_table(rows: list[dict], files: dict) -> list[str]:
    lines = ["### Where the Ru-1 peak sits: the layer physics compared", "",
             "Variant B with the baseline inputs; only the layer's c_max shape and D change. A kink or jump "
             "at the layer's inner edge (linear c_max; erfc cut at erfc(2); a D that jumps there) pins the "
             "peak on the core|layer interface; a continuous erfc depletion (diffusion-controlled H+/Li+ "
             "exchange from the surface) with a D that follows the composition (the paper's DFT: lower Li "
             "content, lower barrier) puts it strictly inside. The RuO2 coating cannot move it: a uniform "
             "radial traction on an elastically homogeneous sphere adds a uniform hydrostatic stress, no "
             "von Mises stress (Lamé), and 0.46 wt% RuO2 is a 0.14 nm shell if spread evenly.", "",
             "| layer physics | variant | layer [nm] | peak [MPa] | depth below surface [nm] | place |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        place = "strictly inside the layer" if r["inside"] else r["location"].replace("_", " ")
        lines.append(f"| {r['label']} | {r['variant']} | {r['layer_nm']:.1f} | {r['peak_MPa']:.1f} | "
                     f"{r['depth_nm']:.2f} | {place} |")
    caption = ("von Mises stress against depth at each run's peak time: the pristine peak at the surface, "
               "both variants' Ru-1 peaks inside the 4.5 nm layer, the linear layer's on its inner edge")
    return lines + ["", f"![{caption}]({files['profiles']})", f"*{caption}*", ""]


def _sensitivity_table(study: dict, files: dict) -> list[str]:
    rows = sensitivity.table_rows(study)
    s = variants.summarize(study["baseline"])
    lines = ["### Sensitivity (one at a time)", "",
             f"Baseline Ru-1 peak: A {s['A']['ru1_peak_MPa']:.1f} MPa, B {s['B']['ru1_peak_MPa']:.1f} MPa. Each "
             "assumed input (and the measured range of the layer thickness) at the ends of its sourced range, "
             "the others at baseline; an input that enters the pristine case re-fits the pristine D first.", "",
             "| input | kind | value | pristine D [m²/s] | Ru-1 peak A [MPa] | Ru-1 peak B [MPa] | "
             "B peak depth [nm] (layer) | B place |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        place = "inside the layer" if r["B_inside"] else r["B_location"].replace("_", " ")
        lines.append(f"| {r['name']} | {r['kind']} | {r['value']:g} {r['unit']} ({r['end']}) | {r['D_m2_s']:.3g} | "
                     f"{r['A_peak_MPa']:.1f} | {r['B_peak_MPa']:.1f} | {r['B_depth_nm']:.2f} ({r['layer_nm']:g}) | "
                     f"{place} |")
    implied = sensitivity.implied_input(study, "pristine_discharge_0p1C", "B_peak_MPa", PAPER["ru1_peak_MPa"])
    if implied is not None:
        lines += ["", "The largest lever on B is the pristine 0.1C discharge capacity, which the paper's text does "
                  f"not give: B's Ru-1 peak would be 418 MPa at about {implied:.0f} mAh/g (linear between the "
                  "rows above; Fig. 3a of the paper shows the value). It is not fitted: the case keeps the "
                  "assumption chosen before running."]
    lines += ["", f"![Ru-1 peak at the ends of each input's range]({files['tornado']})",
              "*Ru-1 peak at the ends of each input's range (tornado); green: the paper's 418 MPa ± 3 %. The "
              "peak-stress-vs-time figure above shows the same range as a band over time.*", ""]
    return lines

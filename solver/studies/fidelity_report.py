"""The report's fidelity section (`lrmo reproduce`): the competing Ru-1 mechanisms side by
side (the paper's four numbers each), the pristine first-charge rules, the headline pair
one-way vs two-way (stress-assisted diffusion, D re-fitted), the inputs they derive, the
evidence for the Ru-1 peak location, the sensitivity table and tornado plot
(docs/fidelity.md). Runs are collective; figures and text rank 0 only."""
from __future__ import annotations

from pathlib import Path

from mpi4py import MPI

from solver.studies import sensitivity, variants

PAPER = {"pristine_peak_MPa": 567.0, "ru1_peak_MPa": 418.0, "pristine_volume_change": 0.0362,
         "ru1_volume_change": 0.0269}
TOLERANCE = 0.03  # the targets: within 3 %


def run_fidelity(comm=MPI.COMM_WORLD, log=lambda text: None) -> dict:
    """The mechanisms, the pristine first-charge rules, the one-at-a-time sensitivity
    study and the location evidence."""
    log("reproduce: fidelity, the Ru-1 mechanisms A-D and the pristine first-charge rules (1D)")
    mechanisms = variants.run_mechanisms(comm)
    two_way = variants.run_mechanisms(comm, variants.TWO_WAY_FILES)
    rules = variants.run_charge_rules(comm)
    log("reproduce: fidelity, sensitivity (1D)")
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
    return {"study": study, "evidence": evidence, "profiles": profiles, "mechanisms": mechanisms, "rules": rules,
            "two_way": two_way}


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


DISCRIMINATES = {
    "A": "already ruled out by the XRD (Fig. 4b): one Omega gives Ru-1 the pristine volume change",
    "B": "ESI Table S7 (the COMSOL strain coefficient of each sample); the in-situ XRD cell volume "
         "against the charge passed (a smaller slope for Ru-1)",
    "C": "a Li depth profile (EELS/TOF-SIMS calibrated in depth) showing Li-poor oxide ~20 nm deep; "
         "its volume change contradicts the XRD unless the XRD misses the region",
    "D": "GITT (ESI Fig. S19b): D(Ru-1)/D(pristine) over the first charge; D predicts the ratio in this row",
}


def _met(value: float, target: float) -> str:
    e = value / target - 1
    return f"{100 * e:+.1f} %, {'met' if abs(e) <= TOLERANCE else 'MISSED'}"


def mechanisms_table(result: dict) -> list[str]:
    """One row per mechanism: the paper's four numbers, met or MISSED (3 %), the fitted
    parameters and the measurement that would discriminate it."""
    s = variants.summarize(result, ("B", "C", "D", "A"))
    d_pristine = result["pristine"]["diffusivity_m2_s"]
    lines = ["| mechanism (case) | pristine peak, surface | Ru-1 peak | Ru-1 peak location | pristine volume "
             "change | Ru-1 volume change | fitted | would be discriminated by |", "|---|---|---|---|---|---|---|---|"]
    for key, row in s.items():
        place = ("strictly inside the layer" if row["ru1_inside_layer"] else row["ru1_location"].replace("_", " "))
        fitted = "pristine D" + (f" + Ru-1 core D (x{row['ru1_diffusivity_m2_s'] / d_pristine:.3f} the pristine)"
                                 if result[key]["fitted"] else "")
        lines.append(
            f"| **{key}**: {variants.MECHANISMS[key]} (`{variants.CASE_FILES[key].relative_to(variants.CASES.parent)}`) | "
            f"{row['pristine_peak_MPa']:.1f} MPa ({_met(row['pristine_peak_MPa'], PAPER['pristine_peak_MPa'])}; fitted) | "
            f"{row['ru1_peak_MPa']:.1f} MPa ({_met(row['ru1_peak_MPa'], PAPER['ru1_peak_MPa'])}) | "
            f"{place}: {row['ru1_peak_depth_nm']:.2f} nm deep in a {row['ru1_layer_nm']:g} nm layer | "
            f"{100 * row['pristine_volume_change']:.3f} % ({_met(row['pristine_volume_change'], PAPER['pristine_volume_change'])}) | "
            f"{100 * row['ru1_volume_change']:.3f} % ({_met(row['ru1_volume_change'], PAPER['ru1_volume_change'])}) | "
            f"{fitted} | {DISCRIMINATES[key]} |")
    return lines


def rules_table(rows: list[dict]) -> list[str]:
    lines = ["| rule for the pristine first charge (0 mg/mL) | first charge [mAh/g] | x ICE 0.86 [mAh/g] | "
             "pristine D re-fitted [m²/s] | Ru-1 peak, B [MPa] | B's place |", "|---|---|---|---|---|---|"]
    for r in rows:
        place = "inside the layer" if r["inside"] else "NOT inside"
        lines.append(f"| {r['rule']} | {r['first_charge_mAh_g']:.1f} | {r['discharge_mAh_g']:.1f} | {r['D_m2_s']:.4g} | "
                     f"{r['ru1_peak_MPa']:.1f} ({_met(r['ru1_peak_MPa'], PAPER['ru1_peak_MPa'])}) | {place}, "
                     f"{r['ru1_peak_depth_nm']:.2f} nm deep |")
    peaks = [r["ru1_peak_MPa"] for r in rows]
    return lines + ["", f"Spread of B's Ru-1 peak over the rules: {min(peaks):.1f}-{max(peaks):.1f} MPa."]


def coupling_table(one_way: dict, two_way: dict) -> list[str]:
    """The headline pair (pristine, Ru-1 B) one-way and two-way, each with its own fitted
    pristine D: the paper's four numbers, met or MISSED (3 %, and the peak's place)."""
    lines = ["### One-way (headline) or two-way coupling", "",
             "The paper describes its COMSOL Li+ transport as \"driven by the electric field and concentration "
             "gradient\" and states no stress term: the headline is one-way. Two-way (stress-assisted diffusion, "
             "cases/variants/*_two_way.yaml) re-fits the pristine D to 567 MPa; Ru-1 (B) is predicted with it "
             "(docs/fidelity.md).", "",
             "| coupling | core D, fitted [m²/s] | pristine peak | Ru-1 peak (B) | Ru-1 peak location | pristine volume "
             "change | Ru-1 volume change | met |", "|---|---|---|---|---|---|---|---|"]
    for label, result in (("one-way (headline)", one_way), ("two-way (D re-fitted)", two_way)):
        row = variants.summarize(result, ("B",))["B"]
        place = "strictly inside the layer" if row["ru1_inside_layer"] else row["ru1_location"].replace("_", " ")
        checks = [(row["pristine_peak_MPa"], PAPER["pristine_peak_MPa"], row["pristine_location"] == "surface"),
                  (row["ru1_peak_MPa"], PAPER["ru1_peak_MPa"], row["ru1_inside_layer"]),
                  (row["pristine_volume_change"], PAPER["pristine_volume_change"], True),
                  (row["ru1_volume_change"], PAPER["ru1_volume_change"], True)]
        met = sum(abs(value / target - 1) <= TOLERANCE and where for value, target, where in checks)
        lines.append(
            f"| {label} | {result['pristine']['diffusivity_m2_s']:.5g} | {row['pristine_peak_MPa']:.1f} MPa, "
            f"{row['pristine_location']} ({_met(row['pristine_peak_MPa'], PAPER['pristine_peak_MPa'])}) | "
            f"{row['ru1_peak_MPa']:.1f} MPa ({_met(row['ru1_peak_MPa'], PAPER['ru1_peak_MPa'])}) | "
            f"{place}: {row['ru1_peak_depth_nm']:.2f} nm deep in a {row['ru1_layer_nm']:g} nm layer | "
            f"{100 * row['pristine_volume_change']:.3f} % ({_met(row['pristine_volume_change'], PAPER['pristine_volume_change'])}) | "
            f"{100 * row['ru1_volume_change']:.3f} % ({_met(row['ru1_volume_change'], PAPER['ru1_volume_change'])}) | "
            f"{met} of 4 |")
    return lines + [""]


def section(fidelity: dict, files: dict) -> str:
    """The report section (markdown)."""
    study = fidelity["study"]
    base = study["baseline"]
    v, der = base["values"], base["derived"]
    s = variants.summarize(fidelity["mechanisms"], ("B", "A"))
    R_nm, d_nm = v["radius_nm"], v["layer_thickness_nm"]
    b, a = s["B"], s["A"]
    lines = ["## Fidelity: the Ru-1 mechanisms side by side", "",
             "Every input is derived from the paper's measurements or declared as assumed (docs/fidelity.md, "
             "`solver/studies/variants.py`). The pristine case (cases/pristine_stress.yaml) is shared; its core "
             f"D = {fidelity['mechanisms']['pristine']['diffusivity_m2_s']:.4g} m²/s is fitted to 567 MPa. The "
             "headline Ru-1 case is mechanism **B** (cases/ru1_stress.yaml). The C-rate of the paper's COMSOL "
             "model is not stated: 1C is ASSUMED (docs/model.md §2 shows that the fit fixes only the group "
             "Omega E i rho R² / ((1 - nu) D)). Targets: within 3 %.", ""]
    lines += mechanisms_table(fidelity["mechanisms"])
    omega_ratio = der.omega_ru1_B / der.omega_pristine
    closed = 567 * omega_ratio * (b["ru1_peak_radius_nm"] / R_nm) ** 2
    r_inner = R_nm - d_nm
    lines += ["", f"**B**'s Ru-1 peak ({b['ru1_peak_MPa']:.1f} MPa, {_met(b['ru1_peak_MPa'], 418)}), strictly "
              f"inside the measured {d_nm:g} nm layer, in closed form: Omega_B/Omega_pristine = (2.69/3.62) x "
              f"({der.pristine_charge_mAh_g:.1f}/{der.ru1_charge_mAh_g:.1f}) = {omega_ratio:.4f} gives "
              f"{567 * omega_ratio:.0f} MPa at the surface, and the quasi-steady profile (von Mises ∝ r²) lowers "
              f"it by (r_peak/R)² = {(b['ru1_peak_radius_nm'] / R_nm) ** 2:.3f}: {closed:.0f} MPa. "
              f"**A** (one Omega, the measured layer) cannot go below the bound of docs/model.md §2, "
              f"567 x (r_inner/R)² = {567 * (r_inner / R_nm) ** 2:.1f} MPa: a {d_nm:g} nm layer acts on the core "
              f"only through a uniform pressure (computed {a['ru1_peak_MPa']:.1f} MPa). **C** and **D** reach "
              "418 MPa only by moving that bound (a thicker Li-poor region; a faster core), and both keep "
              "nearly the pristine volume change, which the XRD contradicts.", "",
              "### The pristine first-charge capacity: the rules", "",
              "The rule was fixed before running (docs/fidelity.md): the Ru series' first charges (discharge / "
              "ICE, Table S1 numbers in the text, read as 0.1C first cycles although the text says \"at 1C\": "
              "Ru-1's 307 mAh/g and 97.1 % are its 0.1C values, Fig. 3c) extrapolated to 0 mg/mL. Each rule "
              "below re-derives the pristine floor and Omega and re-fits the pristine D; Ru-1 is unchanged.", ""]
    lines += rules_table(fidelity["rules"]) + [""]
    lines += coupling_table(fidelity["mechanisms"], fidelity["two_way"])
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
    for name, entry in {**variants.MEASURED, **variants.ASSUMED, **variants.MECHANISM_INPUTS}.items():
        lines.append(f"| {name} | {v[name]:.5g} {entry.unit} | {entry.kind} | {entry.source} |")
    derived_rows = (
        ("first charge, pristine", f"{der.pristine_charge_mAh_g:.2f} mAh/g", "the Ru series extrapolated to 0 mg/mL (the rule)"),
        ("first charge, Ru-1", f"{der.ru1_charge_mAh_g:.2f} mAh/g", "307 / 0.97 / (1 - 0.0046): per g of LRMO"),
        ("capacity of 1.2 Li", f"{der.theoretical_mAh_g:.2f} mAh/g", "1.20 F / M"),
        ("c_max (core)", f"{der.c_max_core:.5g} mol/m³", "1.20 Li/f.u. x density / M"),
        ("mean c_max / core, Ru-1", f"{der.ru1_mean_to_core:.5f}", "the graded layer's fewer sites"),
        ("min_site_fraction, pristine", f"{der.pristine_floor:.5f}", "1 - Q_charge / Q_theory"),
        ("min_site_fraction, Ru-1", f"{der.ru1_floor:.5f}", "1 - Q_charge / (Q_theory x mean c_max / c_max)"),
        ("Omega, pristine and Ru-1 A, C, D", f"{der.omega_pristine:.5g} m³/mol", "0.0362 / (c_max (1 - floor))"),
        ("min_site_fraction, Ru-1 C", f"{der.ru1_floor_C:.5f}", "the same for C's 30 nm region"),
        ("Omega, Ru-1 B", f"{der.omega_ru1_B:.5g} m³/mol", "0.0269 / (mean c_max (1 - floor))"),
    )
    for name, value, how in derived_rows:
        lines.append(f"| {name} | {value} | derived | {how} |")
    lines += ["", "The XRD volume change is evaluated at the end of the first charge with the whole particle at "
              "its floor (the state that extracts the first-charge capacity): the paper's cell volume changes "
              "monotonically with the extracted Li in this model, so its largest change over the first cycle "
              "is there. The 1C run itself has not reached it everywhere by 75 min.", ""]
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
    implied = sensitivity.implied_input(study, "pristine_first_charge", "B_peak_MPa", PAPER["ru1_peak_MPa"])
    if implied is not None:
        lines += ["", "The largest lever on B is the pristine first-charge capacity, which the paper's text does "
                  f"not give: B's Ru-1 peak would be exactly 418 MPa at about {implied:.0f} mAh/g (linear between "
                  "the rows above). It is not fitted: the case keeps the rule fixed before running."]
    lines += ["", f"![Ru-1 peak at the ends of each input's range]({files['tornado']})",
              "*Ru-1 peak at the ends of each input's range (tornado); green: the paper's 418 MPa ± 3 %. The "
              "peak-stress-vs-time figure above shows the same range as a band over time.*", ""]
    return lines

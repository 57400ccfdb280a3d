"""One-at-a-time sensitivity of the Ru-1 peak stress and its location to every assumed
input (and the measured range of the layer thickness), for both model variants
(docs/fidelity.md). An input that changes the pristine case re-fits the pristine D
first, as the baseline was fitted: each row is a complete re-derivation, never a
perturbation of a fitted model."""
from __future__ import annotations

import numpy as np
from mpi4py import MPI

from solver.studies import variants

LABELS = {"radius_nm": "particle radius", "youngs_modulus_GPa": "Young's modulus",
          "poisson_ratio": "Poisson ratio", "density_g_cm3": "density",
          "pristine_first_charge": "pristine first charge", "layer_site_deficiency":
          "site deficiency at the surface", "layer_diffusivity_ratio": "layer/core D at the surface",
          "layer_thickness_nm": "layer thickness"}
# inputs that enter the pristine case: changing one re-fits the pristine D
PRISTINE_INPUTS = ("radius_nm", "youngs_modulus_GPa", "poisson_ratio", "density_g_cm3",
                   "pristine_first_charge")


def swept_inputs() -> dict[str, variants.Input]:
    """Every assumed input, and each measured input given as a range."""
    measured = {k: v for k, v in variants.MEASURED.items() if v.low is not None}
    return {**variants.ASSUMED, **measured}


def run_sensitivity(comm=MPI.COMM_WORLD, log=lambda text: None) -> dict:
    """The baseline and, per swept input, its low and high end (one at a time)."""
    baseline = variants.run_variants(refit=False, comm=comm)
    rows = []
    for name, entry in swept_inputs().items():
        row = {"name": name, "input": entry, "ends": {}}
        for end, value in (("low", entry.low), ("high", entry.high)):
            if value == entry.value:  # a one-sided range (e.g. Poisson's ratio 0.25-0.3)
                row["ends"][end] = baseline
                continue
            log(f"sensitivity: {name} = {value:g}")
            refit = name in PRISTINE_INPUTS
            row["ends"][end] = variants.run_variants(
                variants.inputs(**{name: value}), comm, refit=refit,
                diffusivity_m2_s=None if refit else baseline["diffusivity_m2_s"])
        rows.append(row)
    return {"baseline": baseline, "rows": rows}


def table_rows(study: dict) -> list[dict]:
    """Per swept input and end: the Ru-1 peak of A and B, B's peak depth and place."""
    out = []
    for row in study["rows"]:
        for end in ("low", "high"):
            out.append({"name": row["name"], "kind": row["input"].kind, "end": end,
                        "value": getattr(row["input"], end), "unit": row["input"].unit,
                        **result_row(row["ends"][end])})
    return out


def result_row(result: dict) -> dict:
    """The table columns of one run of both variants."""
    s = variants.summarize(result)
    return {"D_m2_s": result["diffusivity_m2_s"],
            "A_peak_MPa": s["A"]["ru1_peak_MPa"], "B_peak_MPa": s["B"]["ru1_peak_MPa"],
            "B_depth_nm": s["B"]["ru1_peak_depth_nm"], "layer_nm": result["values"]["layer_thickness_nm"],
            "B_location": s["B"]["ru1_location"], "B_inside": s["B"]["ru1_inside_layer"],
            "A_volume_change": s["A"]["ru1_volume_change"]}


def peak_band(study: dict, variant: str) -> dict:
    """Lowest and highest of the Ru-1 largest-von-Mises history over every member of
    the study, at the common output times: {t_s, low_Pa, high_Pa}."""
    members = [study["baseline"]] + [r["ends"][e] for r in study["rows"] for e in ("low", "high")]
    t = np.asarray(study["baseline"][variant]["history"]["t_s"])
    curves = np.array([np.interp(t, m[variant]["history"]["t_s"], m[variant]["history"]["sigma_vm_max_Pa"])
                       for m in members])
    return {"t_s": t, "low_Pa": curves.min(axis=0), "high_Pa": curves.max(axis=0)}


def implied_input(study: dict, name: str, key: str, target: float) -> float | None:
    """The value of input `name` at which `key` (a table_rows column) would reach
    `target`, linear between its low end, baseline and high end; None outside them."""
    entry = swept_inputs()[name]
    ends = {r["end"]: r[key] for r in table_rows(study) if r["name"] == name}
    points = sorted([(entry.low, ends["low"]), (entry.value, result_row(study["baseline"])[key]),
                     (entry.high, ends["high"])])
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        if y0 != y1 and min(y0, y1) <= target <= max(y0, y1):
            return x0 + (target - y0) * (x1 - x0) / (y1 - y0)
    return None


def tornado_figure(study: dict, path, target_MPa: float = 418.0, tolerance: float = 0.03) -> None:
    """Horizontal bars: the Ru-1 peak at each input's low and high end, per variant,
    sorted by span, largest on top; the paper's value and its ±3 % band shaded; a
    dagger marks an input with an end where B's peak is not strictly inside the layer
    (rank 0 only)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = table_rows(study)
    base = variants.summarize(study["baseline"])
    inputs = swept_inputs()
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8), layout="constrained")
    for ax, variant in zip(axes, ("B", "A")):
        key = f"{variant}_peak_MPa"
        centre = base[variant]["ru1_peak_MPa"]
        names = sorted({r["name"] for r in rows},
                       key=lambda n: max(abs(r[key] - centre) for r in rows if r["name"] == n))
        labels = []
        for i, name in enumerate(names):
            ends = [r for r in rows if r["name"] == name]
            for r in ends:
                colour = "tab:blue" if r["end"] == "low" else "tab:orange"
                ax.barh(i, r[key] - centre, left=centre, color=colour, alpha=0.8, height=0.6)
            entry = inputs[name]
            mark = "" if variant == "A" or all(r["B_inside"] for r in ends) else " †"
            labels.append(f"{LABELS.get(name, name)} ({entry.kind}){mark}\n"
                          f"{entry.low:g} | {entry.high:g} {entry.unit}".rstrip())
        ax.set_yticks(range(len(names)), labels, fontsize=8)
        ax.axvline(centre, color="k", lw=1)
        ax.axvspan(target_MPa * (1 - tolerance), target_MPa * (1 + tolerance), color="tab:green", alpha=0.15,
                   label=f"paper {target_MPa:.0f} MPa ±{100 * tolerance:.0f} %")
        ax.axvline(target_MPa, color="tab:green", ls=":")
        ax.set_xlabel("Ru-1 peak von Mises stress [MPa]")
        title = f"variant {variant}: baseline {centre:.0f} MPa; blue: low end, orange: high end"
        daggers = variant == "B" and not all(r["B_inside"] for r in rows)
        ax.set_title(title + ("\n†: at one end the peak is not strictly inside the layer" if daggers else ""),
                     fontsize=9)
        ax.legend(fontsize=7, loc="lower right")
    fig.savefig(path, dpi=120)
    plt.close(fig)

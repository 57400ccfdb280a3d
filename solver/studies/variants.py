"""The paper's Ru-1 particle under competing mechanisms, with every input derived from
the paper's measurements or declared as assumed (docs/fidelity.md).

- B (the headline, cases/ru1_stress.yaml): each sample's strain coefficient (the
  partial molar volume Omega) from its own XRD volume change, the measured 4.5 nm layer.
- A (cases/variants/ru1_one_omega.yaml): one Omega for both samples, from the pristine
  XRD; the Li-deficient layer alone must lower the Ru-1 stress.
- C (cases/variants/ru1_li_poor_region.yaml): one Omega and a ~20 nm Li-poor region
  (erfc depletion, graded D).
- D (cases/variants/ru1_faster_diffusion.yaml): one Omega, the 4.5 nm layer and a higher
  Ru-1 core diffusivity, fitted to the Ru-1 peak (the second fitted parameter).

All take each sample's first-charge Li extraction from its capacities (the pristine one
by the rule of docs/fidelity.md: the Ru series extrapolated to 0 mg/mL) and evaluate the
XRD volume change at the end of the first charge with the whole particle at the
composition floor. The pristine core D is fitted to the pristine peak stress.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from mpi4py import MPI

from solver.case.schema import load_case
from solver.physics.materials import site_concentration_profile
from solver.case.units import FARADAY_C_MOL

CASES = Path(__file__).resolve().parents[2] / "cases"
CASE_FILES = {"pristine": CASES / "pristine_stress.yaml", "B": CASES / "ru1_stress.yaml",
              "A": CASES / "variants" / "ru1_one_omega.yaml",
              "C": CASES / "variants" / "ru1_li_poor_region.yaml",
              "D": CASES / "variants" / "ru1_faster_diffusion.yaml"}
# The headline pair with two-way coupling (stress-assisted diffusion), the pristine D
# re-fitted under it (docs/fidelity.md, "One-way or two-way coupling").
TWO_WAY_FILES = {"pristine": CASES / "variants" / "pristine_stress_two_way.yaml",
                 "B": CASES / "variants" / "ru1_stress_two_way.yaml"}
MECHANISMS = {
    "A": "one Omega (pristine XRD), the measured 4.5 nm layer",
    "B": "each sample's Omega from its own XRD, the measured 4.5 nm layer (the headline)",
    "C": "one Omega, a ~20 nm Li-poor region (erfc over 30 nm, graded D)",
    "D": "one Omega, the 4.5 nm layer, a higher Ru-1 core D (fitted to 418 MPa)",
}

# The Ru series (text, Table S1): RuCl3 concentration [mg/mL], first discharge [mAh/g],
# initial Coulombic efficiency. Read as 0.1C first cycles (docs/fidelity.md).
RU_SERIES = ((0.1, 309.0, 0.958), (0.2, 307.0, 0.971), (0.6, 285.0, 1.000))


def _series_first_charges(per_lrmo: bool = False):
    c = np.array([s[0] for s in RU_SERIES])
    q = np.array([s[1] / s[2] for s in RU_SERIES])
    if per_lrmo:  # RuO2 proportional to RuCl3: 0.46 wt% at 0.2 mg/mL (ICP of Ru-1)
        q = q / (1 - 0.0046 * c / 0.2)
    return c, q


def _intercept(x, y, degree: int = 1) -> float:
    return float(np.polyval(np.polyfit(x, y, degree), 0.0))


# Each rule: the pristine (0 mg/mL) first-charge capacity [mAh/g] from the Ru series.
PRISTINE_CHARGE_RULES = {
    "linear through Ru-0.5 and Ru-1 (the rule)": lambda: _intercept(*(a[:2] for a in _series_first_charges())),
    "linear least squares, all three": lambda: _intercept(*_series_first_charges()),
    "parabola through all three": lambda: _intercept(*_series_first_charges(), degree=2),
    "discharge and ICE extrapolated apart": lambda: (
        _intercept([s[0] for s in RU_SERIES], [s[1] for s in RU_SERIES])
        / _intercept([s[0] for s in RU_SERIES], [s[2] for s in RU_SERIES])),
    "the rule per g of LRMO (RuO2 prop. to RuCl3)": lambda: _intercept(
        *(a[:2] for a in _series_first_charges(per_lrmo=True))),
    "linear in sqrt(c) (the series' layer scaling)": lambda: _intercept(
        np.sqrt(_series_first_charges()[0]), _series_first_charges()[1]),
}
PRISTINE_CHARGE_RULE = "linear through Ru-0.5 and Ru-1 (the rule)"


@dataclass(frozen=True)
class Input:
    """One input number: its value, what kind of number it is and where it comes from.
    `low`/`high`: the range swept by the sensitivity study (assumed or measured ranges)."""

    value: float
    kind: str  # "measured", "derived" or "assumed"
    source: str
    unit: str = ""
    low: float | None = None
    high: float | None = None


# The paper's measurements (Sun et al., Energy Environ. Sci. 18, 4335, 2025).
MEASURED = {
    "ru1_discharge_0p1C": Input(307, "measured", "Ru-1 first discharge at 0.1C (abstract, Fig. 3c)", "mAh/g"),
    "ru1_ice": Input(0.97, "measured", "Ru-1 initial Coulombic efficiency at 0.1C (Fig. 3c)"),
    "pristine_ice": Input(0.86, "measured", "pristine initial Coulombic efficiency (Fig. S16)"),
    "ruo2_mass_fraction": Input(0.0046, "measured", "RuO2 in Ru-1, 0.46 wt% (ICP-AES); the capacities "
                                "count the whole mass (Ru-3's lower capacity is put down to less LRMO mass)"),
    "xrd_volume_change_pristine": Input(0.0362, "measured", "pristine unit-cell volume change, first "
                                        "charge-discharge cycle (in-situ XRD, GSAS; Fig. 4a)"),
    "xrd_volume_change_ru1": Input(0.0269, "measured", "Ru-1 unit-cell volume change, first charge-discharge "
                                   "cycle (in-situ XRD, GSAS; Fig. 4b)"),
    "layer_thickness_nm": Input(4.5, "measured", "the 4-5 nm transition interlayer between RuO2 and LRMO "
                                "(HAADF-STEM, Fig. 1b), across which the EELS line scan (Fig. 1d) shows the Li "
                                "signal rising from surface to bulk", "nm", 4.0, 5.0),
    "li_per_formula_unit": Input(1.20, "measured", "ICP-AES formula Li1.20Mn0.555Ni0.158Co0.080O2"),
    "molar_mass_g_mol": Input(84.805, "derived", "of the ICP formula (standard atomic weights)", "g/mol"),
}

# Chosen before running; each with the range the sensitivity study sweeps and its source.
ASSUMED = {
    "radius_nm": Input(150, "assumed", "co-precipitated LRMO primary particles, 50-250 nm (Fig. S1; "
                       "docs/model.md §5)", "nm", 50, 250),
    "youngs_modulus_GPa": Input(150, "assumed", "layered oxides 140-200 GPa (docs/model.md §5)", "GPa", 140, 200),
    "poisson_ratio": Input(0.3, "assumed", "layered oxides 0.25-0.3 (docs/model.md §5)", "", 0.25, 0.3),
    "density_g_cm3": Input(4.3, "assumed", "Li-rich layered oxides 4.2-4.4 g/cm3 (docs/model.md §5)",
                           "g/cm^3", 4.2, 4.4),
    "pristine_first_charge": Input(
        PRISTINE_CHARGE_RULES[PRISTINE_CHARGE_RULE](), "derived", "NOT GIVEN in the paper's text: the Ru "
        "series' first charges (discharge / ICE: Ru-0.5 309/0.958, Ru-1 307/0.971 at 0.1 and 0.2 mg/mL) "
        "extrapolated linearly to 0 mg/mL (rule fixed before running, docs/fidelity.md); x ICE 0.86 = "
        f"{PRISTINE_CHARGE_RULES[PRISTINE_CHARGE_RULE]() * 0.86:.1f} mAh/g discharged; range: the rule - 5 "
        "to the sqrt(c) rule", "mAh/g", PRISTINE_CHARGE_RULES[PRISTINE_CHARGE_RULE]() - 5,
        PRISTINE_CHARGE_RULES["linear in sqrt(c) (the series' layer scaling)"]()),
    "layer_site_deficiency": Input(0.15, "assumed", "fewer Li sites at the surface; the paper's DFT series "
                                   "of the graded layer, Li30...Li25 per Li32 of Li2MnO3, spans 0.0625-0.219",
                                   "", 0.0625, 0.219),
    "layer_diffusivity_ratio": Input(10, "assumed", "D at the surface / D of the core: the DFT barrier falls "
                                     "with the Li content (Fig. 5h, no number); x10 = 0.06 eV at 298 K; "
                                     "range x1 (no change) to x100 (0.12 eV)", "", 1, 100),
}


# Mechanism C's only own input (not swept: it enters no other case).
MECHANISM_INPUTS = {
    "li_poor_region_nm": Input(30, "assumed", "mechanism C: erfc depletion over 30 nm, so that the Li-poor part "
                               "(deficiency above 5 % of its surface value, depth < 2/3 of the thickness) spans "
                               "the ~20 nm XPS etch depth at which Ru-1 still shows less Li 1s than pristine "
                               "(Fig. S8, S9)", "nm"),
}


def inputs(**changes: float) -> dict[str, float]:
    """The baseline value of every measured and assumed input, with `changes` applied."""
    values = {k: v.value for k, v in {**MEASURED, **ASSUMED, **MECHANISM_INPUTS}.items()}
    unknown = set(changes) - set(values)
    if unknown:
        raise KeyError(f"unknown inputs: {sorted(unknown)}")
    values.update(changes)
    return values


# -- derivations (each a closed form of the paper's numbers) ------------------------------
def first_charge_capacity_mAh_g(discharge_mAh_g: float, ice: float,
                                inactive_mass_fraction: float = 0.0) -> float:
    """First-charge capacity per gram of LRMO: discharge / ICE, per gram of the whole
    sample, divided by the LRMO mass fraction."""
    return discharge_mAh_g / ice / (1 - inactive_mass_fraction)


def site_concentration_mol_m3(li_per_fu: float, density_g_cm3: float, molar_mass_g_mol: float) -> float:
    """Li sites per volume of the LRMO: Li per formula unit x formula units per volume."""
    return li_per_fu * density_g_cm3 * 1e6 / molar_mass_g_mol


def theoretical_capacity_mAh_g(li_per_fu: float, molar_mass_g_mol: float) -> float:
    """Capacity of extracting every Li site: n F / M (1 mAh/g = 3.6 C/g)."""
    return li_per_fu * FARADAY_C_MOL / molar_mass_g_mol / 3.6


def mean_site_concentration(radius_m: float, thickness_m: float, c_max_core: float,
                            deficiency: float, profile: str, points: int = 20001) -> float:
    """Volume mean of c_max(r) over the sphere (the layer's graded site density)."""
    r = np.linspace(0.0, radius_m, points)
    c = site_concentration_profile(r, radius_m, thickness_m, c_max_core, deficiency, profile)
    if thickness_m > 0:  # the layer finely: the profile varies over a few nm only
        r_layer = np.linspace(radius_m - thickness_m, radius_m, points)
        inner = r <= radius_m - thickness_m
        r = np.concatenate([r[inner], r_layer])
        c = np.concatenate([c[inner], site_concentration_profile(r_layer, radius_m, thickness_m,
                                                                  c_max_core, deficiency, profile)])
    from scipy.integrate import trapezoid

    return 3 * trapezoid(c * r**2, r) / radius_m**3


def floor_site_fraction(capacity_mAh_g: float, theoretical_mAh_g: float, mean_to_core: float,
                        initial: float = 1.0) -> float:
    """The composition floor that extracts `capacity` when the whole particle reaches it:
    capacity = (initial - floor) x theoretical x mean(c_max)/c_max(core)."""
    return initial - capacity_mAh_g / (theoretical_mAh_g * mean_to_core)


def strain_coefficient(volume_change: float, mean_c_max: float, extracted_fraction: float) -> float:
    """Omega [m^3/mol] from a volume change over the first charge: the eigenstrain
    tr(eps_ch) = Omega c_max (theta_0 - theta) averaged over a traction-free particle
    at the floor is the volume change (docs/model.md §2)."""
    return volume_change / (mean_c_max * extracted_fraction)


def full_charge_volume_change(case) -> float:
    """Omega mean(c_max) (theta_0 - theta_min): the model's volume change with the whole
    particle at the floor, the state of the XRD's end of first charge."""
    g, m = case.geometry, case.materials
    layer = m.layer
    mean = mean_site_concentration(g.radius.si, g.layer_thickness.si, m.core.lithium_site_concentration.si,
                                   layer.site_deficiency_at_surface.si, layer.profile)
    extracted = case.lithium.initial_site_fraction.si - case.lithium.min_site_fraction.si
    return m.core.partial_molar_volume.si * mean * extracted


@dataclass
class Derived:
    """Everything the three cases take from the inputs (SI unless named)."""

    c_max_core: float
    theoretical_mAh_g: float
    pristine_charge_mAh_g: float
    ru1_charge_mAh_g: float
    ru1_mean_to_core: float
    pristine_floor: float
    ru1_floor: float
    omega_pristine: float
    omega_ru1_B: float
    ru1_floor_C: float = float("nan")  # mechanism C's floor (its thicker Li-poor region)

    @property
    def omega_ru1_A(self) -> float:
        return self.omega_pristine


def derive(values: dict[str, float], profile: str = "erfc_continuous") -> Derived:
    """The derived inputs of both samples from `inputs()`."""
    v = values
    c0 = site_concentration_mol_m3(v["li_per_formula_unit"], v["density_g_cm3"], v["molar_mass_g_mol"])
    q_theory = theoretical_capacity_mAh_g(v["li_per_formula_unit"], v["molar_mass_g_mol"])
    q_pristine = v["pristine_first_charge"]
    q_ru1 = first_charge_capacity_mAh_g(v["ru1_discharge_0p1C"], v["ru1_ice"], v["ruo2_mass_fraction"])
    R, d = v["radius_nm"] * 1e-9, v["layer_thickness_nm"] * 1e-9
    mean_ru1 = mean_site_concentration(R, d, c0, v["layer_site_deficiency"], profile)
    floor_p = floor_site_fraction(q_pristine, q_theory, 1.0)
    floor_r = floor_site_fraction(q_ru1, q_theory, mean_ru1 / c0)
    mean_C = mean_site_concentration(R, v["li_poor_region_nm"] * 1e-9, c0, v["layer_site_deficiency"], profile)
    return Derived(
        ru1_floor_C=floor_site_fraction(q_ru1, q_theory, mean_C / c0),
        c_max_core=c0, theoretical_mAh_g=q_theory, pristine_charge_mAh_g=q_pristine,
        ru1_charge_mAh_g=q_ru1, ru1_mean_to_core=mean_ru1 / c0, pristine_floor=floor_p, ru1_floor=floor_r,
        omega_pristine=strain_coefficient(v["xrd_volume_change_pristine"], c0, 1 - floor_p),
        omega_ru1_B=strain_coefficient(v["xrd_volume_change_ru1"], mean_ru1, 1 - floor_r),
    )


def overrides(values: dict[str, float], derived: Derived, sample: str,
              diffusivity_m2_s: float | None = None) -> list[str]:
    """`--set` overrides that put `values` and `derived` into the case of `sample`
    ("pristine", "A", "B" or "C"); `diffusivity_m2_s` replaces the core's fitted D."""
    v = values
    out = [f"geometry.radius={float(v['radius_nm'])!r} nm",
           f"materials.core.density={float(v['density_g_cm3'])!r} g/cm^3",
           f"materials.core.youngs_modulus={float(v['youngs_modulus_GPa'])!r} GPa",
           f"materials.core.poisson_ratio={float(v['poisson_ratio'])!r}",
           f"materials.core.lithium_site_concentration={float(derived.c_max_core)!r} mol/m^3"]
    if sample == "pristine":
        out += [f"lithium.min_site_fraction={float(derived.pristine_floor)!r}",
                f"materials.core.partial_molar_volume={float(derived.omega_pristine)!r} m^3/mol"]
    else:
        omega = derived.omega_ru1_B if sample == "B" else derived.omega_ru1_A
        floor, thickness = ((derived.ru1_floor_C, v["li_poor_region_nm"]) if sample == "C"
                            else (derived.ru1_floor, v["layer_thickness_nm"]))
        out += [f"lithium.min_site_fraction={float(floor)!r}",
                f"materials.core.partial_molar_volume={float(omega)!r} m^3/mol",
                f"geometry.layer_thickness={float(thickness)!r} nm",
                f"materials.layer.site_deficiency_at_surface={float(v['layer_site_deficiency'])!r}"]
    if diffusivity_m2_s is not None:
        out.append(f"materials.core.lithium_diffusivity={float(diffusivity_m2_s)!r} m^2/s")
        if sample != "pristine":
            layer_D = v["layer_diffusivity_ratio"] * diffusivity_m2_s
            out.append(f"materials.layer.lithium_diffusivity={float(layer_D)!r} m^2/s")
    return out


def fit_pristine_diffusivity(values: dict[str, float], derived: Derived, comm=MPI.COMM_WORLD) -> float:
    """Re-fit the pristine core D to the pristine peak (the case's `fitted:` entry)
    with these inputs."""
    from solver.studies.fitting import fit_case

    fitted = fit_case(CASE_FILES["pristine"], comm, log=lambda *a: None,
                      overrides=overrides(values, derived, "pristine"))
    return fitted["materials.core.lithium_diffusivity"]


def run_with_history(case, comm=MPI.COMM_WORLD) -> dict:
    """Run a case in memory; its summary plus the largest von Mises stress at every
    output time and the volume change at the last one."""
    from solver.numerics import linalg
    from solver.simulation.chemomechanics import ChemoMechanics
    from solver.simulation.domain_setup import build_domain

    sim = ChemoMechanics(case, build_domain(case, comm))
    rows = []
    summary = sim.run(lambda t, s: rows.append((t, s.scalars(t))), project_fields=False)
    summary["history"] = {"t_s": [t for t, _ in rows],
                          "sigma_vm_max_Pa": [r["sigma_vm_max_Pa"] for _, r in rows]}
    summary["volume_change_at_end"] = rows[-1][1]["volume_change"]
    summary["volume_change_full_charge"] = full_charge_volume_change(case)
    summary["radius_m"], summary["layer_thickness_m"] = case.geometry.radius.si, case.geometry.layer_thickness.si
    linalg.release(sim)
    return summary


def profile_at_peak(path, sets: list[str], peak_time_s: float, comm=MPI.COMM_WORLD) -> dict:
    """Von Mises stress at every stress node of the case at `path` (with `sets`) at
    `peak_time_s` (the run stopped there), sorted by radius, on every rank:
    {radius_m, sigma_vm_Pa}."""
    from solver.numerics import linalg
    from solver.simulation.chemomechanics import ChemoMechanics
    from solver.simulation.domain_setup import build_domain

    case = load_case(path, [*sets, f"protocol.end_time={float(peak_time_s)!r} s", "output.count=2",
                            "output.fields=false"])
    sim = ChemoMechanics(case, build_domain(case, comm))
    sim.run(project_fields=False)
    sim.mechanics.solve()
    pairs = comm.allgather((sim.mechanics.node_radius_m, sim.mechanics.stress_measures()["sigma_vm_Pa"]))
    linalg.release(sim)
    r = np.concatenate([p[0] for p in pairs])
    order = np.argsort(r, kind="stable")
    return {"radius_m": r[order], "sigma_vm_Pa": np.concatenate([p[1] for p in pairs])[order]}


def run_variants(values: dict[str, float] | None = None, comm=MPI.COMM_WORLD,
                 refit: bool = True, diffusivity_m2_s: float | None = None) -> dict:
    """Pristine, Ru-1 A and Ru-1 B with these inputs (default: the baseline, i.e. the
    case files as written). `refit`: re-fit the pristine D first (else the case file's
    or `diffusivity_m2_s`)."""
    values = inputs() if values is None else values
    derived = derive(values)
    if refit:
        diffusivity_m2_s = fit_pristine_diffusivity(values, derived, comm)
    out = {"derived": derived, "values": values, "diffusivity_m2_s": diffusivity_m2_s}
    for sample in ("pristine", "A", "B"):
        case = load_case(CASE_FILES[sample], [*overrides(values, derived, sample, diffusivity_m2_s),
                                              "output.fields=false"])
        out[sample] = run_with_history(case, comm)
        out[sample]["diffusivity_m2_s"] = case.materials.core.lithium_diffusivity.si
    if diffusivity_m2_s is None:
        out["diffusivity_m2_s"] = load_case(CASE_FILES["pristine"]).materials.core.lithium_diffusivity.si
    return out


def summarize(result: dict, mechanisms=("A", "B")) -> dict:
    """The four numbers of each mechanism in `result`, the peak location and the
    targets met (each run's own radius and layer)."""
    pristine = result["pristine"]["stress"]
    rows = {}
    for variant in mechanisms:
        run = result[variant]
        st = run["stress"]
        R, d, r = run["radius_m"], run["layer_thickness_m"], st["peak_radius_m"]
        rows[variant] = {
            "pristine_peak_MPa": pristine["peak_von_mises_Pa"] / 1e6,
            "pristine_location": pristine["peak_location"],
            "ru1_peak_MPa": st["peak_von_mises_Pa"] / 1e6,
            "ru1_peak_radius_nm": r * 1e9,
            "ru1_peak_depth_nm": (R - r) * 1e9,
            "ru1_layer_nm": d * 1e9,
            "ru1_location": st["peak_location"],
            "ru1_inside_layer": R - d < r < R and st["peak_location"] == "inside layer",
            "pristine_volume_change": result["pristine"]["volume_change_full_charge"],
            "ru1_volume_change": run["volume_change_full_charge"],
            "ratio": st["peak_von_mises_Pa"] / pristine["peak_von_mises_Pa"],
            "ru1_diffusivity_m2_s": run["diffusivity_m2_s"],
        }
    return rows


def run_mechanisms(comm=MPI.COMM_WORLD, files: dict | None = None) -> dict:
    """The pristine case and the four Ru-1 mechanisms (or `files`, e.g. TWO_WAY_FILES),
    each case file as written."""
    out = {}
    for key, path in (CASE_FILES if files is None else files).items():
        case = load_case(path, ["output.fields=false"])
        out[key] = run_with_history(case, comm)
        out[key]["diffusivity_m2_s"] = case.materials.core.lithium_diffusivity.si
        out[key]["fitted"] = sorted(case.fitted)
    return out


def run_charge_rules(comm=MPI.COMM_WORLD) -> list[dict]:
    """Mechanism B with the pristine first charge of each rule of
    PRISTINE_CHARGE_RULES, the pristine D re-fitted for each."""
    rows = []
    for label, rule in PRISTINE_CHARGE_RULES.items():
        values = inputs(pristine_first_charge=rule())
        result = run_variants(values, comm, refit=True)
        s = summarize(result, ("B",))["B"]
        rows.append({"rule": label, "first_charge_mAh_g": rule(), "discharge_mAh_g": rule() * values["pristine_ice"],
                     "D_m2_s": result["diffusivity_m2_s"], "ru1_peak_MPa": s["ru1_peak_MPa"],
                     "inside": s["ru1_inside_layer"], "ru1_peak_depth_nm": s["ru1_peak_depth_nm"]})
    return rows


# Layer physics compared for the peak location (variant B, baseline inputs): the case's
# choice last. Each is (label, case overrides).
LOCATION_ALTERNATIVES = (
    ("linear c_max, uniform layer D (the earlier baseline's layer shape)",
     ["materials.layer.profile=linear", "materials.layer.lithium_diffusivity_profile=uniform"]),
    ("erfc c_max cut at erfc(2), uniform layer D",
     ["materials.layer.profile=erfc", "materials.layer.lithium_diffusivity_profile=uniform"]),
    ("continuous erfc c_max, uniform layer D (a jump in D at the inner edge)",
     ["materials.layer.lithium_diffusivity_profile=uniform"]),
    ("continuous erfc c_max, no faster D in the layer",
     ["materials.layer.lithium_diffusivity_profile=uniform", "materials.layer.lithium_diffusivity=null"]),
    ("continuous erfc c_max, D graded with the deficiency (the headline, cases/ru1_stress.yaml)", []),
)


def location_evidence(comm=MPI.COMM_WORLD) -> list[dict]:
    """Variant B's Ru-1 peak and its place for each layer physics of
    LOCATION_ALTERNATIVES; then A and B with the earlier baseline's assumed 20 nm linear
    layer (its floor re-derived for the layer's fewer sites)."""
    rows = [_evidence_row(label, "B", load_case(CASE_FILES["B"], [*sets, "output.fields=false"]), comm)
            for label, sets in LOCATION_ALTERNATIVES]
    values = inputs(layer_thickness_nm=20.0)
    derived = derive(values, "linear")
    for variant in ("A", "B"):
        case = load_case(CASE_FILES[variant], [*overrides(values, derived, variant), "output.fields=false",
                                               "materials.layer.profile=linear",
                                               "materials.layer.lithium_diffusivity_profile=uniform"])
        rows.append(_evidence_row("the earlier baseline's assumed layer: 20 nm, linear, uniform D",
                                  variant, case, comm))
    return rows


def _evidence_row(label: str, variant: str, case, comm) -> dict:
    st = run_with_history(case, comm)["stress"]
    R, d, r = case.geometry.radius.si, case.geometry.layer_thickness.si, st["peak_radius_m"]
    return {"label": label, "variant": variant, "layer_nm": d * 1e9, "peak_MPa": st["peak_von_mises_Pa"] / 1e6,
            "radius_nm": r * 1e9, "depth_nm": (R - r) * 1e9, "location": st["peak_location"],
            "peak_time_s": st["peak_time_s"],
            "inside": R - d < r < R and st["peak_location"] == "inside layer"}

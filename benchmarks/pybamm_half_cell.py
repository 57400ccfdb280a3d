"""PyBaMM reference for lrmo's voltage and cycling runs: one cathode particle against Li metal.

PyBaMM's single-particle model of a half cell (`SPM({"working electrode": "positive"})`)
with the particle of a JSON file, driven by a protocol of steps in words, so that its
voltage is the particle's own: V = U(theta_s) + eta, eta from symmetric Butler-Volmer.

The PyBaMM interpreter (PyBaMM is not a dependency of lrmo; this script runs in its own
venv, like benchmarks/particle_1d.py's child process):

    python3 -m venv ~/pybamm-venv
    ~/pybamm-venv/bin/pip install pybamm matplotlib      # PyBaMM 26.10.1.1 when written
    export LRMO_PYBAMM_PYTHON=~/pybamm-venv/bin/python

Run: $LRMO_PYBAMM_PYTHON benchmarks/pybamm_half_cell.py params.json --out pybamm.csv
     [--points 200] [--check]
Prints one JSON line: PyBaMM version, wall time of build + solve, per-step capacity
(mAh/g, charge positive), final voltage, the largest counter-electrode loss in the
voltage, and with --check the changes in voltage when the particle mesh is doubled and
when the counter electrode's "huge" constants are doubled (each a second build + solve).

The JSON file (written by lrmo; SI units in the names):

    {"radius_m": 1.5e-7, "site_concentration_mol_m3": 60840, "initial_site_fraction": 0.999,
     "temperature_K": 298.15, "density_kg_m3": 4300, "current_1C_A_kg": 250,
     "diffusivity_m2_s": 1.5e-18,
     "diffusivity_factor": null | {"site_fraction": [...], "factor": [...]},
     "ocv": {"site_fraction": [... increasing ...], "voltage": [...]},
     "exchange_current_density_A_m2": 1.0, "charge_transfer_coefficient": 0.5,
     "mechanics": null | {"youngs_modulus_Pa": 1.5e11, "poisson_ratio": 0.3,
                          "partial_molar_volume_m3_mol": 7.356e-7},
     "steps": ["Charge at 1C until 4.8 V", "Hold at 4.8 V until C/50", "Rest for 1 hour",
               "Discharge at 1C until 2.0 V"],
     "output_period_s": 10}

The CSV: t_s, voltage_V, current_A_kg (charge positive), capacity_mAh_g (charge passed
since t = 0, charge positive), theta_surface, theta_mean, step (index into "steps", from
0), and with "mechanics" sigma_t_surface_Pa. A step's first row repeats the previous
step's last time (same state, new step).

How the particle maps onto PyBaMM (solver/physics/electrochemistry.py is lrmo's side):

- Particle: "Positive particle radius [m]" = R, "Maximum concentration in positive
  electrode" = c_max, uniform initial concentration theta0 c_max; Fickian diffusion in r
  on --points finite volumes refined towards the surface (pybamm.Exponential1DSubMesh,
  stretch 2.3: the outer cells ~10x thinner than the inner; on the test below it gave a
  5x smaller voltage error than a uniform mesh of as many cells).
- D(theta) = D f(theta), log f interpolated linearly in theta (pybamm.Interpolant,
  "linear"), theta held in the table's range (f constant beyond its ends).
- U(theta): pybamm.Interpolant "pchip", the same monotone cubic as lrmo's scipy PCHIP
  (PyBaMM evaluates scipy's PCHIP slopes as Hermite cubics in CasADi), theta held in the
  table's range as lrmo does. PyBaMM first clips theta to [1e-10, 1 - 1e-10].
- i0 = i0_ref 2 sqrt(theta_s (1 - theta_s)), as a custom exchange-current function of
  the surface concentration (c_e ignored), theta_s kept 1e-9 inside (0, 1) like lrmo.
  PyBaMM's default kinetics are symmetric Butler-Volmer, j = 2 j0 sinh(F eta / 2RT),
  solved explicitly for eta in the SPM: lrmo with alpha = 1/2. Another alpha is refused.
- Current: the electrode is A = 1 m^2, L = 10 um thick, active volume fraction
  eps = 1/2, so the active mass is m = rho eps L A and the cell current I = i_m m for a
  mass current i_m (A/kg). PyBaMM's SPM spreads I over the particle surface area
  a L A, a = 3 eps / R: j = I / (a L A) = i_m rho R / 3, lrmo's interfacial current
  density; the summary reports the largest deviation of PyBaMM's "X-averaged positive
  electrode interfacial current density [A.m-2]" from it. C-rates in the step strings
  are translated to amperes: x C -> x * current_1C_A_kg * m. Capacity (mAh/g) = charge
  (A h) / m (kg).
- Temperature: isothermal at T ("Ambient" and "Reference temperature [K]").
- Mechanics ("particle mechanics": "swelling only"): PyBaMM's "X-averaged positive
  particle surface tangential stress [Pa]" is Ai et al. 2020 (J. Electrochem. Soc. 167
  013512) eq. 8 at r = R: sigma_t = Omega E (c_avg - c_surf) / (3 (1 - nu)), c_avg the
  volume average over the sphere, tension positive (> 0 on charge, when the surface is
  emptier than the bulk): the linear-elastic free sphere with Vegard strain
  Omega (c - c_ref) / 3, constant E, nu, Omega, lrmo's closed form
  (solver/physics/analytic.py). Stress-induced diffusion is off (PyBaMM's default turns
  it on with mechanics): the stress does not act back on D, lrmo's one-way coupling. The
  comparison holds where lrmo's particle is a homogeneous sphere with constant moduli
  and a linear volume change.

What remains of the half cell in PyBaMM's voltage, beyond U(theta_s) + eta:
the SPM's electrolyte is at constant concentration with no ohmic drop (leading order),
the positive electrode's solid phase has no ohmic drop in the SPM, and what is left is
the Li metal electrode: its Butler-Volmer overpotential with j0 = 1e12 A/m^2 and its
ohmic drop I L / (sigma A) with L = 0.1 um, sigma = 1e12 S/m. At 1C above (I = 5.4 A
through 1 m^2 of Li metal) these are 1.4e-13 V and 5e-19 V; the summary reports the
largest |V - U(theta_s) - eta| of the run, and --check the change in V when both
constants are doubled.

Checked (PyBaMM 26.10.1.1; R = 150 nm, D = 1e-17 m^2/s, i0 = 1 A/m^2, 1C = 250 A/kg,
U = 3.45 - 0.6 (x - 1/2) + 0.25 ln((1 - x)/x) on 50 points over [0.005, 0.999], the four
steps above, 200 points, rtol = atol = 1e-9; 0.25 s): largest counter-electrode loss
1.4e-13 V, and 7e-11 V change with its constants doubled; 400 points move V by 8 uV at
most (1.4 uV RMS) and the step capacities by < 3e-4 mAh/g; rtol = atol = 1e-11 moves V by
2e-8 V. The CC charge's theta_s follows Crank's constant-flux sphere series to 1e-6; at
the end of the rest V = U(theta_mean) to 1e-11 V; the CV current decays monotonically
(250 -> 5 A/kg); sigma_t = K c_max (theta_mean - theta_s) to 4e-11 relative. Harder:
with D falling 100x towards theta = 1 and a 2C discharge, 400 points moved the end of
the discharge by 1 mV and its capacity by 0.02 %: run --check, and raise --points.
"""
from __future__ import annotations

import argparse
import csv
import json
import re
import time

import numpy as np
import pybamm

AREA_M2 = 1.0
THICKNESS_M = 1e-5
ACTIVE_FRACTION = 0.5
LI_METAL_EXCHANGE_A_M2 = 1e12
LI_METAL_CONDUCTIVITY_S_M = 1e12
LI_METAL_THICKNESS_M = 1e-7
SITE_FRACTION_MARGIN = 1e-9  # lrmo's, solver/physics/electrochemistry.py
RTOL = ATOL = 1e-9
SURFACE_STRETCH = 2.3  # particle cells shrink ~exp(2.3) = 10x from the centre to the surface


def active_mass_kg(p: dict) -> float:
    return p["density_kg_m3"] * ACTIVE_FRACTION * THICKNESS_M * AREA_M2


def step_in_amperes(text: str, current_1C_A: float) -> str:
    """'Charge at 1C until 4.8 V' -> 'Charge at 5.4 A until 4.8 V'; 'C/50' likewise."""

    def amperes(match):
        rate = float(match.group(1) or 1) / float(match.group(2) or 1)
        return f"{rate * current_1C_A:.12g} A"

    return re.sub(r"\b(\d+(?:\.\d*)?)?C(?:/(\d+(?:\.\d*)?))?\b", amperes, text)


def clipped(sto, lo: float, hi: float):
    return pybamm.minimum(pybamm.maximum(sto, lo), hi)


def parameter_values(p: dict, counter_scale: float = 1.0) -> pybamm.ParameterValues:
    """The half cell of the particle p (module docstring); counter_scale multiplies the
    Li metal's exchange current density and conductivity."""
    if p.get("charge_transfer_coefficient", 0.5) != 0.5:
        raise ValueError("PyBaMM's SPM kinetics here are symmetric: charge_transfer_coefficient must be 0.5")
    c_max, T = p["site_concentration_mol_m3"], p["temperature_K"]
    x_ocv = np.asarray(p["ocv"]["site_fraction"], dtype=float)
    u_ocv = np.asarray(p["ocv"]["voltage"], dtype=float)
    i0_ref, D = p["exchange_current_density_A_m2"], p["diffusivity_m2_s"]
    factor = p.get("diffusivity_factor")

    def ocv(sto):
        return pybamm.Interpolant(x_ocv, u_ocv, clipped(sto, x_ocv[0], x_ocv[-1]),
                                  name="ocv", interpolator="pchip")

    def diffusivity(sto, T):
        if factor is None:
            return pybamm.Scalar(D)
        x = np.asarray(factor["site_fraction"], dtype=float)
        log_f = np.log(np.asarray(factor["factor"], dtype=float))
        return D * pybamm.exp(pybamm.Interpolant(x, log_f, clipped(sto, x[0], x[-1]),
                                                 name="log_diffusivity_factor", interpolator="linear"))

    def exchange_current(c_e, c_s_surf, c_s_max, T):
        theta = clipped(c_s_surf / c_s_max, SITE_FRACTION_MARGIN, 1 - SITE_FRACTION_MARGIN)
        return 2 * i0_ref * pybamm.sqrt(theta * (1 - theta))

    mass = active_mass_kg(p)
    values = {
        "Ambient temperature [K]": T,
        "Reference temperature [K]": T,
        "Initial temperature [K]": T,
        "Electrode height [m]": AREA_M2,
        "Electrode width [m]": 1.0,
        "Number of cells connected in series to make a battery": 1.0,
        "Number of electrodes connected in parallel to make a cell": 1.0,
        "Nominal cell capacity [A.h]": p["current_1C_A_kg"] * mass,
        "Current function [A]": 0.0,
        "Lower voltage cut-off [V]": 0.0,
        "Upper voltage cut-off [V]": 10.0,
        # Li metal counter electrode, made ideal
        "Exchange-current density for lithium metal electrode [A.m-2]": LI_METAL_EXCHANGE_A_M2 * counter_scale,
        "Lithium metal partial molar volume [m3.mol-1]": 1.3e-5,
        "Negative electrode conductivity [S.m-1]": LI_METAL_CONDUCTIVITY_S_M * counter_scale,
        "Negative electrode thickness [m]": LI_METAL_THICKNESS_M,
        # separator and electrolyte: geometry only (no loss in the SPM)
        "Separator thickness [m]": 1e-6,
        "Separator porosity": 1.0,
        "Separator Bruggeman coefficient (electrolyte)": 1.5,
        "Initial concentration in electrolyte [mol.m-3]": 1000.0,
        # the particle
        "Positive electrode thickness [m]": THICKNESS_M,
        "Positive electrode active material volume fraction": ACTIVE_FRACTION,
        "Positive electrode porosity": 1 - ACTIVE_FRACTION,
        "Positive electrode Bruggeman coefficient (electrode)": 1.5,
        "Positive electrode Bruggeman coefficient (electrolyte)": 1.5,
        "Positive particle radius [m]": p["radius_m"],
        "Maximum concentration in positive electrode [mol.m-3]": c_max,
        "Initial concentration in positive electrode [mol.m-3]": p["initial_site_fraction"] * c_max,
        "Positive particle diffusivity [m2.s-1]": diffusivity,
        "Positive electrode OCP [V]": ocv,
        "Positive electrode OCP entropic change [V.K-1]": 0.0,
        "Positive electrode exchange-current density [A.m-2]": exchange_current,
    }
    mech = p.get("mechanics")
    if mech:
        values.update({
            "Positive electrode Young's modulus [Pa]": mech["youngs_modulus_Pa"],
            "Positive electrode Poisson's ratio": mech["poisson_ratio"],
            "Positive electrode partial molar volume [m3.mol-1]": mech["partial_molar_volume_m3_mol"],
            "Positive electrode reference concentration for free of deformation [mol.m-3]":
                p["initial_site_fraction"] * c_max,
            "Positive electrode volume change": 0.0,  # electrode thickness change only
        })
    return pybamm.ParameterValues(values)


def solve(p: dict, points: int, counter_scale: float = 1.0):
    """(PyBaMM solution, wall s of build + solve)."""
    t0 = time.perf_counter()
    options = {"working electrode": "positive"}
    if p.get("mechanics"):
        # one-way: PyBaMM switches stress-induced diffusion on with mechanics unless told
        options.update({"particle mechanics": "swelling only", "stress-induced diffusion": "false"})
    model = pybamm.lithium_ion.SPM(options)
    current_1C_A = p["current_1C_A_kg"] * active_mass_kg(p)
    experiment = pybamm.Experiment([tuple(step_in_amperes(s, current_1C_A) for s in p["steps"])],
                                   period=f"{p['output_period_s']} seconds")
    submesh_types = {**model.default_submesh_types, "positive particle": pybamm.MeshGenerator(
        pybamm.Exponential1DSubMesh, submesh_params={"side": "right", "stretch": SURFACE_STRETCH})}
    sim = pybamm.Simulation(model, parameter_values=parameter_values(p, counter_scale),
                            experiment=experiment, submesh_types=submesh_types,
                            var_pts={**model.default_var_pts, "r_p": points},
                            solver=pybamm.IDAKLUSolver(rtol=RTOL, atol=ATOL))
    solution = sim.solve()
    return solution, time.perf_counter() - t0


def table(solution, p: dict) -> dict[str, np.ndarray]:
    """The CSV columns (module docstring), plus the checks' quantities."""
    steps = solution.cycles[0].steps
    if len(steps) != len(p["steps"]):
        raise RuntimeError(f"PyBaMM ran {len(steps)} of the {len(p['steps'])} steps "
                           f"(last termination: {solution.termination})")
    mass = active_mass_kg(p)
    names = {
        "t_s": "Time [s]",
        "voltage_V": "Voltage [V]",
        "current_A": "Current [A]",
        "discharge_Ah": "Discharge capacity [A.h]",
        "theta_surface": "X-averaged positive particle surface stoichiometry",
        "theta_mean": "Average positive particle stoichiometry",
        "ocv_V": "X-averaged positive electrode open-circuit potential [V]",
        "eta_V": "X-averaged positive electrode reaction overpotential [V]",
        "j_A_m2": "X-averaged positive electrode interfacial current density [A.m-2]",
    }
    if p.get("mechanics"):
        names["sigma_t_surface_Pa"] = "X-averaged positive particle surface tangential stress [Pa]"
    rows = {key: [] for key in [*names, "step"]}
    for k, step in enumerate(steps):
        for key, name in names.items():
            rows[key].append(np.asarray(step[name].entries, dtype=float).ravel())
        rows["step"].append(np.full(rows["t_s"][-1].size, k))
    cols = {key: np.concatenate(v) for key, v in rows.items()}
    cols["current_A_kg"] = -cols.pop("current_A") / mass
    cols["capacity_mAh_g"] = -cols.pop("discharge_Ah") / mass  # A h / kg = mAh / g
    return cols


CSV_COLUMNS = ["t_s", "voltage_V", "current_A_kg", "capacity_mAh_g", "theta_surface", "theta_mean", "step"]


def write_csv(path: str, cols: dict) -> None:
    names = CSV_COLUMNS + (["sigma_t_surface_Pa"] if "sigma_t_surface_Pa" in cols else [])
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(names)
        for i in range(cols["t_s"].size):
            writer.writerow([int(cols[n][i]) if n == "step" else f"{cols[n][i]:.12g}" for n in names])


def voltage_change(a: dict, b: dict) -> dict:
    """Largest and RMS |V_b - V_a| over the run, step by step against the time since the
    step began (V_b interpolated to a's times; the steps may end at slightly different
    times, and their last 2 % are left out)."""
    dv = []
    for k in np.unique(a["step"]):
        ia, ib = a["step"] == k, b["step"] == k
        ta, tb = a["t_s"][ia] - a["t_s"][ia][0], b["t_s"][ib] - b["t_s"][ib][0]
        inside = ta <= 0.98 * min(ta[-1], tb[-1])
        dv.append(np.interp(ta[inside], tb, b["voltage_V"][ib]) - a["voltage_V"][ia][inside])
    dv = np.concatenate(dv)
    return {"max_V": float(np.max(np.abs(dv))), "rms_V": float(np.sqrt(np.mean(dv**2)))}


def summary(p: dict, cols: dict, wall_s: float, points: int) -> dict:
    step_capacity = []
    for k in range(len(p["steps"])):
        q = cols["capacity_mAh_g"][cols["step"] == k]
        step_capacity.append(float(q[-1] - q[0]))
    j_lrmo = cols["current_A_kg"] * p["density_kg_m3"] * p["radius_m"] / 3
    return {
        "pybamm_version": pybamm.__version__,
        "wall_s": round(wall_s, 3),
        "particle_points": points,
        "step_capacity_mAh_g": [round(q, 6) for q in step_capacity],
        "step_end_s": [float(cols["t_s"][cols["step"] == k][-1]) for k in range(len(p["steps"]))],
        "final_voltage_V": float(cols["voltage_V"][-1]),
        "max_counter_electrode_loss_V": float(np.max(np.abs(cols["voltage_V"] - cols["ocv_V"] - cols["eta_V"]))),
        "max_interfacial_current_mismatch_A_m2": float(np.max(np.abs(cols["j_A_m2"] - j_lrmo))),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("params", help="the particle's JSON file (module docstring)")
    parser.add_argument("--out", required=True, help="CSV to write")
    parser.add_argument("--points", type=int, default=200, help="finite volumes in r")
    parser.add_argument("--check", action="store_true",
                        help="also solve with 2x the points and with 2x the counter electrode's constants")
    args = parser.parse_args()
    with open(args.params) as f:
        p = json.load(f)
    solution, wall_s = solve(p, args.points)
    cols = table(solution, p)
    write_csv(args.out, cols)
    result = summary(p, cols, wall_s, args.points)
    if args.check:
        fine = table(solve(p, 2 * args.points)[0], p)
        result["voltage_change_2x_points_V"] = voltage_change(cols, fine)
        result["capacity_change_2x_points_mAh_g"] = summary(p, fine, 0.0, 2 * args.points)["step_capacity_mAh_g"]
        stiff = table(solve(p, args.points, counter_scale=2.0)[0], p)
        result["voltage_change_2x_counter_electrode_V"] = voltage_change(cols, stiff)
    print(json.dumps(result))


if __name__ == "__main__":
    main()

"""Benchmark: what the Butler–Volmer surface condition costs per Li step on the 3D
verification octant (39k cells), against today's Li step with the uniform galvanostatic
flux, the same mesh, case and protocol ("Charge at 1C for 1500 s", D = 1e-17 m^2/s, from
site fraction 0.98), in one process, alternating. Prints ms per accepted step (Li solve
only), Krylov iterations and Newton iterations per step, the AMG set-ups, and the ratio;
and the two runs' capacities (the same current: they must agree) and the final voltage.
Asserts nothing. Run: .venv/bin/python benchmarks/kinetics_cost.py [--repeats 3]
"""
from __future__ import annotations

import argparse
import statistics
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OCV = "4.0 - 0.6*x + 0.05*log((1-x)/x)"  # V, a smooth made-up curve over [0.02, 0.999]
STEPS = ["Charge at 1C for 1500 s"]


def run(kinetics: bool):
    from mpi4py import MPI

    from solver.case.schema import load_case
    from solver.simulation.chemomechanics import ChemoMechanics
    from solver.simulation.domain_setup import build_domain

    overrides = [f"protocol={{current_1C: 250 mA/g, steps: {STEPS}}}", "output.times=null", "output.interval=1500 s",
                 "materials.core.lithium_diffusivity=1e-17 m^2/s", "lithium.initial_site_fraction=0.98",
                 "physics=[lithium]", "output.fields=false"]
    if kinetics:
        overrides += [f"materials.core.open_circuit_voltage={{expression: '{OCV}', site_fraction_range: [0.02, 0.999], "
                      "source: made up}", "materials.core.exchange_current_density={value: 1, unit: A/m^2, source: made up}"]
    case = load_case(ROOT / "cases" / "verify_galvanostatic_octant.yaml", overrides)
    sim = ChemoMechanics(case, build_domain(case, MPI.COMM_WORLD))
    sim.run(project_fields=False)
    st = sim.stats
    return {"ms_per_step": 1e3 * st.wall_lithium_s / st.steps, "krylov": st.lithium_iterations / st.steps,
            "newton": st.newton_iterations / st.steps, "setups": getattr(sim.potential, "preconditioner_setups", 0),
            "capacity_mAh_g": sim._observables["capacity_C_kg"] / 3600, "voltage_V": sim._observables["voltage_V"],
            "steps": st.steps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    run(True), run(False)  # warm: JIT cache, mesh cache
    flux, kinetic = [], []
    for _ in range(args.repeats):
        flux.append(run(False))
        kinetic.append(run(True))
    for name, rows in (("uniform flux (today)", flux), ("Butler-Volmer, one V", kinetic)):
        r = rows[-1]
        print(f"{name:22s} ms/step {statistics.median(x['ms_per_step'] for x in rows):7.2f}  Krylov/step "
              f"{r['krylov']:5.1f}  Newton/step {r['newton']:4.2f}  AMG set-ups {r['setups']}  steps {r['steps']}  "
              f"capacity {r['capacity_mAh_g']:.6f} mAh/g  V {r['voltage_V']:.6f}")
    ratios = [k["ms_per_step"] / f["ms_per_step"] for f, k in zip(flux, kinetic)]
    print(f"cost ratio per Li step, kinetics / flux: median {statistics.median(ratios):.2f} "
          f"(pairs: {', '.join(f'{x:.2f}' for x in ratios)})")


if __name__ == "__main__":
    main()

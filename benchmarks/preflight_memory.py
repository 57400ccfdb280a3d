"""Pre-flight memory estimate (meshes/estimate.py) vs the measured peak RSS of `lrmo run`
on every shipped 3D shape: the octant, the sphere, the ellipsoid, the platelet, secondary
particles, O2 alone, Li + mechanics + O2 (the coupled model) and Li + O2 + oxygen redox. Each run is timed by
`/usr/bin/time -v` ("Maximum resident set size": the busiest process, in KiB; 1 MB =
10^6 bytes here). Prints one markdown row per run (the table of docs/meshes.md "Memory
calibration"), asserts nothing.

    .venv/bin/python benchmarks/preflight_memory.py [LABEL...]   # all runs, or those named

The estimate column is the pre-flight figure `lrmo run` prints; the model column puts the
run's actual cells, dofs and accepted steps into the same model (cells from
mesh/info.json, dofs and steps from summary.json).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from meshes.estimate import estimate_run  # noqa: E402
from solver.case.schema import load_case, validate_case  # noqa: E402
from solver.simulation.preflight import (case_estimate, mesh_inputs, phase_field_coupling,  # noqa: E402
                                        solved_p1_fields, stored_steps)

CASES = ROOT / "cases"
LRMO = ROOT / ".venv" / "bin" / "lrmo"
FAST = ["output.fields=false"]
SHORT = ["protocol.end_time=10 min", "output.count=3"]
COARSE = ["mesh.surface=5 nm", "mesh.bulk=15 nm"]  # a sphere of ~70k tets


def coupled_case(path: Path) -> Path:
    """The Li/mechanics octant with the O2 submodel of cases/pristine_o2.yaml, its
    source starting once the mean site fraction falls to 0.95 (tests/test_engine.py)."""
    data = yaml.safe_load((CASES / "pristine_stress_octant.yaml").read_text())
    oxygen = yaml.safe_load((CASES / "pristine_o2.yaml").read_text())["oxygen"]
    oxygen.update(end_time="10 min", source={"rate": "1 mol/m^3/s", "start_at_mean_site_fraction": 0.95})
    data.update(name="coupled_octant", physics=["lithium", "mechanics", "oxygen"], oxygen=oxygen)
    validate_case(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


# (label, case file or None for the coupled case, --set overrides, ranks)
RUNS = [
    ("platelet", "platelet_stress.yaml", FAST + SHORT, 1),
    ("secondary", "secondary_50grains.yaml", FAST, 1),
    ("coupled", None, FAST + SHORT, 1),
    ("sphere", "pristine_stress_octant.yaml", FAST + SHORT + COARSE + ["geometry.shape=sphere"], 1),
    ("ellipsoid", "pristine_stress_octant.yaml",
     FAST + SHORT + COARSE + ["geometry.shape=ellipsoid", "geometry.radius=null",
                     "geometry.semi_axes=[200 nm, 150 nm, 100 nm]"], 1),
    ("secondary-2", "secondary_50grains.yaml", FAST, 2),
    ("o2-octant", "pristine_o2.yaml", FAST, 1),
    ("octant", "pristine_stress_octant.yaml", FAST, 1),
    ("octant-ru1", "ru1_stress_octant.yaml", FAST, 1),
    # Li + O2 + oxygen redox (its vacancies a third P1 system), the first 10 min of the charge
    ("oxygen-redox-octant", "pristine_cycle_octant.yaml", FAST + ["protocol.steps=[Charge at 0.1C for 10 minutes]"], 1),
    # the phase field (its LU) on the two fracture octants, the first 2 min of the charge; the
    # same runs with "physics=[lithium, mechanics]", "fracture=null" give its share
    ("fracture-octant", "pristine_fracture_octant.yaml", FAST + ["protocol.end_time=2 min"], 1),
    ("fracture-octant-3nm", "pristine_fracture_octant.yaml", FAST + ["protocol.end_time=2 min", "mesh.surface=3 nm"], 1),
    ("fracture-octant-ru1", "ru1_fracture_octant.yaml", FAST + ["protocol.end_time=2 min"], 1),
]


def measure(label: str, case_file: str | None, sets: list[str], ranks: int, work: Path) -> dict:
    path = CASES / case_file if case_file else coupled_case(work / "coupled_octant.yaml")
    out = work / label
    cmd = [str(LRMO), "run", str(path), "--out", str(out), "--overwrite", "--quiet"]
    for s in sets:
        cmd += ["--set", s]
    if ranks > 1:
        cmd = ["mpirun", "-n", str(ranks)] + cmd
    env = {**os.environ, "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
           "OMPI_MCA_btl": "self,vader"}
    done = subprocess.run(["/usr/bin/time", "-v"] + cmd, env=env, capture_output=True, text=True)
    rss_kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1))
    wall = re.search(r"Elapsed \(wall clock\) time.*: (\S+)", done.stderr).group(1)
    summary = json.loads((out / "summary.json").read_text())
    cells = json.loads((out / "mesh" / "info.json").read_text())["num_cells"]
    case = load_case(path, sets)
    estimate = case_estimate(case, ranks)
    dofs = summary.get("dofs", {})
    steps = summary.get("lithium", {}).get("steps", 0) if stored_steps(case) else 0
    p1 = dofs.get("lithium", dofs.get("oxygen", 0))
    model = estimate_run(mesh_inputs(case), mechanics="mechanics" in case.physics, p1_fields=solved_p1_fields(case),
                         ranks=ranks, history_steps=steps, actual=(cells, p1, dofs.get("displacement", 0)),
                         phase_field=phase_field_coupling(case))
    return dict(label=label, status=summary["status"], cells=cells, p1=p1, p2=dofs.get("displacement", 0),
                steps=summary.get("lithium", {}).get("steps", 0), ranks=ranks, wall=wall,
                measured=rss_kib * 1024, model=model.memory_per_rank_bytes,
                estimate=estimate.memory_per_rank_bytes, estimated_cells=estimate.cells)


def row(r: dict) -> str:
    def mb(x):
        return f"{x / 1e6:.0f} MB"

    def err(x):
        return f"{100 * (x / r['measured'] - 1):+.0f} %"

    return (f"| {r['label']} ({r['ranks']} rank{'s' if r['ranks'] > 1 else ''}) | {r['cells']:,} "
            f"({r['estimated_cells'] / r['cells'] - 1:+.0%}) | {r['p1']:,} / {r['p2']:,} | {r['steps']} | "
            f"{mb(r['measured'])} | {mb(r['model'])} ({err(r['model'])}) | "
            f"{mb(r['estimate'])} ({err(r['estimate'])}) | {r['wall']} |")


def main(labels: list[str]) -> None:
    print("| run | tets (estimate) | P1 / P2 dofs | steps | measured peak per rank | model (actual mesh, steps) "
          "| pre-flight estimate | wall |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="lrmo-mem-") as tmp:
        for label, case_file, sets, ranks in RUNS:
            if labels and label not in labels:
                continue
            r = measure(label, case_file, sets, ranks, Path(tmp))
            print(row(r) + ("" if r["status"] == "completed" else f" {r['status']}"), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])

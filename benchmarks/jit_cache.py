"""Benchmark: a sweep adds no compiled module after its first member.

Every number a case may vary enters the forms as a `fem.Constant` or a Function, never
as a literal, so the FFCx JIT cache holds one compiled module per model structure
(element, regions present, physics switches), whatever the values (docs/performance.md,
"JIT cache"). This script runs sweep members one `lrmo run` process each (as a sweep on
a cluster does), all against one private JIT cache, and counts the compiled modules in
it after every member:

  - `--case` (default cases/ru1_stress.yaml, 1D, with a Li-deficient layer) at each
    C-rate of `--c-rates` (layer as in the case), then at each layer thickness of
    `--layers-nm` (C-rate as in the case);
  - `--also` cases (default cases/verify_galvanostatic_radial.yaml: no layer) at each
    C-rate: another structure, compiled by its first member only.

Members are short (`--end-time-min`, one or two outputs, no field files). The JIT cache is
`$XDG_CACHE_HOME/fenics` on every supported DOLFINx; it is set for the children only
(DOLFINx reads it when imported). Prints one line per member and, with `--json`, writes
{"members": [{"case", "set", "modules", "new"}], "after_first": {case: new modules}}.
Asserts nothing (tests/test_jit_cache.py does).

Run: .venv/bin/python benchmarks/jit_cache.py                      (10 C-rates, 10 layers)
     .venv/bin/python benchmarks/jit_cache.py --c-rates 1 2 3 --layers-nm 10 30
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def compiled_modules(cache_dir: Path) -> set[str]:
    """Names of the compiled FFCx modules (forms, expressions, elements) in a JIT cache."""
    return {p.name.split(".")[0] for p in cache_dir.rglob("libffcx_*")}


def members(case: str, c_rates, layers_nm, also) -> list[tuple[str, list[str]]]:
    """(case file, --set overrides) of every sweep member, each structure's first first."""
    out = [(case, [f"protocol.c_rate={c}"]) for c in c_rates]
    out += [(case, [f"geometry.layer_thickness={d} nm"]) for d in layers_nm]
    for other in also:
        out += [(other, [f"protocol.c_rate={c}"]) for c in c_rates]
    return out


def short_run(case: str, end_time_min: float) -> list[str]:
    """Overrides that make a member short: the end time, one or two outputs, no fields."""
    import yaml

    output = yaml.safe_load((ROOT / case).read_text()).get("output", {})
    few = ("output.times.values=[60]" if "times" in output else "output.count=2")
    return [f"protocol.end_time={end_time_min} min", few, "output.fields=false"]


def run_member(case: str, overrides: list[str], out: Path, env: dict, end_time_min: float) -> None:
    short = short_run(case, end_time_min)
    cmd = [sys.executable, "-m", "lrmo", "run", case, "--out", str(out), "--quiet", "--overwrite"]
    for text in overrides + short:
        cmd += ["--set", text]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}")


def sweep(case: str, c_rates, layers_nm, also, work: Path, end_time_min: float = 5.0) -> dict:
    """Run the members against a fresh JIT cache under `work`; module counts per member."""
    env = {**os.environ, "XDG_CACHE_HOME": str(work / "cache")}
    env.setdefault("LRMO_MESH_CACHE", "off")
    jit_dir = work / "cache" / "fenics"
    rows, seen, first = [], set(), {}
    for i, (path, overrides) in enumerate(members(case, c_rates, layers_nm, also)):
        run_member(path, overrides, work / f"member{i}", env, end_time_min)
        now = compiled_modules(jit_dir)
        rows.append({"case": path, "set": overrides, "modules": len(now),
                     "new": len(now - seen), "first_of_case": path not in first})
        first.setdefault(path, i)
        seen = now
        print(f"{path} {' '.join(overrides):38s} modules {len(now):3d}  new {rows[-1]['new']}",
              flush=True)
    after_first = {path: sum(r["new"] for r in rows if r["case"] == path and not r["first_of_case"])
                   for path in first}
    return {"members": rows, "after_first": after_first}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--case", default="cases/ru1_stress.yaml")
    parser.add_argument("--also", nargs="*", default=["cases/verify_galvanostatic_radial.yaml"])
    parser.add_argument("--c-rates", nargs="+", type=float,
                        default=[0.5, 1, 1.5, 2, 2.5, 3, 4, 5, 7, 10])
    parser.add_argument("--layers-nm", nargs="+", type=float,
                        default=[5, 10, 15, 20, 25, 30, 35, 40, 50, 60])
    parser.add_argument("--end-time-min", type=float, default=5.0)
    parser.add_argument("--json", type=Path, help="write the counts here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="lrmo-jit-") as work:
        result = sweep(args.case, args.c_rates, args.layers_nm, args.also, Path(work),
                       args.end_time_min)
    for path, new in result["after_first"].items():
        print(f"{path}: {new} new modules after its first member")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The one engine: every case through one life cycle and one time loop, O2 a submodel
stepped with Li, and a new submodel added in one place."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import yaml
from conftest import CASES, run_lrmo
from mpi4py import MPI

from solver.case.schema import load_case, validate_case

FAST = ["output.fields=false"]


def _li_and_o2_data() -> dict:
    data = yaml.safe_load((CASES / "verify_galvanostatic_radial.yaml").read_text())
    oxygen = yaml.safe_load((CASES / "pristine_o2.yaml").read_text())["oxygen"]
    oxygen.update(end_time="10 min", source={"rate": "1 mol/m^3/s", "start_at_mean_site_fraction": 0.95})
    data.update(physics=["lithium", "mechanics", "oxygen"], oxygen=oxygen)
    return data


def test_li_only_o2_only_and_li_with_o2_go_through_the_one_run_sequence(tmp_path, monkeypatch):
    """The same life cycle function and the same loop object for each kind of case."""
    from solver.simulation import lifecycle, run
    from solver.simulation.engine import Engine

    seen = []
    real = lifecycle.run_sequence

    def spy(case, out_dir, comm, log, plan, *args, **kwargs):
        built = plan.build
        plan.build = lambda domain: seen.append(built(domain)) or seen[-1]
        return real(case, out_dir, comm, log, plan, *args, **kwargs)

    monkeypatch.setattr(run, "run_sequence", spy)
    cases = {"li": load_case(CASES / "verify_galvanostatic_radial.yaml"),
             "o2": load_case(CASES / "verify_o2_sink_radial.yaml", FAST),
             "li_o2": validate_case(_li_and_o2_data())}
    for name, case in cases.items():
        assert run.run_case(case, tmp_path / name, MPI.COMM_SELF)["status"] == "completed"
    assert len(seen) == 3 and all(isinstance(sim, Engine) for sim in seen)
    assert [sim.lithium is not None for sim in seen] == [True, False, True]
    assert [[m.name for m in sim.submodels] for sim in seen] == [[], ["oxygen"], ["oxygen"]]


def test_o2_advances_with_each_accepted_li_step_and_its_ledger_closes(tmp_path):
    from solver.simulation.run import run_case

    summary = run_case(validate_case(_li_and_o2_data()), tmp_path / "both", MPI.COMM_SELF)
    assert summary["status"] == "completed"
    o = summary["oxygen"]
    assert o["steps"] == summary["lithium"]["steps"]  # one step-size control
    assert o["generated_mol"] > 0 and summary["oxygen_activation_reached"]
    assert abs(o["ledger_closure_error_relative"]) < 1e-11
    header = (tmp_path / "both" / "timeseries.csv").read_text().splitlines()[0].split(",")
    assert {"theta_mean", "sigma_vm_max_Pa", "mobile_mol", "retained_fraction"} <= set(header)
    assert not (tmp_path / "both" / "oxygen").exists()


def test_o2_alone_steps_on_the_fixed_schedule(tmp_path):
    """Each output interval cut into equal steps no longer than oxygen.time_step."""
    from solver.simulation.run import run_case

    case = load_case(CASES / "verify_o2_sink_radial.yaml", FAST)
    summary = run_case(case, tmp_path / "o2", MPI.COMM_SELF)
    end, step = case.oxygen.end_time.si, case.oxygen.time_step.si
    times = sorted({0.0, *[t for t in case.output_times_s() if t <= end], end})
    expected = sum(max(1, math.ceil((b - a) / step - 1e-9)) for a, b in zip(times, times[1:]))
    assert summary["oxygen"]["steps"] == expected


def test_o2_ledger_closes_in_the_coupled_loop_on_two_ranks(tmp_path):
    case = tmp_path / "both.yaml"
    case.write_text(yaml.safe_dump(_li_and_o2_data()))
    summaries = []
    for n in (1, 2):
        proc = run_lrmo(["run", str(case), "--out", str(tmp_path / f"n{n}"), "--quiet"], n_ranks=n)
        assert proc.returncode == 0, proc.stderr
        summaries.append(json.loads((tmp_path / f"n{n}" / "summary.json").read_text()))
    for s in summaries:
        assert abs(s["oxygen"]["ledger_closure_error_relative"]) < 1e-11
    for key in ("mobile_mol", "escaped_mol", "generated_mol", "retained_fraction"):
        assert summaries[1]["oxygen"][key] == pytest.approx(summaries[0]["oxygen"][key], rel=1e-8)


def test_a_new_submodel_is_one_class_stepped_by_the_loop(tmp_path):
    """The example tracer du/dt = k (theta - u) runs in the loop beside Li: it takes every
    accepted step, follows the falling theta from above (a lag, never past it), and its
    columns and results appear with Li's."""
    from solver.simulation.chemomechanics import ChemoMechanics
    from solver.simulation.domain_setup import build_domain
    from solver.simulation.engine import Engine
    from solver.simulation.tracer import RelaxingTracer

    case = load_case(CASES / "verify_galvanostatic_radial.yaml")
    domain = build_domain(case, MPI.COMM_SELF)
    li = ChemoMechanics(case, domain)
    tracer = RelaxingTracer(li.lithium.theta, rate_1_s=0.01, end_time_s=600.0, time_step_s=10.0)
    engine = Engine(case, domain, li, [tracer])
    rows = []
    results = engine.run(lambda t, s: rows.append(s.scalars(t)), project_fields=False)
    assert results["tracer"]["steps"] == li.stats.steps
    theta, u = li.lithium.theta.x.array, tracer.u.x.array
    assert np.all(u >= theta - 1e-12) and np.all(u <= 1.0 + 1e-12)  # it follows theta down, lagging
    assert "u_tracer_max" in rows[-1] and "theta_mean" in rows[-1]


@pytest.mark.parametrize("o2_end_min", [5, 15])
def test_o2_stops_at_its_own_end_or_goes_on_alone_after_the_protocol(tmp_path, o2_end_min):
    """O2 ending before the protocol takes a shorter last step onto its end; O2 ending
    after it goes on with the fixed schedule from the protocol's end (the Li state held)."""
    from solver.simulation.run import run_case

    data = _li_and_o2_data()
    data["oxygen"]["end_time"] = f"{o2_end_min} min"
    data["output"]["times"] = {"values": sorted({60, 300, 600, 60 * o2_end_min}), "unit": "s"}
    summary = run_case(validate_case(data), tmp_path / "run", MPI.COMM_SELF)
    assert summary["status"] == "completed"
    o, li_steps = summary["oxygen"], summary["lithium"]["steps"]
    assert abs(o["ledger_closure_error_relative"]) < 1e-11
    if o2_end_min < 10:
        assert 0 < o["steps"] < li_steps
    else:
        assert o["steps"] == li_steps + 30  # (900 s - 600 s) / oxygen.time_step 10 s
    rows = (tmp_path / "run" / "timeseries.csv").read_text().splitlines()
    assert float(rows[-1].split(",")[0]) == 60 * max(o2_end_min, 10)

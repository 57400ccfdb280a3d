"""`lrmo reproduce --np N` (`make reproduce`, NP): the 3D cases run under `mpirun -n N`,
never more ranks than cores, and the report states the wall time and the ranks."""
import os

from lrmo.cli import _parser
from solver.studies import ranks


def test_ranks_are_capped_at_the_cores_and_one_needs_no_mpirun(monkeypatch):
    monkeypatch.setattr(ranks.shutil, "which", lambda name: "/usr/bin/mpirun")
    monkeypatch.setattr(ranks.os, "sched_getaffinity", lambda pid: {0, 1})
    assert ranks.usable_ranks(1) == 1
    assert ranks.usable_ranks(2) == 2
    assert ranks.usable_ranks(8) == 2
    monkeypatch.setattr(ranks.shutil, "which", lambda name: None)
    assert ranks.usable_ranks(2) == 1


def test_make_reproduce_passes_np_to_lrmo_reproduce():
    makefile = (ranks.Path(__file__).resolve().parents[1] / "Makefile").read_text()
    assert "lrmo reproduce --out results --np $(NP)" in makefile
    assert _parser().parse_args(["reproduce", "--np", "2"]).np == 2
    assert _parser().parse_args(["reproduce"]).np == 1


def test_the_report_states_the_wall_time_and_the_ranks():
    from solver.studies.reproduce import render_report

    summary = {"stress": {"peak_von_mises_Pa": 5.6e8, "peak_location": "surface", "peak_radius_m": 1.5e-7,
                          "peak_depth_m": 0.0, "peak_time_s": 3000.0}, "versions": {"lrmo": "0"}}
    report = render_report({"pristine": summary, "ru1": summary}, {}, [], {}, {}, 754.4, [], None, 2)
    assert "in 754 s of wall time (12.6 min; the 3D cases on 2 MPI ranks" in report
    assert f"{os.cpu_count()} cores" in report

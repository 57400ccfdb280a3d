"""The shipped phase-field octants (issue 20) and their part of `make reproduce`: the Ru-1
case validates and differs from the pristine one only by the Ru-1 particle (the layer, its
materials and mesh, as cases/ru1_stress_octant.yaml), so that the two compare; the report's
fracture table reads a completed run and lists a missing or failed one without numbers,
and a fracture run that raises does not stop the others."""
import csv
import json

import pytest
from mpi4py import MPI

from conftest import CASES, run_lrmo
from solver.case.schema import load_case
from solver.studies import reproduce

PRISTINE, RU1 = "pristine_fracture_octant", "ru1_fracture_octant"


def test_the_ru1_fracture_case_validates():
    proc = run_lrmo(["validate", str(CASES / f"{RU1}.yaml")], timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"{RU1}.yaml: valid" in proc.stdout + proc.stderr


def test_the_two_fracture_cases_differ_only_by_the_particle():
    """The same fracture inputs, protocol, physics and outputs; the Ru-1 particle of its
    stress octant (geometry, materials, lithium)."""
    pristine, ru1 = (load_case(CASES / f"{n}.yaml").model_dump() for n in (PRISTINE, RU1))
    stress = load_case(CASES / "ru1_stress_octant.yaml").model_dump()
    for key in ("physics", "fracture", "protocol", "time_stepping", "output", "mechanics"):
        assert _values(ru1[key]) == _values(pristine[key]), key
    for key in ("geometry", "materials", "lithium"):
        assert _values(ru1[key]) == _values(stress[key]), key
    assert _values(ru1["mesh"]["radial_layers"]["depth"]) == _values(stress["mesh"]["radial_layers"]["depth"])
    assert ru1["geometry"]["layer_thickness"]["value"] > 0 == pristine["geometry"]["layer_thickness"]["value"]


def _values(tree):
    """`tree` without the free-text `source` labels (they say why, not what)."""
    if isinstance(tree, dict):
        return {k: _values(v) for k, v in tree.items() if k != "source"}
    if isinstance(tree, list):
        return [_values(v) for v in tree]
    return tree


def _completed(tmp_path, name, onset_s, radius_m, depth_m):
    """A completed run's summary and a timeseries.csv whose largest von Mises rises
    linearly, sigma = 1e6 t (Pa, t in s)."""
    folder = tmp_path / name
    folder.mkdir()
    with (folder / "timeseries.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["t_s", "sigma_vm_max_Pa"])
        for t in (0.0, 120.0, 240.0, 360.0, 480.0):
            w.writerow([t, 1e6 * t])
    return {"status": "completed", "mesh": {"inputs": {"radius_m": radius_m + depth_m}},
            "fracture": {"damage_max": 0.05, "damaged_volume_fraction": 0.0, "fracture_energy_J": 1e-16,
                         "fracture_elastic_energy_J": 4e-15, "critical_stress_Pa": 7.5e8,
                         "length_scale_m": 3.5e-8, "toughness_J_m2": 0.35,
                         "onset": {"time_s": onset_s, "radius_m": radius_m, "location": "inside layer"}}}


def test_the_fracture_table_reads_a_run_and_lists_a_missing_one(tmp_path):
    ru1 = _completed(tmp_path, RU1, onset_s=300.0, radius_m=146e-9, depth_m=4e-9)
    lines = reproduce.fracture_section({"ru1": ru1}, tmp_path)
    text = "\n".join(lines)
    assert "inputs ASSUMED" in text and "phase field" in text.lower()
    pristine_row = next(line for line in lines if line.startswith("| pristine |"))
    assert "not run" in pristine_row and "MPa" not in pristine_row
    ru1_row = next(line for line in lines if line.startswith("| Ru-1 |"))
    assert "300 s" in ru1_row and "inside layer, r = 146.0 nm (4.0 nm deep)" in ru1_row
    assert "| 300 MPa |" in ru1_row  # sigma = 1e6 t between the 240 and 360 s rows
    assert f"{RU1}/fields/fields.xdmf" in text and "`damage`" in text


def test_a_failed_or_unfinished_fracture_run_has_no_numbers(tmp_path):
    no_onset = _completed(tmp_path, PRISTINE, onset_s=0.0, radius_m=150e-9, depth_m=0.0)
    no_onset["fracture"]["onset"] = None
    lines = reproduce.fracture_section({"pristine": no_onset, "ru1": {"status": "failed: exit 1"}}, tmp_path)
    rows = {line.split("|")[1].strip(): line for line in lines if line.startswith("| ")}
    assert "failed: exit 1" in rows["Ru-1"] and "MPa" not in rows["Ru-1"]
    assert "| none |" in rows["pristine"]
    with_onset = dict(no_onset, fracture=dict(no_onset["fracture"], onset={
        "time_s": 100.0, "radius_m": 150e-9, "location": "surface"}))
    (tmp_path / PRISTINE / "timeseries.csv").unlink()  # a run folder without its timeseries
    lines = reproduce.fracture_section({"pristine": with_onset}, tmp_path)
    assert any("100 s" in line and "(no timeseries)" in line for line in lines)


def test_a_fracture_run_that_raises_does_not_stop_the_other(monkeypatch, tmp_path):
    ran = []

    def run_case_file(path, out, comm, log, ranks):
        ran.append(path.stem)
        if path.stem == PRISTINE:
            raise RuntimeError("Gmsh failed")
        return {"status": "completed"}

    monkeypatch.setattr(reproduce, "run_case_file", run_case_file)

    class Log:
        def info(self, message):
            pass

    summaries = reproduce.run_fracture_octants(tmp_path, MPI.COMM_SELF, Log(), 2)  # one rank: the error is every rank's
    assert ran == [PRISTINE, RU1]
    assert summaries["pristine"]["status"].startswith("failed: RuntimeError: Gmsh failed")
    assert summaries["ru1"]["status"] == "completed"
    json.dumps(summaries)  # the statuses are plain data

"""The output contract of `lrmo run`, exit codes, and results independent of the number
of MPI ranks."""
import json

import numpy as np
import pytest

from conftest import CASES, run_lrmo

DEMO = str(CASES / "demo.yaml")
OCTANT = str(CASES / "verify_galvanostatic_octant.yaml")
SMALL_OCTANT = [
    "--set", "mesh.surface=10 nm", "--set", "mesh.bulk=30 nm",
    "--set", "protocol.end_time=2 min", "--set", "output.times={values: [60, 120]}",
]


def summary_of(folder):
    return json.loads((folder / "summary.json").read_text())


def test_run_writes_the_output_contract(tmp_path):
    out = tmp_path / "demo"
    proc = run_lrmo(["run", DEMO, "--out", str(out)])
    assert proc.returncode == 0, proc.stderr
    for name in ("case.yaml", "summary.json", "timeseries.csv", "profiles.csv", "fields/fields.xdmf",
                 "mesh/mesh.xdmf", "mesh/mesh.h5", "mesh/info.json"):
        assert (out / name).exists(), name
    assert not (out / "fields.partial").exists()
    assert not list(out.glob(".*.tmp-*"))
    summary = summary_of(out)
    assert summary["status"] == "completed"
    assert summary["n_ranks"] == 1 and summary["dofs"]["lithium"] > 0
    assert {"dolfinx", "petsc", "mpi", "gmsh", "lrmo"} <= set(summary["versions"])
    for key in ("peak_von_mises_Pa", "peak_time_s", "peak_radius_m", "peak_region"):
        assert key in summary["stress"]
    profiles = np.genfromtxt(out / "profiles.csv", delimiter=",", names=True)
    assert profiles.dtype.names[:2] == ("t_s", "r_m")
    first = profiles[profiles["t_s"] == 0]
    assert len(first) == 101 and first["r_m"][0] == 0
    assert first["r_m"][-1] == pytest.approx(150e-9)
    series = np.genfromtxt(out / "timeseries.csv", delimiter=",", names=True)
    assert series.dtype.names[0] == "t_s" and len(series) == 11


def test_bad_input_exits_2_without_traceback(tmp_path):
    proc = run_lrmo(["run", DEMO, "--out", str(tmp_path / "x"), "--set", "geometry.radius=-3 nm"])
    assert proc.returncode == 2
    assert "geometry.radius" in proc.stderr and "Traceback" not in proc.stderr


def test_solver_failure_exits_3_and_says_failed(tmp_path):
    out = tmp_path / "fail"
    proc = run_lrmo(["run", OCTANT, "--out", str(out), *SMALL_OCTANT,
                     "--set", "solvers.petsc_options={ksp_max_it: 1}", "--set", "output.fields=true"])
    assert proc.returncode == 3, proc.stderr
    summary = summary_of(out)
    assert summary["status"] == "failed"
    assert "lithium" in summary["message"] and "in step 1 from t = 0 s" in summary["message"]
    assert (out / "fields" / "fields.xdmf").exists()  # the last good fields are kept


def assert_same_profiles_at_peak(serial, parallel):
    """profiles_at_peak.csv: the same rows in the same order on 1 and 2 ranks (each
    column to 1e-6 of its largest magnitude)."""
    a, b = (np.genfromtxt(f / "profiles_at_peak.csv", delimiter=",", names=True) for f in (serial, parallel))
    assert a.dtype.names == b.dtype.names and len(a) == len(b) > 0
    for name in a.dtype.names:
        assert np.allclose(a[name], b[name], rtol=0, atol=1e-6 * np.abs(a[name]).max()), name


def test_rank_count_does_not_change_the_peak_stress_1d(tmp_path):
    peaks = []
    for n in (1, 2):
        out = tmp_path / f"n{n}"
        proc = run_lrmo(["run", DEMO, "--out", str(out), "--quiet"], n_ranks=n)
        assert proc.returncode == 0, proc.stderr
        summary = summary_of(out)
        assert summary["n_ranks"] == n
        peaks.append(summary["stress"]["peak_von_mises_Pa"])
    assert peaks[1] == pytest.approx(peaks[0], rel=1e-6)
    assert_same_profiles_at_peak(tmp_path / "n1", tmp_path / "n2")


def test_rank_count_does_not_change_the_peak_stress_3d(tmp_path):
    results = []
    for n in (1, 2):
        out = tmp_path / f"n{n}"
        proc = run_lrmo(["run", OCTANT, "--out", str(out), "--quiet", *SMALL_OCTANT], n_ranks=n)
        assert proc.returncode == 0, proc.stderr
        results.append(summary_of(out)["stress"])
    assert results[1]["peak_von_mises_Pa"] == pytest.approx(results[0]["peak_von_mises_Pa"], rel=1e-6)
    assert results[1]["peak_radius_m"] == pytest.approx(results[0]["peak_radius_m"], rel=1e-9)
    assert results[1]["peak_region"] == results[0]["peak_region"]
    assert_same_profiles_at_peak(tmp_path / "n1", tmp_path / "n2")


def test_only_rank_0_prints(tmp_path):
    proc = run_lrmo(["run", DEMO, "--out", str(tmp_path / "p")], n_ranks=2)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("peak von Mises") == 1


def test_mesh_command_writes_mesh_and_info(tmp_path):
    proc = run_lrmo(["mesh", OCTANT, "--out", str(tmp_path / "m"), "--set", "mesh.surface=10 nm",
                     "--set", "mesh.bulk=30 nm"])
    assert proc.returncode == 0, proc.stderr
    info = json.loads((tmp_path / "m" / "info.json").read_text())
    assert info["num_cells"] > 0 and info["min_quality_minSICN"] > 0


def test_layer_thinner_than_the_elements_is_refused_with_exit_2(tmp_path):
    proc = run_lrmo(["mesh", OCTANT, "--out", str(tmp_path / "m"), "--set", "geometry.layer_thickness=2 nm"])
    assert proc.returncode == 2
    assert "layer" in proc.stderr and "Traceback" not in proc.stderr

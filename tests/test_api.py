"""`import lrmo`: cases validated on assignment, runs that give back what `lrmo run` writes,
sweeps, results the same on every rank, and the example script (docs/api.md)."""
import json
import subprocess
import sys

import numpy as np
import pytest

import lrmo
from conftest import CASES, ROOT, mpi_env, run_lrmo

RADIAL = CASES / "verify_galvanostatic_radial.yaml"   # homogeneous sphere, 10 min at 1C, closed form
PRISTINE = CASES / "pristine_stress.yaml"


def closed_form_peak_Pa(case, peak_time_s: float) -> float:
    """von Mises at the surface of a homogeneous sphere under constant extraction."""
    from solver.physics import analytic
    from solver.simulation.drive import galvanostatic_flux_of_case

    core, R = case.materials.core, case.geometry.radius.si
    return float(analytic.galvanostatic_sphere(
        [R], peak_time_s, galvanostatic_flux_of_case(case), radius=R,
        diffusivity=core.lithium_diffusivity.si, omega=core.partial_molar_volume.si,
        E=core.youngs_modulus.si, nu=core.poisson_ratio.si)["sigma_vm_Pa"][0])


# -- cases -------------------------------------------------------------------------------
def test_assignment_is_validated_and_a_refusal_names_the_key_and_the_range():
    case = lrmo.load_case(PRISTINE)
    with pytest.raises(lrmo.CaseError, match=r"^protocol\.c_rate: must be > 0; got 0"):
        case.protocol.c_rate = 0
    with pytest.raises(lrmo.CaseError, match=r"^materials\.core\.poisson_ratio: must be >= 0 and < 0\.5"):
        case.materials.core.poisson_ratio = 0.7
    with pytest.raises(lrmo.CaseError, match=r"geometry\.radius: 200 has no unit: add one, e\.g\. '200 nm'"):
        case.geometry.radius = 200
    assert case.protocol.c_rate.si == 1.0 and case.geometry.radius.si == pytest.approx(150e-9)
    case.geometry.radius = "200 nm"
    assert case.geometry.radius.si == pytest.approx(200e-9)


def test_a_refused_section_check_leaves_the_old_value():
    case = lrmo.load_case(PRISTINE)
    before = case.lithium.min_site_fraction.si
    with pytest.raises(lrmo.CaseError, match="min_site_fraction must be < lithium.initial_site_fraction"):
        case.lithium.min_site_fraction = 1.0
    assert case.lithium.min_site_fraction.si == before


@pytest.mark.parametrize("written, number_of_C", [
    (2, 2.0), ("2C", 2.0), ("2 C", 2.0), ("C/3", 1 / 3), ("0.5C", 0.5), ("C", 1.0),
    ({"value": 2, "unit": "C", "source": "test"}, 2.0)])
def test_c_rate_forms_are_numbers_of_C(written, number_of_C):
    case = lrmo.load_case(PRISTINE)
    case.protocol.c_rate = written
    assert case.protocol.c_rate.si == number_of_C
    flux = lrmo.load_case(PRISTINE, ["protocol.c_rate=1"])
    from solver.simulation.drive import galvanostatic_flux_of_case

    assert galvanostatic_flux_of_case(case) == pytest.approx(
        number_of_C * galvanostatic_flux_of_case(flux), rel=1e-15)


@pytest.mark.parametrize("written", ["3 A", "2 mA/g", "2 coulomb", "C/0", True, -1])
def test_c_rate_that_is_not_a_number_of_C_is_refused(written):
    case = lrmo.load_case(PRISTINE)
    with pytest.raises(lrmo.CaseError, match=r"^protocol\.c_rate: "):
        case.protocol.c_rate = written


def test_with_changes_returns_a_validated_copy():
    case = lrmo.load_case(PRISTINE)
    changed = case.with_changes({"geometry.radius": "200 nm", "protocol.c_rate": "C/2"}, name="r200")
    assert (changed.name, changed.geometry.radius.si, changed.protocol.c_rate.si) == ("r200", pytest.approx(2e-7), 0.5)
    assert (case.name, case.geometry.radius.si, case.protocol.c_rate.si) == ("pristine_stress", pytest.approx(1.5e-7), 1.0)
    assert case.with_changes(["geometry.radius=200 nm"]).geometry.radius.si == pytest.approx(2e-7)
    with pytest.raises(lrmo.CaseError, match=r"geometry\.radius: .*add one"):
        case.with_changes({"geometry.radius": 200})
    assert isinstance(changed, lrmo.Case)


def test_from_dict_round_trip_and_the_file_agree():
    case = lrmo.load_case(PRISTINE)
    again = lrmo.Case.from_dict(case.to_dict())
    assert again == case
    assert lrmo.Case.from_yaml(case.to_yaml()) == case
    assert again.get("protocol.c_rate").si == 1.0


def test_run_revalidates_the_whole_case_before_running():
    """An assignment passes its own section's checks; run() applies the checks across
    sections (output times past the end time) before anything runs."""
    case = lrmo.load_case(RADIAL)
    case.output.times = {"values": [60, 6000], "unit": "s"}
    with pytest.raises(lrmo.CaseError, match="output.times.values must not exceed protocol.end_time"):
        lrmo.run(case)


# -- runs ----------------------------------------------------------------------------------
def test_run_in_memory_equals_the_cli_run_and_the_closed_form(tmp_path):
    """The same case through `lrmo run` (a subprocess, files) and lrmo.run (in memory):
    the same summary results, the same tables; and the peak against the closed form."""
    cli_out = tmp_path / "cli"
    proc = run_lrmo(["run", str(RADIAL), "--out", str(cli_out), "--quiet", "--set", "protocol.c_rate=2C"])
    assert proc.returncode == 0, proc.stderr
    cli = json.loads((cli_out / "summary.json").read_text())

    tempdirs = tmp_path / "tmp"
    tempdirs.mkdir()
    import tempfile

    old, tempfile.tempdir = tempfile.tempdir, str(tempdirs)
    try:
        case = lrmo.load_case(RADIAL)
        case.protocol.c_rate = 2
        result = lrmo.run(case)
    finally:
        tempfile.tempdir = old
    assert list(tempdirs.iterdir()) == []  # the temporary folder is gone
    assert result.out is None and result.status == "completed"
    assert result.peak_von_mises_Pa == pytest.approx(cli["stress"]["peak_von_mises_Pa"], rel=1e-12)
    assert result.peak_time_s == pytest.approx(cli["stress"]["peak_time_s"], rel=1e-12)
    without_wall = [{k: v for k, v in s["lithium"].items() if k != "wall_s"} for s in (result.summary, cli)]
    assert without_wall[0] == without_wall[1]

    table = np.genfromtxt(cli_out / "timeseries.csv", delimiter=",", names=True)
    for name in table.dtype.names:
        np.testing.assert_allclose(result.timeseries[name], table[name], rtol=1e-9, atol=0)
    profiles = np.genfromtxt(cli_out / "profiles.csv", delimiter=",", names=True)
    np.testing.assert_allclose(result.profiles["sigma_t_Pa"], profiles["sigma_t_Pa"], rtol=1e-9)
    assert list(result.profiles.times) == case.output_times_s() == [60.0, 300.0, 600.0]
    at_end = result.profiles.at(590)
    assert at_end["r_m"][-1] == pytest.approx(150e-9) and len(at_end["r_m"]) == case.output.profile_points

    exact = closed_form_peak_Pa(case, result.peak_time_s)
    assert abs(result.peak_von_mises_Pa / exact - 1) < 1e-3


def test_run_into_a_folder_writes_the_output_contract_and_refuses_another_commands(tmp_path):
    case = lrmo.load_case(RADIAL, ["output.times.values=[600]"])
    result = lrmo.run(case, out=tmp_path / "api")
    assert result.out == tmp_path / "api"
    for name in ("case.yaml", "summary.json", "timeseries.csv", "profiles.csv"):
        assert (tmp_path / "api" / name).is_file(), name
    assert result.case == case
    assert {"timeseries", "profiles"} <= set(result.tables)
    np.testing.assert_array_equal(result.tables["timeseries"]["t_s"], result.timeseries["t_s"])
    assert lrmo.run(case, out=tmp_path / "api").peak_von_mises_Pa == result.peak_von_mises_Pa  # its own: fine

    from solver.io.output import OutputError

    mesh = tmp_path / "mesh"
    assert run_lrmo(["mesh", str(RADIAL), "--out", str(mesh), "--quiet"]).returncode == 0
    with pytest.raises(OutputError, match="holds the results of `lrmo mesh`"):
        lrmo.run(case, out=mesh)
    assert lrmo.run(case, out=mesh, overwrite=True).status == "completed"


def test_sweep_over_c_rates_follows_the_closed_form_and_labels_the_members():
    """The galvanostatic sphere is linear in the current: each member against its own
    closed form (0.5C, 1C, 2C written three ways)."""
    case = lrmo.load_case(RADIAL, ["output.times.values=[600]"])
    results = lrmo.sweep(case, {"protocol.c_rate": ["C/2", 1, "2C"]})
    assert [r.label for r in results] == ["protocol.c_rate=C/2", "protocol.c_rate=1", "protocol.c_rate=2C"]
    assert [r.case.protocol.c_rate.si for r in results] == [0.5, 1.0, 2.0]
    for r in results:
        assert r.out is None
        assert abs(r.peak_von_mises_Pa / closed_form_peak_Pa(r.case, r.peak_time_s) - 1) < 1e-3
    assert results[2].peak_von_mises_Pa / results[0].peak_von_mises_Pa == pytest.approx(4, rel=2e-3)


def test_plots_show_the_runs(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    case = lrmo.load_case(RADIAL)
    result = lrmo.run(case)
    ax = lrmo.plot_peak_vs_time([result], labels=["1C"])
    x, y = ax.lines[0].get_data()
    np.testing.assert_allclose(y, result.timeseries["sigma_vm_max_Pa"] / 1e6)
    assert ax.lines[1].get_ydata()[0] == pytest.approx(result.peak_von_mises_Pa / 1e6)
    ax = result.plot("profiles", field="c_Li_mol_m3", times_s=[60, 600])
    assert len(ax.lines) == 2 and ax.get_ylabel() == "c_Li [mol/m^3]"
    ax.figure.savefig(tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 1000


@pytest.mark.mpi
def test_run_gives_the_same_result_on_every_rank_and_as_in_serial():
    # each rank's values gathered to rank 0, which prints them all (two ranks printing at
    # once can interleave their lines)
    script = ("import lrmo; from mpi4py import MPI\n"
              f"r = lrmo.run(lrmo.load_case({str(RADIAL)!r}))\n"
              "rows = MPI.COMM_WORLD.gather((MPI.COMM_WORLD.rank, repr(r.peak_von_mises_Pa), "
              "repr(float(r.timeseries['li_mol'][-1]))), root=0)\n"
              "if MPI.COMM_WORLD.rank == 0:\n"
              "    print('\\n'.join(' '.join(['PEAK', str(rank), *values]) for rank, *values in rows))\n")
    import shutil

    if shutil.which("mpirun") is None:
        pytest.skip("mpirun not found")
    proc = subprocess.run(["mpirun", "-n", "2", "--oversubscribe", sys.executable, "-c", script],
                          capture_output=True, text=True, cwd=ROOT, env=mpi_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr
    rows = sorted(line.split()[1:] for line in proc.stdout.splitlines() if line.startswith("PEAK"))
    assert [r[0] for r in rows] == ["0", "1"]
    assert rows[0][1:] == rows[1][1:]  # identical on both ranks
    serial = lrmo.run(lrmo.load_case(RADIAL))
    assert float(rows[0][1]) == pytest.approx(serial.peak_von_mises_Pa, rel=1e-6)
    assert float(rows[0][2]) == pytest.approx(serial.timeseries["li_mol"][-1], rel=1e-6)


# -- the example ---------------------------------------------------------------------------
def test_quickstart_example_runs_and_saves_its_figure(tmp_path):
    png = tmp_path / "quick.png"
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "api_quickstart.py"), "--png", str(png)],
                          capture_output=True, text=True, cwd=tmp_path, env=mpi_env(), timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if "peak von Mises" in line]
    assert len(lines) == 2 and "protocol.c_rate=1C: radius 200 nm" in lines[0]
    peaks = [float(line.split("peak von Mises ")[1].split()[0]) for line in lines]
    assert peaks[1] > peaks[0] > 0  # 2C stresses the particle more than 1C
    assert png.stat().st_size > 10000

"""`lrmo shock-map` (solver/studies/shock_map.py): its refusals (exit 2 naming the option
or key, nothing written), the phase field's case refusals through `lrmo run` and `lrmo
validate`, one end-to-end member against the closed-form sphere, and the paper particle's
band on made-up members whose critical rates are known in closed form. The map's physics
(K_I, Weibull, the interpolation) is tested in tests/test_fracture_criteria.py."""
from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from conftest import CASES, run_lrmo
from lrmo.cli import _parser, main

PRISTINE = str(CASES / "pristine_stress.yaml")
RU1 = str(CASES / "ru1_stress.yaml")
FRACTURE = str(CASES / "pristine_fracture_octant.yaml")  # l = 35 nm, mesh.surface = 5 nm


def _run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


# -- shock-map options and cases: exit 2 before anything is written -------------------------
@pytest.mark.parametrize("options, named", [
    (["--radii", "-50", "150"], "--radii"),
    (["--radii", "0"], "--radii"),
    (["--rates", "0"], "--rates"),
    (["--rates", "1", "-2"], "--rates"),
    (["--rates", "nan"], "--rates"),
    (["--toughness", "0"], "--toughness"),
    (["--toughness", "-0.3"], "--toughness"),
    (["--max-flaw", "0"], "--max-flaw"),
    (["--max-flaw", "0.6"], "--max-flaw"),
    (["--max-flaw", "-0.1"], "--max-flaw"),
])
def test_an_option_out_of_range_exits_2_naming_it(options, named, tmp_path, capsys):
    out = tmp_path / "map"
    code, _, err = _run(["shock-map", PRISTINE, "--out", str(out)] + options, capsys)
    assert code == 2
    assert err.startswith(f"lrmo: {named}:") and len(err.strip().splitlines()) == 1, err
    assert not out.exists()


@pytest.mark.parametrize("case, overrides, named", [
    (str(CASES / "pristine_stress_octant.yaml"), [], "geometry.shape"),
    (str(CASES / "cycle_lrmo_1d.yaml"), [], "protocol"),
    (PRISTINE, ["--set", "physics=[lithium]"], "physics"),
    (PRISTINE, ["--set", "materials.core.youngs_modulus=-1 GPa"], "materials.core.youngs_modulus"),
])
def test_a_case_the_map_cannot_vary_exits_2_naming_the_key(case, overrides, named, tmp_path, capsys):
    out = tmp_path / "map"
    code, _, err = _run(["shock-map", case, "--out", str(out)] + overrides, capsys)
    assert code == 2
    assert err.startswith("lrmo: invalid case") and f": {named}" in err, err
    assert not out.exists()


def test_the_same_sample_twice_exits_2(tmp_path, capsys):
    code, _, err = _run(["shock-map", PRISTINE, RU1, PRISTINE, "--out", str(tmp_path / "map")], capsys)
    assert code == 2 and "the same sample (pristine)" in err
    assert not (tmp_path / "map").exists()


def test_a_folder_holding_a_run_is_refused_with_exit_4(tmp_path, capsys):
    out = tmp_path / "a_run"
    out.mkdir()
    (out / "summary.json").write_text("{}")
    code, _, err = _run(["shock-map", PRISTINE, "--radii", "20", "--rates", "1", "--out", str(out)], capsys)
    assert code == 4 and "lrmo run" in err
    assert sorted(p.name for p in out.iterdir()) == ["summary.json"]


def test_a_folder_another_live_process_writes_is_refused_with_exit_4(tmp_path, capsys):
    import os

    from solver.io import folder_lock

    holder = folder_lock._holder("run", "theirs")  # a live process on this host: pytest's parent
    holder.update(pid=os.getppid(), process_start_ticks=folder_lock._process_start(os.getppid())[1])
    lock = tmp_path / folder_lock.LOCK_NAME
    lock.write_text(json.dumps(holder))
    code, _, err = _run(["shock-map", PRISTINE, "--radii", "20", "--rates", "1", "--overwrite",
                         "--out", str(tmp_path)], capsys)
    assert code == 4 and f"pid {holder['pid']}" in err
    assert json.loads(lock.read_text()) == holder and sorted(p.name for p in tmp_path.iterdir()) == [lock.name]


def test_the_module_entry_refuses_the_same_options():
    from solver.studies import shock_map

    with pytest.raises(shock_map.MapInputError, match="--max-flaw"):
        shock_map.main(["--out", "/nonexistent/never", "--max-flaw", "0.7"])


# -- the phase field's case keys: exit 2 through run and validate, one line -----------------
@pytest.mark.parametrize("override, named", [
    ("fracture.length_scale=7.5 nm", "fracture.length_scale"),  # l = 1.5 h < 2 h
    ("fracture.length_scale=15 nm", "fracture.length_scale"),  # 2 h < l = 3 h < 4 h: refused too
    ("fracture.toughness=0 J/m^2", "fracture.toughness"),
    ("fracture.toughness=-0.35 J/m^2", "fracture.toughness"),
    ("fracture.split=spectral", "fracture.split"),
    ("fracture.split=no_split", "fracture.split"),
])
@pytest.mark.parametrize("command", ["validate", "run"])
def test_a_bad_fracture_key_exits_2_with_one_line(command, override, named, tmp_path, capsys):
    out = tmp_path / "run"
    argv = [command, FRACTURE, "--set", override] + (["--out", str(out)] if command == "run" else [])
    code, stdout, err = _run(argv, capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"lrmo: invalid case {FRACTURE}: {named}:"), err
    if "split" in named:
        assert "'volumetric_deviatoric'" in lines[0]  # the allowed value
    assert not out.exists() and stdout == ""


def test_the_split_defaults_to_the_only_one_implemented():
    from solver.case.schema import load_case

    assert load_case(FRACTURE).fracture.split == "volumetric_deviatoric"
    assert load_case(FRACTURE, ["fracture.split=volumetric_deviatoric"]).fracture.split == "volumetric_deviatoric"


# -- one member end to end -----------------------------------------------------------------
def test_one_member_writes_the_map_and_meets_the_steady_sphere(tmp_path, capsys):
    """A 20 nm pristine particle at 2C (R^2/D = 280 s against a 30 min charge): its
    largest hoop stress is the steady parabolic sphere's surface stress (1/5) K j R / D
    (closed form), and its files agree with each other."""
    from solver.case.schema import load_case
    from solver.physics import analytic
    from solver.physics.protocol import galvanostatic_flux_mol_m2_s

    out = tmp_path / "map"
    code, stdout, err = _run(["shock-map", PRISTINE, "--radii", "20", "--rates", "2", "--toughness", "0.5",
                              "--out", str(out)], capsys)
    assert code == 0, err
    assert {p.name for p in out.iterdir()} >= {"shock_map.csv", "critical_rates.csv", "shock_map.png",
                                               "shock_map.txt", "shock_map.json", "provenance.json"}
    assert not [p.name for p in out.iterdir() if "tmp" in p.name]
    rows = list(csv.DictReader((out / "shock_map.csv").open()))
    assert len(rows) == 1 and rows[0]["sample"] == "pristine" and rows[0]["status"] == "completed"
    row = rows[0]
    case = load_case(PRISTINE)
    core = case.materials.core
    radius = 20e-9
    flux = galvanostatic_flux_mol_m2_s(2.0, case.protocol.current_1C.si, core.density.si, radius)
    steady = analytic.steady_surface_hoop_stress(flux, radius, core.lithium_diffusivity.si,
                                                 core.partial_molar_volume.si, core.youngs_modulus.si,
                                                 core.poisson_ratio.si)
    assert float(row["hoop_max_MPa"]) * 1e6 == pytest.approx(steady, rel=2e-3)
    k = float(row["max_K_I_MPa_sqrt_m"])
    assert float(row["K_I_over_K_Ic"]) == pytest.approx(k / 0.5, rel=1e-9)
    assert row["crack_K"] == ("yes" if k >= 0.5 else "no") and row["crack_phase_field"] == ""
    assert float(row["sigma_eff_m10_MPa"]) < float(row["hoop_max_MPa"])  # tension only near the surface
    assert row["crack_Weibull"] == ("yes" if float(row["P_f_m10"]) >= 0.5 else "no")
    rates = list(csv.DictReader((out / "critical_rates.csv").open()))
    given = [r for r in rates if r["criterion"] == "K" and r["inputs"] == "given"]
    assert len(given) == 1 and float(given[0]["K_Ic_MPa_sqrt_m"]) == 0.5
    assert given[0]["bound"] == ("at_or_below_lowest_rate" if k >= 0.5 else "above_grid")
    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["crack_inputs"]["fracture_toughness_Pa_sqrt_m"] == 0.5e6
    assert provenance["cases"]["pristine"]["path"] == PRISTINE and len(provenance["cases"]["pristine"]["sha256"]) == 64
    assert "dolfinx" in provenance["versions"]
    assert "not in the map's radii" in (out / "shock_map.txt").read_text()
    assert (out / ".lrmo-command").read_text().strip() == "shock-map"


def test_a_failed_member_is_kept_with_its_status_and_the_command_exits_3(tmp_path, capsys):
    out = tmp_path / "map"
    code, _, err = _run(["shock-map", PRISTINE, "--radii", "20", "--rates", "1", "--quiet", "--out", str(out),
                         "--set", "time_stepping.max_steps=3"], capsys)
    assert code == 3 and "shock-map member pristine R = 20 nm at 1C failed: time_stepping.max_steps" in err
    rows = list(csv.DictReader((out / "shock_map.csv").open()))
    assert [(r["status"], r["crack_K"]) for r in rows] == [("failed", "")] and "max_steps" in rows[0]["message"]
    assert list(csv.DictReader((out / "critical_rates.csv").open())) == []  # no rate from a failed run
    assert (out / "shock_map.png").is_file() and (out / "provenance.json").is_file()


def test_the_command_defaults_are_the_map_defaults():
    from solver.studies import shock_map

    args = _parser().parse_args(["shock-map", PRISTINE])
    assert args.radii == list(shock_map.RADII_NM) and args.rates == list(shock_map.C_RATES)
    assert args.out == "results/shock_map" and args.toughness is None and args.max_flaw is None


@pytest.mark.slow
def test_two_ranks_give_the_serial_map(tmp_path):
    """The members shared over 2 ranks: the same rows as on one (each member runs on one rank)."""
    tables = []
    for ranks in (1, 2):
        out = tmp_path / f"np{ranks}"
        proc = run_lrmo(["shock-map", PRISTINE, RU1, "--radii", "20", "30", "--rates", "2", "--quiet",
                         "--out", str(out)], n_ranks=ranks)
        assert proc.returncode == 0, proc.stderr
        tables.append([row for row in csv.DictReader((out / "shock_map.csv").open())])
    assert len(tables[0]) == 4
    for serial, parallel in zip(*tables):
        assert serial["sample"] == parallel["sample"] and serial["radius_nm"] == parallel["radius_nm"]
        assert float(parallel["max_K_I_MPa_sqrt_m"]) == pytest.approx(float(serial["max_K_I_MPa_sqrt_m"]), rel=1e-9)
        assert float(parallel["sigma_eff_m10_MPa"]) == pytest.approx(float(serial["sigma_eff_m10_MPa"]), rel=1e-9)


@pytest.mark.slow
def test_a_case_with_the_phase_field_fills_its_crack_column(tmp_path, capsys):
    """A 100 nm pristine particle with the AT1 phase field (sigma_c = 750 MPa) at 1C and 5C:
    the phase field cracks where the largest surface hoop stress passes the equibiaxial
    onset sigma_c / sqrt(2 (1 - nu)) = 634 MPa (docs/fracture.md) and not below."""
    out = tmp_path / "map"
    code, _, err = _run(["shock-map", PRISTINE, "--radii", "100", "--rates", "1", "5", "--quiet", "--out", str(out),
                         "--set", "physics=[lithium, mechanics, fracture]",
                         "--set", "fracture={toughness: 0.349 J/m^2, strength: 750 MPa, every_steps: 1}"], capsys)
    assert code == 0, err
    onset_MPa = 750 / math.sqrt(2 * (1 - 0.3))
    rows = list(csv.DictReader((out / "shock_map.csv").open()))
    assert [r["c_rate"] for r in rows] == ["1", "5"]
    for row in rows:
        hoop = float(row["hoop_max_MPa"])
        assert not 0.8 < hoop / onset_MPa < 1.2  # clear of the onset either way
        assert row["crack_phase_field"] == ("yes" if hoop > onset_MPa else "no")
    assert [r["crack_phase_field"] for r in rows] == ["no", "yes"]


# -- the paper particle's band ---------------------------------------------------------------
def _made_up_member(sample, radius_nm, c_rate, k0, s0):
    """A member whose K_I envelope is k0 C sqrt(a / R) and whose Weibull effective stress
    is s0 C at every m: power laws of the rate, which the log-log interpolation recovers."""
    from solver.studies import shock_map as sm

    R = radius_nm * 1e-9
    depths = sm.DEPTH_FRACTIONS * R
    return {"sample": sample, "radius_nm": radius_nm, "radius_m": R, "c_rate": c_rate, "status": "completed",
            "depths_m": depths.tolist(), "k_envelope_Pa_sqrt_m": (k0 * c_rate * np.sqrt(depths / R)).tolist(),
            "weibull_effective_stress_Pa": {f"{m:g}": s0 * c_rate for m in sm.WEIBULL_MODULI}}


def test_the_band_spans_the_closed_form_critical_rates_of_the_input_range():
    from solver.case.crack_inputs import CrackInputs
    from solver.studies import shock_map as sm

    rates = [0.25, 0.5, 1.0, 2.0, 4.0, 8.0]
    k0, s0 = 1.0e6, 300e6  # K_I(a = R) at 1C, sigma_eff at 1C
    members = [_made_up_member(s, 150.0, c, k0 * f, s0 * f) for s, f in (("pristine", 1.0), ("Ru-1", 0.7))
               for c in rates]
    inputs = CrackInputs()
    band = {b["sample"]: b for b in sm.paper_band(members, inputs)}
    for sample, f in (("pristine", 1.0), ("Ru-1", 0.7)):
        b = band[sample]
        # K: k0 f C sqrt(flaw) = K_Ic; lowest at the low toughness and the deepest flaw
        assert b["k_low"] == pytest.approx(0.24e6 / (k0 * f * math.sqrt(0.2)), rel=1e-9)
        assert b["k_high"] == pytest.approx(0.81e6 / (k0 * f * math.sqrt(0.05)), rel=1e-9)
        assert b["k_largest_Pa_sqrt_m"] == pytest.approx(k0 * f * max(rates) * math.sqrt(0.2), rel=1e-9)
        # Weibull median: s0 f C = sigma_0 (ln 2)^(1/m), lowest at the smallest m
        assert b["weibull_low"] == pytest.approx(375e6 * math.log(2) ** (1 / 5) / (s0 * f), rel=1e-9)
        assert b["weibull_high"] == pytest.approx(375e6 * math.log(2) ** (1 / 20) / (s0 * f), rel=1e-9)
        # at 1C: a K input set cracks where k0 f sqrt(flaw) >= K_Ic
        cracks = sum(k0 * f * math.sqrt(a) >= t for t in (0.24e6, 0.81e6) for a in (0.05, 0.1, 0.2))
        assert b["k_cracks_at_rate"] == f"{cracks} of 6"
        expected = sum(s0 * f >= 375e6 * math.log(2) ** (1 / m) for m in sm.WEIBULL_MODULI)
        assert b["weibull_cracks_at_rate"] == f"{expected} of {len(sm.WEIBULL_MODULI)}"
    text = "\n".join(sm.band_text(list(band.values()), inputs))
    assert f"{band['pristine']['k_low']:.2f}C - {band['pristine']['k_high']:.2f}C" in text


def test_the_band_says_when_the_rates_do_not_reach_the_criterion():
    from solver.case.crack_inputs import CrackInputs
    from solver.studies import shock_map as sm

    members = [_made_up_member("pristine", 150.0, c, 0.01e6, 1e6) for c in (1.0, 2.0)]  # never cracks
    band = sm.paper_band(members, CrackInputs())
    assert band[0]["k_low"] is None and band[0]["weibull_high"] is None
    assert "> 2C - > 2C" in "\n".join(sm.band_text(band, CrackInputs()))


# -- SIGINT / SIGTERM ----------------------------------------------------------------------
def test_ctrl_c_while_a_member_runs_exits_5_with_one_line_and_no_map(tmp_path):
    """Ctrl-C (SIGINT) once a member's run has started (its temporary folder holds a
    summary): exit 5 (interrupted, lrmo/cli.py), one line and no traceback; the map's
    folder holds no map file and no temporary file, and the member's own folder (a
    temporary one, where its run left a checkpoint) is gone. Before, the member was
    recorded as failed, the remaining members ran and the map was written (exit 3), or a
    KeyboardInterrupt traceback ended the command between members."""
    import signal
    import subprocess
    import sys
    import time

    from conftest import ROOT, mpi_env
    from lrmo.cli import EXIT_INTERRUPTED

    tmp, out = tmp_path / "tmp", tmp_path / "map"
    tmp.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "lrmo", "shock-map", PRISTINE, "--radii", "20", "50", "--rates",
                             "2", "5", "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT, env={**mpi_env(), "TMPDIR": str(tmp)})
    try:
        deadline = time.monotonic() + 120
        while not list(tmp.glob("lrmo-shock-*/summary.json")):  # a member's run has started
            assert proc.poll() is None, proc.communicate()[1][-2000:]
            assert time.monotonic() < deadline, "no member started"
            time.sleep(0.005)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == EXIT_INTERRUPTED, stderr[-2000:]
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr[-2000:]
    said = [line for line in stderr.splitlines() if "lrmo" in line]
    assert said == ["lrmo shock-map: interrupted by SIGINT; no map written (the members run are discarded): "
                    "run the command again"], stderr[-2000:]
    assert sorted(p.name for p in out.iterdir()) == [".lrmo-command"]  # the lock gone, no map file
    assert list(tmp.glob("lrmo-shock-*")) == []  # the member's temporary folder removed (MPI may leave its own, e.g. ompi.vm.0)
    assert "4 of 4" not in stdout  # stopped before the last member

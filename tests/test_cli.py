"""The command line's manners: --help with examples and defaults, --version, C-rates as
2C / 2 / C/3, a unit hint, clean paths, every command saying where it writes and never
writing over another command's results unless asked, and no NUL byte in summary.json."""
import json

import pytest
import yaml

from conftest import CASES, run_lrmo
from lrmo.cli import EXAMPLES, _parser, main

RADIAL = str(CASES / "verify_galvanostatic_radial.yaml")
SMALL = ["--quiet", "--set", "output.fields=false", "--set", "output.times.values=[600]"]


def _run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


# -- help and version ----------------------------------------------------------------------
@pytest.mark.parametrize("command", sorted(EXAMPLES))
def test_each_command_has_help_with_an_example_of_itself(command, capsys):
    with pytest.raises(SystemExit) as stop:
        main([command, "--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    assert "example" in out
    assert all(example in out for example in EXAMPLES[command])
    assert all(f"lrmo {command}" in example or f"--{command}" in example for example in EXAMPLES[command])


def test_help_shows_the_defaults(capsys):
    helps = {}
    for command in ("run", "verify", "sweep", "reproduce"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        helps[command] = " ".join(capsys.readouterr().out.split())
    assert "(default: results/<case name>)" in helps["run"]
    assert "(default: results/verify)" in helps["verify"]
    assert "(default: results/sweep-<series name>)" in helps["sweep"]
    assert "(default: results)" in helps["reproduce"]
    assert "(default: False)" not in helps["run"]  # on/off flags need no default


def test_version_option_prints_the_version():
    from solver import __version__

    proc = run_lrmo(["--version"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"lrmo {__version__}\n"


def test_top_level_help_lists_an_example_for_every_command(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in EXAMPLES:
        assert f"lrmo {command}" in out or command == "version"


# -- C-rates and units ---------------------------------------------------------------------
def _resolved_c_rate(written, capsys) -> float:
    code, out, err = _run(["validate", RADIAL, "--set", f"protocol.c_rate={written}"], capsys)
    assert code == 0, err
    return yaml.safe_load(out)["protocol"]["c_rate"]["value"]


@pytest.mark.parametrize("forms, number_of_C", [
    (("2C", "2", "2 C", "2.0C", "{value: 2, unit: C}"), 2.0),
    (("C/3", "0.3333333333333333", "C / 3"), 1 / 3),
    (("0.5C", "0.5", "C/2", ".5 C"), 0.5)])
def test_c_rate_forms_resolve_to_the_same_number_of_C(forms, number_of_C, capsys):
    values = {form: _resolved_c_rate(form, capsys) for form in forms}
    assert set(values.values()) == {number_of_C}, values


@pytest.mark.parametrize("written", ["3 A", "2 coulomb", "2 mA/g", "2C/3"])
def test_c_rate_with_another_unit_is_refused_naming_the_key(written, capsys):
    code, _, err = _run(["validate", RADIAL, "--set", f"protocol.c_rate={written}"], capsys)
    assert code == 2
    first = err.strip().splitlines()[-1]
    assert "protocol.c_rate:" in first and "2C, 2, C/3 or 0.5C" in first


def test_2C_runs_at_twice_the_current_of_1C(tmp_path):
    """The Li flux in summary.json (not a copied number: the ratio of two runs)."""
    fluxes = []
    for rate in ("1", "2C"):
        out = tmp_path / rate
        proc = run_lrmo(["run", RADIAL, "--out", str(out), *SMALL, "--set", f"protocol.c_rate={rate}"])
        assert proc.returncode == 0, proc.stderr
        fluxes.append(json.loads((out / "summary.json").read_text())["lithium"]["flux_mol_m2_s"])
    assert fluxes[1] / fluxes[0] == pytest.approx(2.0, rel=1e-14)


@pytest.mark.parametrize("override, hint", [
    ("geometry.radius=200", "geometry.radius: 200 has no unit: add one, e.g. '200 nm'"),
    ("protocol.end_time=600", "protocol.end_time: 600 has no unit: add one, e.g. '600 min'"),
    ("materials.core.youngs_modulus=150", "add one, e.g. '150 GPa'")])
def test_a_dimensional_number_without_unit_gets_a_hint(override, hint, capsys):
    code, _, err = _run(["validate", RADIAL, "--set", override], capsys)
    assert code == 2
    assert hint in err


# -- where commands write ------------------------------------------------------------------
def test_mesh_prints_a_clean_path_and_where_it_writes(tmp_path):
    out = f"{tmp_path}/m/"
    proc = run_lrmo(["mesh", RADIAL, "--out", out])
    assert proc.returncode == 0, proc.stderr
    assert "//" not in proc.stdout
    assert f"lrmo mesh: writing to {tmp_path}/m/" in proc.stdout
    assert f"wrote {tmp_path}/m/mesh.xdmf" in proc.stdout
    assert (tmp_path / "m" / "mesh.xdmf").is_file()


def test_run_prints_where_it_writes_and_what(tmp_path):
    proc = run_lrmo(["run", RADIAL, "--out", str(tmp_path / "r"), "--set", "output.fields=false"])
    assert proc.returncode == 0, proc.stderr
    assert f"lrmo run: writing to {tmp_path}/r/" in proc.stdout
    assert f"wrote {tmp_path}/r (summary.json, timeseries.csv, profiles.csv)" in proc.stdout  # no fields/


def test_a_folder_of_another_command_is_refused_unless_overwrite(tmp_path):
    mesh = tmp_path / "mesh"
    assert run_lrmo(["mesh", RADIAL, "--out", str(mesh), "--quiet"]).returncode == 0
    before = sorted(p.name for p in mesh.iterdir())
    proc = run_lrmo(["run", RADIAL, "--out", str(mesh), *SMALL])
    assert proc.returncode == 4
    assert proc.stderr.strip() == (f"lrmo: {mesh} holds the results of `lrmo mesh`; choose another "
                                   "--out, or add --overwrite to replace them")
    assert sorted(p.name for p in mesh.iterdir()) == before  # untouched
    proc = run_lrmo(["run", RADIAL, "--out", str(mesh), *SMALL, "--overwrite"])
    assert proc.returncode == 0, proc.stderr
    assert (mesh / ".lrmo-command").read_text() == "run\n"
    assert run_lrmo(["run", RADIAL, "--out", str(mesh), *SMALL]).returncode == 0  # its own now


def test_the_results_of_make_reproduce_are_not_overwritten(tmp_path):
    """A `lrmo reproduce` folder (written before markers existed: report.md) and its runs
    and series are refused to run, sweep and verify; a new folder beside them is fine."""
    results = tmp_path / "results"
    (results / "pristine_stress").mkdir(parents=True)
    (results / "report.md").write_text("# report\n")
    (results / "pristine_stress" / "summary.json").write_text('{"status": "completed"}')
    (results / "ru_series" / "r1").mkdir(parents=True)
    (results / "ru_series" / "series.json").write_text("{}")
    (results / "ru_series" / "r1" / "summary.json").write_text("{}")
    for args in (["run", RADIAL, "--out", str(results / "pristine_stress"), *SMALL],
                 ["run", RADIAL, "--out", str(results / "ru_series" / "r1"), *SMALL],
                 ["verify", "--only", "galvanostatic_radial", "--out", str(results)],
                 ["sweep", str(CASES / "series" / "ru_series.yaml"), "--out", str(results / "ru_series")]):
        proc = run_lrmo(args)
        assert proc.returncode == 4, (args, proc.stderr)
        assert "holds the results of `lrmo reproduce`" in proc.stderr
    assert (results / "pristine_stress" / "summary.json").read_text() == '{"status": "completed"}'
    proc = run_lrmo(["run", RADIAL, "--out", str(results / "mine"), *SMALL])
    assert proc.returncode == 0, proc.stderr
    old_verify = results / "verify" / "verify_galvanostatic_radial"  # an earlier `lrmo verify`, unmarked
    old_verify.mkdir(parents=True)
    (old_verify / "summary.json").write_text("{}")
    proc = run_lrmo(["verify", "--only", "galvanostatic_radial", "--out", str(results / "verify")])
    assert proc.returncode == 0, proc.stderr
    assert f"lrmo verify: writing to {results}/verify/" in proc.stdout


def test_sweep_default_folder_is_apart_from_reproduce():
    args = _parser().parse_args(["sweep", "cases/series/ru_series.yaml"])
    assert args.out.replace("<series name>", "ru_series") == "results/sweep-ru_series"
    assert _parser().parse_args(["verify"]).out == "results/verify"


# -- provenance ----------------------------------------------------------------------------
def test_summary_has_no_nul_byte_in_the_versions(tmp_path):
    proc = run_lrmo(["run", RADIAL, "--out", str(tmp_path / "r"), *SMALL])
    assert proc.returncode == 0, proc.stderr
    raw = (tmp_path / "r" / "summary.json").read_bytes()
    assert b"\\u0000" not in raw and b"\x00" not in raw
    versions = json.loads(raw)["versions"]
    assert versions["mpi"] and all(ch.isprintable() for ch in versions["mpi"])

"""Bad case files and --set values are refused with exit code 2 and a message that
names the key path; the demo and paper case files are valid."""
import pytest
import yaml

from conftest import CASES
from solver.case.schema import load_case
from lrmo.cli import main

DEMO = str(CASES / "demo.yaml")

# (--set override, key path that the message must name)
BAD_OVERRIDES = [
    ("geometry.radiuss=150 nm", "geometry.radiuss"),
    ("geometry.radius=-1 nm", "geometry.radius"),
    ("geometry.radius=0 nm", "geometry.radius"),
    ("geometry.radius=150 kg", "geometry.radius"),
    ("geometry.radius=150 furlongs_per_fortnight", "geometry.radius"),
    ("geometry.layer_thickness=200 nm", "geometry.layer_thickness"),
    ("geometry.layer_thickness=-5 nm", "geometry.layer_thickness"),
    ("geometry.shape=cube", "geometry.shape"),
    ("materials.core.poisson_ratio=0.5", "materials.core.poisson_ratio"),
    ("materials.core.poisson_ratio=-0.1", "materials.core.poisson_ratio"),
    ("materials.core.youngs_modulus=0 GPa", "materials.core.youngs_modulus"),
    ("materials.core.lithium_diffusivity=1e-17 m/s", "materials.core.lithium_diffusivity"),
    ("materials.core.density.unit=kg", "materials.core.density"),
    ("materials.core.density.colour=red", "materials.core.density.colour"),
    ("materials.layer.site_deficiency_at_surface=1.2", "materials.layer.site_deficiency_at_surface"),
    ("materials.layer.profile=cubic", "materials.layer.profile"),
    ("materials.mantle.youngs_modulus=1 GPa", "materials.mantle"),
    ("protocol.c_rate=0", "protocol.c_rate"),
    ("protocol.c_rate=-1", "protocol.c_rate"),
    ("protocol.end_time=-10 s", "protocol.end_time"),
    ("protocol.kind=discharge", "protocol.kind"),
    ("lithium.min_site_fraction=1.0", "lithium.min_site_fraction"),
    ("lithium.initial_site_fraction=1.5", "lithium.initial_site_fraction"),
    ("output.times={values: [0, 60, 30]}", "output.times.values"),
    ("output.times={values: [0, 6000]}", "output.times.values"),
    ("output.profile_points=1", "output.profile_points"),
    ("time_stepping.initial_step=100 s", "time_stepping"),
    ("time_stepping.max_change_per_step=0", "time_stepping.max_change_per_step"),
    ("mesh.surface=10 nm", "mesh.surface"),
    ("physics=[mechanics]", "physics"),
    ("physics=[lithium, gravity]", "physics"),
    ("name=has spaces", "name"),
    ("geometry=5", "geometry"),
    ("geometry.coating_thickness=5 nm", "geometry.coating_thickness"),
]


@pytest.mark.parametrize("override,key_path", BAD_OVERRIDES, ids=[o for o, _ in BAD_OVERRIDES])
def test_bad_value_is_refused_with_its_key_path(override, key_path, capsys):
    code = main(["validate", DEMO, "--set", override])
    err = capsys.readouterr().err
    assert code == 2
    assert key_path in err
    assert "Traceback" not in err


def test_unknown_key_lists_the_allowed_keys(capsys):
    assert main(["validate", DEMO, "--set", "geometry.radiuss=1 nm"]) == 2
    err = capsys.readouterr().err
    assert "unknown key" in err and "radius" in err and "layer_thickness" in err


def test_malformed_set_syntax_is_refused(capsys):
    assert main(["validate", DEMO, "--set", "geometry.radius"]) == 2
    assert "key.path=value" in capsys.readouterr().err


@pytest.mark.parametrize("text,needle", [
    ("just a string", "mapping"),
    ("geometry: [unclosed", "not valid YAML"),
])
def test_unreadable_case_file_is_refused(tmp_path, capsys, text, needle):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    assert main(["validate", str(path)]) == 2
    assert needle in capsys.readouterr().err


def test_missing_case_file_is_refused(capsys):
    assert main(["validate", "no/such/case.yaml"]) == 2
    assert "no such case file" in capsys.readouterr().err


def test_missing_required_key_is_named(tmp_path, capsys):
    data = yaml.safe_load(open(DEMO))
    del data["materials"]["core"]["youngs_modulus"]
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "materials.core.youngs_modulus" in err and "missing" in err


def test_override_changes_the_resolved_case(capsys):
    assert main(["validate", DEMO, "--set", "geometry.radius=200 nm"]) == 0
    resolved = yaml.safe_load(capsys.readouterr().out)
    assert resolved["geometry"]["radius"]["value"] == 200
    assert resolved["geometry"]["radius"]["unit"] == "nm"


@pytest.mark.parametrize("path", sorted(CASES.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_case_files_are_valid(path):
    assert main(["validate", str(path)]) == 0


def test_soc_triggered_o2_source_needs_the_lithium_physics(capsys):
    code = main(["validate", str(CASES / "pristine_o2.yaml"), "--set",
                 "oxygen.source={rate: 1 mol/m^3/s, start_at_mean_site_fraction: 0.9}"])
    assert code == 2
    assert "oxygen.source.start_at_mean_site_fraction" in capsys.readouterr().err


@pytest.mark.parametrize("path", sorted((CASES / "series").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_series_files_and_their_members_are_valid(path):
    from solver.studies.sweep import load_series

    series, base = load_series(path)
    for member in series.members:
        load_case(base, member.set)


def test_series_with_an_unknown_key_names_it(tmp_path):
    from solver.case.schema import CaseError
    from solver.studies.sweep import load_series

    bad = tmp_path / "s.yaml"
    bad.write_text("name: s\nbase: x.yaml\nmembers: [{name: a, sett: []}]\n")
    with pytest.raises(CaseError, match=r"members\.0\.sett"):
        load_series(bad)


# -- issue 9: every bad input is refused with exit 2 and the key path ------------------
import signal  # noqa: E402


@pytest.fixture(autouse=False)
def alarm():
    """A refusal that hangs (pint evaluating 9**9**9) fails instead of blocking."""
    def hang(signum, frame):
        raise TimeoutError("still validating after 20 s")

    old = signal.signal(signal.SIGALRM, hang)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def _refused(argv, capsys) -> str:
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert lines[0].startswith("lrmo: invalid ")
    assert all(len(line) < 500 for line in lines)
    return err


ISSUE9_OVERRIDES = [
    # non-finite numbers
    ("geometry.radius={value: .inf, unit: nm}", "geometry.radius.value"),
    ("geometry.radius={value: .nan, unit: nm}", "geometry.radius.value"),
    ("geometry.radius=1e999 nm", "geometry.radius"),
    ("geometry.radius.value=1.0e999", "geometry.radius.value"),
    ("materials.core.youngs_modulus=1e308 TPa", "materials.core.youngs_modulus"),
    ("output.times={values: [0, .nan]}", "output.times.values"),
    # booleans are not numbers
    ("output.count=true", "output.count"),
    ("protocol.c_rate=true", "protocol.c_rate"),
    ("geometry.radius.value=true", "geometry.radius.value"),
    ("output.times={values: [0, true]}", "output.times.values"),
    ("mechanics.stress_every_steps=true", "mechanics.stress_every_steps"),
    # empty physics
    ("physics=[]", "physics"),
    # geometry, mesh and protocol consistent at validation time
    ("mesh.bulk=200 nm", "mesh.bulk"),
    ("mesh.interface=6 nm", "mesh.interface"),
    ("geometry.radius=3 nm", "geometry.radius"),
    ("geometry.radius=1.5e302 nm", "geometry.radius"),
    ("mesh.surface=1e-12 nm", "mesh.surface"),
    ("output.times={values: [0, 2], unit: h}", "output.times.values"),
    ("output.times={values: [0, 1], unit: kg}", "output.times.unit"),
    ("output.times={values: [0, 1], unit: 's**9**9**9'}", "output.times.unit"),
    # a case name is a plain file name
    ("name=..", "name"),
    ("name=../elsewhere", "name"),
    ("name=.hidden", "name"),
    ("name=a/b", "name"),
    ("name=/tmp/x", "name"),
    # pint never evaluates expressions from input
    ("geometry.radius=9**9**9 nm", "geometry.radius"),
    ("geometry.radius={value: 1, unit: 'nm**9**9**9'}", "geometry.radius.unit"),
    ("geometry.radius=1 nm^999", "geometry.radius"),
    ("geometry.radius=(9**9) nm", "geometry.radius"),
    ("geometry.radius=1 __import__", "geometry.radius"),
    # PETSc options: files, views, monitors and unknown keys
    ("solvers.petsc_options={ksp_view: 'ascii:/tmp/lrmo_view.txt'}", "solvers.petsc_options"),
    ("solvers.petsc_options={options_file: /etc/passwd}", "solvers.petsc_options"),
    ("solvers.petsc_options={ksp_monitor: ''}", "solvers.petsc_options"),
    ("solvers.petsc_options={log_view: ''}", "solvers.petsc_options"),
    ("solvers.petsc_options={mg_levels_ksp_view: ''}", "solvers.petsc_options"),
    ("solvers.petsc_options={ksp_rtoll: 1e-6}", "solvers.petsc_options"),
    ("solvers.petsc_options={pc_type: 'hypre:/x'}", "solvers.petsc_options"),
    ("solvers.petsc_options={ksp_max_it: true}", "solvers.petsc_options"),
]


@pytest.mark.parametrize("override,key_path", ISSUE9_OVERRIDES, ids=[o for o, _ in ISSUE9_OVERRIDES])
def test_issue9_bad_value_is_refused_with_its_key_path(override, key_path, capsys, alarm):
    err = _refused(["validate", DEMO, "--set", override], capsys)
    assert key_path in err


@pytest.mark.parametrize("override", [
    "materials.core.lithium_diffusivity=1e-17 m^2/s",
    "materials.core.lithium_site_concentration=6.08e4 mol/m^3",
    "materials.core.density=4.3 g/cm^3",
    "protocol.current_1C=250 mA/g",
    "materials.core.partial_molar_volume={value: 7.1e-7, unit: m^3/mol}",
    "geometry.radius=0.15 um",
    "geometry.radius=150nm",
    "protocol.end_time=1e1 min",
    "output.times={values: [0, 300, 600], unit: s}",
    "solvers.petsc_options={ksp_rtol: 1e-8, pc_type: gamg, pc_gamg_threshold: 0.02}",
    "solvers.petsc_options={pc_hypre_boomeramg_interp_type: ext+i, ksp_max_it: 200}",
])
def test_plain_units_and_allowed_options_still_work(override, capsys):
    assert main(["validate", DEMO, "--set", override]) == 0, capsys.readouterr().err


def _demo_text() -> str:
    return (CASES / "demo.yaml").read_text()


@pytest.mark.parametrize("name,text,needle", [
    ("duplicate top-level key", lambda t: t + "name: again\n", "name: key given twice"),
    ("duplicate nested key", lambda t: t.replace("geometry:\n", "geometry:\n  shape: octant\n", 1),
     "geometry.shape: key given twice"),
    ("anchor", lambda t: t.replace("  shape: radial", "  shape: &s radial"), "anchors"),
    ("alias bomb", lambda t: t + "bomb: [" + ", ".join(
        [f"&a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" if i else "&a0 [lol, lol]"
         for i in range(12)]) + "]\n", "anchors"),
    ("nested 60 deep", lambda t: t + "deep: " + "[" * 60 + "]" * 60 + "\n", "nested deeper than 50"),
    ("nested 5000 deep", lambda t: t + "deep: " + "{a: " * 5000 + "1" + "}" * 5000 + "\n",
     "nested deeper than 50"),
    ("control character", lambda t: t.replace("name: demo", "name: de\x1bmo"), "control character"),
    ("python tag", lambda t: t.replace("name: demo", "name: !!python/object/apply:os.system [ls]"),
     "line"),
    ("truncated", lambda t: t[: t.index("materials:") + 30] + ": [1, 2", "not valid YAML at line"),
    ("too large", lambda t: t + "# " + "x" * 1_100_000 + "\n", "larger than"),
    ("top-level list", lambda t: "- a\n- b\n", "mapping"),
    ("empty file", lambda t: "", "mapping"),
])
def test_file_level_problems_are_one_line(tmp_path, capsys, alarm, name, text, needle):
    path = tmp_path / "c.yaml"
    path.write_text(text(_demo_text()))
    err = _refused(["validate", str(path)], capsys)
    assert needle in err
    assert len(err.strip().splitlines()) == 1


def test_messages_quote_a_few_hundred_characters_at_most(tmp_path, capsys):
    data = yaml.safe_load(_demo_text())
    data["name"] = "x" * 200_000
    data["geometry"]["radius"] = "1 " + "m" * 100_000
    data["mesh"] = {"surface": list(range(5000))}
    data["output"] = {"times": {"values": list(range(9000, 0, -1))}}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    err = _refused(["validate", str(path)], capsys)
    assert len(err) < 3000


def test_not_utf8_names_the_byte(tmp_path, capsys):
    path = tmp_path / "c.yaml"
    path.write_bytes(_demo_text().encode() + b"description: caf\xe9\n")
    err = _refused(["validate", str(path)], capsys)
    assert "not UTF-8" in err and "line" in err


def test_a_folder_given_as_the_case_is_refused(tmp_path, capsys):
    assert "is a folder" in _refused(["validate", str(tmp_path)], capsys)


def test_an_unreadable_case_file_is_refused(tmp_path, capsys, monkeypatch):
    import solver.case.loading

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(solver.case.loading, "open", denied, raising=False)
    assert "not readable" in _refused(["validate", DEMO], capsys)


def test_set_values_are_read_with_the_same_bounds(capsys):
    err = _refused(["validate", DEMO, "--set", "description=&a [*a]"], capsys)
    assert "--set description" in err and "anchors" in err


@pytest.mark.parametrize("argv_tail", [["no/such/case.yaml"], ["{tmp}"], ["{tmp}/bad.yaml"]])
def test_fit_refuses_bad_case_files(tmp_path, capsys, argv_tail):
    (tmp_path / "bad.yaml").write_text("geometry: [unclosed\n")
    argv = ["fit"] + [a.format(tmp=tmp_path) for a in argv_tail]
    _refused(argv, capsys)


@pytest.mark.parametrize("text,needle", [
    ("name: s\nbase: x.yaml\nmembers: [{name: a, set: [\n", "not valid YAML"),
    ("name: s\nname: t\nbase: x.yaml\nmembers: [{name: a}]\n", "name: key given twice"),
    ("name: s\nbase: CASE\nmembers: [{name: a}, {name: a}]\n", "given twice"),
    ("name: s\nbase: CASE\nmembers: [{name: ../a}]\n", "members.0.name"),
    ("name: s\nbase: CASE\nmembers: [{name: a, set: ['geometry.radius=9**9**9 nm']}]\n",
     "members.0 (a): geometry.radius"),
    ("name: s\nbase: CASE\nmembers: [{name: a, variable: .inf}]\n", "members.0.variable"),
    ("name: s\nbase: /\nmembers: [{name: a}]\n", "is a folder"),
])
def test_sweep_refuses_bad_series_files(tmp_path, capsys, alarm, text, needle):
    path = tmp_path / "s.yaml"
    path.write_text(text.replace("CASE", DEMO))
    err = _refused(["sweep", str(path), "--out", str(tmp_path / "out")], capsys)
    assert needle in err
    assert not (tmp_path / "out").exists()


def test_mesh_sizes_left_out_are_checked_with_the_shapes_defaults(capsys):
    """Radial default bulk size R/50 = 3 nm (150 nm demo): a 10 nm interface size is
    coarser than it, so refused; on an octant (default bulk R/8 = 18.75 nm) it is fine."""
    err = _refused(["validate", DEMO, "--set", "mesh={interface: 10 nm}"], capsys)
    assert "mesh.interface" in err and "mesh.bulk" in err
    assert main(["validate", DEMO, "--set", "mesh={interface: 10 nm}",
                 "--set", "geometry.shape=octant"]) == 0


def test_set_inside_a_bad_quantity_string_names_it(tmp_path, capsys):
    path = tmp_path / "c.yaml"
    path.write_text(_demo_text().replace("  radius: {value: 150, unit: nm,", "  radius: '9**9 nm'\n  x: {"))
    err = _refused(["validate", str(path), "--set", "geometry.radius.value=3"], capsys)
    assert "geometry.radius: cannot read" in err

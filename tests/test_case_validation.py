"""Bad case files and --set values are refused with exit code 2 and a message that
names the key path; the demo and paper case files are valid."""
import pytest
import yaml

from conftest import CASES
from solver.case import load_case
from solver.cli import main

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
    from solver.sweep import load_series

    series, base = load_series(path)
    for member in series.members:
        load_case(base, member.set)


def test_series_with_an_unknown_key_names_it(tmp_path):
    from solver.case import CaseError
    from solver.sweep import load_series

    bad = tmp_path / "s.yaml"
    bad.write_text("name: s\nbase: x.yaml\nmembers: [{name: a, sett: []}]\n")
    with pytest.raises(CaseError, match=r"members\.0\.sett"):
        load_series(bad)

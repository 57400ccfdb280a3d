"""The phase field's critical C-rate on the electrochemical-shock map (`lrmo shock-map` with
a case that has a `fracture:` section; solver/studies/shock_map.py,
`phase_field_critical_rates`): in critical_rates.csv, the report, the paper particle's
band and the PNG; and nothing of it without the phase field.

Two independent measures meet: the phase-field solve's own verdicts (max d > 1e-3, the
bracket columns) and the AT1 onset in closed form, psi+ / psi_c >= 1 on the run's stress
profiles, whose log-log crossing is the critical rate; at the free surface (sigma_r = 0)
psi+ / psi_c = (sigma_t / sigma_on)^2 with sigma_on = sigma_c / sqrt(2 (1 - nu)), so the
critical rate is also where the largest hoop stress (the K criterion's input, not
psi+) reaches sigma_on."""
from __future__ import annotations

import csv
import json
import math

import pytest

from conftest import CASES
from lrmo.cli import main

PRISTINE = str(CASES / "pristine_stress.yaml")
NU = 0.3  # cases/pristine_stress.yaml
# a weak, tiny-G_c phase field (numerical test inputs, not a material): sigma_c = 95 MPa puts the
# surface onset sigma_on = 80 MPa between the rates run at both radii (hoop ~ C R^2 at these
# sizes: 23, 46, 114 MPa at 30 nm; 63, 127, 316 MPa at 50 nm for 1, 2, 5C), l = 6.2 nm > 4 x mesh.surface
STRENGTH_MPA = 95.0
FRACTURE = f"fracture={{toughness: 0.001 J/m^2, strength: {STRENGTH_MPA:g} MPa, every_steps: 1}}"


@pytest.fixture(scope="module")
def tiny_map(tmp_path_factory):
    """2 radii x 3 rates, 1D, pristine with the phase field (~20 s)."""
    out = tmp_path_factory.mktemp("pfmap") / "map"
    code = main(["shock-map", PRISTINE, "--radii", "30", "50", "--rates", "1", "2", "5", "--quiet",
                 "--out", str(out), "--set", "physics=[lithium, mechanics, fracture]", "--set", FRACTURE])
    assert code == 0
    return out


def _rows(path):
    return list(csv.DictReader(path.open()))


def test_the_phase_field_critical_rate_is_bracketed_by_its_solve_and_is_the_at1_onset(tiny_map):
    from solver.studies.shock_map import critical_rate

    onset_Pa = STRENGTH_MPA * 1e6 / math.sqrt(2 * (1 - NU))
    members = _rows(tiny_map / "shock_map.csv")
    assert len(members) == 6 and all(m["status"] == "completed" for m in members)
    for m in members:
        ratio = float(m["AT1_psi_plus_over_psi_c"])
        hoop = float(m["hoop_max_MPa"]) * 1e6
        assert ratio == pytest.approx((hoop / onset_Pa) ** 2, rel=2e-3)  # the surface's closed form
        assert not 0.8 < ratio < 1.25  # clear of the onset, so the solve's verdict is not a toss-up
        assert m["crack_phase_field"] == ("yes" if ratio >= 1 else "no")  # the solve against the closed form
    rates = _rows(tiny_map / "critical_rates.csv")
    pf = [r for r in rates if r["criterion"] == "phase_field"]
    assert [float(r["radius_nm"]) for r in pf] == [30.0, 50.0]
    for row in pf:
        runs = [m for m in members if float(m["radius_nm"]) == float(row["radius_nm"])]
        c_rates = [float(m["c_rate"]) for m in runs]
        cracks = [m["crack_phase_field"] == "yes" for m in runs]
        # the bracket: the solve's highest rate without a crack and lowest with one
        no_crack = max(c for c, k in zip(c_rates, cracks) if not k)
        crack = min(c for c, k in zip(c_rates, cracks) if k)
        assert (float(row["phase_field_no_crack_at_c_rate"]), float(row["phase_field_cracks_at_c_rate"])) == (
            no_crack, crack)
        rate = float(row["critical_c_rate"])
        assert row["bound"] == "interpolated" and no_crack < rate <= crack
        assert row["phase_field_agrees_with_AT1"] == "yes"
        # the same interpolation applied to the hoop stress against the surface onset
        hoop = [float(m["hoop_max_MPa"]) * 1e6 for m in runs]
        assert rate == pytest.approx(critical_rate(c_rates, hoop, onset_Pa), rel=2e-3)
        assert float(row["sigma_c_MPa"]) == STRENGTH_MPA
        length_m = 3 * 0.001 * 150e9 / (8 * (STRENGTH_MPA * 1e6) ** 2)
        assert float(row["length_scale_nm"]) == pytest.approx(length_m * 1e9, rel=1e-9)
    # the rates differ between the radii: 30 nm between 2C and 5C, 50 nm between 1C and 2C
    assert float(pf[0]["phase_field_no_crack_at_c_rate"]) == 2 and float(pf[1]["phase_field_no_crack_at_c_rate"]) == 1
    # the K and Weibull rows carry the extra columns empty
    assert all(r["sigma_c_MPa"] == "" for r in rates if r["criterion"] != "phase_field")
    text = (tiny_map / "shock_map.txt").read_text()
    assert "Phase field (AT1" in text and f"{float(pf[0]['critical_c_rate']):.2f}C" in text
    assert (tiny_map / "shock_map.png").is_file()
    stored = json.loads((tiny_map / "shock_map.json").read_text())["members"]
    assert all(m["at1_ratio_radius_m"] == pytest.approx(m["radius_m"]) for m in stored)  # the onset: the surface


# -- the band and the tables on made-up members (closed forms, no runs) -----------------------
def _member(radius_nm, c_rate, ratio_at_1C, cracks):
    """A completed member with the phase field: psi+/psi_c = ratio_at_1C x C^2 (hoop ~ C)."""
    from solver.studies import shock_map as sm

    R = radius_nm * 1e-9
    depths = sm.DEPTH_FRACTIONS * R
    return {"sample": "pristine", "radius_nm": radius_nm, "radius_m": R, "c_rate": c_rate, "status": "completed",
            "depths_m": depths.tolist(), "k_envelope_Pa_sqrt_m": [1e3 * c_rate] * depths.size,
            "weibull_effective_stress_Pa": {f"{m:g}": 1e6 * c_rate for m in sm.WEIBULL_MODULI},
            "hoop_max_Pa": 1e6 * c_rate, "peak_von_mises_Pa": 1e6 * c_rate, "weibull_probability": 0.0,
            "at1_ratio_max": ratio_at_1C * c_rate ** 2,
            "phase_field": {"onset": {"time_s": 1.0} if cracks else None, "critical_stress_Pa": 750e6,
                            "length_scale_m": 35e-9, "toughness_J_m2": 0.349}}


def test_the_band_reports_the_phase_field_rate_at_the_paper_particle():
    from solver.case.crack_inputs import CrackInputs
    from solver.studies import shock_map as sm

    rates = [0.5, 1.0, 2.0, 5.0]
    c0 = 1.6  # psi+/psi_c = (C / c0)^2: the onset at c0, between 1C and 2C
    members = [_member(150.0, c, 1 / c0 ** 2, c >= c0) for c in rates]
    inputs = CrackInputs()
    (band,) = sm.paper_band(members, inputs)
    pf = band["phase_field"]
    assert pf["critical_rate"] == pytest.approx(c0, rel=1e-12)  # C^2 is a power law: recovered exactly
    assert (pf["no_crack_at"], pf["cracks_at"], pf["agrees"], pf["cracks_at_rate"]) == (1.0, 2.0, True, False)
    text = "\n".join(sm.band_text([band], inputs))
    assert "phase field     1.60C (sigma_c = 750 MPa" in text and "no crack at 1C, cracks at 2C" in text
    assert "at 1C: no crack" in text and "DISAGREES" not in text
    # a solve that cracks where psi+/psi_c < 1 is reported, not hidden
    members[1]["phase_field"]["onset"] = {"time_s": 1.0}
    (band,) = sm.paper_band(members, inputs)
    assert band["phase_field"]["agrees"] is False and band["phase_field"]["cracks_at"] == 1.0
    assert "DISAGREES" in "\n".join(sm.band_text([band], inputs))


def test_without_the_phase_field_the_outputs_are_as_before():
    from solver.case.crack_inputs import CrackInputs
    from solver.studies import shock_map as sm

    members = [_member(150.0, c, 1.0, True) for c in (1.0, 2.0)]
    for m in members:
        del m["phase_field"], m["at1_ratio_max"]
    inputs = CrackInputs()
    header, rows = sm.critical_rate_table(members, inputs)
    assert header[-1] == "highest_rate_run" and len(header) == 12
    assert all(len(r) == 12 and r[2] in ("K", "Weibull") for r in rows)
    header, rows = sm.member_table(members, inputs)
    assert "AT1_psi_plus_over_psi_c" not in header and header[-2:] == ["crack_phase_field", "message"]
    band = sm.paper_band(members, inputs)
    assert band[0]["phase_field"] is None
    assert "phase field" not in "\n".join(sm.band_text(band, inputs))
    assert "Phase field" not in sm.report(members, inputs)

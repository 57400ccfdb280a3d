"""O2 transport with escape and RuO2 capture (issue 4): closed forms, conservation,
capture limits, islands, case validation, outputs and MPI."""
import json
import math

import numpy as np
import pytest
from mpi4py import MPI
from scipy.integrate import trapezoid

from conftest import CASES, run_lrmo
from solver.physics import analytic
from solver.case.schema import load_case
from lrmo.cli import main
from solver.simulation.oxygen_simulation import OxygenSimulation
from solver.simulation.domain_setup import build_domain
from solver.simulation.run import run_case
from solver.simulation.run_oxygen import oxygen_domain

R, D = 150e-9, 1e-17
COARSE_3D = ["mesh.surface=10 nm", "mesh.bulk=25 nm"]


def simulate(name: str, overrides=()):
    """Run a case in-process; returns (case, sim, {t: timeseries row})."""
    case = load_case(CASES / f"{name}.yaml", list(overrides))
    domain, coverage = oxygen_domain(case, build_domain(case, MPI.COMM_WORLD))
    sim = OxygenSimulation(case, domain, coverage)
    rows = {}
    sim.run(lambda t, s: rows.__setitem__(t, s.scalars(t)))
    return case, sim, rows


# -- the closed forms themselves -----------------------------------------------------------


def test_robin_roots_match_cranks_table():
    # Crank, The Mathematics of Diffusion, Table 6.2 (b cot b + L - 1 = 0)
    assert analytic.robin_roots(0.5, 1)[0] == pytest.approx(1.1656, abs=1e-4)
    assert analytic.robin_roots(1.0, 1)[0] == pytest.approx(math.pi / 2, abs=1e-9)
    assert analytic.robin_roots(5.0, 1)[0] == pytest.approx(2.5704, abs=1e-4)
    assert analytic.robin_roots(10.0, 1)[0] == pytest.approx(2.8363, abs=1e-4)


def test_crank_sink_series_matches_its_short_time_limit_and_the_robin_limit():
    tau = 1e-3
    short = 6 * math.sqrt(tau / math.pi) - 3 * tau  # Crank (6.21), small tau
    assert analytic.sink_fraction_lost(tau * R**2 / D, R, D, terms=2000) == pytest.approx(short, rel=1e-6)
    t = 0.1 * R**2 / D
    assert analytic.robin_fraction_lost(t, R, D, 1e4 * D / R) == pytest.approx(
        analytic.sink_fraction_lost(t, R, D), rel=1e-3)
    r = np.linspace(0, R, 2001)
    c = analytic.robin_sphere(r, t, R, D, 5 * D / R, 1.0, 0.0)
    mean = trapezoid(c * 3 * r**2, r) / R**3
    assert 1 - mean == pytest.approx(analytic.robin_fraction_lost(t, R, D, 5 * D / R), rel=1e-5)


# -- solver against Crank --------------------------------------------------------------------


def test_perfect_sink_matches_crank_in_1d():
    case, sim, rows = simulate("verify_o2_sink_radial")
    for t, row in rows.items():
        if t > 0:
            exact = 1 - analytic.sink_fraction_lost(t, R, D)
            assert abs(row["mobile_fraction"] - exact) < 1e-3


@pytest.mark.parametrize("name,L", [("verify_o2_escape_L0.5_radial", 0.5), ("verify_o2_escape_L5_radial", 5.0)])
def test_robin_escape_matches_crank_in_1d(name, L):
    case, sim, rows = simulate(name)
    k = case.oxygen.surfaces["outer_surface"].rate.si
    assert k * R / D == pytest.approx(L, rel=1e-6)
    for t, row in rows.items():
        if t > 0:
            exact = 1 - analytic.robin_fraction_lost(t, R, D, k)
            assert abs(row["mobile_fraction"] - exact) < 1e-3
    r = sim.domain.msh.geometry.x[:, 0]
    exact = analytic.robin_sphere(r, case.oxygen.end_time.si, R, D, k, 1000.0, 0.0)
    assert np.max(np.abs(sim.transport.c.x.array - exact)) < 1e-3 * 1000


def test_robin_escape_matches_crank_on_the_3d_octant():
    case, sim, rows = simulate("verify_o2_escape_L5_octant")
    k = case.oxygen.surfaces["outer_surface"].rate.si
    for t, row in rows.items():
        if t > 0:
            assert abs(row["mobile_fraction"] - (1 - analytic.robin_fraction_lost(t, R, D, k))) < 1e-2


# -- capture limits and the ledger -------------------------------------------------------------


def test_capture_with_zero_capacity_equals_escape_in_1d():
    _, capture, rows_c = simulate("verify_o2_capture_zero_capacity_radial")
    _, escape, rows_e = simulate("verify_o2_escape_L5_radial")
    assert np.allclose(capture.transport.c.x.array, escape.transport.c.x.array, rtol=1e-12, atol=1e-9)
    assert capture.ledger()["captured_mol"] == 0.0


def test_islands_with_zero_capacity_and_pass_through_equal_escape_everywhere():
    k = "3.3333e-10 m/s"
    islands = ["oxygen.ruo2.capacity=0 mol/m^2", f"oxygen.surfaces.ruo2_islands.escape_rate={k}",
               f"oxygen.surfaces.outer_surface={{kind: escape, rate: {k}}}", "oxygen.end_time=5 min",
               "output.times={values: [300]}", *COARSE_3D]
    _, with_islands, _ = simulate("verify_o2_capture_irreversible_octant",
                                  islands + ["oxygen.source.rate=0 mol/m^3/s"])
    assert with_islands.capture_coverage > 0.1
    plain = ["oxygen.islands=null", "oxygen.surfaces={outer_surface: {kind: escape, rate: " + k + "}}",
             "oxygen.end_time=5 min", "output.times={values: [300]}", "oxygen.source.rate=0 mol/m^3/s",
             *COARSE_3D]
    _, escape, _ = simulate("verify_o2_capture_irreversible_octant", plain)
    assert np.allclose(with_islands.transport.c.x.array, escape.transport.c.x.array, rtol=1e-10, atol=1e-8)


def test_oxygen_mass_is_conserved_with_irreversible_ruo2_capture():
    case, sim, rows = simulate("verify_o2_capture_irreversible_octant", COARSE_3D)
    final = rows[max(rows)]
    supplied = sim.initial_mol + final["generated_mol"]
    assert final["generated_mol"] > 0.2 * sim.initial_mol  # the source did work
    assert final["captured_mol"] > 0.1 * supplied  # and the RuO2 did capture
    assert final["mobile_mol"] + final["captured_mol"] == pytest.approx(supplied, rel=1e-12)
    assert final["escaped_mol"] == 0.0


def test_ledger_closes_to_round_off_with_reversible_capture_return_and_source():
    overrides = ["oxygen.ruo2.adsorption_energy=-0.484 eV", "oxygen.ruo2.return_rate=1e-3 1/s",
                 "oxygen.ruo2.capacity=2e-6 mol/m^2",
                 "oxygen.source={rate: 1 mol/m^3/s, start: 1 min, end: 5 min}",
                 "oxygen.surfaces.outer_surface.escape_rate=1e-10 m/s"]
    case, sim, rows = simulate("verify_o2_capture_zero_capacity_radial", overrides)
    assert sim.transport.k_d > 1e4  # fast desorption: stable with the implicit update
    final = rows[max(rows)]
    assert final["returned_mol"] > 0 and final["escaped_mol"] > 0 and final["captured_mol"] > 0
    assert sim.max_ledger_error_mol / (sim.initial_mol + final["generated_mol"]) < 1e-12
    gamma = sim.transport.gamma.x.array
    assert gamma.min() >= 0 and gamma.max() <= sim.transport.capacity_mol_m2 * (1 + 1e-6)


def test_ruo2_shell_saturates_and_then_blocks_escape():
    case, sim, rows = simulate("ru1_o2", ["geometry.shape=radial", "mesh.surface=1 nm", "mesh.bulk=5 nm",
                                             "oxygen.diffusivity=1e-17 m^2/s"])  # D t/R^2 ~ 1
    final = rows[max(rows)]
    capacity = sim.transport.capacity_mol_m2 * 4 * math.pi * R**2
    assert final["captured_mol"] == pytest.approx(capacity, rel=1e-3)
    assert final["escaped_mol"] == 0.0
    assert final["uniformity"] < 1e-3
    assert final["mobile_fraction"] == pytest.approx(1 - capacity / sim.initial_mol, rel=1e-3)


def test_ruo2_capacity_follows_the_loading_and_coverage():
    ruo2 = load_case(CASES / "ru1_o2.yaml").oxygen.ruo2
    w, rho, M = 0.0046, 4300.0, 0.13307
    n_ru = w / (1 - w) * rho * 4 / 3 * math.pi * R**3 / M
    assert ruo2.capacity_mol_m2(R, 1.0) == pytest.approx(n_ru / (4 * math.pi * R**2), rel=1e-9)
    assert ruo2.capacity_mol_m2(R, 0.25) == pytest.approx(4 * ruo2.capacity_mol_m2(R, 1.0))
    assert ruo2.desorption_rate_1_s() < 1e-12  # -1.497 eV: irreversible at room temperature


# -- islands ---------------------------------------------------------------------------------------


def test_islands_cover_the_requested_fraction_reproducibly():
    from solver.physics.islands import covered_fraction, island_centres, tag_islands

    case = load_case(CASES / "ru1_islands_o2.yaml", COARSE_3D)
    domain = build_domain(case, MPI.COMM_WORLD)
    isl = case.oxygen.islands
    centres = island_centres(isl.count, "fibonacci", shape="octant")
    assert np.array_equal(centres, island_centres(isl.count, "fibonacci", shape="octant"))
    assert np.array_equal(island_centres(10, "random", 7), island_centres(10, "random", 7))
    tagged = tag_islands(domain, centres, isl.angular_radius_rad())
    assert covered_fraction(tagged) == pytest.approx(0.3, abs=0.06)


# -- case files, outputs, MPI --------------------------------------------------------------------

BAD = [
    ("oxygen.diffusivity=-1e-17 m^2/s", "oxygen.diffusivity"),
    ("oxygen.diffusivity=1e-17 m/s", "oxygen.diffusivity"),
    ("oxygen.surfaces.outer_surface.kind=teleport", "oxygen.surfaces.outer_surface.kind"),
    ("oxygen.surfaces.lid={kind: sink}", "oxygen.surfaces"),
    ("oxygen.ruo2.adsorption_energy=1 eV", "oxygen.ruo2.adsorption_energy"),
    ("oxygen.ruo2.loading_wt_percent=120", "oxygen.ruo2.loading_wt_percent"),
    ("oxygen.ruo2=null", "oxygen.ruo2"),
    ("oxygen.time_step=0 s", "oxygen.time_step"),
    ("physics=[lithium, oxygen]", "materials"),
    ("oxygen=null", "oxygen"),
]


@pytest.mark.parametrize("override,key_path", BAD, ids=[b for b, _ in BAD])
def test_bad_oxygen_input_is_refused_with_its_key_path(override, key_path, capsys):
    assert main(["validate", str(CASES / "ru1_o2.yaml"), "--set", override]) == 2
    err = capsys.readouterr().err
    assert key_path in err and "Traceback" not in err


def test_islands_need_a_3d_mesh(capsys):
    assert main(["validate", str(CASES / "ru1_islands_o2.yaml"), "--set", "geometry.shape=radial"]) == 2
    assert "oxygen.islands" in capsys.readouterr().err


def test_oxygen_run_writes_ledger_maps_and_fields(tmp_path):
    from solver.studies.o2_maps import render_side_by_side

    case = load_case(CASES / "ru1_islands_o2.yaml", COARSE_3D)
    summary = run_case(case, tmp_path / "ru1")
    assert summary["status"] == "completed"
    o = summary["oxygen"]
    assert abs(o["ledger_closure_error_relative"]) < 1e-12
    header = (tmp_path / "ru1" / "timeseries.csv").read_text().splitlines()[0].split(",")
    for col in ("mobile_mol", "captured_mol", "escaped_mol", "returned_mol", "generated_mol",
                "retained_fraction", "uniformity"):
        assert col in header
    assert (tmp_path / "ru1" / "profiles.csv").read_text().startswith("t_s,r_m,c_O2_mol_m3")
    assert (tmp_path / "ru1" / "fields" / "fields.xdmf").exists()
    radial = load_case(CASES / "pristine_o2.yaml", ["geometry.shape=radial", "mesh.surface=2 nm", "mesh.bulk=5 nm"])
    assert run_case(radial, tmp_path / "pristine")["status"] == "completed"
    png = render_side_by_side({"pristine (1D)": tmp_path / "pristine", "Ru-1 islands": tmp_path / "ru1"},
                              tmp_path / "maps.png")
    assert png.stat().st_size > 10000


def test_two_ranks_give_the_serial_oxygen_summary(tmp_path):
    args = ["run", str(CASES / "ru1_islands_o2.yaml"), "--quiet", *sum((["--set", o] for o in COARSE_3D), [])]
    for n in (1, 2):
        proc = run_lrmo([*args, "--out", str(tmp_path / f"n{n}")], n_ranks=n)
        assert proc.returncode == 0, proc.stderr
    serial, parallel = (json.loads((tmp_path / f"n{n}" / "summary.json").read_text())["oxygen"] for n in (1, 2))
    for key in ("mobile_mol", "captured_mol", "escaped_mol", "retained_fraction", "uniformity"):
        assert parallel[key] == pytest.approx(serial[key], rel=1e-6)

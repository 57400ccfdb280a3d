"""The pre-flight mesh estimate (meshes/estimate.py, solver/simulation/preflight.py): its integrals
against closed forms, its cell counts against real Gmsh meshes, and the refusal of a
case too large for the memory available."""
import math

import pytest

from conftest import CASES, run_lrmo
from meshes.estimate import (BOUNDARY_CELLS_PER_H2, BYTES_PER_RANK, BYTES_PER_STORED_VALUE,
                             grain_boundary_area_m2,
                             CELLS_PER_H3, coarsening_that_fits, estimate_cells, estimate_run,
                             history_bytes_per_rank, phase_field_bytes)
from meshes.particle import _particle_inputs, particle_model
from meshes.radial import radial_model
from solver.case.schema import load_case
from meshes.gmsh_io import gmsh_session
from solver.simulation.preflight import case_estimate, mesh_inputs, refusal, stored_steps

NM = 1e-9
R = 150 * NM
OCTANT = str(CASES / "verify_galvanostatic_octant.yaml")


def inputs(shape="octant", layer=0.0, surface=None, bulk=None, radius=R):
    return _particle_inputs(radius, layer, 0.0, shape=shape, size_surface_m=surface,
                            size_bulk_m=bulk)


def test_uniform_size_integrals_match_the_closed_form():
    """With surface = bulk = h and no interfaces the size field is uniform: cells =
    C V/h^3 + B A/h^2 with V and A of the octant (its boundary: an eighth of the sphere
    and 3 quarter discs)."""
    h = 10 * NM
    volume = math.pi * R**3 / 6
    area = math.pi * R**2 / 2 + 3 * math.pi * R**2 / 4
    expected = CELLS_PER_H3 * volume / h**3 + BOUNDARY_CELLS_PER_H2 * area / h**2
    assert estimate_cells(inputs(surface=h, bulk=h)) == pytest.approx(expected, rel=1e-4)
    sphere = CELLS_PER_H3 * 8 * volume / h**3 + BOUNDARY_CELLS_PER_H2 * 4 * math.pi * R**2 / h**2
    assert estimate_cells(inputs("sphere", surface=h, bulk=h)) == pytest.approx(sphere, rel=1e-4)


def test_cells_scale_as_h_to_the_minus_3_under_uniform_refinement():
    """Halving every size multiplies the cells by 8 in the limit (the boundary layer,
    ~h^-2, fades): the ratio rises toward 8 and is within 5 % of it at fine sizes."""
    ratios = []
    for h in (20 * NM, 10 * NM, 5 * NM, 2.5 * NM, 1.25 * NM):
        coarse, fine = (estimate_cells(inputs(surface=s, bulk=s)) for s in (h, h / 2))
        ratios.append(fine / coarse)
    assert all(a < b < 8 for a, b in zip(ratios, ratios[1:]))
    assert ratios[-1] == pytest.approx(8, rel=0.05)


@pytest.mark.parametrize("shape, layer, surface, bulk", [
    ("octant", 20 * NM, None, None),  # the 3D defaults
    ("octant", 0.0, 6 * NM, 12 * NM),
    ("sphere", 30 * NM, 10 * NM, 25 * NM),
    ("octant", 20 * NM, 3 * NM, 10 * NM),
])
def test_estimate_is_within_30_percent_of_gmsh(shape, layer, surface, bulk):
    with gmsh_session("estimate"):
        info = particle_model(R, layer, 0.0, shape=shape, size_surface_m=surface,
                              size_bulk_m=bulk)
    estimate = estimate_cells(inputs(shape, layer, surface, bulk))
    assert estimate == pytest.approx(info["num_cells"], rel=0.3)


def test_radial_estimate_counts_the_intervals():
    sizes = dict(size_surface_m=0.5 * NM, size_bulk_m=3 * NM)
    with gmsh_session("estimate"):
        info = radial_model(R, 20 * NM, 0.0, **sizes)
    estimate = estimate_cells(_particle_inputs(R, 20 * NM, 0.0, shape="octant", **sizes)
                              | {"shape": "radial"})
    assert estimate == pytest.approx(info["num_cells"], rel=0.1)


def test_default_sizes_follow_the_shape():
    """A case without mesh sizes: 1D defaults are much finer than 3D ones, and the 3D
    defaults make a mesh of tens of thousands of cells, not millions."""
    radial, octant = (mesh_inputs(load_case(OCTANT, [f"geometry.shape={s}", "mesh={}"]))
                      for s in ("radial", "octant"))
    assert radial["size_surface_m"] < octant["size_surface_m"] / 5
    assert radial["size_bulk_m"] < octant["size_bulk_m"] / 5
    assert 1e4 < estimate_cells(octant) < 2e5


def test_memory_grows_with_refinement_and_mechanics():
    coarse, fine = (estimate_run(inputs(surface=s, bulk=2 * s)) for s in (8 * NM, 4 * NM))
    assert fine.memory_bytes > 4 * (coarse.memory_bytes - BYTES_PER_RANK)
    no_mechanics = estimate_run(inputs(surface=4 * NM, bulk=8 * NM), mechanics=False)
    assert no_mechanics.p2_dofs == 0 and no_mechanics.memory_bytes < fine.memory_bytes
    two = estimate_run(inputs(surface=4 * NM, bulk=8 * NM), ranks=2)
    assert two.memory_per_rank_bytes < fine.memory_per_rank_bytes < two.memory_bytes


def test_memory_above_the_fixed_cost_is_linear_in_the_cells():
    """Halving every size multiplies cells and dofs by about 8; the memory above the
    per-rank cost (no stored history) scales with the cell count exactly."""
    runs = [estimate_run(inputs(surface=s, bulk=2 * s)) for s in (8 * NM, 4 * NM)]
    per_cell = [(e.memory_bytes - BYTES_PER_RANK) / e.cells for e in runs]
    assert per_cell[1] == pytest.approx(per_cell[0], rel=1e-12)


def test_stored_history_grows_with_the_steps_up_to_the_cap():
    step = BYTES_PER_STORED_VALUE * 1000
    assert history_bytes_per_rank(1000, 0, math.inf) == 0
    assert history_bytes_per_rank(1000, 10, math.inf) == 10 * step
    assert history_bytes_per_rank(1000, 2e5, 100 * step) == 100 * step
    assert history_bytes_per_rank(1000, 2e5, step) == 64 * step  # never fewer than 64 steps
    base = estimate_run(inputs(surface=4 * NM, bulk=8 * NM))
    longer = estimate_run(inputs(surface=4 * NM, bulk=8 * NM), history_steps=100)
    assert longer.memory_per_rank_bytes - base.memory_per_rank_bytes == pytest.approx(
        100 * BYTES_PER_STORED_VALUE * base.p1_dofs)


def test_the_phase_field_adds_its_solves_in_3d_and_nothing_in_1d():
    """The 3D phase field's LU (one-way: 3 p1 displacement dofs) or, two-way, a second
    set of the mechanics' P2 solver data plus the damage's LU: added to the solve's
    share; the 1D phase field's few hundred dofs are not counted."""
    octant = inputs(surface=4 * NM, bulk=8 * NM)
    base = estimate_run(octant)
    for coupling in ("one_way", "two_way"):
        with_it = estimate_run(octant, phase_field=coupling)
        assert with_it.memory_bytes - base.memory_bytes == pytest.approx(
            phase_field_bytes(base.p1_dofs, base.p2_dofs, two_way=coupling == "two_way"), rel=1e-12)
    radial = inputs(surface=1 * NM, bulk=3 * NM) | {"shape": "radial"}
    assert estimate_run(radial, phase_field="one_way").memory_bytes == estimate_run(radial).memory_bytes
    two = [estimate_run(octant, phase_field="one_way", ranks=n) for n in (1, 2)]
    assert two[1].memory_per_rank_bytes < two[0].memory_per_rank_bytes  # the LU is shared out


def test_a_fracture_case_is_estimated_with_its_phase_field():
    case = load_case(str(CASES / "pristine_fracture_octant.yaml"))
    without = load_case(str(CASES / "pristine_fracture_octant.yaml"),
                        ["physics=[lithium, mechanics]", "fracture=null"])
    extra = case_estimate(case, 1).memory_bytes - case_estimate(without, 1).memory_bytes
    e = case_estimate(case, 1)
    assert extra == pytest.approx(phase_field_bytes(e.p1_dofs, e.p2_dofs), rel=1e-9)
    two_way = load_case(str(CASES / "pristine_fracture_octant.yaml"), ["fracture.coupling=two_way"])
    assert case_estimate(two_way, 1).memory_bytes > case_estimate(without, 1).memory_bytes


def test_history_is_counted_only_when_the_peak_search_stores_it():
    stress = str(CASES / "ru1_stress_octant.yaml")
    one_way = load_case(stress)
    assert stored_steps(one_way) > 0
    for change in ("mechanics.stress_assisted_diffusion=true", "mechanics.stress_every_steps=5",
                   "mechanics.peak_over_time=false"):
        assert stored_steps(load_case(stress, [change])) == 0
    assert stored_steps(load_case(stress, ["physics=[lithium]"])) == 0
    finer_steps = load_case(stress, ["time_stepping.max_change_per_step=0.001"])
    assert stored_steps(finer_steps) == pytest.approx(2 * stored_steps(one_way))
    assert (case_estimate(finer_steps, 1).memory_bytes > case_estimate(one_way, 1).memory_bytes)


def test_the_suggested_coarsening_is_the_smallest_that_fits():
    start = inputs(surface=1 * NM, bulk=2 * NM)
    limit = 2e9

    def fits(trial):
        return estimate_run(trial).memory_bytes <= limit

    s = coarsening_that_fits(start, fits)
    assert s > 1
    scale = ("size_bulk_m", "size_surface_m", "size_interface_m")
    assert fits({**start, **{k: start[k] * s for k in scale}})
    assert not fits({**start, **{k: start[k] * s * 0.98 for k in scale}})


def test_refusal_names_the_keys_and_a_size_that_fits():
    case = load_case(OCTANT, ["mesh.surface=0.5 nm", "mesh.bulk=1 nm"])
    message = refusal(case, mesh_inputs(case), ranks=1, ranks_on_node=1, available=4e9)
    assert "mesh.surface" in message and "mesh.bulk" in message and "--force-large" in message
    assert refusal(case, mesh_inputs(case), ranks=1, ranks_on_node=1, available=1e15) is None


def test_a_huge_case_is_refused_with_exit_2_and_force_large_overrides(tmp_path):
    huge = ["--set", "mesh.surface=0.1 nm", "--set", "mesh.bulk=0.2 nm"]
    for command in (["validate", OCTANT], ["run", OCTANT, "--out", str(tmp_path / "r")],
                    ["mesh", OCTANT, "--out", str(tmp_path / "m")]):
        proc = run_lrmo([*command, *huge])
        assert proc.returncode == 2, proc.stderr
        assert "mesh.surface" in proc.stderr and "Traceback" not in proc.stderr
        assert "pre-flight estimate (octant)" in proc.stdout + proc.stderr
    assert not (tmp_path / "m").exists() and not (tmp_path / "r").exists()
    proc = run_lrmo(["validate", OCTANT, *huge, "--force-large"])
    assert proc.returncode == 0, proc.stderr


def test_grain_boundaries_add_cells_to_a_secondary_particle():
    """A secondary particle's Voronoi faces are meshed: more grains, more cells at the same
    sizes (Gmsh, 50 grains of R = 2 um at 150 nm: 56.6k tets; the sphere alone counts
    39k; docs/meshes.md)."""
    secondary = load_case(CASES / "secondary_50grains.yaml")
    cells = {n: estimate_cells({**mesh_inputs(secondary), "grain_count": n}) for n in (1, 50, 100)}
    assert cells[1] < cells[50] < cells[100]
    assert cells[50] == pytest.approx(56631, rel=0.15)
    assert grain_boundary_area_m2(2e-6, 50) == pytest.approx(8.91e-11, rel=0.1)  # Gmsh's faces


def test_a_flat_platelet_counts_the_cells_of_its_own_depth_profile():
    """The platelet's refined band (to the layer depth, then graded) holds a larger share
    of its volume than in the sphere of the same 3 V / A: its estimate is higher, and
    within 15 % of Gmsh's 160,632 tets for cases/platelet_stress.yaml (the sphere's size
    field scaled by area, before: 107k)."""
    case = load_case(CASES / "platelet_stress.yaml")
    platelet = mesh_inputs(case)
    sphere_like = {k: v for k, v in platelet.items() if k != "inradius_m"}
    assert estimate_cells(platelet) > 1.05 * estimate_cells(sphere_like)
    assert estimate_cells(platelet) == pytest.approx(160632, rel=0.15)


def test_a_shortened_first_charge_stores_fewer_steps():
    """--set protocol.end_time shortens the charge: fewer stored steps (about
    (t / t_f)^0.6 of them), the whole charge's once the floor is reached."""
    case = str(CASES / "pristine_stress_octant.yaml")
    steps = [stored_steps(load_case(case, [f"protocol.end_time={t} min"])) for t in (5, 10, 60, 200, 400)]
    assert steps[0] < steps[1] < steps[2] < steps[3] == steps[4]
    assert steps[2] < stored_steps(load_case(case)) <= steps[3]  # the case's 75 min
    assert steps[1] == pytest.approx(0.3 * steps[3], rel=0.15)  # 311 of ~1060 measured

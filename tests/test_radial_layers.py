"""A radially layered outer shell (mesh.radial_layers; meshes/particle.py
`_layered_particle_model`): N element layers of prisms split into tets across the outer
depth D, for the radially steep solution of a thin layer (docs/meshes.md; issue 18). The
mesh has the N + 1 node spheres it was asked for, conforming cells and facets with the
tags of the unlayered builder, and its peak stress converges to the closed form as N grows."""
import math

import dolfinx
import numpy as np
import pytest
from mpi4py import MPI

from conftest import CASES
from meshes.estimate import estimate_cells
from meshes.markers import CELL_TAGS, FACET_TAGS
from meshes.particle import build_and_load
from meshes.sizes import checked_inputs, region_radii, shell_radii, surface_radii
from solver import compat
from solver.case.schema import CaseError, load_case
from solver.simulation.chemomechanics import ChemoMechanics
from solver.simulation.domain_setup import build_domain
from test_meshes import FRACTION, integral, relative_volume_errors
from test_peak_recovery import DTHETA, closed_form_peak

COMM = MPI.COMM_WORLD
R, DELTA, T = 150e-9, 4.5e-9, 1.5e-9  # a layer and a coating: three regions in the shell
LAYERS = {"count": 12, "depth_m": 10e-9}
SIZES = dict(size_surface_m=12e-9, size_bulk_m=30e-9)
TOL = 1e-9 * R


@pytest.fixture(scope="module", params=["octant", "sphere"])
def layered(request):
    shape = request.param
    msh, cell_tags, facet_tags, info = build_and_load(R, DELTA, T, shape=shape, radial_layers=LAYERS, **SIZES)
    return shape, msh, cell_tags, facet_tags, info


def vertex_radii(msh) -> np.ndarray:
    return np.linalg.norm(msh.geometry.x, axis=1)


def test_shell_radii_put_a_node_sphere_on_every_interface_and_grade_away_from_them():
    inputs = checked_inputs(R, DELTA, T, radial_layers=LAYERS, **SIZES)
    radii = shell_radii(inputs)
    assert len(radii) == LAYERS["count"] + 1
    assert radii[0] == pytest.approx(R - LAYERS["depth_m"]) and radii[-1] == R
    assert np.all(np.diff(radii) > 0)
    steps = np.diff(radii)
    for r in surface_radii(R, DELTA, T).values():
        k = int(np.argmin(np.abs(radii - r)))
        assert radii[k] == pytest.approx(r, rel=1e-12)
    inner_edge = int(np.argmin(np.abs(radii - (R - DELTA - T))))
    assert steps[inner_edge - 1] < steps[0]  # thinnest next to the interface, not at the shell's base


def test_the_shell_has_the_requested_number_of_node_spheres_at_the_requested_radii(layered):
    shape, msh, *_ = layered
    r = vertex_radii(msh)
    in_shell = np.concatenate(COMM.allgather(r[r >= R - LAYERS["depth_m"] - TOL]))
    distinct = np.unique(np.round(in_shell / TOL))
    assert len(distinct) == LAYERS["count"] + 1
    expected = shell_radii(checked_inputs(R, DELTA, T, radial_layers=LAYERS, shape=shape, **SIZES))
    assert np.allclose(np.sort(distinct) * TOL, expected, rtol=0, atol=2 * TOL)


def test_every_cell_lies_in_the_region_it_is_tagged_with(layered):
    """All four vertices of a cell tagged `region` lie between its radii (exact: the
    shell's vertices are on the node spheres), and the region volumes are the shells'."""
    shape, msh, cell_tags, _, info = layered
    r = vertex_radii(msh)
    outer = region_radii(R, DELTA, T)
    inner = dict(zip(outer, [0.0, *list(outer.values())[:-1]]))
    geometry_of = compat.geometry_cells(msh)
    for region, tag in CELL_TAGS.items():
        if region not in outer:
            continue
        radii = r[geometry_of[cell_tags.indices[cell_tags.values == tag]]]
        assert np.all(radii >= inner[region] - TOL) and np.all(radii <= outer[region] + TOL), region
    errors = relative_volume_errors(msh, cell_tags, R, DELTA, T, shape)
    assert all(abs(e) < 0.01 for e in errors.values()), errors


def test_every_exterior_facet_is_tagged_and_the_shell_is_conforming(layered):
    """A prism split that did not match its neighbour's would leave interior faces seen
    from one side only: exterior facets inside the particle, untagged."""
    shape, msh, _, facet_tags, _ = layered
    fdim = 2
    msh.topology.create_connectivity(fdim, 3)
    owned = msh.topology.index_map(fdim).size_local
    exterior = dolfinx.mesh.exterior_facet_indices(msh.topology)
    exterior = exterior[exterior < owned]
    midpoints = dolfinx.mesh.compute_midpoints(msh, fdim, exterior)
    on_plane = (np.abs(midpoints) < 1e-6 * R) & (shape == "octant")
    expected = np.where(on_plane.any(axis=1),
                        np.array([FACET_TAGS[f"symmetry_{a}"] for a in "xyz"])[np.argmax(on_plane, axis=1)],
                        FACET_TAGS["outer_surface"])
    tagged = dict(zip(facet_tags.indices, facet_tags.values))
    wrong = [(tagged.get(f), e, m) for f, e, m in zip(exterior, expected, midpoints) if tagged.get(f) != e]
    assert not wrong, wrong[:5]
    assert np.all(np.abs(np.linalg.norm(midpoints[~on_plane.any(axis=1)], axis=1) / R - 1) < 0.01)
    assert integral(msh, "ds", facet_tags, FACET_TAGS["outer_surface"]) == pytest.approx(
        FRACTION[shape] * 4 * math.pi * R**2, rel=0.01)
    for name, r in surface_radii(R, DELTA, T).items():
        if name != "outer_surface":
            area = integral(msh, "dS", facet_tags, FACET_TAGS[name])
            assert area == pytest.approx(FRACTION[shape] * 4 * math.pi * r**2, rel=0.01), name
    if shape == "octant":
        for plane in ("symmetry_x", "symmetry_y", "symmetry_z"):
            area = integral(msh, "ds", facet_tags, FACET_TAGS[plane])
            assert area == pytest.approx(math.pi * R**2 / 4, rel=0.01), plane


def test_the_estimate_counts_the_layered_cells(layered):
    shape, *_, info = layered
    inputs = {"shape": shape, **checked_inputs(R, DELTA, T, radial_layers=LAYERS, shape=shape, **SIZES)}
    assert estimate_cells(inputs) == pytest.approx(info["num_cells"], rel=0.1)


@pytest.mark.parametrize("override, words", [
    ("mesh.radial_layers.count=1", ["mesh.radial_layers.count", "[2, 1000]"]),
    ("mesh.radial_layers.depth=4 nm", ["mesh.radial_layers.depth", "> geometry.layer_thickness"]),
    ("mesh.radial_layers.depth=80 nm", ["mesh.radial_layers.depth", "<= geometry.radius / 2"]),
    ("mesh.interface=2 nm", ["mesh.interface", "not used with mesh.radial_layers"]),
    ("geometry.shape=radial", ["mesh.radial_layers", "only for the octant and the sphere"]),
])
def test_a_bad_radial_layers_key_is_refused_naming_it(override, words):
    with pytest.raises(CaseError) as error:
        load_case(CASES / "ru1_stress_octant.yaml", [override])
    assert all(w in str(error.value) for w in words), str(error.value)


def test_the_peak_of_a_uniform_change_converges_with_the_radial_layers():
    """Uniform site-fraction change on the Ru-1 octant (4.5 nm erfc c_max(r)): the stress
    peaks at the surface in closed form; the recovered peak's error falls as the shell's
    layers grow from 3 to 12 under coarse 10 nm triangles (measured: 4.7 % and 2.5 % low).
    What is left at 12 is the faceting of the 10 nm triangles, not the layers: 24 layers
    give 2.5 % too, 12 layers under 5 nm triangles 0.5 % (too slow for this test). ~15 s."""
    errors = []
    for count in (3, 12):
        case = load_case(CASES / "ru1_stress_octant.yaml",
                         ["mesh.surface=10 nm", "mesh.bulk=25 nm", f"mesh.radial_layers.count={count}",
                          "mesh.radial_layers.depth=9 nm", "output.fields=false"])
        model = ChemoMechanics(case, build_domain(case, COMM))  # its theta: uniform
        model.lithium.theta.x.array[:] = case.lithium.initial_site_fraction.si + DTHETA
        mechanics = model.mechanics
        mechanics.solve()
        exact, _ = closed_form_peak(model.materials, case, model.domain.radius_m)
        peak = mechanics.peak_von_mises()
        assert peak["location"] == "surface"
        errors.append(abs(peak["value_Pa"] / exact - 1))
        mechanics.destroy()
    print(f"\nrecovered peak error, 3 and 12 radial layers: {errors[0]:.2%}, {errors[1]:.2%}")
    assert errors[1] < 0.7 * errors[0]
    assert errors[1] < 0.03

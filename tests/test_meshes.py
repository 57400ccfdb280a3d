"""Claims about the particle meshes: regions, surfaces and tags are where the geometry
says, in metres, in serial and under mpirun.

Test particle: R = 150 nm, Li-deficient layer δ = 20 nm, RuO2 coating t = 5 nm, default
sizes (5 nm at the surface and interfaces, R/8 in the core) unless a test says otherwise.
Volumes and areas are assembled in DOLFINx and summed over ranks.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import dolfinx
import gmsh
import numpy as np
import pytest
import ufl
from mpi4py import MPI

from meshes.markers import CELL_TAGS, FACET_TAGS
from meshes.particle import build_and_load, build_particle, region_radii, surface_radii
from meshes.radial import build_radial
from solver import compat
from meshes.gmsh_io import INFO_FILE, MESH_FILE
from solver.io.mesh_io import read_particle_mesh

COMM = MPI.COMM_WORLD
R, DELTA, T = 150e-9, 20e-9, 5e-9
COARSE = dict(size_surface_m=10e-9, size_bulk_m=30e-9)  # with δ = 30 nm, t = 10 nm
FRACTION = {"octant": 1 / 8, "sphere": 1.0}


def integral(msh, measure_name: str, tags, tag: int) -> float:
    """∫ 1 over the cells or facets tagged `tag`, summed over ranks."""
    measure = ufl.Measure(measure_name, domain=msh, subdomain_data=tags)
    one = dolfinx.fem.Constant(msh, compat.scalar_type(1.0))
    local = dolfinx.fem.assemble_scalar(dolfinx.fem.form(one * measure(tag)))
    return COMM.allreduce(local, op=MPI.SUM)


def exact_region_volumes(radius, delta, t, fraction) -> dict[str, float]:
    volumes, inner = {}, 0.0
    for region, outer in region_radii(radius, delta, t).items():
        volumes[region] = fraction * 4 / 3 * math.pi * (outer**3 - inner**3)
        inner = outer
    return volumes


def relative_volume_errors(msh, cell_tags, radius, delta, t, shape) -> dict[str, float]:
    exact = exact_region_volumes(radius, delta, t, FRACTION[shape])
    return {region: integral(msh, "dx", cell_tags, CELL_TAGS[region]) / v - 1
            for region, v in exact.items()}


@pytest.fixture(scope="module")
def shared_dir(tmp_path_factory) -> Path:
    """One directory for all ranks: rank 0 writes, every rank may read."""
    path = str(tmp_path_factory.mktemp("meshes")) if COMM.rank == 0 else None
    return Path(COMM.bcast(path, root=0))


@pytest.fixture(scope="module")
def octant_files(shared_dir):
    """The default test octant written to disk: (directory, returned info)."""
    out_dir = shared_dir / "octant"
    info = build_particle(R, DELTA, T, shape="octant", out_dir=out_dir)
    return out_dir, info


@pytest.fixture(scope="module")
def octant(octant_files):
    """The default test octant read back from mesh.msh: (mesh, cell_tags, facet_tags)."""
    out_dir, _ = octant_files
    return read_particle_mesh(out_dir / MESH_FILE, COMM)


@pytest.fixture(scope="module")
def coarse_pair():
    """Octant and full sphere of a thicker-shelled particle at the same coarse sizes."""
    return {shape: build_and_load(R, 30e-9, 10e-9, shape=shape, **COARSE)
            for shape in ("octant", "sphere")}


@pytest.fixture(scope="module")
def radial():
    return build_radial(R, DELTA, T, size_surface_m=2e-9, size_bulk_m=10e-9)


# --- 3D regions -------------------------------------------------------------------------

def test_region_volumes_match_exact_shell_volumes(octant):
    msh, cell_tags, _ = octant
    errors = relative_volume_errors(msh, cell_tags, R, DELTA, T, "octant")
    assert all(abs(e) < 0.01 for e in errors.values()), errors


def test_volume_error_shrinks_with_element_size():
    rows = []
    for size in (5e-9, 3.5e-9, 2.5e-9):
        msh, cell_tags, _, info = build_and_load(R, DELTA, T, size_surface_m=size)
        errors = relative_volume_errors(msh, cell_tags, R, DELTA, T, "octant")
        rows.append((size, info["num_cells"], errors))
    if COMM.rank == 0:
        print("\nrelative volume error of the default octant (R = 150 nm, δ = 20 nm, t = 5 nm)")
        print(f"{'size_surface [nm]':>17} {'cells':>7} {'core':>10} {'layer':>10} {'coating':>10}")
        for size, cells, e in rows:
            print(f"{size * 1e9:17.1f} {cells:7d} " +
                  " ".join(f"{e[region]:+10.2e}" for region in ("core", "layer", "coating")))
    for (_, _, coarse), (_, _, fine) in zip(rows, rows[1:]):
        for region in coarse:
            assert abs(fine[region]) < abs(coarse[region]), (region, rows)


def test_octant_is_one_eighth_of_the_sphere(coarse_pair):
    total = {}
    for shape, (msh, cell_tags, _, _) in coarse_pair.items():
        errors = relative_volume_errors(msh, cell_tags, R, 30e-9, 10e-9, shape)
        assert all(abs(e) < 0.01 for e in errors.values()), (shape, errors)
        total[shape] = sum(integral(msh, "dx", cell_tags, CELL_TAGS[r])
                           for r in region_radii(R, 30e-9, 10e-9))
    assert total["octant"] * 8 == pytest.approx(total["sphere"], rel=0.005)


def test_mesh_coordinates_are_in_metres(octant):
    msh = octant[0]
    local = np.max(np.linalg.norm(msh.geometry.x, axis=1)) if len(msh.geometry.x) else 0.0
    assert COMM.allreduce(local, op=MPI.MAX) == pytest.approx(R, rel=1e-9)


# --- surfaces -----------------------------------------------------------------------------

def test_every_exterior_facet_carries_the_tag_of_the_surface_it_lies_on(octant):
    """Facets on x = 0 are symmetry_x (etc.); every other exterior facet is outer_surface,
    and no facet off the boundary is tagged as one of them."""
    msh, _, facet_tags = octant
    fdim = msh.topology.dim - 1
    msh.topology.create_connectivity(fdim, msh.topology.dim)
    owned = msh.topology.index_map(fdim).size_local
    exterior = dolfinx.mesh.exterior_facet_indices(msh.topology)
    exterior = exterior[exterior < owned]
    midpoints = dolfinx.mesh.compute_midpoints(msh, fdim, exterior)
    on_plane = np.abs(midpoints) < 1e-6 * R
    expected = np.where(on_plane.any(axis=1),
                        np.array([FACET_TAGS[f"symmetry_{a}"] for a in "xyz"])[
                            np.argmax(on_plane, axis=1)],
                        FACET_TAGS["outer_surface"])
    boundary_tags = [FACET_TAGS[n] for n in ("outer_surface", "symmetry_x", "symmetry_y",
                                              "symmetry_z")]
    tagged = facet_tags.indices < owned
    tagged &= np.isin(facet_tags.values, boundary_tags)
    actual = dict(zip(facet_tags.indices[tagged], facet_tags.values[tagged]))
    assert len(actual) == len(exterior)
    assert all(actual.get(f) == e for f, e in zip(exterior, expected))
    radius = np.linalg.norm(midpoints[~on_plane.any(axis=1)], axis=1)
    assert np.all(np.abs(radius / R - 1) < 0.01)


@pytest.mark.parametrize("shape", ["octant", "sphere"])
def test_outer_surface_area_is_that_of_the_sphere(coarse_pair, shape):
    msh, _, facet_tags, _ = coarse_pair[shape]
    area = integral(msh, "ds", facet_tags, FACET_TAGS["outer_surface"])
    assert area == pytest.approx(FRACTION[shape] * 4 * math.pi * R**2, rel=0.01)


@pytest.mark.parametrize("plane", ["symmetry_x", "symmetry_y", "symmetry_z"])
def test_each_symmetry_plane_is_a_quarter_disc(octant, plane):
    msh, _, facet_tags = octant
    area = integral(msh, "ds", facet_tags, FACET_TAGS[plane])
    assert area == pytest.approx(math.pi * R**2 / 4, rel=0.01)


def test_interface_areas_are_those_of_their_spheres(octant):
    msh, _, facet_tags = octant
    for name, r in surface_radii(R, DELTA, T).items():
        if name == "outer_surface":
            continue
        area = integral(msh, "dS", facet_tags, FACET_TAGS[name])
        assert area == pytest.approx(4 * math.pi * r**2 / 8, rel=0.01), name


def test_without_a_layer_the_core_coating_interface_is_the_oxide_coating_interface():
    msh, cell_tags, facet_tags, info = build_and_load(R, 0.0, 10e-9, **COARSE)
    present = COMM.allreduce(set(facet_tags.values), op=MPI.BOR)
    assert FACET_TAGS["core_layer_interface"] not in present
    assert set(info["cell_tags"]) == {"core", "coating"}
    area = integral(msh, "dS", facet_tags, FACET_TAGS["oxide_coating_interface"])
    assert area == pytest.approx(4 * math.pi * (R - 10e-9) ** 2 / 8, rel=0.01)
    assert integral(msh, "dx", cell_tags, CELL_TAGS["layer"]) == 0.0


# --- inputs -----------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, argument", [
    (dict(radius_m=-150e-9), "radius_m"),
    (dict(layer_thickness_m=-1e-9), "layer_thickness_m"),
    (dict(layer_thickness_m=100e-9, coating_thickness_m=50e-9),
     "layer_thickness_m + coating_thickness_m"),
    (dict(size_surface_m=8e-9), "coating_thickness_m"),  # t = 5 nm < 8 nm
    (dict(layer_thickness_m=4e-9, coating_thickness_m=0.0, size_surface_m=5e-9),
     "layer_thickness_m"),
    (dict(size_bulk_m=300e-9), "size_bulk_m"),
    (dict(size_surface_m=0.0), "size_surface_m"),
    (dict(shape="cube"), "shape"),
])
def test_bad_inputs_raise_value_error_naming_the_argument(kwargs, argument):
    args = dict(radius_m=R, layer_thickness_m=DELTA, coating_thickness_m=T) | kwargs
    with pytest.raises(ValueError, match=argument.replace("+", r"\+")):
        build_particle(**args)


def test_radial_mesh_checks_its_inputs_like_the_particle():
    with pytest.raises(ValueError, match="radius_m"):
        build_radial(-R, DELTA, T)
    with pytest.raises(ValueError, match="coating_thickness_m"):
        build_radial(R, DELTA, T, size_surface_m=8e-9)


# --- files --------------------------------------------------------------------------------

def test_info_json_records_inputs_counts_and_quality(octant_files):
    out_dir, returned = octant_files
    info = json.loads((out_dir / INFO_FILE).read_text())
    assert info == returned
    given = {"shape": "octant", "radius_m": R, "layer_thickness_m": DELTA,
             "coating_thickness_m": T}
    assert {key: info["inputs"][key] for key in given} == given
    assert info["inputs"]["size_surface_m"] == pytest.approx(5e-9)  # default: min(R/30, t)
    assert info["inputs"]["size_bulk_m"] == pytest.approx(R / 8)
    assert info["gmsh_version"] == gmsh.__version__
    assert info["cells_per_region"].keys() == {"core", "layer", "coating"}
    assert all(n > 0 for n in info["cells_per_region"].values())
    assert info["num_nodes"] > 0
    assert 0 < info["min_quality_minSICN"] <= 1
    assert info["cell_tags"] == CELL_TAGS
    # ruo2_islands is tagged after meshing, in DOLFINx (solver/physics/islands.py);
    # grain_boundary only in secondary particles (meshes/secondary.py)
    assert info["facet_tags"] == {n: t for n, t in FACET_TAGS.items()
                                  if n not in ("centre", "ruo2_islands", "grain_boundary")}


def test_mesh_file_holds_every_cell_counted_in_info(octant, octant_files):
    _, info = octant_files
    msh = octant[0]
    cells = COMM.allreduce(msh.topology.index_map(3).size_local, op=MPI.SUM)
    assert cells == info["num_cells"]


def test_reading_a_missing_mesh_file_raises_on_every_rank(shared_dir):
    with pytest.raises(FileNotFoundError, match="no_such.msh"):
        read_particle_mesh(shared_dir / "no_such.msh", COMM)


def test_a_callers_gmsh_session_survives_a_build():
    gmsh.initialize()
    try:
        build_particle(R, 30e-9, 10e-9, **COARSE)
        assert gmsh.isInitialized()
    finally:
        gmsh.finalize()


# --- 1D radial mesh --------------------------------------------------------------------------

def test_radial_region_lengths_equal_shell_thicknesses(radial):
    msh, cell_tags, _, _ = radial
    inner = 0.0
    for region, outer in region_radii(R, DELTA, T).items():
        length = integral(msh, "dx", cell_tags, CELL_TAGS[region])
        assert length == pytest.approx(outer - inner, rel=1e-9), region
        inner = outer


def test_radial_facet_tags_sit_at_the_centre_interfaces_and_surface(radial):
    msh, _, facet_tags, _ = radial
    expected = {"centre": 0.0, **surface_radii(R, DELTA, T)}
    msh.topology.create_connectivity(0, 1)  # DOLFINx 0.9 needs it for vertex midpoints
    x = dolfinx.mesh.compute_midpoints(msh, 0, facet_tags.indices)[:, 0]
    found = COMM.allgather(list(zip(facet_tags.values, x)))
    positions = {}
    for tag, r in (pair for rank in found for pair in rank):
        positions.setdefault(int(tag), set()).add(round(r / R, 12))
    assert positions == {FACET_TAGS[n]: {round(r / R, 12)} for n, r in expected.items()}


def test_radial_mesh_has_a_node_at_every_interface_radius(radial):
    msh = radial[0]
    nodes = np.unique(np.concatenate(COMM.allgather(msh.geometry.x[:, 0])))
    for name, r in surface_radii(R, DELTA, T).items():
        assert np.min(np.abs(nodes - r)) < 1e-12 * R, name


def test_radial_cells_are_graded_toward_the_surface(radial):
    msh, _, _, info = radial
    nodes = np.unique(np.concatenate(COMM.allgather(msh.geometry.x[:, 0])))
    lengths = np.diff(nodes)
    assert lengths[-1] <= 1.01 * info["inputs"]["size_surface_m"]
    assert lengths.max() <= 1.01 * info["inputs"]["size_bulk_m"]
    assert lengths[0] > 3 * lengths[-1]


def test_radial_mesh_reads_back_from_its_file(shared_dir):
    out_dir = shared_dir / "radial"
    build_radial(R, DELTA, T, out_dir=out_dir)
    msh, cell_tags, _ = read_particle_mesh(out_dir / MESH_FILE, COMM, gdim=1)
    assert integral(msh, "dx", cell_tags, CELL_TAGS["coating"]) == pytest.approx(T, rel=1e-9)


def test_gmsh_expressions_take_numpy_floats_as_plain_numbers():
    """Gmsh's MathEval parser aborts the process on "np.float64(0.5)", numpy 2's repr of a
    numpy float (it did on Debian 13 for the layered shell's radii): numbers go in as the
    shortest repr of a plain float, which reads back exactly."""
    import numpy as np

    from meshes.gmsh_io import expression_number

    for value in (np.float64(0.1) / 3, np.float32(2.5), 7, 1e-9):
        text = expression_number(value)
        assert "np" not in text and "(" not in text
        assert float(text) == float(value)

"""The mesh cache (solver/io/mesh_cache.py): location and key, hits give the same mesh as
a fresh build, broken entries are rebuilt, and a cached mesh read on 2 ranks is the
whole mesh."""
import json
import sys

import numpy as np
import pytest
from mpi4py import MPI

from conftest import CASES, ROOT, mpi_env, run_lrmo
from solver.io import mesh_cache
from solver.io.mesh_cache import MANIFEST, cache_key, cache_root, entry_is_valid
from solver.simulation.domain_setup import particle_mesh

COMM = MPI.COMM_WORLD
NM = 1e-9
ARGS = dict(radius_m=150 * NM, layer_thickness_m=30 * NM, coating_thickness_m=10 * NM,
            size_surface_m=10 * NM, size_bulk_m=30 * NM, size_interface_m=None)
OCTANT = str(CASES / "verify_galvanostatic_octant.yaml")
SMALL_OCTANT = [
    "--set", "mesh.surface=10 nm", "--set", "mesh.bulk=30 nm",
    "--set", "protocol.end_time=2 min", "--set", "output.times={values: [60, 120]}",
]


def test_cache_location_follows_the_environment(tmp_path):
    assert cache_root({"LRMO_MESH_CACHE": str(tmp_path)}) == tmp_path
    assert cache_root({"LRMO_MESH_CACHE": "off"}) is None
    assert cache_root({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "lrmo" / "meshes"
    assert cache_root({}).parts[-3:] == (".cache", "lrmo", "meshes")


def test_the_key_changes_with_every_input():
    base = {"inputs": {"radius_m": 1.5e-7, "size_bulk_m": 3e-8}, "gmsh_version": "4.15.2"}
    key = cache_key(base)
    assert key == cache_key(json.loads(json.dumps(base)))
    assert key != cache_key({**base, "gmsh_version": "4.13.1"})
    assert key != cache_key({**base, "inputs": {**base["inputs"], "size_bulk_m": 3.1e-8}})


def summary(msh, cell_tags, facet_tags) -> dict:
    """Global counts and sorted coordinates (independent of partition and numbering)."""
    tdim = msh.topology.dim
    n_cells = msh.topology.index_map(tdim).size_local
    n_facets = msh.topology.index_map(tdim - 1).size_local
    cells = np.bincount(cell_tags.values[cell_tags.indices < n_cells], minlength=64)
    facets = np.bincount(facet_tags.values[facet_tags.indices < n_facets], minlength=64)
    x = msh.geometry.x[: msh.geometry.index_map().size_local]
    return {"cells": msh.comm.allreduce(cells, MPI.SUM).tolist(),
            "facets": msh.comm.allreduce(facets, MPI.SUM).tolist(),
            "x": np.sort(np.concatenate(msh.comm.allgather(x)), axis=0)}


def same_mesh(a: dict, b: dict) -> bool:
    return a["cells"] == b["cells"] and a["facets"] == b["facets"] and np.array_equal(a["x"], b["x"])


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LRMO_MESH_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_a_second_build_is_a_hit_with_the_same_mesh_as_a_fresh_build(private_cache, monkeypatch):
    *first, info1 = particle_mesh(ARGS, "octant", COMM)
    *second, info2 = particle_mesh(ARGS, "octant", COMM)
    assert (info1["cache"]["hit"], info2["cache"]["hit"]) == (False, True)
    assert info1["cache"]["key"] == info2["cache"]["key"]
    assert info2["num_cells"] == info1["num_cells"] and info2["cells_per_region"]
    monkeypatch.setenv("LRMO_MESH_CACHE", "off")
    *fresh, info3 = particle_mesh(ARGS, "octant", COMM)
    assert info3["cache"]["status"] == "off"
    s1, s2, s3 = summary(*first), summary(*second), summary(*fresh)
    assert same_mesh(s1, s2) and same_mesh(s1, s3)
    assert sum(s1["cells"]) == info1["num_cells"]


@pytest.mark.parametrize("damage", ["truncate", "no_manifest", "edit_info"])
def test_a_broken_entry_is_rebuilt_not_used(private_cache, damage):
    *_, info = particle_mesh(ARGS, "octant", COMM)
    entry = private_cache / info["cache"]["key"]
    assert entry_is_valid(entry)
    if damage == "truncate":
        h5 = entry / "mesh.h5"
        h5.write_bytes(h5.read_bytes()[: h5.stat().st_size // 2])
    elif damage == "no_manifest":
        (entry / MANIFEST).unlink()
    else:
        (entry / "info.json").write_text("{}")
    assert not entry_is_valid(entry)
    *mesh, info = particle_mesh(ARGS, "octant", COMM)
    assert info["cache"]["hit"] is False and info["cache"]["status"].startswith("rebuilt")
    assert entry_is_valid(entry) and sum(summary(*mesh)["cells"]) == info["num_cells"]


def test_an_unwritable_cache_falls_back_to_a_fresh_mesh(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("LRMO_MESH_CACHE", str(blocker / "cache"))
    *mesh, info = particle_mesh(ARGS, "octant", COMM)
    assert info["cache"]["status"].startswith("unavailable")
    assert sum(summary(*mesh)["cells"]) == info["num_cells"]


def test_racing_publishers_leave_one_valid_entry(tmp_path):
    """Two runs filled their own temporary folders; both publish; one entry stays."""
    entry = tmp_path / "key"
    for i in range(2):
        tmp = tmp_path / f".tmp-key-{i}"
        tmp.mkdir()
        for name in ("mesh.xdmf", "mesh.h5", "mesh.msh", "info.json"):
            (tmp / name).write_text(f"{name} from run {i}")
        mesh_cache.publish(tmp, entry)
    assert entry_is_valid(entry)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["key"]


def test_a_cached_mesh_read_on_2_ranks_is_the_whole_mesh(private_cache):
    *mesh, info = particle_mesh(ARGS, "octant", COMM)  # fills the cache serially
    serial = summary(*mesh)
    script = (
        "import json, sys; from mpi4py import MPI; sys.path.insert(0, 'tests');"
        "from test_mesh_cache import ARGS, summary; from solver.simulation.domain_setup import particle_mesh;"
        "*m, info = particle_mesh(ARGS, 'octant', MPI.COMM_WORLD); s = summary(*m);"
        "MPI.COMM_WORLD.rank == 0 and print(json.dumps({'hit': info['cache']['hit'],"
        "'cells': s['cells'], 'facets': s['facets'], 'x_sum': s['x'].sum(axis=0).tolist(),"
        "'n_x': len(s['x'])}))"
    )
    import subprocess

    env = {**mpi_env(), "LRMO_MESH_CACHE": str(private_cache)}
    proc = subprocess.run(["mpirun", "-n", "2", "--oversubscribe", sys.executable, "-c", script],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    parallel = json.loads(proc.stdout.strip().splitlines()[-1])
    assert parallel["hit"] is True
    assert parallel["cells"] == serial["cells"] and parallel["facets"] == serial["facets"]
    assert parallel["n_x"] == len(serial["x"])
    assert np.allclose(parallel["x_sum"], serial["x"].sum(axis=0), rtol=1e-12, atol=0)


def test_a_second_run_is_a_cache_hit_with_identical_results(tmp_path):
    results = []
    for i in range(2):
        out = tmp_path / f"run{i}"
        proc = run_lrmo(["run", OCTANT, "--out", str(out), *SMALL_OCTANT])
        assert proc.returncode == 0, proc.stderr
        results.append(json.loads((out / "summary.json").read_text()))
        info = json.loads((out / "mesh" / "info.json").read_text())
        assert info["cache"]["key"] and (out / "mesh" / "mesh.xdmf").exists()
    assert results[1]["mesh"]["cache"]["hit"] is True
    assert results[1]["mesh"]["cache"]["key"] == results[0]["mesh"]["cache"]["key"]
    assert results[1]["stress"]["peak_von_mises_Pa"] == results[0]["stress"]["peak_von_mises_Pa"]


def _gmsh_file_tets(path) -> int:
    """The number of tetrahedra Gmsh reads from a .msh file."""
    import gmsh

    from meshes.gmsh_io import gmsh_session

    with gmsh_session("read"):
        gmsh.merge(str(path))
        types, tags, _ = gmsh.model.mesh.getElements(3)
        return sum(len(t) for ty, t in zip(types, tags) if ty == 4)


@pytest.mark.parametrize("cache", ["miss then hit", "off"])
def test_lrmo_mesh_writes_a_gmsh_file_gmsh_opens(private_cache, monkeypatch, tmp_path, cache):
    """`lrmo mesh` writes mesh.msh beside mesh.xdmf for users who open meshes in Gmsh:
    built into the cache entry on a miss, linked from it on a hit, written directly with
    the cache off; it holds the mesh's tetrahedra."""
    if cache == "off":
        monkeypatch.setenv("LRMO_MESH_CACHE", "off")
    small = ["--set", "mesh.surface=10 nm", "--set", "mesh.bulk=30 nm", "--quiet"]
    for name in ("first", "second") if cache != "off" else ("first",):
        proc = run_lrmo(["mesh", OCTANT, "--out", str(tmp_path / name), *small])
        assert proc.returncode == 0, proc.stderr
        info = json.loads((tmp_path / name / "info.json").read_text())
        assert _gmsh_file_tets(tmp_path / name / "mesh.msh") == info["num_cells"]
    if cache != "off":
        assert info["cache"]["hit"] is True
        assert (private_cache / info["cache"]["key"] / "mesh.msh").is_file()


def test_a_radial_mesh_has_no_gmsh_file(tmp_path):
    proc = run_lrmo(["mesh", str(CASES / "ru1_stress.yaml"), "--out", str(tmp_path / "m")])
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "m" / "mesh.xdmf").is_file() and not (tmp_path / "m" / "mesh.msh").exists()
    assert "mesh.msh" not in proc.stdout

"""ParaView output (docs/paraview.md): one grid per time with every array, the region and
the displacement; the length unit; a running job's partial files; the state at the peak
(profiles_at_peak.csv, fields_at_peak.xdmf); `lrmo view`. The pvpython checks run where
ParaView is installed and are skipped elsewhere."""
from __future__ import annotations

import json
import shutil
import subprocess
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from conftest import CASES, ROOT, run_lrmo

DEMO = str(CASES / "demo.yaml")
RU1 = str(CASES / "ru1_stress.yaml")  # 1D with a 20 nm Li-deficient layer
OCTANT = str(CASES / "verify_galvanostatic_octant.yaml")
SMALL_OCTANT = [
    "--set", "mesh.surface=10 nm", "--set", "mesh.bulk=30 nm",
    "--set", "protocol.end_time=2 min", "--set", "output.times={values: [60, 120]}",
]
PVPYTHON = shutil.which("pvpython")
needs_paraview = pytest.mark.skipif(PVPYTHON is None or shutil.which("xvfb-run") is None,
                                    reason="pvpython or xvfb-run not installed")

# pvpython: what ParaView's XDMF reader (Xdmf3ReaderT) makes of a file, as JSON
PROBE = r"""
import json, sys
from paraview import simple as pv
from paraview import servermanager as sm
r = pv.Xdmf3ReaderT(FileName=[sys.argv[1]])
times = r.TimestepValues
times = list(times) if hasattr(times, "__len__") else [times]
out = {"times": times, "steps": []}
for t in times:
    r.UpdatePipeline(t)
    data = sm.Fetch(r)
    info = r.GetDataInformation()
    step = {"type": data.GetClassName(), "bounds": list(info.GetBounds()), "points": {}, "cells": {}}
    for kind, arrays in (("points", data.GetPointData()), ("cells", data.GetCellData())):
        for i in range(arrays.GetNumberOfArrays()):
            a = arrays.GetArray(i)
            comps = a.GetNumberOfComponents()
            values = [a.GetComponent(j, k) for j in range(a.GetNumberOfTuples()) for k in range(comps)]
            step[kind][a.GetName()] = {"components": comps, "min": min(values), "max": max(values),
                                       "distinct": sorted(set(values))[:10]}
    out["steps"].append(step)
print("JSON" + json.dumps(out))
"""


def paraview_reads(path, tmp_path) -> dict:
    from solver.io.paraview_view import XVFB_SERVER_ARGS

    script = tmp_path / "probe.py"
    script.write_text(PROBE)
    proc = subprocess.run(["xvfb-run", "-a", "-s", XVFB_SERVER_ARGS, PVPYTHON, str(script), str(path)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("JSON"))
    return json.loads(line[4:])


def dolfinx_like_xml(times=(0.0, 60.0), names=("c_Li_mol_m3", "displacement_nm"), region_time=0.0) -> str:
    """The layout DOLFINx's XDMFFile writes: a mesh grid and one temporal collection per
    function (with region_id written once)."""
    grids = []
    for name, ts in [("region_id", [region_time])] + [(n, list(times)) for n in names]:
        steps = "".join(
            f'<Grid Name="{name}" GridType="Uniform"><xi:include xpointer="x" /><Time Value="{t:g}" />'
            f'<Attribute Name="{name}" AttributeType="Scalar" Center="Node"><DataItem>f.h5:/Function/{name}/{t:g}'
            f'</DataItem></Attribute></Grid>' for t in ts)
        grids.append(f'<Grid Name="{name}" GridType="Collection" CollectionType="Temporal">{steps}</Grid>')
    return ('<Xdmf Version="3.0" xmlns:xi="http://www.w3.org/2001/XInclude"><Domain>'
            '<Grid Name="mesh" GridType="Uniform"><Topology TopologyType="Tetrahedron" /><Geometry /></Grid>'
            + "".join(grids) + "</Domain></Xdmf>")


def test_paraview_xml_is_one_grid_per_time_with_every_array():
    from solver.io.fields_io import paraview_xml

    root = ET.fromstring(paraview_xml(dolfinx_like_xml(times=(120.0, 0.0, 60.0), region_time=60.0)))
    top = root.find("Domain").findall("Grid")
    assert len(top) == 1 and top[0].get("CollectionType") == "Temporal"
    steps = top[0].findall("Grid")
    assert [float(s.find("Time").get("Value")) for s in steps] == [0.0, 60.0, 120.0]  # region adds no time
    for s in steps:
        assert s.find("Topology") is not None and s.find("Geometry") is not None
        t = s.find("Time").get("Value")
        data = {a.get("Name"): a.find("DataItem").text for a in s.findall("Attribute")}
        assert data == {"region_id": "f.h5:/Function/region_id/60", "c_Li_mol_m3": f"f.h5:/Function/c_Li_mol_m3/{t}",
                        "displacement_nm": f"f.h5:/Function/displacement_nm/{t}"}


def _octant_run(tmp_path, name, *extra):
    out = tmp_path / name
    proc = run_lrmo(["run", OCTANT, "--out", str(out), "--quiet", *SMALL_OCTANT, "--set", "output.fields=true", *extra])
    assert proc.returncode == 0, proc.stderr
    return out


def test_fields_carry_displacement_and_regions_in_the_chosen_length_unit(tmp_path):
    nm = _octant_run(tmp_path, "nm")
    root = ET.parse(nm / "fields" / "fields.xdmf").getroot()
    steps = root.find("Domain").find("Grid").findall("Grid")
    assert len(steps) == 2  # the output times 60 and 120 s
    for s in steps:
        attrs = {a.get("Name"): a for a in s.findall("Attribute")}
        assert attrs["region_id"].get("Center") == "Cell"
        assert attrs["displacement_nm"].get("AttributeType") == "Vector"
        assert attrs["displacement_nm"].find("DataItem").get("Dimensions").endswith(" 3")
        assert {"c_Li_mol_m3", "sigma_vm_Pa", "sigma_h_Pa"} <= set(attrs)
    if PVPYTHON is None or shutil.which("xvfb-run") is None:
        pytest.skip("pvpython not installed: the XML checked only")
    m = _octant_run(tmp_path, "m", "--set", "output.length_unit=m")
    seen_nm, seen_m = paraview_reads(nm / "fields" / "fields.xdmf", tmp_path), \
        paraview_reads(m / "fields" / "fields.xdmf", tmp_path)
    assert seen_nm["times"] == [60.0, 120.0]
    last_nm, last_m = seen_nm["steps"][-1], seen_m["steps"][-1]
    assert last_nm["type"] == "vtkUnstructuredGrid"  # one grid, not a multiblock
    assert last_nm["cells"]["region_id"]["distinct"] == [1.0]  # the verification case: core only
    assert last_nm["points"]["displacement_nm"]["components"] == 3
    assert last_m["points"]["displacement_m"]["components"] == 3
    # the geometry and the displacement scale by 1e9, the physics does not
    assert last_nm["bounds"][1] == pytest.approx(150.0, rel=1e-9)
    # (ParaView may hold the coordinates in single precision)
    assert np.allclose(last_nm["bounds"], np.array(last_m["bounds"]) * 1e9, rtol=1e-6, atol=1e-9)
    for key in ("min", "max"):
        assert last_nm["points"]["displacement_nm"][key] == pytest.approx(
            last_m["points"]["displacement_m"][key] * 1e9, rel=1e-6, abs=1e-12)
        assert last_nm["points"]["sigma_vm_Pa"][key] == pytest.approx(last_m["points"]["sigma_vm_Pa"][key], rel=1e-6)
    # Li leaves, the particle shrinks: displacement components towards the centre
    assert last_nm["points"]["displacement_nm"]["min"] < 0


def test_a_running_jobs_partial_fields_open(tmp_path):
    """The writer is not closed (a job still running): the XDMF lists the steps written
    and its HDF5 file is complete, so ParaView reads every step."""
    from mpi4py import MPI
    from dolfinx import fem

    from solver import compat
    from solver.case.schema import load_case
    from solver.io.fields_io import FieldWriter
    from solver.simulation.domain_setup import build_domain

    case = load_case(OCTANT, [o for o in SMALL_OCTANT[1::2][:2]])
    domain = build_domain(case, MPI.COMM_WORLD)
    f = fem.Function(compat.functionspace(domain.msh, "Lagrange", 1), name="value")
    writer = FieldWriter(tmp_path, domain, {"value": f})
    for t in (10.0, 20.0):
        f.x.array[:] = t
        writer.write(t)
    steps = ET.parse(tmp_path / "fields.xdmf").getroot().find("Domain").find("Grid").findall("Grid")
    assert [s.find("Time").get("Value") for s in steps] == ["10", "20"]
    if PVPYTHON is None or shutil.which("xvfb-run") is None:
        pytest.skip("pvpython not installed: the XML checked only")
    seen = paraview_reads(tmp_path / "fields.xdmf", tmp_path)
    assert [s["points"]["value"]["distinct"] for s in seen["steps"]] == [[10.0], [20.0]]
    f.x.array[:] = 30.0
    writer.write(30.0)  # the writer goes on after ParaView has read the files
    writer.close()
    assert paraview_reads(tmp_path / "fields.xdmf", tmp_path)["times"] == [10.0, 20.0, 30.0]


def read_csv(path) -> np.ndarray:
    return np.genfromtxt(path, delimiter=",", names=True)


def test_profile_at_the_peak_holds_every_node_and_the_peak(tmp_path):
    """1D with a layer: the rows are the mesh vertices (both sides of each, the interface
    r = R - delta with both regions), at the peak's own time, and their von Mises stress
    averaged per vertex and region peaks at the reported peak."""
    from mpi4py import MPI

    from solver.case.schema import load_case
    from solver.simulation.domain_setup import build_domain

    out = tmp_path / "ru1"
    proc = run_lrmo(["run", RU1, "--out", str(out), "--quiet", "--set", "output.count=6"])
    assert proc.returncode == 0, proc.stderr
    stress = json.loads((out / "summary.json").read_text())["stress"]
    rows = read_csv(out / "profiles_at_peak.csv")
    assert rows.dtype.names == ("t_s", "r_m", "c_Li_mol_m3", "sigma_vm_Pa", "sigma_r_Pa", "sigma_t_Pa",
                                "sigma_h_Pa", "sigma_1_Pa", "region_id")
    assert np.allclose(rows["t_s"], stress["peak_time_s"], rtol=1e-9)
    assert stress["peak_time_s"] not in read_csv(out / "profiles.csv")["t_s"]  # between output times
    # the peak is the recovered stress's (Mechanics.peak_von_mises): the rows' tensor
    # diag(sigma_r, sigma_t, sigma_t) averaged per vertex and region, von Mises |sigma_t - sigma_r|
    _, group = np.unique(np.stack([rows["r_m"], rows["region_id"]], axis=1), axis=0, return_inverse=True)
    group = group.ravel()

    def averaged(name):
        return np.bincount(group, weights=rows[name]) / np.bincount(group)

    recovered = np.abs(averaged("sigma_t_Pa") - averaged("sigma_r_Pa"))
    assert recovered.max() == pytest.approx(stress["peak_von_mises_Pa"], rel=1e-9)
    assert averaged("r_m")[np.argmax(recovered)] == pytest.approx(stress["peak_radius_m"], rel=1e-9)
    assert stress["peak_von_mises_Pa"] <= rows["sigma_vm_Pa"].max() * (1 + 1e-9)
    case = load_case(RU1)
    vertices = np.sort(build_domain(case, MPI.COMM_WORLD).msh.geometry.x[:, 0])
    assert np.array_equal(np.unique(rows["r_m"]), np.unique(np.float64([f"{v:.10g}" for v in vertices])))
    counts = {r: int((rows["r_m"] == r).sum()) for r in np.unique(rows["r_m"])}
    assert counts[0.0] == 1 and counts[rows["r_m"].max()] == 1 and set(list(counts.values())[1:-1]) == {2}
    interface = case.geometry.radius.si - case.geometry.layer_thickness.si
    at = np.isclose(rows["r_m"], interface, rtol=1e-9, atol=0)
    assert sorted(rows["region_id"][at]) == [1, 2]  # core side, then layer side
    assert np.all(np.diff(rows["r_m"]) >= 0)
    if PVPYTHON is not None and shutil.which("xvfb-run") is not None:
        seen = paraview_reads(out / "fields_at_peak.xdmf", tmp_path)
        assert seen["times"] == pytest.approx([stress["peak_time_s"]], rel=1e-12)
        assert sorted(seen["steps"][0]["cells"]["region_id"]["distinct"]) == [1.0, 2.0]
        # the P1 projection of the stress stays below the nodal peak, and close to it
        assert 0.9 < seen["steps"][0]["points"]["sigma_vm_Pa"]["max"] / stress["peak_von_mises_Pa"] <= 1 + 1e-9


def test_profile_at_the_peak_3d_holds_the_ray_and_its_nodes(tmp_path):
    out = _octant_run(tmp_path, "octant")
    stress = json.loads((out / "summary.json").read_text())["stress"]
    rows = read_csv(out / "profiles_at_peak.csv")
    ray = read_csv(out / "profiles.csv")
    assert np.allclose(rows["t_s"], stress["peak_time_s"], rtol=1e-12)
    at_peak_time = ray[ray["t_s"] == stress["peak_time_s"]]  # the peak is at an output time here
    assert len(at_peak_time) == 101
    # the ray's points with the values of profiles.csv, plus the vertices on the ray (the centre)
    for r, vm in zip(at_peak_time["r_m"], at_peak_time["sigma_vm_Pa"]):
        assert np.isclose(rows["sigma_vm_Pa"][rows["r_m"] == r], vm, rtol=1e-8).any()
    assert (rows["r_m"] == 0).sum() > 1
    assert rows["sigma_vm_Pa"].max() <= stress["peak_von_mises_Pa"] * (1 + 1e-9)
    assert (out / "fields_at_peak.xdmf").exists() and (out / "fields_at_peak.h5").exists()
    assert not (out / "fields_at_peak.partial").exists()


def test_written_von_mises_is_never_negative(tmp_path):
    """sigma_vm_Pa in the field files is the vertex average of the stress nodes (not an L2
    projection, which dipped to -0.98 MPa): at least 0 everywhere, at every output time and
    at the peak, and at most the reported peak."""
    import sys

    out = _octant_run(tmp_path, "octant")
    stress = json.loads((out / "summary.json").read_text())["stress"]
    check = ("import json, sys; import pyvista as pv; from solver.studies.render3d import read_fields\n"
             "path = sys.argv[1]; times = list(pv.get_reader(path).time_values) or [None]\n"
             "vm = [read_fields(path, t)[0].point_data['sigma_vm_Pa'] for t in times]\n"
             "print(json.dumps([float(min(v.min() for v in vm)), float(max(v.max() for v in vm))]))")
    for name in ("fields/fields.xdmf", "fields_at_peak.xdmf"):
        proc = subprocess.run([sys.executable, "-c", check, str(out / name)], cwd=ROOT, capture_output=True,
                              text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        low, high = json.loads(proc.stdout.strip().splitlines()[-1])
        assert low >= 0.0, name
        assert 0.0 < high <= stress["peak_von_mises_Pa"] * (1 + 1e-6), name  # float32 in the reader


def test_ruo2_island_tags_lie_beside_the_fields_in_their_length_unit(tmp_path):
    """fields/mesh_tags.xdmf: the mesh with the facet tags, the RuO2 islands (13) among
    them, in the fields' unit (nm), so that they overlay the fields in ParaView (the
    run's mesh/mesh.xdmf is in metres)."""
    from mpi4py import MPI

    from meshes.markers import FACET_TAGS
    from solver.io.mesh_io import read_mesh_xdmf

    out = tmp_path / "islands"
    proc = run_lrmo(["run", str(CASES / "ru1_islands_o2.yaml"), "--out", str(out), "--quiet",
                     "--set", "mesh.surface=12 nm", "--set", "mesh.bulk=30 nm", "--set", "oxygen.end_time=2 min",
                     "--set", "output.times={values: [60, 120]}"])
    assert proc.returncode == 0, proc.stderr
    msh, cell_tags, facet_tags = read_mesh_xdmf(out / "fields" / "mesh_tags.xdmf", MPI.COMM_SELF)
    assert FACET_TAGS["ruo2_islands"] in set(facet_tags.values)
    assert np.abs(msh.geometry.x).max() == pytest.approx(150.0, rel=1e-6)  # R = 150 nm, in nm
    metres, _, _ = read_mesh_xdmf(out / "mesh" / "mesh.xdmf", MPI.COMM_SELF)
    assert np.abs(metres.geometry.x).max() == pytest.approx(150e-9, rel=1e-6)


@needs_paraview
def test_lrmo_view_renders_the_particle(tmp_path):
    import matplotlib.image

    out = _octant_run(tmp_path, "octant")
    png = tmp_path / "view.png"
    proc = run_lrmo(["view", str(out), "--out", str(png)])
    assert proc.returncode == 0, proc.stderr[-2000:]
    image = matplotlib.image.imread(png)[..., :3]
    assert image.shape[:2] == (800, 1600)
    coloured = np.ptp(image, axis=2) > 0.1  # not grey, white or black: the colour map
    assert 0.1 < coloured[:, :800].mean() < 0.9 and 0.1 < coloured[:, 800:].mean() < 0.9
    assert (image.max(axis=2) < 0.05).mean() < 0.05  # not black
    metres = _octant_run(tmp_path, "metres", "--set", "output.length_unit=m")
    proc = run_lrmo(["view", str(metres), "--out", str(tmp_path / "m.png")])
    assert proc.returncode == 0, proc.stderr[-2000:]
    image_m = matplotlib.image.imread(tmp_path / "m.png")[..., :3]
    assert (image_m.max(axis=2) < 0.05).mean() < 0.05  # metre-scale slices are not black either
    peak_png = tmp_path / "peak.png"
    proc = run_lrmo(["view", str(out), "--peak", "--field", "c_Li_mol_m3", "--out", str(peak_png)])
    assert proc.returncode == 0 and "c_Li_mol_m3" in proc.stdout and peak_png.exists()


def test_lrmo_view_without_pvpython_says_so(tmp_path, monkeypatch):
    from solver.io import paraview_view

    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("LRMO_PVPYTHON", raising=False)
    assert paraview_view.pvpython_command(["x"]) is None
    assert paraview_view.launch(tmp_path, tmp_path / "v.png") == 1
    assert ROOT.exists()

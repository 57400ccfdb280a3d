"""The report's figures show what they claim (issue 10 item 4): stress maps and profiles
at the peak's own time reach the reported peak, the profile holds the interface node,
the O2 maps cover the full disc, the outward O2 flux field balances the escape rate,
and the pyvista views render off-screen (in a process of their own)."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from mpi4py import MPI

from conftest import CASES, ROOT
from solver.case.schema import load_case
from solver.simulation.domain_setup import build_domain
from solver.simulation.oxygen_simulation import OxygenSimulation
from solver.simulation.run import run_case
from solver.simulation.run_oxygen import FLUX_FIELD, oxygen_domain
from solver.studies import figures as figs
from solver.studies.o2_maps import mirror_quadrant, slice_maps, smooth_field

COARSE_3D = ["mesh.surface=10 nm", "mesh.bulk=25 nm"]


@pytest.fixture(scope="module")
def stress_runs(tmp_path_factory):
    """The paper's two 1D stress cases, fields off."""
    out = tmp_path_factory.mktemp("stress")
    runs = {}
    for label, name in (("pristine", "pristine_stress"), ("Ru-1", "ru1_stress")):
        case = load_case(CASES / f"{name}.yaml", ["output.fields=false"])
        assert run_case(case, out / name)["status"] == "completed"
        runs[label] = out / name
    return runs


def _summary(folder):
    return json.loads((folder / "summary.json").read_text())


def test_stress_maps_and_profiles_reach_the_reported_peak_at_its_time(stress_runs):
    inputs = figs.stress_map_inputs(stress_runs)
    for label, folder in stress_runs.items():
        stress = _summary(folder)["stress"]
        t, r_nm, vm_MPa = inputs[label]
        assert t == pytest.approx(stress["peak_time_s"], rel=1e-9)  # as the CSV writes it
        # the drawn DG1 nodes against the reported peak, their vertex average per region
        # (solver/physics/mechanics.py peak_von_mises): at least it, and O(h^2) above
        assert_reaches_the_peak(vm_MPa * 1e6, stress["peak_von_mises_Pa"])
        assert r_nm[np.argmax(vm_MPa)] * 1e-9 == pytest.approx(stress["peak_radius_m"], abs=1e-9)


def test_the_profile_holds_the_interface_node_and_the_peak_inside_the_layer(stress_runs):
    folder = stress_runs["Ru-1"]
    inputs = _summary(folder)["mesh"]["inputs"]
    interface_nm = (inputs["radius_m"] - inputs["layer_thickness_m"]) * 1e9
    _, r_nm, vm_MPa = figs.stress_map_inputs({"Ru-1": folder})["Ru-1"]
    assert np.isclose(r_nm, interface_nm, rtol=0, atol=1e-6).any()  # the core|layer node is drawn
    assert interface_nm < r_nm[np.argmax(vm_MPa)] < inputs["radius_m"] * 1e9  # the drawn peak: inside
    assert_reaches_the_peak(vm_MPa * 1e6, _summary(folder)["stress"]["peak_von_mises_Pa"])


def assert_reaches_the_peak(drawn_Pa, peak_Pa, rel=1e-3):
    assert peak_Pa * (1 - 1e-9) <= drawn_Pa.max() <= peak_Pa * (1 + rel)  # 1e-9: the CSV rounds to 0.1 Pa


def test_figures_are_written(stress_runs, tmp_path):
    files = figs.figures(tmp_path, stress_runs, [], {}, [])
    for name in ("stress_maps", "profiles"):
        assert (tmp_path / files[name]).stat().st_size > 10000


def test_mirror_quadrant_covers_the_disc_once_with_mirror_values():
    r, phi = np.meshgrid(np.linspace(0, 1, 11), np.linspace(0, np.pi / 2, 13))
    x, y = (r * np.cos(phi)).ravel(), (r * np.sin(phi)).ravel()
    keep = np.unique(np.round(np.column_stack([x, y]), 12), axis=0, return_index=True)[1]
    x, y = np.clip(x[keep], 0, None), np.clip(y[keep], 0, None)
    c = x**2 + 3 * y**2 + x**2 * y**2  # even in x and in y
    X, Y, C = mirror_quadrant(np.where(x < 1e-12, 0, x), np.where(y < 1e-12, 0, y), c)
    on_x, on_y = (np.abs(y) < 1e-12) & (x > 1e-12), (np.abs(x) < 1e-12) & (y > 1e-12)
    inside = (x > 1e-12) & (y > 1e-12)
    assert len(X) == 4 * inside.sum() + 2 * on_x.sum() + 2 * on_y.sum() + 1
    assert len(np.unique(np.round(np.column_stack([X, Y]), 9), axis=0)) == len(X)  # no point twice
    assert np.allclose(C, X**2 + 3 * Y**2 + X**2 * Y**2)


def test_refined_map_follows_a_smooth_field_closer_than_the_samples_linearly():
    def f(x, y):
        return np.cos(0.5 * np.pi * np.hypot(x, y)) + 0.3 * x

    r, phi = np.meshgrid(np.linspace(0, 1, 9), np.linspace(0, 2 * np.pi, 33)[:-1])
    x, y = np.append((r * np.cos(phi)).ravel()[32:], 0), np.append((r * np.sin(phi)).ravel()[32:], 0)
    tri, fine = smooth_field(x, y, f(x, y))
    import matplotlib.tri as mtri

    linear = mtri.LinearTriInterpolator(mtri.Triangulation(x, y), f(x, y))(tri.x, tri.y)
    exact = f(tri.x, tri.y)
    assert np.abs(fine - exact).max() < 0.5 * np.abs(linear - exact).max()


def test_octant_o2_slice_becomes_the_full_disc(tmp_path):
    case = load_case(CASES / "ru1_islands_o2.yaml", [*COARSE_3D, "output.fields=false"])
    assert run_case(case, tmp_path / "isl")["status"] == "completed"
    maps = slice_maps(tmp_path / "isl")
    x, y, c = maps[max(maps)]
    R = case.geometry.radius.si
    assert x.min() == pytest.approx(-R, rel=1e-6) and y.min() == pytest.approx(-R, rel=1e-6)
    mirrored = {(round(a / R, 6), round(b / R, 6)): v for a, b, v in zip(x, y, c)}
    for (a, b), v in list(mirrored.items())[:200]:
        assert mirrored[(-a if a else 0.0, b)] == v and mirrored[(a, -b if b else 0.0)] == v


def test_outward_flux_integrates_to_the_escape_rate():
    case = load_case(CASES / "verify_o2_escape_L5_radial.yaml")
    domain, coverage = oxygen_domain(case, build_domain(case, MPI.COMM_WORLD))
    sim = OxygenSimulation(case, domain, coverage)
    sim.run()
    from dolfinx import fem

    tr = sim.transport
    flux = fem.Function(tr.V)
    tr.outward_flux(flux)
    n = tr.n_owned
    total = sum(a @ flux.x.array[:n] for a in tr._surface_areas.values())
    total = MPI.COMM_WORLD.allreduce(total, op=MPI.SUM)
    assert total == pytest.approx(tr.rates["escaped"], rel=1e-10)
    assert total > 0


def _render3d(*args, timeout=300):
    env = {**os.environ, "VTK_DEFAULT_OPENGL_WINDOW": "vtkEGLRenderWindow"}
    return subprocess.run([sys.executable, "-m", "solver.studies.render3d", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def _can_render() -> bool:
    probe = "import pyvista as pv; p = pv.Plotter(off_screen=True); p.add_mesh(pv.Sphere()); p.screenshot('/dev/null')"
    try:
        proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, timeout=120,
                              env={**os.environ, "VTK_DEFAULT_OPENGL_WINDOW": "vtkEGLRenderWindow"})
    except (subprocess.TimeoutExpired, OSError):
        return False
    return proc.returncode == 0


needs_render = pytest.mark.skipif(not _can_render(), reason="pyvista cannot render off-screen here")


@needs_render
def test_islands_view_renders_flux_and_mirrors_the_octant(tmp_path):
    case = load_case(CASES / "ru1_islands_o2.yaml", COARSE_3D)
    assert run_case(case, tmp_path / "isl")["status"] == "completed"
    assert FLUX_FIELD in (tmp_path / "isl" / "fields" / "fields.xdmf").read_text()
    proc = _render3d("islands", str(tmp_path / "isl"), "--out", str(tmp_path / "islands.png"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "islands.png").stat().st_size > 20000
    check = ("import json, numpy as np; from solver.studies.render3d import read_fields, mirror_octant, outer_surface\n"
             f"g, t = read_fields('{tmp_path / 'isl' / 'fields' / 'fields.xdmf'}')\n"
             "full = mirror_octant(g); s = outer_surface(g)\n"
             "print(json.dumps([g.volume, full.volume, list(full.bounds), s.area, float(np.abs(full.points).max())]))")
    proc = subprocess.run([sys.executable, "-c", check], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    octant, full, bounds, area, radius_nm = json.loads(proc.stdout.strip().splitlines()[-1])
    assert full == pytest.approx(8 * octant, rel=1e-9)
    assert np.allclose(bounds, [-radius_nm, radius_nm] * 3, rtol=1e-6)
    R_nm = case.geometry.radius.si * 1e9
    assert area == pytest.approx(4 * np.pi * R_nm**2, rel=0.02)  # the whole sphere, no cut faces


# the coarse octant cannot resolve the measured 4.5 nm erfc layer: the earlier 20 nm linear one
COARSE_LAYER = ["geometry.layer_thickness=20 nm", "mesh.radial_layers=null", "materials.layer.profile=linear",
                "materials.layer.lithium_diffusivity_profile=uniform"]


@needs_render
def test_particle_view_shows_the_state_at_the_peak(tmp_path):
    coarse = ["mesh.surface=10 nm", "mesh.bulk=25 nm", "mesh.interface=5 nm"]
    runs = {}
    for label, name, sets in (("pristine", "pristine_stress_octant", []),
                              ("Ru-1", "ru1_stress_octant", COARSE_LAYER)):
        assert run_case(load_case(CASES / f"{name}.yaml", coarse + sets), tmp_path / name)["status"] == "completed"
        runs[label] = tmp_path / name
    proc = _render3d("particle", *(f"{k}={v}" for k, v in runs.items()), "--out", str(tmp_path / "particle.png"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "particle.png").stat().st_size > 50000
    import matplotlib.image

    image = matplotlib.image.imread(tmp_path / "particle.png")[..., :3]
    H, W = image.shape[:2]
    for i, j in ((0, 0), (0, 1), (1, 0), (1, 1)):  # every panel has its colour bar (a gradient)
        x, y0, y1 = int(W * (j + 0.85) / 2), int(H * (i + 0.25) / 2), int(H * (i + 0.75) / 2)
        strip = (image[y0:y1, x - 3:x + 3].reshape(-1, 3) * 255).astype(int)
        assert len(np.unique(strip, axis=0)) > 30, f"no colour bar in panel {(i, j)}"
    check = ("import json; from pathlib import Path; from solver.studies.render3d import peak_state, VM_FIELD\n"
             f"g, t, s = peak_state(Path('{runs['Ru-1']}'))\n"
             "print(json.dumps([t, float(g.point_data[VM_FIELD].max()), sorted(set(g.cell_data.keys()))]))")
    proc = subprocess.run([sys.executable, "-c", check], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    t, vm_max, cell_fields = json.loads(proc.stdout.strip().splitlines()[-1])
    stress = _summary(runs["Ru-1"])["stress"]
    assert t == pytest.approx(stress["peak_time_s"], rel=1e-9)  # the peak's own time, not an output time
    assert vm_max <= stress["peak_von_mises_Pa"] * (1 + 1e-6)  # float32 in the XDMF reader
    assert vm_max >= 0.97 * stress["peak_von_mises_Pa"]  # the nodal field at the peak, coarse mesh
    assert {"region_id", "regions"} & set(cell_fields)

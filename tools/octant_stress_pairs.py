"""The 1D Ru-1 headline against its 3D octant twin with the SAME site fraction (issue 18;
docs/fidelity.md, Limits): runs the 1D case, interpolates its theta by |x| onto the octant
mesh, solves the 3D stress once and prints the recovered peak (what runs report), the
largest DG1 node (what they reported before) and the DG1 von Mises averaged over 1 nm
shells against 1D's; `--run` also runs the octant itself and compares its theta.

    mpirun -n 2 .venv/bin/python tools/octant_stress_pairs.py --mesh 1.5 --end 60
    mpirun -n 2 .venv/bin/python tools/octant_stress_pairs.py --mesh 6 --layers 20 --depth 9 --end 60
    mpirun -n 2 .venv/bin/python tools/octant_stress_pairs.py --mesh 4 --end 10 \\
        --set "geometry.layer_thickness=20 nm" --run
"""
import argparse
import sys
from pathlib import Path

import numpy as np
from mpi4py import MPI

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from solver.case.schema import load_case  # noqa: E402
from solver.simulation.domain_setup import build_domain  # noqa: E402
from solver.simulation.run import engine_of_case  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--mesh", default="1.5", help="octant surface and interface element size, nm")
parser.add_argument("--end", default="60", help="end time, min (the Ru-1 peak: ~60)")
parser.add_argument("--set", action="append", default=[], help="override for both cases")
parser.add_argument("--run", action="store_true", help="also run the octant's own transport")
parser.add_argument("--layers", type=int, help="mesh.radial_layers.count (--mesh is then the "
                    "shell's triangle size and no interface size is set)")
parser.add_argument("--depth", default="9", help="mesh.radial_layers.depth with --layers, nm")
args = parser.parse_args()
comm = MPI.COMM_WORLD


def say(text):
    if comm.rank == 0:
        print(text, flush=True)


common = ["output.fields=false", f"protocol.end_time={args.end} min", *args.set]
one_d = engine_of_case(c1 := load_case(ROOT / "cases/ru1_stress.yaml", common),
                       build_domain(c1, MPI.COMM_SELF))
octant_mesh = ([f"mesh.interface={args.mesh} nm", "mesh.radial_layers=null"] if args.layers is None else
               ["mesh.interface=null", f"mesh.radial_layers.count={args.layers}",
                f"mesh.radial_layers.depth={args.depth} nm"])
three_d = engine_of_case(c3 := load_case(ROOT / "cases/ru1_stress_octant.yaml",
                                         [*common, f"mesh.surface={args.mesh} nm", *octant_mesh]),
                         build_domain(c3, comm))
m1, m3 = one_d.lithium, three_d.lithium
R = m1.domain.radius_m
r1 = m1.lithium.V.tabulate_dof_coordinates()[:, 0]
r3 = np.linalg.norm(m3.lithium.V.tabulate_dof_coordinates(), axis=1)
order = np.argsort(r1)
summary = one_d.run()["stress"]
theta1 = m1.lithium.theta.x.array.copy()
say(f"1D run: peak {summary['peak_von_mises_Pa'] / 1e6:.2f} MPa, {summary['peak_depth_m'] * 1e9:.2f} nm deep, "
    f"t = {summary['peak_time_s'] / 60:.2f} min")


def stress_of(model, theta):
    model.lithium.theta.x.array[:] = theta
    model.lithium.theta.x.scatter_forward()
    model.mechanics.solve()
    vm = model.mechanics.stress_measures()["sigma_vm_Pa"]
    gather = model.domain.comm.allgather
    nodes = (np.concatenate(gather(model.mechanics.node_radius_m)), np.concatenate(gather(vm)))
    return model.mechanics.peak_von_mises(), nodes


def shell_mean(nodes, r):
    radius, vm = nodes
    inside = np.abs(radius - r) < 0.5e-9
    return vm[inside].mean() if inside.any() else float("nan")


theta_at = np.interp(r3, r1[order], theta1[order])
(p1, n1), (p3, n3) = stress_of(m1, theta1), stress_of(m3, theta_at)
say(f"1D theta at the end, stress: 1D {p1['value_Pa'] / 1e6:.2f} MPa ({(R - p1['radius_m']) * 1e9:.2f} nm deep) | "
    f"octant recovered {p3['value_Pa'] / 1e6:.2f} MPa ({(R - p3['radius_m']) * 1e9:.2f} nm deep, "
    f"{p3['value_Pa'] / p1['value_Pa'] - 1:+.1%}), largest DG1 node {n3[1].max() / 1e6:.2f} MPa "
    f"({n3[1].max() / p1['value_Pa'] - 1:+.1%})")
layer_nm = m1.domain.layer_thickness_m * 1e9
for depth_nm in sorted({0.5, round(summary['peak_depth_m'] * 1e9, 2), layer_nm, 2 * layer_nm}):
    r = R - depth_nm * 1e-9
    say(f"  DG1 von Mises, 1 nm shell {depth_nm:4.1f} nm deep: octant mean {shell_mean(n3, r) / 1e6:7.1f} MPa"
        f" | 1D mean {shell_mean(n1, r) / 1e6:7.1f} MPa")
if args.run:
    theta0 = c1.lithium.initial_site_fraction.si
    for f in (m3.lithium.theta, m3.lithium.theta_n, m3.lithium.theta_nm1):
        f.x.array[:] = theta0
    s3 = three_d.run()["stress"]
    say(f"octant run: peak {s3['peak_von_mises_Pa'] / 1e6:.2f} MPa, {s3['peak_depth_m'] * 1e9:.2f} nm deep, "
        f"t = {s3['peak_time_s'] / 60:.2f} min")
    owned = m3.lithium.V.dofmap.index_map.size_local
    gap = comm.allreduce(float(np.abs(m3.lithium.theta.x.array[:owned] - theta_at[:owned]).max()), op=MPI.MAX)
    say(f"  max |theta_octant - theta_1D(|x|)| at the end {gap:.4f}; particle mean theta 1D "
        f"{m1.mean_site_fraction():.5f}, octant {m3.mean_site_fraction():.5f}")

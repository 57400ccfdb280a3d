"""lrmo's Python API in a few lines: the pristine particle (1D radial model) with a larger
radius, charged at 1C and 2C; prints the peak stresses and saves a figure.

    python examples/api_quickstart.py [--png peaks.png] [--radius "200 nm"]

Under mpirun every rank computes the same results and rank 0 prints and saves."""
import argparse
from pathlib import Path

import lrmo

CASES = Path(__file__).resolve().parents[1] / "cases"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--png", default="api_quickstart.png", help="figure to write")
    parser.add_argument("--radius", default="200 nm", help="particle radius, with its unit")
    args = parser.parse_args()

    case = lrmo.load_case(CASES / "pristine_stress.yaml")   # the paper's pristine case (150 nm)
    case.geometry.radius = args.radius                        # validated: "200" alone is refused
    results = lrmo.sweep(case, {"protocol.c_rate": ["1C", "2C"]})   # in memory, no files

    from mpi4py import MPI

    if MPI.COMM_WORLD.rank == 0:
        for r in results:
            print(f"{r.label}: radius {r.case.geometry.radius.short()}, peak von Mises "
                  f"{r.peak_von_mises_Pa / 1e6:.1f} MPa at {r.peak_time_s / 60:.1f} min "
                  f"({r.stress['peak_location']})")
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
        lrmo.plot_peak_vs_time(results, ax=left)
        results[-1].plot("profiles", ax=right, field="sigma_vm_Pa")
        right.set_title(f"{results[-1].label}: von Mises along the radius")
        fig.savefig(args.png, dpi=120)
        print(f"wrote {args.png}")


if __name__ == "__main__":
    main()

"""`lrmo` command line (also `python -m lrmo`).

    lrmo run CASE.yaml [--out DIR] [--set key.path=value ...] [--force-large] [--restart]
    lrmo validate CASE.yaml [--set ...] [--force-large]
    lrmo mesh CASE.yaml --out DIR [--set ...] [--force-large]
    lrmo verify [--only NAME]
    lrmo version

run, validate and mesh first print the pre-flight estimate (cells, dofs, memory) and
refuse (exit 2) a case whose estimate exceeds the memory available; --force-large
overrides (docs/meshes.md).

Exit codes: 0 done, 2 bad input (also: --restart without a checkpoint of this case and
mesh), 3 solver failure (a diverged or collapsed solution too), 4 output folder unusable
(not a folder, not writable, disk full), 5 interrupted by SIGTERM/SIGINT: a checkpoint
was written, continue with the same command plus --restart (docs/batch-jobs.md). Same
behaviour under mpirun; only rank 0 prints.
"""
from __future__ import annotations

import argparse
import sys

EXIT_OK, EXIT_BAD_INPUT, EXIT_SOLVER_FAILURE, EXIT_OUTPUT, EXIT_INTERRUPTED = 0, 2, 3, 4, 5


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's own exit code is 2 as well; keep it, one line
        from mpi4py import MPI

        if MPI.COMM_WORLD.rank == 0:
            self.print_usage(sys.stderr)
            print(f"lrmo: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="lrmo", description="Chemo-mechanics and O2 transport of cathode particles.")
    sub = p.add_subparsers(dest="command", required=True)

    def case_command(name, help_text, out_required=False):
        c = sub.add_parser(name, help=help_text)
        c.add_argument("case", help="case file (YAML)")
        c.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                       help="override a case value, e.g. --set geometry.radius='200 nm'")
        if name != "validate":
            c.add_argument("--out", required=out_required, help="output folder")
        c.add_argument("--quiet", action="store_true", help="no progress output")
        c.add_argument("--force-large", action="store_true",
                       help="run even if the pre-flight estimate exceeds the memory available")
        return c

    run = case_command("run", "run a case")
    run.add_argument("--restart", action="store_true",
                     help="continue from the checkpoint in the --out folder (docs/batch-jobs.md)")
    case_command("validate", "check a case file and print the resolved case")
    case_command("mesh", "build the case's mesh only", out_required=True)
    v = sub.add_parser("verify", help="run the verification cases against closed forms")
    v.add_argument("--only", default=None, help="run only cases whose name contains this")
    v.add_argument("--out", default="results/verify", help="output folder")
    w = sub.add_parser("sweep", help="run a series of cases (members in parallel under mpirun)")
    w.add_argument("series", help="series file (YAML)")
    w.add_argument("--out", default=None, help="output folder (default results/<series name>)")
    r = sub.add_parser("reproduce", help="the paper's headline cases and results/report.md")
    r.add_argument("--out", default="results", help="output folder")
    r.add_argument("--no-3d", dest="with_3d", action="store_false",
                   help="skip the 3D octant twins of the stress cases (a few minutes)")
    f = sub.add_parser("fit", help="re-fit the parameters declared in a case's fitted: block")
    f.add_argument("case", help="case file (YAML)")
    sub.add_parser("version", help="versions of lrmo and what it runs on")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    from mpi4py import MPI

    from solver.io.output import OutputError

    try:
        return _dispatch(args, MPI.COMM_WORLD)
    except OutputError as exc:  # raised alike on every rank (solver/io/output.py)
        if MPI.COMM_WORLD.rank == 0:
            print(f"lrmo: {exc}", file=sys.stderr)
        return EXIT_OUTPUT
    except Exception:
        if MPI.COMM_WORLD.size == 1:
            raise
        # an error on one rank would leave the others waiting in a collective forever
        import traceback

        traceback.print_exc()
        sys.stderr.flush()
        MPI.COMM_WORLD.Abort(1)
        return 1


def _refused(kind: str, path: str, exc: Exception, root: bool) -> None:
    """`lrmo: invalid case PATH: key.path: problem` (one line per problem, the first on
    the same line), each line at most 480 characters."""
    if root:
        from solver.case.loading import clip

        name = clip(str(path), 200)
        lines = str(exc).splitlines() or ["invalid"]
        first = lines[0].removeprefix(f"{name}: ")  # file-level messages start with the name
        print(clip(f"lrmo: invalid {kind} {name}: {first}", 480), file=sys.stderr)
        for line in lines[1:]:
            print(clip(f"  {line}", 480), file=sys.stderr)


def _restart_command(args, out: str) -> str:
    """This `lrmo run` command with --restart (to be run as before: the same mpirun/srun
    line, any number of ranks)."""
    import shlex

    words = ["lrmo", "run", args.case, "--out", out]
    for override in args.overrides:
        words += ["--set", override]
    if args.force_large:
        words.append("--force-large")
    return " ".join(shlex.quote(w) for w in words) + " --restart"


def _dispatch(args, comm) -> int:
    from solver.io.log import quiet_library_logging

    quiet_library_logging()

    root = comm.rank == 0

    if args.command == "version":
        from solver.io.provenance import versions

        if root:
            for k, v in versions().items():
                print(f"{k:9s} {v}")
        return EXIT_OK

    if args.command == "sweep":
        from solver.case.schema import CaseError
        from solver.studies.sweep import load_series, run_series

        try:
            series, _ = load_series(args.series)
            results = run_series(args.series, args.out or f"results/{series.name}", comm)
        except CaseError as exc:
            _refused("series", args.series, exc, root)
            return EXIT_BAD_INPUT
        if root:
            for m in results:
                s = m["summary"]
                line = f"  {m['name']:10s} {s['status']:9s}"
                if "stress" in s:
                    line += (f" peak von Mises {s['stress']['peak_von_mises_Pa'] / 1e6:8.1f} MPa "
                             f"({s['stress']['peak_location']})")
                if "oxygen" in s:
                    line += (f" O2 retained {s['oxygen']['retained_fraction']:.4f}, mobile "
                             f"{s['oxygen']['mobile_fraction']:.4f}, uniformity {s['oxygen']['uniformity']:.3f}")
                print(line)
        statuses = {m["summary"]["status"] for m in results}
        if "interrupted" in statuses:
            return EXIT_INTERRUPTED
        return EXIT_SOLVER_FAILURE if statuses != {"completed"} else EXIT_OK

    if args.command == "reproduce":
        from solver.studies.reproduce import reproduce

        return reproduce(args.out, comm, with_3d=args.with_3d)

    if args.command == "fit":
        from solver.case.schema import CaseError, load_case
        from solver.studies.fitting import fit_case

        try:
            load_case(args.case)  # refuse a bad case before any run
        except CaseError as exc:
            _refused("case", args.case, exc, root)
            return EXIT_BAD_INPUT
        fit_case(args.case, comm, log=print if root else (lambda *a: None))
        return EXIT_OK

    if args.command == "verify":
        from solver.studies.verify import run_verification

        return run_verification(args.out, only=args.only, comm=comm)

    from solver.case.schema import CaseError, dump_case_yaml, load_case

    try:
        case = load_case(args.case, args.overrides)
    except CaseError as exc:
        _refused("case", args.case, exc, root)
        return EXIT_BAD_INPUT

    from solver.simulation.preflight import preflight

    estimate_lines, too_large = preflight(case, comm, force=args.force_large)
    if root and not (args.quiet and args.command != "validate"):
        for line in estimate_lines:  # stderr for validate: its stdout is the resolved YAML
            print(line, file=sys.stderr if args.command == "validate" else sys.stdout, flush=True)
    if too_large:
        if root:
            print(f"lrmo: {args.case}: {too_large}", file=sys.stderr)
        return EXIT_BAD_INPUT

    if args.command == "validate":
        if root:
            print(dump_case_yaml(case), end="")
            print(f"# {args.case}: valid", file=sys.stderr)
        return EXIT_OK

    from solver.io.log import Log

    log = Log(comm, quiet=args.quiet)
    if args.command == "mesh":
        from solver.simulation.domain_setup import build_domain

        try:
            domain = build_domain(case, comm, mesh_dir=args.out)
        except ValueError as exc:
            log.error(f"mesh: {exc}")
            return EXIT_BAD_INPUT
        cache = domain.info["cache"]["status"] if "cache" in domain.info else "not cached (1D)"
        log.info(f"wrote {args.out}/mesh.xdmf, mesh.h5 and info.json: "
                 f"{domain.info['num_cells']} cells; mesh cache: {cache}")
        return EXIT_OK

    from solver.simulation.run import run_case

    out = args.out or f"results/{case.name}"
    try:
        summary = run_case(case, out, comm, log, restart=args.restart, restart_command=_restart_command(args, out))
    except ValueError as exc:  # bad geometry/mesh inputs found while building; no checkpoint
        log.error(str(exc))
        return EXIT_BAD_INPUT
    if summary["status"] == "interrupted":
        return EXIT_INTERRUPTED
    if summary["status"] != "completed":
        return EXIT_SOLVER_FAILURE
    stress = summary.get("stress")
    if stress:
        log.info(
            f"peak von Mises {stress['peak_von_mises_Pa'] / 1e6:.2f} MPa at t = "
            f"{stress['peak_time_s']:.4g} s, r = {stress['peak_radius_m'] * 1e9:.2f} nm "
            f"({stress['peak_region']})"
        )
    log.info(f"wrote {out}/ (summary.json, timeseries.csv, profiles.csv, fields/) in {summary['wall_time_s']:.1f} s")
    return EXIT_OK

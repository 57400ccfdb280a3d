"""`lrmo` command line (also `python -m lrmo`).

    lrmo run CASE.yaml [--out DIR] [--set key.path=value ...] [--force-large] [--restart]
    lrmo validate CASE.yaml [--set ...] [--force-large]
    lrmo mesh CASE.yaml --out DIR [--set ...] [--force-large]
    lrmo verify [--only NAME] [--out DIR]
    lrmo sweep SERIES.yaml [--out DIR] [--restart]
    lrmo reproduce [--out DIR] [--no-3d] [--np N]
    lrmo shock-map CASE.yaml [CASE.yaml ...] [--out DIR] [--radii R ...] [--rates C ...]
                   [--toughness K_Ic] [--max-flaw F] [--set ...]
    lrmo fit CASE.yaml
    lrmo version | lrmo --version

Every command that writes prints its output folder first, locks it for the command's
duration and marks it (solver/io/output.py `claim_folder`); it refuses a folder another
lrmo process is writing (exit 4, naming it) and a non-empty folder holding another
command's results (exit 4) unless --overwrite. Under `srun`, a one-rank MPI world in a
step of several tasks (srun without the MPI library's PMI plugin) is refused (exit 2).

run, validate and mesh first print the pre-flight estimate (cells, dofs, memory) and
refuse (exit 2) a case whose estimate exceeds the memory available; --force-large
overrides (docs/meshes.md).

Exit codes: 0 done, 2 bad input (also: --restart without a checkpoint of this case and
mesh; one-rank copies under srun), 3 solver failure (a diverged or collapsed solution
too), 4 output folder unusable (not a folder, not writable, disk full, being written by
another lrmo process), 5 interrupted by SIGTERM/SIGINT: a checkpoint was written,
continue with the same command plus --restart (docs/batch-jobs.md; shock-map: no map
written, run it again), 1 an unexpected
error (a bug; its traceback). Same behaviour under mpirun; only rank 0 prints. An error
raised on some ranks only (the others would wait for them for ever) aborts every rank
after LRMO_RANK_ERROR_WAIT_S seconds (default 30), with the exit code it would have had,
printed by the rank that has it (solver/io/rank_errors.py).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_OK, EXIT_BAD_INPUT, EXIT_SOLVER_FAILURE, EXIT_OUTPUT, EXIT_INTERRUPTED = 0, 2, 3, 4, 5
EXIT_UNEXPECTED = 1  # an unexpected error (a bug): Python's own code for one


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's own exit code is 2 as well; keep it, one line
        from mpi4py import MPI

        if MPI.COMM_WORLD.rank == 0:
            self.print_usage(sys.stderr)
            print(f"lrmo: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults shown after each option that has one (not after on/off flags); the
    examples in the epilog kept as written."""

    def _get_help_string(self, action):
        if action.default in (None, False, [], argparse.SUPPRESS):
            return action.help
        return super()._get_help_string(action)


class _Version(argparse.Action):
    """`lrmo --version`: the version, printed on rank 0."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS,
                         help="print lrmo's version and exit (`lrmo version`: also what it runs on)")

    def __call__(self, parser, namespace, values, option_string=None):
        from mpi4py import MPI

        from solver import __version__

        if MPI.COMM_WORLD.rank == 0:
            print(f"lrmo {__version__}")
        raise SystemExit(EXIT_OK)


# one example per command, shown by `lrmo COMMAND --help` (and all by `lrmo --help`)
EXAMPLES = {
    "run": ["lrmo run cases/demo.yaml --out results/demo",
            "lrmo run cases/pristine_stress.yaml --out runs/2C --set protocol.c_rate=2C "
            "--set geometry.radius='200 nm'",
            "mpirun -n 4 lrmo run cases/ru1_stress_octant.yaml --out runs/ru1_octant"],
    "validate": ["lrmo validate cases/demo.yaml --set protocol.c_rate=C/3"],
    "mesh": ["lrmo mesh cases/verify_galvanostatic_octant.yaml --out mesh/"],
    "verify": ["lrmo verify", "lrmo verify --only radial --out /tmp/verify"],
    "sweep": ["lrmo sweep cases/series/ru_series.yaml",
              "mpirun -n 3 lrmo sweep cases/series/ru_series.yaml --out runs/ru_series"],
    "reproduce": ["lrmo reproduce --out results", "lrmo reproduce --out /tmp/quick --no-3d"],
    "fit": ["lrmo fit cases/pristine_stress.yaml"],
    "shock-map": ["lrmo shock-map cases/pristine_stress.yaml cases/ru1_stress.yaml --out results/shock_map",
                  "mpirun -n 2 lrmo shock-map cases/pristine_stress.yaml --radii 100 150 250 --rates 0.5 1 2 "
                  "--toughness 0.5 --max-flaw 0.2 --out /tmp/map"],
    "view": ["lrmo view results/pristine_stress_octant --out view.png",
             "lrmo view results/pristine_stress --peak --field c_Li_mol_m3 --out peak.png"],
    "version": ["lrmo version", "lrmo --version"],
}


def _examples(*commands: str) -> str:
    lines = [f"  {e}" for c in commands for e in EXAMPLES[c]]
    return "example" + ("s" if len(lines) > 1 else "") + ":\n" + "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="lrmo", description="Chemo-mechanics and O2 transport of cathode particles.",
                formatter_class=_Formatter, epilog=_examples(*EXAMPLES) + "\n\n" + (
                    "exit codes: 0 done, 2 bad input, 3 solver failure, 4 output folder unusable, "
                    "being written by another lrmo process or holding another command's results, "
                    "5 interrupted (continue with --restart)"))
    p.add_argument("--version", action=_Version)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name, help_text, description=None):
        return sub.add_parser(name, help=help_text, description=description or help_text,
                              formatter_class=_Formatter, epilog=_examples(name))

    def overwrite_option(c):
        c.add_argument("--overwrite", action="store_true",
                       help="write into --out even if it holds another command's results")

    def case_command(name, help_text, out_required=False, out_default=None, several=False):
        c = command(name, help_text)
        c.add_argument("case", nargs="+" if several else None, help="case file(s) (YAML)" if several else
                       "case file (YAML)")
        c.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                       help="override a case value (repeatable), e.g. --set geometry.radius='200 nm' "
                       "--set protocol.c_rate=2C")
        if name != "validate":
            c.add_argument("--out", required=out_required, default=out_default, help="output folder")
            overwrite_option(c)
        c.add_argument("--quiet", action="store_true", help="no progress output")
        c.add_argument("--force-large", action="store_true",
                       help="run even if the pre-flight estimate exceeds the memory available")
        return c

    run = case_command("run", "run a case", out_default="results/<case name>")
    run.add_argument("--restart", action="store_true",
                     help="continue from the checkpoint in the --out folder (docs/batch-jobs.md)")
    case_command("validate", "check a case file and print the resolved case (writes nothing)")
    case_command("mesh", "build the case's mesh only (mesh.xdmf/.h5, mesh.msh, info.json)", out_required=True)
    v = command("verify", "run the verification cases against closed forms")
    v.add_argument("--only", default=None, help="run only cases whose name contains this")
    v.add_argument("--out", default="results/verify", help="output folder")
    overwrite_option(v)
    w = command("sweep", "run a series of cases (members in parallel under mpirun)")
    w.add_argument("series", help="series file (YAML)")
    w.add_argument("--out", default="results/sweep-<series name>",
                   help="output folder (kept apart from `lrmo reproduce`'s results/<series name>)")
    w.add_argument("--restart", action="store_true",
                   help="continue an interrupted sweep in --out: completed members are kept, interrupted "
                   "ones continue from their checkpoints, the others run (docs/batch-jobs.md)")
    overwrite_option(w)
    r = command("reproduce", "the paper's headline cases and results/report.md")
    r.add_argument("--out", default="results", help="output folder")
    r.add_argument("--no-3d", dest="with_3d", action="store_false",
                   help="skip the 3D octant twins of the stress cases (a few minutes)")
    r.add_argument("--np", type=int, default=1, metavar="N",
                   help="run the 3D cases under `mpirun -n N` (at most the cores available; "
                        "`make reproduce` passes NP, default 2)")
    overwrite_option(r)
    sm = case_command("shock-map", "will it crack? the critical C-rate for crack initiation against the radius, "
                      "from 1D runs of each case at every radius and rate (docs/fracture.md)",
                      out_default="results/shock_map", several=True)
    sm.add_argument("--radii", nargs="+", type=float, default=[50, 100, 150, 250, 500], metavar="NM",
                    help="particle radii in nm (geometry.radius)")
    sm.add_argument("--rates", nargs="+", type=float, default=[0.5, 1, 2, 5], metavar="C",
                    help="C-rates (protocol.c_rate; the end time scaled by C_case/C)")
    sm.add_argument("--toughness", type=float, default=None, metavar="K_IC",
                    help="fracture toughness K_Ic in MPa m^0.5 (default 0.24, LiMn2O4, solver/case/crack_inputs.py)")
    sm.add_argument("--max-flaw", type=float, default=None, metavar="F",
                    help="deepest surface flaw as a fraction of R, in (0, 0.5] (default 0.1)")
    f = command("fit", "re-fit the parameters declared in a case's fitted: block (writes nothing)")
    f.add_argument("case", help="case file (YAML)")
    command("version", "versions of lrmo and what it runs on")
    vw = command("view", "render a result's surface and centre slice to PNG with ParaView's pvpython "
                 "(docs/paraview.md)")
    vw.add_argument("result", help="a result folder (or an .xdmf file)")
    vw.add_argument("--out", default="view.png", help="PNG to write")
    vw.add_argument("--field", default="sigma_vm_Pa", help="point array to colour by")
    vw.add_argument("--peak", action="store_true", help="the state at the peak (fields_at_peak.xdmf)")
    vw.add_argument("--time", type=float, default=None, help="time in s (default: the last)")
    return p


def _claim(out, command: str, args, comm, log) -> Path:
    """Print where `command` writes, lock and mark the folder (refusing a folder another
    process writes, or another command's results unless --overwrite: OutputError, exit 4).
    The lock is released when `main` returns. Returns the folder as a Path."""
    from solver.io.output import claim_folder

    out = Path(out)
    log.info(f"lrmo {command}: writing to {out}/")
    claim = claim_folder(out, command, comm, overwrite=getattr(args, "overwrite", False))
    if claim.note:
        log.notice(claim.note)
    return out


WRITING_COMMANDS = ("run", "mesh", "verify", "sweep", "reproduce", "shock-map")


def _hold_stop_signals() -> None:
    """SIGINT and SIGTERM held back (pending, not lost) until the run's own handlers are
    in place (StopRequests, solver/simulation/checkpoint.py, which lets them through):
    a signal while the libraries load ends the run cleanly too, and the threads the
    libraries start (MPI's) inherit the block, so a signal always reaches the main
    thread's handler, even while Gmsh's `initialize` has reset the handlers (the
    main thread holds them back then: meshes/gmsh_io.py)."""
    import signal

    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.command in ("run", "sweep", "shock-map") and argv is None:  # a process of its own
        _hold_stop_signals()
    from mpi4py import MPI

    import os

    from solver.io import folder_lock
    from solver.io.launch import single_rank_copy
    from solver.io.output import OutputError

    copy = single_rank_copy(os.environ, MPI.COMM_WORLD.size) if args.command in WRITING_COMMANDS else None
    if copy is not None:
        print(f"lrmo: {copy}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        return _dispatch(args, MPI.COMM_WORLD)
    except OutputError as exc:  # raised alike on every rank (solver/io/output.py)
        if MPI.COMM_WORLD.rank == 0:
            print(f"lrmo: {exc}", file=sys.stderr)
        return EXIT_OUTPUT
    except Exception as exc:
        if MPI.COMM_WORLD.size == 1:
            raise
        return _unexpected(exc, MPI.COMM_WORLD)
    finally:  # completed, failed, interrupted or refused: the folder's lock goes
        folder_lock.release_all()


def _unexpected(exc: Exception, comm) -> int:
    """An unexpected error under MPI (a bug; in serial its traceback ends the command):
    exit 1 on every rank, with rank 0's traceback and one line, once every rank has raised
    one; an error on some ranks only would leave the others waiting in a collective call
    forever, so it aborts every rank (solver/io/rank_errors.py)."""
    from solver.io import rank_errors

    errors = rank_errors.agree(exc, comm)
    if errors is None:
        rank_errors.abort(exc, EXIT_UNEXPECTED, comm)
    if comm.rank == 0:
        print(errors[0].trace, end="", file=sys.stderr)
        print(f"lrmo: unexpected error on every rank: {errors[0].line()}", file=sys.stderr)
    return EXIT_UNEXPECTED


def _bad_build(exc: ValueError, comm, log, prefix: str = "") -> int:
    """A ValueError while meshing or building (bad geometry or mesh inputs): exit 2 once
    every rank has raised one, rank 0 naming it; raised on some ranks only, it aborts
    every rank (solver/io/rank_errors.py) instead of leaving the others waiting."""
    from solver.io import rank_errors

    if rank_errors.agree(exc, comm) is None:
        rank_errors.abort(exc, EXIT_BAD_INPUT, comm)
    log.error(f"{prefix}{exc}")
    return EXIT_BAD_INPUT


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
    """This `lrmo run` or `lrmo sweep` command with --restart (to be run as before: the
    same mpirun/srun line, any number of ranks)."""
    import shlex

    if args.command == "sweep":
        words = ["lrmo", "sweep", args.series, "--out", out]
    else:
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

    if args.command == "view":
        from solver.io.paraview_view import launch

        return launch(args.result, args.out, args.field, args.peak, args.time) if root else EXIT_OK

    if args.command == "version":
        from solver.io.provenance import versions

        if root:
            for k, v in versions().items():
                print(f"{k:9s} {v}")
        return EXIT_OK

    if args.command == "sweep":
        from solver.case.schema import CaseError
        from solver.studies.sweep import _member_case, load_series, run_series

        from solver.io.log import Log

        try:
            series, base = load_series(args.series)
            for i, member in enumerate(series.members):  # every member checked before writing
                _member_case(base, i, member)
        except CaseError as exc:
            _refused("series", args.series, exc, root)
            return EXIT_BAD_INPUT
        out = args.out.replace("<series name>", series.name)
        try:
            _claim(out, "sweep", args, comm, Log(comm))
            restart_command = _restart_command(args, out)
            results = run_series(args.series, out, comm, restart=args.restart, restart_command=restart_command)
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
            print(f"lrmo sweep: wrote {Path(out) / 'series.json'} and one folder per member in {out}")
        statuses = {m["summary"]["status"] for m in results}
        if statuses & {"interrupted", "not run"}:  # "not run": stopped by a signal before it started
            if root:
                print(f"lrmo sweep: interrupted; continue the unfinished members with: {restart_command}",
                      file=sys.stderr)
            return EXIT_INTERRUPTED
        return EXIT_SOLVER_FAILURE if statuses != {"completed"} else EXIT_OK

    if args.command == "reproduce":
        from solver.io.log import Log
        from solver.studies.reproduce import reproduce

        _claim(args.out, "reproduce", args, comm, Log(comm))
        return reproduce(args.out, comm, with_3d=args.with_3d, ranks=args.np)

    if args.command == "shock-map":
        return _shock_map(args, comm)

    if args.command == "fit":
        from solver.case.schema import CaseError, load_case
        from solver.studies.fitting import fit_case

        try:
            load_case(args.case)  # refuse a bad case before any run
        except CaseError as exc:
            _refused("case", args.case, exc, root)
            return EXIT_BAD_INPUT
        if root:
            print("lrmo fit: runs in memory, writes no files; copy the fitted values into the case")
        fit_case(args.case, comm, log=print if root else (lambda *a: None))
        return EXIT_OK

    if args.command == "verify":
        from solver.io.log import Log
        from solver.studies.verify import run_verification

        out = _claim(args.out, "verify", args, comm, Log(comm))
        code = run_verification(out, only=args.only, comm=comm)
        if root:
            print(f"lrmo verify: wrote one folder per verification case in {out}")
        return code

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

        out = _claim(args.out, "mesh", args, comm, log)
        try:
            domain = build_domain(case, comm, mesh_dir=out)
        except ValueError as exc:
            return _bad_build(exc, comm, log, "mesh: ")
        cache = domain.info["cache"]["status"] if "cache" in domain.info else "not cached (1D)"
        gmsh_file = "mesh.msh, " if (Path(out) / "mesh.msh").exists() else ""  # 1D: built without Gmsh
        log.info(f"wrote {out / 'mesh.xdmf'}, mesh.h5, {gmsh_file}info.json: "
                 f"{domain.info['num_cells']} cells; mesh cache: {cache}")
        return EXIT_OK

    from solver.simulation.run import run_case

    out = str(_claim(args.out.replace("<case name>", case.name), "run", args, comm, log))
    try:
        summary = run_case(case, out, comm, log, restart=args.restart, restart_command=_restart_command(args, out))
    except ValueError as exc:  # bad geometry/mesh inputs found while building; no checkpoint
        return _bad_build(exc, comm, log)
    if summary["status"] == "interrupted":
        return EXIT_INTERRUPTED
    if summary["status"] != "completed":  # a step refused at run time is bad input
        return EXIT_BAD_INPUT if summary.get("reason") == "bad input" else EXIT_SOLVER_FAILURE
    stress = summary.get("stress")
    if stress:
        log.info(
            f"peak von Mises {stress['peak_von_mises_Pa'] / 1e6:.2f} MPa at t = "
            f"{stress['peak_time_s']:.4g} s, r = {stress['peak_radius_m'] * 1e9:.2f} nm "
            f"({stress['peak_region']})"
        )
    written = [n for n in ("summary.json", "timeseries.csv", "profiles.csv", "fields/", "oxygen/")
               if (Path(out) / n).is_file() or any((Path(out) / n).glob("*"))] if root else []
    log.info(f"wrote {Path(out)} ({', '.join(written)}) in {summary['wall_time_s']:.1f} s")
    return EXIT_OK


def _shock_map(args, comm) -> int:
    """`lrmo shock-map`: every option and every member's case checked before any run
    (exit 2 naming the option or key), then the folder claimed (exit 4), the members run
    (shared over the ranks) and the files written, each whole or not at all; exit 3 if a
    member failed (the map is written with its status); exit 5 with one line and no map
    written on SIGTERM/SIGINT (after the members running then stop)."""
    from mpi4py import MPI

    from solver.case.schema import CaseError, load_case
    from solver.io.log import Log
    from solver.simulation.preflight import preflight
    from solver.studies import shock_map as sm

    root = comm.rank == 0
    try:
        inputs = sm.check_options(args.radii, args.rates, args.toughness, args.max_flaw)
    except sm.MapInputError as exc:
        if root:
            print(f"lrmo: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    samples = {}
    for path in args.case:
        try:
            sample = sm.sample_cases([path], args.overrides)
            sm.check_members(sample, args.radii, args.rates, args.overrides)
        except CaseError as exc:
            _refused("case", path, exc, root)
            return EXIT_BAD_INPUT
        label = next(iter(sample))
        if label in samples:
            if root:
                print(f"lrmo: CASE: {path} and {samples[label]} are the same sample ({label}); give each once",
                      file=sys.stderr)
            return EXIT_BAD_INPUT
        samples.update(sample)
    for label, path in samples.items():  # the largest member, each run on one rank
        base = load_case(path, args.overrides)
        largest = load_case(path, args.overrides + sm.member_overrides(base, max(args.radii), min(args.rates)))
        _, too_large = preflight(largest, MPI.COMM_SELF, force=args.force_large)
        if too_large:
            if root:
                print(f"lrmo: {path} at R = {max(args.radii):g} nm: {too_large}", file=sys.stderr)
            return EXIT_BAD_INPUT
    log = Log(comm, quiet=args.quiet)
    out = _claim(args.out, "shock-map", args, comm, log)
    try:
        members, text = sm.make_map(out, samples, args.radii, args.rates, inputs, args.overrides, comm, log)
    except sm.MapInterrupted as exc:  # on every rank
        if root:
            print(f"lrmo shock-map: {exc}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:  # a second SIGINT, at once, on this rank (the others may be running members)
        where = f" on rank {comm.rank}" if comm.size > 1 else ""
        print(f"lrmo shock-map: stopped at once by a second SIGINT{where}; no map written: run the command again",
              file=sys.stderr, flush=True)
        if comm.size > 1:
            from solver.io import folder_lock

            folder_lock.release_for_abort()
            comm.Abort(EXIT_INTERRUPTED)
        return EXIT_INTERRUPTED
    failed = [m for m in members if m["status"] != "completed"]
    if root:
        if not args.quiet:
            print(text)
        for m in failed:
            print(f"lrmo: shock-map member {m['sample']} R = {m['radius_nm']:g} nm at {m['c_rate']:g}C "
                  f"{m['status']}: {m.get('message', '')}", file=sys.stderr)
        log.info(f"wrote {out}/ ({', '.join(sm.OUTPUTS)})")
    return EXIT_SOLVER_FAILURE if failed else EXIT_OK

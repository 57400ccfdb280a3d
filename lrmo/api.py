"""The Python API behind `import lrmo`: cases from files or from Python, validated as case
files are; `run` into a folder or into memory; `sweep` over values or a series file.

    import lrmo
    case = lrmo.load_case("cases/pristine_stress.yaml", overrides=["output.fields=false"])
    case.geometry.radius = "200 nm"               # validated on assignment
    result = lrmo.run(case.with_changes({"protocol.c_rate": "2C"}))
    result.peak_von_mises_Pa, result.timeseries["sigma_vm_max_Pa"], result.profiles.at(600)

The engine is `solver/` (the run is `solver.simulation.run.run_case`, exactly what
`lrmo run` calls); this module only builds cases and reads results back.
"""
from __future__ import annotations

import contextlib
import itertools
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterable, Mapping

from pydantic import ValidationError

from lrmo.result import Result
from solver.case import schema
from solver.case.loading import CaseError, parse_yaml


class RunError(RuntimeError):
    """A run that did not complete (failed or interrupted); `.result` holds what it
    wrote (its summary says why)."""

    def __init__(self, message: str, result: Result):
        super().__init__(message)
        self.result = result


class Case(schema.Case):
    """A case: the same schema as case files (solver/case/schema.py, docs/case-files.md),
    built from a file (`Case.from_file`, `lrmo.load_case`) or from Python
    (`Case.from_dict`). Every assignment is validated (`case.protocol.c_rate = "2C"`;
    a bad value raises CaseError naming the key path and what is allowed);
    `with_changes` returns a changed copy. Quantities are read as `case.geometry.radius.si`
    (SI) or `.value`/`.unit` (as written)."""

    @classmethod
    def from_dict(cls, data: Mapping, overrides: Iterable[str] = ()) -> "Case":
        """A case from a mapping shaped like a case file (quantities as "150 nm",
        numbers or {value, unit, source}); `overrides` as `--set` texts."""
        return cls._validated(schema.apply_overrides(dict(data), list(overrides)))

    @classmethod
    def from_file(cls, path, overrides: Iterable[str] = ()) -> "Case":
        """A case file (YAML) read with the CLI's bounded reader, with `--set` style
        overrides such as "geometry.radius=200 nm"."""
        return cls._validated(schema.load_case_data(path, list(overrides)))

    @classmethod
    def from_yaml(cls, text: str) -> "Case":
        """A case from YAML text (e.g. a run's case.yaml)."""
        data = parse_yaml(text, "case")
        if not isinstance(data, dict):
            raise CaseError("a case must be a mapping of sections")
        return cls._validated(data)

    @classmethod
    def _validated(cls, data: dict) -> "Case":
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise CaseError(schema.format_validation_error(exc)) from None

    def with_changes(self, changes: Mapping[str, Any] | Iterable[str] = (), **sections) -> "Case":
        """A copy with changes, validated as a whole: a mapping of dotted key paths to
        values ({"geometry.radius": "200 nm", "protocol.c_rate": "2C"}), or `--set` texts
        (["geometry.radius=200 nm"]); keyword arguments replace whole top-level keys
        (name="r200"). The case itself is unchanged."""
        data = self.to_dict()
        if isinstance(changes, Mapping):
            for key, value in changes.items():
                _set_dotted(data, key, value)
        else:
            data = schema.apply_overrides(data, [changes] if isinstance(changes, str) else list(changes))
        data.update(sections)
        return type(self)._validated(data)

    def to_dict(self) -> dict:
        """The resolved case (every default filled in) as plain data, the form of a case file."""
        return schema.resolved_case_dict(self)

    def to_yaml(self) -> str:
        """The resolved case as YAML (what `lrmo validate` prints and a run's case.yaml holds)."""
        return schema.dump_case_yaml(self)

    def get(self, key: str) -> Any:
        """The value at a dotted key path, e.g. case.get("protocol.c_rate").si."""
        node: Any = self
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else getattr(node, part)
        return node


def _set_dotted(data: dict, key: str, value: Any) -> None:
    """data[a][b][c] = value for key 'a.b.c' (missing mappings are created)."""
    parts = key.split(".")
    if not key or any(not p for p in parts):
        raise CaseError(f"{key!r}: not a key path (e.g. geometry.radius)")
    node = data
    for i, part in enumerate(parts[:-1]):
        nxt = node.get(part)
        if nxt is None:
            nxt = node[part] = {}
        elif not isinstance(nxt, dict):
            raise CaseError(f"{key}: {'.'.join(parts[: i + 1])} is a value, not a section")
        node = nxt
    node[parts[-1]] = value


def load_case(path, overrides: Iterable[str] = ()) -> Case:
    """Read and validate a case file, with `--set` style overrides
    (["geometry.radius=200 nm", "protocol.c_rate=2C"]); raises CaseError naming the key path."""
    return Case.from_file(path, overrides)


def _as_case(case) -> Case:
    """`case` (a Case, a schema Case, a path or a mapping), re-validated as a whole: the
    checks that span sections run again after assignments to single fields."""
    if isinstance(case, (str, Path)):
        return load_case(case)
    if isinstance(case, Mapping):
        return Case.from_dict(case)
    return Case._validated(schema.resolved_case_dict(case))


def _comm(comm):
    """`comm` or COMM_WORLD; also quiets DOLFINx's and FFCx's INFO logging, as the CLI does."""
    from mpi4py import MPI

    from solver.io.log import quiet_library_logging

    quiet_library_logging()
    return comm or MPI.COMM_WORLD


def _temporary_folder(comm) -> Path:
    """A new temporary folder made by rank 0, its path the same on every rank (a folder
    every rank can reach: one node, or TMPDIR on a shared file system)."""
    return Path(comm.bcast(tempfile.mkdtemp(prefix="lrmo-") if comm.rank == 0 else None, root=0))


def _remove(folder: Path, comm) -> None:
    comm.barrier()
    if comm.rank == 0:
        shutil.rmtree(folder, ignore_errors=True)


def _preflight(case: Case, comm, force_large: bool, log) -> None:
    from solver.simulation.preflight import preflight

    lines, too_large = preflight(case, comm, force=force_large)
    for line in lines:
        log.info(line)
    if too_large:
        raise CaseError(f"{too_large} (force_large=True runs it anyway)")


def run(case, out=None, comm=None, *, overwrite: bool = False, quiet: bool = True,
        force_large: bool = False, restart: bool = False, check: bool = True) -> Result:
    """Run a case and return its Result (the same on every rank; collective under mpirun).

    `case`: a Case (or a case file path, or a mapping). `out`: the output folder (the
    output contract of `lrmo run`, README 'Outputs'); None runs in a temporary folder
    without field files, reads everything into memory and removes the folder
    (`result.out` is None). A folder another lrmo process is writing (its lock), or one
    holding another command's results unless `overwrite`, is refused (OutputError).
    `comm`: an mpi4py communicator (default COMM_WORLD). `quiet=False` prints progress
    on rank 0. `force_large` runs a case larger than the pre-flight memory estimate
    allows; `restart` continues from the checkpoint in `out`. `check`: raise RunError when the run does not complete."""
    from solver.io.log import Log
    from solver.io.output import claim_folder
    from solver.simulation.run import run_case

    if restart and out is None:
        raise ValueError("restart=True continues the run in `out`: give the folder")
    comm = _comm(comm)
    case = _as_case(case)
    log = Log(comm, quiet=quiet)
    _preflight(case, comm, force_large, log)
    if out is None:
        folder = _temporary_folder(comm)
        try:
            run_case(case.with_changes({"output.fields": False}), folder, comm, log)
            result = Result.from_folder(folder, comm, out=None)
        finally:
            _remove(folder, comm)
        result = _with_case(result, case)
    else:
        out = Path(out)
        with claim_folder(out, "run", comm, overwrite=overwrite) as claim:  # locked while it runs
            if claim.note:
                log.notice(claim.note)
            log.info(f"lrmo.run: writing to {out}/")
            run_case(case, out, comm, log, restart=restart)
        result = Result.from_folder(out, comm)
    if check and result.status != "completed":
        raise RunError(f"{case.name}: run {result.status}: {result.summary.get('message', '')}", result)
    return result


def _with_case(result: Result, case: Case) -> Result:
    """The Result of a temporary run with the user's case (its fields setting included)."""
    import dataclasses

    return dataclasses.replace(result, case=case)


def _member_text(key: str, value: Any) -> str:
    """A `--set` text for one sweep value (JSON is YAML: strings stay strings)."""
    return f"{key}={json.dumps(value)}"


def sweep(case, values: Mapping[str, Iterable] | None = None, out=None, comm=None, *,
          overwrite: bool = False, quiet: bool = True) -> list[Result]:
    """Run a family of cases and return their Results in order (the same on every rank).

    Either a case and `values`, {dotted key: [values]} (several keys: every
    combination), e.g. sweep(case, {"protocol.c_rate": ["1C", "2C"]}); or a series file
    (cases/series/*.yaml) as `case` and no `values`. Runs through `lrmo sweep`'s engine
    (solver/studies/sweep.py): under mpirun the members share the ranks. `out`: the
    sweep's folder (series.json and one folder per member; refused if it holds another
    command's results, unless `overwrite`); None keeps everything in memory. Each
    Result's `label` names its values, e.g. "protocol.c_rate=2C"."""
    from solver.io.log import Log
    from solver.io.output import claim_folder
    from solver.studies.sweep import load_series, run_series

    comm = _comm(comm)
    scratch = _temporary_folder(comm)
    try:
        if values is None:
            series_path = Path(case)
            load_series(series_path)  # refuse a bad series file before anything runs
        else:
            series_path = scratch / "series.yaml"
            _write_series(_as_case(case), values, scratch, comm)
        folder = scratch / "runs" if out is None else Path(out)
        with contextlib.ExitStack() as held:  # the folder locked while the members run
            if out is not None:
                claim = held.enter_context(claim_folder(folder, "sweep", comm, overwrite=overwrite))
                if claim.note:
                    Log(comm).notice(claim.note)
            members = run_series(series_path, folder, comm, Log(comm, quiet=quiet))
        return [Result.from_folder(folder / m["name"], comm, out=None if out is None else True,
                                   label=m["label"] or m["name"])
                for m in members]
    finally:
        _remove(scratch, comm)


def _write_series(case: Case, values: Mapping[str, Iterable], folder: Path, comm) -> None:
    """A series file (and its base case) for `values`: one member per combination."""
    import yaml

    keys = list(values)
    combos = list(itertools.product(*(list(values[k]) for k in keys)))
    if not keys or not combos:
        raise CaseError("sweep: give at least one key with at least one value")
    members = []
    for i, combo in enumerate(combos):
        sets = [_member_text(k, v) for k, v in zip(keys, combo)]
        case.with_changes(sets)  # each member is checked before anything runs
        label = ", ".join(f"{k}={v}" for k, v in zip(keys, combo))
        number = len(keys) == 1 and isinstance(combo[0], (int, float)) and not isinstance(combo[0], bool)
        variable = float(combo[0]) if number else None
        members.append({"name": f"{case.name}_{i:03d}", "label": label, "variable": variable,
                        "set": sets})
    series = {"name": f"{case.name}_sweep", "base": "base.yaml", "variable": ", ".join(keys),
              "members": members}
    if comm.rank == 0:
        (folder / "base.yaml").write_text(case.to_yaml(), encoding="utf-8")
        (folder / "series.yaml").write_text(yaml.safe_dump(series, sort_keys=False), encoding="utf-8")
    comm.barrier()


__all__ = ["Case", "CaseError", "RunError", "load_case", "run", "sweep"]

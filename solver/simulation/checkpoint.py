"""Checkpoints of a running simulation, so that `lrmo run CASE --out DIR --restart`
continues it, on any number of ranks, to the results of an uninterrupted run.

    DIR/checkpoint/state.json   format, time reached, case hash, node count, the physics'
                                scalars (`state()`), the output rows so far, the summary,
                                the layout of fields.h5 (names, shapes, dtypes)
    DIR/checkpoint/fields.h5    the physics' nodal arrays and the node coordinates, each
                                over the mesh's original node numbering (the order in
                                which the mesh was built or read: the same for any number
                                of ranks), written by every rank at once, each its own
                                part (solver/io/checkpoint_file.py: PETSc's HDF5 viewer,
                                MPI-IO; nothing passes through rank 0); and arrays over
                                one rank's dofs (the elasticity warm-start basis), used
                                only by a restart on the same ranks and dof layout

Written atomically: every rank writes into `checkpoint.partial/`; after they all have,
rank 0 writes state.json and renames the folder to `checkpoint/` (the previous one moved
to `checkpoint.old/` for the moment of the swap, so a kill at any time leaves one
complete checkpoint). adios4dolfinx is not available for the DOLFINx versions supported
here; PETSc's HDF5 viewer is in every PETSc build that DOLFINx uses (Debian, conda-forge).

Also here: SIGTERM/SIGINT turned into a stop request, and the schedule that decides,
collectively after every accepted step, whether to write a checkpoint and whether to stop.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
from mpi4py import MPI

from solver import compat
from solver.io.checkpoint_file import CheckpointFileError, NodeArrayFile
from solver.io.output import OutputError, remove_entry, root_collective, write_atomic

# 2: the one engine (Li state under "lithium", submodels under their names);
# 3: fields.h5 written by every rank (format 2 had fields.npz, gathered on rank 0)
FORMAT = 3
LOCAL = "local:"  # names of arrays over this rank's dofs (not P1 nodes): same ranks only
FOLDER, PARTIAL, OLD = "checkpoint", "checkpoint.partial", "checkpoint.old"
STATE_FILE, ARRAYS_FILE = "state.json", "fields.h5"


class RestartRefused(ValueError):
    """No checkpoint, or one of another case or mesh (exit 2)."""


class Interrupted(Exception):
    """Raised at an accepted step after a stop request, once the checkpoint is written;
    with `stage` ("meshing", "set-up"), before the first step (no checkpoint); with
    stage AT_ONCE, for a second SIGINT wherever it came (no checkpoint written)."""

    AT_ONCE = "at once"

    def __init__(self, t_s: float | None, signal_name: str, stage: str | None = None):
        if stage is None:
            text = f"interrupted by {signal_name} at t = {t_s:.6g} s"
        elif stage == self.AT_ONCE:
            text = f"stopped at once by a second {signal_name} (no checkpoint written)"
        else:
            text = f"interrupted by {signal_name} during {stage}, before the first step"
        super().__init__(text)
        self.t_s, self.signal_name, self.stage = t_s, signal_name, stage


def case_hash(case) -> str:
    """SHA-256 of the resolved case without the keys that do not change the results
    (name, description, output.checkpoint_every)."""
    from solver.case.schema import resolved_case_dict

    d = resolved_case_dict(case)
    for key in ("name", "description"):
        d.pop(key, None)
    d.get("output", {}).pop("checkpoint_every", None)
    return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()


def _jsonable(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


class NodeOrder:
    """A scalar P1 space's owned dofs <-> the mesh's original node numbering, or a DG1
    space's (grains.boundary_resistance) <-> its (cell, node) pairs numbered alike on any
    number of ranks (collective)."""

    def __init__(self, V):
        self.comm = V.mesh.comm
        n = V.dofmap.index_map.size_local
        self.owned = (dg1_dof_input_order(V) if is_discontinuous(V) else compat.p1_dof_input_nodes(V))[:n]
        self.count = self.comm.allreduce(int(self.owned.max()) + 1 if n else 0, op=MPI.MAX)
        self.coordinates = np.ascontiguousarray(V.tabulate_dof_coordinates()[:n].T)  # (3, n)

    def file(self) -> NodeArrayFile:
        """The HDF5 array file over this numbering (collective)."""
        return NodeArrayFile(self.comm, self.owned, self.count)


def is_discontinuous(V) -> bool:
    """No dof shared by two cells on any rank (collective)."""
    dofs = compat.cell_dofs(V)
    shared = np.unique(dofs).size < dofs.size
    return not V.mesh.comm.allreduce(bool(shared), op=MPI.LOR)


def dg1_dof_input_order(V) -> np.ndarray:
    """Local dofs of a scalar DG1 space (dofs in the cell's node order) -> a dense index
    of the keys (the cell's input nodes sorted, the dof's input node), sorted on rank 0:
    the same numbering whatever the number of ranks. Ghost dofs get -1 (collective)."""
    msh = V.mesh
    comm = msh.comm
    n_cells = msh.topology.index_map(msh.topology.dim).size_local
    nodes = np.asarray(msh.geometry.input_global_indices, dtype=np.int64)[compat.geometry_cells(msh)[:n_cells]]
    per_cell = nodes.shape[1]
    keys = np.concatenate([np.repeat(np.sort(nodes, axis=1), per_cell, axis=0),
                           nodes.reshape(-1, 1)], axis=1)
    parts = comm.gather(keys, root=0)
    indices = None
    if comm.rank == 0:
        _, inverse = np.unique(np.concatenate(parts), axis=0, return_inverse=True)
        indices = np.split(inverse.ravel(), np.cumsum([len(p) for p in parts])[:-1])
    mine = comm.scatter(indices, root=0)
    order = np.full(V.dofmap.index_map.size_local + V.dofmap.index_map.num_ghosts, -1, dtype=np.int64)
    order[compat.cell_dofs(V)[:n_cells].ravel()] = mine
    return order


# -- writing and reading -----------------------------------------------------------------
def write(folder: Path, order: NodeOrder, state: dict, arrays: dict[str, np.ndarray]) -> None:
    """Write a checkpoint of `state` (JSON-able) and `arrays` (owned dof values) into
    `folder` (collective; OutputError on every rank if it cannot be written)."""
    partial, final, old = folder / PARTIAL, folder / FOLDER, folder / OLD

    def prepare():
        try:
            remove_entry(partial)
            partial.mkdir()
        except OSError as exc:
            raise OutputError(f"cannot write the checkpoint in {folder}: {exc.strerror or exc}") from None

    root_collective(order.comm, prepare)
    nodes = {name: values for name, values in arrays.items() if not name.startswith(LOCAL)}
    local = {name[len(LOCAL):]: values for name, values in arrays.items() if name.startswith(LOCAL)}
    store = order.file()
    try:
        layout = store.write(partial / ARRAYS_FILE, {"node_coordinates": order.coordinates, **nodes}, local)
    except CheckpointFileError as exc:
        raise OutputError(str(exc)) from None
    finally:
        store.destroy()
    state = {"format": FORMAT, "nodes": order.count, "n_ranks": order.comm.size,
             "written_unix_s": time.time(), "arrays": layout, **state}
    text = json.dumps(state, default=_jsonable) + "\n"

    def publish():  # after every rank has closed the file
        try:
            fd = os.open(partial / ARRAYS_FILE, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            write_atomic(partial / STATE_FILE, text)
            remove_entry(old)
            if final.exists() or final.is_symlink():
                os.replace(final, old)
            os.replace(partial, final)
            remove_entry(old)
        except OutputError:
            raise
        except OSError as exc:
            raise OutputError(f"cannot write the checkpoint in {folder}: {exc.strerror or exc}") from None

    root_collective(order.comm, publish)


def _location(folder: Path) -> Path | None:
    for name in (FOLDER, OLD):  # OLD: killed between the two renames
        if (folder / name / STATE_FILE).is_file():  # written last: the folder is complete
            return folder / name
    return None


def read_state(folder: Path, case, comm: MPI.Comm) -> dict:
    """The checkpoint's state.json, after checking that it is of this case (collective;
    RestartRefused on every rank otherwise)."""
    folder = Path(folder)
    state, problem = None, None
    if comm.rank == 0:
        where = _location(folder)
        if where is None:
            problem = (f"no checkpoint in {folder} to restart from (a checkpoint is written on "
                       "SIGTERM/SIGINT and every output.checkpoint_every); run without --restart")
        else:
            try:
                state = json.loads((where / STATE_FILE).read_text(encoding="utf-8"))
                state["location"] = str(where)
            except (OSError, ValueError) as exc:
                problem = f"cannot read the checkpoint {where / STATE_FILE}: {exc}"
            if state is not None and state.get("format") != FORMAT:
                problem = (f"the checkpoint in {where} has format {state.get('format')!r}, not {FORMAT}: it was "
                           "written by an earlier lrmo (format 2: fields.npz gathered on rank 0), which this "
                           "one cannot read; continue it with that lrmo, or run without --restart")
            elif state is not None and state.get("case_hash") != case_hash(case):
                problem = (f"the case differs from the one checkpointed in {folder} (only name, "
                           "description and output.checkpoint_every may change); run without "
                           "--restart, or into another --out folder")
    state, problem = comm.bcast((state, problem), root=0)
    if problem is not None:
        raise RestartRefused(problem)
    return state


def read_arrays(state: dict, order: NodeOrder, mesh_info: dict) -> dict[str, np.ndarray]:
    """This rank's owned values of the checkpoint's arrays, after checking that the mesh
    is the checkpointed one (node count and coordinates; collective)."""
    saved_key = state.get("summary", {}).get("mesh", {}).get("cache", {}).get("key")
    key = mesh_info.get("cache", {}).get("key")
    problem = None
    if state["nodes"] != order.count or (saved_key and key and saved_key != key):
        problem = (f"the mesh differs from the checkpoint's ({order.count} nodes, cache key "
                   f"{key} vs {state['nodes']} nodes, cache key {saved_key})")
    arrays = {}
    if problem is None:
        store = order.file()
        try:
            nodes, local = store.read(Path(state["location"]) / ARRAYS_FILE, state["arrays"],
                                      with_local=state["n_ranks"] == order.comm.size)
            arrays = {**nodes, **{LOCAL + name: values for name, values in local.items()}}
        except CheckpointFileError as exc:
            problem = str(exc)
        finally:
            store.destroy()
    if problem is None:
        x = arrays.pop("node_coordinates")
        scale = max(float(np.abs(order.coordinates).max(initial=0.0)), 1e-300)
        if x.shape != order.coordinates.shape or np.abs(x - order.coordinates).max(initial=0.0) > 1e-9 * scale:
            problem = "the mesh differs from the checkpoint's: node coordinates do not match"
    problems = order.comm.allgather(problem)
    problem = next((p for p in problems if p is not None), None)
    if problem is not None:
        raise RestartRefused(problem)
    return arrays


def exists(folder: Path, comm: MPI.Comm) -> bool:
    """Is there a checkpoint in `folder` (collective)?"""
    return comm.bcast(_location(Path(folder)) is not None if comm.rank == 0 else None, root=0)


# -- a run's record and its checkpoints ---------------------------------------------------
SUMMARY_KEYS = ("mesh", "dofs", "restarts")  # the summary entries a restart carries on


def resume_summary(record, saved: dict) -> None:
    """A restarted run's summary: the first run's mesh and dofs, and one more restart."""
    summary = record.summary
    summary.update({k: v for k, v in saved["summary"].items() if k in SUMMARY_KEYS})
    summary.setdefault("restarts", []).append({"from_t_s": saved["t_s"], "n_ranks": record.comm.size})


def resume_rows(record, saved: dict, tables: dict[str, list]) -> None:
    """The timeseries rows and table rows written before the checkpoint."""
    record.timeseries.extend(saved["timeseries"])
    for name, rows in tables.items():
        rows.extend(saved["tables"].get(name, []))


def saver(case, record, order: NodeOrder, stops: StopRequests, t_start_s: float, tables: dict[str, list]):
    """`save(sim, force=False)` for a simulation's `run(checkpoint=...)`: writes a
    checkpoint when the schedule says so (or `force`), then raises Interrupted after a
    stop request (collective)."""
    schedule = Schedule(order.comm, case.output.checkpoint_every, stops, t_start_s)
    digest = case_hash(case)

    def save(sim, force: bool = False) -> None:
        due, stop = schedule.poll(sim.t)
        if due or force:
            scalars, arrays = sim.state()
            write(record.folder.path, order, {
                "t_s": sim.t, "case_hash": digest, "sim": scalars, "timeseries": record.timeseries,
                "tables": tables,
                "summary": {k: record.summary[k] for k in SUMMARY_KEYS if k in record.summary},
            }, arrays)
        if stop is not None:
            raise Interrupted(sim.t, stop)

    return save


def close_interrupted(record, exc: Interrupted, restart_command: str, log) -> dict:
    """Close an interrupted run: the results so far written, the fields left in
    fields.partial/ for the restart, the summary says where it stopped and how to go on:
    with `restart_command` from a checkpoint, else (stopped before the first step of a
    fresh run) the same command again without --restart (collective)."""
    folder = record.folder.path
    if exc.stage is None:
        record.summary.update(t_reached_s=exc.t_s, restart_command=restart_command,
                              message=f"{exc}; a checkpoint at t = {exc.t_s:.6g} s is in {folder}/{FOLDER}; "
                                      f"continue with: {restart_command}")
    elif exists(folder, record.comm):  # a restart stopped while setting up: its checkpoint stays
        record.summary.update(restart_command=restart_command,
                              message=f"{exc}; the checkpoint in {folder}/{FOLDER} is unchanged; "
                                      f"continue with: {restart_command}")
    else:
        # `lrmo sweep --restart` runs such a member again (and keeps the completed ones)
        sweep = restart_command.startswith("lrmo sweep ")
        run_command = restart_command if sweep else restart_command.removesuffix(" --restart")
        record.summary.update(run_command=run_command,
                              message=f"{exc}; there is no checkpoint to continue from: run it again "
                                      f"with: {run_command}")
    record.summary.update(status="interrupted", interrupted_during=exc.stage or "stepping")
    summary = record.close(publish_fields=False)
    log.notice(summary["message"])
    return summary


# -- when to write, when to stop ---------------------------------------------------------
class StopRequests(contextlib.AbstractContextManager):
    """SIGTERM and SIGINT set a flag instead of ending the process (the run then stops at
    its next accepted step, or at the next `check`); a second SIGINT raises
    KeyboardInterrupt. The previous handlers are restored on exit. Entered before
    meshing: `meshes/gmsh_io.py` puts back the SIGINT handler that Gmsh's `initialize`
    replaces; a signal during meshing or JIT compilation is recorded, and the compile is
    never cut half-way by the first one. Nested (a sweep's runs, an API caller's own):
    the inner one starts with the outer one's request and hands its own back on exit."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self):
        self.received: str | None = None
        self._previous: dict = {}
        self._mask: set | None = None

    def _handle(self, signum, frame):
        if self.received is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.received = signal.Signals(signum).name

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for s in self.SIGNALS:
                self._previous[s] = signal.getsignal(s)
            outer = self._outer()
            if outer is not None:
                self.received = outer.received
            self.install()
            # let through what lrmo's CLI held back until now (a pending signal is handled here)
            self._mask = signal.pthread_sigmask(signal.SIG_UNBLOCK, self.SIGNALS)
        return self

    def _outer(self) -> StopRequests | None:
        handler = self._previous.get(signal.SIGTERM)
        owner = getattr(handler, "__self__", None)
        return owner if isinstance(owner, StopRequests) else None

    def requested(self, comm: MPI.Comm) -> str | None:
        """The name of the signal received on any rank, or None (collective: a signal may
        reach rank 0 only)."""
        mine = self.SIGNALS.index(signal.Signals[self.received]) + 1 if self.received else 0
        index = comm.allreduce(mine, op=MPI.MAX)
        return self.SIGNALS[index - 1].name if index else None

    def check(self, comm: MPI.Comm, stage: str) -> None:
        """Raise Interrupted (no checkpoint) if a stop was requested on any rank
        (collective)."""
        name = self.requested(comm)
        if name is not None:
            raise Interrupted(None, name, stage)

    def install(self) -> None:
        """(Re)install the handlers, e.g. after Gmsh replaced SIGINT's."""
        for s in self._previous:
            signal.signal(s, self._handle)

    def __exit__(self, *exc):
        outer = self._outer()
        if outer is not None and outer.received is None:
            outer.received = self.received
        if self._mask is not None:  # held back again, if they were, before the old handlers return
            signal.pthread_sigmask(signal.SIG_SETMASK, self._mask)
            self._mask = None
        for s, handler in self._previous.items():
            signal.signal(s, handler if handler is not None else signal.SIG_DFL)
        self._previous.clear()
        return False


class Schedule:
    """After every accepted step: whether to write a checkpoint (every simulated or wall
    interval of `output.checkpoint_every`) and whether to stop (a signal on any rank:
    a signal may reach rank 0 only). One small allreduce per step (collective)."""

    def __init__(self, comm: MPI.Comm, every, stops: StopRequests, t_start_s: float):
        self.comm, self.stops = comm, stops
        self.simulated_s = every.simulated.si if every is not None and every.simulated else None
        self.wall_s = every.wall.si if every is not None and every.wall else None
        self.next_simulated_s = (t_start_s + self.simulated_s) if self.simulated_s else None
        self.next_wall = time.monotonic() + self.wall_s if self.wall_s else None

    def poll(self, t_s: float) -> tuple[bool, str | None]:
        """(write a checkpoint now, name of the stop signal or None)."""
        local = np.zeros(3)
        if self.stops.received is not None:
            local[0] = self.stops.SIGNALS.index(signal.Signals[self.stops.received]) + 1
        if self.comm.rank == 0 and self.next_wall is not None and time.monotonic() >= self.next_wall:
            local[1] = 1.0
        glob = np.empty(3)
        self.comm.Allreduce(local, glob, op=MPI.MAX)
        stop = self.stops.SIGNALS[int(glob[0]) - 1].name if glob[0] else None
        due = bool(glob[1])
        if due:
            self.next_wall = time.monotonic() + self.wall_s
        if self.next_simulated_s is not None and t_s >= self.next_simulated_s * (1 - 1e-12):
            due = True
            while self.next_simulated_s <= t_s * (1 + 1e-12):
                self.next_simulated_s += self.simulated_s
        return due or stop is not None, stop


__all__ = ["NodeOrder", "Schedule", "StopRequests", "Interrupted", "RestartRefused",
           "write", "read_state", "read_arrays", "case_hash", "exists", "saver", "resume_summary",
           "resume_rows", "close_interrupted"]

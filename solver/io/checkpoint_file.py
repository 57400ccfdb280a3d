"""A checkpoint's arrays in one HDF5 file that every rank writes at once (PETSc's HDF5
viewer, MPI-IO): each rank writes its own part, and no array passes through rank 0.

Node arrays, of shape (..., n_owned) with the last axis over a rank's owned nodes, are
stored in the mesh's original node numbering (`owned`: the node number of each owned
value; the same numbering for any number of ranks). A VecScatter moves the owned values
into a vector in node order, spread evenly over the ranks, which the viewer writes; a
reader on any number of ranks scatters them back to its own nodes. The k = prod(...)
components of an array are written in blocks of up to CHUNK_VALUES / (a rank's nodes)
components, each block one dataset of shape (count, block) (a block-size vector and a
block scatter): few datasets for many components (the peak search's thousands of stored
site fractions), and a write's extra memory bounded by a few blocks, not the array.

Rank-local arrays (any shape; read back only by a run on the same number of ranks) are
stored rank after rank in one dataset.

The datasets are named a<array>.<first component> and l<array>; the arrays' names, shapes
and dtypes are in the `layout` that `write` returns (JSON-able, kept beside the file by
the caller). Empty arrays are kept in the layout only (HDF5 has no zero-length dataset
here).
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from mpi4py import MPI
from petsc4py import PETSc


CHUNK_VALUES = 1 << 22  # values per rank in one block (32 MB)


class CheckpointFileError(OSError):
    """The HDF5 file cannot be written or read (raised on every rank)."""


def _agree(comm: MPI.Comm, problem: str | None) -> None:
    """Raise CheckpointFileError on every rank if any rank has a problem (collective)."""
    problems = [p for p in comm.allgather(problem) if p is not None]
    if problems:
        raise CheckpointFileError(problems[0])


class NodeArrayFile:
    """Write and read (..., n_owned) arrays over `owned` node numbers of 0..count-1, and
    rank-local arrays, in one HDF5 file (collective)."""

    def __init__(self, comm: MPI.Comm, owned: np.ndarray, count: int):
        self.comm, self.count = comm, int(count)
        self.owned = np.asarray(owned, dtype=np.int64)
        self._largest = comm.allreduce(self.owned.size, op=MPI.MAX)
        self._scatters: dict[int, tuple] = {}

    def _blocks(self, k: int) -> list[tuple[int, int]]:
        """(first component, components) of each block of k components (the same on
        every rank)."""
        size = max(1, min(k, CHUNK_VALUES // max(self._largest, 1)))
        return [(start, min(size, k - start)) for start in range(0, k, size)]

    # -- the scatter between owned values and the vector in node order -----------------
    def _vectors(self, bs: int):
        """(owned vector, node-order vector, scatter owned -> node order) for blocks of
        bs components per node, built once per bs (collective)."""
        if bs not in self._scatters:
            n = self.owned.size
            owned = PETSc.Vec().createMPI((n * bs, PETSc.DECIDE), bsize=bs, comm=self.comm)
            ordered = PETSc.Vec().createMPI((PETSc.DECIDE, self.count * bs), bsize=bs, comm=self.comm)
            target = PETSc.IS().createBlock(bs, self.owned.astype(PETSc.IntType), comm=self.comm)
            self._scatters[bs] = (owned, ordered, PETSc.Scatter().create(owned, None, ordered, target))
            target.destroy()
        return self._scatters[bs]

    def destroy(self) -> None:
        for vectors in self._scatters.values():
            for v in vectors:
                v.destroy()
        self._scatters.clear()

    # -- writing -------------------------------------------------------------------------
    def write(self, path: Path, arrays: dict[str, np.ndarray],
              local: dict[str, np.ndarray] | None = None) -> dict:
        """Write `arrays` (the same names and leading shapes on every rank) and the
        rank-local `local` arrays into a new file `path`; returns the layout
        (collective; CheckpointFileError on every rank if it cannot be written)."""
        layout: dict = {"nodes": [], "local": []}
        viewer, problem = None, None
        try:
            viewer = PETSc.Viewer().createHDF5(str(path), "w", comm=self.comm)
            for i, (name, values) in enumerate(arrays.items()):
                values = np.asarray(values)
                # the leading shape of the ranks that own nodes (one without may hold any
                # empty array), so that every rank writes the same datasets
                lead = next((s for s in self.comm.allgather(values.shape[:-1] if self.owned.size else None)
                             if s is not None), values.shape[:-1])
                if not self.owned.size:
                    values = np.zeros((*lead, 0), dtype=values.dtype)
                entry = {"name": name, "shape": list(lead), "dtype": values.dtype.str, "dataset": f"a{i}"}
                layout["nodes"].append(entry)
                if self.count == 0:
                    continue
                components = values.reshape(math.prod(lead), self.owned.size)
                for start, bs in self._blocks(components.shape[0]):
                    owned, ordered, scatter = self._vectors(bs)
                    owned.array[:] = components[start:start + bs].T.ravel()  # node after node
                    ordered.zeroEntries()  # nodes no rank owns stay 0
                    scatter.scatter(owned, ordered, PETSc.InsertMode.INSERT_VALUES, PETSc.ScatterMode.FORWARD)
                    ordered.setName(f"{entry['dataset']}.{start}")
                    viewer.view(ordered)
            for i, (name, values) in enumerate((local or {}).items()):
                values = np.asarray(values)
                shapes = self.comm.allgather(list(values.shape))
                entry = {"name": name, "shapes": shapes, "dtype": values.dtype.str, "dataset": f"l{i}"}
                layout["local"].append(entry)
                if sum(math.prod(s) for s in shapes) == 0:
                    continue
                v = PETSc.Vec().createWithArray(np.ascontiguousarray(values, dtype=PETSc.ScalarType).ravel(),
                                                size=(values.size, PETSc.DECIDE), comm=self.comm)
                v.setName(entry["dataset"])
                viewer.view(v)
                v.destroy()
        except PETSc.Error as exc:
            problem = f"cannot write the checkpoint file {path}: PETSc error {exc.ierr}"
        finally:
            if viewer is not None:
                viewer.destroy()
        _agree(self.comm, problem)
        return layout

    # -- reading -------------------------------------------------------------------------
    def read(self, path: Path, layout: dict, with_local: bool) -> tuple[dict, dict]:
        """(this rank's owned values of the node arrays, its rank-local arrays if
        `with_local`, else {}) from `path` written with `layout` (collective;
        CheckpointFileError on every rank if it cannot be read)."""
        arrays, local, viewer, problem = {}, {}, None, None
        n = self.owned.size
        try:
            viewer = PETSc.Viewer().createHDF5(str(path), "r", comm=self.comm)
            for entry in layout["nodes"]:
                lead = tuple(entry["shape"])
                values = np.zeros((math.prod(lead), n))
                for start, bs in self._blocks(values.shape[0]) if self.count else ():
                    owned, ordered, scatter = self._vectors(bs)
                    ordered.setName(f"{entry['dataset']}.{start}")
                    ordered.load(viewer)
                    scatter.scatter(ordered, owned, PETSc.InsertMode.INSERT_VALUES, PETSc.ScatterMode.REVERSE)
                    values[start:start + bs] = owned.array.reshape(n, bs).T
                arrays[entry["name"]] = values.reshape(*lead, n).astype(np.dtype(entry["dtype"]), copy=False)
            for entry in layout["local"] if with_local else ():
                shape = tuple(entry["shapes"][self.comm.rank])
                values = np.zeros(shape)
                if sum(math.prod(s) for s in entry["shapes"]):
                    v = PETSc.Vec().createMPI((math.prod(shape), PETSc.DECIDE), comm=self.comm)
                    v.setName(entry["dataset"])
                    v.load(viewer)
                    values = v.array.reshape(shape).copy()
                    v.destroy()
                local[entry["name"]] = values.astype(np.dtype(entry["dtype"]), copy=False)
        except PETSc.Error as exc:
            problem = f"cannot read the checkpoint file {path}: PETSc error {exc.ierr}"
        except (KeyError, TypeError, ValueError) as exc:
            problem = f"cannot read the checkpoint file {path}: its layout is damaged ({exc})"
        finally:
            if viewer is not None:
                viewer.destroy()
        _agree(self.comm, problem)
        return arrays, local

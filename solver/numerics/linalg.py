"""PETSc solver set-up shared by the physics: options under a unique prefix per
problem, a failure that names the problem, and the L2 projection used for outputs."""
from __future__ import annotations

import itertools
import math
from collections import OrderedDict

import numpy as np
import ufl
from dolfinx import fem
from petsc4py import PETSc

from solver import compat

_counter = itertools.count()

# BoomerAMG tuned for 3D diffusion (measured 2.7x faster per step than the defaults on
# this machine kind: docs/performance.md).
HYPRE_3D = {
    "ksp_type": "cg",
    "pc_type": "hypre",
    "pc_hypre_type": "boomeramg",
    "pc_hypre_boomeramg_coarsen_type": "HMIS",
    "pc_hypre_boomeramg_interp_type": "ext+i",
    "pc_hypre_boomeramg_strong_threshold": 0.5,
    "pc_hypre_boomeramg_P_max": 4,
    "pc_hypre_boomeramg_agg_nl": 1,
    "ksp_rtol": 1e-10,
    "ksp_atol": 1e-30,
}
DIRECT = {"ksp_type": "preonly", "pc_type": "lu", "pc_factor_mat_solver_type": "mumps"}
# PETSc's own sparse LU: no MUMPS start-up per factorisation (tiny 1D systems, one rank).
# Its zero-pivot test is absolute (1e-12 by default) and SI entries weighted by r^2 are
# far smaller than that: test against 0 only.
DIRECT_SERIAL = {"ksp_type": "preonly", "pc_type": "lu", "pc_factor_mat_solver_type": "petsc",
                 "pc_factor_zeropivot": 0.0}


def direct_options(comm) -> dict:
    """LU options for `comm`: PETSc's LU on one rank, MUMPS on several."""
    return DIRECT_SERIAL if comm.size == 1 else DIRECT


# P2 elasticity: CG + two-level p-multigrid (solver/numerics/pmultigrid.py): Chebyshev/Jacobi on
# P2, one GAMG V-cycle on the rediscretised P1 problem (docs/elasticity-solver.md).
ELASTICITY_3D = {
    "ksp_type": "cg",
    "pc_type": "mg",
    "pc_mg_galerkin": "none",
    "mg_levels_ksp_type": "chebyshev",
    "mg_levels_ksp_max_it": 2,
    "mg_levels_pc_type": "jacobi",
    "mg_coarse_ksp_type": "preonly",
    "mg_coarse_pc_type": "gamg",
    "mg_coarse_pc_gamg_type": "agg",
    "mg_coarse_mg_levels_ksp_type": "chebyshev",
    "mg_coarse_mg_levels_pc_type": "jacobi",
    "ksp_rtol": 1e-9,
    "ksp_atol": 1e-30,
}
# The previous configuration (CG + GAMG on P2), kept as the benchmark's reference.
ELASTICITY_3D_GAMG = {
    "ksp_type": "cg",
    "pc_type": "gamg",
    "pc_gamg_type": "agg",
    "mg_levels_ksp_type": "chebyshev",
    "mg_levels_pc_type": "jacobi",
    "ksp_rtol": 1e-9,
    "ksp_atol": 1e-30,
}
MASS = {"ksp_type": "cg", "pc_type": "jacobi", "ksp_rtol": 1e-12, "ksp_atol": 1e-30}


class SolverFailure(RuntimeError):
    """A linear solve that did not converge; the message says which and why."""


def make_ksp(comm, name: str, options: dict) -> PETSc.KSP:
    """A KSP configured from `options` under the prefix `lrmo_<name>_<n>_`.

    PETSc's options database holds at most 512 entries per process, so the options are
    removed again once read, unless some are read later, at set-up or after a solve
    (multigrid levels `mg_*`, `*view*`): many solvers in one process (sweeps, the
    per-step-size cache of ShiftedSystem) would otherwise fill it."""
    prefix = f"lrmo_{name}_{next(_counter)}_"
    opts = PETSc.Options()
    for key, value in options.items():
        opts[prefix + key] = value
    ksp = PETSc.KSP().create(comm)
    ksp.setOptionsPrefix(prefix)
    ksp.setFromOptions()
    ksp.setName(name)
    if not any(key.startswith("mg_") or "_mg_" in key or "view" in key for key in options):
        for key in options:
            opts.delValue(prefix + key)
    return ksp


def solve(ksp: PETSc.KSP, b: PETSc.Vec, x_function) -> int:
    """Solve into a Function; raises SolverFailure; returns the Krylov iterations."""
    x = compat.petsc_vec(x_function)
    ksp.solve(b, x)
    reason = ksp.getConvergedReason()
    if reason < 0:
        names = {v: k for k, v in vars(PETSc.KSP.ConvergedReason).items() if isinstance(v, int)}
        raise SolverFailure(
            f"{ksp.getName()} solver diverged (PETSc reason {reason} "
            f"{names.get(reason, '')}, {ksp.getIterationNumber()} iterations)"
        )
    x_function.x.scatter_forward()
    return ksp.getIterationNumber()


class ShiftedSystem:
    """Solves (K + c M) x = b, with Dirichlet rows set to the identity, for a shift c that
    changes from step to step (c = a0/dt of a time stepper) without a new preconditioner
    set-up at every change.

    The matrix K + c M is updated in place (copy and axpy on the same nonzero pattern:
    O(nnz), no assembly). Iterative solvers: the preconditioner is built from a "rung"
    K + c_k M with c_k on a fixed geometric ladder (c_k = rung_factor^k, the rung nearest
    c in log scale, so c_k/c is within sqrt(rung_factor)), one KSP per rung, each set up
    once and reused; CG on the exact operator keeps the accuracy set by ksp_rtol. Direct
    solvers: one factorisation per distinct (c, rows), reused when c repeats (the BDF2
    coefficients take few distinct values), or with `refactor=True` one KSP whose matrix
    is updated in place and refactored at each change (tiny systems, e.g. 1D: a new KSP
    costs more than a factorisation). At most `max_cached` KSPs are kept (least
    recently used dropped; default 4 iterative, each with a matrix and an AMG hierarchy,
    8 direct)."""

    def __init__(self, comm, name: str, K: PETSc.Mat, M: PETSc.Mat, options: dict,
                 rung_factor: float = 2.0, max_cached: int | None = None, refactor: bool = False):
        self.comm, self.name, self.K, self.M = comm, name, K, M
        self.options = options
        self.direct = options.get("ksp_type") == "preonly"
        self.refactor = self.direct and refactor
        self._single: PETSc.KSP | None = None  # the KSP of `refactor`
        self.log_rung = math.log(rung_factor)
        self.max_cached = max_cached or (8 if self.direct else 4)
        self._cache: OrderedDict = OrderedDict()
        self.A = self._matrix(1.0, None)
        self._A_key = (1.0, None)
        self.setups = 0  # preconditioner set-ups / factorisations so far

    def operators_changed(self) -> None:
        """K (or M) changed in place: every matrix built from them is built again at the
        next `ksp` (the cached factorisations and preconditioners are dropped)."""
        self._A_key = None
        while self._cache:
            _, (ksp, P) = self._cache.popitem()
            ksp.destroy()
            if P is not self.A:
                P.destroy()

    def _matrix(self, c: float, rows, out: PETSc.Mat | None = None) -> PETSc.Mat:
        if out is None:
            out = self.K.duplicate(copy=True)
            out.setOption(PETSc.Mat.Option.KEEP_NONZERO_PATTERN, True)
        else:
            self.K.copy(out, structure=PETSc.Mat.Structure.SAME_NONZERO_PATTERN)
        out.axpy(c, self.M, structure=PETSc.Mat.Structure.SAME_NONZERO_PATTERN)
        if rows is not None:
            out.zeroRowsColumns(rows, diag=1.0)
        return out

    def ksp(self, c: float, rows: np.ndarray | None = None, rows_key=None) -> PETSc.KSP:
        """The KSP solving (K + c M) x = b with the (global, owned) `rows` made identity
        rows; `rows_key` names that row set (hashable) for the caches."""
        if self.refactor:  # PETSc refactors when the matrix has changed since the last solve
            if self._single is None or self._A_key != (c, rows_key):
                self._matrix(c, rows, self.A)
                self._A_key = (c, rows_key)
                self.setups += 1
            if self._single is None:
                self._single = make_ksp(self.comm, self.name, self.options)
                self._single.setOperators(self.A)
            return self._single
        if self.direct:
            key = (c, rows_key)
            entry = self._cache.get(key)
            if entry is None:
                A = self._matrix(c, rows)
                entry = (self._new_ksp(A, A), A)
            return self._use(key, entry)[0]
        if self._A_key != (c, rows_key):
            self._matrix(c, rows, self.A)
            self._A_key = (c, rows_key)
        rung = round(math.log(c) / self.log_rung)
        key = (rung, rows_key)
        entry = self._cache.get(key)
        if entry is None:
            P = self._matrix(math.exp(rung * self.log_rung), rows)
            entry = (self._new_ksp(self.A, P), P)
        return self._use(key, entry)[0]

    def _new_ksp(self, A, P) -> PETSc.KSP:
        ksp = make_ksp(self.comm, self.name, self.options)
        ksp.setOperators(A, P)
        ksp.getPC().setReusePreconditioner(True)  # P never changes; A does
        self.setups += 1
        return ksp

    def _use(self, key, entry):
        self._cache[key] = entry
        self._cache.move_to_end(key)
        while len(self._cache) > self.max_cached:
            _, (ksp, P) = self._cache.popitem(last=False)
            ksp.destroy()
            if P is not self.A:
                P.destroy()
        return entry


class Projector:
    """L2 projection onto a space V; the mass matrix and its solver are built once (LU on
    an interval mesh, whose mass matrix is tiny; CG + Jacobi otherwise)."""

    def __init__(self, V, name: str = "projection"):
        u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
        self.V = V
        self.v = v
        self.dx = ufl.dx(domain=V.mesh)
        self.M = compat.assemble_matrix(fem.form(u * v * self.dx))
        comm = V.mesh.comm
        self.ksp = make_ksp(comm, name, direct_options(comm) if V.mesh.topology.dim == 1 else MASS)
        self.ksp.setOperators(self.M)
        self._forms = {}
        self._b = fem.Function(V)

    def project(self, expr, out, key=None) -> None:
        """out <- P(expr); `key` caches the compiled right-hand side form."""
        key = key if key is not None else id(expr)
        if key not in self._forms:
            self._forms[key] = fem.form(expr * self.v * self.dx)
        b = compat.petsc_vec(self._b)
        compat.assemble_vector_into(b, self._forms[key])
        solve(self.ksp, b, out)


class NodalAverage:
    """DG1 values onto P1 by averaging, at each vertex, the values of the cells around it
    (each owned cell once; contributions to a vertex owned by another rank summed there).
    An average stays within the values' bounds: a non-negative measure (von Mises) stays
    non-negative and its largest vertex value is at most the largest DG1 node, where an
    L2 projection undershoots and overshoots (von Mises minima of -0.98 MPa)."""

    def __init__(self, V, S, cells: np.ndarray | None = None):
        """`cells`: the owned local cells to average over (a region; default all): a
        vertex then averages only its cells among them, and `touched` marks the P1 dofs
        that have any (the others get 0)."""
        tdim = V.mesh.topology.dim
        owned = V.mesh.topology.index_map(tdim).size_local
        cells = np.arange(owned) if cells is None else np.asarray(cells, dtype=np.int64)
        self._p1 = compat.cell_dofs(V)[cells].ravel()
        self._dg1 = compat.cell_dofs(S)[cells].ravel()
        count = fem.Function(V)
        self._count = self._summed(np.ones(self._dg1.size), count)
        self.touched = self._count > 0
        self.everywhere = bool(self.touched.all())  # every local P1 dof has cells here
        self._one_rank = V.mesh.comm.size == 1
        if self._one_rank:  # average_columns' gather table (below)
            self._gather = self._gather_table()

    def _gather_table(self) -> tuple[np.ndarray | None, np.ndarray, np.ndarray, int]:
        """(the P1 dofs with cells, None when they are all the local ones in order; an
        index table whose row i lists the DG1 nodes of the i-th of them in their order in
        the cell list (the order in which bincount adds them), padded with `pad`; their
        counts as a column; pad, one past the largest node: the zero row appended)."""
        order = np.argsort(self._p1, kind="stable")
        vertices, starts, counts = np.unique(self._p1[order], return_index=True, return_counts=True)
        rank = np.arange(order.size) - np.repeat(starts, counts)  # k of each node at its vertex
        pad = int(self._dg1.max(initial=-1)) + 1
        table = np.full((vertices.size, int(counts.max(initial=1))), pad)
        table[np.repeat(np.arange(vertices.size), counts), rank] = self._dg1[order]
        everyone = vertices.size == self._count.size and np.array_equal(vertices, np.arange(vertices.size))
        return (None if everyone else vertices), table, self._count[vertices, None], pad

    def _summed(self, values: np.ndarray, out) -> np.ndarray:
        out.x.array[:] = np.bincount(self._p1, weights=values, minlength=out.x.array.size)
        vec = compat.petsc_vec(out)
        vec.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        vec.ghostUpdate(addv=PETSc.InsertMode.INSERT, mode=PETSc.ScatterMode.FORWARD)
        return out.x.array.copy()

    def average(self, dg1_values: np.ndarray, out) -> None:
        """out (P1) <- the vertex averages of `dg1_values` (laid out as S's local dofs,
        or S's blocks for a blocked S)."""
        summed = self._summed(np.asarray(dg1_values)[self._dg1], out)
        out.x.array[:] = np.divide(summed, self._count, out=np.zeros_like(summed), where=self.touched)

    def average_columns(self, dg1_values: np.ndarray, out) -> np.ndarray:
        """The vertex averages of each column of `dg1_values` (rows laid out as S's local
        dofs) as (P1 local dofs, columns): `average` column by column, the same numbers;
        on one rank without its PETSc round trip (there are no ghosts to sum), which is
        most of its cost for a 1D mesh, and without bincount: each vertex's nodes gathered
        (an index table, no scattering: numpy's fancy assignment costs ~0.4 us a row) and
        added in bincount's order (a 1D vertex has two), so the same sums, in a fraction of
        the time (the 1D cycle's peak at each of ~1600 output rows). `out`: a P1 work
        Function."""
        size, columns = self._count.size, dg1_values.shape[1]
        if self._one_rank:  # each vertex's nodes summed in bincount's order: the same sums
            vertices, table, counts, pad = self._gather
            values = np.concatenate([dg1_values[:pad], np.zeros((1, columns))])
            summed = values[table[:, 0]]
            for k in range(1, table.shape[1]):  # + 0.0 past a vertex's last node: exact
                summed += values[table[:, k]]
            if vertices is None:
                return summed / counts
            result = np.zeros((size, columns))
            result[vertices] = summed / counts
            return result
        result = np.empty((size, columns))
        for k in range(columns):
            self.average(dg1_values[:, k], out)
            result[:, k] = out.x.array
        return result


_PETSC_TYPES = (PETSc.KSP, PETSc.Mat, PETSc.Vec, PETSc.NullSpace, PETSc.PC)


def release(*roots) -> int:
    """Destroy every PETSc object (KSP, Mat, Vec, NullSpace, PC) held by `roots` and by
    the lrmo objects they hold (attributes, lists, tuples, dicts; objects with their own
    `destroy()` are asked first), and remove any option left under their solvers'
    prefixes. For the end of a run: many runs in one process (sweeps) otherwise keep
    them until the garbage collector finds them, and petsc4py 3.18 may never free a
    Vec. Returns the number destroyed. The objects must not be used afterwards."""
    seen: set[int] = set()
    found: list = []

    def walk(obj, depth: int) -> None:
        if id(obj) in seen or depth > 8:
            return
        seen.add(id(obj))
        if isinstance(obj, _PETSC_TYPES):
            found.append(obj)
        elif isinstance(obj, dict):
            for v in list(obj.values()):
                walk(v, depth + 1)
        elif isinstance(obj, (list, tuple, set, OrderedDict)):
            for v in list(obj):
                walk(v, depth + 1)
        elif type(obj).__module__.startswith("solver.") and hasattr(obj, "__dict__"):
            if callable(getattr(obj, "destroy", None)):
                obj.destroy()
            for v in list(vars(obj).values()):
                walk(v, depth + 1)

    for root in roots:
        walk(root, 0)
    opts = PETSc.Options()
    prefixes = {k.getOptionsPrefix() for k in found if isinstance(k, PETSc.KSP) and k.handle}
    for key in [key for key in opts.getAll() if any(p and key.startswith(p) for p in prefixes)]:
        opts.delValue(key)
    for obj in found:
        if obj.handle:  # not destroyed already
            obj.destroy()
    return len(found)

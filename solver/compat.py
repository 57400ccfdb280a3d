"""The one place that knows which DOLFINx is installed.

Supported: 0.5.2 (Debian 12), 0.9 (Debian 13) and the current API (0.10+, conda-forge
and Docker). Every difference in the API the solver uses is absorbed here, by feature
detection where possible; nothing else in lrmo may branch on the DOLFINx version.
See docs/dolfinx-versions.md for the table this follows.
"""
from __future__ import annotations

import numpy as np
import dolfinx
import dolfinx.fem
import dolfinx.fem.petsc  # noqa: F401  (must be imported explicitly from 0.7 on)
import dolfinx.geometry
import dolfinx.io
import dolfinx.plot
from petsc4py import PETSc

DOLFINX_VERSION: tuple[int, ...] = tuple(
    int(p) for p in dolfinx.__version__.split(".")[:3] if p.isdigit()
)

scalar_type = getattr(dolfinx, "default_scalar_type", PETSc.ScalarType)

try:  # 0.10+
    from dolfinx.io import gmsh as _gmshio
except ImportError:  # 0.5 - 0.9
    from dolfinx.io import gmshio as _gmshio

has_adios2: bool = bool(getattr(dolfinx.common, "has_adios2", False)) and hasattr(
    dolfinx.io, "VTXWriter"
)


def _memoize_jit_module_lookups() -> None:
    """Keep the JIT-compiled modules found in the disk cache for the life of the process,
    and never wait for a compile that died.

    Memo: FFCx looks a compiled form or element up by listing the whole cache directory
    and importing the module again at every fem.form / function space (~0.6 ms each, most
    of a warm 1D run); the modules are named by a hash of their content, so one found
    once stays valid.

    Stale locks: FFCx's lock is `<module>.c`, created exclusively by the process that
    compiles, and its "done" mark `<module>.c.cached`. A compile ended by an Exception
    renames the lock to `.c.failed`; one ended by KeyboardInterrupt, SIGTERM or SIGKILL
    leaves it, and every later lookup waits `timeout` s for the mark and raises
    TimeoutError ("JIT compilation timed out ..."). So the process that takes the lock
    writes `<module>.c.owner` (host and pid) beside it, and a lookup that finds a lock
    without its mark removes the lock (and the partial files) when the owner is this
    host's process that no longer exists, or this process itself (which cannot be
    compiling the module it is looking up: the compile was aborted). A lock without an
    owner file, or of another host, is left alone. Skipped where FFCx has no
    `get_cached_module`."""
    import ffcx.codegeneration.jit as ffcx_jit

    lookup = getattr(ffcx_jit, "get_cached_module", None)
    if lookup is None or getattr(lookup, "lrmo_memo", False):
        return
    found: dict = {}

    def memoized(module_name, object_names, cache_dir, timeout):
        key = (module_name, tuple(object_names), str(cache_dir))
        if key not in found:
            remove_stale_jit_lock(cache_dir, module_name)
            result = lookup(module_name, object_names, cache_dir, timeout)
            if result[0] is None:  # this process took the lock: it compiles the module
                _write_jit_owner(cache_dir, module_name)
                return result
            found[key] = result
        return found[key]

    memoized.lrmo_memo = True
    ffcx_jit.get_cached_module = memoized


JIT_OWNER_SUFFIX = ".c.owner"


def _jit_files(cache_dir, module_name):
    from pathlib import Path

    c_file = Path(cache_dir) / f"{module_name}.c"
    return c_file, c_file.with_suffix(".c.cached"), c_file.with_suffix(JIT_OWNER_SUFFIX)


def _write_jit_owner(cache_dir, module_name) -> None:
    import os
    import socket

    _, _, owner = _jit_files(cache_dir, module_name)
    try:
        owner.write_text(f"{socket.gethostname()} {os.getpid()}\n", encoding="utf-8")
    except OSError:
        pass  # a read-only cache: FFCx fails on its own


def _process_exists(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def remove_stale_jit_lock(cache_dir, module_name) -> bool:
    """Remove `module_name`'s compile lock in `cache_dir` (and its partial .c/.o/.so) if
    the compile that took it died (see `_memoize_jit_module_lookups`). True if removed."""
    import contextlib
    import os
    import socket

    c_file, ready, owner = _jit_files(cache_dir, module_name)
    if ready.exists() or not c_file.exists():
        return False
    try:
        host, pid = owner.read_text(encoding="utf-8").split()
        pid = int(pid)
    except (OSError, ValueError):
        return False  # not ours to judge
    if host != socket.gethostname() or (pid != os.getpid() and _process_exists(pid)):
        return False
    claimed = owner.with_name(f"{owner.name}.stale-{os.getpid()}")
    try:  # one process wins the rename; it must still be the dead owner's file
        os.rename(owner, claimed)
        if claimed.read_text(encoding="utf-8").split() != [host, str(pid)]:
            os.rename(claimed, owner)
            return False
    except OSError:
        return False
    for stale in [c_file, *c_file.parent.glob(f"{module_name}.*.so"), c_file.with_suffix(".o"), claimed]:
        with contextlib.suppress(FileNotFoundError):
            stale.unlink()
    return True


_memoize_jit_module_lookups()


def _hold_stop_signals_while_compiling() -> None:
    """FFCx's compile functions run with SIGINT and SIGTERM held back in the calling (main)
    thread, and so in the C compiler it starts (a child inherits the mask): a signal to
    the process group (Ctrl-C, Slurm's scancel) no longer kills the compiler half-way
    (a failed compile) nor, as a second Ctrl-C's KeyboardInterrupt, the compile itself
    (a lock left behind); it is handled as soon as the module is built. A lookup that
    finds the module compiled costs two mask changes (~1 us)."""
    import signal
    import threading

    import ffcx.codegeneration.jit as ffcx_jit

    stops = (signal.SIGINT, signal.SIGTERM)

    def held(compile_objects):
        def compile_held(*args, **kwargs):
            if threading.current_thread() is not threading.main_thread():
                return compile_objects(*args, **kwargs)
            previous = signal.pthread_sigmask(signal.SIG_BLOCK, stops)
            try:
                return compile_objects(*args, **kwargs)
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, previous)

        compile_held.lrmo_held = True
        return compile_held

    for name in ("compile_forms", "compile_elements", "compile_expressions", "compile_coordinate_maps"):
        compile_objects = getattr(ffcx_jit, name, None)
        if compile_objects is not None and not getattr(compile_objects, "lrmo_held", False):
            setattr(ffcx_jit, name, held(compile_objects))


_hold_stop_signals_while_compiling()


def constant(msh, value: float):
    """A `fem.Constant` on `msh` holding `value`: a number the generated code reads at
    assembly, so that forms differing only in it share one compiled module (set it
    with `.value = ...`). The scalar type is explicit: 0.9+ refuse an integer array."""
    return dolfinx.fem.Constant(msh, scalar_type(value))


def settle_coordinate_element(msh) -> None:
    """Give a mesh's UFL coordinate element the equispaced variant now, as FFCx 0.5 does
    inside its first compilation of a form on the mesh (in place, on a cache miss only):
    otherwise a form's signature, hence its compiled module, depends on whether an
    earlier form of the run missed the cache, and every run adds new modules. Meshes
    from `interval_mesh` and from XDMF files (0.5: no variant) need it; Gmsh meshes have
    it already; basix elements (0.7+) are not touched."""
    import ufl

    domain = msh.ufl_domain()
    sub = getattr(domain.ufl_coordinate_element(), "_sub_element", None)
    legacy = getattr(ufl, "FiniteElement", None)  # UFL's own elements (0.5, 0.6)
    if legacy is None or not isinstance(sub, legacy) or sub.variant() is not None:
        return
    equispaced = ufl.FiniteElement(sub.family(), sub.cell(), sub.degree(),
                                   sub.quadrature_scheme(), variant="equispaced")
    domain._ufl_coordinate_element = ufl.VectorElement(equispaced)


def functionspace(msh, family: str, degree: int, shape: tuple[int, ...] | None = None):
    """Lagrange-type space; `shape=(gdim,)` gives a vector space. One space per mesh and
    element, shared by its callers (each new space costs a JIT lookup and a dofmap: most
    of the set-up of a 1D run); kept on the mesh object, so it goes with it."""
    key = (family, degree, shape)
    spaces = getattr(msh, "__dict__", {}).setdefault("_lrmo_spaces", {})
    if key not in spaces:
        spaces[key] = _new_functionspace(msh, family, degree, shape)
    return spaces[key]


def _new_functionspace(msh, family: str, degree: int, shape: tuple[int, ...] | None):
    if hasattr(dolfinx.fem, "functionspace"):
        element = (family, degree) if shape is None else (family, degree, shape)
        return dolfinx.fem.functionspace(msh, element)
    if shape is None:
        return dolfinx.fem.FunctionSpace(msh, (family, degree))
    return dolfinx.fem.VectorFunctionSpace(msh, (family, degree), dim=shape[0])


def interval_mesh(comm, nodes, owner: int = 0):
    """Mesh of intervals joining consecutive `nodes` (1D coordinates, increasing), given
    on rank `owner` (other ranks pass an empty array) and distributed over `comm`."""
    import dolfinx.mesh
    import ufl

    nodes = np.asarray(nodes, dtype=np.float64)
    n = len(nodes) - 1 if comm.rank == owner else 0
    cells = np.stack([np.arange(n), np.arange(1, n + 1)], axis=1).astype(np.int64)
    x = nodes.reshape(-1, 1) if comm.rank == owner else np.zeros((0, 1))
    try:  # 0.7+: basix elements
        import basix.ufl

        domain = ufl.Mesh(basix.ufl.element("Lagrange", "interval", 1, shape=(1,)))
    except ImportError:  # 0.5 - 0.6
        # equispaced: the variant FFCx 0.5 would set on first compilation (see
        # settle_coordinate_element)
        domain = ufl.Mesh(ufl.VectorElement(
            ufl.FiniteElement("Lagrange", ufl.interval, 1, variant="equispaced"), dim=1))
    if DOLFINX_VERSION < (0, 7):
        # 0.5/0.6 first try the C++ call with the array and catch the TypeError, whose
        # message formats the arrays (~0.3 ms): give them the adjacency list directly
        cells = dolfinx.cpp.graph.AdjacencyList_int64(cells)
    if comm.size == 1 and DOLFINX_VERSION < (0, 7):
        # 0.5/0.6 run the graph partitioner even on one process (~3 ms for any mesh);
        # 0.8+ skip it by themselves
        def one_part(comm, nparts, tdim, cells, ghost_mode):
            return dolfinx.cpp.graph.AdjacencyList_int32(np.zeros(cells.num_nodes, dtype=np.int32))

        return dolfinx.mesh.create_mesh(comm, cells, x, domain, partitioner=one_part)
    return dolfinx.mesh.create_mesh(comm, cells, x, domain)


def meshtags(msh, dim: int, indices, values):
    """Sorted tags of entities of dimension `dim` (all versions)."""
    import dolfinx.mesh

    indices = np.asarray(indices, dtype=np.int32)
    order = np.argsort(indices)
    return dolfinx.mesh.meshtags(msh, dim, indices[order], np.asarray(values, dtype=np.int32)[order])


def cell_midpoints(msh, cells) -> np.ndarray:
    """(n, 3) midpoints of the given local cells."""
    import dolfinx.mesh

    tdim = msh.topology.dim
    return dolfinx.mesh.compute_midpoints(msh, tdim, np.asarray(cells, dtype=np.int32))


def locate_vertices(msh, marker) -> np.ndarray:
    """Local vertex indices whose coordinates satisfy `marker(x)` (x: (3, n))."""
    import dolfinx.mesh

    return dolfinx.mesh.locate_entities(msh, 0, marker)


def model_to_mesh(model, comm, rank: int, gdim: int):
    """Gmsh model living on `rank` -> (mesh, cell_tags, facet_tags) on `comm`."""
    data = _gmshio.model_to_mesh(model, comm, rank, gdim=gdim)
    if hasattr(data, "mesh"):  # 0.10+: MeshData named tuple
        return data.mesh, data.cell_tags, data.facet_tags
    return data


def petsc_vec(u):
    """The PETSc Vec that wraps a Function's degrees of freedom."""
    x = u.x
    return x.petsc_vec if hasattr(x, "petsc_vec") else u.vector


def expression_interpolator(u, expr):
    """A callable doing u.interpolate(expr) over every local cell, repeatedly: up to 0.6 it
    calls the C++ interpolation with the cell list made once (Function.interpolate builds
    a singledispatch function and the cell list at each call, more than the interpolation
    of a small mesh costs); later versions through Function.interpolate."""
    if DOLFINX_VERSION >= (0, 7):
        return lambda: u.interpolate(expr)
    msh = u.function_space.mesh
    cell_map = msh.topology.index_map(msh.topology.dim)
    cells = np.arange(cell_map.size_local + cell_map.num_ghosts, dtype=np.int32)
    cpp_u, cpp_expr = u._cpp_object, expr._cpp_object
    return lambda: cpp_u.interpolate(cpp_expr, cells)


def interpolation_points(V):
    pts = V.element.interpolation_points
    return pts() if callable(pts) else pts


def bounding_box_tree(msh):
    tdim = msh.topology.dim
    if hasattr(dolfinx.geometry, "bb_tree"):
        return dolfinx.geometry.bb_tree(msh, tdim)
    return dolfinx.geometry.BoundingBoxTree(msh, tdim)


def geometry_cells(msh) -> np.ndarray:
    """(num_cells, nodes_per_cell) geometry node indices of the local cells."""
    dofmap = msh.geometry.dofmap
    if hasattr(dofmap, "array") and not isinstance(dofmap, np.ndarray):  # 0.5: AdjacencyList
        return dofmap.array.reshape(len(dofmap.offsets) - 1, -1)
    return np.asarray(dofmap)


def cells_containing(msh, tree, points: np.ndarray) -> np.ndarray:
    """For each point (n, 3) the local (affine simplex) cell that contains it, or -1.

    Computed from barycentric coordinates rather than DOLFINx's GJK collision test, whose
    absolute tolerances are coarse against a mesh in metres (a point could be given a
    neighbouring cell and extrapolated, the choice depending on the cell numbering):
    of the bounding-box candidates, the cell with the largest smallest barycentric
    coordinate wins; ties (a point on a shared facet) go to the nearest cell midpoint,
    so that the choice depends on the geometry only."""
    if hasattr(dolfinx.geometry, "compute_collisions_points"):
        candidates = dolfinx.geometry.compute_collisions_points(tree, points)
    else:
        candidates = dolfinx.geometry.compute_collisions(tree, points)
    tdim, gdim = msh.topology.dim, msh.geometry.dim
    x = msh.geometry.x[:, :gdim]
    nodes = geometry_cells(msh)[:, : tdim + 1]
    cells = np.full(len(points), -1, dtype=np.int32)
    for i, point in enumerate(np.asarray(points)[:, :gdim]):
        links = np.asarray(candidates.links(i), dtype=np.int32)
        if len(links) == 0:
            continue
        best, smallest = _least_outside(x[nodes[links]], point)
        if smallest >= -1e-10:
            cells[i] = links[best]
    return cells


def _least_outside(vertices: np.ndarray, point: np.ndarray) -> tuple[int, float]:
    """Of simplices `vertices` (k, tdim + 1, gdim): the index of the one `point` lies
    least outside of (largest smallest barycentric coordinate; cells containing it tie
    at 0 and go to the nearest midpoint), and that smallest coordinate."""
    edges = vertices[:, 1:, :] - vertices[:, :1, :]  # (k, tdim, gdim)
    gram = np.einsum("kad,kbd->kab", edges, edges)
    rhs = np.einsum("kad,kd->ka", edges, point - vertices[:, 0, :])
    coords = np.linalg.solve(gram, rhs[..., None])[..., 0]  # (k, tdim)
    smallest = np.minimum(coords.min(axis=1), 1 - coords.sum(axis=1))
    score = np.round(np.minimum(smallest, 0.0), 9)
    midpoint = np.sum((vertices.mean(axis=1) - point) ** 2, axis=1)
    best = int(np.lexsort((midpoint, -score))[0])
    return best, float(smallest[best])


def write_meshtags(xdmf, tags, msh) -> None:
    try:
        xdmf.write_meshtags(tags, msh.geometry)
    except TypeError:  # 0.5
        xdmf.write_meshtags(tags)


def vtk_mesh(V_or_mesh):
    """Topology, cell types and points for pyvista.UnstructuredGrid."""
    if hasattr(dolfinx.plot, "vtk_mesh"):
        return dolfinx.plot.vtk_mesh(V_or_mesh)
    return dolfinx.plot.create_vtk_mesh(V_or_mesh)


def vtx_writer(comm, path, functions):
    """An ADIOS2 VTX writer (BP4 so that ParaView < 5.12 reads it), or None."""
    if not has_adios2:
        return None
    try:
        return dolfinx.io.VTXWriter(comm, str(path), functions, engine="BP4")
    except TypeError:
        return dolfinx.io.VTXWriter(comm, str(path), functions)


def apply_lifting_and_bc(b, a_form, bcs) -> None:
    """b <- b - A g on Dirichlet rows, ghost update, then set the Dirichlet values."""
    dolfinx.fem.petsc.apply_lifting(b, [a_form], bcs=[bcs])
    b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
    dolfinx.fem.petsc.set_bc(b, bcs)


def assemble_vector_into(b, L_form) -> None:
    """Zero `b`, assemble `L_form` into it and accumulate ghost contributions."""
    with b.localForm() as b_local:
        b_local.set(0.0)
    dolfinx.fem.petsc.assemble_vector(b, L_form)
    b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)


def assemble_matrix(a_form, bcs=()):
    A = dolfinx.fem.petsc.assemble_matrix(a_form, bcs=list(bcs))
    A.assemble()
    return A


def assemble_matrix_into(A, a_form, bcs=()) -> None:
    """Zero `A` and assemble `a_form` into it (the same sparsity pattern), with identity
    rows and columns for `bcs`."""
    A.zeroEntries()
    dolfinx.fem.petsc.assemble_matrix(A, a_form, list(bcs))
    A.assemble()


def assemble_residual_into(b, F_form, J_form, bcs, x) -> None:
    """b <- F(x) of a Newton step with Dirichlet `bcs`: on their rows b = x - g, and the
    other rows are lifted by -J (g - x), as DOLFINx's NonlinearProblem does (one ghost
    accumulation, after the lifting: a second would add the ghosts twice). Positional
    arguments: the lifting/set_bc factor is `scale` in 0.5 and `alpha` from 0.9 on."""
    with b.localForm() as b_local:
        b_local.set(0.0)
    dolfinx.fem.petsc.assemble_vector(b, F_form)
    dolfinx.fem.petsc.apply_lifting(b, [J_form], [list(bcs)], [x], -1.0)
    b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
    dolfinx.fem.petsc.set_bc(b, list(bcs), x, -1.0)


def set_bc(b, bcs) -> None:
    dolfinx.fem.petsc.set_bc(b, bcs)


def cell_dofs(V) -> np.ndarray:
    """(num_cells, dofs_per_cell) array of local (block) dof indices."""
    dofs = V.dofmap.list
    if hasattr(dofs, "array") and not isinstance(dofs, np.ndarray):  # 0.5: AdjacencyList
        num_cells = V.mesh.topology.index_map(V.mesh.topology.dim).size_local + \
            V.mesh.topology.index_map(V.mesh.topology.dim).num_ghosts
        return dofs.array.reshape(num_cells, -1)
    return np.asarray(dofs)


def p1_dof_input_nodes(V) -> np.ndarray:
    """For every local dof of a scalar P1 space on a mesh of affine cells: the index of
    its node in the mesh as it was read or built (`geometry.input_global_indices`), the
    same whatever the number of ranks. A P1 cell's dofs and its geometry nodes follow the
    same reference-vertex order."""
    n_local = V.dofmap.index_map.size_local + V.dofmap.index_map.num_ghosts
    node = np.full(n_local, -1, dtype=np.int64)
    node[cell_dofs(V).ravel()] = geometry_cells(V.mesh).ravel()
    return np.asarray(V.mesh.geometry.input_global_indices, dtype=np.int64)[node]


def closest_cells(msh, tree, points: np.ndarray, candidates: int = 32):
    """For points outside every cell (just outside the faceted surface): the local cell
    each lies least outside of, among the `candidates` cells with the nearest midpoints,
    and how far outside (minus its smallest barycentric coordinate; inf with no local
    cells). Chosen from the geometry only, like `cells_containing`."""
    tdim, gdim = msh.topology.dim, msh.geometry.dim
    n_local = msh.topology.index_map(tdim).size_local
    if n_local == 0 or len(points) == 0:
        return np.full(len(points), -1, dtype=np.int32), np.full(len(points), np.inf)
    x = msh.geometry.x[:, :gdim]
    nodes = geometry_cells(msh)[:n_local, : tdim + 1]
    midpoints = x[nodes].mean(axis=1)
    closest = np.empty(len(points), dtype=np.int32)
    outside = np.empty(len(points))
    k = min(candidates, n_local)
    for i, point in enumerate(np.asarray(points)[:, :gdim]):
        near = np.argpartition(np.sum((midpoints - point) ** 2, axis=1), k - 1)[:k]
        near = np.sort(near)
        best, smallest = _least_outside(x[nodes[near]], point)
        closest[i], outside[i] = near[best], max(0.0, -smallest)
    return closest, outside


def orthonormalize(functions) -> None:
    """Orthonormalise the dof vectors of `functions` in place."""
    import dolfinx.la

    try:  # 0.8+: DOLFINx vectors
        dolfinx.la.orthonormalize([f.x for f in functions])
    except (AttributeError, TypeError):  # 0.5: PETSc vectors
        dolfinx.la.orthonormalize([petsc_vec(f) for f in functions])

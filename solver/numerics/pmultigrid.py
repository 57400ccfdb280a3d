"""Two-level p-multigrid for a P2 (vector) Lagrange operator: the fine level is the P2
matrix smoothed by Chebyshev/Jacobi, the coarse level the P1 operator rediscretised on
the same mesh (cheap: about a sixth of the dofs and a thirteenth of the nonzeros) and
solved approximately by AMG, and the transfer is the exact P1 -> P2 Lagrange
interpolation. The smoothers and the coarse AMG come from PETSc options under the KSP's
prefix (`mg_levels_*`, `mg_coarse_*`; solver/numerics/linalg.py ELASTICITY_3D), the structure
(levels, interpolation, coarse operator) is set here. See docs/elasticity-solver.md.
"""
from __future__ import annotations

import numpy as np
from petsc4py import PETSc

from solver import compat


def _p1_weights(reference_points: np.ndarray) -> np.ndarray:
    """P1 basis on the reference simplex (vertex order 0, e1, e2, ...) at the points:
    (n_points, tdim + 1) barycentric coordinates."""
    X = np.asarray(reference_points, dtype=float)
    return np.hstack([1.0 - X.sum(axis=1, keepdims=True), X])


def interpolation_matrix(V_coarse, V_fine, coarse_free: PETSc.Vec | None = None) -> PETSc.Mat:
    """The matrix P with P u1 = the fine-space interpolant of the P1 function u1, for two
    Lagrange spaces (P1 and Pk, k <= 2: no dof permutations) on the same simplex mesh
    with the same block size. Rows are the fine space's owned dofs, columns global coarse
    dofs, so it is MPI-parallel; each block component maps to itself.

    Built from the reference cell: fine dof k of a cell sits at reference point X_k, where
    the coarse basis takes the values of the barycentric coordinates of X_k. This is exact
    for any (also curved) cell geometry because both spaces are mapped from the same
    reference cell.

    With Dirichlet constraints, pass `coarse_free` (1 on free coarse dofs, 0 on constrained
    ones): their columns are dropped, so the coarse correction never moves a constrained
    dof. (The constrained rows of a DOLFINx matrix are identity rows, decoupled from the
    rest: without this, the coarse problem would put a residual-sized value on them and
    interpolate it into the neighbouring free dofs.)"""
    bs = V_fine.dofmap.index_map_bs
    if V_coarse.dofmap.index_map_bs != bs:
        raise ValueError("coarse and fine spaces must have the same block size")
    imap_f, imap_c = V_fine.dofmap.index_map, V_coarse.dofmap.index_map
    weights = _p1_weights(compat.interpolation_points(V_fine))  # (dofs per cell, tdim + 1)
    fine = compat.cell_dofs(V_fine)
    coarse = compat.cell_dofs(V_coarse)
    n_cells = min(fine.shape[0], coarse.shape[0])
    fine, coarse = fine[:n_cells], coarse[:n_cells]
    if coarse.shape[1] != weights.shape[1] or fine.shape[1] != weights.shape[0]:
        raise ValueError("coarse space must be P1 and the fine one nodal on the same cells")

    # one (cell, local dof) per owned fine dof
    n_owned = imap_f.size_local
    flat = fine.ravel()
    first = np.unique(flat, return_index=True)[1]
    first = first[flat[first] < n_owned]
    rows = flat[first]
    cell, k = np.divmod(first, fine.shape[1])
    order = np.argsort(rows)
    cell, k = cell[order], k[order]  # row i of the owned block is entry i
    if len(order) != n_owned:
        raise RuntimeError("an owned fine dof lies in no local cell")

    w = weights[k]  # (n_owned, tdim + 1)
    cols = imap_c.local_to_global(coarse[cell].ravel().astype(np.int32)).reshape(w.shape)
    keep = np.abs(w) > 1e-12
    block_rows = np.nonzero(keep)[0]  # owned fine block index of each entry
    block_cols, block_vals = cols[keep], w[keep]
    # component c of fine dof i takes component c of the coarse dofs
    rows = np.concatenate([bs * block_rows + c for c in range(bs)])
    indices = np.concatenate([bs * block_cols + c for c in range(bs)]).astype(PETSc.IntType)
    values = np.tile(block_vals, bs)
    order = np.lexsort((indices, rows))  # CSR, columns sorted within each row
    indices, values = indices[order], values[order]
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n_owned * bs))])
    indptr = indptr.astype(PETSc.IntType)

    sizes = ((n_owned * bs, imap_f.size_global * bs), (imap_c.size_local * bs, imap_c.size_global * bs))
    P = PETSc.Mat().createAIJ(sizes, csr=(indptr, indices, values), comm=V_fine.mesh.comm)
    P.setBlockSizes(bs, bs)
    P.assemble()
    if coarse_free is not None:
        P.diagonalScale(R=coarse_free)
    return P


def configure(ksp: PETSc.KSP, P: PETSc.Mat, A_coarse: PETSc.Mat) -> None:
    """Make `ksp`'s preconditioner a two-level PCMG (V-cycle) with interpolation P from
    the coarse level and the rediscretised coarse operator A_coarse; the fine operator
    is the KSP's. Call before KSP.setOperators/setFromOptions; the option database
    (`<prefix>mg_levels_*`, `<prefix>mg_coarse_*`) then sets smoothers and coarse solver."""
    pc = ksp.getPC()
    pc.setType(PETSc.PC.Type.MG)
    pc.setMGLevels(2)
    pc.setMGType(PETSc.PC.MGType.MULTIPLICATIVE)
    pc.setMGCycleType(PETSc.PC.MGCycleType.V)
    pc.setMGInterpolation(1, P)
    pc.getMGCoarseSolve().setOperators(A_coarse)

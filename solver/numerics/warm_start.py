"""Initial guesses for a sequence of solves with one fixed SPD matrix A and smoothly
varying right-hand sides (Fischer 1998, "Projection techniques for iterative solution of
Ax = b with successive right-hand sides"): the guess x0 = Q Q^T b, with Q an
A-orthonormal basis of the last k solutions, is the A-norm best approximation of the new
solution in their span, so it is never worse than a zero guess (||x - x0||_A <= ||x||_A).

The last k solutions and their products with A are kept, and Q is rebuilt from them
(newest first) when they change: dropping the oldest vector of a Gram-Schmidt basis
would drop the direction every later vector was orthogonalised against. Costs one
matvec per solve, O(k^2) vector operations and 2k vectors of memory.

A singular A (the full sphere: rigid-body modes) needs its null space given: the A inner
product cannot see null-space components, so Gram-Schmidt keeps and amplifies them (it
divides nearly dependent solutions by their small A-norm differences), and CG, which
never removes them from the guess, hands them back in the next solution: measured, they
grew from 1e-13 to 74 % of the displacement over 20 solves of a hold, until CG lost the
attainable accuracy and stopped with DIVERGED_INDEFINITE_PC. They are removed from every
stored solution and every guess.
"""
from __future__ import annotations

from petsc4py import PETSc


class ProjectionGuess:
    def __init__(self, A: PETSc.Mat, size: int = 8, null_space: PETSc.NullSpace | None = None):
        self.A = A
        self.size = size
        self.null_space = null_space
        self.X: list[PETSc.Vec] = []  # last solutions, oldest first
        self.AX: list[PETSc.Vec] = []
        self._basis: tuple[list, list] | None = None  # (Q, AQ), A-orthonormal

    def __len__(self) -> int:
        return len(self.X)

    def guess(self, b: PETSc.Vec, x: PETSc.Vec) -> bool:
        """x <- Q Q^T b; returns False (x untouched) while there is no basis."""
        Q, _ = self._orthonormal_basis()
        if not Q:
            return False
        x.set(0.0)
        x.maxpy([q.dot(b) for q in Q], Q)
        if self.null_space is not None:
            self.null_space.remove(x)  # round-off of the Gram-Schmidt sums
        return True

    def add(self, x: PETSc.Vec) -> None:
        """Remember the solution x (the oldest goes when `size` are kept)."""
        x = x.copy()
        if self.null_space is not None:
            self.null_space.remove(x)
        ax = x.duplicate()
        self.A.mult(x, ax)
        self.X.append(x)
        self.AX.append(ax)
        if len(self.X) > self.size:
            self.X.pop(0).destroy()
            self.AX.pop(0).destroy()
        self._drop_basis()

    def _drop_basis(self) -> None:
        """Destroy the basis vectors explicitly: petsc4py 3.18 does not free a copied Vec
        when its Python object goes (measured: 8 MB per dropped vector of 1M dofs)."""
        if self._basis is not None:
            for vectors in self._basis:
                for v in vectors:
                    v.destroy()
        self._basis = None

    def destroy(self) -> None:
        """Free every vector kept (at the end of a run)."""
        self._drop_basis()
        for v in (*self.X, *self.AX):
            v.destroy()
        self.X, self.AX = [], []

    def _orthonormal_basis(self):
        """Gram-Schmidt in the A inner product, twice for round-off; a solution already in
        the span of the newer ones (to 1e-10 in A-norm) is skipped."""
        if self._basis is None:
            Q, AQ = [], []
            for x, ax in zip(reversed(self.X), reversed(self.AX)):
                v, w = x.copy(), ax.copy()
                norm_x = abs(v.dot(w)) ** 0.5
                for _ in range(2):
                    if Q:
                        alphas = [-q.dot(w) for q in Q]  # -q_i^T A v
                        v.maxpy(alphas, Q)
                        w.maxpy(alphas, AQ)
                norm = v.dot(w)
                if norm <= (1e-10 * norm_x) ** 2:
                    v.destroy()
                    w.destroy()
                    continue
                v.scale(norm**-0.5)
                w.scale(norm**-0.5)
                Q.append(v)
                AQ.append(w)
            self._basis = (Q, AQ)
        return self._basis

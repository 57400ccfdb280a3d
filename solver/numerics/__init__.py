"""Linear algebra and numerical building blocks that know no physics: Krylov solver
ladders, p-multigrid, warm starts, and the peak search over stored time histories."""

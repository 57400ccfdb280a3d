"""Versions of everything a result depends on, written beside every result."""
from __future__ import annotations

import platform


def versions() -> dict[str, str]:
    """lrmo, DOLFINx, PETSc, petsc4py, MPI, mpi4py, gmsh, numpy and Python versions.

    Collective-free: safe to call on any rank."""
    import dolfinx
    import gmsh
    import mpi4py
    import numpy
    import petsc4py
    from mpi4py import MPI
    from petsc4py import PETSc

    from solver import __version__

    petsc = ".".join(str(v) for v in PETSc.Sys.getVersion())
    # Open MPI's library version string ends in a NUL byte (a C string): drop it
    mpi_library = MPI.Get_library_version().replace("\x00", "").strip().splitlines()[0]
    return {
        "lrmo": __version__,
        "dolfinx": dolfinx.__version__,
        "petsc": petsc,
        "petsc4py": petsc4py.__version__,
        "mpi": mpi_library,
        "mpi4py": mpi4py.__version__,
        "gmsh": gmsh.__version__,
        "numpy": numpy.__version__,
        "python": platform.python_version(),
    }

"""Field output for ParaView: one XDMF time series (mesh, region tags, every field) and,
where DOLFINx has ADIOS2, a VTX (.bp) series of the same fields."""
from __future__ import annotations

from pathlib import Path

from dolfinx.io import XDMFFile

from solver import compat
from solver.physics.domain import Domain


class FieldWriter:
    def __init__(self, folder: Path, domain: Domain, functions: dict, stem: str = "fields"):
        """`stem`: the file names (a restarted run starts a series of its own)."""
        self.functions = list(functions.values())
        comm = domain.comm
        self.xdmf = XDMFFile(comm, str(Path(folder) / f"{stem}.xdmf"), "w")
        self.xdmf.write_mesh(domain.msh)
        domain.cell_tags.name = "regions"
        compat.write_meshtags(self.xdmf, domain.cell_tags, domain.msh)
        # VTX takes functions of one element: the scalar P1 fields
        scalar = [f for f in self.functions if f.ufl_shape == ()]
        self.vtx = compat.vtx_writer(comm, Path(folder) / f"{stem}.bp", scalar) if scalar else None

    def write(self, t: float) -> None:
        for f in self.functions:
            self.xdmf.write_function(f, t)
        if self.vtx is not None:
            self.vtx.write(t)

    def close(self) -> None:
        self.xdmf.close()
        if self.vtx is not None:
            self.vtx.close()

"""Field output for ParaView: one XDMF time series in which every time step is a single
grid carrying every field (point data), the displacement (a vector in 3D, for Warp By
Vector) and the cell array `region_id` (meshes/markers.py CELL_TAGS: 1 core, 2 layer,
3 coating); where DOLFINx has ADIOS2, also a VTX (.bp) series of the scalar fields.

DOLFINx's XDMFFile writes one grid per function, which ParaView's readers show as a
multiblock in which each array lives on its own block (the MeshTags on yet another
one). So DOLFINx writes the heavy data (HDF5) and its own XML, kept in memory; the
`.xdmf` on disk is rewritten after every output time as one temporal collection over the
same HDF5 datasets (`paraview_xml`). The HDF5 file is closed between output times (the
XDMFFile is reopened in append mode for each), so a running job's `fields.partial/` opens
in ParaView with the steps written so far.

`length_unit` scales the coordinates and the length-valued fields (names ending in
`_m`, renamed `_nm`) of these files only (docs/paraview.md); `write_tags` puts the mesh's
cell and facet tags (the RuO2 islands among them) beside them in the same unit."""
from __future__ import annotations

import contextlib
import copy
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
from dolfinx import fem
from dolfinx.io import XDMFFile

from solver import compat
from solver.io.output import root_collective, write_atomic
from solver.physics.domain import Domain

# a reader (ParaView) holding the HDF5 file must not make the writer's next open fail
os.environ.setdefault("HDF5_USE_FILE_LOCKING", "FALSE")

LENGTH_UNITS = {"m": 1.0, "nm": 1e9}
REGION_FIELD = "region_id"
XI = "http://www.w3.org/2001/XInclude"


@contextlib.contextmanager
def scaled_geometry(msh, factor: float):
    """The mesh coordinates multiplied by `factor` inside the block, restored exactly
    (from a copy) afterwards."""
    if factor == 1.0:
        yield
        return
    x = msh.geometry.x
    saved = x.copy()
    x *= factor
    try:
        yield
    finally:
        x[:] = saved


def region_function(domain: Domain) -> fem.Function:
    """The cell tags as a DG0 Function `region_id` (0 where a cell has no tag)."""
    V = compat.functionspace(domain.msh, "DG", 0)
    f = fem.Function(V, name=REGION_FIELD)
    tdim = domain.msh.topology.dim
    imap = domain.msh.topology.index_map(tdim)
    tag_of_cell = np.zeros(imap.size_local + imap.num_ghosts)
    tags = domain.cell_tags
    tag_of_cell[tags.indices] = tags.values
    dofs = compat.cell_dofs(V)
    f.x.array[dofs[:, 0]] = tag_of_cell[: dofs.shape[0]]
    return f


def paraview_xml(dolfinx_xml: str, grid_name: str = "fields", constant: tuple[str, ...] = (REGION_FIELD,)) -> str:
    """DOLFINx's XDMF (a mesh grid, one temporal collection per function) rewritten as
    one temporal collection whose grid at each time carries the mesh and every attribute
    written at that time, plus the `constant` attributes (written once, at any time)."""
    root = ET.fromstring(dolfinx_xml)
    grids = root.find("Domain").findall("Grid")
    mesh = next(g for g in grids if g.get("GridType") == "Uniform" and g.find("Topology") is not None)
    shape = [mesh.find("Topology"), mesh.find("Geometry")]
    by_time: dict[str, list] = {}
    fixed: dict[str, ET.Element] = {}
    for g in grids:
        if g.get("CollectionType") == "Temporal":
            for step in g.findall("Grid"):
                for a in step.findall("Attribute"):
                    if a.get("Name") in constant:
                        fixed[a.get("Name")] = a
                    else:
                        by_time.setdefault(step.find("Time").get("Value"), []).append(a)
    out = ET.Element("Xdmf", {"Version": "3.0"})
    collection = ET.SubElement(ET.SubElement(out, "Domain"), "Grid", {
        "Name": grid_name, "GridType": "Collection", "CollectionType": "Temporal"})
    for t in sorted(by_time, key=float):
        grid = ET.SubElement(collection, "Grid", {"Name": grid_name, "GridType": "Uniform"})
        ET.SubElement(grid, "Time", {"Value": t})
        for element in shape + list(fixed.values()) + by_time[t]:
            grid.append(copy.deepcopy(element))
    ET.indent(out, "  ")
    return '<?xml version="1.0"?>\n<!DOCTYPE Xdmf SYSTEM "Xdmf.dtd" []>\n' + ET.tostring(out, encoding="unicode") + "\n"


TAGS_FILE = "mesh_tags.xdmf"


def write_tags(folder: Path, domain: Domain, length_unit: str = "nm") -> Path:
    """`mesh_tags.xdmf` (+ .h5) beside the fields: the mesh with its cell tags (regions)
    and facet tags (meshes/markers.py: outer surface 10, RuO2 islands 13, symmetry planes
    21-23, ...) in the fields' length unit, so that they overlay the fields in ParaView
    (mesh/mesh.xdmf stays in metres). Collective."""
    from solver.io.mesh_io import write_mesh_xdmf

    path = Path(folder) / TAGS_FILE
    with scaled_geometry(domain.msh, LENGTH_UNITS[length_unit]):
        write_mesh_xdmf(path, domain.msh, domain.cell_tags, domain.facet_tags)
    return path


class FieldWriter:
    def __init__(self, folder: Path, domain: Domain, functions: dict, stem: str = "fields",
                 length_unit: str = "nm"):
        """`stem`: the file names (a restarted run starts a series of its own);
        `length_unit`: m or nm for the coordinates and length-valued fields. Collective."""
        self.domain = domain
        self.comm = domain.comm
        self.path = Path(folder) / f"{stem}.xdmf"
        self.scale = LENGTH_UNITS[length_unit]
        self.functions = []
        self._scaled = []  # (source, scaled copy) of length-valued fields
        for name, f in functions.items():
            if name.endswith("_m") and length_unit != "m":
                copy_f = fem.Function(f.function_space, name=f"{name[:-2]}_{length_unit}")
                self._scaled.append((f, copy_f))
                f = copy_f
            self.functions.append(f)
        with XDMFFile(self.comm, str(self.path), "w") as xdmf:
            with scaled_geometry(domain.msh, self.scale):
                xdmf.write_mesh(domain.msh)
            xdmf.write_function(region_function(domain), 0.0)
        self._publish()
        # VTX takes functions of one element: the scalar P1 fields
        scalar = [f for f in self.functions if f.ufl_shape == ()]
        self.vtx = compat.vtx_writer(self.comm, Path(folder) / f"{stem}.bp", scalar) if scalar else None

    def _publish(self) -> None:
        """Keep DOLFINx's XML and put the ParaView layout in its place (rank 0 writes;
        an OutputError on every rank)."""
        def swap():
            self._dolfinx_xml = self.path.read_text()
            write_atomic(self.path, paraview_xml(self._dolfinx_xml))

        root_collective(self.comm, swap)

    def write(self, t: float) -> None:
        """Append every field at time t; the files are complete when it returns."""
        for source, scaled in self._scaled:
            scaled.x.array[:] = source.x.array * self.scale
        # DOLFINx appends to its own XML (every rank reads it)
        root_collective(self.comm, lambda: write_atomic(self.path, self._dolfinx_xml))
        with XDMFFile(self.comm, str(self.path), "a") as xdmf:
            for f in self.functions:
                xdmf.write_function(f, t)
        self._publish()
        if self.vtx is not None:
            with scaled_geometry(self.domain.msh, self.scale):
                self.vtx.write(t)

    def close(self) -> None:
        if self.vtx is not None:
            self.vtx.close()
            self.vtx = None

"""grain_boundaries.vtu: the grain-boundary facets of a secondary particle with their
normal and shear tractions and grain pair, for ParaView (VTK XML, ASCII). Gathered to
rank 0, which writes it atomically. With the phase field on (`fracture`), each facet also
carries its damage at the end of the run and its boundary's (grain pair's) max and
area-mean damage and the times its max first passed the onset and opening thresholds
(solver/physics/grain_boundary_fracture.py; -1: not passed)."""
from __future__ import annotations

import numpy as np

from solver.io.output import write_atomic


def write_grain_boundaries(path, grain_boundaries) -> None:
    """Write `grain_boundaries` (solver/physics/grain_boundaries.py) at the time of the
    largest normal traction. Collective."""
    comm = grain_boundaries.domain.comm
    damage = getattr(grain_boundaries, "damage", None)  # GrainBoundaryDamage, when the phase field runs
    local = (*grain_boundaries.facets_at_max(), damage.facet_fields() if damage is not None else {})
    parts = comm.gather(local, root=0)
    if comm.rank != 0:
        return
    vertices = np.concatenate([p[0] for p in parts]).reshape(-1, 3)
    data = {"normal_traction_Pa": np.concatenate([p[1] for p in parts]),
            "shear_traction_Pa": np.concatenate([p[2] for p in parts])}
    pairs = np.concatenate([p[3] for p in parts]).reshape(-1, 2)
    data["grain_a"], data["grain_b"] = pairs[:, 0], pairs[:, 1]
    for key in parts[0][4]:  # the same facets, in the same order (owned_boundary_facets)
        data[key] = np.concatenate([p[4][key] for p in parts]).astype(float)
    write_triangles_vtu(path, vertices, data)


def write_triangles_vtu(path, vertices: np.ndarray, cell_data: dict[str, np.ndarray]) -> None:
    """ASCII VTK UnstructuredGrid of independent triangles (3 consecutive points each)."""
    n = len(vertices) // 3

    def array(name, values, kind="Float64", components=1):
        text = " ".join(repr(float(v)) if kind == "Float64" else str(int(v)) for v in np.ravel(values))
        return (f'<DataArray type="{kind}" Name="{name}" NumberOfComponents="{components}" '
                f'format="ascii">{text}</DataArray>')

    cells = "".join(array(k, v, "Float64" if np.asarray(v).dtype.kind == "f" else "Int64")
                    for k, v in cell_data.items())
    xml = (
        '<?xml version="1.0"?>\n<VTKFile type="UnstructuredGrid" version="0.1" byte_order="LittleEndian">'
        f'<UnstructuredGrid><Piece NumberOfPoints="{3 * n}" NumberOfCells="{n}">'
        f'<Points>{array("points", vertices, components=3)}</Points>'
        f'<Cells>{array("connectivity", np.arange(3 * n), "Int64")}'
        f'{array("offsets", 3 * np.arange(1, n + 1), "Int64")}'
        f'{array("types", np.full(n, 5), "UInt8")}</Cells>'
        f'<CellData>{cells}</CellData></Piece></UnstructuredGrid></VTKFile>\n')
    write_atomic(path, xml)

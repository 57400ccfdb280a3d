"""Pre-flight estimate of a particle mesh and its run: cells, P1 and P2 dofs, memory.

Pure Python (numpy only, no Gmsh, no DOLFINx), so `lrmo validate` can refuse a case
before anything is built. The size field is the one the builder sets
(meshes/particle.py `set_radial_size_field`): h(r) = min(bulk, min_i(h_i + g |r - r_i|)).
A tetrahedral mesher fills a volume V of uniform size h with about C V / h^3 cells, plus
layers of smaller cells along surfaces (about B A / h^2 for a surface of area A), so
cells ~ C ∫ dV / h^3 + B_o ∮ dA / h^2 over the boundary (outer surface and, for the
octant, the symmetry planes) + B_i ∮ dA / h^2 over the interfaces; a 1D mesh: ∫ dr / h.
Node counts and memory follow from the cell count with the ratios below.

Every constant is CALIBRATED, not derived: measured on this project's own meshes and
runs (Gmsh 4.15 HXT; DOLFINx 0.5.2 / PETSc 3.18 with the CG + two-level p-multigrid
elasticity solver and warm starts; 2-core machine, November 2026); the measurements are
in docs/meshes.md. Re-measure after changing the mesher or the solvers.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.integrate import trapezoid

# tets per h^3 of volume, per h^2 of boundary and per h^2 of interface. CALIBRATED by
# a least-squares fit (relative errors) to 14 Gmsh octant/sphere meshes of 6k-155k tets
# (R = 100-200 nm, with and without layer and coating, uniform and graded sizes): max
# error 6.5 %; an 880k-tet octant: -1 % (benchmarks/mesh_estimate.py, docs/meshes.md).
CELLS_PER_H3 = 3.56
BOUNDARY_CELLS_PER_H2 = 1.63
INTERFACE_CELLS_PER_H2 = 3.14
# tets per h^2 of surface on the shapes of meshes/shapes.py (ellipsoid, platelet,
# truncated octahedron: flat faces, edges and corners, meshed as a mirrored octant), with
# CELLS_PER_H3 kept. CALIBRATED (least squares, relative errors) on the 6 coarse meshes of
# tests/test_shapes.py at 10/30 and 5/20 nm (7k-108k tets): within 8 %; not in the fit,
# cases/platelet_stress.yaml (161k tets) +5 %, at 10/30 nm (25k) +4 % (docs/meshes.md).
DEPTH_GRADED_BOUNDARY_CELLS_PER_H2 = 3.07
# tets per h^2 of grain boundary in a secondary particle (meshes/secondary.py: the
# Voronoi faces are meshed conformally). CALIBRATED (least squares, relative errors) on 3
# Gmsh meshes of R = 2 um: 20 grains at the default size (14k tets), 50 at 250 nm (18k),
# 100 at the default (72k): within 6 %; not in the fit, cases/secondary_50grains.yaml
# (57k tets) +6 %. The boundary area is that of N Poisson-Voronoi cells of the sphere's
# volume (mean cell area 5.82 (V/N)^(2/3), Meijering 1953), the outer surface taken off
# and each face shared by two grains: 3-5 % below Gmsh's on these particles.
GRAIN_BOUNDARY_CELLS_PER_H2 = 5.41
VORONOI_AREA_PER_VOLUME_2_3 = 5.82
# triangles per h^2 of a sphere meshed by Gmsh at size h, the base of a radially layered
# shell (meshes/particle.py). CALIBRATED on the octant sphere at R - D = 141 nm: 1184
# triangles at 8 nm (2.43), 4652 at 4 nm (2.38); an equilateral triangle of side h gives 2.31.
TRIANGLES_PER_H2 = 2.43
# mesh vertices (P1 nodes) and P1 + edge nodes (P2 nodes) per tet. CALIBRATED on the
# same meshes (Euler: edges ~ vertices + cells; the ratio rises for small meshes, whose
# boundary holds a larger share of the vertices).
P1_NODES_PER_CELL = 0.22
P2_NODES_PER_CELL = 1.55
# memory model: a fixed cost per rank (Python, DOLFINx, PETSc, JIT forms), a cost per
# cell (mesh topology, connectivity, cell-wise data), per dof solved, and the site
# fraction stored at every step for the peak search. CALIBRATED from the peak RSS
# (ru_maxrss) of serial and 2-rank `lrmo run`s on DOLFINx 0.5.2 / PETSc 3.18 with the
# CG + two-level p-multigrid elasticity solver and its 8-solution warm start (2-core,
# 24 GB machine, November 2026; the runs and the fit are in docs/meshes.md "Memory
# calibration"). Re-measure after changing the solvers, DOLFINx or PETSc.
BYTES_PER_RANK = 165e6  # 60-cell 1D runs: 164 MB serial, 169 MB a rank on 2 ranks
BYTES_PER_CELL = 1.8e3  # an O2-only octant of 323k tets (no mechanics): 783 MB
BYTES_PER_P2_VECTOR_DOF = 1.94e3  # P2 matrix, P1 coarse level + AMG, 32 warm-start vectors
# the busiest of 2 ranks holds 1.16 x its even share of the solve (ghost cells and
# dofs, imbalance): one 2-rank run of the Ru-1 octant; more ranks may need more
PARALLEL_SHARE_OVERHEAD = 0.16
BYTES_PER_P1_DOF = 0.5e3  # each P1 field solved (Li; O2): an assumption, small next to the rest
BYTES_PER_STORED_VALUE = 8  # float64 site fraction per owned P1 dof and stored step (exact)
# accepted steps per unit of site-fraction change allowed per step, times the change
# theta_0 - theta_floor: 2.6 (pristine) and 2.4 (Ru-1) in the 75 min 1C octant runs
STEPS_PER_CHANGE_RATIO = 2.6
BYTES_PER_CELL_GMSH = 0.55e3  # rank 0 while Gmsh meshes (benchmarks/mesh_io.py)
# the phase field in 3D (solver/simulation/fracture_submodel.py): one-way, its own P1
# displacement factored by LU (MUMPS) and the P1 damage's variational inequality.
# CALIBRATED: its extra peak over the same serial run without it (2 min of the charge;
# docs/meshes.md "Memory calibration"): cases/pristine_fracture_octant.yaml at 8,544 and
# 22,890 P1 displacement dofs (52 and 280 MB), cases/ru1_fracture_octant.yaml at 18,363
# (240 MB); a power law in the dofs, least squares in log-log: within 12 %. The LU's
# fill grows faster than the dofs (exponent 1.78 over this range; nested dissection's
# asymptote is 4/3), so beyond ~25k dofs the estimate errs on the high side.
PHASE_FIELD_LU_BYTES_AT_10K_DOFS = 71.1e6
PHASE_FIELD_LU_EXPONENT = 1.78
FIT_FRACTION = 0.8  # a case fits when its peak is below this share of available memory


@dataclass
class Estimate:
    """Estimated size and memory of one run (totals over all ranks unless per_rank)."""

    shape: str
    cells: float
    p1_dofs: float  # one scalar P1 field (Li site fraction, O2)
    p2_dofs: float  # the displacement (3 components in 3D; u_r in 1D)
    memory_bytes: float  # peak, all ranks together
    memory_per_rank_bytes: float  # peak of the busiest rank
    ranks: int

    def lines(self) -> list[str]:
        """Human-readable summary, two lines."""
        dofs = f"~{_count(self.p1_dofs)} P1 dofs per field"
        if self.p2_dofs:
            dofs += f", ~{_count(self.p2_dofs)} P2 displacement dofs"
        return [
            f"pre-flight estimate ({self.shape}): ~{_count(self.cells)} cells, {dofs}",
            f"  memory ~{_gb(self.memory_bytes)} in total, ~{_gb(self.memory_per_rank_bytes)} "
            f"peak per rank ({self.ranks} rank{'s' if self.ranks > 1 else ''})",
        ]


def _count(n: float) -> str:
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= scale:
            return f"{n / scale:.3g}{suffix}"
    return f"{n:.0f}"


def _gb(n_bytes: float) -> str:
    return f"{n_bytes / 1e9:.3g} GB"


def refined_spheres(inputs: dict) -> list[tuple[float, float]]:
    """(radius, element size) [m] of the outer surface and each interface, as the
    builder refines them (meshes/particle.py `surface_sizes`)."""
    R, delta, t = inputs["radius_m"], inputs["layer_thickness_m"], inputs["coating_thickness_m"]
    spheres = [(R, inputs["size_surface_m"])]
    for r in (R - t if t > 0 else None, R - t - delta if delta > 0 else None):
        if r is not None:
            spheres.append((r, inputs["size_interface_m"]))
    return spheres


def size_field(r_m: np.ndarray, inputs: dict) -> np.ndarray:
    """h(r) [m] = min(bulk, min_i(h_i + g |r - r_i|))."""
    h = np.full_like(r_m, inputs["size_bulk_m"], dtype=float)
    for r_i, h_i in refined_spheres(inputs):
        h = np.minimum(h, h_i + inputs["size_growth"] * np.abs(r_m - r_i))
    return h


def estimate_cells(inputs: dict, samples: int = 20001) -> float:
    """Expected cell count for the builder's inputs (meshes/particle.py
    `checked_inputs` plus "shape")."""
    R = inputs["radius_m"]
    if "surface_area_m2" in inputs:
        return _depth_graded_cells(inputs, samples)
    if "radial_layers" in inputs:
        return _layered_cells(inputs, samples)
    r = np.linspace(0.0, R, samples)
    h = size_field(r, inputs)
    if inputs["shape"] == "radial":
        return float(trapezoid(1.0 / h, r))
    octant = inputs["shape"] == "octant"
    fraction = 1 / 8 if octant else 1.0
    volume_term = fraction * trapezoid(4 * math.pi * r**2 / h**3, r)
    boundary_term = fraction * 4 * math.pi * R**2 / h[-1] ** 2
    if octant:  # three quarter discs
        boundary_term += 3 * trapezoid(math.pi / 2 * r / h**2, r)
    interface_term = sum(fraction * 4 * math.pi * r_i**2 / h_i**2
                         for r_i, h_i in refined_spheres(inputs)[1:])
    grain_term = grain_boundary_area_m2(R, inputs.get("grain_count", 1)) / inputs["size_bulk_m"] ** 2
    return float(CELLS_PER_H3 * volume_term + BOUNDARY_CELLS_PER_H2 * boundary_term
                 + INTERFACE_CELLS_PER_H2 * interface_term + GRAIN_BOUNDARY_CELLS_PER_H2 * grain_term)


def _layered_cells(inputs: dict, samples: int) -> float:
    """Cells of a particle with a radially layered shell (meshes/particle.py
    `_layered_particle_model`): the ball inside the shell as a particle of that radius
    without layers, refined to the surface size at its surface, plus three tets per
    triangle of that surface and element layer."""
    depth, count = inputs["radial_layers"]["depth_m"], inputs["radial_layers"]["count"]
    inner = inputs["radius_m"] - depth
    ball = {key: value for key, value in inputs.items() if key != "radial_layers"}
    ball.update(radius_m=inner, layer_thickness_m=0.0, coating_thickness_m=0.0)
    fraction = 1 / 8 if inputs["shape"] == "octant" else 1.0
    triangles = TRIANGLES_PER_H2 * fraction * 4 * math.pi * inner**2 / inputs["size_surface_m"] ** 2
    return estimate_cells(ball, samples) + 3 * count * triangles


def grain_boundary_area_m2(radius_m: float, grains: int) -> float:
    """Expected grain-boundary area of a sphere cut into `grains` Voronoi cells."""
    if grains <= 1:
        return 0.0
    volume = 4 / 3 * math.pi * radius_m**3
    cells_area = grains * VORONOI_AREA_PER_VOLUME_2_3 * (volume / grains) ** (2 / 3)
    return max(cells_area - 4 * math.pi * radius_m**2, 0.0) / 2


def _depth_graded_cells(inputs: dict, samples: int) -> float:
    """Cells of a shape of meshes/shapes.py (docs/shapes.md): its size field grades with
    the depth d below the surface, h(d) = size_surface up to the layer depth, then growing
    by size_growth up to size_bulk (`set_surface_size_field`); no interface surfaces.
    The area of the surface at depth d is modelled as A(d) = A (1 - d / rho)^p up to the
    inradius rho, with p = A rho / V - 1 so that its integral is the volume V = A R / 3
    (exact for a sphere, p = 2, and a slab, p = 0; the platelet of
    cases/platelet_stress.yaml: p = 0.53). Without `inradius_m`: the sphere's."""
    A, R = inputs["surface_area_m2"], inputs["radius_m"]
    rho = inputs.get("inradius_m", R)
    p = max(3 * rho / R - 1, 0.0)
    d = np.linspace(0.0, rho, samples)
    h_s = inputs["size_surface_m"]
    near = max(inputs["layer_thickness_m"], h_s)
    h = np.minimum(inputs["size_bulk_m"], h_s + inputs["size_growth"] * np.maximum(d - near, 0.0))
    volume_term = trapezoid(A * (1 - d / rho) ** p / h**3, d)
    return float(CELLS_PER_H3 * volume_term + DEPTH_GRADED_BOUNDARY_CELLS_PER_H2 * A / h_s**2)


def estimate_run(inputs: dict, *, mechanics: bool = True, p1_fields: int = 1,
                 ranks: int = 1, history_steps: float = 0.0,
                 history_cap_bytes: float = math.inf,
                 actual: tuple[float, float, float] | None = None,
                 phase_field: str | None = None) -> Estimate:
    """Cells, dofs and peak memory of a run on `ranks` ranks. The peak per rank is the
    larger of the solve (shared evenly) plus the stored site fraction (`history_steps`
    steps of the owned P1 dofs, at most `history_cap_bytes` a rank but always 64 steps:
    solver/numerics/peak_search.py) and Gmsh on rank 0 when the mesh is built.
    `actual` = (cells, P1 dofs, P2 displacement dofs) of a built mesh replaces the
    estimated counts (benchmarks/preflight_memory.py). `phase_field` ("one_way" or
    "two_way", the case's fracture.coupling; None: no phase field) adds its solves in 3D."""
    cells = estimate_cells(inputs) if actual is None else actual[0]
    if actual is not None:
        p1, p2 = actual[1], (actual[2] if mechanics else 0.0)
        gmsh_bytes = 0.0 if inputs["shape"] == "radial" else BYTES_PER_CELL_GMSH * cells
    elif inputs["shape"] == "radial":
        p1, p2 = cells + 1, (2 * cells + 1 if mechanics else 0.0)
        gmsh_bytes = 0.0
    else:
        p1 = P1_NODES_PER_CELL * cells
        p2 = 3 * P2_NODES_PER_CELL * cells if mechanics else 0.0
        gmsh_bytes = BYTES_PER_CELL_GMSH * cells
    solve_bytes = (BYTES_PER_CELL * cells + BYTES_PER_P2_VECTOR_DOF * p2
                   + BYTES_PER_P1_DOF * p1 * p1_fields)
    if phase_field is not None and inputs["shape"] != "radial":  # 1D: a few hundred dofs
        solve_bytes += phase_field_bytes(p1, p2, two_way=phase_field == "two_way")
    history = history_bytes_per_rank(p1 / ranks, history_steps, history_cap_bytes)
    share = solve_bytes / ranks * ((1 + PARALLEL_SHARE_OVERHEAD) if ranks > 1 else 1)
    per_rank = BYTES_PER_RANK + max(share + history, gmsh_bytes)
    total = ranks * BYTES_PER_RANK + max(ranks * (share + history), gmsh_bytes)
    return Estimate(inputs["shape"], cells, p1, p2, total, per_rank, ranks)


def phase_field_bytes(p1: float, p2: float, two_way: bool = False) -> float:
    """Memory of the 3D phase field's solves. One-way: the LU of its P1 displacement
    (3 p1 dofs; the calibrated power law, which also holds the damage's solve). Two-way
    solves u in the mechanics' P2 space by CG + GAMG: ASSUMED to cost a second set of
    the mechanics' P2 solver data, plus the damage's LU (p1 dofs)."""
    def lu(dofs: float) -> float:
        return PHASE_FIELD_LU_BYTES_AT_10K_DOFS * (dofs / 1e4) ** PHASE_FIELD_LU_EXPONENT

    return BYTES_PER_P2_VECTOR_DOF * p2 + lu(p1) if two_way else lu(3 * p1)


def history_bytes_per_rank(owned_p1_dofs: float, steps: float, cap_bytes: float) -> float:
    """Bytes of the site fraction stored at `steps` steps, thinned past the cap."""
    step_bytes = BYTES_PER_STORED_VALUE * owned_p1_dofs
    if steps <= 0 or step_bytes <= 0:
        return 0.0
    kept = math.floor(cap_bytes / step_bytes) if math.isfinite(cap_bytes) else steps
    return step_bytes * min(steps, max(64.0, kept))


def history_steps(site_fraction_change: float, max_change_per_step: float) -> float:
    """Accepted steps of a run whose site fraction changes by `site_fraction_change` in
    steps of at most `max_change_per_step` (calibrated, not a bound)."""
    return STEPS_PER_CHANGE_RATIO * site_fraction_change / max_change_per_step


def coarsening_that_fits(inputs: dict, fits, max_factor: float = 1e3) -> float | None:
    """Smallest factor s >= 1 by which all element sizes must be multiplied for
    `fits(inputs)` to hold (bisection on log s; memory falls monotonically with s), or
    None when even s = max_factor does not fit."""
    def scaled(s):
        return {**inputs, **{k: inputs[k] * s for k in
                             ("size_bulk_m", "size_surface_m", "size_interface_m")}}

    if fits(inputs):
        return 1.0
    if not fits(scaled(max_factor)):
        return None
    lo, hi = 0.0, math.log(max_factor)
    for _ in range(40):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if fits(scaled(math.exp(mid))) else (mid, hi)
    return math.exp(hi)

"""Anisotropic chemical eigenstrain of a layered oxide, grain by grain
(docs/secondary-particles.md §1).

In the crystal frame the lattice strain per unit increase of the Li site fraction is
diag(alpha_a, alpha_a, alpha_c) (a axes in the layers, c the stacking axis). A grain
with orientation R (crystal -> sample frame, c axis = R e_z) has

    eps* = (theta - theta_ref) R diag(alpha_a, alpha_a, alpha_c) R^T       (in the core)

Elsewhere the strain scales with the local Li-site density and partial molar volume as
the isotropic model does: eps* = Omega c_max(x) / 3 (theta - theta_ref) A, with the
dimensionless shape tensor A = R diag(alpha_a, alpha_a, alpha_c) R^T / alpha_iso and
alpha_iso = Omega_core c_max_core / 3. With alpha_a = alpha_c = alpha_iso, A = I and the
model is today's isotropic one (tests/test_grains.py). Stiffness stays isotropic.

With tables of each axis's strain against theta (TabulatedLatticeStrain) the core's
eigenstrain is R diag(e_a(theta) - e_a(theta_ref), .., e_c(theta) - e_c(theta_ref)) R^T,
scaled elsewhere by the local share of Li sites, c_max(x)/c_max_core.
"""
from __future__ import annotations

import numpy as np
import ufl
from dolfinx import fem

from solver import compat

VOIGT = ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))


def rotation_matrices(euler_deg) -> np.ndarray:
    """(n, 3, 3) crystal -> sample rotations from Bunge Euler angles (phi1, Phi, phi2)
    in degrees: R = Rz(phi1) Rx(Phi) Rz(phi2)."""
    from scipy.spatial.transform import Rotation

    return Rotation.from_euler("ZXZ", np.asarray(euler_deg, dtype=float).reshape(-1, 3),
                               degrees=True).as_matrix()


def random_rotations(count: int, seed: int) -> np.ndarray:
    """(count, 3, 3) rotations uniform on SO(3), the same for a given seed everywhere."""
    from scipy.spatial.transform import Rotation

    return Rotation.random(count, random_state=np.random.default_rng(seed)).as_matrix()


def grain_rotations(grains, count: int) -> np.ndarray:
    """The case's grain orientations (grains section of a case) for `count` grains."""
    if grains is None or grains.orientations == "random":
        seed = 0 if grains is None else grains.seed
        return random_rotations(count, seed)
    if len(grains.orientations) != count:
        raise ValueError(f"grains.orientations: {len(grains.orientations)} given, the mesh "
                         f"has {count} grains")
    return rotation_matrices(grains.orientations)


def crystal_strain(rotations: np.ndarray, alpha_a: float, alpha_c: float) -> np.ndarray:
    """(n, 3, 3) R diag(alpha_a, alpha_a, alpha_c) R^T per grain."""
    d = np.array([alpha_a, alpha_a, alpha_c])
    return np.einsum("nik,k,njk->nij", rotations, d, rotations)


def isotropic_coefficient(case) -> float:
    """alpha_iso = Omega c_max / 3 of the core: today's strain per unit site fraction."""
    core = case.materials.core
    return core.partial_molar_volume.si * core.lithium_site_concentration.si / 3


def shape_tensor_field(domain, tensors: np.ndarray):
    """DG0 Function of the symmetric tensor per cell (6 Voigt components), the tensor of
    the cell's grain (`domain.grain_of_cell`, all grain 0 if absent), and its UFL 3x3."""
    f = fem.Function(compat.functionspace(domain.msh, "DG", 0, (6,)), name="eigenstrain_shape")
    dofs, grain = _cell_dofs_and_grains(domain, f)
    values = f.x.array.reshape(-1, 6)
    for k, (i, j) in enumerate(VOIGT):
        values[dofs, k] = tensors[grain, i, j]
    f.x.scatter_forward()
    return f, voigt_matrix(f)


def _cell_dofs_and_grains(domain, f) -> tuple[np.ndarray, np.ndarray]:
    """The DG0 (block) dof and the grain (`domain.grain_of_cell`, else 0) of every local
    cell, ghosts included."""
    tdim = domain.msh.topology.dim
    imap = domain.msh.topology.index_map(tdim)
    n_cells = imap.size_local + imap.num_ghosts
    grain = getattr(domain, "grain_of_cell", None)
    grain = np.zeros(n_cells, dtype=np.int64) if grain is None else np.asarray(grain)[:n_cells]
    return compat.cell_dofs(f.function_space)[:n_cells, 0], grain


def voigt_matrix(v):
    """Symmetric 3x3 UFL matrix from 6 Voigt components."""
    index = {pair: k for k, pair in enumerate(VOIGT)}
    index.update({(j, i): k for (i, j), k in list(index.items())})
    return ufl.as_matrix([[v[index[(i, j)]] for j in range(3)] for i in range(3)])


def _case_rotations(case, domain, anisotropic: bool) -> np.ndarray:
    """The case's grain rotations for an anisotropic (or not) lattice strain, after the
    checks that it can be modelled on this domain."""
    if domain.radial:
        raise ValueError("grains.lattice_strain needs a 3D geometry.shape (not radial)")
    if anisotropic and case.mechanics.stress_assisted_diffusion:
        raise ValueError("grains.lattice_strain with a_axis != c_axis: the stress-assisted "
                         "drift is isotropic only; set mechanics.stress_assisted_diffusion: false")
    count = int(domain.info.get("grain_count", 1)) if isinstance(domain.info, dict) else 1
    rotations = grain_rotations(case.grains, count)
    if anisotropic and domain.shape == "octant" and not np.allclose(np.abs(rotations[:, :, 2]).max(axis=1), 1):
        raise ValueError("grains.lattice_strain on an octant: its symmetry planes need the c "
                         "axis along x, y or z (orientations), or geometry.shape: sphere")
    return rotations


def eigenstrain_shape(case, domain):
    """(DG0 Function, UFL tensor A) of the case's linear anisotropic eigenstrain, or None
    when the case asks for none (isotropic: today's scalar forms) or gives a table
    (tabulated_lattice_strain). Needs a 3D domain."""
    grains = getattr(case, "grains", None)
    if grains is None or grains.lattice_strain is None or grains.lattice_strain.tabulated:
        return None
    a, c = grains.lattice_strain.a_axis.si, grains.lattice_strain.c_axis.si
    rotations = _case_rotations(case, domain, a != c)
    alpha_iso = isotropic_coefficient(case)
    tensors = crystal_strain(rotations, a, c) / alpha_iso
    return shape_tensor_field(domain, tensors)


class TabulatedLatticeStrain:
    """The core's lattice strain from per-axis tables e_a(theta), e_c(theta)
    (property_tables.AxisStrain: knots and values are fem.Constants, one compiled form
    whatever the numbers), in the sample frame of each grain:

        E(theta) = R diag(e_a, e_a, e_c) R^T = e_a I + (e_c - e_a) N,   N = n n^T (DG0)

    with n = R e_z the grain's c axis. The mechanics' eigenstrain is
    c_max(x)/c_max_core (E(theta) - E(theta_ref)) (solver/physics/mechanics.py)."""

    def __init__(self, domain, rotations: np.ndarray, a_table, c_table):
        from solver.physics.property_tables import AxisStrain

        self.a_axis = AxisStrain(domain.msh, *a_table)
        self.c_axis = AxisStrain(domain.msh, *c_table)
        self.field, self.c_axis_projector = shape_tensor_field(domain, crystal_strain(rotations, 0.0, 1.0))

    def __call__(self, theta):
        a = self.a_axis(theta)
        return a * ufl.Identity(3) + (self.c_axis(theta) - a) * self.c_axis_projector

    def numpy(self, theta: float, rotation: np.ndarray) -> np.ndarray:
        """E(theta) (3x3) of a grain with rotation R."""
        return crystal_strain(rotation[None], float(self.a_axis.numpy(theta)), float(self.c_axis.numpy(theta)))[0]


def tabulated_lattice_strain(case, domain):
    """TabulatedLatticeStrain of the case's grains.lattice_strain when either axis is a
    table (a linear coefficient joins as its exact two-point table), else None."""
    grains = getattr(case, "grains", None)
    if grains is None or grains.lattice_strain is None or not grains.lattice_strain.tabulated:
        return None
    if case.materials.core.volume_change is not None:
        raise ValueError("grains.lattice_strain tables give the lattice's volume change "
                         "(2 e_a + e_c); leave out materials.core.volume_change")
    tables = grains.lattice_strain.tables()
    same = all(np.array_equal(x, y) for x, y in zip(tables["a_axis"], tables["c_axis"]))
    return TabulatedLatticeStrain(domain, _case_rotations(case, domain, not same),
                                  tables["a_axis"], tables["c_axis"])


def orientation_field(domain, rotations: np.ndarray):
    """DG0 vector Function: each cell's c axis (R e_z) in the sample frame, for ParaView
    and the figures (colour by orientation)."""
    f = fem.Function(compat.functionspace(domain.msh, "DG", 0, (3,)), name="c_axis")
    dofs, grain = _cell_dofs_and_grains(domain, f)
    f.x.array.reshape(-1, 3)[dofs] = rotations[grain][:, :, 2]
    f.x.scatter_forward()
    return f

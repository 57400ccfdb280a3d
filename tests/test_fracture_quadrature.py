"""The phase field's quadrature cap (solver/simulation/fracture_inputs.py, quadrature_degree;
docs/fracture.md, "What remains"): on the Ru-1 octant, whose eigenstrain carries the graded
layer's c_max(r) ~ erf(2 (R - |x|) / t), UFL estimates degree 16 (729 points per tet) for
the energy; the cap 4 (14 points) gives the same staggered solution to the quadrature
error of c_max's curvature across one cell, bounded below from the mesh itself."""
import math

import basix
import numpy as np
import pytest
import ufl
from dolfinx import fem
from mpi4py import MPI

from conftest import CASES
from solver import compat
from solver.case.schema import load_case
from solver.physics.fracture import (FractureParameters, PhaseFieldFracture, absolute_tolerances, degradation,
                                    split_energy_densities, strain)
from solver.physics.materials import ERFC_2
from solver.simulation.chemomechanics import ChemoMechanics
from solver.simulation.domain_setup import build_domain
from solver.simulation.fracture_inputs import PHASE_FIELD_QUADRATURE_DEGREE_3D, phase_field_loading

# a coarse Ru-1 octant: the case's 4.5 nm layer in 4 radial element layers
COARSE = ["mesh.surface=8 nm", "mesh.bulk=50 nm", "mesh.radial_layers.count=4", "mesh.radial_layers.depth=9 nm"]


def quadrature_points(form) -> list[int]:
    """Points per tet of each cell integral of `form` as FFCx chooses its degree: the
    integral's `quadrature_degree` metadata, else UFL's estimate (the form data FFCx
    computes, with its flags), and basix's default scheme of that degree."""
    data = ufl.algorithms.compute_form_data(
        form, do_apply_function_pullbacks=True, do_apply_integral_scaling=True,
        do_apply_geometry_lowering=True, preserve_geometry_types=(ufl.classes.Jacobian,),
        do_apply_restrictions=True, do_append_everywhere_integrals=False)
    degrees = [i.metadata().get("quadrature_degree", max(np.atleast_1d(i.metadata()["estimated_polynomial_degree"])))
               for d in data.integral_data for i in d.integrals]
    return [len(basix.make_quadrature(basix.CellType.tetrahedron, int(q))[1]) for q in degrees]


def linearisation_error(domain, case) -> float:
    """max over the layer's cells of |c_max - its linear interpolant| / c_max_min,
    bounded by deficiency max|g''| dr^2 / 8 / (1 - deficiency), g(s) = (1 - erf(2s) -
    erfc 2) / (1 - erfc 2) of s = depth / t (max |d^2 erf(2s)/ds^2| = 32 s e^(-4 s^2) /
    sqrt(pi) at s = 1/sqrt(8)), dr the largest radial extent of a cell in the layer."""
    msh = domain.msh
    t = domain.layer_thickness_m
    delta = case.materials.layer.site_deficiency_at_surface.si
    x = msh.geometry.x
    cells = compat.geometry_cells(msh)
    r = np.linalg.norm(x[cells], axis=2)  # (cells, 4) vertex radii
    in_layer = r.max(axis=1) > domain.oxide_radius_m - t
    dr = float((r.max(axis=1) - r.min(axis=1))[in_layer].max(initial=0.0))
    dr = domain.comm.allreduce(dr, op=MPI.MAX)
    s = 1 / math.sqrt(8)
    g2 = 32 * s * math.exp(-4 * s * s) / math.sqrt(math.pi) / (1 - ERFC_2) / t ** 2
    return delta * g2 * dr ** 2 / 8 / (1 - delta)


@pytest.fixture(scope="module")
def ru1():
    case = load_case(CASES / "ru1_fracture_octant.yaml", COARSE)
    sim = ChemoMechanics(case, build_domain(case, MPI.COMM_WORLD))
    theta = sim.lithium.theta
    # a delithiated surface: hoop tension there beyond the AT1 onset, the layer included
    x = theta.function_space.tabulate_dof_coordinates()
    R = sim.domain.oxide_radius_m
    theta.x.array[:] = 1.0 - 0.8 * (np.linalg.norm(x, axis=1) / R) ** 6
    return case, sim


def phase_field(case, sim, quadrature_degree):
    domain, materials = sim.domain, sim.materials
    E, nu = (domain.comm.allreduce(float(f.x.array.max()), op=MPI.MAX)
             for f in (materials.youngs_modulus, materials.poisson_ratio))
    f = case.fracture
    params = FractureParameters(E, nu, f.toughness.si, f.length_scale_m(E), f.residual_stiffness.si)
    V = compat.functionspace(domain.msh, "Lagrange", 1, (3,))
    loading = phase_field_loading(sim, V, 1.0, params.length_scale_m)
    assert loading["quadrature_degree"] == PHASE_FIELD_QUADRATURE_DEGREE_3D
    loading["quadrature_degree"] = quadrature_degree
    volume = math.pi / 6 * domain.oxide_radius_m ** 3
    u_options, d_options = absolute_tolerances(params, volume)
    model = PhaseFieldFracture(V, params, tol=1e-7, lame=(materials.lmbda, materials.mu), **loading,
                               displacement_options=u_options, damage_options=d_options)
    model.solve_step()
    return model


def test_the_ru1_octant_energy_takes_14_points_per_cell_against_ufls_729(ru1):
    """The cap phase_field_loading hands the octant, and the degree it replaces: the
    elastic energy g(d) psi+ + psi- of the Ru-1 eigenstrain, as PhaseFieldFracture writes it."""
    case, sim = ru1
    msh = sim.domain.msh
    V = compat.functionspace(msh, "Lagrange", 1, (3,))
    loading = phase_field_loading(sim, V, 1.0, 3.5e-8)
    d = fem.Function(compat.functionspace(msh, "Lagrange", 1))
    eps = strain(fem.Function(V)) - loading["eigenstrain"] * ufl.Identity(3)
    psi_plus, psi_minus = split_energy_densities(eps, FractureParameters(150e9, 0.3, 0.35, 3.5e-8),
                                                 (sim.materials.lmbda, sim.materials.mu))
    energy = degradation(d, 1e-6) * psi_plus + psi_minus
    capped = quadrature_points(energy * ufl.dx(domain=msh, metadata={"quadrature_degree": loading["quadrature_degree"]}))
    estimated = quadrature_points(energy * ufl.dx(domain=msh))
    print(f"points per cell: capped {capped}, UFL's estimate {estimated}")
    assert loading["quadrature_degree"] == PHASE_FIELD_QUADRATURE_DEGREE_3D == 4
    assert capped == [14] and estimated == [729]


@pytest.mark.slow
def test_the_cap_uses_fewer_points_and_changes_the_staggered_solution_by_the_quadrature_error(ru1):
    case, sim = ru1
    capped = phase_field(case, sim, PHASE_FIELD_QUADRATURE_DEGREE_3D)
    uncapped = phase_field(case, sim, None)
    points = {name: max(quadrature_points(m._elastic_ufl)) for name, m in (("capped", capped), ("uncapped", uncapped))}
    bound = 2 * linearisation_error(sim.domain, case)
    comm = capped.comm
    d_max = [comm.allreduce(float(m.d.x.array.max(initial=0.0)), op=MPI.MAX) for m in (capped, uncapped)]
    d_diff = comm.allreduce(float(np.abs(capped.d.x.array - uncapped.d.x.array).max(initial=0.0)), op=MPI.MAX)
    energies = [(m.elastic_energy(), m.fracture_energy()) for m in (capped, uncapped)]
    print(f"points per cell {points}; bound {bound:.3g}; max d {d_max}, max |d_capped - d_uncapped| {d_diff:.3g}; "
          f"(elastic, fracture) energies {energies}")
    assert points["capped"] == 14 and points["uncapped"] > 20 * points["capped"]
    assert d_max[1] > 1e-2  # the load damages: the comparison covers the damage problem
    assert energies[0][0] == pytest.approx(energies[1][0], rel=bound)
    assert energies[0][1] == pytest.approx(energies[1][1], rel=bound)
    assert d_diff < bound * d_max[1]

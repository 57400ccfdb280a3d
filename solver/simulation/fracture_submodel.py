"""Phase-field fracture driven by the chemo-mechanics, as a submodel of the one time loop
(solver/simulation/submodel.py; docs/fracture.md).

Every `fracture.every_steps` accepted Li steps, and at every output time, the AT1 phase
field (solver/physics/fracture.py) is loaded by the chemical eigenstrain of the current
site fraction, the very UFL expression the mechanics uses (`Mechanics.chemical_strain`,
Omega c_max (theta - theta_0) / 3, plus the vacancies' strain when oxygen redox runs),
with the mechanics' Lame fields and its symmetry planes, and one staggered step is
solved. The damage does not heal: each step's lower bound is the previous step's damage.
With `fracture.coupling: one_way` (the default) the damage does not act back on the Li
transport or on the mechanics' stress. With `two_way` the mechanics' stress becomes the
degraded g(d) sigma+ + sigma- of the same split (compression is not degraded), with the
latest accepted damage (lagged by one Li step, as the oxygen vacancies act back): the
mechanics' solve is replaced by the phase field's own displacement solve at that damage,
in the mechanics' P2 space, and its stress is written where the mechanics writes its
own (the DG1 Voigt nodes), so that the reported peak, fields and profiles carry the
damage (`_act_on_mechanics`; docs/fracture.md, "Damage acting back").
It follows the Li protocol (`follows_lead`); no file is written here.

On the 1D radial model the same energy is written with the mechanics' spherical strain
diag(du/dr, u/r, u/r) and the measure 4 pi r^2 dr (Domain.strain, Domain.weight): the
damage d(r) is a smeared spherical shell, which gives where and when the damage starts
(the AT1 onset) as the 3D model does under a radially symmetric stress, not a crack
pattern (docs/fracture.md)."""
from __future__ import annotations

import math

import numpy as np
import ufl
from dolfinx import fem
from mpi4py import MPI

from solver import compat
from solver.physics.fracture import FractureParameters, PhaseFieldFracture, absolute_tolerances, degraded_stress
from solver.numerics.linalg import ELASTICITY_3D_GAMG
from solver.physics.mechanics import VOIGT
from solver.simulation.fracture_inputs import boundary_damage, phase_field_loading

DAMAGED = 0.5  # a node or cell with d above this counts as cracked
ONSET = 1e-3  # the first max d above this marks where and when the damage starts
U_KSP_RTOL = 1e-11  # two-way in 3D: the CG tolerance of each Newton step of the u solve


class FractureSubmodel:
    name = "fracture"
    profile_columns = ("damage",)
    follows_lead = True
    time_step_s = math.inf
    end_time_s = math.inf

    def __init__(self, case, lithium):
        """`lithium`: the ChemoMechanics whose mechanics (eigenstrain, Lame fields,
        symmetry planes) loads the phase field."""
        mech, materials, domain = lithium.mechanics, lithium.materials, lithium.domain
        if mech is None:
            raise ValueError("physics: 'fracture' needs 'mechanics'")
        f = case.fracture
        self.lead, self.every = lithium, f.every_steps
        self.comm, self.sf = domain.comm, domain.symmetry_factor
        E = _global_max(materials.youngs_modulus)  # the core's (the particle's largest)
        nu = _global_max(materials.poisson_ratio)
        self.params = FractureParameters(E, nu, f.toughness.si, f.length_scale_m(E), f.residual_stiffness.si)
        # the meshed volume (the octant's; 4 pi r^2 dr in 1D: the whole sphere)
        self._volume = volume = self.comm.allreduce(
            fem.assemble_scalar(fem.form(domain.volume_integral(compat.constant(domain.msh, 1.0)))), op=MPI.SUM)
        u_options, d_options = absolute_tolerances(self.params, volume, smallest_cell_m=_smallest_edge_m(domain.msh))
        self.two_way = f.coupling == "two_way"
        if self.two_way and (lithium.eigenstrain is not None or lithium.lattice_strain is not None):
            raise ValueError("fracture.coupling: two_way needs the isotropic chemical strain (no anisotropic "
                             "or tabulated lattice strain)")
        # 1D: the mechanics' P2 (a few hundred unknowns); 3D: P1 (a cheaper LU than the mechanics' P2);
        # two-way: the mechanics' own P2 space, whose stress it then is; in 3D solved by CG + GAMG
        # with the rigid-body near-null space, as the mechanics' coarse level (a P2 LU per Newton step is slow)
        iterative = self.two_way and not domain.radial
        if iterative:
            u_options = {**u_options, **ELASTICITY_3D_GAMG, "ksp_rtol": U_KSP_RTOL}
        V = mech.V if self.two_way else compat.functionspace(
            domain.msh, "Lagrange", 2 if domain.radial else 1, domain.displacement_shape)
        self.model = PhaseFieldFracture(
            V, self.params, tol=f.staggered_tolerance, lame=(materials.lmbda, materials.mu),
            **phase_field_loading(lithium, V, f.grain_boundary_toughness_factor.si, self.params.length_scale_m),
            displacement_options=u_options, damage_options=d_options,
            strain_operator=domain.strain, weight=domain.weight)
        if iterative:
            self.model.displacement_solver.A.setNearNullSpace(mech._modes)
        self.damage = d = self.model.d
        self.boundaries = boundary_damage(lithium, d)  # per grain boundary (secondary particles), or None
        self.output_fields = {"damage": d}
        self._damaged_volume = fem.form(domain.volume_integral(ufl.conditional(ufl.gt(d, DAMAGED), 1.0, 0.0)))
        self._x = d.function_space.tabulate_dof_coordinates()
        self._n = d.function_space.dofmap.index_map.size_local
        self.steps = 0  # accepted Li steps seen
        self.solved_at = -1  # the step count of the last solve
        self.solves = self.sweeps = 0
        self.onset: dict | None = None  # where and when max d first exceeds ONSET
        self.stress_solves = 0  # two-way: the mechanics' solves done here
        if self.two_way:
            self._act_on_mechanics(mech, domain, materials)
        # crack_diffusivity_factor k > 1: the Li's D (1 + (k - 1) d), d of the last solve (lagged)
        self._crack, self._crack_k = lithium.crack_diffusivity, f.crack_diffusivity_factor
        if self._crack is not None and self._crack.x.array.size != d.x.array.size:
            raise RuntimeError("the damage and the Li's diffusivity multiplier differ in layout")


    def _act_on_mechanics(self, mech, domain, materials) -> None:
        """Two-way: the mechanics' solve becomes the phase field's u solve at the current
        damage (held fixed: the latest accepted one, lagged by one Li step) and the degraded
        stress of that u at the mechanics' DG1 nodes; the damage is the mechanics' lagged
        input (the reported peak's state keeps it). No affine map (not linear)."""
        eps = domain.strain(self.model.u, pointwise=True) - mech.chemical_strain * ufl.Identity(3)
        sigma = degraded_stress(eps, self.params, self.damage, (materials.lmbda, materials.mu))
        expr = fem.Expression(ufl.as_vector([sigma[i, j] for i, j in VOIGT]),
                              compat.interpolation_points(mech.S))
        self._stress_expr = expr  # kept alive with the interpolator
        interpolate = compat.expression_interpolator(mech.stress_components, expr)
        u_mech, u = mech.u.x.array, self.model.u.x.array

        def response() -> int:
            iterations = self.model.displacement_solver.solve()
            u_mech[:] = u
            if domain.free_floating:  # as the mechanics' u: orthogonal to the rigid motions (the pins' differs by one)
                mech._modes.remove(compat.petsc_vec(mech.u))
                mech.u.x.scatter_forward()
            interpolate()
            self.stress_solves += 1
            return iterations

        mech.damaged_response = response
        mech.lagged_inputs = [self.damage]

    # -- the loop -------------------------------------------------------------------------
    def step(self, t_new, dt, bdf, lead=None) -> None:
        pass  # it reads the accepted Li state in `accept`

    def accept(self) -> None:
        self.steps += 1
        if self.steps % self.every == 0:
            self._solve()

    def reject(self) -> None:
        pass

    def _solve(self) -> None:
        """One staggered AT1 step at the current site fraction (once per accepted Li step)."""
        if self.solved_at == self.steps:
            return
        result = self.model.solve_step()
        self.solved_at = self.steps
        self.solves += 1
        self.sweeps += result.iterations
        self._act_on_lithium()
        if self.boundaries is not None:
            self.boundaries.update(self.lead.t)
        if self.onset is None and self.max_damage() > ONSET:
            self.onset = self._where_largest()

    def _act_on_lithium(self) -> None:
        """crack_diffusivity_factor k > 1: D (1 + (k - 1) d) for the next Li steps (lagged
        by one, as the oxygen vacancies' site loss); the Li's K is assembled again."""
        if self._crack is None:
            return
        self._crack.x.array[:] = 1.0 + (self._crack_k - 1.0) * self.damage.x.array
        self.lead.lithium.refresh_stiffness()

    def _where_largest(self) -> dict:
        owned = self.damage.x.array[: self._n]
        i = int(np.argmax(owned)) if owned.size else -1
        value, rank = max(self.comm.allgather((float(owned[i]) if i >= 0 else -1.0, self.comm.rank)))
        r = float(np.linalg.norm(self._x[i])) if self.comm.rank == rank else 0.0
        r = self.comm.bcast(r, root=rank)
        return {"time_s": self.lead.t, "damage": value, "radius_m": r,
                "location": self.lead.domain.describe_radius(r)}

    # -- quantities (collective) ----------------------------------------------------------
    def max_damage(self) -> float:
        owned = self.damage.x.array[: self._n]
        return self.comm.allreduce(float(owned.max(initial=0.0)), op=MPI.MAX)

    def scalars(self, t: float) -> dict:
        self._solve()  # an output time: the phase field at this state
        m = self.model
        return {"damage_max": self.max_damage(),
                "damaged_volume_fraction": m.assemble(self._damaged_volume) / self._volume,
                "fracture_energy_J": self.sf * m.fracture_energy(),
                "fracture_elastic_energy_J": self.sf * m.elastic_energy()}

    def ledger(self) -> dict:
        return {}

    def update_output_fields(self) -> None:
        self._solve()

    def results(self) -> dict:
        p = self.params
        return {"fracture": {**self.scalars(self.lead.t), "onset": self.onset,
                             "critical_stress_Pa": p.critical_stress_Pa, "length_scale_m": p.length_scale_m,
                             "toughness_J_m2": p.toughness_J_m2, "solves": self.solves,
                             "staggered_sweeps": self.sweeps, "steps": self.steps,
                             **({"grain_boundaries": self.boundaries.summary()} if self.boundaries else {}),
                             **({"coupling": "two_way", "stress_solves": self.stress_solves,
                                  "crack_diffusivity_factor": self._crack_k} if self.two_way else {})}}

    # -- checkpoints ----------------------------------------------------------------------
    def state(self) -> tuple[dict, dict]:
        n = self._n
        return ({"steps": self.steps, "solved_at": self.solved_at, "solves": self.solves,
                 "sweeps": self.sweeps, "onset": self.onset,
                 **({"grain_boundaries": self.boundaries.state()} if self.boundaries is not None else {})},
                {"d": self.damage.x.array[:n].copy(), "d_previous": self.model.d_previous.x.array[:n].copy()})

    def restore(self, scalars: dict, arrays: dict) -> None:
        for f, key in ((self.damage, "d"), (self.model.d_previous, "d_previous")):
            f.x.array[: self._n] = arrays[key]
            f.x.scatter_forward()
        self.steps, self.solved_at = scalars["steps"], scalars["solved_at"]
        self.solves, self.sweeps, self.onset = scalars["solves"], scalars["sweeps"], scalars["onset"]
        if self.boundaries is not None and "grain_boundaries" in scalars:  # the onset times so far
            self.boundaries.restore(scalars["grain_boundaries"])
        self._act_on_lithium()


def _smallest_edge_m(msh) -> float:
    """The shortest cell edge of the mesh (collective)."""
    tdim = msh.topology.dim
    cells = compat.geometry_cells(msh)[:, : tdim + 1]  # the vertices of each simplex
    x = msh.geometry.x
    local = min((float(np.linalg.norm(x[cells[:, i]] - x[cells[:, j]], axis=1).min(initial=np.inf))
                 for i in range(tdim + 1) for j in range(i + 1, tdim + 1)), default=np.inf)
    return msh.comm.allreduce(local, op=MPI.MIN)


def _global_max(f) -> float:
    return f.function_space.mesh.comm.allreduce(float(f.x.array.max(initial=-np.inf)), op=MPI.MAX)


__all__ = ["FractureSubmodel"]

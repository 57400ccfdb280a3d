"""The particle at one potential V: Li+ transport with a Butler–Volmer surface condition
(solver/physics/electrochemistry.py), solved by Newton's method on (theta, V).

On the outer surface the outward Li flux is the local j(theta_s, V): a point whose
surface has emptied further (a higher U) carries less current at the same V, so in 3D
the current follows the local overpotential. The particle's total current closes the
system: under current control

    G(theta, V) = sum_i m_i j(theta_i, V) - j_mean sum_i m_i = 0,

with m_i = integral of the surface basis function i (the surface term is integrated
with the nodal (lumped) rule, so the Jacobian's surface block is diagonal and j at a
node is the law at that node's theta) and j_mean the uniform flux that carries the
particle's current; under voltage control V is given and G is not solved. Each Newton
iteration solves the bordered system

    [ J   g ] [dtheta]     [R]       J = a0/dt M + K + diag(m dj/dtheta)
    [ h^T d ] [  dV  ] = - [G]       g = m dj/dV,  h = m dj/dtheta,  d = sum m dj/dV

by two solves with J (J y = -R, J z = g, dV = (-G - h.y)/(d - h.z), dtheta = y - z dV).
1D: J is factorised (LU) per iteration. 3D: CG + BoomerAMG on J, the preconditioner set
up at the first iteration of a step and reused by the others (Newton converges anyway:
the solves are exact to ksp_rtol).
"""
from __future__ import annotations

import math

import numpy as np
from dolfinx import fem
from mpi4py import MPI
from petsc4py import PETSc

from solver import compat
from solver.numerics import linalg, collectives
from solver.physics.electrochemistry import SurfaceReaction

NEWTON_MAX_ITERATIONS = 25
NEWTON_TOLERANCE = 1e-8  # in site fraction and in V
ROUND_OFF = 1e-13  # changes below this are round-off: no contraction rate from them
# a contraction rate carried over from an earlier step is trusted only with this margin
CONTRACTION_SAFETY = 2.0


# 3D: CG + the transport's tuned BoomerAMG on J (measured: the AMG of K + c M alone, without
# the surface term, doubles the Krylov iterations); Newton needs no tighter solves
NEWTON_KRYLOV = {**linalg.HYPRE_3D, "ksp_rtol": 1e-9}
# z = J^-1 g only sets V's Newton update: an error e in z moves that update by ~e of itself
# (~1e-5 V a step), so 1e-4 is far below the Newton tolerance
Z_RTOL = 1e-4
# a Newton iterate stopped on a predicted rate must carry the current to this (relative)
CURRENT_TOLERANCE = 1e-7


class _RankOneUpdate:
    """The operator J - g h^T / d of the bordered system with V eliminated (a PETSc
    python Mat): g and h live on the surface rows, d is a number."""

    def __init__(self, J, surface, allreduce):
        self.J, self.surface, self.allreduce = J, surface, allreduce
        self.g = J.createVecRight()
        self.h, self.d = None, 1.0

    def update(self, h_on_surface, d) -> None:
        self.h, self.d = h_on_surface, d

    def set_g(self, g) -> None:
        g.copy(self.g)

    def mult(self, mat, x, y):
        self.J.mult(x, y)
        hx = self.allreduce(float(self.h @ x.array_r[self.surface]), op=MPI.SUM)  # x is read-locked (PETSc 3.22)
        y.axpy(-hx / self.d, self.g)


class NewtonDiverged(linalg.SolverFailure):
    """Newton did not converge: the step is retried with a shorter time step."""


class SurfaceSaturated(NewtonDiverged):
    """The step would empty (charge) or fill (discharge) the surface: the kinetics cannot
    carry the current beyond, the voltage runs off to +- infinity there (i0 -> 0)."""

    def __init__(self, message: str, emptied: bool):
        super().__init__(message)
        self.emptied = emptied


class ParticlePotential:
    """Newton on (theta, V) for one time step of a LithiumTransport (whose M, K, history
    and drift it uses) with the surface law `reaction`."""

    def __init__(self, lithium, reaction: SurfaceReaction, initial_voltage_V: float):
        self.lithium = lithium
        self.reaction = reaction
        self.voltage_V = initial_voltage_V
        li = lithium
        self.comm = li.domain.comm
        self._allreduce = collectives.allreduce(li.domain.comm)
        self.surface = li._owned_surface  # owned local surface dofs
        self.weights = li.surface_load.array[self.surface].copy()  # m_i
        self.total_weight = self._allreduce(float(self.weights.sum()), op=MPI.SUM)
        # a 1D particle on one rank: Newton takes its one surface node's values as Python
        # floats, (index, m); a numpy operation on a one-element array costs ~15 times a
        # float's, for the same number
        self._node = (int(self.surface[0]), float(self.weights[0])) if self.surface.size == 1 and self.comm.size == 1 else None
        self.J = li.system.A.duplicate(copy=True)
        self.J.setOption(PETSc.Mat.Option.KEEP_NONZERO_PATTERN, True)
        self.direct = li.system.direct
        options = li.system.options if self.direct else NEWTON_KRYLOV
        self.ksp = linalg.make_ksp(self.comm, "lithium_newton", options)
        self.ksp.setOperators(self.J)
        self._schur = self.ksp_schur = None
        if not self.direct:  # current control in 3D: V eliminated, J - g h^T / d, one solve
            self._schur = _RankOneUpdate(self.J, self.surface, self._allreduce)
            shell = PETSc.Mat().createPython(self.J.getSizes(), comm=self.comm)
            shell.setPythonContext(self._schur)
            shell.setUp()
            self.ksp_schur = linalg.make_ksp(self.comm, "lithium_newton_schur",
                                             {**NEWTON_KRYLOV, "ksp_type": "gmres", "ksp_pc_side": "right"})
            self.ksp_schur.setOperators(shell, self.J)
        self.nonlinear = li.jacobian_form is not None  # D(theta): the volume Jacobian too
        if self.nonlinear and not self.direct:
            self.ksp.setType(PETSc.KSP.Type.GMRES)  # D'(theta) grad theta makes J unsymmetric
        V = li.V
        self._residual, self._y, self._z, self._g, self._volume = (fem.Function(V) for _ in range(5))
        self._diagonal = fem.Function(V)
        # their PETSc Vecs and dof arrays, fetched once (each Function.x costs microseconds,
        # a dozen a Newton iteration on a 1D particle)
        own = (self._residual, self._y, self._z, self._g, self._diagonal)
        self._vecs = tuple(compat.petsc_vec(f) for f in own)
        n_owned = V.dofmap.index_map.size_local
        self._arrays = tuple(f.x.array[:n_owned] for f in own)
        self.iterations = 0  # Krylov iterations of the last step
        self.newton_iterations = 0
        self.preconditioner_setups = 0
        self._preconditioner_built_on = None  # (c, surface diagonal) of the AMG in use
        self._voltages = (None, None)  # V at the last two accepted steps
        self._contraction = None  # Newton's change_k+1 / change_k^2, from the last iterations
        # the share a of the Li sites left at each owned surface node (oxygen vacancies,
        # solver/physics/vacancies.py), set by the caller; None: all sites. The surface law
        # then reads the occupancy theta/a of the sites left.
        self.site_availability = None

    # -- the discrete surface law -----------------------------------------------------
    def surface_flux(self, theta_owned_surface, voltage_V):
        a = self.site_availability
        if a is None:
            return self.reaction.flux(theta_owned_surface, voltage_V)
        j, dj_doccupancy, dj_dV = self.reaction.flux(theta_owned_surface / a, voltage_V)
        return j, dj_doccupancy / a, dj_dV

    def surface_occupancy(self, theta_owned_surface):
        return theta_owned_surface if self.site_availability is None else theta_owned_surface / self.site_availability

    def total_flux(self, theta=None, voltage_V=None) -> float:
        """sum_i m_i j_i over the whole (mesh) surface, mol/s (collective)."""
        theta = self.lithium.theta if theta is None else theta
        voltage_V = self.voltage_V if voltage_V is None else voltage_V
        j, _, _ = self.surface_flux(theta.x.array[self.surface], voltage_V)
        return self._allreduce(float(self.weights @ j), op=MPI.SUM)

    def mean_flux(self) -> float:
        """The surface-mean outward Li flux of the present state, mol/m^2/s."""
        return self.total_flux() / self.total_weight

    def surface_site_fraction(self) -> float:
        """The surface-mean occupancy of the Li sites (the site fraction when no sites
        are lost) of the present state (collective)."""
        theta_s = self.surface_occupancy(self.lithium.theta.x.array[self.surface])
        return self._allreduce(float(self.weights @ theta_s), op=MPI.SUM) / self.total_weight

    def open_circuit_voltage(self) -> float:
        """U at the surface-mean site fraction, V (collective)."""
        return float(self.reaction.ocv(self.surface_site_fraction()))

    def initial_voltage(self, mean_flux_mol_m2_s: float) -> float:
        """V that carries a uniform flux at the present surface site fraction (mean)."""
        theta_s = self.surface_site_fraction()
        from solver.case.units import FARADAY_C_MOL

        eta = self.reaction.kinetics.overpotential(mean_flux_mol_m2_s * FARADAY_C_MOL, theta_s)
        return float(self.reaction.ocv(theta_s) + eta)

    # -- one time step ---------------------------------------------------------------
    def solve_step(self, dt: float, bdf: tuple[float, float, float], *, mean_flux_mol_m2_s: float | None = None,
                   voltage_V: float | None = None) -> int:
        """theta (and V under current control) at t + dt; exactly one of
        `mean_flux_mol_m2_s` (current control: the particle's current as a uniform flux)
        and `voltage_V`. Returns the Krylov iterations; raises NewtonDiverged.

        Each iteration solves for the new iterate itself, J theta_k+1 = J theta_k - R_k
        (= b + m (dj/dtheta theta_k - j) on the surface rows), from theta_k as the
        initial guess, and for z from the last z: the Krylov solver then starts close to
        its answer, as the flux step does from the extrapolated history."""
        li = self.lithium
        a0, a1, a2 = bdf
        c = a0 / dt
        li.system.ksp(c)  # brings li.system.A to K + c M
        A0 = li.system.A
        b = li.history_rhs(dt, bdf)  # M h (+ drift)
        current_control = voltage_V is None
        w = -a1 - 1.0 if a2 else 0.0  # dt / dt_previous (bdf_coefficients)
        if not current_control:
            self.voltage_V = voltage_V
        elif self._voltages[0] is not None and a2:  # V extrapolated like theta
            self.voltage_V = (1 + w) * self._voltages[1] - w * self._voltages[0]
        theta_all = li.theta.x.array
        theta_all[:] = (1 + w) * li.theta_n.x.array - w * li.theta_nm1.x.array
        theta = compat.petsc_vec(li.theta)
        rhs, x, z, g, diagonal = self._vecs
        rhs_a, x_a, z_a, g_a, diagonal_a = self._arrays  # owned dofs
        # the surface dofs and their weights m_i, or the one node's index and m as floats
        s, m = self._node if self._node is not None and self.site_availability is None else (self.surface, self.weights)
        self.iterations = 0
        change, dV, previous = np.inf, np.inf, np.inf
        for newton in range(1, NEWTON_MAX_ITERATIONS + 1):
            V = self.voltage_V
            theta_s = theta_all[s]
            j, dj_dtheta, dj_dV = self.surface_flux(theta_s, V)
            finite = _all_finite(j, dj_dtheta, dj_dV)
            if not self._allreduce(bool(finite), op=MPI.LAND):
                break  # exp overflow: an overpotential no step can reach
            b.copy(rhs)
            if self.nonlinear:  # J_volume theta_k - F_volume(theta_k): the D(theta) part of Newton
                li.shift.value = c
                compat.assemble_matrix_into(self.J, li.jacobian_form)
                volume = compat.petsc_vec(self._volume)
                compat.assemble_vector_into(volume, li.residual_form)
                volume.scale(-1.0)
                self.J.multAdd(theta, volume, volume)
                rhs.axpy(1.0, volume)
            else:
                A0.copy(self.J, structure=PETSc.Mat.Structure.SAME_NONZERO_PATTERN)
            diagonal.set(0.0)
            diagonal_a[s] = m * dj_dtheta
            self.J.setDiagonal(diagonal, addv=PETSc.InsertMode.ADD_VALUES)
            self._choose_preconditioner(c, diagonal)
            rhs_a[s] += m * (dj_dtheta * theta_s - j)
            theta.copy(x)
            dV = 0.0
            if current_control and self._schur is not None:  # V eliminated: one solve
                g.set(0.0)
                g_a[s] = m * dj_dV
                total, h_theta, d = self._allreduce(np.array([
                    _dot(m, j), _dot(m * dj_dtheta, theta_s), _dot(m, dj_dV)]), op=MPI.SUM)
                G = total - mean_flux_mol_m2_s * self.total_weight
                if not np.isfinite(d) or d == 0.0:
                    break
                self._schur.update(m * dj_dtheta, d)
                self._schur.set_g(g)
                rhs.axpy(-(h_theta - G) / d, g)
                self.iterations += self._solve(rhs, self._y, guess=True, ksp=self.ksp_schur)
                h_x = self._allreduce(_dot(m * dj_dtheta, x_a[s]), op=MPI.SUM)
                dV = (-G - (h_x - h_theta)) / d
                self.voltage_V = V + dV
            else:
                self.iterations += self._solve(rhs, self._y, guess=True)
            if current_control and self._schur is None:
                if newton == 1:  # z = J^-1 g of the first iteration serves the others (chord)
                    g.set(0.0)
                    g_a[s] = m * dj_dV
                    self.iterations += self._solve(g, self._z, guess=True, rtol=Z_RTOL)
                total, h_y, h_z, d = self._allreduce(np.array([
                    _dot(m, j), _dot(m * dj_dtheta, x_a[s] - theta_s),
                    _dot(m * dj_dtheta, z_a[s]), _dot(m, dj_dV)]), op=MPI.SUM)
                G = total - mean_flux_mol_m2_s * self.total_weight  # once, not once per rank
                pivot = d - h_z
                if not np.isfinite(pivot) or pivot == 0.0:
                    break
                dV = (-G - h_y) / pivot
                x.axpy(-dV, z)
                self.voltage_V = V + dV
            x.axpy(-1.0, theta)  # x is now the update
            change = self._allreduce(float(np.abs(x_a).max()) if x_a.size else 0.0, op=MPI.MAX)
            theta.axpy(1.0, x)
            li.theta.x.scatter_forward()
            if not np.isfinite(change) or not np.isfinite(self.voltage_V):
                break
            # converged: the next change (in site fraction, and in V: U' is of order
            # 1 V per unit of site fraction), estimated from this one and the contraction
            # change_k+1 / change_k^2 seen so far (Newton converges quadratically), is
            # below the tolerance; a rate from an earlier step lets one iteration do
            change = max(change, abs(dV))
            if newton > 1 and change > ROUND_OFF:
                self._contraction = change / previous**2
            next_change = change if self._contraction is None else self._contraction * change**2
            next_change = next_change * CONTRACTION_SAFETY if newton == 1 else next_change
            previous = change
            if next_change < NEWTON_TOLERANCE or change < ROUND_OFF:
                surface = self.surface_occupancy(theta_all[s])
                emptied = self._allreduce(bool(surface.size) and bool((surface <= 0).any()), op=MPI.LOR)
                filled = self._allreduce(bool(surface.size) and bool((surface >= 1).any()), op=MPI.LOR)
                if emptied or filled:  # a root of the clipped law, not of the physics
                    raise SurfaceSaturated("the surface site fraction left (0, 1), where the kinetics hold",
                                           emptied=emptied)
                if current_control and newton == 1 and not self._carries(mean_flux_mol_m2_s):
                    continue  # the carried-over rate misjudged this step (near saturation): iterate
                self.newton_iterations = newton
                return self.iterations
        raise NewtonDiverged(
            f"the surface reaction's Newton iteration did not converge in {NEWTON_MAX_ITERATIONS} "
            f"iterations (last change {change:.3g} in site fraction, {abs(dV):.3g} V)")

    def _carries(self, mean_flux_mol_m2_s: float) -> bool:
        """The new iterate carries the particle's current to CURRENT_TOLERANCE (relative
        to that current, or to the surface's largest local flux at rest): the check of a
        Newton stopped after one iteration on a contraction rate from earlier steps."""
        j, _, _ = self.surface_flux(self.lithium.theta.x.array[self.surface], self.voltage_V)
        m = self.weights
        total, scale = self._allreduce(np.array([float(m @ j), float(m @ np.abs(j))]), op=MPI.SUM)
        target = mean_flux_mol_m2_s * self.total_weight
        return abs(total - target) <= CURRENT_TOLERANCE * max(abs(target), scale, 1e-300)

    def _choose_preconditioner(self, c: float, diagonal) -> None:
        """3D: keep the AMG hierarchy while J stays close to the one it was built on (the
        shift c within a factor 1.5, the surface diagonal within 50 %); rebuild it
        otherwise. Krylov runs on the exact J either way."""
        if self.direct:
            return
        built = self._preconditioner_built_on
        if built is not None:
            c_built, diag_built = built
            drift = np.abs(diagonal.array - diag_built) if diag_built.size else np.zeros(0)
            scale = np.abs(diag_built)
            local = float((drift > 0.5 * scale).any()) if drift.size else 0.0
            moved = self._allreduce(local, op=MPI.MAX) > 0 or not (1 / 1.5 < c / c_built < 1.5)
        if built is None or moved:
            self._preconditioner_built_on = (c, diagonal.array.copy())
            for ksp in filter(None, (self.ksp, self.ksp_schur)):
                ksp.getPC().setReusePreconditioner(False)
            self.preconditioner_setups += 1
        else:
            for ksp in filter(None, (self.ksp, self.ksp_schur)):
                ksp.getPC().setReusePreconditioner(True)

    def accept(self) -> None:
        """After an accepted step: the voltage history for the next step's guess."""
        self._voltages = (self._voltages[1], self.voltage_V)

    def forget_history(self) -> None:
        """At a protocol step's change: the voltage is not continuous across it."""
        self._voltages = (None, None)

    # -- checkpoints -----------------------------------------------------------------
    def state(self) -> tuple[dict, dict[str, np.ndarray]]:
        """What the next steps' numbers depend on besides theta and V: the voltage history
        (V's extrapolation), Newton's contraction rate (when it stops) and z (where the
        Krylov solver starts in 3D), as (JSON-able scalars, owned dof arrays). The AMG
        hierarchy is not kept: a restart builds it anew at its first iteration, so a 3D
        restart equals the uninterrupted run to the Krylov tolerance, a 1D one exactly."""
        n = self.lithium.V.dofmap.index_map.size_local
        return ({"voltages_V": list(self._voltages), "contraction": self._contraction},
                {"newton_z": self._z.x.array[:n].copy()})

    def restore(self, scalars: dict, arrays: dict[str, np.ndarray]) -> None:
        self._voltages = tuple(scalars["voltages_V"])
        self._contraction = scalars["contraction"]
        if "newton_z" in arrays:
            self._z.x.array[: arrays["newton_z"].size] = arrays["newton_z"]
            self._z.x.scatter_forward()

    def _solve(self, rhs: PETSc.Vec, out, guess: bool = False, rtol: float | None = None, ksp=None) -> int:
        ksp = ksp or self.ksp
        ksp.setInitialGuessNonzero(guess and not self.direct)
        if not self.direct:
            ksp.setTolerances(rtol=rtol or NEWTON_KRYLOV["ksp_rtol"])
        try:
            return linalg.solve(ksp, rhs, out)
        except linalg.SolverFailure as exc:  # a Newton iterate out of reach: retry shorter
            raise NewtonDiverged(str(exc)) from None


def _dot(a, b) -> float:
    """a . b of surface values: arrays, or one node's floats (ParticlePotential._node)."""
    return a * b if isinstance(a, float) else float(a @ b)


def _all_finite(*values) -> bool:
    """Whether every surface value (arrays, or one node's floats) is finite."""
    return all(math.isfinite(v) if isinstance(v, float) else bool(np.isfinite(v).all()) for v in values)


__all__ = ["ParticlePotential", "NewtonDiverged", "SurfaceSaturated"]

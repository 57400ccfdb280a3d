"""The first-charge simulation: Li+ transport stepped in time, the charge protocol
switched exactly, and the results handed to an observer at the output times. No file is
written here (see solver/simulation/run.py).

The stress is solved at the output times and at the switch to the hold. In one-way
coupling (the default) the peak over time is then found from the site fraction stored at
every accepted step with few more solves (solver/numerics/peak_search.py); with stress-assisted
diffusion (two-way) the stress is solved after every step, and `mechanics.
stress_every_steps: N` asks for a solve every N steps instead of the search, `mechanics.
peak_over_time: false` for the solves at the output times (and the switch) only."""
from __future__ import annotations

import contextlib
import math
import time
from dataclasses import asdict, dataclass

import numpy as np
import ufl
from dolfinx import fem
from mpi4py import MPI

from solver import compat
from solver.numerics import collectives
from solver.numerics.float_sum import summed
from solver.case.schema import Case
from solver.physics.domain import Domain
from solver.numerics.linalg import Projector, SolverFailure
from solver.physics.lithium import LithiumTransport
from solver.physics.materials import MaterialFields
from solver.physics.mechanics import Mechanics
from solver.physics.anisotropy import eigenstrain_shape, tabulated_lattice_strain
from solver.physics.grain_boundaries import GrainBoundaryTractions
from solver.numerics.peak_search import BUDGET_BYTES, SiteFractionHistory, search_peak
from solver.physics.particle_potential import NewtonDiverged, ParticlePotential, SurfaceSaturated
from solver.physics.protocol import EVENT_TOLERANCE, ProtocolDriver
from solver.simulation import drive

SWITCH_TOLERANCE = 1e-7  # site fraction
# a site fraction outside [0, 1] by more than this is a diverged solution, not round-off
RANGE_TOLERANCE = 0.01
# this many consecutive accepted steps at time_stepping.min_step that still change the
# site fraction by more than max_change_per_step: the step size has collapsed
STALL_STEPS = 20
# the step that saturates the surface is found to this fraction of its length
SATURATION_TOLERANCE = 1e-6
# output.dense: the next step aims at this share of max_change_per_step (the change grows
# about linearly with the step), at most twice the last
DENSE_STEP_SAFETY = 0.8
# output.dense: a step that saturates the surface ends the protocol step only once it is this
# short a share of the protocol step so far (longer ones are halved: a long step saturates early)
DENSE_SATURATION_SHARE = 1e-5
# how close two times of a protocol without an end time count as one (s)
OPEN_ENDED_TIME_TOLERANCE_S = 1e-8
STRESS_FIELDS = ("sigma_vm_Pa", "sigma_r_Pa", "sigma_t_Pa", "sigma_h_Pa", "sigma_1_Pa")
# non-negative measures: written as vertex averages of the DG1 nodes, which keep the sign
# (an L2 projection dips below zero: -0.98 MPa von Mises); the others are L2 projections
AVERAGED_FIELDS = ("sigma_vm_Pa",)


def bdf_coefficients(dt: float, dt_previous: float | None) -> tuple[float, float, float]:
    """Variable-step BDF2 (backward Euler when there is no previous step)."""
    if dt_previous is None:
        return 1.0, -1.0, 0.0
    w = dt / dt_previous
    return (1 + 2 * w) / (1 + w), -(1 + w), w * w / (1 + w)


@dataclass
class Peak:
    value_Pa: float = 0.0
    time_s: float = 0.0
    radius_m: float = 0.0
    region: str = "none"
    location: str = "none"

    def update(self, candidate: dict, t: float) -> None:
        if candidate["value_Pa"] > self.value_Pa:
            self.value_Pa = candidate["value_Pa"]
            self.radius_m = candidate["radius_m"]
            self.region = candidate["region"]
            self.location = candidate["location"]
            self.time_s = t


@dataclass
class Stats:
    steps: int = 0
    rejected: int = 0
    lithium_iterations: int = 0
    elasticity_iterations: int = 0
    elasticity_solves: int = 0
    operator_builds: int = 0
    wall_lithium_s: float = 0.0
    wall_mechanics_s: float = 0.0
    switch_time_s: float | None = None
    newton_iterations: int = 0
    saturation_ends: int = 0  # voltage cut-offs reached where the surface saturated


class ChemoMechanics:
    """Owns the fields and solvers; `run(observer)` steps to the end time."""

    def __init__(self, case: Case, domain: Domain):
        self.case = case
        self.domain = domain
        self._allreduce = collectives.allreduce(domain.comm)
        self.materials = MaterialFields(domain, case)
        theta0 = case.lithium.initial_site_fraction.si
        self.reaction = drive.surface_reaction_of_case(case)  # None: currents as a uniform flux
        self.particle = drive.particle_of_case(case)
        self.protocol = ProtocolDriver(drive.protocol_of_case(case), self.particle, self.reaction is not None)
        floor = next((s.value for s in self.protocol.protocol.steps if s.mode == "site_fraction"),
                     case.lithium.min_site_fraction.si)
        self.with_mechanics = "mechanics" in case.physics
        two_way = self.with_mechanics and case.mechanics.stress_assisted_diffusion
        P1 = compat.functionspace(domain.msh, "Lagrange", 1)
        self._projection = None  # (P1 projector, DG1 work Function): built at first use
        self.sigma_h_P1 = fem.Function(P1, name="sigma_h_Pa")
        drift = (self.sigma_h_P1, case.mechanics.temperature.si) if two_way else None
        extra = case.solvers.petsc_options
        resistance = case.grains and case.grains.boundary_resistance  # None: continuous Li
        factor = drive.diffusivity_factor_of_case(case, domain.msh)
        if factor is not None and self.reaction is None:
            raise ValueError("materials.core.lithium_diffusivity_factor: D(theta) is solved by Newton with the "
                             "surface kinetics; give materials.core.open_circuit_voltage and exchange_current_density")
        # oxygen vacancies (solver/simulation/oxygen_redox_submodel.py keeps these up to date):
        # the share of the Li sites left and the vacancies' volumetric eigenstrain
        self.site_availability = self.vacancy_strain = None
        if "oxygen_redox" in case.physics:
            self.site_availability = fem.Function(P1, name="Li_site_availability")
            self.site_availability.x.array[:] = 1.0
            if case.oxygen_redox.vacancies.partial_molar_volume.si != 0:
                self.vacancy_strain = fem.Function(P1, name="vacancy_strain")
        # fracture.crack_diffusivity_factor k > 1: D (1 + (k - 1) d) with the lagged damage
        # (solver/simulation/fracture_submodel.py keeps it up to date)
        self.crack_diffusivity = None
        if "fracture" in case.physics and case.fracture.crack_diffusivity_factor != 1:
            self.crack_diffusivity = fem.Function(P1, name="crack_diffusivity_multiplier")
            self.crack_diffusivity.x.array[:] = 1.0
        self.lithium = LithiumTransport(domain, self.materials, theta0, floor, drift, extra,
                                        resistance and resistance.si, factor, self.site_availability,
                                        self.crack_diffusivity)
        self.potential = (ParticlePotential(self.lithium, self.reaction, float(self.reaction.ocv(theta0)))
                          if self.reaction is not None else None)
        # anisotropic lattice strain per grain (solver/physics/anisotropy.py), None: isotropic
        self.eigenstrain = eigenstrain_shape(case, domain) if self.with_mechanics else None
        self.lattice_strain = tabulated_lattice_strain(case, domain) if self.with_mechanics else None
        self.mechanics = (
            Mechanics(domain, self.materials, self.lithium.theta, theta0, extra,
                      eigenstrain_shape=self.eigenstrain and self.eigenstrain[1],
                      volume_change=drive.volume_change_of_case(case, domain.msh),
                      extra_strain=self.vacancy_strain, lattice_strain=self.lattice_strain)
            if self.with_mechanics else None
        )
        self.grain_boundaries = (  # secondary particles: tractions on the grain boundaries
            GrainBoundaryTractions(domain, self.mechanics)
            if self.mechanics is not None and hasattr(domain, "grain_of_cell") else None)
        self.two_way = two_way
        every = case.mechanics.stress_every_steps
        damage_acts_back = "fracture" in case.physics and case.fracture.coupling == "two_way"
        if every is None and (self.vacancy_strain is not None or damage_acts_back):
            every = 1  # the vacancies' strain, the damage: not in the site-fraction history of the peak search
        self.stress_every = 1 if two_way else every
        self.history = None  # site fraction at every accepted step for the peak search
        if self.with_mechanics and not two_way and every is None and case.mechanics.peak_over_time:
            n_owned = self.lithium.V.dofmap.index_map.size_local
            largest = domain.comm.allreduce(8 * n_owned, op=MPI.MAX)
            self.history = SiteFractionHistory(max(64, BUDGET_BYTES // max(largest, 1)))
        self._solved_peaks: dict[float, dict] = {}  # t -> peak_von_mises() of solves in the run

        # output fields (P1, for ParaView and the profile ray)
        self.c_Li = fem.Function(P1, name="c_Li_mol_m3")
        self._c_expr = self.materials.site_concentration() * self.lithium.theta
        self.output_fields = {"c_Li_mol_m3": self.c_Li, "theta_Li": self.lithium.theta}
        if self.lithium.discontinuous:  # DG1 across grain boundaries: files get its P1 projection
            self.output_fields["theta_Li"] = fem.Function(P1, name="theta_Li")
        if self.mechanics is not None:
            for name in STRESS_FIELDS:
                self.output_fields[name] = fem.Function(P1, name=name)
            self.output_fields["sigma_h_Pa"] = self.sigma_h_P1
            P1v = compat.functionspace(domain.msh, "Lagrange", 1, domain.displacement_shape)
            self.displacement_P1 = fem.Function(P1v, name="displacement_m")
            self.output_fields["displacement_m"] = self.displacement_P1
        self.peak = Peak()
        # owned site fraction at the reported peak, for the fields there (at_peak)
        self._peak_theta = self.lithium.theta.x.array[: self.lithium.V.dofmap.index_map.size_local].copy()
        self._peak_lagged: list = []  # the mechanics' lagged inputs (the damage) at the peak
        self.stats = Stats()
        self.t = 0.0
        # integral of each P1 basis function (the P1 partition of unity: they sum to the
        # volume); the mean of the P1 site fraction is then a dot product
        weights = fem.Function(self.lithium.V)
        compat.assemble_vector_into(compat.petsc_vec(weights), fem.form(
            domain.volume_integral(ufl.TestFunction(self.lithium.V))))
        self._dof_volumes = weights.x.array[: self.lithium.V.dofmap.index_map.size_local].copy()
        self._volume = domain.comm.allreduce(float(self._dof_volumes.sum()), op=MPI.SUM)
        # integral of c_max times each P1 basis function: the Li inventory is a dot product
        compat.assemble_vector_into(compat.petsc_vec(weights), fem.form(
            domain.volume_integral(self.materials.site_concentration() * ufl.TestFunction(self.lithium.V))))
        self._site_weights = weights.x.array[: self.lithium.V.dofmap.index_map.size_local].copy()
        self._inventory0 = self.inventory_mol_m3()
        self._observables = None  # at the last accepted step (events, timeseries)
        self._open_ended = not self.protocol.protocol.notes.get("legacy", False)
        # (t_s, particle-mean site fraction) after every accepted step (solver/physics/coupling.py)
        self.mean_site_fraction_history = [(0.0, case.lithium.initial_site_fraction.si)]
        self._forms: dict[str, fem.Form] = {}  # output integrals, compiled at first use
        self._clock: dict | None = None  # step sizes and next output of a started run
        self.last_change = 0.0  # largest site-fraction change of the last step
        self._accepted_voltage = None  # V at the last accepted step (kinetics only)
        self._step_started_at = 0.0  # when the running protocol step started
        self._output_interval = None  # s: outputs of a protocol without an end time
        # output.dense: rows interpolated within the steps that cross them (_observe_within)
        self._dense = case.output.dense
        self._previous_observables = None  # at the step before the last accepted one

    def _form(self, name: str):
        if name not in self._forms:
            integrand = (self._c_expr if name == "lithium"
                         else ufl.tr(self.domain.strain(self.mechanics.u)))
            self._forms[name] = fem.form(self.domain.volume_integral(integrand))
        return self._forms[name]

    # -- derived quantities --------------------------------------------------------------
    def integral(self, form) -> float:
        return self._allreduce(fem.assemble_scalar(form), op=MPI.SUM)

    def scalars(self, t: float) -> dict:
        """The timeseries row at time t (collective)."""
        obs = self._observables or self.observables()
        row = {
            "t_s": t,
            "holding": int(self.protocol.holding),
            "step": self.protocol.index + 1 if not self.protocol.finished else len(self.protocol.protocol.steps),
            "theta_surface_min": self.lithium.surface_min(),
            "theta_mean": self.mean_site_fraction(),
            "li_mol": self.integral(self._form("lithium")) * self.domain.symmetry_factor,
            "current_mA_g": obs["current_A_kg"],  # A/kg = mA/g
            "capacity_mAh_g": obs["capacity_C_kg"] / 3600.0,
        }
        if self.potential is not None:
            row["voltage_V"] = obs["voltage_V"]
        if self.mechanics is not None:
            peak = self.mechanics.peak_von_mises()
            row["sigma_vm_max_Pa"] = peak["value_Pa"]
            row["sigma_vm_max_radius_m"] = peak["radius_m"]
            row["volume_change"] = self.integral(self._form("dilatation")) / self._volume
        return row

    def update_output_fields(self) -> None:
        """The stress measures and c_Li onto P1 for ParaView and the ray: L2 projections, von
        Mises (AVERAGED_FIELDS) that of the stress tensor averaged at each vertex."""
        projector, dg1 = self._projection_tools()
        projector.project(self._c_expr, self.c_Li, key="c_Li")
        if self.lithium.discontinuous:
            projector.project(self.lithium.theta, self.output_fields["theta_Li"], key="theta_Li")
        if self.mechanics is None:
            return
        measures = self.mechanics.stress_measures(all_local=True)
        for name in STRESS_FIELDS:
            if name in AVERAGED_FIELDS:  # von Mises of the vertex-averaged tensor
                self.mechanics.averaged_von_mises(self.output_fields[name])
                continue
            dg1.x.array[:] = measures[name]
            projector.project(dg1, self.output_fields[name], key="dg1")
        self.displacement_P1.interpolate(self.mechanics.u)

    def _projection_tools(self) -> tuple[Projector, fem.Function | None]:
        """The L2 projector onto P1 and a DG1 scalar Function laid out as the stress
        nodes (None without mechanics); needed only for the output fields and the two-way
        drift, so compiled at first use (a run with `project_fields=False` never does)."""
        if self._projection is None:
            msh = self.domain.msh
            dg1 = None
            if self.mechanics is not None:
                S1 = compat.functionspace(msh, "DG", 1)
                if not np.allclose(S1.tabulate_dof_coordinates(), self.mechanics.S.tabulate_dof_coordinates()):
                    raise RuntimeError("DG1 scalar and Voigt spaces differ in node layout")
                dg1 = fem.Function(S1)
            self._projection = (Projector(compat.functionspace(msh, "Lagrange", 1), "output_projection"), dg1)
        return self._projection

    @property
    def first_flux_mol_m2_s(self) -> float:
        """The uniform outward flux of the protocol's first current step (0 if none)."""
        step = next((s for s in self.protocol.protocol.steps if s.mode == "current"), None)
        return 0.0 if step is None else self.particle.flux_mol_m2_s(step.value)

    def inventory_mol_m3(self, theta=None) -> float:
        """Li in the particle per particle volume, mol/m^3 (collective; exact for P1)."""
        theta = self.lithium.theta if theta is None else theta
        n = self._site_weights.size
        return self._allreduce(float(self._site_weights @ theta.x.array[:n]), op=MPI.SUM) / self._volume

    def observables(self, step_s: float | None = None) -> dict:
        """The state the protocol's events and the timeseries read (collective):
        surface extremes, voltage (NaN without kinetics), current (A/kg, charge
        positive) and capacity (C/kg, charge positive, from the Li inventory)."""
        li = self.lithium
        capacity = self.particle.capacity_C_kg(self._inventory0 - self.inventory_mol_m3())
        condition = self.protocol.surface_condition()
        if self.potential is not None:
            current = self.particle.current_A_kg(self.potential.mean_flux())
        elif condition.kind == "flux":
            current = self.particle.current_A_kg(condition.value)
        elif step_s and self._observables is not None:  # a hold: the inventory's rate of change
            current = (capacity - self._observables["capacity_C_kg"]) / step_s
        else:
            current = 0.0 if self._observables is None else self._observables["current_A_kg"]
        return {"surface_min": li.surface_min(), "surface_max": li.surface_max(),
                "voltage_V": self.potential.voltage_V if self.potential is not None else float("nan"),
                "current_A_kg": current, "capacity_C_kg": capacity}

    def mean_site_fraction(self) -> float:
        """Particle-mean site fraction (collective): sum of dof values times the integral
        of their basis functions, exact for P1."""
        n = self._dof_volumes.size
        local = float(self._dof_volumes @ self.lithium.theta.x.array[:n])
        return self._allreduce(local, op=MPI.SUM) / self._volume

    # -- stepping ------------------------------------------------------------------------
    def _step_health(self) -> tuple[float, bool, float, float]:
        """(largest |theta - theta_n|, any non-finite theta, min theta, max theta) over
        the owned dofs of every rank: one reduction (collective)."""
        n = self.lithium.V.dofmap.index_map.size_local
        theta = self.lithium.theta.x.array[:n]
        local = np.zeros(4)  # maxima of: change, non-finite flag, -min, max
        local[2] = local[3] = -np.inf
        if n:
            finite = np.isfinite(theta)
            everywhere = finite.all()
            local[1] = 0.0 if everywhere else 1.0
            good = theta if everywhere else theta[finite]  # the same values either way
            if good.size:
                before = self.lithium.theta_n.x.array[:n]
                local[0] = np.abs(good - (before if everywhere else before[finite])).max()
                local[2], local[3] = -good.min(), good.max()
        glob = local
        if self.domain.comm.size > 1:
            glob = np.empty(4)
            self.domain.comm.Allreduce(local, glob, op=MPI.MAX)
        return float(glob[0]), bool(glob[1]), float(-glob[2]), float(glob[3])

    def _diverged(self, what: str, step: float, cause: str) -> SolverFailure:
        return SolverFailure(
            f"diverged in step {self.stats.steps + 1} from t = {self.t:.6g} s (dt = {step:.3g} s): "
            f"{what}; likely cause: {cause}")

    def _solve(self, dt, dt_previous):
        """One trial step of the running protocol step (surface condition: protocol.py)."""
        t0 = time.perf_counter()
        bdf = bdf_coefficients(dt, dt_previous)
        condition = self.protocol.surface_condition()
        try:
            if condition.kind in ("flux", "hold"):
                if condition.kind == "hold":
                    self.lithium.floor_site_fraction = condition.value
                its = self.lithium.solve_step(dt, bdf, condition.value if condition.kind == "flux" else 0.0,
                                              condition.kind == "hold")
            else:
                potential = self.potential
                potential.voltage_V = self._voltage_guess(condition)
                if condition.kind == "current":
                    its = potential.solve_step(dt, bdf, mean_flux_mol_m2_s=condition.value)
                else:
                    its = potential.solve_step(dt, bdf, voltage_V=condition.value)
                self.stats.newton_iterations += potential.newton_iterations
        except NewtonDiverged:
            raise
        except SolverFailure as exc:
            raise SolverFailure(f"{exc} in step {self.stats.steps + 1} from t = {self.t:.6g} s "
                                f"(dt = {dt:.3g} s)") from None
        self.stats.wall_lithium_s += time.perf_counter() - t0
        self.stats.lithium_iterations += its

    def _voltage_guess(self, condition) -> float:
        """Newton's starting V: the last accepted one, or at a protocol step's start the V
        that carries its current uniformly."""
        if condition.kind == "voltage":
            return condition.value
        accepted = self._accepted_voltage
        if accepted is None or self._step_started_at == self.t:
            return self.potential.initial_voltage(condition.value)
        return accepted

    def _land(self, kind: str, e_lo: float, e_hi: float, dt, dt_previous) -> float:
        """Shorten the step so that the event `kind` of the running step lands on 0
        (regula falsi on the step length; for the site fraction plain, as the switch to
        the hold always was; for the other events Illinois', which cannot stall)."""
        tolerance = EVENT_TOLERANCE[kind]
        lo, hi = 0.0, dt
        trial = dt
        side = 0
        for _ in range(60 if kind != "site_fraction" else 30):
            trial = lo + (hi - lo) * e_lo / (e_lo - e_hi)
            try:
                self._solve(trial, dt_previous)
            except SurfaceSaturated:
                if kind != "voltage":
                    raise
                hi, e_hi = trial, -abs(e_lo)  # the voltage runs off past the limit there
                side = -1
                continue
            except NewtonDiverged as exc:
                driver = self.protocol
                raise self._diverged(str(exc), trial, f"landing on the {kind} end of protocol step "
                                     f"{driver.index + 1} {driver.step.text!r}: the kinetics cannot carry "
                                     "the current there (the surface emptied or filled)") from None
            e = self.protocol.event_values(self.observables(trial))[kind]
            if abs(e) < tolerance:
                break
            if e > 0:
                lo, e_lo = trial, e
                if side == 1 and kind != "site_fraction":
                    e_hi /= 2
                side = 1
            else:
                hi, e_hi = trial, e
                if side == -1 and kind != "site_fraction":
                    e_lo /= 2
                side = -1
        return trial

    def _saturation_ends_step(self, exc: SurfaceSaturated) -> bool:
        """A voltage limit in the current's direction is reached where the surface
        saturates the way the current drives it (a charge empties it, a discharge fills
        it): V runs off to +- infinity as i0 -> 0 there. Saturating the other way is a
        step too long for its start, retried shorter."""
        step = self.protocol.step
        return (step.mode == "current" and step.limit("voltage") is not None
                and exc.emptied == (step.direction > 0))

    def _land_on_saturation(self, dt, dt_previous) -> float:
        """The longest step that does not saturate the surface (bisection to
        SATURATION_TOLERANCE of the step), solved: the step's voltage cut-off, reached
        within that time (the voltage plunges there faster than any output can show)."""
        lo, hi = 0.0, dt
        good = None  # (theta, V) of the longest step solved
        while hi - lo > SATURATION_TOLERANCE * dt:
            mid = 0.5 * (lo + hi)
            try:
                self._solve(mid, dt_previous)
            except NewtonDiverged:  # saturated, or so close that Newton cannot tell
                hi = mid
                continue
            lo = mid
            good = (self.lithium.theta.x.array.copy(), self.potential.voltage_V)
        if good is None:
            raise self._diverged("the surface saturates at once", dt, "a voltage limit the particle "
                                 f"cannot reach in protocol step {self.protocol.index + 1} "
                                 f"{self.protocol.step.text!r}")
        self.lithium.theta.x.array[:] = good[0]
        self.potential.voltage_V = good[1]
        self.stats.saturation_ends += 1
        return lo

    def _first_event(self, values: dict, before: dict) -> str | None:
        """The limit crossed in the last trial, the earliest one (linear estimate) if
        several are."""
        crossed = {k: e for k, e in values.items() if e <= 0}
        if not crossed:
            return None
        return min(crossed, key=lambda k: before.get(k, 1.0) / max(before.get(k, 1.0) - crossed[k], 1e-300))

    def _next_target(self, clock: dict, end: float) -> float:
        """The next output time (or the end): from the case's list, or every
        output interval for a protocol that ends on its events."""
        if self._output_interval is not None:
            return min(clock["next_index"] * self._output_interval, end)
        return self._targets[clock["next_index"]]

    def run(self, observer=None, progress=None, project_fields: bool = True, checkpoint=None) -> dict:
        """Step through the protocol, from 0 or from the state given to `restore`, in the
        one time loop (solver/simulation/engine.py) without other submodels.
        `observer(t, sim)` is called at every output time (and, for a protocol of steps,
        at each step's end), after the P1 output fields are projected
        (`project_fields=False`: not, for observers that read only scalars or the stress
        at the nodes, e.g. sweep members); `progress(t)` and then `checkpoint(sim)` after
        every accepted step (`checkpoint` may save `state()` and raise to stop the run
        there)."""
        from solver.simulation.engine import Engine

        return Engine(self.case, self.domain, self).run(observer, progress, checkpoint, project_fields,
                                                        subject=self)

    # -- the loop's steps (solver/simulation/engine.py drives them) ------------------------
    def begin(self, observer=None, project_fields: bool = True) -> None:
        """Before the first step of `run` (and of a restarted run): the output times; at
        a fresh start the clock, the protocol's first step and the output at t = 0."""
        self._project_fields = project_fields
        self._observer = observer  # for the rows interpolated within a step (output.dense)
        ts = self.case.time_stepping
        driver = self.protocol
        self._end = end = driver.end_time_s
        self._output_interval = self.case.output_interval_s() if math.isinf(end) else None
        self._output_times = output_times = self.case.output_times_s() if self._output_interval is None else None
        if output_times is not None:
            self._targets = sorted(set(output_times) | {end})
        self._eps = eps = 1e-12 * end if math.isfinite(end) else OPEN_ENDED_TIME_TOLERANCE_S
        if self._clock is None:  # a fresh start
            self.t = 0.0
            self._clock = {"dt": ts.initial_step.si, "dt_previous": None,
                           "next_index": (1 if self._output_interval else
                                          (1 if self._targets[0] <= eps else 0)), "stalled": 0}
            self._observables = self.observables()
            driver.start(0.0, self._observables)
            self._step_started_at = 0.0
            self._observe(0.0, observer, output_times, force=self._output_interval is not None)

    def done(self) -> bool:
        """Has the protocol run to its end (False before the first step)?"""
        end = self.protocol.end_time_s
        eps = 1e-12 * end if math.isfinite(end) else OPEN_ENDED_TIME_TOLERANCE_S
        return self._clock is not None and not (self.t < end - eps and not self.protocol.finished)

    def advance(self) -> float:
        """One accepted step (trial steps rejected and retried shorter as needed, the
        step shortened to land on an event, the stress solved where needed); returns its
        length. `self.t` is then the new time."""
        ts = self.case.time_stepping
        driver = self.protocol
        end, eps, clock = self._end, self._eps, self._clock
        # a saturation landing whose step then changes theta too much is refused: the
        # retries halve the trial step (not the landed one, whose length is where Newton
        # starts to fail, a threshold round-off moves) and land again only below it
        landing_refused_above_s = math.inf
        while True:
            t, dt, dt_previous = self.t, clock["dt"], clock["dt_previous"]
            if self.stats.steps + self.stats.rejected >= ts.max_steps:
                raise SolverFailure(
                    f"time_stepping.max_steps = {ts.max_steps} reached at t = {t:.6g} s "
                    f"(step {dt:.3g} s): the step size collapsed"
                )
            output = self._next_target(clock, end)
            target = end if self._dense else output  # dense: steps set by accuracy and events only
            limit_s = driver.step_time_limit_s()
            step = min(dt, target - t, (limit_s - t) if limit_s is not None else math.inf)
            saturated = False
            try:
                self._solve(step, dt_previous)
            except SurfaceSaturated as exc:
                ends = self._saturation_ends_step(exc)
                if ends and self._dense and step > max(DENSE_SATURATION_SHARE * (t - self._step_started_at),
                                                       ts.min_step.si):
                    ends = False  # a long BDF2 step saturates early: approach with shorter ones first
                if ends and step < landing_refused_above_s:
                    trial_s = step
                    step, saturated = self._land_on_saturation(step, dt_previous), True
                else:
                    self.lithium.reject()
                    self.stats.rejected += 1
                    if step <= ts.min_step.si:
                        raise self._diverged("the surface emptied or filled", step, "a current the kinetics "
                                             f"cannot carry in protocol step {driver.index + 1} {driver.step.text!r}, "
                                             "which has no voltage limit to end it there") from None
                    clock["dt"] = max(step / 2, ts.min_step.si)
                    continue
            except NewtonDiverged as exc:
                self.lithium.reject()
                self.stats.rejected += 1
                if step <= ts.min_step.si:
                    raise self._diverged(str(exc), step, "the surface reaction: a current the "
                                         "kinetics cannot carry (the surface emptied or filled), "
                                         f"in protocol step {driver.index + 1} {driver.step.text!r}") from None
                clock["dt"] = max(step / 2, ts.min_step.si)
                continue
            change, nonfinite, lo, hi = self._step_health()
            self.last_change = change
            if nonfinite:
                raise self._diverged(
                    "the site fraction theta is not finite (NaN or inf)",
                    step, "a singular or overflowing operator: check the material values "
                    "(diffusivity, site concentration, partial molar volume) for absurd magnitudes")
            in_range = -RANGE_TOLERANCE <= lo and hi <= 1 + RANGE_TOLERANCE
            too_large = change > ts.max_change_per_step.si or not in_range
            if too_large and step > ts.min_step.si:
                self.lithium.reject()
                self.stats.rejected += 1
                if saturated:
                    landing_refused_above_s = step
                    step = trial_s
                clock["dt"] = max(step / 2, ts.min_step.si)
                continue
            if not in_range:
                raise self._diverged(
                    f"the site fraction theta left its physical range [0, 1] (min {lo:.4g}, "
                    f"max {hi:.4g}) even at time_stepping.min_step = {ts.min_step.si:g} s "
                    f"in protocol step {driver.index + 1} {driver.step.text!r}",
                    step, "the particle is emptied or filled before the step's limit (a voltage "
                    "limit outside the open-circuit voltage's range, or end_time too long without "
                    "a hold) or the solution is unstable (stress-assisted diffusion with a large "
                    "partial molar volume); try a finer mesh or a smaller initial step")
            clock["stalled"] = clock["stalled"] + 1 if too_large else 0
            if clock["stalled"] >= STALL_STEPS:
                raise self._diverged(
                    f"step size collapsed: {clock['stalled']} consecutive steps at "
                    f"time_stepping.min_step = {ts.min_step.si:g} s still change theta by "
                    f"{change:.3g} > max_change_per_step = {ts.max_change_per_step.si:g}",
                    step, "the solution is diverging or max_change_per_step is too small for "
                    "min_step; try a smaller initial_step / min_step, a finer mesh, or a larger "
                    "max_change_per_step")
            before = driver.event_values(self._observables)
            observed = self.observables(step)
            ended_by = "voltage" if saturated else self._first_event(driver.event_values(observed), before)
            if ended_by is not None and not saturated:
                after = driver.event_values(observed)[ended_by]
                if after < 0:
                    step = self._land(ended_by, before[ended_by], after, step, dt_previous)
                    observed = self.observables(step)
                if ended_by == "site_fraction" and self.stats.switch_time_s is None:
                    self.stats.switch_time_s = t + step
            if self._dense:
                self._observe_within(t, t + step, dt_previous, observed)
                output = self._next_target(clock, end)
            self.lithium.accept()
            if self.potential is not None:
                self.potential.accept()
            t += step
            self.t = t
            self._previous_observables = self._observables
            self._observables = observed
            if self.potential is not None:
                self._accepted_voltage = self.potential.voltage_V
            self.mean_site_fraction_history.append((t, self.mean_site_fraction()))
            clock["dt_previous"] = step
            self.stats.steps += 1
            at_output = abs(t - output) <= eps
            if ended_by is None and limit_s is not None and abs(t - limit_s) <= eps:
                ended_by = "time"
                self.t = t = limit_s
            switched = ended_by is not None
            if switched:  # the next step runs from here (and the rows below show it)
                driver.advance(t, self._observables, ended_by, surface_saturated=saturated)
                self._step_started_at = t
                if self._open_ended:  # BDF2 must not carry the old drive across the change
                    clock["dt_previous"] = None
                if self.potential is not None:
                    self.potential.forget_history()
            if self.history is not None:
                n = self._dof_volumes.size
                self.history.append(output if at_output else t, self.lithium.theta.x.array[:n],
                                    keep=at_output or switched)
            if self.mechanics is not None and (
                at_output or switched or (self.stress_every and self.stats.steps % self.stress_every == 0)
            ):
                self._solve_mechanics(output if at_output else t)
            if at_output:
                self.t = t = output
                clock["next_index"] += 1
            if self._dense:  # the change grows with the step: aim the next at a share of the allowed one
                grow = DENSE_STEP_SAFETY * ts.max_change_per_step.si / max(change, 1e-300)
                clock["dt"] = min(max(step * min(grow, 2.0), dt if grow >= 1 else 0.0), ts.max_step.si)
            elif change < ts.max_change_per_step.si / 4:
                clock["dt"] = min(2 * dt, ts.max_step.si)
            self._pending_outputs = (at_output, switched)
            return step

    def _observe_within(self, t_n: float, t_new: float, dt_previous: float | None, observed: dict) -> None:
        """output.dense: the rows at the output times strictly inside the step t_n ->
        t_new just solved (not yet accepted), before the protocol moves on. The state there
        is the step's own interpolant: BDF2's quadratic through t_n - dt_previous, t_n and
        t_new (linear after backward Euler), for the site fraction and the observables
        (voltage, current, capacity; the capacity is linear in theta, so it is the
        interpolated theta's); the stress solved from the interpolated theta (one-way
        coupling: exact given theta). The fields are as solved afterwards. Collective."""
        clock, eps = self._clock, self._eps
        inside = []
        while (t_o := self._next_target(clock, self._end)) < t_new - eps:
            inside.append(t_o)
            clock["next_index"] += 1
        if not inside:
            return
        li = self.lithium
        nodes = [(t_n, li.theta_n.x.array.copy(), self._observables), (t_new, li.theta.x.array.copy(), observed)]
        if dt_previous is not None and self._previous_observables is not None:
            nodes.insert(0, (t_n - dt_previous, li.theta_nm1.x.array.copy(), self._previous_observables))
        n = self._dof_volumes.size
        theta_now = li.theta.x.array
        values = {key: [obs[key] for _, _, obs in nodes] for key in observed}
        for t_o in inside:
            weights = [math.prod((t_o - b) / (a - b) for b, _, _ in nodes if b != a) for a, _, _ in nodes]
            interpolated = weights[0] * nodes[0][1]  # summed left to right
            for w, (_, theta, _) in zip(weights[1:], nodes[1:]):
                interpolated += w * theta
            theta_now[:] = interpolated
            self._observables = {key: _interpolated(v, weights) for key, v in values.items()}
            if self.history is not None:
                self.history.append(t_o, theta_now[:n], keep=True)
            if self.mechanics is not None:
                self._solve_mechanics(t_o)
            self._observe(t_o, self._observer, self._output_times, force=self._output_interval is not None)
        li.theta.x.array[:] = nodes[-1][1]
        self._observables = nodes[-2][2]

    def observe_step(self, observer) -> None:
        """The outputs of the step just taken: at an output time, and for a protocol of
        steps at each step's end; then, at a step's end, whether the next step can start
        from here (StepRefused otherwise)."""
        at_output, switched = self._pending_outputs
        if at_output:
            self._observe(self.t, observer, self._output_times, force=self._output_interval is not None)
        if switched and self._open_ended and not at_output:
            self._observe(self.t, observer, self._output_times, force=True)
        if switched and self.potential is not None:  # can the next step start from here?
            self.protocol.check_start(self.potential.open_circuit_voltage())

    def finish(self) -> None:
        """After the last step: the peak over time from the stored site fractions."""
        if self.history is not None:
            self._search_peak()

    def progress_text(self) -> str:
        """The last step in a few words, for progress lines."""
        st, steps = self.stats, max(self.stats.steps, 1)
        text = (f"dt {self._clock['dt_previous'] or 0:.3g} s, max d(theta) {self.last_change:.3g}, "
                f"steps {st.steps} (rejected {st.rejected}), Krylov/step Li {st.lithium_iterations / steps:.1f}")
        if self.mechanics is not None:
            text += f", elasticity {st.elasticity_iterations / steps:.1f}"
        if self.potential is not None and self._accepted_voltage is not None:
            text += f", V {self._accepted_voltage:.4f}"
        return text + f", step {self.protocol.index + 1}/{len(self.protocol.protocol.steps)}"

    # -- checkpoints -----------------------------------------------------------------------
    def state(self) -> tuple[dict, dict[str, np.ndarray]]:
        """The state at the last accepted step: (JSON-able scalars, owned P1 dof arrays,
        the last axis over the owned dofs). `restore` of it continues the run to the same
        results: BDF2 history, adaptive step, protocol, stats, peak and its search store."""
        n = self._dof_volumes.size
        scalars = {
            "t_s": self.t, "clock": dict(self._clock), "protocol": self.protocol.state(),
            "observables": self._observables, "accepted_voltage_V": self._accepted_voltage,
            "step_started_at_s": self._step_started_at,
            "stats": asdict(self.stats), "peak": asdict(self.peak),
            "mean_site_fraction_history": [list(p) for p in self.mean_site_fraction_history],
            "previous_observables": self._previous_observables,
            "solved_peaks": [[t, p] for t, p in self._solved_peaks.items()],
        }
        if self.grain_boundaries is not None:
            scalars["grain_boundaries_at_max"] = self.grain_boundaries.at_max
        arrays = {"theta_n": self.lithium.theta_n.x.array[:n].copy(),
                  "theta_nm1": self.lithium.theta_nm1.x.array[:n].copy()}
        if self.two_way:  # the lagged stress drift of the next step
            arrays["sigma_h_Pa"] = self.sigma_h_P1.x.array[:n].copy()
        if self.mechanics is not None:
            arrays["peak_theta"] = self._peak_theta.copy()
            for i, values in enumerate(self._peak_lagged):  # owned values, as theta's
                arrays[f"peak_lagged_{i}"] = values[:n].copy()
        if self.potential is not None:  # V's history, Newton's contraction rate, z
            scalars["potential"], potential_arrays = self.potential.state()
            arrays.update(potential_arrays)
        h = self.history
        if h is not None:
            scalars["history"] = {"times": h.times, "keep": h.keep, "thinned": h.thinned}
            arrays["history"] = np.array(h.snapshots).reshape(len(h), n)
        guess = getattr(self.mechanics, "_guess", None)
        if guess is not None and len(guess):
            # the elasticity warm-start basis (3D): rank-local P2 vectors ("local:"), used
            # by a restart on the same ranks and dof layout, so that its stress solves
            # start from the same guesses
            arrays["local:warm_start"] = np.array([x.array for x in guess.X])
            arrays["local:layout"] = self._p2_layout()
        return scalars, arrays

    def _p2_layout(self) -> np.ndarray:
        """Owned size and coordinate sums of the P2 dofs: equal for the same dof layout."""
        V = self.mechanics.V
        x = V.tabulate_dof_coordinates()[: V.dofmap.index_map.size_local]
        return np.array([x.shape[0], *x.sum(axis=0)])

    def restore(self, scalars: dict, arrays: dict[str, np.ndarray]) -> None:
        """Continue from `state()` (arrays mapped to this rank's owned dofs)."""
        n = self._dof_volumes.size
        li = self.lithium
        for name, f in (("theta_n", li.theta_n), ("theta_nm1", li.theta_nm1),
                        ("theta_n", li.theta), ("sigma_h_Pa", self.sigma_h_P1 if self.two_way else None)):
            if f is not None:
                f.x.array[:n] = arrays[name]
                f.x.scatter_forward()
        self.t = scalars["t_s"]
        self._clock = dict(scalars["clock"])
        self.protocol.restore(scalars["protocol"])
        self._observables = dict(scalars["observables"])
        previous = scalars.get("previous_observables")  # absent from older checkpoints
        self._previous_observables = None if previous is None else dict(previous)
        self._accepted_voltage = scalars["accepted_voltage_V"]
        self._step_started_at = scalars["step_started_at_s"]
        if self.potential is not None and self._accepted_voltage is not None:
            self.potential.voltage_V = self._accepted_voltage
        if self.potential is not None and "potential" in scalars:
            self.potential.restore(scalars["potential"], arrays)
        self.stats = Stats(**scalars["stats"])
        if self.grain_boundaries is not None:
            self.grain_boundaries.restore(scalars.get("grain_boundaries_at_max"))
        self.peak = Peak(**scalars["peak"])
        self.mean_site_fraction_history = [tuple(p) for p in scalars["mean_site_fraction_history"]]
        self._solved_peaks = {t: p for t, p in scalars["solved_peaks"]}
        if "peak_theta" in arrays:
            self._peak_theta = arrays["peak_theta"].copy()
        self._peak_lagged = []
        for i, f in enumerate(self.mechanics.lagged_inputs if self.mechanics is not None else ()):
            if f"peak_lagged_{i}" in arrays:  # the ghosts from their owners, through f (set again later)
                f.x.array[:n] = arrays[f"peak_lagged_{i}"]
                f.x.scatter_forward()
                self._peak_lagged.append(f.x.array.copy())
        if self.history is not None:
            h = scalars["history"]
            self.history.times, self.history.keep = list(h["times"]), list(h["keep"])
            self.history.thinned = h["thinned"]
            self.history.snapshots = [row.copy() for row in arrays["history"]]
        guess = getattr(self.mechanics, "_guess", None)
        layout = arrays.get("local:layout")
        same = layout is not None and np.array_equal(layout, self._p2_layout())
        if guess is not None and self._allreduce(same, op=MPI.LAND):
            x = compat.petsc_vec(self.mechanics.u).duplicate()
            for values in arrays["local:warm_start"]:
                x.array[:] = values
                guess.add(x)
            x.destroy()

    def _search_peak(self) -> None:
        """Replace the peak over the solved steps by the peak over all stored steps
        (solver/numerics/peak_search.py); the fields are left as they were at the end."""
        h, theta, mech = self.history, self.lithium.theta, self.mechanics
        index = {t: i for i, t in enumerate(h.times)}
        peaks = {index[t]: p for t, p in self._solved_peaks.items() if t in index}
        known = {i: p["value_Pa"] for i, p in peaks.items()}
        saved = [f.x.array.copy() for f in (theta, mech.u, mech.stress_components)]

        def evaluate(i: int) -> float:
            theta.x.array[: h.snapshots[i].size] = h.snapshots[i]
            theta.x.scatter_forward()
            self._solve_mechanics(h.times[i])
            peaks[i] = self._solved_peaks[h.times[i]]
            return peaks[i]["value_Pa"]

        best = search_peak(len(h), evaluate, known)
        for f, values in zip((theta, mech.u, mech.stress_components), saved):
            f.x.array[:] = values
        self.peak = Peak()
        self.peak.update(peaks[best], h.times[best])
        self._peak_theta = h.snapshots[best]

    def _solve_mechanics(self, t: float) -> None:
        t0 = time.perf_counter()
        try:
            self.stats.elasticity_iterations += self.mechanics.solve()
        except SolverFailure as exc:
            raise SolverFailure(f"{exc} in the stress solve at t = {t:.6g} s (after step "
                                f"{self.stats.steps})") from None
        self.stats.elasticity_solves += 1
        if self.two_way:
            measures = self.mechanics.stress_measures(all_local=True)
            projector, dg1 = self._projection_tools()
            dg1.x.array[:] = measures["sigma_h_Pa"]
            projector.project(dg1, self.sigma_h_P1, key="dg1")
        self.stats.wall_mechanics_s += time.perf_counter() - t0
        peak = self.mechanics.peak_von_mises()
        before = self.peak.value_Pa
        self.peak.update(peak, t)
        if self.grain_boundaries is not None:
            self.grain_boundaries.update(t)
        if self.history is not None:
            self._solved_peaks[t] = peak
        elif self.peak.value_Pa > before:
            self._peak_theta = self.lithium.theta.x.array[: self._dof_volumes.size].copy()
            self._peak_lagged = [f.x.array.copy() for f in self.mechanics.lagged_inputs]

    @contextlib.contextmanager
    def at_peak(self):
        """The state at the reported peak's time inside the block: the site fraction
        stored when the peak was found, the stress solved again from it (not counted in
        the stats; the same system, so the same stress) and the output fields projected;
        the fields as they were afterwards. Collective."""
        theta, mech = self.lithium.theta, self.mechanics
        kept = [theta, mech.u, mech.stress_components, *self.output_fields.values(), *mech.lagged_inputs]
        saved = [f.x.array.copy() for f in kept]
        theta.x.array[: self._peak_theta.size] = self._peak_theta
        theta.x.scatter_forward()
        for f, values in zip(mech.lagged_inputs, self._peak_lagged):  # e.g. the damage then
            f.x.array[:] = values
        mech.solve()
        self.update_output_fields()
        try:
            yield self.peak.time_s
        finally:
            for f, values in zip(kept, saved):
                f.x.array[:] = values

    def node_values(self, all_local: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
        """The owned (or all local) DG1 nodes of the stress: coordinates (n, 3), region
        tags, the radius of their cell's centre (which side of a vertex a node is on)
        and, by output name, c_Li and the stress measures there (the values the peak is
        taken from, not their P1 projections). Requires mechanics."""
        mech = self.mechanics
        _, dg1 = self._projection_tools()
        dg1.interpolate(fem.Expression(self._c_expr, compat.interpolation_points(dg1.function_space)))
        points = mech.all_node_points if all_local else mech.node_points
        n = len(points)
        cell_nodes = compat.cell_dofs(mech.S)
        radii = self.domain.point_radii(mech.all_node_points)
        cell_radius = np.zeros(len(radii))
        cell_radius[cell_nodes] = radii[cell_nodes].mean(axis=1)[:, None]
        region = np.zeros(len(radii), dtype=np.int32)
        region[: len(mech.node_region)] = mech.node_region
        values = {"c_Li_mol_m3": dg1.x.array[:n].copy(), **mech.stress_measures(all_local)}
        return points, region[:n], cell_radius[:n], values

    def _observe(self, t, observer, output_times, force: bool = False) -> None:
        if observer is None or not (force or any(abs(t - o) <= 1e-9 * max(1.0, o) for o in output_times)):
            return
        if self._project_fields:
            self.update_output_fields()
        observer(t, self)

    def _peak_over(self) -> str:
        """Which times the reported peak is the largest over."""
        if self.history is not None:
            return "every step"
        return "solved steps" if self.stress_every else "output times and the switch"

    def results(self) -> dict:
        out = {
            "lithium": {
                "flux_mol_m2_s": self.first_flux_mol_m2_s,
                "switch_to_hold_time_s": self.stats.switch_time_s,
                "steps": self.stats.steps,
                "rejected_steps": self.stats.rejected,
                "krylov_iterations": self.stats.lithium_iterations,
                "wall_s": self.stats.wall_lithium_s,
            },
            "protocol": {"steps": self.protocol.step_ends,
                         "completed": self.protocol.finished or self.t >= self.protocol.end_time_s * (1 - 1e-12)},
        }
        if self.potential is not None:
            obs = self._observables
            out["lithium"]["newton_iterations"] = self.stats.newton_iterations
            out["electrochemistry"] = {"final_voltage_V": obs["voltage_V"],
                                       "capacity_mAh_g": obs["capacity_C_kg"] / 3600.0}
        if self.mechanics is not None:
            out["stress"] = {
                "peak_von_mises_Pa": self.peak.value_Pa,
                "peak_time_s": self.peak.time_s,
                "peak_radius_m": self.peak.radius_m,
                "peak_region": self.peak.region,
                "peak_location": self.peak.location,
                "peak_depth_m": self.domain.radius_m - self.peak.radius_m,
                "krylov_iterations": self.stats.elasticity_iterations,
                "solves": self.stats.elasticity_solves,
                "peak_search": self.history is not None,
                "peak_over": self._peak_over(),
                "wall_s": self.stats.wall_mechanics_s,
            }
        if self.grain_boundaries is not None:
            out["grain_boundaries"] = self.grain_boundaries.summary()
        return out


def _interpolated(values: list[float], weights: list[float]) -> float:
    """sum(w v), added left to right (solver/numerics/float_sum.py); a value the nodes
    share exactly (a step's current) stays exact. Not with sum(): since Python 3.12 it
    compensates the round-off of a sum of Python floats but not of NumPy floats (not
    exactly float), so the same numbers summed to a different last bit when the times were
    numpy.float64 in a run and Python floats after its restart (from JSON): the restart
    differed from the run on Debian 13."""
    if all(v == values[0] for v in values):
        return values[0]
    return summed(float(w) * float(v) for w, v in zip(weights, values))


__all__ = ["ChemoMechanics", "SolverFailure", "bdf_coefficients"]

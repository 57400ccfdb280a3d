"""Oxygen redox as a submodel of the one time loop (solver/simulation/submodel.py): the
lattice oxygen's share of the charge, its oxidised inventory and irreversible path
(solver/physics/oxygen_redox.py), the vacancies the lost oxygen leaves
(solver/physics/vacancies.py), and the one oxygen ledger

    lattice + oxidised + mobile + captured + escaped + returned = initial   (mol O)

It reads the Li state after every accepted Li step and acts back on it: the O2 made
enters the O2 transport as a nodal source (the O2 submodel steps after this one), and the
vacancies remove Li sites (the Li transport's site availability and the surface law's
occupancy) and swell the lattice (the mechanics' extra strain), both lagged by one step.
It is stepped with the Li protocol only (`follows_lead`). No file is written here."""
from __future__ import annotations

import math

import numpy as np
import ufl
from dolfinx import fem
from mpi4py import MPI

from solver import compat
from solver.numerics.float_sum import summed
from solver.physics.oxygen_redox import NodalOxygenRedox
from solver.physics.vacancies import VacancyDiffusion
from solver.simulation import drive

MIN_SITE_AVAILABILITY = 0.05  # a node keeps at least this share of its Li sites
C_KG_PER_MAH_G = 3600.0
VOLTAGE_TOLERANCE = 1e-6  # V: a step ending this close below a report voltage has reached it
# A/kg: a current below -this is a discharge (a rest's current is ~1e-6 A/kg of round-off;
# 0.1C is 25 A/kg here)
DISCHARGE_CURRENT_FLOOR_A_KG = 1e-3


class OxygenRedoxSubmodel:
    name = "oxygen_redox"
    profile_columns = ("peroxide_mol_m3", "li2o2_mol_m3", "vacancies_mol_m3")
    follows_lead = True
    time_step_s = math.inf
    end_time_s = math.inf

    def __init__(self, case, lithium, oxygen):
        """`lithium`: the ChemoMechanics (with site_availability and vacancy_strain);
        `oxygen`: the OxygenSubmodel fed by the release."""
        self.case, self.lead, self.oxygen = case, lithium, oxygen
        o = case.oxygen_redox
        self.law = law = drive.oxygen_redox_law_of_case(case)
        domain = lithium.domain
        self.comm, self.sf = domain.comm, domain.symmetry_factor
        self.V = V = lithium.lithium.V
        self.n = V.dofmap.index_map.size_local
        self.volumes = self._lumped(1.0)  # w_i, all local (ghosts too)
        c_max = lithium.materials.site_concentration()
        self.c_max = self._lumped(c_max) / self.volumes
        self.c_max_core = lithium.materials.c_max_core
        depth = domain.surface_depth
        self.surface_weight = self._lumped(ufl.exp(-depth / compat.constant(domain.msh, law.surface_depth_m))) / self.volumes
        report_depth = compat.constant(domain.msh, o.report.depth.si)
        self.report_volumes = self._lumped(ufl.conditional(ufl.lt(depth, report_depth), 1.0, 0.0))
        self.lattice0 = law.lattice_oxygen(self.c_max_core)  # mol O/m^3: the layer lacks Li, not O
        self.redox = NodalOxygenRedox(law, self.c_max, law.li_o_li_fraction(self.c_max / self.c_max_core),
                                      self.surface_weight)
        self.vacancies = VacancyDiffusion(domain, V, o.vacancies.diffusivity.si, self.volumes,
                                          case.solvers.petsc_options)
        self.sites_per_vacancy = o.vacancies.lithium_sites_per_vacancy.si
        self.vacancy_volume = o.vacancies.partial_molar_volume.si
        self.theta0 = case.lithium.initial_site_fraction.si
        theta = lithium.lithium.theta.x.array
        self.theta_n, self.theta_nm1 = theta.copy(), theta.copy()
        self.peroxide = fem.Function(V, name="peroxide_mol_m3")
        self.li2o2 = fem.Function(V, name="li2o2_mol_m3")
        self.output_fields = {"peroxide_mol_m3": self.peroxide, "li2o2_mol_m3": self.li2o2,
                              "vacancies_mol_m3": self.vacancies.v}
        self.initial_mol_O = (self.lattice0 * self._totals(np.ones_like(self.c_max))[0] * self.sf
                              + 2 * oxygen.initial_mol)
        self.report_voltages = o.report.voltages.si()
        self.at_voltage: dict[str, float | None] = {f"{v:g}": None for v in self.report_voltages}
        self.capacity = {"charge_max_C_kg": 0.0, "last_C_kg": 0.0, "discharged": False}
        self._previous = None  # (V, fraction within the report depth, charging) of the last step
        self.steps = 0
        self.max_ledger_error_mol = 0.0

    # -- nodal helpers ----------------------------------------------------------------------
    def _lumped(self, integrand) -> np.ndarray:
        """int integrand phi_i dV at every local node (owned and ghost)."""
        f = fem.Function(self.V)
        v = ufl.TestFunction(self.V)
        compat.assemble_vector_into(compat.petsc_vec(f), fem.form(self.lead.domain.volume_integral(integrand * v)))
        f.x.scatter_forward()
        return f.x.array.copy()

    def _totals(self, *nodal, weights=None) -> np.ndarray:
        """sum_i w_i x_i over the owned nodes of every rank for each array x (mol on this
        mesh), in one reduction."""
        w = (self.volumes if weights is None else weights)[: self.n]
        local = np.array([w @ x[: self.n] for x in nodal], dtype=float)
        total = np.empty_like(local)
        self.comm.Allreduce(local, total, op=MPI.SUM)
        return total

    # -- one step ---------------------------------------------------------------------------
    def local_potential(self, theta) -> np.ndarray:
        """U(theta/a) at every local node, V."""
        occupancy = theta / self.lead.site_availability.x.array
        return np.asarray(self.lead.reaction.ocv(np.clip(occupancy, 0.0, 1.0)), dtype=float)

    def step(self, t_new: float, dt: float, bdf, lead=None) -> None:
        theta = self.lead.lithium.theta.x.array
        self.redox.step(dt, bdf, theta, self.theta_n, self.theta_nm1, self.theta0, self.local_potential(theta))
        self.vacancies.step(dt, bdf, self.redox.release)
        self.oxygen.transport.nodal_source = 0.5 * self.redox.release  # mol O2/m^3/s

    def accept(self) -> None:
        self.redox.accept()
        self.vacancies.accept()
        self.theta_nm1[:] = self.theta_n
        self.theta_n[:] = self.lead.lithium.theta.x.array
        self._act_on_lithium()
        self.steps += 1
        self.max_ledger_error_mol = max(self.max_ledger_error_mol, abs(self.ledger()["oxygen_ledger_error_mol"]))
        self._record_observations()

    def reject(self) -> None:
        self.redox.reject()
        self.vacancies.reject()

    def _act_on_lithium(self) -> None:
        """The vacancies' Li-site loss and strain, for the next Li step (lagged)."""
        v = self.vacancies.v.x.array
        lost = self.sites_per_vacancy * np.maximum(v, 0.0) / self.c_max
        a = self.lead.site_availability
        a.x.array[:] = np.maximum(1.0 - lost, MIN_SITE_AVAILABILITY)
        if self.lead.vacancy_strain is not None:
            self.lead.vacancy_strain.x.array[:] = self.vacancy_volume * v / 3.0
        if self.lead.potential is not None:
            self.lead.potential.site_availability = a.x.array[self.lead.potential.surface].copy()

    def _record_observations(self) -> None:
        """The oxidised fraction within the report depth where the charging voltage first
        crosses each report voltage (linear in between steps), and the capacities."""
        obs = self.lead._observables or self.lead.observables()
        voltage, capacity = obs["voltage_V"], obs["capacity_C_kg"]
        charging = obs["current_A_kg"] > 0
        fraction = self.oxidised_fraction_at_surface()
        if self._previous is not None and charging:
            v0, f0 = self._previous
            for key, target in zip(self.at_voltage, self.report_voltages):
                if self.at_voltage[key] is None and v0 < target <= voltage + VOLTAGE_TOLERANCE:
                    w = min(1.0, (target - v0) / (voltage - v0))
                    self.at_voltage[key] = f0 + w * (fraction - f0)
        self._previous = (voltage, fraction)
        discharging = obs["current_A_kg"] < -DISCHARGE_CURRENT_FLOOR_A_KG
        self.capacity["discharged"] = self.capacity.get("discharged", False) or discharging
        self.capacity["charge_max_C_kg"] = max(self.capacity["charge_max_C_kg"], capacity)
        self.capacity["last_C_kg"] = capacity

    # -- quantities (collective) ------------------------------------------------------------
    def oxidised_fraction_at_surface(self) -> float:
        """(P + X) / lattice O within the report depth (the XPS's ~20 nm)."""
        oxidised, volume = self._totals(self.redox.P + self.redox.X, np.ones_like(self.c_max),
                                        weights=self.report_volumes)
        return float(oxidised / (volume * self.lattice0)) if volume > 0 else float("nan")

    def ledger(self) -> dict:
        """Whole-particle oxygen (mol O) by where it is, and the closure error."""
        o2 = self.oxygen.ledger()
        P, X, vacancies = self._totals(self.redox.P, self.redox.X, self.vacancies.v.x.array) * self.sf
        row = {
            "lattice_O_mol": self.initial_mol_O - 2 * self.oxygen.initial_mol - P - X - vacancies,
            "oxidised_O_mol": P + X,
            "peroxide_O_mol": P,
            "li2o2_O_mol": X,
            "mobile_O_mol": 2 * o2["mobile_mol"],
            "captured_O_mol": 2 * o2["captured_mol"],
            "escaped_O_mol": 2 * o2["escaped_mol"],
            "returned_O_mol": 2 * o2["returned_mol"],
            "vacancies_mol": vacancies,
        }
        accounted = summed(row[k] for k in ("lattice_O_mol", "oxidised_O_mol", "mobile_O_mol", "captured_O_mol",
                                         "escaped_O_mol", "returned_O_mol"))
        row["oxygen_ledger_error_mol"] = self.initial_mol_O - accounted
        return row

    def coulombic_efficiency(self) -> float | None:
        """Discharged over charged capacity; None for a run that never discharged (e.g. a
        charge and a rest: its ~0 would read as a measured efficiency)."""
        c = self.capacity
        charged = c["charge_max_C_kg"]
        if charged <= 0 or not c.get("discharged", True):
            return None
        return (charged - c["last_C_kg"]) / charged

    def scalars(self, t: float) -> dict:
        row = self.ledger()
        row["oxidised_fraction_xps_depth"] = self.oxidised_fraction_at_surface()
        return row

    def update_output_fields(self) -> None:
        for f, values in ((self.peroxide, self.redox.P), (self.li2o2, self.redox.X)):
            f.x.array[:] = values

    def results(self) -> dict:
        final = self.ledger()
        lattice0 = self.initial_mol_O - 2 * self.oxygen.initial_mol
        return {"oxygen_redox": {
            "first_cycle_coulombic_efficiency": self.coulombic_efficiency(),
            "charge_capacity_mAh_g": self.capacity["charge_max_C_kg"] / C_KG_PER_MAH_G,
            "discharge_capacity_mAh_g": (self.capacity["charge_max_C_kg"] - self.capacity["last_C_kg"]) / C_KG_PER_MAH_G,
            "oxidised_fraction_at_voltage": dict(self.at_voltage),
            "report_depth_m": self.case.oxygen_redox.report.depth.si,
            "o2_released_mol": (final["mobile_O_mol"] + final["captured_O_mol"] + final["escaped_O_mol"]
                                + final["returned_O_mol"]) / 2,
            "o2_escaped_mol": final["escaped_O_mol"] / 2,
            "o2_captured_mol": final["captured_O_mol"] / 2,
            "o2_returned_mol": final["returned_O_mol"] / 2,
            "lattice_oxygen_lost_fraction": final["vacancies_mol"] / lattice0,
            **final,
            "oxygen_ledger_closure_error_relative": self.max_ledger_error_mol / self.initial_mol_O,
            "steps": self.steps,
        }}

    # -- checkpoints ------------------------------------------------------------------------
    def state(self) -> tuple[dict, dict]:
        n = self.n
        r, vac = self.redox, self.vacancies
        arrays = {"P_n": r.P_n[:n].copy(), "P_nm1": r.P_nm1[:n].copy(), "X_n": r.X_n[:n].copy(),
                  "X_nm1": r.X_nm1[:n].copy(), "v_n": vac.v_n.x.array[:n].copy(),
                  "v_nm1": vac.v_nm1.x.array[:n].copy(), "theta_n": self.theta_n[:n].copy(),
                  "theta_nm1": self.theta_nm1[:n].copy()}
        scalars = {"steps": self.steps, "max_ledger_error_mol": self.max_ledger_error_mol,
                   "at_voltage": self.at_voltage, "capacity": self.capacity, "previous": self._previous}
        return scalars, arrays

    def restore(self, scalars: dict, arrays: dict) -> None:
        r, vac = self.redox, self.vacancies
        nodal = fem.Function(self.V)

        def spread(values):  # owned values -> every local node (ghosts from their owners)
            nodal.x.array[: self.n] = values
            nodal.x.scatter_forward()
            return nodal.x.array.copy()

        for name, target in (("P_n", r.P_n), ("P_nm1", r.P_nm1), ("X_n", r.X_n), ("X_nm1", r.X_nm1),
                             ("theta_n", self.theta_n), ("theta_nm1", self.theta_nm1)):
            target[:] = spread(arrays[name])
        r.reject()
        for name, f in (("v_n", vac.v_n), ("v_nm1", vac.v_nm1), ("v_n", vac.v)):
            f.x.array[: self.n] = arrays[name]
            f.x.scatter_forward()
        self.steps, self.max_ledger_error_mol = scalars["steps"], scalars["max_ledger_error_mol"]
        self.at_voltage, self.capacity = dict(scalars["at_voltage"]), dict(scalars["capacity"])
        self._previous = None if scalars["previous"] is None else tuple(scalars["previous"])
        self._act_on_lithium()


__all__ = ["OxygenRedoxSubmodel"]

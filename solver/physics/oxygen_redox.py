"""Oxygen redox in the lattice, node by node (docs/model.md §10).

Each increment of charge a node gives up, q = -d(c_max theta)/dt (mol e/m^3/s), is split
between the transition metals and the lattice oxygen. The oxygen's share is

    f_O = f_bulk * lambda(r) * w(U; U_on, dU)

- f_bulk: the share of the bulk (the paper's DFT: 84.2 % of the states within 1 eV
  below E_F are oxygen's in Li2MnO3);
- lambda(r): the fraction of the bulk's Li-O-Li configurations left at r. They are the
  Li ions in the transition-metal layer (0.2 of the 1.2 Li per formula unit of
  Li[Li0.2M0.8]O2); where the Li-deficient layer has fewer Li sites, c_max = c_core s(r),
  the missing (1 - s) 1.2 Li per f.u. are taken from the transition-metal layer (as in
  the paper's DFT models of the layer, which replace TM-layer Li by Mn), so
  lambda = max(0, 1 - (1 - s) 1.2/0.2);
- w: a smooth onset tanh switch of the local equilibrium potential U(theta/a) (the LMCT
  onset; U is local, so oxygen redox starts where the particle has emptied first).

The oxidised oxygen (peroxo-like O^-, one hole each) is P, mol O/m^3:

    dP/dt = f_O q+ - (P/h) q- - k_d w_d(U) exp(-depth/delta) P       (q+- = max(0, +-q))

on discharge a node's holes h = c_max (theta_0 - theta) are refilled in proportion to
where they sit (P of them on oxygen). The last term is the irreversible path to a
Li2O2-like immobile species X near the surface (the paper's SERS), which is oxidised to
mobile O2 above 4.7 V:

    dX/dt = k_d w_d(U) exp(-depth/delta) P - k_r w_r(U) X,   release r = k_r w_r(U) X

r (mol O/m^3/s) feeds the mobile O2 (r/2 mol O2/m^3/s, solver/physics/oxygen.py) and
leaves r oxygen vacancies (solver/physics/vacancies.py).

Time discretisation: the same variable-step BDF2 as the Li transport and the O2, with q
the BDF2 derivative of c_max theta and every loss implicit (unconditionally stable, P and
X stay >= 0). Then sum_i w_i (P_i + X_i) plus twice the O2 made obey one recursion, and the
oxygen ledger closes to round-off.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HOLE_FLOOR = 1e-12  # mol/m^3: a node without holes has its P refilled at once


@dataclass(frozen=True)
class Switch:
    """w(U) = (1 + tanh((U - onset_V)/width_V))/2."""

    onset_V: float
    width_V: float

    def __call__(self, U):
        return 0.5 * (1.0 + np.tanh((np.asarray(U) - self.onset_V) / self.width_V))


@dataclass(frozen=True)
class OxygenRedoxLaw:
    """Plain parameters of the charge split and the irreversible path (SI units)."""

    oxygen_share: float  # f_bulk
    onset: Switch
    lithium_per_formula_unit: float
    li_o_li_lithium_per_formula_unit: float
    oxygen_per_formula_unit: float
    dimerisation_rate_1_s: float
    dimerisation_onset: Switch
    surface_depth_m: float
    release_rate_1_s: float
    release_onset: Switch

    def li_o_li_fraction(self, site_share):
        """lambda(s): the share of the bulk's Li-O-Li configurations left where the
        layer keeps a share s = c_max/c_max,core of the Li sites."""
        missing = (1.0 - np.asarray(site_share)) * self.lithium_per_formula_unit
        return np.clip(1.0 - missing / self.li_o_li_lithium_per_formula_unit, 0.0, 1.0)

    def lattice_oxygen(self, c_max_core):
        """Lattice O per m^3 (mol/m^3): oxygen per f.u. x formula units per m^3."""
        return c_max_core / self.lithium_per_formula_unit * self.oxygen_per_formula_unit

    def surface_weight(self, depth_m):
        return np.exp(-np.asarray(depth_m) / self.surface_depth_m)


class NodalOxygenRedox:
    """P and X at the nodes of a P1 space (owned and ghost alike: the law is local).
    `c_max`, `li_o_li` (lambda) and `surface_weight` are nodal arrays fixed in time."""

    def __init__(self, law: OxygenRedoxLaw, c_max, li_o_li, surface_weight):
        self.law = law
        self.c_max, self.li_o_li, self.surface_weight = c_max, li_o_li, surface_weight
        n = len(c_max)
        self.P, self.P_n, self.P_nm1 = np.zeros(n), np.zeros(n), np.zeros(n)
        self.X, self.X_n, self.X_nm1 = np.zeros(n), np.zeros(n), np.zeros(n)
        self.release = np.zeros(n)  # r at the end of the step, mol O/m^3/s
        self.oxidation = np.zeros(n)  # f_O q+ of the step, mol O/m^3/s

    def oxygen_share(self, U):
        return self.law.oxygen_share * self.li_o_li * self.law.onset(U)

    def step(self, dt: float, bdf, theta, theta_n, theta_nm1, theta0: float, U) -> None:
        """P, X and the release at t + dt, from the Li site fractions at t + dt, t, t - dt'
        (BDF2 `bdf = (a0, a1, a2)`) and the local equilibrium potential U at t + dt."""
        a0, a1, a2 = bdf
        law = self.law
        q = -self.c_max * (a0 * theta + a1 * theta_n + a2 * theta_nm1) / dt  # mol e/m^3/s
        q_plus, q_minus = np.maximum(q, 0.0), np.maximum(-q, 0.0)
        holes = np.maximum(self.c_max * (theta0 - theta), HOLE_FLOOR)
        k_dim = law.dimerisation_rate_1_s * law.dimerisation_onset(U) * self.surface_weight
        k_rel = law.release_rate_1_s * law.release_onset(U)
        self.oxidation = self.oxygen_share(U) * q_plus
        history_P = -(a1 * self.P_n + a2 * self.P_nm1)
        self.P = (history_P + dt * self.oxidation) / (a0 + dt * (q_minus / holes + k_dim))
        history_X = -(a1 * self.X_n + a2 * self.X_nm1)
        self.X = (history_X + dt * k_dim * self.P) / (a0 + dt * k_rel)
        self.release = k_rel * self.X

    def accept(self) -> None:
        for new, n, nm1 in ((self.P, self.P_n, self.P_nm1), (self.X, self.X_n, self.X_nm1)):
            nm1[:] = n
            n[:] = new

    def reject(self) -> None:
        self.P[:], self.X[:] = self.P_n, self.X_n


__all__ = ["Switch", "OxygenRedoxLaw", "NodalOxygenRedox"]

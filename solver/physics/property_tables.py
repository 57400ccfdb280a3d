"""Material properties as functions of the Li site fraction, from tables (the case's
`lithium_diffusivity_factor`, `volume_change`, `grains.lattice_strain` tables): one
interpolation law, written once for UFL (in the forms) and numpy (checks, outputs).

    L(theta) = y_0 + sum_i s_i (min(max(theta, x_i), x_i+1) - x_i),  s_i = (y_i+1 - y_i)/(x_i+1 - x_i)

is the piecewise-linear interpolant through (x_i, y_i), constant beyond the ends, with
no branches: min/max of theta, so UFL differentiates it (Newton's Jacobian) and the
knots can be `fem.Constant`s (one compiled module per table length, whatever the
values). The min/max are rounded over a width `rounding` of site fraction,
max(a, b) ~ (a + b + sqrt((a - b)^2 + rounding^2)) / 2: a kink makes Newton cycle
between its two sides; the rounded corner moves L by at most rounding x slope / 2 there
and by O(rounding^2) elsewhere. The diffusivity factor is interpolated in log f (f = exp L of log f_i), as
diffusivities measured by GITT vary over decades.
"""
from __future__ import annotations

import numpy as np
import ufl

from solver import compat


ROUNDING = 1e-4  # site fraction: the width of the rounded corners


def rounded_max(a, b, sqrt, rounding=ROUNDING):
    return 0.5 * (a + b + sqrt((a - b) ** 2 + rounding**2))


def rounded_min(a, b, sqrt, rounding=ROUNDING):
    return 0.5 * (a + b - sqrt((a - b) ** 2 + rounding**2))


def piecewise_linear(theta, knots, values, sqrt, rounding=ROUNDING):
    """L(theta) through (knots[i], values[i]), corners rounded over `rounding` (0: sharp,
    for laws nobody differentiates); `knots`/`values` index like arrays (numpy arrays or
    UFL vectors); `sqrt` is ufl.sqrt or numpy's."""
    n = len(knots) if not hasattr(knots, "ufl_shape") else knots.ufl_shape[0]
    result = values[0]
    for i in range(n - 1):
        slope = (values[i + 1] - values[i]) / (knots[i + 1] - knots[i])
        clamped = rounded_min(rounded_max(theta, knots[i], sqrt, rounding), knots[i + 1], sqrt, rounding)
        result = result + slope * (clamped - knots[i])
    return result


def log_linear_numpy(theta, knots, factors):
    """f(theta) in numpy: exp of the piecewise-linear interpolant of log f."""
    return np.exp(piecewise_linear(np.asarray(theta, dtype=float), np.asarray(knots, dtype=float),
                                   np.log(np.asarray(factors, dtype=float)), np.sqrt))


class DiffusivityFactor:
    """f(theta) as a UFL expression whose knots are fem.Constants."""

    def __init__(self, msh, knots, factors):
        knots, factors = np.asarray(knots, dtype=float), np.asarray(factors, dtype=float)
        if knots.ndim != 1 or knots.size < 2 or knots.shape != factors.shape or np.any(np.diff(knots) <= 0) \
                or np.any(factors <= 0):
            raise ValueError("a diffusivity factor table needs >= 2 increasing site fractions and positive factors")
        self.knots = compat.constant(msh, knots)
        self.log_factors = compat.constant(msh, np.log(factors))
        self.table = (knots, factors)

    def __call__(self, theta):
        return ufl.exp(piecewise_linear(theta, self.knots, self.log_factors, ufl.sqrt))

    def numpy(self, theta):
        return log_linear_numpy(theta, *self.table)


class LinearTable:
    """y(theta) as a UFL expression, interpolated linearly between its knots
    (fem.Constants: one compiled form whatever the values), sharp corners (a stress is
    linear in it: no Newton), constant beyond the ends."""

    what = "a linear"

    def __init__(self, msh, knots, values):
        knots, values = np.asarray(knots, dtype=float), np.asarray(values, dtype=float)
        if knots.ndim != 1 or knots.size < 2 or knots.shape != values.shape or np.any(np.diff(knots) <= 0):
            raise ValueError(f"{self.what} table needs >= 2 increasing site fractions and as many values")
        self.knots = compat.constant(msh, knots)
        self.values = compat.constant(msh, values)
        self.table = (knots, values)

    def __call__(self, theta):
        return piecewise_linear(theta, self.knots, self.values, ufl.sqrt, rounding=0.0)

    def numpy(self, theta):
        return piecewise_linear(np.asarray(theta, dtype=float), *self.table, np.sqrt, rounding=0.0)


class VolumeChange(LinearTable):
    """The lattice's volume change dV/V(theta) (fractional, relative to a reference
    state)."""

    what = "a volume-change"


class AxisStrain(LinearTable):
    """The fractional lattice strain of one crystal axis (a or c) against theta
    (solver/physics/anisotropy.py). Beyond its end knots it continues along its end
    segments, as a linear coefficient does (the discrete site fraction overshoots 1 by
    ~1e-3 near a charged surface's far side), so a two-point table is the linear law."""

    what = "a lattice-strain"

    def __call__(self, theta):
        return self._extended(theta, self.knots, self.values, ufl.sqrt, self.knots.ufl_shape[0])

    def numpy(self, theta):
        knots, values = self.table
        return self._extended(np.asarray(theta, dtype=float), knots, values, np.sqrt, len(knots))

    @staticmethod
    def _extended(theta, knots, values, sqrt, n):
        first = (values[1] - values[0]) / (knots[1] - knots[0])
        last = (values[n - 1] - values[n - 2]) / (knots[n - 1] - knots[n - 2])
        return (piecewise_linear(theta, knots, values, sqrt, rounding=0.0)
                + first * rounded_min(theta - knots[0], 0.0, sqrt, 0.0)
                + last * rounded_max(theta - knots[n - 1], 0.0, sqrt, 0.0))


__all__ = ["piecewise_linear", "log_linear_numpy", "DiffusivityFactor", "LinearTable", "VolumeChange", "AxisStrain"]

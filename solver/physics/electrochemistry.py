"""Surface electrochemistry of a cathode particle: the open-circuit voltage U(theta) and
Butler–Volmer kinetics, as plain numpy laws (no mesh, no case file). Each law is written
once here; the discrete surface condition (solver/physics/particle_potential.py) and the
outputs evaluate these same functions.

    eta   = V - U(theta_s)                                  overpotential, V
    i0    = i0_ref * 2 sqrt(theta_s (1 - theta_s))          exchange current density, A/m^2
    i     = i0 [exp(alpha f eta) - exp(-(1 - alpha) f eta)] f = F / (R_g T)
    j_Li  = i / F                                           outward Li flux, mol/m^2/s

i > 0 is the anodic (charging) current: Li leaves the particle. i0_ref is the exchange
current density at theta_s = 1/2; the sqrt(theta (1 - theta)) dependence is the usual
one for an intercalation site lattice with the electrolyte concentration constant (the
form PyBaMM's default exchange-current functions take with c_e fixed).
"""
from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass

import numpy as np

from solver.case.units import FARADAY_C_MOL, GAS_CONSTANT_J_MOL_K

# the kinetics are evaluated with theta_s kept this far inside (0, 1): i0 -> 0 at the
# ends, and its derivative is unbounded there
SITE_FRACTION_MARGIN = 1e-9


def _clip(x, lo, hi):
    """np.clip without its per-call checks (a few us: it is called at every Newton
    iteration on a handful of surface values)."""
    return np.minimum(np.maximum(x, lo), hi)


class _ArrayMath:
    """The few functions the laws use, on numpy arrays."""
    exp, sqrt, clip = staticmethod(np.exp), staticmethod(np.sqrt), staticmethod(_clip)


class _ScalarMath:
    """The same on Python floats (the one surface node of a 1D particle): the same IEEE
    operations at a tenth of numpy's per-call cost; math.exp raises OverflowError where
    numpy returns inf."""
    exp, sqrt = staticmethod(math.exp), staticmethod(math.sqrt)

    @staticmethod
    def clip(x, lo, hi):
        return min(max(x, lo), hi)


class OpenCircuitVoltage:
    """U(theta) in V against Li/Li+, from a table (monotone cubic: scipy's PCHIP, so no
    overshoot between points and a continuous derivative for Newton) or a sympy
    expression in `x`, the site fraction. Outside a table's range U is held at its end
    values (and its derivative is 0)."""

    def __init__(self, value, derivative, site_fraction_range: tuple[float, float], text: str,
                 scalar_with_derivative=None):
        self._value, self._derivative = value, derivative
        self._scalar = scalar_with_derivative or (lambda theta: (float(value(theta)), float(derivative(theta))))
        self.site_fraction_range = site_fraction_range
        self.text = text

    @classmethod
    def from_table(cls, site_fraction, voltage) -> "OpenCircuitVoltage":
        from scipy.interpolate import PchipInterpolator

        x = np.asarray(site_fraction, dtype=float)
        u = np.asarray(voltage, dtype=float)
        if x.ndim != 1 or x.size < 2 or x.shape != u.shape or np.any(np.diff(x) <= 0):
            raise ValueError("an OCV table needs >= 2 strictly increasing site fractions and as many voltages")
        spline = PchipInterpolator(x, u, extrapolate=False)
        slope = spline.derivative()
        lo, hi = float(x[0]), float(x[-1])

        def value(theta):
            return spline(_clip(theta, lo, hi))

        def derivative(theta):
            theta = np.asarray(theta, dtype=float)
            inside = (theta > lo) & (theta < hi)
            return np.where(inside, slope(_clip(theta, lo, hi)), 0.0)

        # the same spline on one float: its pieces evaluated as scipy's PPoly does (the
        # piece with x_i <= theta < x_i+1, the last one closed; the powers of s = theta - x_i
        # summed from the constant term up), so the numbers are the same to the last bit
        knots, last = x.tolist(), x.size - 2
        c3, c2, c1, c0 = (row.tolist() for row in spline.c)
        d2, d1, d0 = (row.tolist() for row in slope.c)

        def scalar_with_derivative(theta: float):
            t = min(max(theta, lo), hi)
            i = min(bisect_right(knots, t) - 1, last)
            s = t - knots[i]
            s2 = s * s
            u = c0[i] + c1[i] * s + c2[i] * s2 + c3[i] * (s2 * s)
            return u, (d0[i] + d1[i] * s + d2[i] * s2) if lo < theta < hi else 0.0

        return cls(value, derivative, (lo, hi), f"table of {x.size} points", scalar_with_derivative)

    @classmethod
    def from_expression(cls, text: str, site_fraction_range=(0.0, 1.0)) -> "OpenCircuitVoltage":
        import sympy

        x = sympy.Symbol("x")
        expr = sympy.sympify(text, locals={"x": x})
        value = sympy.lambdify(x, expr, "numpy")
        derivative = sympy.lambdify(x, sympy.diff(expr, x), "numpy")
        lo, hi = site_fraction_range

        def clipped(f):
            return lambda theta: f(_clip(np.asarray(theta, dtype=float), lo, hi)) + 0.0 * np.asarray(theta)

        return cls(clipped(value), clipped(derivative), (lo, hi), text)

    def __call__(self, theta):
        return self._value(theta)

    def derivative(self, theta):
        """dU/dtheta in V."""
        return self._derivative(theta)

    def scalar_with_derivative(self, theta: float) -> tuple[float, float]:
        """(U, dU/dtheta) at one site fraction, as Python floats."""
        return self._scalar(theta)

    def voltage_range(self) -> tuple[float, float]:
        """The lowest and highest U over the site-fraction range (sampled finely)."""
        lo, hi = self.site_fraction_range
        u = self(np.linspace(lo, hi, 2001))
        return float(np.min(u)), float(np.max(u))


@dataclass(frozen=True)
class ButlerVolmer:
    """Butler–Volmer kinetics with i0 = i0_ref 2 sqrt(theta (1 - theta)) (module docstring)."""

    exchange_current_density_A_m2: float  # at theta = 1/2
    charge_transfer_coefficient: float = 0.5  # anodic alpha; cathodic 1 - alpha
    temperature_K: float = 298.15

    @property
    def f(self) -> float:
        """F / (R_g T) in 1/V."""
        return FARADAY_C_MOL / (GAS_CONSTANT_J_MOL_K * self.temperature_K)

    def exchange_current(self, theta, m=_ArrayMath):
        """(i0, d i0 / d theta) in A/m^2."""
        t = m.clip(theta, SITE_FRACTION_MARGIN, 1 - SITE_FRACTION_MARGIN)
        root = m.sqrt(t * (1 - t))
        i0 = 2 * self.exchange_current_density_A_m2 * root
        return i0, self.exchange_current_density_A_m2 * (1 - 2 * t) / root

    def current_density(self, eta, m=_ArrayMath):
        """i / i0 and its derivative with respect to eta (1/V)."""
        a, f = self.charge_transfer_coefficient, self.f
        anodic, cathodic = m.exp(a * f * eta), m.exp(-(1 - a) * f * eta)
        return anodic - cathodic, f * (a * anodic + (1 - a) * cathodic)

    def overpotential(self, current_A_m2, theta):
        """eta that carries `current_A_m2` at theta (the inverse, by Newton on i(eta);
        closed form asinh for alpha = 1/2). For initial guesses and checks."""
        i0, _ = self.exchange_current(theta)
        ratio = np.asarray(current_A_m2, dtype=float) / i0
        eta = 2 / self.f * np.arcsinh(ratio / 2)
        if self.charge_transfer_coefficient != 0.5:
            for _ in range(50):
                g, dg = self.current_density(eta)
                eta = eta - (g - ratio) / dg
        return eta


@dataclass(frozen=True)
class SurfaceReaction:
    """The outward Li flux of a surface at potential V: U(theta) and Butler–Volmer."""

    ocv: OpenCircuitVoltage
    kinetics: ButlerVolmer

    def flux(self, theta, voltage_V: float):
        """(j, dj/dtheta, dj/dV): outward Li flux in mol/m^2/s at surface site fractions
        `theta` (array, or a float: one node, floats back) and the particle potential
        `voltage_V`, with its derivatives."""
        if isinstance(theta, float):  # one surface node as a float (particle_potential.py): floats back
            try:
                return self._law(float(theta), float(voltage_V), _ScalarMath, self.ocv.scalar_with_derivative)
            except OverflowError:  # as below: numpy's inf
                return tuple(float(v[0]) for v in self.flux(np.array([float(theta)]), voltage_V))
        if isinstance(theta, np.ndarray) and theta.shape == (1,):  # a 1D particle's surface
            try:
                j, dj_dtheta, dj_dV = self._law(theta.item(), float(voltage_V), _ScalarMath,
                                                self.ocv.scalar_with_derivative)
                return np.array([j]), np.array([dj_dtheta]), np.array([dj_dV])
            except OverflowError:
                pass  # as below: numpy's inf
        # an overpotential out of reach overflows exp: the caller sees inf/NaN and
        # shortens the step (particle_potential.py), so numpy need not warn
        with np.errstate(over="ignore", invalid="ignore"):
            return self._law(theta, voltage_V, _ArrayMath, lambda t: (self.ocv(t), self.ocv.derivative(t)))

    def _law(self, theta, voltage_V, m, ocv_with_derivative):
        i0, di0 = self.kinetics.exchange_current(theta, m)
        u, du = ocv_with_derivative(theta)
        eta = voltage_V - u
        g, dg = self.kinetics.current_density(eta, m)
        dj_dV = i0 * dg / FARADAY_C_MOL
        dj_dtheta = (di0 * g) / FARADAY_C_MOL - dj_dV * du
        return i0 * g / FARADAY_C_MOL, dj_dtheta, dj_dV

    def equilibrium_voltage(self, theta_surface: float) -> float:
        return float(self.ocv(theta_surface))


__all__ = ["OpenCircuitVoltage", "ButlerVolmer", "SurfaceReaction"]

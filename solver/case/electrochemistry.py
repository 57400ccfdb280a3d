"""The electrochemical data of a core material in a case file: its open-circuit voltage,
Butler-Volmer kinetics, the dependence of its Li diffusivity on the site fraction and its
lattice volume change (docs/case-files.md "Electrochemistry of the core";
docs/parameter-sets.md for the shipped values and their sources).

    materials:
      core:
        open_circuit_voltage:            # a table (PCHIP in the engine) ...
          site_fraction: [0.1655, 0.25, 0.67, 1.0]
          voltage: [4.8, 4.55, 4.45, 3.2]
          unit: V
          window: [2.0 V, 4.8 V]         # optional: the cell's voltage limits
          source: "..."
        # ... or an expression in x, the Li site fraction:
        # open_circuit_voltage: {expression: "4.5 - 0.8*x", site_fraction_range: [0.2, 0.95], source: "..."}
        exchange_current_density: {value: 0.1, unit: A/m^2, source: "..."}   # at site fraction 0.5
        charge_transfer_coefficient: 0.5
        lithium_diffusivity_factor: {site_fraction: [...], factor: [...], source: "..."}
        volume_change: {site_fraction: [...], value: [...], source: "..."}

Each section may also be `from_set` to take it from the core's `parameter_set`
(solver/case/parameter_sets.py). The engine reads plain arrays: `.arrays()` of a table,
`.expression` (or `.parsed()`) of an expression; a quantity's `.si`.

Expressions never reach Python's `eval` unchecked: the text is split into numbers,
the operators + - * / ** ^ and parentheses, the symbol x, the constants pi and E and the
functions in FUNCTIONS; anything else is refused before sympy parses it, and the parsed
expression is evaluated in floating point only.
"""
from __future__ import annotations

import math
import re
from typing import Annotated, ClassVar, Optional

import numpy as np
from pydantic import AfterValidator, ConfigDict, Field, field_validator, model_validator

from solver.case.loading import clip_repr
from solver.case.units import AssignmentChecked, check_unit_of, quantity, ureg

MAX_POINTS = 10000
MAX_EXPRESSION_CHARS = 500
VOLTAGE_RANGE_V = (0.0, 10.0)  # open interval: a Li-ion electrode potential vs Li/Li+
# elementary functions an expression may call (sympy names)
FUNCTIONS = ("exp", "log", "sqrt", "tanh", "sinh", "cosh", "sin", "cos", "tan", "atan",
             "asinh", "acosh", "atanh")
CONSTANTS = ("pi", "E")
SYMBOL = "x"  # the Li site fraction
FROM_SET = "from_set"

Voltage = quantity("V", gt=VOLTAGE_RANGE_V[0], lt=VOLTAGE_RANGE_V[1])
# a window's cut-off counts as reached by the curve's end when within this of it: the
# kinetic overpotential carries the potential over a mV even at C/50
WINDOW_COVER_TOLERANCE_V = 1e-3


def _with_source(q):
    """A quantity that must say where it comes from."""
    if not (q.source or "").strip():
        raise ValueError(f"give its source, e.g. {{value: {q.value:g}, unit: {q.unit}, source: '...'}}")
    return q


ExchangeCurrentDensity = Annotated[quantity("A/m^2", gt=0), AfterValidator(_with_source)]
ChargeTransferCoefficient = quantity("", gt=0, lt=1)


class _Strict(AssignmentChecked):
    """As schema.Strict (which imports this module): unknown keys refused, no coercion."""

    model_config = ConfigDict(extra="forbid", validate_default=True, strict=True,
                              allow_inf_nan=False, validate_assignment=True)


def _check_site_fractions(site_fraction: list[float]) -> None:
    """Within [0, 1] and strictly increasing, naming the first offending index."""
    for i, s in enumerate(site_fraction):
        if not 0.0 <= s <= 1.0:
            raise ValueError(f"site_fraction[{i}] = {s:g} is outside [0, 1]")
    for i in range(1, len(site_fraction)):
        if not site_fraction[i] > site_fraction[i - 1]:
            raise ValueError(
                f"site_fraction[{i}] = {site_fraction[i]:g} is not above site_fraction[{i - 1}] = "
                f"{site_fraction[i - 1]:g}: site fractions must increase strictly")


def _check_same_length(site_fraction: list, other: list, name: str) -> None:
    if len(site_fraction) != len(other):
        raise ValueError(f"site_fraction and {name} must have the same length; got "
                         f"{len(site_fraction)} and {len(other)}")


def _check_source(source: Optional[str]) -> None:
    if source is None or not source.strip():
        raise ValueError("source: required (where the numbers come from: a reference, or "
                         "'assumed' and why)")


# -- expressions -------------------------------------------------------------------------
_TOKEN = re.compile(r"\s*(?:(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
                    r"|(?P<name>[A-Za-z_][A-Za-z_0-9]*)|(?P<op>\*\*|[-+*/^()]))")


def _check_tokens(text: str) -> None:
    """Only numbers, operators, parentheses, x, pi, E and FUNCTIONS (called)."""
    pos, tokens = 0, []
    stripped = text.rstrip()
    while pos < len(stripped):
        m = _TOKEN.match(stripped, pos)
        if m is None or m.end() == pos:
            raise ValueError(f"expression: cannot read {clip_repr(stripped[pos:pos + 20])} at "
                             f"character {pos + 1}: use numbers, x, + - * / ** ^, parentheses "
                             f"and the functions {', '.join(FUNCTIONS)}")
        tokens.append(m)
        pos = m.end()
    for k, m in enumerate(tokens):
        name = m.group("name")
        if name is None:
            continue
        called = k + 1 < len(tokens) and tokens[k + 1].group("op") == "("
        if called and name not in FUNCTIONS:
            raise ValueError(f"expression: unknown function {clip_repr(name, 40)}; allowed: "
                             f"{', '.join(FUNCTIONS)}")
        if not called and name not in (SYMBOL, *CONSTANTS):
            raise ValueError(f"expression: unknown symbol {clip_repr(name, 40)}: the only "
                             f"variable is x (the Li site fraction); constants pi, E")


def parse_expression(text: str):
    """The sympy expression of `text` (checked by `_check_tokens` first), its integers
    made floats so that evaluating it never does exact big-integer arithmetic."""
    import sympy
    from sympy.parsing.sympy_parser import convert_xor, parse_expr, standard_transformations

    if len(text) > MAX_EXPRESSION_CHARS:
        raise ValueError(f"expression: at most {MAX_EXPRESSION_CHARS} characters; got {len(text)}")
    if not text.strip():
        raise ValueError("expression: empty")
    _check_tokens(text)
    names = {SYMBOL: sympy.Symbol(SYMBOL), "pi": sympy.pi, "E": sympy.E,
             **{f: getattr(sympy, f) for f in FUNCTIONS}}
    try:
        # the default global names (sympy's) are safe here: the tokens above allow no
        # other name, no attribute, no string, no indexing
        expr = parse_expr(text, local_dict=names,
                          transformations=standard_transformations + (convert_xor,),
                          evaluate=False)
    except Exception as exc:  # SyntaxError, TokenError, TypeError of a wrong call
        raise ValueError(f"expression: cannot parse {clip_repr(text, 80)} "
                         f"({type(exc).__name__})") from None
    if not isinstance(expr, sympy.Expr):
        raise ValueError(f"expression: not a number-valued expression: {clip_repr(text, 80)}")
    extra = {str(s) for s in expr.free_symbols} - {SYMBOL}
    if extra:
        raise ValueError(f"expression: unknown symbol {sorted(extra)[0]!r}: the only variable is x")
    with sympy.evaluate(False):  # evaluating exp(exp(exp(9))) exactly takes seconds
        return expr.xreplace({n: sympy.Float(n) for n in expr.atoms(sympy.Integer)})


def evaluate_expression(expr, site_fraction: np.ndarray) -> np.ndarray:
    """Float values of a parsed expression at the given site fractions (NaN where a
    function is undefined or a value overflows)."""
    import sympy

    f = sympy.lambdify(sympy.Symbol(SYMBOL), expr, modules="numpy")
    with np.errstate(all="ignore"):
        try:
            values = np.asarray(f(site_fraction), dtype=float)
        except (OverflowError, ZeroDivisionError, ValueError, TypeError, FloatingPointError):
            return np.full(np.shape(site_fraction), np.nan)
    return np.broadcast_to(values, np.shape(site_fraction)).astype(float)


# -- open-circuit voltage ----------------------------------------------------------------
class OpenCircuitVoltage(_Strict):
    """The electrode's open-circuit voltage U(theta) against Li/Li+: a table (site
    fraction strictly increasing in [0, 1], voltage non-increasing: a cathode's voltage
    falls as Li returns) or an expression in x over `site_fraction_range`."""

    site_fraction: Optional[list[float]] = Field(None, max_length=MAX_POINTS)
    voltage: Optional[list[float]] = Field(None, max_length=MAX_POINTS, description="in `unit`")
    unit: str = Field("V", description="unit of `voltage`")
    expression: Optional[str] = Field(None, description="sympy expression in x, the Li site fraction")
    site_fraction_range: Optional[list[float]] = Field(
        None, min_length=2, max_length=2, description="expression: where it holds and is checked "
        "(default [0, 1])")
    window: Optional[list[Voltage]] = Field(
        None, min_length=2, max_length=2, description="[lower, upper] cut-off voltages; the curve "
        "lies within them")
    source: Optional[str] = None

    @field_validator("unit")
    @classmethod
    def _a_voltage_unit(cls, unit: str) -> str:
        return check_unit_of(unit, "V", "voltage, e.g. V or mV")

    @model_validator(mode="after")
    def _one_curve(self):
        _check_source(self.source)
        is_table = self.site_fraction is not None or self.voltage is not None
        if is_table == (self.expression is not None):
            raise ValueError("give either site_fraction and voltage (a table) or expression")
        if self.window is not None and not self.window[0].si < self.window[1].si:
            raise ValueError(f"window: lower must be below upper; got [{self.window[0].short()}, "
                             f"{self.window[1].short()}]")
        if is_table:
            self._check_table()
        else:
            self._check_expression()
        self._check_window_reached()
        return self

    def _check_table(self) -> None:
        if self.site_fraction is None or self.voltage is None:
            raise ValueError("a table needs both site_fraction and voltage")
        if len(self.site_fraction) < 2:
            raise ValueError(f"site_fraction: at least 2 points; got {len(self.site_fraction)}")
        if self.site_fraction_range is not None:
            raise ValueError("site_fraction_range: only for an expression (a table's range is "
                             "its site fractions)")
        _check_same_length(self.site_fraction, self.voltage, "voltage")
        _check_site_fractions(self.site_fraction)
        volts = self.voltages_V()
        lo, hi = VOLTAGE_RANGE_V
        for i, v in enumerate(volts):
            if not lo < v < hi:
                raise ValueError(f"voltage[{i}] = {self.voltage[i]:g} {self.unit} is outside "
                                 f"({lo:g}, {hi:g}) V")
        for i in range(1, len(volts)):
            if volts[i] > volts[i - 1]:
                raise ValueError(
                    f"voltage[{i}] = {self.voltage[i]:g} {self.unit} is above voltage[{i - 1}] = "
                    f"{self.voltage[i - 1]:g} {self.unit}: the open-circuit voltage of a cathode "
                    "must not rise with the site fraction")
        self._check_window(volts, [f"voltage[{i}]" for i in range(len(volts))])

    def _check_expression(self) -> None:
        if self.unit != "V":
            raise ValueError("unit: an expression gives volts (leave unit out)")
        lo, hi = self.range()
        if not 0.0 <= lo < hi <= 1.0:
            raise ValueError(f"site_fraction_range: need 0 <= low < high <= 1; got [{lo:g}, {hi:g}]")
        expr = parse_expression(self.expression)
        x = np.linspace(lo, hi, 401)
        u = evaluate_expression(expr, x)
        bad = np.flatnonzero(~np.isfinite(u))
        if bad.size:
            raise ValueError(f"expression: not finite at x = {x[bad[0]]:g} (checked on "
                             f"site_fraction_range [{lo:g}, {hi:g}]; narrow it if the expression "
                             "holds on less)")
        vlo, vhi = VOLTAGE_RANGE_V
        out = np.flatnonzero((u <= vlo) | (u >= vhi))
        if out.size:
            raise ValueError(f"expression: {u[out[0]]:g} V at x = {x[out[0]]:g} is outside "
                             f"({vlo:g}, {vhi:g}) V")
        rise = np.flatnonzero(np.diff(u) > 1e-9 * max(1.0, float(np.abs(u).max())))
        if rise.size:
            raise ValueError(f"expression: rises from {u[rise[0]]:.6g} V at x = {x[rise[0]]:g} to "
                             f"{u[rise[0] + 1]:.6g} V at x = {x[rise[0] + 1]:g}: the open-circuit "
                             "voltage of a cathode must not rise with the site fraction")
        self._check_window(u, [f"expression at x = {s:g}" for s in x])

    def _check_window(self, volts, labels) -> None:
        if self.window is None:
            return
        lo, hi = self.window[0].si, self.window[1].si
        tol = 1e-9 * hi
        for v, label in zip(volts, labels):
            if not lo - tol <= v <= hi + tol:
                raise ValueError(f"{label} = {v:g} V is outside window [{lo:g}, {hi:g}] V")

    def _check_window_reached(self) -> None:
        """The curve covers its window: U at the lowest site fraction is the upper cut-off
        and U at the highest the lower one (within WINDOW_COVER_TOLERANCE_V), unless the
        curve goes on to site fraction 0 (1) there: at an empty (full) surface the
        exchange current vanishes and the overpotential carries the potential on to any
        cut-off. A cut-off the curve stops short of could be reached only beyond the
        curve's end, where U is not known (the engine holds it at the end value)."""
        if self.window is None:
            return
        (s_lo, s_hi), (w_lo, w_hi) = self.range(), self.window_V()
        u_top, u_bottom = float(self(s_lo)), float(self(s_hi))
        if s_lo > 0.0 and u_top < w_hi - WINDOW_COVER_TOLERANCE_V:
            raise ValueError(
                f"window: the upper cut-off {w_hi:g} V is above the curve's highest voltage "
                f"{u_top:.4g} V (at its lowest site fraction {s_lo:g}): a charge would leave the "
                f"curve before reaching it; extend the curve to {w_hi:g} V (or to site fraction "
                "0), or lower the window")
        if s_hi < 1.0 and u_bottom > w_lo + WINDOW_COVER_TOLERANCE_V:
            raise ValueError(
                f"window: the lower cut-off {w_lo:g} V is below the curve's lowest voltage "
                f"{u_bottom:.4g} V (at its highest site fraction {s_hi:g}): a discharge would "
                f"leave the curve before reaching it; extend the curve to {w_lo:g} V (or to "
                "site fraction 1), or raise the window")

    def reachable_V(self) -> tuple[float, float, str]:
        """(lowest, highest) particle potential a protocol step may ask for, and a few
        words on where they come from: the window when given (the curve covers it), else
        U at the curve's ends, open below when the curve reaches site fraction 1 and above
        when it reaches 0 (see `_check_window_reached`)."""
        if self.window is not None:
            w_lo, w_hi = self.window_V()
            return w_lo, w_hi, f"{w_lo:g} to {w_hi:g} V, materials.core.open_circuit_voltage.window"
        (s_lo, s_hi) = self.range()
        u_top, u_bottom = float(self(s_lo)), float(self(s_hi))
        low = VOLTAGE_RANGE_V[0] if s_hi >= 1.0 else u_bottom
        high = VOLTAGE_RANGE_V[1] if s_lo <= 0.0 else u_top
        words = (f"U from {u_top:.4g} V at site fraction {s_lo:g} to {u_bottom:.4g} V at {s_hi:g}"
                 + ("; below that as the surface fills" if s_hi >= 1.0 else "")
                 + ("; above that as the surface empties" if s_lo <= 0.0 else ""))
        return low, high, f"{low:.4g} to {high:.4g} V: {words}"

    # -- what the engine reads ----------------------------------------------------------
    @property
    def is_table(self) -> bool:
        return self.expression is None

    def voltages_V(self) -> np.ndarray:
        factor = float(ureg.Quantity(1.0, self.unit).to("V").magnitude)
        return np.asarray(self.voltage, dtype=float) * factor

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(site_fraction, voltage in V) of a table, increasing site fraction."""
        if not self.is_table:
            raise ValueError("open_circuit_voltage is an expression: use .expression or .parsed()")
        return np.asarray(self.site_fraction, dtype=float), self.voltages_V()

    def parsed(self):
        """The sympy expression in Symbol('x') (an expression only)."""
        if self.is_table:
            raise ValueError("open_circuit_voltage is a table: use .arrays()")
        return parse_expression(self.expression)

    def range(self) -> tuple[float, float]:
        """The site fractions the curve covers: the table's ends or site_fraction_range."""
        if self.is_table:
            return float(self.site_fraction[0]), float(self.site_fraction[-1])
        lo, hi = self.site_fraction_range or (0.0, 1.0)
        return float(lo), float(hi)

    def window_V(self) -> Optional[tuple[float, float]]:
        return None if self.window is None else (self.window[0].si, self.window[1].si)

    def __call__(self, theta) -> np.ndarray:
        """U(theta) in V: the table by monotone cubic (PCHIP) interpolation, as the engine's
        OpenCircuitVoltage.from_table does, or the expression (for checks and docs)."""
        theta = np.asarray(theta, dtype=float)
        if self.is_table:
            from scipy.interpolate import PchipInterpolator

            s, v = self.arrays()
            return PchipInterpolator(s, v, extrapolate=True)(theta)
        return evaluate_expression(self.parsed(), theta)

    def site_fraction_at(self, voltage_V: float) -> float:
        """The site fraction where U = voltage_V (U falls with theta; bisection on the
        curve's range). ValueError if the curve does not reach it."""
        lo, hi = self.range()
        u_lo, u_hi = float(self(lo)), float(self(hi))
        if not u_hi <= voltage_V <= u_lo:
            raise ValueError(f"open_circuit_voltage: {voltage_V:g} V is not within the curve's "
                             f"[{u_hi:g}, {u_lo:g}] V")
        a, b = lo, hi
        for _ in range(200):
            m = 0.5 * (a + b)
            if float(self(m)) >= voltage_V:
                a = m
            else:
                b = m
            if b - a < 1e-14:
                break
        return 0.5 * (a + b)


# -- tables of the site fraction ---------------------------------------------------------
class _SiteFractionTable(_Strict):
    """A quantity tabulated against the site fraction: the values field is named by
    `_values` and checked by `_check_values`."""

    _values: ClassVar[str]
    site_fraction: list[float] = Field(min_length=2, max_length=MAX_POINTS)

    def _check_values(self, values: list[float]) -> None:
        raise NotImplementedError

    @model_validator(mode="after")
    def _checked(self):
        values = getattr(self, self._values)
        _check_source(self.source)
        _check_same_length(self.site_fraction, values, self._values)
        _check_site_fractions(self.site_fraction)
        self._check_values(values)
        return self

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(site_fraction, values) as float arrays."""
        values = getattr(self, self._values)
        return np.asarray(self.site_fraction, dtype=float), np.asarray(values, dtype=float)


class LithiumDiffusivityFactor(_SiteFractionTable):
    """D(theta) = D * f(theta): f tabulated against the site fraction (the engine
    interpolates log f); f > 0. `.arrays()`: (site_fraction, factor)."""

    _values = "factor"
    factor: list[float] = Field(max_length=MAX_POINTS)
    source: Optional[str] = None

    def _check_values(self, values: list[float]) -> None:
        for i, f in enumerate(values):
            if not (f > 0 and math.isfinite(f)):
                raise ValueError(f"factor[{i}] = {f:g} must be > 0")


class VolumeChange(_SiteFractionTable):
    """Lattice volume change dV/V (fractional, relative to the fully lithiated state)
    tabulated against the site fraction; 0 at site fraction 1 when the table reaches it.
    `.arrays()`: (site_fraction, dV/V)."""

    _values = "value"
    value: list[float] = Field(max_length=MAX_POINTS, description="fractional dV/V")
    source: Optional[str] = None

    def _check_values(self, values: list[float]) -> None:
        for i, v in enumerate(values):
            if not -1.0 < v < 1.0:
                raise ValueError(f"value[{i}] = {v:g} is outside (-1, 1) (a fraction, not per cent)")
        if self.site_fraction[-1] == 1.0 and values[-1] != 0.0:
            raise ValueError(f"value[{len(values) - 1}] = {values[-1]:g} at site fraction 1 "
                             "must be 0 (relative to the fully lithiated state)")


def theoretical_capacity_mAh_g(li_per_formula_unit: float, molar_mass_g_mol: float) -> float:
    """F n / (3.6 M): the charge of n Li per formula unit in mAh/g."""
    from solver.case.units import FARADAY_C_MOL

    return FARADAY_C_MOL * li_per_formula_unit / (3.6 * molar_mass_g_mol)


__all__ = ["OpenCircuitVoltage", "LithiumDiffusivityFactor", "VolumeChange", "Voltage",
           "ExchangeCurrentDensity", "ChargeTransferCoefficient", "FROM_SET", "FUNCTIONS",
           "parse_expression", "evaluate_expression", "theoretical_capacity_mAh_g"]

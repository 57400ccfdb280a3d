"""Cheap crack-initiation criteria from a computed stress field (beside the phase field of
fracture.py): plain arrays in, numbers out; no mesh, no case, no files.

- Weibull weakest link (Weibull 1951; Munz and Fett, Ceramics, Springer 1999, ch. 7):
  a flaw population in the volume (or on the surface) fails with probability

      P_f = 1 - exp( -(1/V_0) int ( <sigma_1>+ / sigma_0 )^m dV ),

  sigma_1 the largest principal stress (tension only), sigma_0 the characteristic
  strength of the reference volume V_0, m the Weibull modulus. For a surface flaw
  population replace dV by dA and V_0 by A_0.
- Stress intensity of a straight edge crack of depth a under a crack-face stress that
  varies with the depth x below the free surface (the weight function of an edge crack in
  a half-plane, plane strain; Tada, Paris and Irwin, The Stress Analysis of Cracks
  Handbook, 3rd ed., ASME 2000, p. 8.4; fitted by Hartranft and Sih 1973):

      K_I(a) = 2 / sqrt(pi a) int_0^a sigma(x) F(x/a) / sqrt(1 - (x/a)^2) dx,
      F(s) = 1 + (1 - s^2)(0.2945 - 0.3912 s^2 + 0.7685 s^4 - 0.9942 s^6 + 0.5094 s^8),

  so a uniform stress gives K = 1.1215 sigma sqrt(pi a) and sigma = sigma_0 x/a gives
  0.6830 sigma_0 sqrt(pi a). With x = a sin(theta) the integrand is smooth and the
  integral is done by Gauss-Legendre quadrature in theta. In a sphere the half-plane
  neglects the curvature (small for a << R), and a straight crack front is conservative
  against a semicircular surface flaw of the same depth.
- The crack criterion: K_I(a) >= K_Ic for some flaw depth a in a stated range.
"""
from __future__ import annotations

import numpy as np
from scipy.integrate import trapezoid

QUADRATURE_POINTS = 64
_THETA_NODES, _THETA_WEIGHTS = np.polynomial.legendre.leggauss(QUADRATURE_POINTS)
_THETA = 0.25 * np.pi * (_THETA_NODES + 1.0)  # Gauss points on [0, pi/2]
_THETA_W = 0.25 * np.pi * _THETA_WEIGHTS
_F_COEFFS = (0.2945, -0.3912, 0.7685, -0.9942, 0.5094)  # in powers of s^2


def edge_crack_weight_factor(s):
    """F(s) of the half-plane edge crack's weight function, s = x/a in [0, 1] (x from the free surface)."""
    s2 = np.asarray(s, dtype=float) ** 2
    return 1.0 + (1.0 - s2) * np.polynomial.polynomial.polyval(s2, _F_COEFFS)


def edge_crack_stress_intensity(depth_below_surface_m, stress_Pa, crack_depths_m):
    """K_I (Pa m^0.5) of edge cracks of the given depths a under the crack-face stress
    sigma(x) given at depths x (m, increasing from 0 at the free surface; linearly
    interpolated, held constant beyond the last point). Positive stress opens the crack;
    a negative K means the faces are pressed shut."""
    x = np.asarray(depth_below_surface_m, dtype=float)
    sigma = np.asarray(stress_Pa, dtype=float)
    a = np.atleast_1d(np.asarray(crack_depths_m, dtype=float))
    if x.ndim != 1 or x.shape != sigma.shape or x.size < 2 or np.any(np.diff(x) <= 0):
        raise ValueError("depth_below_surface_m: a strictly increasing 1D array, one stress per depth")
    if np.any(a <= 0):
        raise ValueError("crack_depths_m: every depth must be > 0")
    s = np.sin(_THETA)
    samples = np.interp(np.outer(a, s), x, sigma)  # sigma(a sin theta), shape (depths, points)
    integral = samples @ (edge_crack_weight_factor(s) * _THETA_W)  # int_0^{pi/2} sigma F dtheta
    return 2.0 * np.sqrt(a / np.pi) * integral


def uniform_edge_crack_stress_intensity(stress_Pa, crack_depth_m):
    """K_I = 1.1215 sigma sqrt(pi a): a uniform stress on an edge crack (Koiter's constant)."""
    return 1.1215 * stress_Pa * np.sqrt(np.pi * crack_depth_m)


def _weibull_ratio(stress_Pa, characteristic_strength_Pa, weibull_modulus, reference):
    """(<sigma>+ / sigma_0)^m, after checking the Weibull inputs."""
    if characteristic_strength_Pa <= 0 or weibull_modulus <= 0 or reference <= 0:
        raise ValueError("characteristic strength, Weibull modulus and reference measure must be > 0")
    return (np.clip(np.asarray(stress_Pa, dtype=float), 0.0, None) / characteristic_strength_Pa) ** weibull_modulus


def weibull_failure_probability(stress_Pa, measure, characteristic_strength_Pa, weibull_modulus,
                                reference_measure):
    """P_f = 1 - exp(-sum <sigma>+^m w / (sigma_0^m V_0)) for stresses at points carrying the
    measure w (volumes in m^3, or areas in m^2 for a surface population; the same unit as
    reference_measure). Compressive stresses do not contribute."""
    ratio = _weibull_ratio(stress_Pa, characteristic_strength_Pa, weibull_modulus, reference_measure)
    return float(-np.expm1(-np.sum(ratio * np.asarray(measure, dtype=float)) / reference_measure))


def sphere_weibull_effective_stress(radius_m, stress_Pa, weibull_modulus, reference_volume_m3):
    """sigma_eff = ( int <sigma_1>+^m 4 pi r^2 dr / V_0 )^(1/m) of a spherically symmetric
    particle from a radial profile (trapezoidal rule on the profile's points), so that
    P_f = 1 - exp(-(sigma_eff / sigma_0)^m) for any characteristic strength sigma_0."""
    r = np.asarray(radius_m, dtype=float)
    if r.ndim != 1 or r.size < 2 or np.any(np.diff(r) <= 0):
        raise ValueError("radius_m: a strictly increasing 1D array")
    if weibull_modulus <= 0 or reference_volume_m3 <= 0:
        raise ValueError("weibull_modulus and reference_volume_m3 must be > 0")
    tension = np.clip(np.asarray(stress_Pa, dtype=float), 0.0, None)
    scale = tension.max()
    if scale == 0.0:
        return 0.0
    integral = trapezoid((tension / scale) ** weibull_modulus * 4.0 * np.pi * r**2, r)
    return float(scale * (integral / reference_volume_m3) ** (1.0 / weibull_modulus))


def weibull_probability_from_effective_stress(effective_stress_Pa, characteristic_strength_Pa, weibull_modulus):
    """P_f = 1 - exp(-(sigma_eff / sigma_0)^m)."""
    return float(-np.expm1(-(effective_stress_Pa / characteristic_strength_Pa) ** weibull_modulus))


def sphere_volume_weibull_probability(radius_m, stress_Pa, characteristic_strength_Pa, weibull_modulus,
                                      reference_volume_m3):
    """The volume P_f of a spherically symmetric particle from a radial profile of the
    largest principal stress: int (...) 4 pi r^2 dr by the trapezoidal rule on the profile."""
    if characteristic_strength_Pa <= 0:
        raise ValueError("characteristic_strength_Pa must be > 0")
    sigma_eff = sphere_weibull_effective_stress(radius_m, stress_Pa, weibull_modulus, reference_volume_m3)
    return weibull_probability_from_effective_stress(sigma_eff, characteristic_strength_Pa, weibull_modulus)


def sphere_surface_weibull_probability(radius_m, surface_stress_Pa, characteristic_strength_Pa,
                                       weibull_modulus, reference_area_m2):
    """The surface P_f of a sphere whose surface is uniformly stressed (a radial model):
    area 4 pi R^2 at the surface hoop stress."""
    return weibull_failure_probability(surface_stress_Pa, 4.0 * np.pi * radius_m**2,
                                       characteristic_strength_Pa, weibull_modulus, reference_area_m2)


def sphere_surface_crack_stress_intensity(radius_m, hoop_stress_Pa, crack_depths_m):
    """K_I(a) of edge cracks running radially in from the surface of a sphere, opened by
    the hoop stress of a radial profile (r increasing to the surface R)."""
    r = np.asarray(radius_m, dtype=float)
    depth = (r[-1] - r)[::-1]
    return edge_crack_stress_intensity(depth, np.asarray(hoop_stress_Pa, dtype=float)[::-1], crack_depths_m)

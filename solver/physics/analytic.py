"""Closed-form solutions used for verification (docs/model.md §2 and §4).

- Galvanostatic sphere: constant flux from a uniform start (Carslaw & Jaeger; Crank,
  The Mathematics of Diffusion), x = r/R, tau = D t / R^2.
- Stress of a homogeneous sphere for a radial concentration (Timoshenko thermal
  analogy; Cheng & Verbrugge, J. Power Sources 190, 453, 2009).
- Crank's sphere with a perfect sink or a Robin (evaporation) surface.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import brentq


def tan_roots(count: int) -> np.ndarray:
    """Positive roots of tan(l) = l: 4.4934, 7.7253, ..."""
    return np.array(
        [brentq(lambda l: np.sin(l) - l * np.cos(l), n * np.pi + 1e-9, n * np.pi + np.pi / 2 - 1e-9)
         for n in range(1, count + 1)]
    )


_ROOTS = tan_roots(400)


def galvanostatic_concentration(x, tau, inward_flux, radius, diffusivity, terms=400):
    """c - c_0 (mol/m^3) at x = r/R for a constant inward flux (mol/m^2/s); negative
    flux = extraction:
    (c - c0) D/(j R) = 3 tau + x^2/2 - 3/10 - 2 sum sin(l x) exp(-l^2 tau)/(l^2 x sin l)."""
    x = np.atleast_1d(np.asarray(x, dtype=float))
    l = _ROOTS[:terms]
    xs = np.where(x > 1e-12, x, 1e-12)
    series = np.sin(np.outer(xs, l)) * np.exp(-(l**2) * tau) / (l**2 * np.sin(l))
    series = series.sum(axis=1) / xs
    scale = inward_flux * radius / diffusivity
    return scale * (3 * tau + x**2 / 2 - 3 / 10 - 2 * series)


def galvanostatic_mean_inside(x, tau, inward_flux, radius, diffusivity, terms=400):
    """Volume mean of c - c_0 inside radius x (same units), from the exact integrals
    int_0^x x'^2 (...) dx' of each term."""
    x = np.atleast_1d(np.asarray(x, dtype=float))
    l = _ROOTS[:terms]
    xs = np.where(x > 1e-12, x, 1e-12)
    polynomial = (3 * tau - 3 / 10) * xs**3 / 3 + xs**5 / 10
    lx = np.outer(xs, l)
    integral_sin = (np.sin(lx) - lx * np.cos(lx)) / l**2  # int_0^x x' sin(l x') dx'
    series = (integral_sin * np.exp(-(l**2) * tau) / (l**2 * np.sin(l))).sum(axis=1)
    scale = inward_flux * radius / diffusivity
    mean = 3 * (polynomial - 2 * series) / xs**3
    centre = galvanostatic_concentration(0.0, tau, inward_flux, radius, diffusivity, terms) / scale
    mean = np.where(x > 1e-6, mean, centre)
    return scale * mean


def sphere_stresses(dc, mean_inside, mean_total, stress_coefficient):
    """Radial, hoop, von Mises and hydrostatic stress (Pa) of a homogeneous,
    traction-free sphere with K = Omega E / (3 (1 - nu)) and dc = c - c_ref:
    mean_inside / mean_total are volume means of dc inside r / over the particle.
    """
    K = stress_coefficient
    # (1/R^3) int_0^R dc r^2 dr = mean_total / 3, (1/r^3) int_0^r dc r^2 dr = mean_inside / 3
    sigma_r = 2 * K * (mean_total / 3 - mean_inside / 3)
    sigma_t = K * (2 * mean_total / 3 + mean_inside / 3 - dc)
    return {
        "sigma_r_Pa": sigma_r,
        "sigma_t_Pa": sigma_t,
        "sigma_vm_Pa": np.abs(sigma_t - sigma_r),
        "sigma_h_Pa": (sigma_r + 2 * sigma_t) / 3,
    }


def stress_coefficient(partial_molar_volume, youngs_modulus, poisson_ratio):
    """K = Omega E / (3 (1 - nu)) in Pa m^3/mol."""
    return partial_molar_volume * youngs_modulus / (3 * (1 - poisson_ratio))


def galvanostatic_sphere(r, t, outward_flux, radius, diffusivity, omega, E, nu):
    """Concentration change and stresses at radii r and time t under extraction."""
    x = np.asarray(r, dtype=float) / radius
    tau = diffusivity * t / radius**2
    j_in = -outward_flux
    dc = galvanostatic_concentration(x, tau, j_in, radius, diffusivity)
    mean_inside = galvanostatic_mean_inside(x, tau, j_in, radius, diffusivity)
    mean_total = galvanostatic_mean_inside(1.0, tau, j_in, radius, diffusivity)
    out = sphere_stresses(dc, mean_inside, mean_total, stress_coefficient(omega, E, nu))
    out["dc_mol_m3"] = dc
    return out


def steady_surface_hoop_stress(outward_flux, radius, diffusivity, omega, E, nu):
    """|sigma_t(R)| once the profile is parabolic: (1/5) Omega E |j| R / (3 (1-nu) D)."""
    return 0.2 * stress_coefficient(omega, E, nu) * abs(outward_flux) * radius / diffusivity


# -- O2: Crank, sphere of radius a, uniform initial C1, surroundings C0 ------------------


def sink_sphere(r, t, radius, diffusivity, c_initial, c_outside, terms=200):
    """Perfect sink at r = a: (C - C1)/(C0 - C1) = 1 + (2a/(pi r)) sum (-1)^n/n
    sin(n pi r/a) exp(-D n^2 pi^2 t/a^2)."""
    r = np.atleast_1d(np.asarray(r, dtype=float))
    n = np.arange(1, terms + 1)
    rs = np.where(r > 1e-15 * radius, r, 1e-15 * radius)
    arg = np.outer(rs, n) * np.pi / radius
    series = ((-1.0) ** n / n * np.sin(arg) * np.exp(-diffusivity * n**2 * np.pi**2 * t / radius**2)).sum(axis=1)
    ratio = 1 + 2 * radius / (np.pi * rs) * series
    return c_initial + (c_outside - c_initial) * ratio


def robin_roots(biot: float, count: int) -> np.ndarray:
    """Roots of b cot b + L - 1 = 0, one in each ((n-1) pi, n pi)."""
    f = lambda b: b * np.cos(b) + (biot - 1) * np.sin(b)
    return np.array([brentq(f, (n - 1) * np.pi + 1e-10, n * np.pi - 1e-10) for n in range(1, count + 1)])


def robin_sphere(r, t, radius, diffusivity, rate_m_s, c_initial, c_outside, terms=200):
    """-D dC/dr = k (C - C0) at r = a, L = a k / D:
    (C - C1)/(C0 - C1) = 1 - (2 L a / r) sum exp(-b^2 D t/a^2) sin(b r/a) / ((b^2 + L(L-1)) sin b)."""
    r = np.atleast_1d(np.asarray(r, dtype=float))
    L = radius * rate_m_s / diffusivity
    b = robin_roots(L, terms)
    rs = np.where(r > 1e-15 * radius, r, 1e-15 * radius)
    term = np.exp(-(b**2) * diffusivity * t / radius**2) / ((b**2 + L * (L - 1)) * np.sin(b))
    series = (np.sin(np.outer(rs, b) / radius) * term).sum(axis=1)
    ratio = 1 - 2 * L * radius / rs * series
    return c_initial + (c_outside - c_initial) * ratio


def robin_fraction_lost(t, radius, diffusivity, rate_m_s, terms=200):
    """M_t / M_inf = 1 - sum 6 L^2 exp(-b^2 D t/a^2) / (b^2 (b^2 + L(L-1)))."""
    L = radius * rate_m_s / diffusivity
    b = robin_roots(L, terms)
    return 1 - np.sum(6 * L**2 * np.exp(-(b**2) * diffusivity * t / radius**2) / (b**2 * (b**2 + L * (L - 1))))


def sink_fraction_lost(t, radius, diffusivity, terms=200):
    """Perfect sink: M_t / M_inf = 1 - (6/pi^2) sum exp(-D n^2 pi^2 t/a^2) / n^2 (Crank 6.20)."""
    n = np.arange(1, terms + 1)
    return 1 - 6 / np.pi**2 * np.sum(np.exp(-diffusivity * n**2 * np.pi**2 * t / radius**2) / n**2)

"""The inputs of the cheap crack criteria (solver/physics/fracture_criteria.py), each with
its kind (MEASURED / DERIVED / ASSUMED) and source; docs/fracture.md, "Inputs", is the
table for readers. No measured toughness, strength or Weibull modulus of a Li-rich layered
oxide was found; the toughness is a spinel oxide's, the strength a modelling value, the
rest assumed. Values MEASURED on other layered oxides (NMC, LiCoO2; docs/fracture.md, the
second inputs table, most read in a secondary transcription) are documented there and not
used as defaults. `CrackInputs` validates a changed set, naming the key and its allowed range.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

import numpy as np

MUGHAL2017 = ("M. Z. Mughal, H.-Y. Amanieu, R. Moscatelli, M. Sebastiani, 'A Comparison of Microscale "
              "Techniques for Determining Fracture Toughness of LiMn2O4 Particles', Materials 10, 403 "
              "(2017), doi:10.3390/ma10040403")
AI2020 = ("W. Ai, L. Kraft, J. Sturm, A. Jossen, B. Wu, 'Electrochemical Thermal-Mechanical Modelling of "
          "Stress Inhomogeneity in Lithium-Ion Pouch Cells', J. Electrochem. Soc. 167, 013512 (2020), "
          "doi:10.1149/2.0122001JES (as PyBaMM's Ai2020 set, 'Positive electrode critical stress [Pa]')")

# key: (allowed range (low, high), exclusive low; unit as written in the docs)
RANGES = {
    "fracture_toughness_Pa_sqrt_m": (0.01e6, 20e6),
    "min_flaw_depth_m": (0.0, 1e-6),
    "max_flaw_fraction_of_radius": (0.0, 0.5),
    "characteristic_strength_Pa": (1e6, 50e9),
    "weibull_modulus": (1.0, 100.0),
    "reference_volume_m3": (0.0, 1e-12),
    "failure_probability": (0.0, 1.0),
}


@dataclass(frozen=True)
class CrackInputs:
    """Toughness, flaw depths and Weibull parameters of the crack criteria (SI units)."""

    # MEASURED on LiMn2O4 (spinel) particles by micro-pillar splitting, the method the
    # authors judge the more reliable (0.81 MPa m^0.5 by crack opening displacement);
    # used for LRMO as ASSUMED: no Li-rich value was found. Layered oxides (docs/fracture.md):
    # 0.31 dense NMC532 and 0.10 intergranular NMC532 (Xu et al. 2017), 0.9 LiCoO2.
    fracture_toughness_Pa_sqrt_m: float = 0.24e6
    # ASSUMED: the shallowest flaw considered, about two oxygen layers.
    min_flaw_depth_m: float = 0.5e-9
    # ASSUMED: flaws up to 10 % of the radius (the range); no flaw census of LRMO.
    max_flaw_fraction_of_radius: float = 0.1
    # ASSUMED from a model: 375 MPa, the 'critical stress' of LiCoO2 in AI2020 (a
    # loss-of-active-material threshold there, not a measured strength). The one measured
    # layered-oxide tensile strength found: 745 MPa, NMC811 grain boundaries, micro-tensile
    # (Sedlatschek et al. 2026; docs/fracture.md: with it neither particle cracks at 1C).
    characteristic_strength_Pa: float = 375e6
    # ASSUMED: m = 10, within the 5-20 of technical ceramics (NMC811 grain boundaries:
    # m = 6.91 from 3 specimens, Sedlatschek et al. 2026).
    weibull_modulus: float = 10.0
    # ASSUMED: sigma_0 is the strength of a 150 nm radius particle (the paper's).
    reference_volume_m3: float = 4.0 / 3.0 * math.pi * (150e-9) ** 3
    # the Weibull criterion: P_f at or above this counts as cracked (median)
    failure_probability: float = 0.5

    def __post_init__(self):
        for f in fields(self):
            low, high = RANGES[f.name]
            value = getattr(self, f.name)
            if not (math.isfinite(value) and low < value <= high):
                raise ValueError(f"{f.name}: must be in ({low:g}, {high:g}]; got {value!r}")

    def with_changes(self, **changes) -> "CrackInputs":
        """A validated copy with some inputs changed (keys as the field names)."""
        unknown = sorted(set(changes) - {f.name for f in fields(self)})
        if unknown:
            raise ValueError(f"{', '.join(unknown)}: not a crack input (known: {', '.join(RANGES)})")
        return replace(self, **changes)

    def flaw_depths_m(self, radius_m: float, count: int = 40):
        """Flaw depths a from min_flaw_depth_m to max_flaw_fraction_of_radius x R, log-spaced."""
        deepest = self.max_flaw_fraction_of_radius * radius_m
        return np.geomspace(min(self.min_flaw_depth_m, deepest), deepest, count)

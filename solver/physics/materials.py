"""Region-wise material properties as DOLFINx functions, and the graded Li-site density
of the Li-deficient layer (docs/model.md §2, site-fraction formulation).

Every number a case may vary enters the forms as a DG0 Function or a `fem.Constant`,
never as a literal: forms differing only in values then share one compiled module
(docs/performance.md, "JIT cache")."""
from __future__ import annotations

import numpy as np
import ufl
from dolfinx import fem

from meshes.markers import CELL_TAGS
from solver import compat
from solver.case.schema import Case
from solver.physics.domain import Domain


def region_function(domain: Domain, values: dict[str, float], name: str):
    """Piecewise-constant (DG0) function taking `values[region]` on each region."""
    V0 = compat.functionspace(domain.msh, "DG", 0)
    f = fem.Function(V0, name=name)
    f.x.array[:] = 0.0
    for region, value in values.items():
        cells = domain.cell_tags.find(CELL_TAGS[region])
        f.x.array[compat.cell_dofs(V0)[cells, 0]] = value
    f.x.scatter_forward()
    return f


def graded_diffusivity(core_m2_s: float, layer_m2_s: float, grading):
    """D = D_core (D_layer/D_core)^g: log D linear in the local site deficiency, i.e. a
    migration barrier falling linearly with the Li deficit (the paper's DFT: lower Li
    content, lower barrier), continuous across the layer's inner edge."""
    return core_m2_s * (layer_m2_s / core_m2_s) ** grading


def oxide_properties(case: Case) -> dict[str, dict[str, float]]:
    """SI values per region; layer properties not given fall back to the core's."""
    core = case.materials.core
    layer = case.materials.layer
    props = {
        "core": {
            "lithium_diffusivity": core.lithium_diffusivity.si,
            "youngs_modulus": core.youngs_modulus.si,
            "poisson_ratio": core.poisson_ratio.si,
            "partial_molar_volume": core.partial_molar_volume.si,
        }
    }
    props["layer"] = {
        k: (getattr(layer, k).si if getattr(layer, k) is not None else v)
        for k, v in props["core"].items()
    }
    coating = case.materials.coating
    if coating is not None:
        props["coating"] = {
            "lithium_diffusivity": 0.0,
            "youngs_modulus": coating.youngs_modulus.si,
            "poisson_ratio": coating.poisson_ratio.si,
            "partial_molar_volume": 0.0,
        }
    return props


class MaterialFields:
    """E, nu, Omega, D as DG0 functions and c_max(r) as a UFL expression (D too when the
    layer's is graded)."""

    def __init__(self, domain: Domain, case: Case):
        msh = domain.msh
        props = oxide_properties(case)
        present = domain.regions_present()

        def field(key):
            return region_function(domain, {reg: props[reg][key] for reg in present}, key)

        self.diffusivity = field("lithium_diffusivity")
        self.youngs_modulus = field("youngs_modulus")
        self.poisson_ratio = field("poisson_ratio")
        self.partial_molar_volume = field("partial_molar_volume")
        self.in_layer = region_function(domain, {"layer": 1.0} if "layer" in present else {}, "in_layer")
        self.c_max_core = case.materials.core.lithium_site_concentration.si
        self.deficiency = case.materials.layer.site_deficiency_at_surface.si
        self.c_max_core_constant = compat.constant(msh, self.c_max_core)
        self.deficiency_constant = compat.constant(msh, self.deficiency)
        self.profile = case.materials.layer.profile
        self.domain = domain
        layer = case.materials.layer
        if layer.lithium_diffusivity_profile == "graded" and layer.lithium_diffusivity is not None:
            self.diffusivity = graded_diffusivity(
                compat.constant(msh, props["core"]["lithium_diffusivity"]),
                compat.constant(msh, props["layer"]["lithium_diffusivity"]),
                self.layer_grading())
        E, nu = self.youngs_modulus, self.poisson_ratio
        self.lmbda = E * nu / ((1 + nu) * (1 - 2 * nu))
        self.mu = E / (2 * (1 + nu))

    def layer_grading(self):
        """g(r) in [0, 1]: 1 at the oxide surface, 0 at the layer's inner edge and below."""
        d = self.domain
        thickness = d.layer_thickness_m
        if thickness <= 0 or self.deficiency == 0:
            return 0
        depth = d.surface_depth / d.layer_thickness  # 0 at surface, 1 at inner edge (Domain.surface_depth)
        g = grading_shape(depth, self.profile, ufl.erf)
        return self.in_layer * ufl.max_value(0, ufl.min_value(1, g))

    def site_concentration(self):
        """c_max(r) in mol/m^3: lower in the Li-deficient layer."""
        return self.c_max_core_constant * (1 - self.deficiency_constant * self.layer_grading())

    def site_concentration_at(self, r: np.ndarray) -> np.ndarray:
        """c_max at radii r (numpy), for profiles and checks."""
        d = self.domain
        return site_concentration_profile(r, d.oxide_radius_m, d.layer_thickness_m,
                                          self.c_max_core, self.deficiency, self.profile)


ERFC_2 = 0.004677734981047266  # erfc(2)


def grading_shape(depth, profile: str, erf):
    """The layer's deficiency shape at `depth` (0 at the oxide surface, 1 at the inner
    edge), unclipped; `erf` is ufl.erf or scipy's. erfc: the Li depletion of diffusion
    from a surface held at a fixed composition (Crank, The Mathematics of Diffusion,
    §3.3), cut at erfc(2) = 0.005; erfc_continuous: the same shifted and rescaled to 0 at
    the inner edge, so that c_max has no jump there."""
    if profile == "step":
        return 1 + 0 * depth
    if profile == "linear":
        return 1 - depth
    if profile == "erfc":
        return 1 - erf(2 * depth)
    if profile == "erfc_continuous":
        return (1 - erf(2 * depth) - ERFC_2) / (1 - ERFC_2)
    raise ValueError(f"unknown layer profile {profile!r}")


def site_concentration_profile(r, oxide_radius_m: float, thickness_m: float, c_max_core: float,
                               deficiency: float, profile: str):
    """c_max(r) in mol/m^3 (numpy): c_max_core (1 - deficiency g(r)) in the layer."""
    from scipy.special import erf

    r = np.asarray(r, dtype=float)
    g = np.zeros_like(r)
    if thickness_m > 0 and deficiency > 0:
        depth = (oxide_radius_m - r) / thickness_m
        inside = (depth >= 0) & (depth <= 1)
        g = np.where(inside, np.clip(grading_shape(depth, profile, erf), 0, 1), 0.0)
    return c_max_core * (1 - deficiency * g)

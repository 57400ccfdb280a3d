"""The particle's regions and element sizes as numbers: region and surface radii, the
default sizes of each shape, and the rules a particle must meet to be meshed (raised
with the argument's name and allowed range). Pure arithmetic, no Gmsh: the case schema
checks a case with it before anything is built."""
from __future__ import annotations

import numpy as np


def region_radii(radius_m: float, layer_thickness_m: float = 0.0,
                 coating_thickness_m: float = 0.0) -> dict[str, float]:
    """Outer radius [m] of every region present, centre outwards."""
    radii = {"core": radius_m - layer_thickness_m - coating_thickness_m}
    if layer_thickness_m > 0:
        radii["layer"] = radius_m - coating_thickness_m
    if coating_thickness_m > 0:
        radii["coating"] = radius_m
    return radii


def surface_radii(radius_m: float, layer_thickness_m: float = 0.0,
                  coating_thickness_m: float = 0.0) -> dict[str, float]:
    """Radius [m] of every tagged spherical surface: the interfaces and the outer surface.

    The interface below the layer is `core_layer_interface`; the one below the coating is
    `oxide_coating_interface` (layer|coating, or core|coating when there is no layer)."""
    radii = region_radii(radius_m, layer_thickness_m, coating_thickness_m)
    regions = list(radii)
    surfaces = {}
    for inner, outer in zip(regions, regions[1:]):
        name = "core_layer_interface" if outer == "layer" else "oxide_coating_interface"
        surfaces[name] = radii[inner]
    surfaces["outer_surface"] = radius_m
    return surfaces


def default_sizes(radius_m: float, layer_thickness_m: float = 0.0,
                  coating_thickness_m: float = 0.0, shape: str = "octant") -> dict[str, float]:
    """Element sizes [m] used where a case or caller gives none; they follow the shape.

    3D (octant, sphere): size_bulk = R/8 in the core, size_surface = min(R/30, δ/3, t) at
    the outer surface and the interfaces: about 3 elements across the layer, the coating
    at least one element thick. Cells grow as size^-3, so these stay at ~10^4-10^5 tets.
    1D (radial): a hundred times more cells cost nothing, so size_bulk = R/50 and
    size_surface = min(R/300, δ/40, t/10): 40 elements across the layer (at R = 150 nm,
    δ = 20 nm: 3 nm and 0.5 nm, the paper cases' converged 1D sizes)."""
    if shape == "radial":
        bulk, surface, per_layer, per_coating = radius_m / 50, radius_m / 300, 40, 10
    else:
        bulk, surface, per_layer, per_coating = radius_m / 8, radius_m / 30, 3, 1
    if layer_thickness_m > 0:
        surface = min(surface, layer_thickness_m / per_layer)
    if coating_thickness_m > 0:
        surface = min(surface, coating_thickness_m / per_coating)
    return {"size_bulk_m": bulk, "size_surface_m": surface}


def checked_inputs(radius_m, layer_thickness_m=0.0, coating_thickness_m=0.0, *,
                   size_bulk_m=None, size_surface_m=None, size_interface_m=None,
                   size_growth=0.3, shape="octant", radial_layers=None) -> dict:
    """The inputs in SI with the shape's default sizes filled in (as recorded in
    info.json), after `check_inputs`. `radial_layers` ({"count": N, "depth_m": D}, octant
    and sphere only; `check_radial_layers`) appears in the result only when given, so a
    mesh without it keeps its inputs (and its mesh-cache key)."""
    defaults = default_sizes(radius_m, layer_thickness_m, coating_thickness_m, shape)
    if size_bulk_m is None:  # never finer than a given surface size
        size_bulk_m = max(defaults["size_bulk_m"], size_surface_m or 0.0)
    if size_surface_m is None:  # never coarser than a given bulk size
        size_surface_m = min(defaults["size_surface_m"], size_bulk_m)
    size_interface_m = size_surface_m if size_interface_m is None else size_interface_m
    if radial_layers is not None:
        if shape not in ("octant", "sphere"):
            raise ValueError(f"radial_layers: only for the octant and the sphere, got shape {shape!r}")
        radial_layers = check_radial_layers(radial_layers, radius_m, layer_thickness_m,
                                            coating_thickness_m)
    check_inputs(radius_m, layer_thickness_m, coating_thickness_m, size_bulk_m,
                 size_surface_m, size_interface_m, shells_in_elements=radial_layers is None)
    if not size_growth > 0:
        raise ValueError(f"size_growth must be > 0, got {size_growth!r}")
    layered = {} if radial_layers is None else {"radial_layers": radial_layers}
    return {**layered, 
        "radius_m": float(radius_m),
        "layer_thickness_m": float(layer_thickness_m),
        "coating_thickness_m": float(coating_thickness_m),
        "size_bulk_m": float(size_bulk_m),
        "size_surface_m": float(size_surface_m),
        "size_interface_m": float(size_interface_m),
        "size_growth": float(size_growth),
    }


def check_inputs(radius_m, layer_thickness_m, coating_thickness_m, size_bulk_m,
                 size_surface_m, size_interface_m, shells_in_elements=True) -> None:
    """Raise ValueError, naming the argument and its allowed range, for a particle that
    cannot be meshed: R <= 0, negative thicknesses, δ + t >= R, sizes outside (0, R],
    surface sizes above the bulk size, or a layer thinner than the elements next to it
    (not checked with `shells_in_elements=False`: a radially layered shell holds them)."""
    R, delta, t = radius_m, layer_thickness_m, coating_thickness_m
    if not R > 0:
        raise ValueError(f"radius_m must be > 0, got {R!r}")
    for name, value in (("layer_thickness_m", delta), ("coating_thickness_m", t)):
        if not value >= 0:
            raise ValueError(f"{name} must be >= 0, got {value!r}")
    if not delta + t < R:
        raise ValueError(
            "layer_thickness_m + coating_thickness_m must be < radius_m "
            f"(= {R:g} m) so that the core exists, got {delta:g} + {t:g} = {delta + t:g} m")
    sizes = {"size_bulk_m": size_bulk_m, "size_surface_m": size_surface_m,
             "size_interface_m": size_interface_m}
    for name, value in sizes.items():
        if not 0 < value <= R:
            raise ValueError(f"{name} must be in (0, radius_m = {R:g} m], got {value!r}")
    for name in ("size_surface_m", "size_interface_m"):
        if sizes[name] > size_bulk_m:
            raise ValueError(f"{name} must be <= size_bulk_m = {size_bulk_m:g} m, "
                             f"got {sizes[name]:g} m")
    if shells_in_elements:
        _check_layers_resolved(region_radii(R, delta, t), sizes)


MAX_RADIAL_LAYERS = 1000  # element layers across a radially layered shell


def check_radial_layers(radial_layers: dict, radius_m: float, layer_thickness_m: float,
                        coating_thickness_m: float) -> dict:
    """{"count": N, "depth_m": D} checked, in plain numbers: the outer shell
    R - D <= r <= R meshed as N radial element layers (meshes/particle.py). D covers the
    layer and the coating and reaches into the core (D > δ + t), at most R/2; N is an
    integer from one element per region in the shell up to MAX_RADIAL_LAYERS. ValueError
    names the key and its allowed range."""
    if not isinstance(radial_layers, dict) or set(radial_layers) != {"count", "depth_m"}:
        raise ValueError(f"radial_layers must be {{'count': N, 'depth_m': D}}, got {radial_layers!r}")
    count, depth = radial_layers["count"], radial_layers["depth_m"]
    shells = layer_thickness_m + coating_thickness_m
    if not (isinstance(depth, (int, float)) and shells < depth <= radius_m / 2):
        raise ValueError(
            f"radial_layers.depth_m must be > layer_thickness_m + coating_thickness_m = "
            f"{shells:g} m (the shell reaches into the core) and <= radius_m / 2 = "
            f"{radius_m / 2:g} m, got {depth!r}")
    regions = 1 + (layer_thickness_m > 0) + (coating_thickness_m > 0)
    if isinstance(count, bool) or not isinstance(count, int) or not regions <= count <= MAX_RADIAL_LAYERS:
        raise ValueError(f"radial_layers.count must be an integer in [{regions}, "
                         f"{MAX_RADIAL_LAYERS}] (at least one element layer per region in "
                         f"the shell), got {count!r}")
    return {"count": int(count), "depth_m": float(depth)}


def shell_radii(inputs: dict) -> np.ndarray:
    """Radii [m], inner to outer, of the N + 1 node spheres of a radially layered shell
    (inputs["radial_layers"] = {"count": N, "depth_m": D}, as from `checked_inputs`).

    A node sphere sits on every interface and on the outer surface. The element layers are
    thinnest at those spheres and thicken by size_growth per unit of distance from the
    nearest one, as the 3D size field grades (h = h_0 + g d): h_0 is solved for so that
    the N layers, each region's share rounded to a whole number (at least one), fill the
    shell; within a region the nodes equidistribute the integral of 1/h."""
    R = inputs["radius_m"]
    n, depth = inputs["radial_layers"]["count"], inputs["radial_layers"]["depth_m"]
    g = inputs["size_growth"]
    refined = np.array(list(surface_radii(R, inputs["layer_thickness_m"],
                                          inputs["coating_thickness_m"]).values()))
    bounds = np.concatenate([[R - depth], refined])
    r = [np.linspace(a, b, 4001) for a, b in zip(bounds, bounds[1:])]
    distance = [np.abs(x[:, None] - refined[None, :]).min(axis=1) for x in r]

    def integrals(h0):
        out = []
        for x, d in zip(r, distance):
            density = 1 / (h0 + g * d)
            out.append(np.concatenate([[0.0], np.cumsum((density[1:] + density[:-1]) / 2 * np.diff(x))]))
        return out

    lo, hi = depth * 1e-9, depth  # total layers fall as h0 grows: bisect on log h0 for n
    for _ in range(100):
        mid = np.sqrt(lo * hi)
        lo, hi = (mid, hi) if sum(c[-1] for c in integrals(mid)) > n else (lo, mid)
    cumulative = integrals(hi)
    shares = np.array([c[-1] for c in cumulative])
    counts = np.maximum(1, np.floor(shares * n / shares.sum())).astype(int)
    while counts.sum() < n:  # largest remainder
        counts[np.argmax(shares * n / shares.sum() - counts)] += 1
    while counts.sum() > n:
        counts[np.argmax(np.where(counts > 1, counts - shares * n / shares.sum(), -np.inf))] -= 1
    nodes = [bounds[:1]]
    for x, c, k in zip(r, cumulative, counts):
        nodes.append(np.interp(np.linspace(0, c[-1], k + 1)[1:], c, x))
    radii = np.concatenate(nodes)
    radii[-1] = R
    return radii


def _check_layers_resolved(radii: dict[str, float], sizes: dict[str, float]) -> None:
    """A shell thinner than the element size at its bounding surfaces would be meshed
    with slivers or not at all: require thickness >= that size (2-3 elements across it
    is better)."""
    thickness_arg = {"layer": "layer_thickness_m", "coating": "coating_thickness_m"}
    regions = list(radii)
    for inner, region in zip(regions, regions[1:]):
        thickness = radii[region] - radii[inner]
        outer_size = "size_surface_m" if region == regions[-1] else "size_interface_m"
        size_name = max(("size_interface_m", outer_size), key=sizes.get)
        if thickness < sizes[size_name]:
            raise ValueError(
                f"{thickness_arg[region]} = {thickness:g} m is thinner than the element "
                f"size at its surfaces, {size_name} = {sizes[size_name]:g} m: use a size "
                f"<= {thickness:g} m (about a third of it gives 3 elements across)")

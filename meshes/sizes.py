"""The particle's regions and element sizes as numbers: region and surface radii, the
default sizes of each shape, and the rules a particle must meet to be meshed (raised
with the argument's name and allowed range). Pure arithmetic, no Gmsh: the case schema
checks a case with it before anything is built."""
from __future__ import annotations


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
                   size_growth=0.3, shape="octant") -> dict:
    """The inputs in SI with the shape's default sizes filled in (as recorded in
    info.json), after `check_inputs`."""
    defaults = default_sizes(radius_m, layer_thickness_m, coating_thickness_m, shape)
    if size_bulk_m is None:  # never finer than a given surface size
        size_bulk_m = max(defaults["size_bulk_m"], size_surface_m or 0.0)
    if size_surface_m is None:  # never coarser than a given bulk size
        size_surface_m = min(defaults["size_surface_m"], size_bulk_m)
    size_interface_m = size_surface_m if size_interface_m is None else size_interface_m
    check_inputs(radius_m, layer_thickness_m, coating_thickness_m, size_bulk_m,
                 size_surface_m, size_interface_m)
    if not size_growth > 0:
        raise ValueError(f"size_growth must be > 0, got {size_growth!r}")
    return {
        "radius_m": float(radius_m),
        "layer_thickness_m": float(layer_thickness_m),
        "coating_thickness_m": float(coating_thickness_m),
        "size_bulk_m": float(size_bulk_m),
        "size_surface_m": float(size_surface_m),
        "size_interface_m": float(size_interface_m),
        "size_growth": float(size_growth),
    }


def check_inputs(radius_m, layer_thickness_m, coating_thickness_m, size_bulk_m,
                 size_surface_m, size_interface_m) -> None:
    """Raise ValueError, naming the argument and its allowed range, for a particle that
    cannot be meshed: R <= 0, negative thicknesses, δ + t >= R, sizes outside (0, R],
    surface sizes above the bulk size, or a layer thinner than the elements next to it."""
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
    _check_layers_resolved(region_radii(R, delta, t), sizes)


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

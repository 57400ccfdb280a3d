"""The non-spherical shapes' keys in a case (geometry.shape: ellipsoid, platelet,
truncated_octahedron, imported): which keys each shape needs, their SI values for the
mesh builders, and the derived `geometry.radius` = 3 V / A (the radius of the sphere
with the same volume-to-surface ratio: the C-rate's current per unit area and the RuO2
capacity per area then follow the sphere formulas exactly; docs/shapes.md)."""
from __future__ import annotations

import functools
import math
from pathlib import Path

SHAPE_KEYS = {"ellipsoid": ("semi_axes",), "platelet": ("width", "thickness"),
              "truncated_octahedron": ("edge_length",), "imported": ("file",)}
ALL_KEYS = ("semi_axes", "width", "thickness", "edge_length", "file", "file_unit")
RADIUS_SOURCE = "derived: 3 V / A of the shape (docs/shapes.md)"
RADIUS_RTOL = 1e-9


def _length(raw):
    from pydantic import TypeAdapter

    from solver.case.units import PositiveLength

    return TypeAdapter(PositiveLength).validate_python(raw)


def _si(raw) -> float:
    return _length(raw).si


def shape_parameters_si(shape: str, get) -> dict:
    """Builder arguments in SI from the geometry keys (`get(key)` gives a Quantity, a
    list of them, a str or None)."""
    if shape == "ellipsoid":
        return {"semi_axes_m": [float(q) for q in get("semi_axes")]}
    if shape == "platelet":
        return {"width_m": float(get("width")), "thickness_m": float(get("thickness"))}
    if shape == "truncated_octahedron":
        return {"edge_length_m": float(get("edge_length"))}
    if shape == "imported":
        unit = get("file_unit")
        return {"file": str(get("file")), "file_unit_m": 1.0 if unit is None else float(unit)}
    raise ValueError(f"not a non-spherical shape: {shape!r}")


def volume_area_m(shape: str, params: dict) -> tuple[float, float]:
    """(V [m^3], A [m^2]): closed forms, or measured on the imported file."""
    if shape == "imported":
        from meshes.imported import file_kind

        path = Path(params["file"])
        file_kind(path)
        if not path.is_file():
            raise ValueError(f"geometry.file: {path} does not exist")
        stat = path.stat()
        return _measured(str(path.resolve()), stat.st_mtime_ns, stat.st_size, params["file_unit_m"])
    from meshes.shapes import volume_area

    return volume_area(shape, params)


@functools.lru_cache(maxsize=16)
def _measured(path: str, mtime_ns: int, size: int, unit_m: float) -> tuple[float, float]:
    from meshes.gmsh_io import gmsh_session
    from meshes.imported import measure

    try:
        with gmsh_session("measure"):
            return measure(path, unit_m)
    except ValueError:
        raise
    except Exception as exc:  # Gmsh's own errors on a file it cannot read
        raise ValueError(f"geometry.file: cannot read {path}: {exc}") from None


def derived_radius_entry(data):
    """Before validation: a non-spherical geometry without `radius` gets the derived one
    (raw keys that cannot be read are left for the field validators to report)."""
    shape = data.get("shape") if isinstance(data, dict) else None
    if not isinstance(shape, str) or shape not in SHAPE_KEYS:  # e.g. a mapping: the field validator says so
        return data
    if data.get("radius") is not None:
        return data
    missing = [k for k in SHAPE_KEYS[shape] if data.get(k) is None]
    if missing:
        raise ValueError(f"geometry.shape {shape!r} needs geometry." + ", geometry.".join(missing))
    from pydantic import ValidationError

    def get(key):
        raw = data.get(key)
        if raw is None or key == "file":
            return raw
        return [_si(v) for v in raw] if isinstance(raw, list) else _si(raw)

    try:
        params = shape_parameters_si(shape, get)
    except (ValidationError, TypeError):  # reported by the field validators
        return data
    if shape == "imported":
        radius = 3 * _ratio(shape, params)  # a missing or unreadable file: ValueError here
    else:
        try:
            radius = 3 * _ratio(shape, params)
        except ValueError:  # e.g. two semi-axes: reported by the field validators
            return data
    return {**data, "radius": {"value": radius, "unit": "m", "source": RADIUS_SOURCE}}


def surface_area_m2(g) -> float:
    """Surface area [m^2] of a validated non-spherical geometry section."""
    return volume_area_m(g.shape, shape_parameters_si(g.shape, lambda k: getattr(g, k)))[1]


def _ratio(shape, params) -> float:
    volume, area = volume_area_m(shape, params)
    return volume / area


def check_shape_parameters(g) -> None:
    """After validation: each shape has its keys and no other shape's; a given radius
    equals 3 V / A; the layer fits inside the shape; no coating (RuO2 on these shapes is
    oxygen.islands)."""
    given = {k for k in ALL_KEYS if getattr(g, k) is not None}
    needed = set(SHAPE_KEYS.get(g.shape, ()))
    allowed = needed | ({"file_unit"} if g.shape == "imported" else set())
    if given - allowed:
        raise ValueError(f"geometry: {', '.join(sorted(given - allowed))} not used by shape "
                         f"{g.shape!r} (it takes {', '.join(sorted(allowed)) or 'radius only'})")
    if needed - given:
        raise ValueError(f"geometry.shape {g.shape!r} needs geometry."
                         + ", geometry.".join(sorted(needed - given)))
    if not needed:
        return
    params = shape_parameters_si(g.shape, lambda k: getattr(g, k))
    for key, value in params.items():
        values = value if isinstance(value, list) else [value]
        if key.endswith("_m") and any(v > 1.0 for v in values):
            raise ValueError(f"geometry.{key[:-2]} must be <= 1 m (a particle)")
    radius = 3 * _ratio(g.shape, params)
    if g.radius.source == RADIUS_SOURCE and not math.isclose(g.radius.si, radius, rel_tol=RADIUS_RTOL):
        # a size changed by assignment (case.geometry.width = ...): derive again, in place
        # (assigning the field here would validate the section again, recursively)
        g.__dict__["radius"] = _length({"value": radius, "unit": "m", "source": RADIUS_SOURCE})
    if not math.isclose(g.radius.si, radius, rel_tol=RADIUS_RTOL):
        raise ValueError(f"geometry.radius is derived for shape {g.shape!r} (3 V / A = "
                         f"{radius:.6g} m); leave it out, got {g.radius.short()}")
    if g.coating_thickness.si > 0:
        raise ValueError(f"geometry.coating_thickness must be 0 for shape {g.shape!r} "
                         "(RuO2 on these shapes: oxygen.islands)")
    if g.shape != "imported":
        from meshes.shapes import inradius_m

        depth = inradius_m(g.shape, params)
        if not g.layer_thickness.si < depth:
            raise ValueError(f"geometry.layer_thickness must be < {depth:.6g} m, the depth "
                             f"of the {g.shape}'s centre; got {g.layer_thickness.short()}")

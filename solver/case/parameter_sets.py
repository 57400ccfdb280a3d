"""Published material parameter sets for the particle core, each value with its citation.

A case selects one with `materials: {core: {parameter_set: NAME}}`; the set fills every
core value the case does not give (explicit values win), and each filled value carries
its citation and kind (measured, derived, fitted, adopted, assumed) in its `source`, so
the resolved case (`case.yaml` of a run) records where every number came from. The data
live in parameter_sets.yaml beside this module; docs/parameter-sets.md describes them.

A set may also carry the material's electrochemistry (open-circuit voltage, exchange
current density, charge-transfer coefficient, D(theta) factor, lattice volume change:
solver/case/electrochemistry.py). These are never filled unasked: a case takes one by
writing `from_set` for its key (`open_circuit_voltage: from_set`), so that choosing a set
changes no existing run.

Each set also cites the measured lattice volume change of its material over a window of
site fractions (`measured_volume_change`), so that its partial molar volume can be checked
against the measurement (tests/test_parameter_set_volume_change.py). A set may be
`based_on` another: it takes every entry of that set and replaces those it writes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from solver.case.loading import clip_repr, parse_yaml
from solver.case.units import ureg

DATA_FILE = "parameter_sets.yaml"
KINDS = ("measured", "derived", "fitted", "adopted", "assumed")
# the CoreMaterial keys a set fills (solver/case/schema.py)
CORE_KEYS = ("density", "lithium_diffusivity", "lithium_site_concentration",
             "youngs_modulus", "poisson_ratio", "partial_molar_volume")
CONTEXT_KEYS = ("radius", "initial_site_fraction", "min_site_fraction", "current_1C")
# the CoreMaterial keys a case may take from its set with `from_set` (never filled unasked)
FROM_SET = "from_set"
SCALAR_ELECTROCHEMISTRY_KEYS = ("exchange_current_density", "charge_transfer_coefficient")
TABLE_ELECTROCHEMISTRY_KEYS = ("open_circuit_voltage", "lithium_diffusivity_factor", "volume_change")
ELECTROCHEMISTRY_KEYS = ("open_circuit_voltage", "exchange_current_density",
                         "charge_transfer_coefficient", "lithium_diffusivity_factor", "volume_change")


@dataclass(frozen=True)
class Reference:
    key: str
    authors: str
    title: str
    journal: str
    year: int
    doi: str

    def short(self) -> str:
        """'C.-H. Chen et al., J. Electrochem. Soc. 167, 080534 (2020), doi:10.1149/...'."""
        names = self.authors.split(", ")
        who = names[0] + (" et al." if len(names) > 1 else "")
        doi = f", doi:{self.doi}" if self.doi else ""
        return f"{who}, {self.journal} ({self.year}){doi}"


@dataclass(frozen=True)
class SetValue:
    value: float
    unit: str
    kind: str
    refs: tuple[Reference, ...]
    note: str

    def source(self, set_name: str) -> str:
        """The text a filled quantity carries as its `source`."""
        cited = "; ".join(r.short() for r in self.refs) or "no published source"
        return f"parameter set {set_name}: {self.kind.upper()}: {self.note} [{cited}]"

    def quantity(self, set_name: str) -> dict:
        """As written in a case file: {value, unit, source}."""
        return {"value": self.value, "unit": self.unit, "source": self.source(set_name)}


@dataclass(frozen=True)
class Anchor:
    """One labelled point of a set's table: the point (site fraction, voltage) it names,
    or a bound of the window (no site fraction), with its own kind and references."""
    site_fraction: float | None
    voltage: float
    kind: str
    refs: tuple[Reference, ...]
    note: str

    def text(self) -> str:
        cited = "; ".join(r.short() for r in self.refs) or "no published source"
        where = (f"theta = {self.site_fraction:g}: {self.voltage:g} V" if self.site_fraction is not None
                 else f"window bound {self.voltage:g} V")
        return f"{where} {self.kind.upper()}: {self.note} [{cited}]"


@dataclass(frozen=True)
class SetTable:
    """A table (or expression) of a set: `data` as a case file writes it, without its
    source; the kind, references and note of the whole; labelled points."""
    data: dict
    kind: str
    refs: tuple[Reference, ...]
    note: str
    anchors: tuple[Anchor, ...] = ()

    def source(self, set_name: str) -> str:
        cited = "; ".join(r.short() for r in self.refs) or "no published source"
        text = f"parameter set {set_name}: {self.kind.upper()}: {self.note} [{cited}]"
        if self.anchors:
            text += "; labelled points: " + "; ".join(a.text() for a in self.anchors)
        return text

    def case_entry(self, set_name: str) -> dict:
        """As written in a case file: the data with its `source`."""
        return {**self.data, "source": self.source(set_name)}

    def all_refs(self) -> tuple[Reference, ...]:
        return self.refs + tuple(r for a in self.anchors for r in a.refs)


@dataclass(frozen=True)
class MeasuredVolumeChange:
    """The relative unit-cell volume change V(to)/V(from) - 1 measured on the material
    between two site fractions (a window of the Li content), with its kind and references."""
    value: float
    site_fraction_from: float
    site_fraction_to: float
    kind: str
    refs: tuple[Reference, ...]
    note: str


@dataclass(frozen=True)
class ParameterSet:
    name: str
    title: str
    material: str
    values: dict          # CORE_KEYS -> SetValue
    context: dict         # CONTEXT_KEYS -> SetValue (what the source used; not filled)
    electrochemistry: dict = field(default_factory=dict)  # ELECTROCHEMISTRY_KEYS -> SetValue | SetTable
    measured_volume_change: MeasuredVolumeChange | None = None
    based_on: str | None = None

    def linear_volume_change(self, site_fraction_from: float, site_fraction_to: float) -> float:
        """Omega c_max (theta_to - theta_from): the relative volume change of a traction-free
        particle whose lattice follows the set's constant partial molar volume (small strain;
        the mean elastic dilatation of a traction-free body vanishes)."""
        omega_m3_mol = _si(self.values["partial_molar_volume"])
        c_max_mol_m3 = _si(self.values["lithium_site_concentration"])
        return omega_m3_mol * c_max_mol_m3 * (site_fraction_to - site_fraction_from)

    def references(self) -> list[Reference]:
        """Every work the set's core values and context cite, in order of first use
        (`electrochemistry_references()` for the rest)."""
        return _unique(r for entry in (*self.values.values(), *self.context.values())
                       for r in entry.refs)

    def electrochemistry_references(self, keys=ELECTROCHEMISTRY_KEYS) -> list[Reference]:
        """The works the set's electrochemistry entries `keys` cite."""
        return _unique(r for key in keys if key in self.electrochemistry
                       for r in _entry_refs(self.electrochemistry[key]))

    def citations(self) -> list[str]:
        return [r.short() for r in self.references()]


def _si(entry: SetValue) -> float:
    return float(ureg.Quantity(entry.value, entry.unit or "dimensionless").to_base_units().magnitude)


def _entry_refs(entry) -> tuple[Reference, ...]:
    return entry.all_refs() if isinstance(entry, SetTable) else entry.refs


def _unique(refs) -> list[Reference]:
    seen: dict[str, Reference] = {}
    for ref in refs:
        seen.setdefault(ref.key, ref)
    return list(seen.values())


def _read_value(set_name: str, key: str, raw, refs: dict) -> SetValue:
    where = f"{DATA_FILE}: sets.{set_name}.{key}"
    if not isinstance(raw, dict) or set(raw) != {"value", "unit", "kind", "refs", "note"}:
        raise ValueError(f"{where}: needs exactly value, unit, kind, refs, note")
    kind, cited = _read_kind_refs(where, raw, refs)
    return SetValue(float(raw["value"]), str(raw["unit"]), kind, cited, str(raw["note"]).strip())


def _read_kind_refs(where: str, raw: dict, refs: dict) -> tuple[str, tuple[Reference, ...]]:
    if raw["kind"] not in KINDS:
        raise ValueError(f"{where}.kind: one of {', '.join(KINDS)}; got {clip_repr(raw['kind'])}")
    unknown = [r for r in raw["refs"] if r not in refs]
    if unknown:
        raise ValueError(f"{where}.refs: unknown reference {unknown[0]!r}")
    if raw["kind"] != "assumed" and not raw["refs"]:
        raise ValueError(f"{where}: a {raw['kind']} value needs a reference")
    return raw["kind"], tuple(refs[r] for r in raw["refs"])


def _read_table(set_name: str, key: str, raw, refs: dict) -> SetTable:
    """{data, kind, refs, note, anchors?}; each anchor names a point of the table (or a
    bound of its window) exactly."""
    where = f"{DATA_FILE}: sets.{set_name}.electrochemistry.{key}"
    if not isinstance(raw, dict) or not {"data", "kind", "refs", "note"} <= set(raw) <= {
            "data", "kind", "refs", "note", "anchors"} or not isinstance(raw["data"], dict):
        raise ValueError(f"{where}: needs data (a mapping), kind, refs, note and optionally anchors")
    if "source" in raw["data"]:
        raise ValueError(f"{where}.data: no source (it is written from kind, refs and note)")
    kind, cited = _read_kind_refs(where, raw, refs)
    anchors = []
    points = dict(zip(raw["data"].get("site_fraction", []), raw["data"].get("voltage", [])))
    bounds = [float(str(b).split()[0]) for b in raw["data"].get("window", [])]
    for i, a in enumerate(raw.get("anchors", [])):
        here = f"{where}.anchors[{i}]"
        if not isinstance(a, dict) or not {"voltage", "kind", "refs", "note"} <= set(a) <= {
                "site_fraction", "voltage", "kind", "refs", "note"}:
            raise ValueError(f"{here}: needs voltage, kind, refs, note and optionally site_fraction")
        s = a.get("site_fraction")
        named = points.get(s) == a["voltage"] if s is not None else a["voltage"] in bounds
        if not named:
            raise ValueError(f"{here}: ({s}, {a['voltage']} V) is not a point of the table nor a "
                             "bound of its window")
        a_kind, a_refs = _read_kind_refs(here, a, refs)
        anchors.append(Anchor(None if s is None else float(s), float(a["voltage"]), a_kind, a_refs,
                              str(a["note"]).strip()))
    return SetTable(dict(raw["data"]), kind, cited, str(raw["note"]).strip(), tuple(anchors))


def _read_electrochemistry(set_name: str, raw, refs: dict) -> dict:
    if not isinstance(raw, dict) or not set(raw) <= set(ELECTROCHEMISTRY_KEYS):
        raise ValueError(f"{DATA_FILE}: sets.{set_name}.electrochemistry: keys among "
                         f"{', '.join(ELECTROCHEMISTRY_KEYS)}")
    return {k: (_read_table(set_name, k, v, refs) if k in TABLE_ELECTROCHEMISTRY_KEYS
                else _read_value(set_name, f"electrochemistry.{k}", v, refs)) for k, v in raw.items()}


def _read_volume_measurement(set_name: str, raw, refs: dict) -> MeasuredVolumeChange:
    """{value, window: [site fraction from, to], kind, refs, note}."""
    where = f"{DATA_FILE}: sets.{set_name}.measured_volume_change"
    if not isinstance(raw, dict) or set(raw) != {"value", "window", "kind", "refs", "note"}:
        raise ValueError(f"{where}: needs exactly value, window, kind, refs, note")
    window = raw["window"]
    if (not isinstance(window, list) or len(window) != 2 or window[0] == window[1]
            or not all(isinstance(w, (int, float)) and 0 <= w <= 1 for w in window)):
        raise ValueError(f"{where}.window: two different site fractions in [0, 1] (from, to)")
    kind, cited = _read_kind_refs(where, raw, refs)
    return MeasuredVolumeChange(float(raw["value"]), float(window[0]), float(window[1]), kind, cited,
                                str(raw["note"]).strip())


def _with_base(name: str, raw: dict, every: dict) -> dict:
    """The raw entry of a set `based_on` another: the other's entries, replaced by its own."""
    base = raw.get("based_on")
    if base is None:
        return raw
    if base not in every or "based_on" in every[base]:
        raise ValueError(f"{DATA_FILE}: sets.{name}.based_on: a set that is not itself based on "
                         f"another; got {clip_repr(base, 60)}")
    parent = every[base]
    merged = {**parent, **raw}
    for section in ("values", "context", "electrochemistry"):
        merged[section] = {**parent.get(section, {}), **raw.get(section, {})}
    return merged


def _parse(data: dict) -> dict[str, ParameterSet]:
    refs = {k: Reference(k, **v) for k, v in data["references"].items()}
    sets = {}
    for name, own in data["sets"].items():
        raw = _with_base(name, own, data["sets"])
        values = {k: _read_value(name, k, v, refs) for k, v in raw["values"].items()}
        context = {k: _read_value(name, k, v, refs) for k, v in raw.get("context", {}).items()}
        if set(values) != set(CORE_KEYS):
            raise ValueError(f"{DATA_FILE}: sets.{name}.values: needs exactly {', '.join(CORE_KEYS)}")
        if not set(context) <= set(CONTEXT_KEYS):
            raise ValueError(f"{DATA_FILE}: sets.{name}.context: keys among {', '.join(CONTEXT_KEYS)}")
        electrochemistry = _read_electrochemistry(name, raw.get("electrochemistry", {}), refs)
        measured = raw.get("measured_volume_change")
        measured = None if measured is None else _read_volume_measurement(name, measured, refs)
        sets[name] = ParameterSet(name, raw["title"], raw["material"], values, context,
                                  electrochemistry, measured, raw.get("based_on"))
    return sets


@lru_cache(maxsize=1)
def parameter_sets() -> dict[str, ParameterSet]:
    """Every shipped set by name (read once from the package data)."""
    text = resources.files("solver.case").joinpath(DATA_FILE).read_text(encoding="utf-8")
    return _parse(parse_yaml(text, DATA_FILE))


def get_parameter_set(name: str) -> ParameterSet:
    """The set called `name`; ValueError naming the allowed names otherwise."""
    sets = parameter_sets()
    if name not in sets:
        raise ValueError(f"parameter_set: unknown set {clip_repr(name, 60)}; allowed: "
                         f"{', '.join(sorted(sets))}")
    return sets[name]


def fill_core(data):
    """Core material data (as read from a case) with the selected set's values filled in
    where the case gives none, and its electrochemistry entries where the case writes
    `from_set`; anything but a mapping is returned as is."""
    if not isinstance(data, dict):
        return data
    asked = [k for k in ELECTROCHEMISTRY_KEYS if isinstance(data.get(k), str) and data[k] == FROM_SET]
    if data.get("parameter_set") is None:
        if asked:
            raise ValueError(f"{asked[0]}: '{FROM_SET}' needs a parameter_set to take it from")
        return data
    name = data["parameter_set"]
    if not isinstance(name, str):
        raise ValueError(f"parameter_set: a set name (text); got {clip_repr(name, 60)}")
    chosen = get_parameter_set(name)
    filled = dict(data)
    for key in CORE_KEYS:
        if filled.get(key) is None:
            filled[key] = chosen.values[key].quantity(name)
    for key in asked:
        entry = chosen.electrochemistry.get(key)
        if entry is None:
            has = ", ".join(chosen.electrochemistry) or "none"
            raise ValueError(f"{key}: parameter set {name} has no {key} (its electrochemistry "
                             f"entries: {has}); give the values in the case")
        filled[key] = entry.case_entry(name) if isinstance(entry, SetTable) else entry.quantity(name)
    return filled


def case_citations(case) -> list[str]:
    """The citations of the set a case's core uses (empty without one): its core values,
    and the electrochemistry entries the case took from it."""
    core = getattr(getattr(case, "materials", None), "core", None)
    name = getattr(core, "parameter_set", None)
    if not name:
        return []
    chosen = get_parameter_set(name)
    prefix = f"parameter set {name}:"
    taken = [k for k in ELECTROCHEMISTRY_KEYS
             if (getattr(getattr(core, k, None), "source", None) or "").startswith(prefix)]
    return [r.short() for r in _unique([*chosen.references(),
                                        *chosen.electrochemistry_references(taken)])]


def markdown_table(name: str) -> str:
    """The set as a Markdown table (docs/parameter-sets.md is written from these)."""
    chosen = get_parameter_set(name)
    lines = ["| key | value | kind | note | source |", "|---|---|---|---|---|"]
    for section, entries in (("materials.core", chosen.values), ("context", chosen.context)):
        for key, entry in entries.items():
            value = f"{entry.value:g} {entry.unit}".strip()
            cited = "; ".join(r.short() for r in entry.refs) or "none"
            lines.append(f"| `{section}.{key}` | {value} | {entry.kind} | {entry.note} | {cited} |")
    measured = chosen.measured_volume_change
    if measured is not None:
        cited = "; ".join(r.short() for r in measured.refs) or "none"
        lines.append(f"| `measured_volume_change` | {100 * measured.value:+.3g} % from site fraction "
                     f"{measured.site_fraction_from:g} to {measured.site_fraction_to:g} | "
                     f"{measured.kind} | {measured.note} | {cited} |")
    return "\n".join(lines)


def _table_text(data: dict) -> str:
    """A set table's data in one Markdown cell."""
    if "expression" in data:
        lo, hi = data.get("site_fraction_range", (0, 1))
        return f"`U = {data['expression']}` on x in [{lo:g}, {hi:g}]"
    keys = [k for k in ("voltage", "factor", "value") if k in data]
    unit = f" {data.get('unit', 'V')}" if keys == ["voltage"] else ""
    pairs = ", ".join(f"({s:g}, {v:g})" for s, v in zip(data["site_fraction"], data[keys[0]]))
    window = f"; window [{', '.join(str(w) for w in data['window'])}]" if "window" in data else ""
    return f"(site fraction, {keys[0]}{unit}): {pairs}{window}"


def electrochemistry_markdown(name: str) -> str:
    """The set's electrochemistry as a Markdown table ('' without any)."""
    chosen = get_parameter_set(name)
    if not chosen.electrochemistry:
        return ""
    lines = ["| key | value | kind | note | source |", "|---|---|---|---|---|"]
    for key, entry in chosen.electrochemistry.items():
        cited = "; ".join(r.short() for r in entry.refs) or "none"
        if isinstance(entry, SetTable):
            lines.append(f"| `materials.core.{key}` | {_table_text(entry.data)} | {entry.kind} | "
                         f"{entry.note} | {cited} |")
            for a in entry.anchors:
                where = (f"point ({a.site_fraction:g}, {a.voltage:g} V)" if a.site_fraction is not None
                         else f"window bound {a.voltage:g} V")
                a_cited = "; ".join(r.short() for r in a.refs) or "none"
                lines.append(f"| ↳ {where} | | {a.kind} | {a.note} | {a_cited} |")
        else:
            value = f"{entry.value:g} {entry.unit}".strip()
            lines.append(f"| `materials.core.{key}` | {value} | {entry.kind} | {entry.note} | {cited} |")
    return "\n".join(lines)


if __name__ == "__main__":  # python -m solver.case.parameter_sets: every set as a table
    for set_name, shipped in parameter_sets().items():
        print(f"### `{set_name}`: {shipped.title}\n\n{shipped.material}\n\n{markdown_table(set_name)}\n")
    for set_name in parameter_sets():
        table = electrochemistry_markdown(set_name)
        print(f"#### `{set_name}`: electrochemistry\n\n{table or 'None shipped.'}\n")

"""Published material parameter sets for the particle core, each value with its citation.

A case selects one with `materials: {core: {parameter_set: NAME}}`; the set fills every
core value the case does not give (explicit values win), and each filled value carries
its citation and kind (measured, derived, fitted, adopted, assumed) in its `source`, so
the resolved case (`case.yaml` of a run) records where every number came from. The data
live in parameter_sets.yaml beside this module; docs/parameter-sets.md describes them.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from solver.case.loading import clip_repr, parse_yaml

DATA_FILE = "parameter_sets.yaml"
KINDS = ("measured", "derived", "fitted", "adopted", "assumed")
# the CoreMaterial keys a set fills (solver/case/schema.py)
CORE_KEYS = ("density", "lithium_diffusivity", "lithium_site_concentration",
             "youngs_modulus", "poisson_ratio", "partial_molar_volume")
CONTEXT_KEYS = ("radius", "initial_site_fraction", "min_site_fraction", "current_1C")


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
class ParameterSet:
    name: str
    title: str
    material: str
    values: dict          # CORE_KEYS -> SetValue
    context: dict         # CONTEXT_KEYS -> SetValue (what the source used; not filled)

    def references(self) -> list[Reference]:
        """Every work the set cites, in order of first use."""
        seen: dict[str, Reference] = {}
        for entry in (*self.values.values(), *self.context.values()):
            for ref in entry.refs:
                seen.setdefault(ref.key, ref)
        return list(seen.values())

    def citations(self) -> list[str]:
        return [r.short() for r in self.references()]


def _read_value(set_name: str, key: str, raw, refs: dict) -> SetValue:
    where = f"{DATA_FILE}: sets.{set_name}.{key}"
    if not isinstance(raw, dict) or set(raw) != {"value", "unit", "kind", "refs", "note"}:
        raise ValueError(f"{where}: needs exactly value, unit, kind, refs, note")
    if raw["kind"] not in KINDS:
        raise ValueError(f"{where}.kind: one of {', '.join(KINDS)}; got {clip_repr(raw['kind'])}")
    unknown = [r for r in raw["refs"] if r not in refs]
    if unknown:
        raise ValueError(f"{where}.refs: unknown reference {unknown[0]!r}")
    if raw["kind"] != "assumed" and not raw["refs"]:
        raise ValueError(f"{where}: a {raw['kind']} value needs a reference")
    return SetValue(float(raw["value"]), str(raw["unit"]), raw["kind"],
                    tuple(refs[r] for r in raw["refs"]), str(raw["note"]).strip())


def _parse(data: dict) -> dict[str, ParameterSet]:
    refs = {k: Reference(k, **v) for k, v in data["references"].items()}
    sets = {}
    for name, raw in data["sets"].items():
        values = {k: _read_value(name, k, v, refs) for k, v in raw["values"].items()}
        context = {k: _read_value(name, k, v, refs) for k, v in raw.get("context", {}).items()}
        if set(values) != set(CORE_KEYS):
            raise ValueError(f"{DATA_FILE}: sets.{name}.values: needs exactly {', '.join(CORE_KEYS)}")
        if not set(context) <= set(CONTEXT_KEYS):
            raise ValueError(f"{DATA_FILE}: sets.{name}.context: keys among {', '.join(CONTEXT_KEYS)}")
        sets[name] = ParameterSet(name, raw["title"], raw["material"], values, context)
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
    where the case gives none; anything but a mapping naming a set is returned as is."""
    if not isinstance(data, dict) or data.get("parameter_set") is None:
        return data
    name = data["parameter_set"]
    if not isinstance(name, str):
        raise ValueError(f"parameter_set: a set name (text); got {clip_repr(name, 60)}")
    chosen = get_parameter_set(name)
    filled = dict(data)
    for key in CORE_KEYS:
        if filled.get(key) is None:
            filled[key] = chosen.values[key].quantity(name)
    return filled


def case_citations(case) -> list[str]:
    """The citations of the set a case's core uses (empty without one)."""
    core = getattr(getattr(case, "materials", None), "core", None)
    name = getattr(core, "parameter_set", None)
    return get_parameter_set(name).citations() if name else []


def markdown_table(name: str) -> str:
    """The set as a Markdown table (docs/parameter-sets.md is written from these)."""
    chosen = get_parameter_set(name)
    lines = ["| key | value | kind | note | source |", "|---|---|---|---|---|"]
    for section, entries in (("materials.core", chosen.values), ("context", chosen.context)):
        for key, entry in entries.items():
            value = f"{entry.value:g} {entry.unit}".strip()
            cited = "; ".join(r.short() for r in entry.refs) or "none"
            lines.append(f"| `{section}.{key}` | {value} | {entry.kind} | {entry.note} | {cited} |")
    return "\n".join(lines)


if __name__ == "__main__":  # python -m solver.case.parameter_sets: every set as a table
    for set_name, shipped in parameter_sets().items():
        print(f"### `{set_name}`: {shipped.title}\n\n{shipped.material}\n\n{markdown_table(set_name)}\n")

"""The package layout is a stack: each folder imports only the folders below it, so a
newcomer can read it bottom-up, and the case schema depends on nothing that runs.
Imports inside functions count too."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# top to bottom, as drawn in README.md ("Layout")
LAYERS = ["lrmo", "solver.studies", "solver.simulation", "solver.io", "solver.physics",
          "solver.numerics", "solver.case", "meshes", "solver"]


def layer_of(module: str) -> int | None:
    """Index in LAYERS of the most specific layer holding `module` (None: not ours)."""
    matches = [i for i, name in enumerate(LAYERS) if module == name or module.startswith(name + ".")]
    return max(matches, key=lambda i: len(LAYERS[i])) if matches else None


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


SOURCES = sorted(p for folder in ("lrmo", "solver", "meshes") for p in (ROOT / folder).rglob("*.py"))


def test_the_layers_are_all_the_folders():
    folders = {module_name(p).rsplit(".", 1)[0] if p.name != "__init__.py" else module_name(p)
               for p in SOURCES}
    assert folders <= set(LAYERS), folders - set(LAYERS)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_a_module_imports_only_from_its_own_layer_or_below(path):
    own = layer_of(module_name(path))
    upward = sorted(m for m in imported_modules(path) if (layer := layer_of(m)) is not None and layer < own)
    assert not upward, f"{path.relative_to(ROOT)} imports from a higher layer: {upward}"


def test_the_case_schema_imports_nothing_that_runs():
    runs = ("dolfinx", "petsc4py", "gmsh", "ufl", "solver.simulation", "solver.physics", "solver.studies")
    for path in (ROOT / "solver" / "case").rglob("*.py"):
        bad = sorted(m for m in imported_modules(path) if m.startswith(runs))
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"

"""Reading user-written YAML (case, series and `--set` values) with bounded cost.

Case files come from users and batch scripts, so reading one must never hang, exhaust
memory, print a traceback or echo megabytes back. The rules (docs/case-files.md):

- the file is at most MAX_BYTES and valid UTF-8; a folder, a missing or unreadable file
  is refused with one line;
- YAML anchors and aliases are refused (no shipped case needs them; an alias "bomb"
  expands a few kB into gigabytes);
- nesting is at most MAX_DEPTH levels and a document at most MAX_NODES nodes, checked
  while composing, before PyYAML's recursive construction;
- a key given twice in one mapping is refused (PyYAML silently keeps the last one);
- every message quotes at most CLIP characters of the input.
"""
from __future__ import annotations

import re
from pathlib import Path

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError

MAX_BYTES = 1_000_000
MAX_DEPTH = 50
MAX_NODES = 20_000
CLIP = 120


class CaseError(ValueError):
    """A case file or override that cannot be used; the message names the key path."""


def clip(text: str, limit: int = CLIP) -> str:
    """`text` cut to `limit` characters, for quoting input in messages."""
    text = str(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def clip_repr(value, limit: int = CLIP) -> str:
    """repr(value) cut to `limit` characters (never builds a huge repr first for
    containers: lists and dicts are summarised by their length)."""
    if isinstance(value, (list, tuple, dict, set)) and len(value) > 20:
        return f"<{type(value).__name__} of {len(value)} items>"
    return clip(repr(value), limit)


def _where(mark) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "?"


class BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses anchors, aliases, deep nesting, huge documents and
    duplicate mapping keys (naming the key path)."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0
        self._path: list[str] = []

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise ComposerError(None, None, f"YAML aliases (*{clip(event.anchor, 40)}) are not "
                                "allowed in lrmo files", event.start_mark)
        if getattr(event, "anchor", None) is not None:
            raise ComposerError(None, None, f"YAML anchors (&{clip(event.anchor, 40)}) are not "
                                "allowed in lrmo files", event.start_mark)
        self._depth += 1
        self._nodes += 1
        if self._depth > MAX_DEPTH:
            raise ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels",
                                event.start_mark)
        if self._nodes > MAX_NODES:
            raise ComposerError(None, None, f"more than {MAX_NODES} YAML nodes",
                                event.start_mark)
        key = index.value if isinstance(index, yaml.ScalarNode) else index
        self._path.append(clip(key, 60) if isinstance(key, (str, int)) else "")
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1
            self._path.pop()

    def compose_mapping_node(self, anchor):
        node = super().compose_mapping_node(anchor)
        seen = set()
        for key, _ in node.value:
            if isinstance(key, yaml.ScalarNode):
                if key.value in seen:
                    where = ".".join(p for p in self._path if p)
                    path = f"{where}.{key.value}" if where else key.value
                    raise ComposerError(None, None, f"{clip(path)}: key given twice",
                                        key.start_mark)
                seen.add(key.value)
        return node

    def construct_object(self, node, deep=False):
        # PyYAML's scalar constructors raise plain ValueError etc. (`!!int 0x`, a
        # 5000-digit integer, `!!timestamp 2020-99-99`): give them the node's line
        try:
            return super().construct_object(node, deep)
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, AttributeError, OverflowError, KeyError) as exc:
            tag = clip(node.tag.replace("tag:yaml.org,2002:", "!!"), 40)
            raise ConstructorError(None, None, f"cannot read this {tag} value "
                                   f"({type(exc).__name__}: {clip(str(exc), 120)})",
                                   node.start_mark) from None


# YAML 1.1 (PyYAML) reads `6.08e4` and `1e-17` as strings; read them as numbers (YAML 1.2)
BoundedLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


def parse_yaml(text: str, what: str):
    """YAML text -> Python data with the bounds above; CaseError naming `what` otherwise."""
    if len(text) > MAX_BYTES:
        raise CaseError(f"{what}: larger than {MAX_BYTES} characters")
    loader = None
    try:
        loader = BoundedLoader(text)  # its reader already refuses control characters
        return loader.get_single_data()
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1
        char = f"U+{exc.character:04X}" if isinstance(exc.character, int) else clip_repr(exc.character)
        raise CaseError(f"{what}: not accepted at line {line}: control character {char} "
                        "is not allowed in YAML") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        kind = "not accepted" if isinstance(exc, (ComposerError, ConstructorError)) else "not valid YAML"
        raise CaseError(f"{what}: {kind} at {_where(mark)}: {clip(problem, 300)}") from None
    except yaml.YAMLError as exc:
        raise CaseError(f"{what}: not valid YAML ({clip(str(exc), 300)})") from None
    except RecursionError:
        raise CaseError(f"{what}: nested too deeply") from None
    except Exception as exc:  # PyYAML's constructors raise plain ValueError, AttributeError...
        raise CaseError(f"{what}: a YAML value cannot be read ({type(exc).__name__}: "
                        f"{clip(str(exc), 200)})") from None
    finally:
        if loader is not None:
            loader.dispose()


def read_text(path: str | Path, kind: str = "case") -> str:
    """The UTF-8 text of a user file, or CaseError with one line saying why not."""
    path = Path(path)
    name = clip(str(path), 200)
    try:
        if path.is_dir():
            raise CaseError(f"{name}: is a folder, not a {kind} file")
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)
    except CaseError:
        raise
    except FileNotFoundError:
        raise CaseError(f"{name}: no such {kind} file") from None
    except PermissionError:
        raise CaseError(f"{name}: {kind} file not readable (permission denied)") from None
    except (OSError, ValueError) as exc:
        raise CaseError(f"{name}: cannot read the {kind} file ({clip(str(exc), 200)})") from None
    if len(data) > MAX_BYTES:
        raise CaseError(f"{name}: larger than {MAX_BYTES} bytes; a {kind} file is a few kB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CaseError(f"{name}: not UTF-8 text (byte {exc.start}, line {line})") from None


def read_yaml_file(path: str | Path, kind: str = "case"):
    """Read and parse a case or series file with every bound above."""
    name = clip(str(path), 200)
    return parse_yaml(read_text(path, kind), name)

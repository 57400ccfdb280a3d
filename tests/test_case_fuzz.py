"""Fuzz: mutated shipped case and series files are refused with exit 2 and a short
message that says where (a key path or a line), or accepted; never a traceback, a hang
or unbounded memory.

The mutants (seeded, reproducible) come from this file's own generator: deleted,
duplicated, renamed keys; swapped types; non-finite, huge, negative and zero numbers;
bad units and power expressions; deep nesting; anchors, aliases and alias bombs; YAML
tags; non-UTF-8 bytes; truncated text and stray punctuation; bad names; inconsistent
geometry, mesh and output times; and `--set` overrides with the same values.

They run in a child process under an address-space limit (RLIMIT_AS), each under an
alarm, so that a hang or a memory bomb fails the test instead of the machine. Every
accepted mutant's resolved case (what `lrmo validate` prints) must validate again.

    python tests/test_case_fuzz.py [N] [SEED]     # run and print the figures
"""
from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "cases"
MUTANTS = 300
SEED = 20261125
HANG_S = 30  # a mutant still running after this is a hang (the budget is ~1 s; 10.6 s seen at load 11 on 2 cores)
ADDRESS_SPACE_BYTES = 3 * 2**30  # the child's limit; validating a case needs < 1 GiB
MAX_LINE_CHARS = 500
MAX_LINES = 7

WEIRD_VALUES = [True, False, None, [], {}, "", "text", 0, -1, 1, 10**40, 1e308, -1e308,
                float("inf"), float("-inf"), float("nan"), "1e999 nm", "nan m", "inf s",
                [1, 2, 3], {"value": 1}, {"value": True, "unit": "nm"}, {"unit": "nm"},
                {"value": 1, "unit": "nm", "si": 5}, "0 nm", "-5 nm", "1e-300 m",
                "150", "150 nm nm", "yes", "0x1F", "1_000", "2020-01-01"]
BAD_UNITS = ["furlong", "m**2", "**9**9**9", "(m)", "m^99", "kg", "nm nm", "1/0",
             "m/s^-9", "m^2^2", "10**10 m", "m)(", "exp(9)", "__import__", "m" * 100,
             "%", "° C", "m^-1 s^-1", "μm", "eval"]
POWER_EXPRESSIONS = ["9**9**9 nm", "2**2**2**2**2 m", "(9**9)**9 s", "1e9^1e9 m",
                     "9^9^9 nm", "1 m**9**9**9", "2**64 nm", "10 nm*(9**9**9)"]
TAGGED = ["!!python/object/apply:os.system ['true']", "!!binary AAAA", "!!timestamp 2020-99-99",
          "!!set {a, b}", "!!float abc", "!!int 0x", "!!str 150 nm", "!!map {a: 1}",
          "!!omap [a: 1, a: 2]", "!!python/name:os.system", "!foo bar", "!!null ''"]
BAD_NAMES = ["..", "../x", ".hidden", "a/b", "a\x00b", "", "a" * 300, "/etc/passwd", "a b",
             "-", "é", "con", "a\\b"]
PUNCTUATION = list(":{}[]&*!|>'\"%@`#-?,\t") + ["\x00", "\x1b", "\ufeff", "\r", "\u2028"]


# -- the generator ---------------------------------------------------------------------
def _leaves(data, path=()):
    """(path, value) of every scalar or empty leaf."""
    if isinstance(data, dict) and data:
        for k, v in data.items():
            yield from _leaves(v, path + (k,))
    elif isinstance(data, list) and data:
        for i, v in enumerate(data):
            yield from _leaves(v, path + (i,))
    else:
        yield path, data


def _mappings(data, path=()):
    if isinstance(data, dict):
        yield path, data
        for k, v in data.items():
            yield from _mappings(v, path + (k,))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from _mappings(v, path + (i,))


def _set(data, path, value):
    node = data
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value


MARK = "__MUTANT_SNIPPET__"


class Mutator:
    """Turns a shipped file into a mutant: bytes (the file) and optional --set args."""

    def __init__(self, rng: random.Random):
        self.rng = rng

    # data-level operators: mutate `data` in place; may return a raw YAML snippet that
    # replaces the marker text after dumping
    def delete_key(self, data):
        path, node = self.rng.choice([m for m in _mappings(data) if m[1]])
        del node[self.rng.choice(list(node))]

    def rename_key(self, data):
        path, node = self.rng.choice([m for m in _mappings(data) if m[1]])
        key = self.rng.choice(list(node))
        node[f"{key}{self.rng.choice(['s', '_', 'X', ' '])}"] = node.pop(key)

    def swap_type(self, data):
        path, _ = self.rng.choice(list(_leaves(data)))
        if path:
            _set(data, path, copy.deepcopy(self.rng.choice(WEIRD_VALUES)))

    def non_finite(self, data):
        numeric = [(p, v) for p, v in _leaves(data) if isinstance(v, (int, float))
                   and not isinstance(v, bool)] or list(_leaves(data))
        path, _ = self.rng.choice(numeric)
        if path:
            _set(data, path, self.rng.choice([math.inf, -math.inf, math.nan, 1e999]))

    def extreme(self, data):
        numeric = [(p, v) for p, v in _leaves(data) if isinstance(v, (int, float))
                   and not isinstance(v, bool)]
        if numeric:
            path, v = self.rng.choice(numeric)
            _set(data, path, self.rng.choice([v * 1e300, v * 1e-300, -v, 0, -abs(v) - 1,
                                              10**400, v + 1e-15, 2**63, 1e-320]))

    def bad_unit(self, data):
        units = [p for p, v in _leaves(data) if p and p[-1] == "unit"]
        strings = [p for p, v in _leaves(data) if isinstance(v, str)
                   and re.fullmatch(r"[-+.\deE]+ \S+", v)]
        if units and (not strings or self.rng.random() < 0.5):
            _set(data, self.rng.choice(units), self.rng.choice(BAD_UNITS))
        elif strings:
            _set(data, self.rng.choice(strings), f"1 {self.rng.choice(BAD_UNITS)}")

    def power_expression(self, data):
        cands = [p for p, v in _leaves(data) if p and (isinstance(v, (str, int, float)))]
        _set(data, self.rng.choice(cands), self.rng.choice(POWER_EXPRESSIONS))

    def deep_nesting(self, data):
        path, _ = self.rng.choice(list(_leaves(data)))
        if not path:
            return None
        d = self.rng.choice([45, 51, 60, 300, 900, 1000, 3000, 20000])
        _set(data, path, MARK)
        kind = self.rng.randrange(3)
        if kind == 0:
            return "[" * d + "]" * d
        if kind == 1:
            return "{a: " * d + "1" + "}" * d
        return "\n".join("  " * (i + 1) + "k:" for i in range(min(d, 2000))) + " 1"

    def alias(self, data):
        path, _ = self.rng.choice(list(_leaves(data)))
        if not path:
            return None
        _set(data, path, MARK)
        if self.rng.random() < 0.5:
            return "&anchor 150 nm"
        layers = ["&a [x, x, x, x, x, x, x, x, x]"] + [
            f"&{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 9) + "]" for i in range(8)]
        return "[" + ", ".join(layers) + "]"

    def tag(self, data):
        path, _ = self.rng.choice(list(_leaves(data)))
        if not path:
            return None
        _set(data, path, MARK)
        return self.rng.choice(TAGGED)

    def bad_name(self, data):
        data["name"] = self.rng.choice(BAD_NAMES)

    def huge_string(self, data):
        path, _ = self.rng.choice(list(_leaves(data)))
        if path:
            _set(data, path, "x" * self.rng.choice([1000, 50_000, 400_000, 1_200_000]))

    def many_items(self, data):
        n = self.rng.choice([1000, 15_000, 50_000])
        data.setdefault("output", {})["times"] = {"values": list(range(n)), "unit": "s"}

    def inconsistent(self, data):
        g = data.get("geometry") if isinstance(data.get("geometry"), dict) else None
        m = data.get("mesh") if isinstance(data.get("mesh"), dict) else None
        choice = self.rng.randrange(6)
        if choice == 0 and m is not None:
            m["bulk"] = "10 um"
        elif choice == 1 and m is not None:
            m["interface"] = "1 mm"
        elif choice == 2 and g is not None:
            g["radius"] = self.rng.choice(["1 nm", "1 m", "1e-12 m"])
        elif choice == 3 and g is not None:
            g["layer_thickness"] = self.rng.choice(["0.01 nm", "149 nm", "1 mm"])
        elif choice == 4:
            data.setdefault("output", {})["times"] = {"values": [0, 1e9], "unit": "s"}
        elif m is not None:
            m["surface"] = "0 nm"

    def duplicate_physics(self, data):
        data["physics"] = self.rng.choice([[], ["lithium", "lithium"], ["oxygen"], "lithium",
                                           [["lithium"]], ["mechanics"]])

    def petsc(self, data):
        data.setdefault("solvers", {})["petsc_options"] = self.rng.choice([
            {"ksp_view": "ascii:/tmp/lrmo_fuzz_view"}, {"options_file": "/etc/passwd"},
            {"ksp_monitor": ""}, {"log_view": ""}, {"ksp_rtoll": 1e-3},
            {"ksp_rtol": math.nan}, {"ksp_max_it": True}, {"pc_type": "hypre; rm"},
            {"ksp_rtol": 1e-8, "pc_type": "gamg"}, {"-ksp_type": "cg"}, {"": 1}])

    DATA_OPS = ("delete_key", "rename_key", "swap_type", "non_finite", "extreme", "bad_unit",
                "power_expression", "deep_nesting", "alias", "tag", "bad_name",
                "huge_string", "many_items", "inconsistent", "duplicate_physics", "petsc")

    # text-level operators on the dumped text
    def duplicate_line(self, text: str) -> str:
        lines = text.splitlines()
        keyed = [i for i, line in enumerate(lines) if re.match(r"\s*[A-Za-z_]+:", line)]
        i = self.rng.choice(keyed)
        return "\n".join(lines[: i + 1] + [lines[i]] + lines[i + 1:]) + "\n"

    def truncate(self, text: str) -> str:
        return text[: self.rng.randrange(len(text))]

    def punctuation(self, text: str) -> str:
        for _ in range(self.rng.randint(1, 5)):
            i = self.rng.randrange(len(text) + 1)
            text = text[:i] + self.rng.choice(PUNCTUATION) + text[i:]
        return text

    TEXT_OPS = ("duplicate_line", "truncate", "punctuation")

    def non_utf8(self, raw: bytes) -> bytes:
        i = self.rng.randrange(len(raw) + 1)
        junk = bytes(self.rng.choice([0x80, 0xC3, 0xFF, 0xFE, 0xED, 0xA0]) for _ in range(self.rng.randint(1, 3)))
        return raw[:i] + junk + raw[i:]

    def mutant(self, source: Path) -> tuple[str, bytes, list[str]]:
        """(description, file bytes, --set arguments)."""
        import yaml

        data = yaml.safe_load(source.read_text())
        if "base" in data:  # series: point at the real base case
            data["base"] = str((source.parent / data["base"]).resolve())
        ops, snippet, overrides = [], None, []
        r = self.rng.random()
        if r < 0.12 and "base" not in data:  # --set overrides with weird values
            path, _ = self.rng.choice(list(_leaves(data)))
            key = ".".join(str(p) for p in path) or "name"
            value = self.rng.choice([repr(v) if isinstance(v, float) else json.dumps(v)
                                     for v in WEIRD_VALUES] + POWER_EXPRESSIONS + TAGGED
                                    + ["&a [*a]", "[" * 2000, "{a: 1, a: 2}"])
            overrides = [f"{key}={value}"]
            ops.append(f"--set {key}")
        else:
            for op in self.rng.sample(self.DATA_OPS, self.rng.choice([1, 1, 1, 2, 3])):
                ops.append(op)
                got = getattr(self, op)(data)
                snippet = got if got is not None else snippet
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=10**6)
        if snippet is not None:
            text = text.replace(MARK, snippet, 1)
        if self.rng.random() < 0.3:
            op = self.rng.choice(self.TEXT_OPS)
            ops.append(op)
            text = getattr(self, op)(text)
        raw = text.encode("utf-8", "surrogatepass")
        if self.rng.random() < 0.06:
            ops.append("non_utf8")
            raw = self.non_utf8(raw)
        return f"{source.name}: {', '.join(ops)}", raw, overrides


# -- running a mutant -------------------------------------------------------------------
class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang()


_KEY = r"""(?:'[^']*'|"[^"]*"|[^\s:.'"]+)"""  # a key as messages print it: plain or quoted
_WHERE = re.compile(
    rf"(^|\s){_KEY}(\.{_KEY})+( \([^)]*\))?[: ]"  # a dotted key path
    rf"|^{_KEY}( \([^)]*\))?: "  # a top-level key
    r"|line \d+|not UTF-8|larger than|must be a mapping|no such|is a folder")


def check_refusal(err: str, path: str) -> str | None:
    """None if `err` is a proper refusal of the file `path`; else what is wrong with it.

    The refusal is the first line starting `lrmo: ` (informational lines such as the
    pre-flight estimate may come before it); what follows the file name must name a key
    path or a line."""
    lines = err.rstrip("\n").splitlines()
    at = next((i for i, line in enumerate(lines) if line.startswith("lrmo: ")), None)
    if at is None:
        return f"no 'lrmo: ' line: {err[:300]!r}"
    if len(lines) > MAX_LINES:
        return f"{len(lines)} lines"
    if any(len(line) > MAX_LINE_CHARS for line in lines):
        return f"a line of {max(len(x) for x in lines)} chars: {lines[at][:200]!r}"
    head, sep, problem = lines[at].partition(f"{path}: ")
    if not sep:
        return f"does not name the file: {lines[at][:300]!r}"
    if not _WHERE.search(problem):
        return f"names no key path or line: {lines[at][:300]!r}"
    return None


def run_case_mutant(path: Path, overrides: list[str]) -> tuple[int | None, str, str]:
    from lrmo.cli import main

    out, err = io.StringIO(), io.StringIO()
    argv = ["validate", str(path)] + [a for o in overrides for a in ("--set", o)]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code
    return code, out.getvalue(), err.getvalue()


def run_series_mutant(path: Path) -> tuple[int, str]:
    """What `lrmo sweep` does before running anything: the series and every member."""
    from solver.case.schema import CaseError
    from lrmo.cli import _refused
    from solver.studies.sweep import _member_case, load_series

    try:
        series, base = load_series(path)
        for i, m in enumerate(series.members):
            _member_case(base, i, m)
    except CaseError as exc:
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            _refused("series", str(path), exc, True)  # as `lrmo sweep` prints it
        return 2, err.getvalue()
    return 0, ""


def fuzz(n: int = MUTANTS, seed: int = SEED) -> dict:
    """Run `n` mutants; returns the figures and the failures."""
    rng = random.Random(seed)
    mutator = Mutator(rng)
    sources = sorted(CASES.glob("*.yaml")) + sorted((CASES / "series").glob("*.yaml"))
    stats = {"mutants": n, "refused": 0, "accepted": 0, "failures": [], "max_s": 0.0,
             "slowest": ""}
    signal.signal(signal.SIGALRM, _alarm)
    run_case_mutant(CASES / "demo.yaml", [])  # imports once, outside the timings
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(n):
            source = rng.choice(sources)
            what, raw, overrides = mutator.mutant(source)
            path = Path(tmp) / f"m{k}.yaml"
            path.write_bytes(raw)
            series = source.parent.name == "series"
            t0 = time.perf_counter()
            signal.alarm(HANG_S)
            try:
                if series:
                    code, err = run_series_mutant(path)
                    out = ""
                else:
                    code, out, err = run_case_mutant(path, overrides)
                problem = None
                if code == 0 and not series:  # the resolved case must validate again
                    again = Path(tmp) / "resolved.yaml"
                    again.write_text(out)
                    code2, _, err2 = run_case_mutant(again, [])
                    if code2 != 0:
                        problem = f"resolved case refused: {err2[:300]!r}"
            except Hang:
                code, problem = None, f"still running after {HANG_S} s"
            except BaseException as exc:  # noqa: BLE001 - any escape is the failure
                code = None
                problem = (f"{type(exc).__name__}: {str(exc)[:200]} at "
                           f"{traceback.extract_tb(exc.__traceback__)[-1][:3]}")
            finally:
                signal.alarm(0)
            dt = time.perf_counter() - t0
            if dt > stats["max_s"]:
                stats["max_s"], stats["slowest"] = dt, what
            if problem is None:
                if code == 2:
                    problem = check_refusal(err, str(path))
                    stats["refused"] += problem is None
                elif code == 0:
                    stats["accepted"] += 1
                else:
                    problem = f"exit code {code!r}"
            if problem is None and "Traceback" in err:
                problem = "a traceback on stderr"
            if problem is not None:
                stats["failures"].append(f"#{k} {what} {overrides}: {problem}")
    return stats


def _limit_address_space():
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_BYTES, ADDRESS_SPACE_BYTES))


def run_child(n: int = MUTANTS, seed: int = SEED) -> dict:
    """`fuzz` in a child process under the address-space limit."""
    proc = subprocess.run([sys.executable, __file__, str(n), str(seed)], capture_output=True,
                          text=True, preexec_fn=_limit_address_space, timeout=600, cwd=ROOT)
    last = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    assert proc.returncode == 0 and last.startswith("{"), (
        f"fuzz child failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return json.loads(last)


def test_mutated_case_files_are_refused_cleanly_or_accepted():
    stats = run_child()
    print(f"\nfuzz: {stats['mutants']} mutants, {stats['refused']} refused, "
          f"{stats['accepted']} accepted, {len(stats['failures'])} failures; slowest "
          f"{stats['max_s']:.2f} s ({stats['slowest']})")
    assert not stats["failures"], "\n".join(stats["failures"][:20])
    # the generator must actually exercise both outcomes
    assert stats["refused"] > stats["mutants"] // 2
    assert stats["accepted"] > 0


def test_a_bad_refusal_message_is_caught():
    """The checker itself can fail: a traceback-like or key-less message is rejected."""
    ok = "lrmo: invalid case x.yaml: geometry.radius: must be > 0 m\n"
    assert check_refusal(ok, "x.yaml") is None
    assert check_refusal("Traceback (most recent call last):\n", "x.yaml") is not None
    assert check_refusal("lrmo: invalid case x.yaml: " + "a" * 600, "x.yaml") is not None
    assert check_refusal("lrmo: invalid case x.yaml: ???\n", "x.yaml") is not None
    assert check_refusal("lrmo: invalid case x.yaml: a value is wrong\n", "x.yaml") is not None
    assert check_refusal(ok + "  more\n" * 7, "x.yaml") is not None


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    n = int(sys.argv[1]) if len(sys.argv) > 1 else MUTANTS
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else SEED
    result = fuzz(n, seed)
    for f in result["failures"]:
        print(f, file=sys.stderr)
    print(json.dumps(result))

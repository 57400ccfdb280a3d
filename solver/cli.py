"""Command line: `lrmo run|validate|mesh|verify|version` (stub, filled below)."""
import sys


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["version"]:
        from solver.provenance import versions

        for k, v in versions().items():
            print(f"{k:9s} {v}")
        return 0
    return 2

"""``python -m kdbook.exercises generate|check``: write the exercise notebooks, or check they are current."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import LearnerEditsError, check, generate


def _default_root() -> Path:
    here = Path.cwd()
    return here if (here / "solutions").is_dir() else Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kdbook.exercises", description=__doc__)
    parser.add_argument("--root", type=Path, default=None, help="repository root (default: here, or kdbook's)")
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="write exercises/NN_x.ipynb from solutions/NN_x.ipynb and execute them")
    gen.add_argument("chapters", nargs="*", help="chapter numbers such as 02 (default: all)")
    gen.add_argument("--force", action="store_true",
                     help="overwrite exercise notebooks edited in place, after saving a .bak.ipynb backup beside each")
    gen.add_argument("--no-execute", action="store_true", help="write without executing (outputs stay empty)")
    sub.add_parser("check", help="exit 1 if a committed exercise notebook is stale or unexecuted")
    args = parser.parse_args(argv)
    root = (args.root or _default_root()).resolve()
    if args.command == "check":
        problems = check(root)
        for p in problems:
            print(p, file=sys.stderr)
        if problems:
            print("run: python -m kdbook.exercises generate", file=sys.stderr)
            return 1
        print("exercise notebooks are up to date")
        return 0
    try:
        for line in generate(root, chapters=args.chapters or None, force=args.force, execute=not args.no_execute):
            print(line, flush=True)
    except LearnerEditsError as err:
        print(f"stopped: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

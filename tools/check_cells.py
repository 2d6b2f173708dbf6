"""Make every check cell of the solution notebooks self-sufficient (issue 28, item 8).

A check cell run before the notebook's set-up cell used to stop with ``NameError: name 'kdbook'
is not defined``. This rewrites each code cell tagged ``check`` whose source starts with a call
``kdbook.grading.check(...)`` or ``kdbook.grading.scoreboard(...)`` so that it imports what it
uses first::

    import kdbook.grading
    kdbook.grading.check("03.softmax_t")

Idempotent; outputs are kept (the import prints nothing). Run on the solutions, then regenerate
the exercises::

    python tools/check_cells.py solutions/*.ipynb
    python -m kdbook.exercises generate

Standard library only.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

IMPORT = "import kdbook.grading\n"
_CALL = re.compile(r"^kdbook\.grading\.(check|scoreboard)\(")


def rewrite_source(source: str) -> str:
    """The check cell's source with ``import kdbook.grading`` as its first line (unchanged if it has it)."""
    if source.startswith(IMPORT) or not _CALL.match(source):
        return source
    return IMPORT + source


def rewrite_notebook(path: Path) -> int:
    """Rewrite the check cells of one notebook in place; the number of cells changed."""
    text = path.read_text(encoding="utf-8")
    nb = json.loads(text)
    changed = 0
    for cell in nb["cells"]:
        if cell["cell_type"] != "code" or "check" not in cell.get("metadata", {}).get("tags", []):
            continue
        src = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        new = rewrite_source(src)
        if new != src:
            cell["source"] = new.splitlines(keepends=True)
            changed += 1
    if changed:
        path.write_text(json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    return changed


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__.strip().splitlines()[0] + "\nusage: python tools/check_cells.py NOTEBOOK.ipynb ...")
        return 2
    for name in argv:
        print(f"{name}: {rewrite_notebook(Path(name))} check cells rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

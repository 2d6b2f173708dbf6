"""Every committed notebook is executed, top to bottom, cleanly, so nbval compares real outputs.

nbval silently compares nothing in a cell stored without outputs, and does not enforce
raises-exception tags (see shared TESTING_NOTES): this test closes those holes.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("notebooks", "solutions", "exercises")
NOTEBOOKS = sorted(p for d in FOLDERS for p in (ROOT / d).glob("*.ipynb"))
NAME = re.compile(r"^\d\d_[a-z0-9_]+\.ipynb$")


def _ids(paths):
    return [str(p.relative_to(ROOT)) for p in paths]


def _code_cells(path: Path) -> list[dict]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]


def test_there_are_notebooks():
    assert (ROOT / "notebooks" / "00_start_here.ipynb").exists()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_executed_top_to_bottom_on_a_fresh_kernel(path: Path):
    counts = [c.get("execution_count") for c in _code_cells(path)]
    assert counts, f"{path.name} has no code cells"
    unexecuted = [i for i, n in enumerate(counts) if n is None]
    assert not unexecuted, f"code cells {unexecuted} were never executed: re-run `python3 workbook.py execute`"
    assert counts == list(range(1, len(counts) + 1)), f"execution counts {counts} are not 1..n in order"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_no_stored_errors_or_volatile_metadata(path: Path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert nb["metadata"].get("kernelspec", {}).get("name") == "python3"
    assert "widgets" not in nb["metadata"], "widget state is stored: execute with `python3 workbook.py execute`"
    for i, cell in enumerate(nb["cells"]):
        assert "execution" not in cell.get("metadata", {}), f"cell {i} stores timing metadata"
        for out in cell.get("outputs", []):
            assert out["output_type"] != "error", f"cell {i} stores an error: {out.get('ename')}: {out.get('evalue')}"
            text = "".join(out.get("text", ""))
            assert "Traceback" not in text, f"cell {i} printed a traceback"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_chapter_file_naming_scheme(path: Path):
    assert NAME.match(path.name), f"{path.name} does not follow NN_topic.ipynb"


def test_every_chapter_has_exercises_and_solutions():
    chapters = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb") if not p.name.startswith("00_"))
    assert chapters, "no chapter notebooks found: the loop below would check nothing"
    for name in chapters:
        assert (ROOT / "solutions" / name).exists(), f"solutions/{name} is missing"
        assert (ROOT / "exercises" / name).exists(), f"exercises/{name} is missing"


def test_readme_chapter_map_lists_every_notebook():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        assert f"notebooks/{path.name}" in readme, f"README's chapter map does not link notebooks/{path.name}"

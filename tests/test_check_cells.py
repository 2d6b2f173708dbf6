"""Check cells work before the set-up cell, and select/prediction checks do not claim "0/0 points"
(issue 28, item 8)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kdbook import grading
from kdbook.grading import registry

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import check_cells  # noqa: E402


def _check_cells(nb: dict) -> list[str]:
    return ["".join(c["source"]) for c in nb["cells"]
            if c["cell_type"] == "code" and "check" in c.get("metadata", {}).get("tags", [])]


def test_rewrite_is_idempotent_and_keeps_other_cells(tmp_path):
    src = ROOT / "solutions" / "03_temperature_and_soft_targets.ipynb"
    path = tmp_path / src.name
    nb = json.loads(src.read_text())
    for c in nb["cells"]:  # the committed notebook is rewritten already: start from the old form
        if c["cell_type"] == "code" and "check" in c.get("metadata", {}).get("tags", []):
            c["source"] = "".join(c["source"]).replace("import kdbook.grading\n", "", 1).splitlines(keepends=True)
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    before = json.loads(path.read_text())
    n = check_cells.rewrite_notebook(path)
    after = json.loads(path.read_text())
    assert n == len(_check_cells(before)) > 0
    assert all(s.startswith("import kdbook.grading\nkdbook.grading.") for s in _check_cells(after))
    others = [c for c in before["cells"] if c not in [c for c in before["cells"] if "check" in
                                                      c.get("metadata", {}).get("tags", [])]]
    assert all(c in after["cells"] for c in others)
    assert check_cells.rewrite_notebook(path) == 0  # idempotent


@pytest.mark.parametrize("call", ['kdbook.grading.check("03.softmax_t")', 'kdbook.grading.scoreboard("03")'])
def test_a_rewritten_check_cell_run_first_gives_a_message_not_a_name_error(call):
    pytest.importorskip("IPython")
    cell = check_cells.rewrite_source(call)
    driver = ("from IPython.core.interactiveshell import InteractiveShell\n"
              f"r = InteractiveShell.instance().run_cell({cell!r})\n"
              "print('ERROR', type(r.error_in_exec or r.error_before_exec).__name__)")
    out = subprocess.run([sys.executable, "-c", driver], capture_output=True, text=True, timeout=120)
    assert "ERROR NoneType" in out.stdout, out.stdout + out.stderr
    assert "softmax_T" in out.stdout or "not attempted" in out.stdout
    # the unrewritten cell is what failed before
    raw = driver.replace(repr(cell), repr(call))
    out = subprocess.run([sys.executable, "-c", raw], capture_output=True, text=True, timeout=120)
    assert "ERROR NameError" in out.stdout


@pytest.mark.parametrize("folder", ["solutions", "exercises"])
def test_every_committed_check_cell_imports_what_it_uses(folder):
    cells = [s for p in sorted((ROOT / folder).glob("*.ipynb")) for s in _check_cells(json.loads(p.read_text()))]
    assert cells and all(s.startswith("import kdbook.grading\n") for s in cells)


@pytest.mark.parametrize("ex", [e for e in registry.all_exercises() if not e.public_points], ids=lambda e: e.id)
def test_items_scored_only_at_grading_do_not_print_zero_of_zero(ex, capsys):
    grading.check(ex.id, namespace={})
    missing = " ".join(capsys.readouterr().out.split())
    answer = ex.statements and {"a"} or "A"
    grading.check(ex.id, namespace={ex.name: answer})
    answered = " ".join(capsys.readouterr().out.split())
    for out in (missing, answered):
        assert "0/0 points" not in out and "All public tests pass" not in out, out
        assert "decided at grading" in out

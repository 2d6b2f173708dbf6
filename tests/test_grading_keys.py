"""The answer key stays with the instructor (issue 24 §1).

Keys live in the solution notebooks (kdbook.grading.keys): the learner's package, the exercise and
chapter notebooks and the JupyterLite site hold none of them in a recognisable form; hidden and
keyed tests run only with the grader's secret seed and the instructor's key.
"""
from __future__ import annotations

import ast
import io
import json
import re
import zipfile
from pathlib import Path

import pytest

import kdbook
from _keys import KEYS, ROOT, run_all
from kdbook.grading import engine, keys, registry, run_tests
from kdbook.grading.spec import Statement

PACKAGE = Path(kdbook.__file__).resolve().parent
KEYED = [ex for ex in registry.all_exercises() if keys.keyed(ex)]
SITE_CONTENT = ("notebooks", "exercises")  # tools/lite_site.py CONTENT_DIRS


def _answer_values(text: str, name: str):
    """Every literal assigned to ``name`` in a piece of Python source (cells may be JSON-escaped)."""
    for m in re.finditer(rf"\b{re.escape(name)}\s*=\s*(?!=)", text):
        line = text[m.end():].split("\n", 1)[0].split("\\n", 1)[0].replace('\\"', '"')
        for end in range(len(line), 0, -1):
            try:
                yield keys._plain(ast.literal_eval(line[:end].strip().rstrip(",")))
                break
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                continue


def leaks(text: str, where: str) -> list[str]:
    """Recognisable forms of a key in ``text``: the solution's answer assigned to the exercise's name,
    a statement declared with its truth, a prediction declared with its letter, key metadata."""
    found = []
    for ex in KEYED:
        answer = KEYS[ex.id]["answer"]
        if any(value == answer and value not in ([], "", None) for value in _answer_values(text, ex.name)):
            found.append(f"{where}: the answer of {ex.id} ({ex.name} = {answer!r})")
    if re.search(r"\bStatement\((?:[^()]|\([^()]*\))*?,\s*(?:true\s*=\s*)?(?:True|False|None)\s*\)", text):
        found.append(f"{where}: a Statement declared with its truth")
    if re.search(r"prediction_tests\(\s*\d+\s*,\s*['\"][a-h]['\"]", text):
        found.append(f"{where}: a prediction declared with its letter")
    if re.search(r'"kdbook_key"\s*:\s*\{\s*"(?:answer|either)"\s*:\s*\[?\s*"', text):
        found.append(f"{where}: answer-key metadata")
    return found


def _files(folder: Path):
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            yield path


def _texts(path: Path):
    """(where, text) for a file, and for each member of a wheel or zip."""
    data = path.read_bytes()
    if path.suffix in (".whl", ".zip"):
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            for member in z.namelist():
                yield f"{path}!{member}", z.read(member).decode("utf-8", "replace")
    else:
        yield str(path), data.decode("utf-8", "replace")


def test_the_detector_finds_the_keys_where_they_used_to_be():
    # The representations of the first version of the workbook, and the solutions themselves.
    old = ('Statement("KL(p‖q) is infinite (see f(x)).", True),\n    Statement("x", None)\n'
           'tests=prediction_tests(3, "c"),\n')
    assert len(leaks(old, "old ch01.py")) == 2
    for sol in sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb")):
        chapter = sol.name[:2]
        expected = {ex.id for ex in KEYED if ex.chapter == chapter and ex.id != "08.keep_or_distil"}
        text = sol.read_text(encoding="utf-8")
        assert {ex_id for ex_id in expected if any(ex_id in f for f in leaks(text, sol.name))} == expected, sol.name
    assert leaks(json.dumps({"kdbook_key": {"answer": ["distil", "keep", "keep"]}}), "metadata")


def test_no_installed_module_holds_a_key():
    found = [leak for path in _files(PACKAGE) for where, text in _texts(path) for leak in leaks(text, where)]
    assert found == []
    # ... and the objects carry none: a statement is its text only.
    for ex in registry.all_exercises():
        assert all(vars(s) == {"text": s.text} if hasattr(s, "__dict__") else True for s in ex.statements)
        assert all(not hasattr(s, "true") for s in ex.statements)


def test_no_file_of_the_site_holds_a_key():
    folders = [ROOT / d for d in SITE_CONTENT] + [p for p in (ROOT / "_site",) if p.is_dir()]
    found = [leak for folder in folders for path in _files(folder) for where, text in _texts(path)
             for leak in leaks(text, where)]
    assert found == []


def test_old_style_declarations_fail_with_a_message_saying_where_keys_go():
    from kdbook.grading._predict import prediction_tests

    for make in (lambda: Statement("a claim", True), lambda: Statement("a claim", true=None),
                 lambda: prediction_tests(4, "b")):
        with pytest.raises(TypeError, match="solution notebook's answer cell"):
            make()


def test_public_run_tests_runs_no_hidden_test_and_refuses_a_hidden_seed():
    ex = registry.get("06.predict_stored_kl")
    assert [v.test.hidden for v in run_tests(ex, {ex.name: "b"})] == [False]
    with pytest.raises(TypeError, match="public tests only"):
        run_tests(ex, {ex.name: "b"}, hidden_seed=1)


@pytest.mark.parametrize("ex", KEYED, ids=lambda ex: ex.id)
def test_the_engine_needs_the_key_and_the_solution_scores_full_marks_with_it(ex):
    with pytest.raises(keys.MissingKeyError, match=ex.id):
        engine.score(ex, {ex.name: KEYS[ex.id]["answer"]}, seed=1)
    right = KEYS[ex.id]["answer"]
    assert engine.points(run_all(ex, {ex.name: right}, seed=3)) == ex.points


def test_keys_are_read_from_literals_or_metadata_never_by_running_code(tmp_path):
    assert keys.literal_answer("x = 1\nclaims = {'b', 'a'}", "claims") == ["a", "b"]
    with pytest.raises(LookupError, match="computed"):
        keys.literal_answer("claims = []\nclaims.append(__import__('os').getcwd())", "claims")
    with pytest.raises(LookupError, match="computed"):
        keys.literal_answer("claims = sorted('ab')", "claims")
    with pytest.raises(keys.MissingKeyError, match="no solutions folder"):
        keys.solution_keys(tmp_path / "nowhere")
    (tmp_path / "01_teacher_and_student.ipynb").write_text(json.dumps({"cells": []}))
    with pytest.raises(keys.MissingKeyError, match="no cell is tagged 01.justify"):
        keys.solution_keys(tmp_path)


def test_the_keys_agree_with_the_solution_notebooks_outputs():
    # 08.keep_or_distil's key is stated in its cell's metadata; the cell computes and prints the same list.
    nb = json.loads((ROOT / "solutions/08_context_distillation.ipynb").read_text(encoding="utf-8"))
    cell = next(c for c in nb["cells"] if "08.keep_or_distil" in c["metadata"].get("tags", []))
    printed = "".join("".join(o.get("text", "")) for o in cell["outputs"])
    assert ast.literal_eval(printed.strip().splitlines()[0]) == KEYS["08.keep_or_distil"]["answer"]

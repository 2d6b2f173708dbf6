"""Chapter 6's wrong-answer catalogue (tests/wrong_answers/ch06.py) through the grading engine.

Every WRONG answer loses points on every one of 20 grading seeds; every VALID answer gets full
points on every one. (The generic tests/test_wrong_answers.py of issue 19 supersedes this file.)"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from _keys import run_all
from kdbook.grading.ch06 import EXERCISES

sys.path.insert(0, str(Path(__file__).parent))
from wrong_answers.ch06 import VALID, WRONG  # noqa: E402

pytestmark = pytest.mark.slow
SEEDS = range(20)
BY_ID = {ex.id: ex for ex in EXERCISES}


def _namespace(source: str, tmp_path: Path, tag: str) -> dict:
    path = tmp_path / f"answer_{abs(hash(tag))}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # a file, so inspect.getsource works for the forbid check
    return vars(module)


def _scores(ex, ns):
    out = []
    for s in SEEDS:
        verdicts = run_all(ex, ns, seed=s, public_seed=s)
        out.append((sum(v.points for v in verdicts), sum(v.test.points for v in verdicts)))
    return out


def test_every_graded_item_has_a_catalogue():
    for ex in EXERCISES:
        assert len(WRONG.get(ex.id, {})) >= 2 and len(VALID.get(ex.id, {})) >= 1, ex.id


@pytest.mark.parametrize("item,name", [(i, n) for i, d in WRONG.items() for n in d])
def test_wrong_answer_loses_points_on_every_seed(item, name, tmp_path):
    ns = _namespace(WRONG[item][name], tmp_path, item + name)
    for got, full in _scores(BY_ID[item], ns):
        assert got < full, (item, name)


@pytest.mark.parametrize("item,name", [(i, n) for i, d in VALID.items() for n in d])
def test_valid_answer_gets_full_points_on_every_seed(item, name, tmp_path):
    ns = _namespace(VALID[item][name], tmp_path, item + name)
    for got, full in _scores(BY_ID[item], ns):
        assert got == full, (item, name, got, full)

"""Chapter 8's wrong-answer catalogue (tests/wrong_answers/ch08.py) through the grading engine.

Each WRONG entry must lose points on every one of 20 grading seeds (public and hidden tests),
each VALID entry must earn every automatic point on every one of them (issue 19 §3). The generic
test of issue 19 runs every chapter's catalogue; this file runs chapter 8's until it lands.
"""
from __future__ import annotations

import importlib.util
import pathlib

import pytest

from _keys import run_all
from kdbook.grading import registry

pytestmark = pytest.mark.slow

SEEDS = range(20)
_spec = importlib.util.spec_from_file_location("wrong_ch08", pathlib.Path(__file__).parent / "wrong_answers" / "ch08.py")
catalogue = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(catalogue)


def _points(ex_id: str, source: str, seed: int) -> float:
    ex = registry.get(ex_id)
    ns: dict = {}
    exec(compile(source, f"<{ex_id}>", "exec"), ns)
    return sum(v.points for v in run_all(ex, ns, seed=seed, public_seed=seed, timeout=None))


def _cases(table):
    return [(ex_id, name, src) for ex_id, entries in table.items() for name, src in entries.items()]


def test_every_graded_item_has_two_wrong_answers_and_one_valid():
    for ex_id in (e.id for e in registry.chapter_exercises("08")):
        assert len(catalogue.WRONG.get(ex_id, {})) >= 2 and len(catalogue.VALID.get(ex_id, {})) >= 1, ex_id


@pytest.mark.parametrize("ex_id, name, source", _cases(catalogue.WRONG), ids=lambda x: x if len(str(x)) < 60 else None)
def test_wrong_answer_loses_points_on_every_seed(ex_id, name, source):
    full = registry.get(ex_id).points
    scored = [_points(ex_id, source, s) for s in SEEDS]
    assert all(p < full for p in scored), (name, scored)


@pytest.mark.parametrize("ex_id, name, source", _cases(catalogue.VALID), ids=lambda x: x if len(str(x)) < 60 else None)
def test_valid_answer_gets_every_automatic_point_on_every_seed(ex_id, name, source):
    full = registry.get(ex_id).points
    scored = [_points(ex_id, source, s) for s in SEEDS]
    assert all(p == full for p in scored), (name, scored)

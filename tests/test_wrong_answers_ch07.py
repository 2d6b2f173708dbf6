"""Chapter 7's wrong-answer catalogue, run through the grader on 20 grading seeds (issue 19 §3)."""
import importlib.util
from pathlib import Path

import pytest

from kdbook.grading import run_tests
from kdbook.grading.ch07 import EXERCISES

_spec = importlib.util.spec_from_file_location("wrong_ch07", Path(__file__).parent / "wrong_answers" / "ch07.py")
catalogue = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(catalogue)
BY_ID = {ex.id: ex for ex in EXERCISES}
SEEDS = range(20)


def _score(ex, source, seed):
    ns = {}
    exec(compile(source, f"<{ex.id}>", "exec"), ns)
    verdicts = run_tests(ex, ns, hidden_seed=seed, public_seed=seed)
    return sum(v.points for v in verdicts), sum(v.test.points for v in verdicts)


@pytest.mark.parametrize("ex_id,name", [(e, n) for e, d in catalogue.WRONG.items() for n in d])
def test_wrong_answer_loses_points_on_every_seed(ex_id, name):
    ex = BY_ID[ex_id]
    for seed in SEEDS:
        got, full = _score(ex, catalogue.WRONG[ex_id][name], seed)
        assert got < full, f"{ex_id} / {name!r} got full points on grading seed {seed}"


@pytest.mark.parametrize("ex_id,name", [(e, n) for e, d in catalogue.VALID.items() for n in d])
def test_valid_answer_gets_full_points_on_every_seed(ex_id, name):
    ex = BY_ID[ex_id]
    for seed in SEEDS:
        got, full = _score(ex, catalogue.VALID[ex_id][name], seed)
        assert got == full, f"{ex_id} / {name!r} lost points on grading seed {seed}"


def test_every_graded_item_but_the_recipe_is_catalogued():
    ids = {e.id for e in EXERCISES} - {"07.recipe"}
    for ex_id in ids:
        assert len(catalogue.WRONG.get(ex_id, {})) >= 2 and catalogue.VALID.get(ex_id), ex_id

"""09.draft_recipe's rule, with the measurement replaced by fixed gains: the margin at T = 1 and on average."""
from __future__ import annotations

import pytest

from kdbook.grading import ch09
from kdbook.grading._core import Call, Fail

M = ch09.CREATE_MARGIN


def _judge(monkeypatch, gains: dict[float, float]) -> None:
    monkeypatch.setattr(ch09, "draft_outcome", lambda recipe, seed, T: {"draft": 0.8 + gains[T], "forward": 0.8})
    calls = [Call((T, 12345)) for T in gains]
    ch09._judge_recipe(calls, [("tv", None, 0.0)] * len(calls))


@pytest.mark.parametrize("g1, g05", [(M + 0.001, M + 0.001), (M + 0.02, M - 0.01)])
def test_the_margin_at_t1_and_on_average_passes(monkeypatch, g1, g05):
    _judge(monkeypatch, {1.0: g1, 0.5: g05})


@pytest.mark.parametrize("g1, g05, why", [
    (M - 0.001, M + 0.03, "at T = 1"),   # a large gain at T = 0.5 does not make up for T = 1
    (M + 0.001, M - 0.01, "mean gain"),  # nor a small one at T = 1 for a loss at T = 0.5
])
def test_missing_either_part_fails_and_says_so(monkeypatch, g1, g05, why):
    with pytest.raises(Fail, match=f"(?s)T = 1: .*T = 0.5: .*{why}"):
        _judge(monkeypatch, {1.0: g1, 0.5: g05})


def test_the_hidden_test_measures_one_seed_at_both_temperatures():
    import numpy as np
    calls = ch09._recipe_cases(False)(np.random.default_rng(0))
    assert [c.args[0] for c in calls] == [1.0, 0.5] and calls[0].args[1] == calls[1].args[1]
    assert 1000 <= calls[0].args[1] < 100_000

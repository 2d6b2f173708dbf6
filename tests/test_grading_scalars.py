"""Scalar parts of an answer returned as numpy scalars (np.argmax gives np.int64) arrive at the judge
as 0-d arrays (``encode``); judges that check a part's type must accept them like Python numbers."""
from __future__ import annotations

import numpy as np
import pytest

from kdbook.grading import ch07_recipe, ch09
from kdbook.grading._core import Call, Fail
from kdbook.grading._core import as_scalar
from kdbook.grading._wire import decode, encode


def _wire(x):
    return decode(encode(x))


@pytest.mark.parametrize("x, want", [(np.int64(11), 11), (np.int32(3), 3), (np.float64(0.5), 0.5),
                                     (np.True_, True), (7, 7)])
def test_as_scalar_gives_the_python_value_of_a_numpy_scalar(x, want):
    got = as_scalar(_wire(x))
    assert got == want and type(got) is type(want)


def test_as_scalar_leaves_arrays_and_strings_alone():
    arr = np.arange(3.0)
    assert as_scalar(arr) is arr and as_scalar("tv") == "tv"


def _choose_call(c=0.1, mode="T = 1"):
    return Call((c, mode, dict(ch09.ACCEPTANCE)))


def _best(c, col=0):
    name = max(ch09.ACCEPTANCE, key=lambda k: ch09.ACCEPTANCE[k][col])
    a = ch09.ACCEPTANCE[name][col]
    return name, max(range(31), key=lambda k: (1 - a ** (k + 1)) / ((1 - a) * (k * c + 1)))


def test_choose_accepts_gamma_as_a_numpy_integer():
    name, g = _best(0.1)
    ch09._judge_choose([_choose_call(0.1)], [_wire((name, np.int64(g)))])  # no Fail
    with pytest.raises(Fail, match="integer between 0 and 30, got 5.0"):
        ch09._judge_choose([_choose_call(0.1)], [_wire((name, np.float64(5.0)))])


def test_choose_names_best_gamma_when_the_best_gamma_is_above_20():
    # α = 0.8669 (tv off, T = 1) and c = 0.001: the speed-up still grows at γ = 20
    name, g = _best(0.001)
    assert g > 20
    with pytest.raises(Fail, match=r"above 20: speculative.best_gamma searches γ = 0 … 20"):
        ch09._judge_choose([_choose_call(0.001)], [_wire((name, 20))])
    with pytest.raises(Fail) as err:  # a γ that is not the best within 0 … 20 either: no such hint
        ch09._judge_choose([_choose_call(0.001)], [_wire((name, 5))])
    assert "best_gamma" not in str(err.value)


def test_gkd_recipe_accepts_a_numpy_weight():
    d = ("gjsd", np.float64(0.5), np.float64(0.5))  # (objective, weight, lam)
    assert ch07_recipe._check_recipe(_wire(d))["beta"] == 0.5

"""Named mistakes from the shape of the error (kdbook.grading._diagnose; issue 28, item 2).

Each wrong answer below is produced by the mistake itself (computed independently with numpy
from the right formula), and the message the learner gets must name that mistake; right answers
and answers wrong in another way must not be told about a bug they do not have.
"""
from __future__ import annotations

import numpy as np
import pytest

from kdbook.grading._core import Fail, as_array, expect_close
from kdbook.grading._diagnose import diagnose, shape_diagnosis

rng = np.random.default_rng(0)
P = rng.dirichlet(np.ones(5), size=4)
Q = rng.dirichlet(np.ones(5), size=4)


def kl_rows(p, q, log=np.log):
    return np.sum(np.where(p > 0, p * log(np.where(p > 0, p, 1.0) / q), 0.0), axis=-1)


def _message(got, want) -> str:
    with pytest.raises(Fail) as err:
        expect_close(got, want, "your answer")
    return str(err.value)


@pytest.mark.parametrize("mistake, got, want, named", [
    ("0·log 0 as NaN", np.sum(P * np.log(P / Q), -1) * np.where(np.arange(4) == 0, np.nan, 1.0), kl_rows(P, Q), "NaN"),
    ("KL in bits", kl_rows(P, Q, np.log2), kl_rows(P, Q), "bits"),
    ("nats where bits are asked", kl_rows(P, Q), kl_rows(P, Q, np.log2), "divide by ln 2"),
    ("JS without the halves", 2 * kl_rows(P, (P + Q) / 2), kl_rows(P, (P + Q) / 2), "twice"),
    ("sign flipped", -kl_rows(P, Q), kl_rows(P, Q), "sign"),
    ("rows of a (2, 4) table exchanged", np.stack([kl_rows(Q, P), kl_rows(P, Q)]),
     np.stack([kl_rows(P, Q), kl_rows(Q, P)]), "another order"),
    ("error rate for accuracy", 1 - np.array([0.7, 0.81, 0.9]), np.array([0.7, 0.81, 0.9]), "1 minus"),
    ("T² forgotten at T = 3", kl_rows(P, Q), 9 * kl_rows(P, Q), "9 times"),
    ("q clipped where KL is infinite", np.array([np.sum(P[0] * np.log(P[0] / np.clip(np.r_[0, Q[0, 1:]], 1e-12, 1)))]),
     np.array([np.inf]), "infinite"),
])
def test_a_wrong_answer_is_told_its_mistake(mistake, got, want, named):
    message = _message(got, want)
    assert named in message, f"{mistake}: {message}"


def test_right_answers_and_unrelated_errors_get_no_diagnosis():
    want = kl_rows(P, Q)
    expect_close(want.astype(np.float32), want, "your answer")  # right in float32: passes, no message at all
    assert diagnose(want + np.array([0.01, 0.0, 0.0, 0.0]), want) is None  # one entry off: nothing to name
    assert diagnose(want + 0.37, want) is None  # a constant offset is no factor, order or complement
    message = _message(want * np.array([1.0, 1.0, 1.3, 1.0]), want)
    assert message.count(":") == 0, message  # a single wrong entry: "should be X, got Y" only


def test_a_single_number_is_not_called_a_constant_factor_unless_the_factor_is_a_known_one():
    assert diagnose(np.array(0.37), np.array(0.21)) is None  # any two scalars have "a constant ratio"
    assert "twice" in diagnose(np.array(0.42), np.array(0.21))


def test_shapes():
    assert "axis=-1" in shape_diagnosis((), (4,))
    assert "exchanged" in shape_diagnosis((5, 4), (4, 5))
    assert "summed away" in shape_diagnosis((4,), (4, 5))
    assert "not reduced" in shape_diagnosis((4, 5), (4,))
    assert shape_diagnosis((3,), (4,)) is None
    with pytest.raises(Fail, match=r"got shape \(\): one number came back"):
        as_array(float(np.sum(kl_rows(P, Q))), "kl(p, q)", shape=(4,))


def test_one_value_repeated_is_named():
    want = np.array([0.03, 0.01, 0.05])
    assert "same number" in _message(np.full(3, want.mean()), want)
    assert diagnose(np.full(3, 0.2), np.full(3, 0.1)) == "it is exactly twice the right value: a missing factor ½?"


def test_garbage_padding_summed_is_named():
    want = np.array([1.2, 0.7])
    assert "padding" in _message(np.array([1.2, 3.1e200]), want)

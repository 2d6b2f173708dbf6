"""Predict-before-you-run items and the shared checks of create items (private).

A *prediction* (understand level) is one letter among listed outcomes, committed in the answer cell
before the learner runs the cell that shows what happens. The notebook's check only says whether
the answer is one of the letters; which letter is right is decided at grading by a keyed hidden
test, with the instructor's key (the solution notebook's answer): the learner's package does not
hold it.

A *create* item is an open design graded on its behaviour on inputs the grader draws itself:
:func:`as_distribution` and :func:`as_flag` turn what a design returned into the numbers its
judge needs, or fail with a message saying what came back instead.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ._core import Fail, Test, as_array, selected_letters
from .spec import _KEYS_MOVED

__all__ = ["prediction_tests", "as_distribution", "as_flag"]


def _one_letter(got: Any, n: int) -> str:
    chosen = selected_letters(got, n)
    if len(chosen) != 1:
        raise Fail(f"a prediction is one letter among {', '.join('abcdefgh'[:n])}; got {len(chosen)} letters")
    return chosen.pop()


def prediction_tests(n_options: int, points: float = 1.0) -> tuple[Test, ...]:
    """The tests of a prediction among ``n_options`` lettered outcomes.

    A public check worth nothing (the answer is a single listed letter) and a keyed hidden test
    worth ``points``: it is the letter the solution notebook's answer cell assigns (the key,
    ``{"answer": "b"}``, read at grading; see :mod:`kdbook.grading.keys`). The failure message sends
    the learner back to the cell that shows the outcome, without naming it.
    """
    if isinstance(points, str):
        raise TypeError(_KEYS_MOVED.format(what="prediction_tests"))

    def well_formed(calls, outs):
        _one_letter(outs[0], n_options)

    def right(calls, outs, key):
        if _one_letter(outs[0], n_options) != _one_letter(key["answer"], n_options):
            raise Fail("that is not what the cell after your prediction shows: run it again and work out why "
                       "the outcome differs from what you expected")

    return (Test("one of the listed outcomes", 0, well_formed),
            Test("the outcome the next cell shows", points, right, hidden=True, keyed=True))


def as_distribution(got: Any, what: str, size: int, *, atol: float = 1e-6) -> np.ndarray:
    """A returned probability vector of length ``size`` (finite, non-negative, summing to 1), or :class:`Fail`."""
    q = np.asarray(as_array(got, what, (size,)), dtype=np.float64)
    if not np.isfinite(q).all():
        raise Fail(f"{what} holds inf or nan; it should be a probability distribution")
    if (q < -atol).any():
        raise Fail(f"{what} has a negative entry ({q.min():.4g}); probabilities are at least 0")
    if abs(q.sum() - 1.0) > atol:
        raise Fail(f"{what} should sum to 1, got {q.sum():.6f}")
    return np.clip(q, 0.0, None)


def as_flag(got: Any, what: str) -> bool:
    """A returned yes/no: ``True``/``False`` (numpy's too) or the numbers 1/0, else :class:`Fail`."""
    if isinstance(got, bool):
        return got
    if isinstance(got, np.ndarray) and got.shape == () and got.dtype.kind in "biuf":
        got = got.item()
    if isinstance(got, (bool, int, float)) and got in (0, 1):
        return bool(got)
    shown = f"an array of shape {got.shape}" if isinstance(got, np.ndarray) else repr(got)[:40]
    raise Fail(f"{what} should return True or False, got {shown}")

"""Name the mistake behind a wrong numeric answer from the shape of the error alone (private).

Issue 28 (item 2): "should be X, got Y" tells a learner that an answer is wrong, not why. Many
of the mistakes the chapters teach leave a fingerprint that can be recognised without knowing
the exercise: a NaN (0·log 0, an overflowing exp), a large finite number where the exact value
is infinite (a clipped or smoothed distribution), one number where one per row was asked (a
reduction over every axis), the right numbers in another order (swapped axes or arguments), a
constant factor (bits for nats, a missing ½ or T²), the sign flipped, or 1 − x (an error rate
for an accuracy). :func:`diagnose` returns such a diagnosis only when the condition holds
exactly (within the comparison's tolerance) on the whole answer, so it never misleads a right
answer or blames a wrong one for a bug it does not have. An exercise's own ``suspects`` (see
``kdbook.grading._core.expect_close``) come first; this is the fallback.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["diagnose", "shape_diagnosis"]

#: Constant factors with a common cause: (factor of the answer over the right value, diagnosis).
_FACTORS = (
    (-1.0, "the sign is flipped (a missing minus, or the two arguments' roles exchanged)"),
    (2.0, "it is exactly twice the right value: a missing factor ½?"),
    (0.5, "it is exactly half the right value: a factor ½ too many, or a mean where a sum is asked?"),
    (1.0 / math.log(2.0), "it is the right value in bits: use the natural logarithm (nats)"),
    (math.log(2.0), "it is the right value in nats where bits are asked: divide by ln 2"),
)


def _close(a: np.ndarray, b: np.ndarray, rtol: float, atol: float) -> bool:
    with np.errstate(invalid="ignore"):
        return bool(np.all(np.where(np.isinf(b), a == b, np.isclose(a, b, rtol=rtol, atol=atol))))


def diagnose(got: np.ndarray, want: np.ndarray, *, rtol: float = 1e-6, atol: float = 1e-9) -> str | None:
    """A short diagnosis of why ``got`` (same shape as ``want``) differs from ``want``, or None.

    >>> diagnose(np.array([0.2, np.nan]), np.array([0.2, 0.0]))[:24]
    'it is NaN where a number'
    >>> diagnose(np.array([1.0, 3.0]) / math.log(2), np.array([1.0, 3.0]))
    'it is the right value in bits: use the natural logarithm (nats)'
    >>> diagnose(np.array([2.0, 1.0]), np.array([1.0, 2.0]))
    'the right numbers in another order: are two arguments, axes or rows exchanged?'
    """
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        return None
    bad_nan = np.isnan(got) & ~np.isnan(want)
    if bad_nan.any():
        return ("it is NaN where a number is due: something computed 0/0, 0·log 0 or inf − inf (a limit case "
                "taken literally: 0·log 0 counts as 0; or exp of a large logit overflowing: subtract the row's "
                "maximum first)")
    if np.any(np.isposinf(want) & np.isfinite(got)):
        return ("the exact value is infinite here (a zero probability where the other distribution has mass): "
                "do not clip or add an epsilon, which turns +inf into a large finite number")
    if np.any(np.isfinite(want) & np.isinf(got)):
        return ("it is infinite where the exact value is finite: is the log taken of a probability that is 0 "
                "only because of underflow (use log-softmax), or are the two distributions' roles exchanged?")
    finite = np.isfinite(want)
    g, w = got[finite], want[finite]
    if np.any((np.abs(g) > 1e100) & (np.abs(w) < 1e50)):
        return ("it is astronomically large where the right value is moderate: are values that must not count "
                "(padding, masked-out positions) included in a sum?")
    if g.size == 0:
        return None
    nonzero = np.abs(w) > atol
    for factor, text in _FACTORS:
        if nonzero.any() and _close(g, factor * w, rtol, atol):
            return text
    if g.size >= 2:
        if _close(np.sort(g), np.sort(w), rtol, atol):
            return "the right numbers in another order: are two arguments, axes or rows exchanged?"
        if np.all((w >= 0) & (w <= 1)) and _close(g, 1.0 - w, rtol, atol):
            return "it is 1 minus the right value (an error rate for an accuracy, or the complementary event?)"
        if np.ptp(g) <= 1e-12 * max(1.0, abs(g[0])) and np.ptp(w) > 1e-9 * max(1.0, np.max(np.abs(w))):
            return ("every entry is the same number, but the right values differ from entry to entry: is one "
                    "value (a mean, a total, the first case) repeated?")
        if nonzero.sum() >= 2:
            ratio = g[nonzero] / w[nonzero]
            if np.all(np.isfinite(ratio)) and _close(ratio, np.full_like(ratio, ratio[0]), rtol, atol) \
                    and _close(g, ratio[0] * w, rtol, atol) and not math.isclose(ratio[0], 1.0, rel_tol=rtol):
                r = float(ratio[0])
                size = f"{1 / r:.4g} times too small" if abs(r) < 1 else f"{r:.4g} times too large"
                return f"it is exactly {size} everywhere: a constant factor is missing or extra (T², a count, a ½?)"
    return None


def shape_diagnosis(got_shape: tuple, want_shape: tuple) -> str | None:
    """Why an answer of shape ``got_shape`` was returned where ``want_shape`` is asked, or None.

    >>> shape_diagnosis((), (4,))
    'one number came back where one per row is asked: reduce over the last axis only (axis=-1)'
    """
    got_shape, want_shape = tuple(got_shape), tuple(want_shape)
    if got_shape == () and want_shape != ():
        return "one number came back where one per row is asked: reduce over the last axis only (axis=-1)"
    if len(got_shape) == len(want_shape) > 1 and got_shape == want_shape[::-1]:
        return "the axes are exchanged (a transpose, or the two arguments' roles swapped)"
    if got_shape == want_shape[:-1]:
        return "the last axis is summed away, but one value per element is asked (no reduction)"
    if got_shape == want_shape[1:]:
        return "the first axis is reduced away: keep one result per row"
    if got_shape[:-1] == want_shape and len(got_shape) == len(want_shape) + 1:
        return "the last axis is not reduced: sum (or average) over it, axis=-1"
    return None

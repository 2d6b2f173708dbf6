"""Chapter 3 exercises: the temperature softmax, entropy against T, and the T² factor.

Answers live in ``solutions/03_temperature_and_soft_targets.ipynb``; learners get
``exercises/03_temperature_and_soft_targets.ipynb``.
"""
from __future__ import annotations

import numpy as np

from .. import divergences as _div
from ..softmax import softmax as _softmax
from . import _draw
from ._core import Call, Exercise, Fail, Statement, Test, as_array, expect_close, select_tests

__all__ = ["EXERCISES", "TEACHER_LOGITS", "STUDENT_LOGITS", "TEMPERATURES", "T_SQUARED_STATEMENTS"]

#: The T² example: one teacher and one student, five classes, four temperatures.
TEACHER_LOGITS = np.array([4.0, 1.5, 0.5, -1.0, -2.0])
STUDENT_LOGITS = np.array([2.0, 2.0, 0.0, -0.5, -1.5])
TEMPERATURES = np.array([1.0, 2.0, 4.0, 8.0])


# --------------------------------------------------------------------------- softmax_T


def _softmax_cases(*shapes_and_ts, scale=2.0):
    def cases(rng):
        return [Call((_draw.logits(rng, shape, scale=scale),), {"T": float(T)}) for shape, T in shapes_and_ts]
    return cases


def _judge_softmax(calls, outs):
    for call, out in zip(calls, outs):
        (z,), T = call.args, call.kwargs["T"]
        what = f"softmax_T(z, T={T:g})"
        got = as_array(out, what, z.shape)
        if not np.isfinite(got).all():
            raise Fail(f"{what} returned inf or nan: subtract the row maximum before np.exp")
        expect_close(got, _softmax(z, T=T), what, atol=1e-12)


def _large_logits(rng):
    z = np.array([[1000.0, 999.0, 990.0], [-1000.0, -1001.0, -1003.0]]) + rng.normal(0, 0.1, (2, 3))
    return [Call((z,), {"T": 1.0}), Call((z,), {"T": 0.5})]


# --------------------------------------------------------------------------- temperature_for_entropy


def _entropy_cases(rng):
    calls = []
    for k in (4, 6, 10):
        z = _draw.logits(rng, (k,), scale=3.0)
        lo = float(_div.entropy(_softmax(z, T=0.3), base=2))
        hi = float(np.log2(k)) - 0.05
        calls.append(Call((z, float(rng.uniform(lo + 0.05, hi)))))
    return calls


def _judge_entropy(calls, outs):
    for call, out in zip(calls, outs):
        z, bits = call.args
        T = float(as_array(out, "temperature_for_entropy(z, bits)", ()))
        if not (np.isfinite(T) and T > 0):
            raise Fail(f"the temperature must be a positive number, got {T:g}")
        h = float(_div.entropy(_softmax(z, T=T), base=2))
        if abs(h - bits) > 1e-3:
            nats = float(_div.entropy(_softmax(z, T=T)))
            why = (": did you measure the entropy in nats? The target is in bits (base=2)"
                   if abs(nats - bits) <= 1e-3 else "")
            raise Fail(f"at T = {T:.4f} the entropy is {h:.4f} bits, but the target was {bits:.4f} bits{why}")


# --------------------------------------------------------------------------- T² factor


def _grad_norms() -> np.ndarray:
    rows = []
    for T in TEMPERATURES:
        g = (_softmax(STUDENT_LOGITS, T=T) - _softmax(TEACHER_LOGITS, T=T)) / T
        rows.append(np.linalg.norm(g))
    plain = np.array(rows)
    return np.stack([plain, plain * TEMPERATURES**2])


def _judge_grad_norms(calls, outs):
    want = _grad_norms()
    expect_close(outs[0], want, "grad_norms", rtol=1e-4, suspects=(
        (want * TEMPERATURES, "exactly T times too large in every column: the gradient of KL(p_T‖q_T) with "
                              "respect to z carries a factor 1/T"),
        (np.stack([want[0], want[0] * TEMPERATURES]), "row 1 is exactly T times row 0, not T² times"),
        (np.stack([want[0], want[0]]), "row 1 equals row 0: did you forget the T² factor?"),
    ))


#: The statements of 03.why_t_squared (checked against grad_norms in the tests).
T_SQUARED_STATEMENTS = (
    Statement("Without T², the soft gradient's norm falls roughly like 1/T² as T grows (from about 0.58 at T = 1 "
              "to about 0.008 at T = 8).", True),
    Statement("Without T², the soft gradient grows with T, so high temperatures would make training unstable.",
              False),
    Statement("With T², the norm stays between about 0.5 and 0.7 for every T from 1 to 8.", True),
    Statement("Multiplying by T² makes the soft gradient smaller at high temperatures.", False),
    Statement("With T², changing T does not silently change how much the soft term weighs against the hard-label "
              "term.", True),
    Statement("T² is needed because the softmax at a high temperature no longer sums to 1.", False),
)


EXERCISES = (
    Exercise(
        id="03.softmax_t", title="A stable temperature softmax", name="softmax_T",
        kind="function", level="apply", forbid=("softmax", "log_softmax"),
        hint="Divide by T, subtract the maximum along axis=-1 (keepdims=True) so np.exp cannot overflow, "
             "then normalise along the same axis.",
        tests=(
            Test("matches the softmax on random batches at T = 0.5, 1, 3", 1, _judge_softmax,
                 _softmax_cases(((4, 5), 0.5), ((4, 5), 1.0), ((3,), 3.0))),
            Test("logits near ±1000 do not overflow", 1, _judge_softmax, _large_logits),
            Test("3-D batch at T = 10", 1, _judge_softmax, _softmax_cases(((2, 3, 6), 10.0)), hidden=True),
            Test("tiny T = 0.05: nearly one-hot", 1, _judge_softmax, _softmax_cases(((5, 4), 0.05)), hidden=True),
        ),
    ),
    Exercise(
        id="03.temperature_for_entropy", title="Find the temperature for a target entropy",
        name="temperature_for_entropy", kind="function", level="apply",
        hint="The entropy of softmax(z/T) grows with T for non-constant logits. Bisect on log T between "
             "1e-3 and 1e3 until the entropy (base=2) is within 1e-6 bits of the target.",
        tests=(
            Test("hits three target entropies", 2, _judge_entropy, _entropy_cases),
            Test("hits three more on fresh logits", 1, _judge_entropy, _entropy_cases, hidden=True),
        ),
    ),
    Exercise(
        id="03.grad_norms", title="Measure the soft gradient with and without T²", name="grad_norms",
        kind="value", level="apply",
        hint="The gradient of KL(p_T‖q_T) w.r.t. the student logits is (q_T − p_T)/T. Take np.linalg.norm "
             "of it at each T for row 0, and multiply by T² for row 1.",
        tests=(Test("a 2×4 array of gradient norms", 2, _judge_grad_norms),),
    ),
    Exercise(
        id="03.why_t_squared", title="Why multiply by T²?", name="why_t_squared_claims",
        kind="select", level="analyse", statements=T_SQUARED_STATEMENTS,
        reasoning="why_t_squared", manual_points=1,
        hint="Compare the two rows of grad_norms as T goes from 1 to 8.",
        tests=select_tests(T_SQUARED_STATEMENTS, 2),
    ),
)

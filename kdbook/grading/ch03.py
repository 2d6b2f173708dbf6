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
from ._predict import as_distribution, prediction_tests

__all__ = ["EXERCISES", "TEACHER_LOGITS", "STUDENT_LOGITS", "TEMPERATURES", "T_SQUARED_STATEMENTS",
           "smoothed_to_entropy"]

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
        # A single-precision answer already rounds the logits z/T by eps·|z|/T, and the softmax inherits that
        # error in full: allow it (a float64 answer is held to 1e-6).
        eps = np.finfo(got.dtype).eps if got.dtype in (np.float32, np.float16) else 0.0
        expect_close(got, _softmax(z, T=T), what, atol=1e-12, rtol=max(1e-6, 4 * eps * (1 + np.abs(z).max() / T)),
                     suspects=_softmax_suspects(z, T))


def _softmax_suspects(z, T):
    """(value, diagnosis) of the temperature softmax that common slips compute."""
    out = [(_softmax(z * T**2, T=T), "the logits are multiplied by T: divide them, softmax(z / T)"),
           (_softmax(z, T=1.0), "T is ignored: this is softmax(z); divide the logits by T first")]
    if np.ndim(z) > 1:
        e = np.exp(z / T - (z / T).max(axis=-1, keepdims=True))
        out.append((e / e.sum(axis=0, keepdims=True), "normalised over the wrong axis: each row (axis=-1) must sum to 1"))
    return tuple(out)


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
              "to about 0.008 at T = 8)."),
    Statement("Without T², the soft gradient grows with T, so high temperatures would make training unstable."),
    Statement("With T², the norm stays between about 0.5 and 0.7 for every T from 1 to 8."),
    Statement("Multiplying by T² makes the soft gradient smaller at high temperatures."),
    Statement("With T², changing T does not silently change how much the soft term weighs against the hard-label "
              "term."),
    Statement("T² is needed because the softmax at a high temperature no longer sums to 1."),
)


# --------------------------------------------------------------------------- soft_targets (create)


def _bits(q: np.ndarray) -> float:
    return float(_div.entropy(q, base=2))


def smoothed_to_entropy(p: np.ndarray, bits: float) -> np.ndarray:
    """The baseline of 03.soft_targets: label smoothing (1 − ε)·p + ε/K with ε found by bisection so
    that the entropy is ``bits`` (needs ``bits`` between H(p) and log2 K)."""
    lo, hi = 0.0, 1.0
    for _ in range(100):
        eps = 0.5 * (lo + hi)
        lo, hi = (eps, hi) if _bits((1 - eps) * p + eps / p.size) < bits else (lo, eps)
    return (1 - lo) * p + lo / p.size


def _tempered_to_entropy(v: np.ndarray, bits: float) -> np.ndarray:
    """softmax(v/T) with T found by bisection on log T so that the entropy is ``bits``: the distribution
    of that entropy closest to softmax(v) in KL(q‖p) (the grader's yardstick for 03.soft_targets)."""
    lo, hi = np.log(1e-4), np.log(1e4)
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if _bits(_softmax(v, T=float(np.exp(mid)))) < bits else (lo, mid)
    return _softmax(v, T=float(np.exp(0.5 * (lo + hi))))


def _soft_cases(n: int, *, sharpen: bool):
    """Teachers over 4–10 classes and entropy targets: above the teacher's own entropy (softer) and,
    with ``sharpen``, every other one below it (sharper than the teacher)."""
    def cases(rng):
        calls, i = [], -1
        while len(calls) < n:
            i += 1
            k = int(rng.integers(4, 11))
            v = _draw.logits(rng, (k,), scale=float(rng.uniform(1.0, 3.0)))
            h = _bits(_softmax(v))
            gap = np.log2(k) - h
            lo, hi = (0.3 * h, 0.9 * h) if sharpen and i % 2 else (h + 0.1 * gap, h + 0.9 * gap)
            bits = float(np.round(rng.uniform(lo, hi), 4))
            if not sharpen:  # keep targets where the best soft target is clearly closer than label smoothing
                p = _softmax(v)
                base, best = (float(_div.kl_divergence(q, p)) for q in (smoothed_to_entropy(p, bits),
                                                                         _tempered_to_entropy(v, bits)))
                if best > 0.97 * base:
                    continue
            calls.append(Call((v, bits)))
        return calls
    return cases


def _check_soft(call, out) -> tuple[np.ndarray, np.ndarray]:
    v, bits = call.args
    what = f"soft_targets(v, bits={bits:g}) for a teacher over {v.size} classes"
    q = as_distribution(out, what, v.size)
    h = _bits(q)
    if abs(h - bits) > 5e-3:
        raise Fail(f"{what} has entropy {h:.4f} bits, not {bits:.4f}")
    order = np.argsort(-v, kind="stable")
    if (np.diff(q[order]) > 1e-9).any():
        raise Fail(f"{what} reorders the classes: a class the teacher ranks lower gets more probability")
    return v, q


def _judge_soft_valid(calls, outs):
    for call, out in zip(calls, outs):
        _check_soft(call, out)


def _judge_soft_close(calls, outs):
    for call, out in zip(calls, outs):
        v, q = _check_soft(call, out)
        p, h = _softmax(v), _bits(q)  # compared at the entropy the answer reached, so rounding costs nothing
        mine, base, best = (float(_div.kl_divergence(x, p)) for x in (q, smoothed_to_entropy(p, h),
                                                                     _tempered_to_entropy(v, h)))
        if not mine <= base - 0.5 * (base - best):
            raise Fail(f"KL(your soft target‖teacher) = {mine:.4f} on a teacher over {v.size} classes; label "
                       f"smoothing reaches the same entropy at {base:.4f}, and a soft target as close as {best:.4f} "
                       "exists: yours changes the teacher more than it needs to")


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
    Exercise(
        id="03.predict_doubled", title="Predict: what does doubling the logits do?", name="predict_doubled",
        kind="prediction", level="understand",
        hint="Write out softmax(2z/T) and look at what divides the logits.",
        tests=prediction_tests(4),
    ),
    Exercise(
        id="03.soft_targets", title="Design soft targets of a given entropy", name="soft_targets",
        kind="function", level="create",
        hint="Among all distributions with a given entropy, which is closest to p in KL(q‖p)? Write KL(q‖p) = "
             "−H(q) − Σ q_i log p_i: at a fixed entropy only the second sum matters. Set up the Lagrangian with "
             "the two constraints (Σ q_i = 1, H(q) = target) and look at the form of its solution.",
        tests=(
            Test("hits the entropy and keeps the order, softer and sharper targets", 1, _judge_soft_valid,
                 _soft_cases(4, sharpen=True)),
            Test("the same on six fresh teachers", 1, _judge_soft_valid, _soft_cases(6, sharpen=True), hidden=True),
            Test("closer to the teacher than label smoothing, on six fresh teachers", 2, _judge_soft_close,
                 _soft_cases(6, sharpen=False), hidden=True),
        ),
    ),
)

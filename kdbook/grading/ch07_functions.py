"""Chapter 7's two from-scratch function items: JSD(β) with its gradient (07.jsd_beta) and a REINFORCE
estimate with the leave-one-out baseline (07.reinforce): inputs the grader draws and the judges.

Split out of ``kdbook.grading.ch07`` (which builds the exercises from these). The hidden JSD test
exercises what the item teaches: logits near 1000 (a naive ``exp`` overflows to inf in float64;
their spread of 30 keeps every probability above float64's underflow, so ``p * log(p / m)`` after
a stable log-softmax is fine there), and β = 0.2 on teacher and student logits far apart, where the reversed convention JSD(1 − β)
differs from JSD(β) by far more than the tolerance.
"""
from __future__ import annotations

import numpy as np

from ..losses import kd_loss, kd_loss_and_grad
from ..softmax import log_softmax, softmax
from . import _draw
from ._core import Call, Fail, Opaque, expect_close

__all__ = ["reinforce_reference"]


def _as_dict(got, what: str, keys) -> dict:
    """The answer, a tuple, list or 1-D array with one item per name in ``keys``, as a dict by name."""
    keys = tuple(keys)
    if isinstance(got, np.ndarray) and got.ndim == 1:
        got = [x[()] for x in got]  # numbers stay numbers (0-d arrays), whatever their dtype
    if not isinstance(got, (tuple, list)) or len(got) != len(keys):
        kind = (f"a {type(got).__name__} of {len(got)} items" if isinstance(got, (tuple, list)) else
                f"a {got.type_name} that is not a sequence of numbers" if isinstance(got, Opaque) else
                type(got).__name__)
        raise Fail(f"{what} should be a tuple of {len(keys)} items ({', '.join(keys)}), got {kind}")
    return dict(zip(keys, got))


# --------------------------------------------------------------------------- 07.jsd_beta


def _jsd_cases(shapes, scale, *, shift: float = 0.0):
    """Student and teacher logits ~ N(shift, scale²) for each (shape, β)."""
    def cases(rng):
        out = []
        for shape, beta in shapes:
            out.append(Call((_draw.logits(rng, shape, scale=scale) + shift,
                             _draw.logits(rng, shape, scale=scale) + shift, beta)))
        return out
    return cases


def _jsd_convention_cases(rng):
    """β = 0.2 where teacher and student put their mass on different tokens: JSD(0.2) ≠ JSD(0.8) by a margin."""
    shape = (4, 6)
    z, v = _draw.logits(rng, shape, scale=1.0), _draw.logits(rng, shape, scale=1.0)
    rows = np.arange(shape[0])
    z[rows, rng.integers(0, 3, size=shape[0])] += 6.0  # the student on one of the first three tokens
    v[rows, rng.integers(3, 6, size=shape[0])] += 6.0  # the teacher on one of the last three
    return [Call((z, v, 0.2))]


def _judge_jsd(calls, outs):
    for call, out in zip(calls, outs):
        z, v, beta = call.args
        what = f"jsd_beta(student_logits, teacher_logits, beta={beta:g}) with shape {z.shape}"
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise Fail(f"{what} should return a tuple (loss, grad), got {type(out).__name__}")
        loss, grad = kd_loss_and_grad(z, v, divergence="gjsd", beta=beta, reduction="none")
        swapped = kd_loss(z, v, divergence="gjsd", beta=1.0 - beta, reduction="none")
        expect_close(out[0], loss, f"the loss of {what}", rtol=1e-6, atol=1e-10, suspects=(
            (swapped, "that is JSD(1 − β): the β convention is reversed (or p and q swapped); GKD weights the "
                      "teacher p by β in M = βp + (1−β)q and β → 1 is reverse-like"),
        ))
        p, q = softmax(v), softmax(z)
        m = beta * p + (1 - beta) * q
        dq = (1 - beta) * np.log(q / m)  # ∂D/∂q before the softmax
        expect_close(out[1], grad, f"the gradient of {what}", rtol=1e-5, atol=1e-9, suspects=(
            (dq, "that is ∂D/∂q, the gradient with respect to the probabilities; chain it through the softmax: "
                 "q_j (g_j − Σ_k q_k g_k)"),
            (-grad, "the sign is flipped"),
        ))


# --------------------------------------------------------------------------- 07.reinforce


def reinforce_reference(theta, samples, log_p, *, baseline: str = "leave_one_out") -> np.ndarray:
    """The REINFORCE estimate of ∇_θ KL(softmax(θ) ‖ p) from sample indices (grader's reference).

    ``baseline``: "leave_one_out" (the exercise), "none" or "mean" (the mean including the sample).
    """
    theta = np.asarray(theta, dtype=float)
    log_q = log_softmax(theta)
    y = np.asarray(samples)
    n = y.size
    r = log_q[y] - np.asarray(log_p, dtype=float)[y]
    if baseline == "leave_one_out":
        r = r - (r.sum() - r) / (n - 1)
    elif baseline == "mean":
        r = r - r.mean()
    score = np.eye(theta.size)[y] - np.exp(log_q)  # ∇_θ log q(y_i), one row per sample
    return (r[:, None] * score).mean(axis=0)


def _reinforce_cases(K, n, reps):
    def cases(rng):
        out = []
        for _ in range(reps):
            theta = _draw.logits(rng, (K,), scale=1.5)
            samples = rng.choice(K, size=n, p=softmax(theta))
            log_p = np.log(_draw.probs(rng, (K,)))
            out.append(Call((theta, samples, log_p)))
        return out
    return cases


def _judge_reinforce(calls, outs):
    for call, out in zip(calls, outs):
        theta, samples, log_p = call.args
        what = f"reinforce_grad(theta, samples, log_p) with K={theta.size}, n={samples.size}"
        want = reinforce_reference(theta, samples, log_p)
        none = reinforce_reference(theta, samples, log_p, baseline="none")
        mean = reinforce_reference(theta, samples, log_p, baseline="mean")
        expect_close(out, want, what, rtol=1e-6, atol=1e-10, suspects=(
            (none, "that is REINFORCE without a baseline: subtract b_i, the mean R of the other samples"),
            (mean, "the baseline includes the sample itself (the mean over all n): that makes it depend on y_i; use "
                   "the mean of the *other* n − 1 samples"),
            (-want, "the sign is flipped: R(y) = log q(y) − log p(y), the log-ratio of KL(q‖p)"),
        ))

"""Chapter 4 exercises: the KD gradient, a broken distillation loss, and the combined loss.

Answers live in ``solutions/04_the_kd_loss.ipynb``; learners get ``exercises/04_the_kd_loss.ipynb``.
"""
from __future__ import annotations

import numpy as np

from ..divergences import kl_divergence
from ..losses import kd_loss, kd_loss_and_grad
from ..softmax import softmax
from . import _draw
from ._core import Call, Exercise, Fail, Statement, Test, as_array, expect_close, factor_suspects, select_tests
from ._predict import prediction_tests

__all__ = ["EXERCISES", "STUDENT_LOGITS", "TEACHER_LOGITS", "TEMPERATURES", "BUG_STATEMENTS"]

#: The loss-values example: a batch of three, four classes, four temperatures.
STUDENT_LOGITS = np.array([[2.0, 1.0, 0.1, -1.0], [0.5, 2.5, -0.5, 0.0], [1.5, -1.0, 0.3, 0.2]])
TEACHER_LOGITS = np.array([[3.0, 1.5, -0.5, -2.0], [0.0, 3.5, 0.5, -1.0], [2.5, -2.0, 1.0, 0.0]])
TEMPERATURES = np.array([1.0, 2.0, 4.0, 8.0])


def _judge_loss_values(calls, outs):
    want = np.array([kd_loss(STUDENT_LOGITS, TEACHER_LOGITS, T=T) for T in TEMPERATURES])
    got = as_array(outs[0], "soft_losses")
    if got.shape != want.shape:
        raise Fail(f"soft_losses should hold one loss per temperature, shape {want.shape}; got shape {got.shape}")
    swapped = np.array([kd_loss(TEACHER_LOGITS, STUDENT_LOGITS, T=T) for T in TEMPERATURES])
    expect_close(got, want, "soft_losses", suspects=(
        (want / TEMPERATURES**2, "each loss is exactly T² times too small: did you forget the T² factor?"),
        (swapped, "these are the losses with student and teacher swapped: kdbook.kd_loss takes the student's "
                  "logits first"),
        (np.full_like(want, want[0]), "every entry is the loss at T = 1: pass each temperature to kd_loss (T=T)"),
    ))


def _logit_pairs(*specs):
    """Cases (student_logits, teacher_logits, T) for each (batch, classes, T, scale)."""
    def cases(rng):
        return [Call((_draw.logits(rng, (b, k), scale=s), _draw.logits(rng, (b, k), scale=s), float(T)))
                for b, k, T, s in specs]
    return cases


def _judge_grad(calls, outs):
    for call, out in zip(calls, outs):
        z, v, T = call.args
        what = f"kd_soft_grad(z, v, T={T:g})"
        want = kd_loss_and_grad(z, v, T=T)[1]
        suspects = ((-want, "every entry has the wrong sign: the gradient is T·(q_T − p_T)/B, student minus teacher"),)
        suspects += factor_suspects(want, "your gradient", (
            ("T²", T**2, "did you forget the T² factor of the loss?", None),
            ("T", T, "did you drop the T of the chain rule or the T² of the loss?",
             "did you forget the 1/T of the chain rule (d(z/T)/dz = 1/T)?"),
            ("B", len(z), None, "did you forget to divide by the batch size B (the loss is a batch mean)?"),
        ))
        expect_close(as_array(out, what, z.shape), want, what, rtol=1e-6, atol=1e-10, suspects=suspects)


def _judge_fixed(calls, outs):
    for call, out in zip(calls, outs):
        z, v, T = call.args
        what = f"kd_loss_fixed(z, v, T={T:g})"
        want = kd_loss(z, v, T=T)
        p_t, q_t = softmax(v, T=T), softmax(z, T=T)
        suspects = ((T**2 * kl_divergence(q_t, p_t).mean(), "this is the reverse KL(q_T‖p_T): are the student and "
                     "teacher distributions swapped?"),)
        suspects += factor_suspects(want, "your loss", (
            ("T²", T**2, "did you forget the T² factor?", None),
            ("K", z.shape[-1], "did np.mean divide by all B·K entries instead of the batch size B?", None),
            ("B", len(z), None, "did you sum over the batch instead of taking the batch mean?"),
        ))
        expect_close(as_array(out, what, ()), want, what, suspects=suspects)


def _combined_cases(*specs):
    def cases(rng):
        out = []
        for b, k, T, w in specs:
            z, v = _draw.logits(rng, (b, k)), _draw.logits(rng, (b, k))
            out.append(Call((z, v, rng.integers(0, k, size=b)), {"T": float(T), "hard_weight": float(w)}))
        return out
    return cases


def _judge_combined(calls, outs):
    for call, out in zip(calls, outs):
        (z, v, y), kw = call.args, call.kwargs
        what = f"combined_kd_loss(z, v, labels, T={kw['T']:g}, hard_weight={kw['hard_weight']:g})"
        want = kd_loss(z, v, labels=y, **kw)
        w, T = kw["hard_weight"], kw["T"]
        hard, soft = kd_loss(z, v, labels=y, T=T, hard_weight=1.0), kd_loss(z, v, T=T)
        log_q_t = np.log(softmax(z, T=T))
        hard_at_t = -np.mean(log_q_t[np.arange(len(z)), y])
        hard_bk = -np.mean(np.eye(z.shape[-1])[y] * np.log(softmax(z)))
        expect_close(as_array(out, what, ()), want, what, suspects=(
            (w * hard + (1 - w) * soft / T**2, "the soft term is exactly T² times too small: did you forget T²?"),
            ((1 - w) * hard + w * soft, "the weights are swapped: hard_weight multiplies the hard-label term"),
            (w * hard_at_t + (1 - w) * soft, "the hard-label term is computed at temperature T: the cross-entropy "
                                             "with the labels uses the plain softmax (T = 1)"),
            (w * hard_bk + (1 - w) * soft, "the hard-label term is averaged over all B·K one-hot entries: it is a "
                                           "mean over the batch of −log q(label), so it is K times too small"),
        ))


#: The statements of 04.bug_report about the notebook's ``kd_loss_buggy`` (checked against it in the tests).
BUG_STATEMENTS = (
    Statement("It computes KL(q_T‖p_T), the reverse direction: student and teacher distributions are swapped."),
    Statement("np.mean averages over all B·K entries, so the loss is also divided by the number of classes K."),
    Statement("The T² factor is missing."),
    Statement("It forgets to divide the logits by T before the softmax."),
    Statement("It should use log base 2."),
    Statement("The batch mean should be a sum over the batch."),
)


# --------------------------------------------------------------------------- symmetric_kd (create)

_FD_STEP = 1e-5
_N_DIRECTIONS = 3


def _symmetric_cases(*specs):
    """For each (batch, classes, T, scale): the calls a judge needs to test one loss design at one point.

    In order: (z, v), (v, z), (v + c, v) with a constant c per row, then (z ± h·d, v) for three random
    directions d, all at temperature T.
    """
    def cases(rng):
        calls = []
        for b, k, T, s in specs:
            z, v = _draw.logits(rng, (b, k), scale=s), _draw.logits(rng, (b, k), scale=s)
            shifted = v + rng.normal(0.0, 3.0, (b, 1))
            calls += [Call((z, v, float(T))), Call((v, z, float(T))), Call((shifted, v, float(T)))]
            for _ in range(_N_DIRECTIONS):
                d = rng.normal(size=(b, k))
                calls += [Call((z + _FD_STEP * d, v, float(T))), Call((z - _FD_STEP * d, v, float(T)))]
        return calls
    return cases


def _loss_grad(out, call) -> tuple[float, np.ndarray]:
    z, v, T = call.args
    what = f"symmetric_kd(z, v, T={T:g})"
    if isinstance(out, np.ndarray) and out.dtype.kind in "biuf" and out.ndim >= 1 and len(out) == 2:
        raise Fail(f"{what} should return a pair (loss, gradient), got one array of shape {out.shape}")
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise Fail(f"{what} should return a pair (loss, gradient), got {type(out).__name__}")
    loss = float(as_array(out[0], f"the loss of {what}", ()))
    grad = np.asarray(as_array(out[1], f"the gradient of {what}", z.shape), dtype=np.float64)
    if not (np.isfinite(loss) and np.isfinite(grad).all()):
        raise Fail(f"{what} returned inf or nan")
    return loss, grad


def _judge_symmetric(*, scale_check: bool):
    per_point = 3 + 2 * _N_DIRECTIONS

    def judge(calls, outs):
        for start in range(0, len(calls), per_point):
            c, o = calls[start:start + per_point], outs[start:start + per_point]
            (z, v, T), B = c[0].args, len(c[0].args[0])
            loss, grad = _loss_grad(o[0], c[0])
            swapped, _ = _loss_grad(o[1], c[1])
            if not np.isclose(loss, swapped, rtol=1e-7, atol=1e-12):
                raise Fail(f"at T = {T:g} the loss is {loss:.6f}, but {swapped:.6f} with student and teacher "
                           "swapped: the design should be symmetric")
            same, same_grad = _loss_grad(o[2], c[2])
            if abs(same) > 1e-9 or np.abs(same_grad).max() > 1e-9:
                raise Fail(f"when the student's logits are the teacher's plus a constant per row (the same "
                           f"distributions) the loss should be 0 with a zero gradient, got loss {same:.4g}")
            if not loss > 1e-9:
                raise Fail(f"the loss should be positive when the distributions differ, got {loss:.4g} at T = {T:g}")
            for j in range(_N_DIRECTIONS):
                d = (c[3 + 2 * j].args[0] - z) / _FD_STEP
                up, _ = _loss_grad(o[3 + 2 * j], c[3 + 2 * j])
                down, _ = _loss_grad(o[4 + 2 * j], c[4 + 2 * j])
                slope, claimed = (up - down) / (2 * _FD_STEP), float((grad * d).sum())
                if abs(slope - claimed) > 1e-4 * (abs(slope) + np.linalg.norm(grad) * np.linalg.norm(d)) + 1e-9:
                    raise Fail(f"at T = {T:g}, batch {B}: along a random direction your loss changes at the rate "
                               f"{slope:.6f}, but your gradient says {claimed:.6f}: the gradient is not the "
                               "gradient of the loss you return")
            if scale_check:
                ratio = np.linalg.norm(grad) / np.linalg.norm(kd_loss_and_grad(z, v, T=T)[1])
                if not 0.85 <= ratio <= 1.15:
                    raise Fail(f"at T = {T:g} your gradient's norm is {ratio:.3f} times that of the standard "
                               "T²·KL(p_T‖q_T) loss; at high temperature it should match it (within 15 %)")
    return judge


_FORBID_LOSS = ("kd_loss", "kd_loss_and_grad")

EXERCISES = (
    Exercise(
        id="04.soft_losses", title="The soft loss at four temperatures", name="soft_losses",
        kind="value", level="apply",
        hint="One call of kdbook.kd_loss per temperature; check the order of its arguments in its docstring.",
        tests=(Test("kdbook.kd_loss at T = 1, 2, 4, 8", 1, _judge_loss_values),),
    ),
    Exercise(
        id="04.kd_grad", title="Derive and implement the distillation gradient", name="kd_soft_grad",
        kind="function", level="apply", forbid=_FORBID_LOSS,
        hint="Two steps: the gradient of KL(p‖softmax(u)) with respect to u is softmax(u) − p; then the "
             "chain rule through u = z/T, and keep the T² in front and the 1/B of the batch mean.",
        tests=(
            Test("matches the gradient at T = 1 and T = 3", 2, _judge_grad, _logit_pairs((4, 5, 1, 2), (4, 5, 3, 2))),
            Test("one row, T = 0.5, large logits", 1, _judge_grad, _logit_pairs((1, 7, 0.5, 6)), hidden=True),
            Test("a big batch at T = 8", 1, _judge_grad, _logit_pairs((32, 10, 8, 3)), hidden=True),
        ),
    ),
    Exercise(
        id="04.fix_the_bug", title="Fix the broken distillation loss", name="kd_loss_fixed",
        kind="function", level="apply", forbid=_FORBID_LOSS,
        hint="The loss should be T² times the batch mean of KL(p_T‖q_T), teacher first; kdbook.kl_divergence "
             "returns one value per row.",
        tests=(
            Test("matches T²·KL(p_T‖q_T) averaged over the batch, T = 2", 2, _judge_fixed,
                 _logit_pairs((4, 6, 2, 2))),
            Test("T = 1 and T = 5, batches of 1 and 16", 1, _judge_fixed, _logit_pairs((1, 5, 1, 2), (16, 4, 5, 3)),
                 hidden=True),
        ),
    ),
    Exercise(
        id="04.bug_report", title="Write the bug report", name="bug_claims",
        kind="select", level="analyse", statements=BUG_STATEMENTS, reasoning="bug_report", manual_points=1,
        hint="Compare kd_loss_buggy with the formula line by line: the order of p and q, what np.mean "
             "divides by, and which factor is missing.",
        tests=select_tests(BUG_STATEMENTS, 3, "bugs"),
    ),
    Exercise(
        id="04.combined", title="The combined soft + hard loss", name="combined_kd_loss",
        kind="function", level="apply", forbid=_FORBID_LOSS,
        hint="hard_weight · mean cross-entropy of the labels under softmax(z) at T = 1, plus "
             "(1 − hard_weight) · T² · mean KL(p_T‖q_T). Index log-softmax with "
             "log_q[np.arange(B), labels].",
        tests=(
            Test("hard_weight = 0.3, T = 2", 2, _judge_combined, _combined_cases((5, 4, 2, 0.3))),
            Test("the pure ends hard_weight = 0 and 1, T = 4", 1, _judge_combined,
                 _combined_cases((3, 6, 4, 0.0), (3, 6, 4, 1.0)), hidden=True),
        ),
    ),
    Exercise(
        id="04.predict_grad_sum", title="Predict: what does a row of the soft gradient add up to?",
        name="predict_grad_sum", kind="prediction", level="understand",
        hint="The gradient of a row is proportional to q_T − p_T. What does each of the two distributions add "
             "up to?",
        tests=prediction_tests(4),
    ),
    Exercise(
        id="04.symmetric_kd", title="Design a symmetric distillation loss on the right scale", name="symmetric_kd",
        kind="function", level="create",
        hint="Pick a symmetric divergence (Jensen–Shannon, or the average of the two KL directions), derive its "
             "gradient with respect to the student's logits (softmax, then the chain rule through z/T), and check "
             "it against finite differences. For the scale: at high T every such divergence is close to a "
             "multiple of Σ (q_i − p_i)²/p_i; compare that multiple with KL's.",
        tests=(
            Test("symmetric, zero only for equal distributions, exact gradient (T = 2)", 1,
                 _judge_symmetric(scale_check=False), _symmetric_cases((4, 5, 2.0, 2.0))),
            Test("the same on fresh logits at T = 1 and T = 5, batches of 1 and 8", 1,
                 _judge_symmetric(scale_check=False), _symmetric_cases((1, 6, 1.0, 3.0), (8, 4, 5.0, 2.0)),
                 hidden=True),
            Test("the gradient's scale matches T²·KL at T = 20 and T = 40", 2, _judge_symmetric(scale_check=True),
                 _symmetric_cases((6, 5, 20.0, 2.0), (3, 8, 40.0, 2.0)), hidden=True),
        ),
    ),
)

"""Chapter 6 exercises: reductions, the masked token-level KD loss, sequence log-probabilities,
where a student loses, choosing an objective, a prediction about a stored top-k teacher, and a
storage scheme for a teacher.

Answers live in ``solutions/06_distilling_a_language_model.ipynb``; learners get
``exercises/06_distilling_a_language_model.ipynb``. Every function is checked on batches the
grader draws itself (random padding, garbage at masked positions); the storage scheme is run on
teachers the learner has not seen (the toy language with hidden seeds and prompts).
"""
from __future__ import annotations

import numpy as np

from ..divergences import kl_divergence
from ..softmax import log_softmax, softmax
from . import _draw
from ._core import Call, Exercise, Fail, Test, as_array, expect_close, factor_suspects, select_tests
from ._predict import prediction_tests
from ._ch06_storage import (BYTES_PER_ENTRY, STORAGE_BUDGET, STORAGE_KL, _judge_storage, _pair, _storage_cases,
                           restore_stored, storage_teachers)
from .ch06_statements import (OBJECTIVE_GROUPS, OBJECTIVE_STATEMENTS, REMEMBER_STATEMENTS, WHERE_GROUPS,
                             WHERE_STATEMENTS)

__all__ = ["EXERCISES", "STORAGE_BUDGET", "STORAGE_KL", "BYTES_PER_ENTRY", "OBJECTIVE_STATEMENTS",
           "OBJECTIVE_GROUPS", "REMEMBER_STATEMENTS", "WHERE_STATEMENTS", "WHERE_GROUPS", "restore_stored",
           "storage_teachers"]



def _padded(rng, B, L, V, *, garbage=False, scale=2.0):
    """(student, teacher, mask, clean student, clean teacher): right-padded rows, every column used once."""
    lengths = rng.integers(1, L + 1, size=B)
    lengths[rng.integers(B)] = L
    mask = np.arange(L)[None, :] < lengths[:, None]
    z, v = _draw.logits(rng, (B, L, V), scale=scale), _draw.logits(rng, (B, L, V), scale=scale)
    zc, vc = z.copy(), v.copy()
    if garbage:
        z[~mask] = np.nan
        v[~mask] = rng.normal(scale=1e3, size=v[~mask].shape)
    return z, v, mask, zc, vc


def _per_position_kl(z, v, mask, T=1.0):
    z0, v0 = np.where(mask[..., None], z, 0.0), np.where(mask[..., None], v, 0.0)
    return np.where(mask, kl_divergence(softmax(v0, T=T), softmax(z0, T=T)), 0.0)


# --------------------------------------------------------------------------- reductions


def _reduction_cases(*specs):
    """Padded (B, L) losses, some real ones exactly 0, whose padding holds garbage: arbitrary numbers (never 0),
    huge ones, NaN and ±inf."""
    def cases(rng):
        out = []
        for B, L, garbage in specs:
            lengths = rng.integers(1, L + 1, size=B)
            lengths[rng.integers(B)] = L - 2  # at least two padded positions
            mask = np.arange(L)[None, :] < lengths[:, None]
            padding = rng.choice([-1.0, 1.0], size=(B, L)) * rng.uniform(0.5, 50.0, size=(B, L))
            if garbage:
                padding = np.where(rng.random((B, L)) < 0.5, padding * 1e200, padding)
                padding[rng.random((B, L)) < 0.3] = np.nan
                infinite = rng.random((B, L)) < 0.1
                padding[infinite] = rng.choice([-np.inf, np.inf], size=infinite.sum())
                pad = np.argwhere(~mask)[rng.permutation(int((~mask).sum()))[:2]]
                padding[tuple(pad[0])], padding[tuple(pad[1])] = np.nan, np.inf  # at least one NaN and one inf
            loss = rng.gamma(2.0, size=(B, L))
            real = np.argwhere(mask)
            loss[tuple(real[rng.permutation(len(real))[: max(1, len(real) // 5)]].T)] = 0.0  # a KL can be exactly 0
            out.append(Call((np.where(mask, loss, padding), mask)))
        return out
    return cases


def _judge_reductions(calls, outs):
    for call, out in zip(calls, outs):
        loss, mask = call.args
        what = "reductions(per_position, mask)"
        out = _pair(out, f"{what} should return two numbers (token_mean, sequence_mean): a tuple, a list or an "
                         "array of two")
        B, n = mask.shape[0], mask.sum()
        total = np.where(mask, loss, 0.0).sum()
        got = [as_array(out[0], what + "[0]", ()), as_array(out[1], what + "[1]", ())]
        if not all(np.isfinite(g) for g in got):
            raise Fail(f"{what} returned {float(got[0])}, {float(got[1])}: the padding holds garbage (here huge "
                       "numbers, NaN or inf) and must not reach the result; multiplying by the mask keeps NaN "
                       "(NaN·0 is NaN), so select the real positions or use np.where")
        expect_close(got[0], total / n, "token_mean", suspects=(
            (total / loss.size, "you divided by B·L, counting the padding positions as tokens"),
            (total / B, "this is the sum per sentence (divided by B), the other reduction"),
            (total / max(np.count_nonzero(np.where(mask, loss, 0.0)), 1),
             "you counted the nonzero losses: a real token's loss can be exactly 0; count the mask's True entries"),
        ))
        expect_close(got[1], total / B, "sequence_mean", suspects=(
            (total / n, "this is the mean per token, the other reduction"),
            (total / loss.size, "you divided by B·L: the sequence mean divides the sum by the number of sentences B"),
        ))


# --------------------------------------------------------------------------- masked KD loss


def _kd_cases(*specs):
    def cases(rng):
        out = []
        for B, L, V, T, reduction, garbage in specs:
            z, v, mask, *_ = _padded(rng, B, L, V, garbage=garbage)
            out.append(Call((z, v, mask), {"T": float(T), "reduction": reduction}))
        return out
    return cases


def _judge_kd(calls, outs):
    for call, out in zip(calls, outs):
        z, v, mask = call.args
        T, reduction = call.kwargs["T"], call.kwargs["reduction"]
        what = f"masked_kd_loss(z, v, mask, T={T:g}, reduction={reduction!r})"
        per = T * T * _per_position_kl(z, v, mask, T)
        B, (L, V), n = mask.shape[0], mask.shape[1:] + (z.shape[-1],), mask.sum()
        denominator = n if reduction == "tokenmean" else B
        want = per.sum() / denominator
        clean = np.isfinite(z).all()
        suspects = []
        if clean:
            everywhere = T * T * kl_divergence(softmax(v, T=T), softmax(z, T=T))
            suspects.append((everywhere.sum() / (B * L if reduction == "tokenmean" else B),
                             "padding counted: the masked positions' KL is in your sum (multiply by the mask)"))
        suspects += [
            (per.sum() / (B * L), "padding counted: you divided by B·L positions instead of the number of real tokens"),
            (per.sum() / (B * L * V), "this is a mean over all B·L·V entries (torch's reduction='mean'), not a KL"),
            (per.sum() / (n * V), "you divided by the number of classes V as well: sum over the vocabulary, "
                                  "average over the positions"),
            (per.sum() / (B if reduction == "tokenmean" else n),
             "you used the other reduction: tokenmean divides by the real tokens, batchmean by B"),
        ]
        suspects += list(factor_suspects(want, "your loss", (("T²", T * T, "did you forget the T² factor?", None),)))
        reverse = T * T * _per_position_kl(v, z, mask, T)  # KL(q_T‖p_T): student and teacher exchanged
        suspects.append((reverse.sum() / denominator, "this is the reverse KL(q_T‖p_T): the teacher's distribution "
                                                      "p_T comes first, KL(p_T‖q_T) = Σ p_T (log p_T − log q_T)"))
        got = as_array(out, what, ())
        if not np.isfinite(got) and np.isfinite(want):
            raise Fail(f"{what} is {float(got)}: the masked positions hold NaN and garbage; they must not reach the "
                       "result (select the real positions, or replace the padding before the softmax)")
        expect_close(got, want, what, suspects=tuple(suspects))


# --------------------------------------------------------------------------- sequence log-probability


def _seq_cases(*specs):
    def cases(rng):
        out = []
        for B, L, V in specs:
            z, _, mask, *_ = _padded(rng, B, L, V)
            targets = np.where(mask, rng.integers(0, V, size=(B, L)), 0)
            out.append(Call((z, targets, mask)))
        return out
    return cases


def _judge_seq(calls, outs):
    for call, out in zip(calls, outs):
        z, y, mask = call.args
        B, L = y.shape
        what = "sequence_logprob(logits, targets, mask)"
        lp = log_softmax(z)
        picked = np.take_along_axis(lp, y[..., None], axis=-1)[..., 0]
        want = (picked * mask).sum(axis=1)
        got = as_array(out, what)
        if got.shape == (L,) and L != B:
            raise Fail(f"{what} has shape {got.shape}, one value per position: sum over the positions (axis 1), "
                       f"giving one log-probability per sentence, shape ({B},)")
        got = as_array(got, what, (B,))
        shifted = (np.take_along_axis(lp[:, :-1], y[:, 1:, None], axis=-1)[..., 0] * mask[:, 1:]).sum(axis=1)
        raw = (np.take_along_axis(z, y[..., None], axis=-1)[..., 0] * mask).sum(axis=1)
        expect_close(got, want, what, suspects=(
            (picked.sum(axis=1), "padding counted: the masked positions' log-probabilities are in your sum"),
            (shifted, "off by one: logits[:, t] already predict targets[:, t]; do not shift them again"),
            (raw, "these are raw logits: take the log-softmax over the vocabulary first"),
            ((picked * mask).sum(axis=1) / mask.sum(axis=1), "this is the mean per token; the sequence log-probability "
                                                             "is the sum"),
        ))


# --------------------------------------------------------------------------- sequence KL with its SE


def _skl_cases(*sizes):
    def cases(rng):
        out = []
        for n in sizes:
            lp = -rng.gamma(4.0, 4.0, size=n)  # teacher log-probabilities of n sampled sentences
            lq = lp - rng.gamma(1.5, 1.0, size=n) + rng.normal(scale=0.5, size=n)
            out.append(Call((lp, lq)))
        return out
    return cases


def _judge_skl(calls, outs):
    for call, out in zip(calls, outs):
        lp, lq = call.args
        n = len(lp)
        what = "sequence_kl(teacher_logprob, student_logprob)"
        out = _pair(out, f"{what} should return two numbers (estimate, standard_error)")
        d = lp - lq
        est = as_array(out[0], what + "[0]", ())
        expect_close(est, d.mean(), "the estimate", rtol=1e-4, suspects=(  # float32 log-ratios are fine
            (-d.mean(), "the sign is reversed: KL(p‖q) averages log p − log q over the teacher's samples"),
            (d.sum(), "this is the sum over the samples; the estimate is their mean"),
        ))
        se = float(as_array(out[1], what + "[1]", ()))
        lo, hi = d.std(ddof=0) / np.sqrt(n), d.std(ddof=1) / np.sqrt(n)
        if not lo * (1 - 1e-4) <= se <= hi * (1 + 1e-4):  # either ddof, float32 rounding
            hint = ""
            if np.isclose(se, d.std(ddof=1)) or np.isclose(se, d.std()):
                hint = ": this is the standard deviation of the log-ratios; the standard error divides it by √n"
            elif np.isclose(se, d.std(ddof=1) / n) or np.isclose(se, d.std() / n):
                hint = ": you divided the standard deviation by n; the standard error divides it by √n"
            raise Fail(f"the standard error is {se:.6g}, expected {hi:.6g} (sample SD / √n){hint}")


# --------------------------------------------------------------------------- KL by position


def _pos_cases(*specs):
    def cases(rng):
        return [Call(_padded(rng, B, L, V, garbage=g)[:3]) for B, L, V, g in specs]
    return cases


def _judge_pos(calls, outs):
    for call, out in zip(calls, outs):
        t, s, mask = call.args
        what = "kl_by_position(teacher_logits, student_logits, mask)"
        per = _per_position_kl(s, t, mask)  # KL(softmax(t) ‖ softmax(s)) per position
        want = per.sum(axis=0) / mask.sum(axis=0)
        got = as_array(out, what)
        if got.shape == (mask.shape[0],) != (mask.shape[1],):
            raise Fail(f"{what} has one value per sentence; average over the sentences (axis 0) instead, giving one "
                       f"value per position, shape ({mask.shape[1]},)")
        swapped = _per_position_kl(t, s, mask)
        expect_close(as_array(got, what, want.shape), want, what, suspects=(
            (per.sum(axis=0) / mask.shape[0], "padding counted: divide each position's sum by the number of "
                                              "sentences that reach it, not by B"),
            (swapped.sum(axis=0) / mask.sum(axis=0), "teacher and student are swapped: this is KL(student ‖ teacher)"),
        ))


EXERCISES = (
    Exercise(
        id="06.reductions", title="Per token or per sentence?", name="reductions", kind="function", level="apply",
        hint="Zero the padding with np.where(mask, per_position, 0.0) before summing (multiplying by the mask keeps "
             "NaN: NaN·0 is NaN). The token mean divides by the number of real tokens (mask.sum()); the sequence "
             "mean divides by the number of sentences (the first axis).",
        tests=(
            Test("token mean and sequence mean of padded batches (garbage, NaN and inf in the padding)", 2,
                 _judge_reductions, _reduction_cases((4, 6, False), (3, 9, True), (7, 5, True))),
            Test("larger padded batches, garbage in the padding", 1, _judge_reductions,
                 _reduction_cases((16, 12, True), (9, 13, True)), hidden=True),
        ),
    ),
    Exercise(
        id="06.masked_kd_loss", title="The masked token-level KD loss from scratch", name="masked_kd_loss",
        kind="function", level="apply", forbid=("kd_loss", "kd_loss_and_grad", "kl_divergence", "cross_entropy"),
        hint="Work with log-softmax of z/T and v/T over the last axis. The KL at each position is "
             "Σ_v p·(log p − log q); zero it where mask is False with np.where (multiplying NaN by 0 still gives "
             "NaN), multiply by T², sum, and divide by mask.sum() or by B.",
        tests=(
            Test("tokenmean and batchmean at T = 1 and T = 2", 2, _judge_kd,
                 _kd_cases((3, 5, 6, 1.0, "tokenmean", False), (4, 7, 5, 2.0, "batchmean", False),
                           (2, 4, 3, 2.0, "tokenmean", False))),
            Test("masked positions hold NaN and huge logits", 1, _judge_kd,
                 _kd_cases((5, 6, 7, 1.0, "tokenmean", True), (3, 8, 4, 3.0, "batchmean", True))),
            Test("larger padded batches", 2, _judge_kd,
                 _kd_cases((16, 12, 51, 1.0, "tokenmean", True), (9, 13, 20, 4.0, "batchmean", False)), hidden=True),
        ),
    ),
    Exercise(
        id="06.sequence_logprob", title="The log-probability of each sentence", name="sequence_logprob",
        kind="function", level="apply",
        hint="log_softmax over the vocabulary, pick the target's entry at each position "
             "(np.take_along_axis), zero the padding with the mask, and sum over the positions (axis 1).",
        tests=(
            Test("padded batches", 2, _judge_seq, _seq_cases((4, 6, 5), (3, 9, 8))),
            Test("more padded batches", 1, _judge_seq, _seq_cases((11, 13, 51)), hidden=True),
        ),
    ),
    Exercise(
        id="06.kl_by_position", title="Where does the student lose?", name="kl_by_position", kind="function",
        level="apply",
        hint="Compute KL(softmax(teacher) ‖ softmax(student)) at every position (kdbook.kl_divergence is allowed "
             "here), zero the padding, then divide each column's sum by the number of sentences that reach it.",
        tests=(
            Test("mean KL per position over padded batches", 2, _judge_pos, _pos_cases((6, 5, 4, False), (4, 8, 6, True))),
            Test("a larger batch", 1, _judge_pos, _pos_cases((20, 13, 51, True)), hidden=True),
        ),
    ),
    Exercise(
        id="06.where_it_loses", title="Why does the window lose there?", name="where_claims", kind="select",
        level="analyse", statements=WHERE_STATEMENTS,
        hint="Compare the KL row with the entropy row, and ask at each position what the teacher uses that a window "
             "of the last two tokens cannot see: `<s>`, the subject, the number of words so far. Would more data "
             "give the window what it cannot see?",
        tests=select_tests(WHERE_STATEMENTS, 2, "statements the table supports", groups=WHERE_GROUPS),
    ),
    Exercise(
        id="06.sequence_kl", title="The sequence KL and its standard error", name="sequence_kl", kind="function",
        level="apply",
        hint="Take d = teacher_logprob − student_logprob, one log-ratio per teacher-sampled sentence. The "
             "estimate is d.mean(); its standard error is d.std(ddof=1) / √n.",
        tests=(
            Test("log-probabilities of sampled sentences", 2, _judge_skl, _skl_cases(8, 30)),
            Test("more samples", 1, _judge_skl, _skl_cases(5, 400), hidden=True),
        ),
    ),
    Exercise(
        id="06.choose_objective", title="Which objective for which student?", name="objective_claims",
        kind="select", level="evaluate", statements=OBJECTIVE_STATEMENTS, reasoning="objective_choice",
        manual_points=1,
        hint="Read each statement against the chapter's table and paired differences: which student's greedy "
             "output is the teacher's, which matches the teacher's distribution on every seed, and what the "
             "storage table says about a renormalised top-k.",
        tests=select_tests(OBJECTIVE_STATEMENTS, 3, "statements", groups=OBJECTIVE_GROUPS),
    ),
    Exercise(
        id="06.predict_stored_kl", title="Predict: which divergences to a renormalised top-5 teacher are finite?",
        name="predict_stored_kl", kind="prediction", level="understand",
        hint="A KL(a‖b) is infinite exactly when a puts probability on a token to which b gives 0. Which tokens "
             "does the renormalised top-5 teacher give 0, and does the teacher or a student's softmax give them 0?",
        tests=prediction_tests(4),
    ),
    Exercise(
        id="06.storage_scheme", title="Store a teacher in 18 bytes per position", name="store_teacher",
        kind="function", level="create",
        hint="A fixed top-6 wastes bytes where the teacher is sure and runs short where it hesitates. Let the "
             "number of kept tokens vary with the position (for example keep tokens until their mass reaches a "
             "target, or give the budget to the positions whose rebuilt KL drops most), and check the average.",
        tests=(
            Test("teachers of freshly drawn prompts: within budget and KL", 2, _judge_storage, _storage_cases(0)),
            Test("teachers from hidden seeds and prompts", 2, _judge_storage, _storage_cases(7919), hidden=True),
        ),
    ),
    Exercise(
        id="06.remember", title="What to remember about distilling a language model", name="remember_facts",
        kind="select", level="remember", statements=REMEMBER_STATEMENTS,
        hint="Reread the chapter's section 3 (the objective behind the four methods, the exact mode) and section 4 "
             "(what storing costs, sampled against top-k).",
        tests=select_tests(REMEMBER_STATEMENTS, 2, "true statements"),
    ),
)

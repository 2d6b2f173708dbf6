"""Chapter 7's two measurement items: the exposure-bias gap (07.exposure_gap) and the cost of a GKD
update (07.gkd_cost): inputs the grader draws, the grader's own reference and the judges.

07.exposure_gap draws two prefix sets of different sizes and lengths whose padding holds large
arbitrary logits (a sum that ignores the mask is far off), and, hidden, logits near 800 (a naive
``exp`` overflows in float64). 07.gkd_cost draws λ so that round(λB) is never a tie, with at least
one case per test where λB's fractional part is above one half (``int(λB)`` differs), and, hidden,
a stored teacher data set (no teacher decoding at all).
"""
from __future__ import annotations

import numpy as np

from . import _draw
from ._core import Call, Fail, expect_close

__all__ = ["exposure_gap_reference", "gkd_cost_reference"]


# --------------------------------------------------------------------------- 07.exposure_gap


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def _token_kl(teacher_logits, student_logits, mask, *, reverse: bool = False) -> np.ndarray:
    """KL(p‖q) (or KL(q‖p)) at every position; padding positions are set to 0."""
    lp, lq = _log_softmax(np.asarray(teacher_logits, float)), _log_softmax(np.asarray(student_logits, float))
    a, b = (lq, lp) if reverse else (lp, lq)
    return np.where(mask, (np.exp(a) * (a - b)).sum(-1), 0.0)


def exposure_gap_reference(teacher_on_own, student_on_own, own_mask, teacher_on_ref, student_on_ref, ref_mask,
                           *, reverse: bool = False, masked: bool = True, per: str = "token") -> float:
    """Per-token mean KL(p‖q) on the student's own prefixes minus that on the teacher's (grader's reference).

    The keyword options give the values common bugs produce: ``reverse`` (KL(q‖p)), ``masked=False``
    (padding counted), ``per="sequence"`` (sum over tokens / number of sentences), ``per="sentence mean"``
    (the mean of each sentence's per-token mean).
    """
    def mean(t, s, m):
        m = np.asarray(m, bool) if masked else np.ones(np.shape(m), bool)
        kl = _token_kl(t, s, m, reverse=reverse)
        if per == "sentence mean":  # each sentence's own per-token mean, then their mean
            return float(np.mean(kl.reshape(m.shape[0], -1).sum(axis=1) / m.reshape(m.shape[0], -1).sum(axis=1)))
        return kl.sum() / (m.sum() if per == "token" else m.shape[0])
    return float(mean(teacher_on_own, student_on_own, own_mask) - mean(teacher_on_ref, student_on_ref, ref_mask))


def _prefix_set(rng, B: int, L: int, V: int, *, spread: float, shift: float):
    """Teacher and student logits (B, L, V) and a mask of varying lengths; padding holds large junk logits."""
    lengths = rng.integers(2, L + 1, size=B)
    lengths[0] = L  # one full row
    mask = np.arange(L)[None, :] < lengths[:, None]
    v = _draw.logits(rng, (B, L, V), scale=2.0)
    z = v + _draw.logits(rng, (B, L, V), scale=spread)  # the student: the teacher plus noise
    junk = ~mask[..., None] & (rng.random((B, L, V)) < 0.5)
    v = np.where(junk, rng.normal(0.0, 25.0, size=v.shape), v) + shift
    z = np.where(junk, rng.normal(0.0, 25.0, size=z.shape), z) + shift
    return v, z, mask


def _exposure_cases(shift: float = 0.0):
    def cases(rng):
        V = int(rng.integers(6, 12))
        own = _prefix_set(rng, 6, 9, V, spread=2.0, shift=shift)  # own prefixes: the student strays more
        ref = _prefix_set(rng, 8, 7, V, spread=1.0, shift=shift)
        return [Call(own + ref)]
    return cases


def _judge_exposure(calls, outs):
    for call, out in zip(calls, outs):
        want = exposure_gap_reference(*call.args)
        what = "exposure_gap(...) on prefix sets of shapes {} and {}".format(call.args[0].shape, call.args[3].shape)
        expect_close(out, want, what, rtol=1e-6, atol=1e-9, suspects=(
            (exposure_gap_reference(*call.args, reverse=True), "that is the reverse KL(q‖p); the exposure gap of the "
                                                               "chapter is measured in KL(p‖q), p the teacher"),
            (exposure_gap_reference(*call.args, masked=False), "padding positions were counted: average only where "
                                                               "the mask is True"),
            (exposure_gap_reference(*call.args, per="sequence"), "that divides by the number of sentences; the gap is "
                                                                 "per token (divide by the number of valid tokens)"),
            (exposure_gap_reference(*call.args, per="sentence mean"), "that averages each sentence's own mean, so a "
                                                                      "short sentence weighs as much as a long one; the "
                                                                      "gap is per token (all valid tokens together)"),
            (-want, "the sign is flipped: own prefixes minus the teacher's"),
        ))


# --------------------------------------------------------------------------- 07.gkd_cost


def gkd_cost_reference(lam, batch_size, ell_teacher, ell_student, stored, *, n_on=None) -> tuple[float, int, float]:
    """(teacher decoding steps, teacher scoring passes, student decoding steps) of one GKD update.

    round(λB) sentences are the student's own (sampled: ℓ_student decoding steps each, then scored by
    the teacher in one pass each); the other B − round(λB) are teacher samples, fresh (ℓ_teacher
    decoding steps each, the scores come with the sampling) or ``stored`` (no teacher work).
    """
    n = int(round(lam * batch_size)) if n_on is None else n_on
    return (0.0 if stored else (batch_size - n) * ell_teacher, n, n * ell_student)


def _cost_cases(stored: bool, reps: int = 3):
    def cases(rng):
        out = []
        for r in range(reps):
            B = int(rng.integers(8, 65))
            n = int(rng.integers(1, B))
            # a fraction of λB away from .5; the first case is above one half, so int(λB) != round(λB)
            u = rng.uniform(0.1, 0.4) * (-1 if r == 0 else rng.choice([-1, 1]))
            lam = float((n + u) / B)
            out.append(Call((lam, B, float(rng.uniform(5.0, 40.0)), float(rng.uniform(5.0, 40.0)), stored)))
        return out
    return cases


def _judge_cost(calls, outs):
    names = ("teacher decoding steps", "teacher scoring passes", "student decoding steps")
    for call, out in zip(calls, outs):
        lam, B, lt, ls, stored = call.args
        what = f"gkd_cost(lam={lam:.4f}, batch_size={B}, ell_teacher={lt:.3f}, ell_student={ls:.3f}, stored={stored})"
        if not isinstance(out, (tuple, list)) or len(out) != 3:
            raise Fail(f"{what} should return a tuple of three numbers ({', '.join(names)}), got "
                       f"{type(out).__name__}")
        want = gkd_cost_reference(*call.args)
        n = int(round(lam * B))
        off = gkd_cost_reference(1 - lam, B, lt, ls, stored)
        for i, name in enumerate(names):
            suspects = [(off[i], "λ is the on-policy fraction: round(λB) sentences are the student's own")]
            if i == 0:
                suspects += [(B * lt, "only the B − round(λB) teacher sentences are decoded by the teacher; the "
                                      "student's own are only scored"),
                             (gkd_cost_reference(lam, B, lt, ls, False)[0], "a stored teacher data set needs no "
                                                                           "teacher decoding at update time")]
            if i in (0, 2) and want[i]:
                suspects += [((lt, None, ls)[i], "count the work, one decoding step per token written over all the "
                                                 "sentences, not the sequential rounds of one batch")]
            if i == 1:
                suspects += [(n * ls, "a scoring pass reads a whole given sentence at once: one pass per sentence, "
                                      "not one per token"),
                             (B, "the teacher's own samples come with their scores; only the student's sentences "
                                 "need a scoring pass")]
            suspects += [(gkd_cost_reference(lam, B, lt, ls, stored, n_on=int(lam * B))[i],
                          "the number of on-policy sentences is round(λB), not λB rounded down")]
            expect_close(out[i], want[i], f"the {name} of {what}", rtol=1e-9, atol=1e-9, suspects=tuple(suspects))

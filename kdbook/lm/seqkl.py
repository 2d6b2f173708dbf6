r"""Sequence-level reverse KL (MiniLLM) on a space small enough to enumerate: exact and estimated gradients.

Introduced in chapter 7 (``notebooks/07_generation_and_on_policy_distillation.ipynb``), after
Gu et al. (2024, "MiniLLM: Knowledge Distillation of Large Language Models"). The student q_θ
(a policy, ``kdbook.lm.policy``) and the teacher p give probabilities to whole sentences y:

.. math:: J(\theta) = \mathrm{KL}(q_\theta \| p) = \sum_y q_\theta(y) \log\frac{q_\theta(y)}{p(y)},
          \qquad \nabla_\theta J = \mathbb{E}_{y \sim q_\theta}\Bigl[\log\frac{q_\theta(y)}{p(y)}\,
          \nabla_\theta \log q_\theta(y)\Bigr]

(the score-function identity; the "+1" of the product rule drops out because
E[∇ log q] = 0). On ``ToyLanguage("tiny")`` the sum runs over all 16,105 sentences, so J and its
gradient are exact (:func:`sequence_reverse_kl`, :func:`sequence_reverse_kl_grad`) and every
estimate from samples (:func:`reverse_kl_grad_estimate`) can be compared with the truth.

Every gradient is a list of arrays in the order of ``student.params`` (what
``student.backward`` returns); :func:`flatten` turns one into a vector.
"""
from __future__ import annotations

import numpy as np

from .. import _validate as v
from ..losses import kd_loss_and_grad
from .policy import check_pair, free_mask
from .sequences import LMBatch, check_batch, pick_targets
from ..softmax import log_softmax

__all__ = ["ESTIMATORS", "sequence_reverse_kl", "sequence_reverse_kl_grad", "reverse_kl_grad_estimate",
           "flatten"]

#: Estimators of ∇ KL(q‖p) from student samples (see :func:`reverse_kl_grad_estimate`).
ESTIMATORS = ("reinforce", "reinforce_baseline", "per_token", "per_token_plus_future")


def flatten(grads) -> np.ndarray:
    """One vector from a list of gradient arrays (the order of ``student.params``)."""
    return np.concatenate([np.ravel(g) for g in grads])


def _scored(student, teacher, batch: LMBatch):
    """Student forward (kept for backward), student and teacher log-probs, free mask."""
    check_batch(batch)
    check_pair(teacher, student)
    z = student.forward(batch.inputs)
    lq = log_softmax(z)
    lp = log_softmax(teacher.logits(batch.inputs))
    free = free_mask(batch, student.vocab.max_len)
    return lq, lp, free


def _picked(lp: np.ndarray, batch: LMBatch, free: np.ndarray) -> np.ndarray:
    return pick_targets(lp, batch, free)


def _score_grad(lq: np.ndarray, batch: LMBatch, free: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """∂/∂z of Σ_{b,t} w_{b,t} log q(y_{b,t}): w·(onehot(y) − q) at free positions."""
    g = -np.exp(lq)
    np.put_along_axis(g, batch.targets[..., None], np.take_along_axis(g, batch.targets[..., None], axis=-1) + 1.0,
                      axis=-1)
    return g * np.where(free, weights, 0.0)[..., None]


def sequence_reverse_kl(student, teacher, support: LMBatch) -> float:
    r"""Exact sequence-level KL(q‖p) = Σ_y q(y) log(q(y)/p(y)) over ``support``, in nats per sentence.

    ``support`` must hold every sentence the two can write (``ToyLanguage.enumerate_sentences()``).
    Raises if the student's probabilities on it do not sum to 1 (a support that misses sentences).
    Introduced in chapter 7.

    Examples
    --------
    >>> from kdbook.lm import ToyLanguage
    >>> from kdbook.lm import WindowLM
    >>> lang = ToyLanguage("tiny", max_len=2)  # 111 sentences
    >>> student = WindowLM(lang, window=1, dim=2, hidden=4, seed=0)
    >>> bool(sequence_reverse_kl(student, lang, lang.enumerate_sentences()) > 0)
    True
    """
    lq, lp, free = _scored(student, teacher, support)
    log_q, log_p = _picked(lq, support, free).sum(axis=1), _picked(lp, support, free).sum(axis=1)
    q = np.exp(log_q)
    if abs(q.sum() - 1.0) > 1e-6:
        raise ValueError(f"support must hold every sentence: the student's probabilities on it sum to {q.sum():.6f}, "
                         "not 1 (use ToyLanguage.enumerate_sentences() with max_words = max_len)")
    return float(np.sum(q * (log_q - log_p)))


def sequence_reverse_kl_grad(student, teacher, support: LMBatch) -> list[np.ndarray]:
    r"""The exact gradient of :func:`sequence_reverse_kl` w.r.t. ``student.params``.

    .. math:: \nabla_\theta J = \sum_y q(y)\,\bigl(\log q(y) - \log p(y) - J\bigr)\,\nabla_\theta \log q(y)

    (subtracting J changes nothing, since Σ_y q ∇ log q = 0, and keeps the weights small).
    One backward pass over the whole support. Introduced in chapter 7.
    """
    lq, lp, free = _scored(student, teacher, support)
    log_q, log_p = _picked(lq, support, free).sum(axis=1), _picked(lp, support, free).sum(axis=1)
    q = np.exp(log_q)
    if abs(q.sum() - 1.0) > 1e-6:
        raise ValueError(f"support must hold every sentence: the student's probabilities on it sum to {q.sum():.6f}")
    r = log_q - log_p
    w = q * (r - np.sum(q * r))
    return student.backward(_score_grad(lq, support, free, np.broadcast_to(w[:, None], free.shape)))


def reverse_kl_grad_estimate(student, teacher, samples: LMBatch, *, method: str = "reinforce_baseline"
                             ) -> list[np.ndarray]:
    r"""An estimate of ∇_θ KL(q_θ‖p) from n sentences ``samples`` drawn from the student.

    With R(y) = log q(y) − log p(y) (the teacher scores only the tokens sampled):

    ``"reinforce"``
        (1/n) Σ_i R(y_i) ∇ log q(y_i): unbiased, high variance.
    ``"reinforce_baseline"``
        (1/n) Σ_i (R(y_i) − b_i) ∇ log q(y_i) with the leave-one-out baseline
        b_i = mean of the other samples' R: still unbiased (b_i does not depend on y_i), lower
        variance. Needs n ≥ 2.
    ``"per_token"``
        (1/n) Σ_i Σ_t ∇_θ KL(q(·|y_<t) ‖ p(·|y_<t)) with the prefix held fixed: GKD's per-token
        reverse KL, the teacher scoring *every* token of the vocabulary at each position. The
        sum over the vocabulary is exact, so it has far less variance, but it leaves out how a
        token changes the prefixes that follow: biased for the sequence-level gradient.
    ``"per_token_plus_future"``
        ``"per_token"`` plus (1/n) Σ_i Σ_t ∇ log q(y_t|y_<t) · Σ_{s>t} KL_s(y_<s), the future
        per-token KLs along the sample: the chain rule J = E Σ_t KL_t makes this unbiased
        (MiniLLM's split into a single-step term and a long-term term).

    Introduced in chapter 7.
    """
    method = v.check_choice(method, "method", ESTIMATORS)
    lq, lp, free = _scored(student, teacher, samples)
    n = len(samples)
    if method == "reinforce_baseline" and n < 2:
        raise ValueError("samples must hold at least 2 sentences for the leave-one-out baseline")
    if method.startswith("reinforce"):
        r = (_picked(lq, samples, free) - _picked(lp, samples, free)).sum(axis=1)
        if method == "reinforce_baseline":
            r = r - (r.sum() - r) / (n - 1)
        return student.backward(_score_grad(lq, samples, free, np.broadcast_to(r[:, None] / n, free.shape)))
    _, g = kd_loss_and_grad(lq, lp, divergence="reverse", reduction="sum", mask=free)
    g = g / n
    if method == "per_token_plus_future":
        kl_t = np.where(free, (np.exp(lq) * (lq - lp)).sum(axis=-1), 0.0)
        future = np.cumsum(kl_t[:, ::-1], axis=1)[:, ::-1] - kl_t  # Σ_{s>t} KL_s
        g = g + _score_grad(lq, samples, free, future / n)
    return student.backward(g)

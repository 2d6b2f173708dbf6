r"""Two more estimators of the sequence-level reverse-KL gradient: what practice samples, and MiniLLM's own.

Introduced in chapter 7 (``notebooks/07_generation_and_on_policy_distillation.ipynb``), beside
``kdbook.lm.seqkl.reverse_kl_grad_estimate``. Both take n sentences ``samples`` drawn from the
student q and score only what was sampled, with the per-token log-ratio

.. math:: r_{i,t} = \log q(y_{i,t}\mid y_{i,<t}) - \log p(y_{i,t}\mid y_{i,<t}).

``"sampled_token"``
    :math:`\frac1n\sum_i\sum_t r_{i,t}\,\nabla_\theta\log q(y_{i,t}\mid y_{i,<t})`: the per-token
    reverse KL with the teacher scoring only the sampled token (the per-token reward of 2025
    on-policy distillation practice, no look-ahead). Its mean is the full-vocabulary per-token
    gradient (``method="per_token"`` of ``seqkl``), because
    :math:`\mathbb{E}_{v\sim q}[(\log q_v-\log p_v)\nabla\log q_v] = \nabla\,\mathrm{KL}(q\|p)`
    at a fixed prefix; so it shares that estimator's bias and adds the noise of one sample per
    position.
``"minillm"``
    the full-vocabulary single-step term plus MiniLLM's long-term term built from *sampled*
    future log-ratios, :math:`\frac1n\sum_i\sum_t \nabla\log q(y_{i,t}\mid y_{i,<t})\sum_{s>t} r_{i,s}`
    (Gu et al. 2024, without their length normalisation and teacher-mixed sampling, which
    change the objective): unbiased for the sequence-level gradient.
"""
from __future__ import annotations

import numpy as np

from .. import _validate as v
from ..losses import kd_loss_and_grad
from .seqkl import _picked, _score_grad, _scored
from .sequences import LMBatch

__all__ = ["TOKEN_ESTIMATORS", "token_reward_grad_estimate"]

#: The estimators of :func:`token_reward_grad_estimate`.
TOKEN_ESTIMATORS = ("sampled_token", "minillm")


def token_reward_grad_estimate(student, teacher, samples: LMBatch, *, method: str = "sampled_token"
                               ) -> list[np.ndarray]:
    r"""An estimate of ∇_θ KL(q_θ‖p) from the student's sentences ``samples``, scoring sampled tokens.

    ``method`` is ``"sampled_token"`` (single-sample per-token reverse KL, biased like the
    full-vocabulary per-token estimate) or ``"minillm"`` (full-vocabulary single step + sampled
    future log-ratios, unbiased); see the module docstring. Returns a list of arrays in the
    order of ``student.params``. Introduced in chapter 7.

    Examples
    --------
    >>> from kdbook.lm import ToyLanguage, WindowLM
    >>> from kdbook.lm.policy import sample_sentences
    >>> lang = ToyLanguage("tiny", max_len=2)
    >>> student = WindowLM(lang, window=1, dim=2, hidden=4, seed=0)
    >>> g = token_reward_grad_estimate(student, lang, sample_sentences(student, 8, seed=0))
    >>> [a.shape == p.shape for a, p in zip(g, student.params)] == [True] * len(student.params)
    True
    """
    method = v.check_choice(method, "method", TOKEN_ESTIMATORS)
    lq, lp, free = _scored(student, teacher, samples)
    n = len(samples)
    r = _picked(lq, samples, free) - _picked(lp, samples, free)  # per-token log-ratio of the sampled tokens
    if method == "sampled_token":
        return student.backward(_score_grad(lq, samples, free, r / n))
    _, g = kd_loss_and_grad(lq, lp, divergence="reverse", reduction="sum", mask=free)
    future = np.cumsum(r[:, ::-1], axis=1)[:, ::-1] - r  # Σ_{s>t} r_s along each sentence
    return student.backward(g / n + _score_grad(lq, samples, free, future / n))

"""Storing a teacher by sampling: k token ids drawn from it per position, with importance weights.

Introduced in chapter 6 (``notebooks/06_distilling_a_language_model.ipynb``, section 4), after
Anshumann et al. 2025 ("Sparse Logit Sampling: Accelerating Knowledge Distillation in LLMs"). Top-k
storage (renormalised or with a rest bucket) rebuilds a *biased* target: the expected gradient of
the distillation loss differs from the full teacher's. Drawing k tokens x_1..x_k from a proposal r
and storing them with importance weights gives the unbiased estimate

.. math:: \\hat p_i = \\frac1k \\sum_{j=1}^k [x_j = i]\\, \\frac{p_i}{r_i}, \\qquad \\mathbb E[\\hat p] = p,

so the cross-entropy gradient q − p̂ equals q − p in expectation. With r = p (the teacher at T = 1)
every weight is 1/k and only the k ids are stored.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .. import _validate as v

__all__ = ["sampled_targets", "sampled_bytes"]


def sampled_targets(teacher_logprobs: ArrayLike, k: int, *, T: float = 1.0,
                    seed: int | np.random.Generator = 0) -> np.ndarray:
    r"""The teacher rebuilt from k tokens sampled per position: dense, unbiased target distributions.

    .. math:: \hat p_i = \frac1k \sum_j [x_j = i]\, p_i / r_i, \quad x_j \sim r = \mathrm{softmax}(\log p / T)

    Parameters
    ----------
    teacher_logprobs : array_like, shape (..., V)
        The teacher's log-probabilities.
    k : int
        Draws per position (with replacement), ≥ 1.
    T : float
        Temperature of the proposal r (1: the teacher itself, all weights 1/k).
    seed : int or numpy.random.Generator

    Returns
    -------
    ndarray, shape (..., V)
        p̂; rows sum to 1 in expectation (exactly, for T = 1). Introduced in chapter 6.

    Examples
    --------
    >>> import numpy as np
    >>> p = np.array([[0.5, 0.3, 0.2]])
    >>> est = np.mean([sampled_targets(np.log(p), 4, seed=s) for s in range(2000)], axis=0)
    >>> bool(np.abs(est - p).max() < 0.02)
    True
    """
    lp = v.as_float_array(teacher_logprobs, "teacher_logprobs")
    v.check_logits(lp, "teacher_logprobs")
    k = v.check_int(k, "k", minimum=1)
    T = v.check_positive(T, "T")
    rng = np.random.default_rng(seed)
    shape = lp.shape
    flat = lp.reshape(-1, shape[-1])
    flat = flat - np.logaddexp.reduce(flat, axis=-1, keepdims=True)
    r_log = flat / T
    r_log = r_log - np.logaddexp.reduce(r_log, axis=-1, keepdims=True)
    r = np.exp(r_log)
    draws = _draw(r, rng.random((len(r), k)))  # (N, k)
    counts = np.zeros_like(r)
    np.add.at(counts, (np.repeat(np.arange(len(r)), k), draws.ravel()), 1.0)
    return (counts / k * np.exp(flat - r_log)).reshape(shape)


def _draw(probs: np.ndarray, u: np.ndarray) -> np.ndarray:
    """(N, k) draws from (N, V) rows with uniforms u (N, k): the first i with CDF_i > u·CDF_V, as
    :func:`kdbook.lm.language.inverse_cdf`, for k draws per row at once (one sorted search)."""
    N, V = probs.shape
    cdf = np.cumsum(probs, axis=-1)
    offset = 2.0 * np.arange(N)[:, None]  # rows' CDFs lie in [0, 1]: shifted apart, one sorted array
    idx = np.searchsorted((cdf + offset).ravel(), (u * cdf[:, -1:] + offset).ravel(), side="right")
    return np.minimum(idx.reshape(N, -1) - np.arange(N)[:, None] * V, V - 1)


def sampled_bytes(k: int, n_classes: int, *, T: float = 1.0, id_bytes: int = 2, value_bytes: int = 2) -> int:
    """Bytes per position of k sampled ids (plus one weight per draw when T ≠ 1). Chapter 6."""
    k = v.check_int(k, "k", minimum=1)
    V = v.check_int(n_classes, "n_classes", minimum=2)
    ib, vb = v.check_int(id_bytes, "id_bytes", minimum=1), v.check_int(value_bytes, "value_bytes", minimum=1)
    if V > 256 ** ib:
        raise ValueError(f"id_bytes={ib} holds at most {256 ** ib} token ids; n_classes is {V}")
    return k * ib if v.check_positive(T, "T") == 1.0 else k * (ib + vb)

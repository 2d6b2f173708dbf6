"""Storing a teacher for offline distillation: keep only its top-k outputs per position.

Introduced in chapter 6 (``notebooks/06_distilling_a_language_model.ipynb``, section 4). Storing a
language-model teacher's full next-token distribution costs V numbers per token of the transfer
set; practical offline distillation keeps the k most probable tokens (ids and log-probabilities)
and either *renormalises* them (the stored teacher puts probability 0 on every other token) or
keeps one more number, the *rest* mass 1 − Σ top-k, spread evenly over the other V − k tokens
when the distribution is rebuilt. A student trained by forward KL against a renormalised top-k
teacher is pushed to put no mass outside the top k; the reverse KL KL(q‖p̃) is infinite as soon
as it puts any there (and a softmax always does).
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .. import _validate as v
from ..softmax import log_softmax_rows

__all__ = ["RESTS", "top_k_logprobs", "bytes_per_position", "tempered"]

#: How the mass outside the top k is rebuilt: dropped and renormalised, or a stored rest bucket.
RESTS = ("renormalise", "bucket")


def top_k_logprobs(teacher_logits: ArrayLike, k: int | None, *, rest: str = "renormalise") -> np.ndarray:
    r"""The teacher rebuilt from its stored top-k log-probabilities, as dense log-probabilities.

    .. math:: \tilde p_i = \frac{p_i}{\sum_{j \in K} p_j} \ (i \in K),\ 0 \text{ otherwise}
              \qquad\text{or}\qquad
              \hat p_i = p_i \ (i \in K),\ \frac{1 - \sum_{j \in K} p_j}{V - k} \text{ otherwise}

    for ``rest="renormalise"`` and ``rest="bucket"``, with K the k most probable tokens of
    p = softmax(teacher_logits) (ties: lower id first). Entries outside K are −inf for the
    renormalised teacher. ``k=None`` (or k ≥ V) keeps everything. Introduced in chapter 6.

    Parameters
    ----------
    teacher_logits : array_like, shape (..., V)
        Teacher logits (or log-probabilities) along the last axis.
    k : int or None
        Tokens kept per position, ≥ 1.
    rest : {"renormalise", "bucket"}

    Returns
    -------
    ndarray, shape (..., V)
        Log-probabilities of the rebuilt teacher.

    Examples
    --------
    >>> import numpy as np
    >>> from kdbook.lm.topk import top_k_logprobs
    >>> p = np.array([0.5, 0.3, 0.15, 0.05])
    >>> np.exp(top_k_logprobs(np.log(p), 2)).round(4).tolist()
    [0.625, 0.375, 0.0, 0.0]
    >>> np.exp(top_k_logprobs(np.log(p), 2, rest="bucket")).round(4).tolist()
    [0.5, 0.3, 0.1, 0.1]
    """
    z = v.as_float_array(teacher_logits, "teacher_logits")
    v.check_logits(z, "teacher_logits")
    v.check_choice(rest, "rest", RESTS)
    V = z.shape[-1]
    kk = V if k is None else min(v.check_int(k, "k", minimum=1), V)
    lp = log_softmax_rows(z)
    if kk == V:
        return lp
    order = np.argsort(-lp, axis=-1, kind="stable")
    kept = np.zeros(lp.shape, dtype=bool)
    np.put_along_axis(kept, order[..., :kk], True, axis=-1)
    top = np.where(kept, lp, -np.inf)
    log_mass = np.log(np.exp(top).sum(axis=-1, keepdims=True))
    if rest == "renormalise":
        with np.errstate(invalid="ignore"):
            return np.where(kept, top - log_mass, -np.inf)
    rest_mass = np.clip(-np.expm1(log_mass), 0.0, None)  # 1 − Σ top-k, without cancellation
    with np.errstate(divide="ignore"):
        fill = np.log(rest_mass / (V - kk))
    return np.where(kept, lp, fill)


def bytes_per_position(k: int | None, n_classes: int, *, rest: str = "renormalise", id_bytes: int = 2,
                       value_bytes: int = 2) -> int:
    """Bytes stored per position: k token ids and k values.

    The values are the teacher's *un-renormalised* log-probabilities, so the rest mass
    1 − Σ top-k is recomputed from them and a rest bucket costs no byte; a renormalised top-1
    is probability 1 and needs no value (its id only). The full distribution (``k=None`` or
    k ≥ V) needs no ids: V values. Defaults: 2-byte ids (at most 65,536 tokens: today's LLM
    vocabularies of 128k–256k tokens need 17–18 bits, so 3 bytes unless ids are bit-packed) and
    float16 values. Introduced in chapter 6.

    Examples
    --------
    >>> from kdbook.lm.topk import bytes_per_position
    >>> bytes_per_position(5, 51), bytes_per_position(5, 51, rest="bucket"), bytes_per_position(None, 51)
    (20, 20, 102)
    >>> bytes_per_position(1, 51), bytes_per_position(1, 51, rest="bucket")
    (2, 4)
    """
    V = v.check_int(n_classes, "n_classes", minimum=2)
    v.check_choice(rest, "rest", RESTS)
    ib, vb = v.check_int(id_bytes, "id_bytes", minimum=1), v.check_int(value_bytes, "value_bytes", minimum=1)
    if V > 256 ** ib:
        raise ValueError(f"id_bytes={ib} holds at most {256 ** ib} token ids; n_classes is {V}")
    kk = V if k is None else min(v.check_int(k, "k", minimum=1), V)
    if kk == V:
        return V * vb
    if kk == 1 and rest == "renormalise":
        return ib
    return kk * (ib + vb)


def tempered(logprobs: ArrayLike, T: float) -> np.ndarray:
    """softmax(logprobs / T) along the last axis, where −inf entries (dropped tokens) stay at 0."""
    lp = v.as_float_array(logprobs, "logprobs")
    T = v.check_positive(T, "T")
    if np.isnan(lp).any() or np.isposinf(lp).any():
        raise ValueError("logprobs must not contain NaN or +inf")
    u = (lp - lp.max(axis=-1, keepdims=True)) / T
    e = np.exp(u)
    return e / e.sum(axis=-1, keepdims=True)

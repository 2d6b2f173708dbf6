"""Framework conventions for the distillation loss, re-implemented in numpy for teaching.

Introduced in chapter 4 (``notebooks/04_the_kd_loss.ipynb``), which demonstrates each trap
failing on a small example. torch is not a kdbook dependency: these functions reproduce what the
framework computes, argument order and reductions included, so a learner can see the traps
without installing it.

Known traps (see the "Framework conventions" section of chapter 4):

- PyTorch's ``F.kl_div(input, target)`` takes the *student's log-probabilities* first and the
  teacher's probabilities second, and computes KL(target‖input): the reverse of the order in
  which the maths is written, and the first argument is a log, not a probability.
- Its default ``reduction="mean"`` divides by the number of elements B·K, so it is the KL per
  example divided by K; ``reduction="batchmean"`` (divide by the batch size) is the KL.
- The PyTorch knowledge-distillation tutorial multiplies a soft *cross-entropy* by T²: it has
  the same gradient as T²·KL but a value larger by T²·H(p_T).
- An older Keras distillation example lacked the T² factor and swapped teacher and student in
  its constructor (keras-io issue #869).
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from . import _validate as v
from .softmax import log_softmax, softmax

__all__ = ["torch_style_kl_div", "tutorial_soft_cross_entropy", "TORCH_REDUCTIONS"]

#: Reductions accepted by PyTorch's ``F.kl_div``.
TORCH_REDUCTIONS = ("none", "sum", "mean", "batchmean")


def torch_style_kl_div(
    input: ArrayLike,
    target: ArrayLike,
    *,
    reduction: str = "mean",
    log_target: bool = False,
):
    r"""PyTorch's ``F.kl_div`` (and ``nn.KLDivLoss``) semantics, in numpy.

    .. math:: \ell = \mathrm{target} \cdot (\log \mathrm{target} - \mathrm{input})
              \quad\text{pointwise, then reduced}

    Introduced in chapter 4. ``input`` is the *student's log-probabilities* log q and
    ``target`` the teacher's probabilities p, so with ``reduction="batchmean"`` the result is
    KL(p‖q) = KL(target‖input) averaged over the batch: the argument order is the reverse of
    the maths, and passing probabilities as ``input`` silently gives a wrong number (PyTorch does
    not check; neither does this re-implementation, so the trap can be shown). Terms with
    target = 0 contribute 0 (PyTorch uses ``xlogy``). With ``log_target=True`` the target is
    given as log p and the pointwise term is exp(target)·(target − input).

    Reductions, exactly as PyTorch does them: ``"none"`` returns the pointwise terms;
    ``"sum"`` their sum; ``"mean"`` (PyTorch's default) their sum divided by the number of
    elements, B·K for a (B, K) batch, which is the KL divided by K and *not* a KL;
    ``"batchmean"`` the sum divided by ``input.shape[0]``, the KL per example. For a single
    unbatched distribution of shape (K,) "batchmean" divides by K; for token-level
    distillation with shape (B, L, K) it divides by B only (the per-token KL summed over L).

    Parameters
    ----------
    input : array_like
        Student log-probabilities (log q); finite.
    target : array_like, same shape as ``input``
        Teacher probabilities p (finite, ≥ 0), or log p when ``log_target=True``.
    reduction : {"none", "sum", "mean", "batchmean"}, default "mean"
        As in PyTorch (whose default is also "mean").
    log_target : bool, default False
        Whether ``target`` holds log-probabilities.

    Returns
    -------
    ndarray or scalar
        The pointwise terms (``"none"``) or the reduced value, in the inputs' float dtype.

    Examples
    --------
    >>> import numpy as np, kdbook
    >>> from kdbook.conventions import torch_style_kl_div
    >>> p, q = np.array([[0.7, 0.2, 0.1]]), np.array([[0.5, 0.3, 0.2]])
    >>> round(float(torch_style_kl_div(np.log(q), p, reduction="batchmean")), 4)
    0.0851
    >>> round(float(kdbook.kl_divergence(p, q)[0]), 4)
    0.0851
    >>> round(float(torch_style_kl_div(np.log(q), p)), 4)  # default "mean": divided by K = 3
    0.0284
    """
    x = v.as_float_array(input, "input")
    t = v.as_float_array(target, "target")
    v.check_choice(reduction, "reduction", TORCH_REDUCTIONS)
    if not isinstance(log_target, (bool, np.bool_)):
        raise TypeError(f"log_target must be a bool, got {type(log_target).__name__}")
    if x.shape != t.shape:
        raise ValueError(f"input and target must have the same shape; got {x.shape} and {t.shape}")
    if x.size == 0:
        raise ValueError(f"input is empty (shape {x.shape}); there is nothing to reduce")
    v.check_finite(x, "input")
    v.check_finite(t, "target")
    dtype = np.result_type(x, t)
    x, t = x.astype(dtype, copy=False), t.astype(dtype, copy=False)
    if log_target:
        pointwise = np.exp(t) * (t - x)
    else:
        if t.size and t.min() < 0:
            raise ValueError(
                f"target must be non-negative probabilities (found {float(t.min()):.4g}); "
                "pass log-probabilities with log_target=True"
            )
        # xlogy(t, t): t·log t with 0·log 0 = 0 (log 1 = 0 stands in where t = 0).
        pointwise = t * np.log(np.where(t > 0, t, 1)) - t * x
    if reduction == "none":
        return pointwise
    total = pointwise.sum(dtype=np.float64)
    if reduction == "mean":
        total = total / pointwise.size
    elif reduction == "batchmean":
        total = total / x.shape[0]
    return dtype.type(total)


def tutorial_soft_cross_entropy(student_logits: ArrayLike, teacher_logits: ArrayLike, *, T: float = 1.0):
    r"""The soft-target loss of the PyTorch knowledge-distillation tutorial: soft cross-entropy × T².

    .. math:: L = \frac{T^2}{B} \sum_{b} \Big( -\sum_i p_{T,bi} \log q_{T,bi} \Big)
              = T^2 \,\overline{H(p_T, q_T)}

    with p_T = softmax(v/T) (teacher) and q_T = softmax(z/T) (student), for a batch of B rows.
    Introduced in chapter 4. The tutorial writes it as ``-sum(soft_targets * soft_prob) /
    batch_size * T**2``: a cross-entropy, not a KL. Its gradient w.r.t. z equals that of
    T²·KL(p_T‖q_T), i.e. T(q_T − p_T)/B, because the two differ by T²·H(p_T), which does not
    depend on the student; but its value is never 0, even for a perfect student. Compare with
    :func:`kdbook.kd_loss`, which uses the KL.

    Parameters
    ----------
    student_logits : array_like, shape (B, K)
        Student logits z, one row per example.
    teacher_logits : array_like, shape (B, K)
        Teacher logits v.
    T : float, default 1.0
        Temperature, > 0.

    Returns
    -------
    scalar
        The batch-mean soft cross-entropy times T².

    Examples
    --------
    >>> import kdbook
    >>> from kdbook.conventions import tutorial_soft_cross_entropy
    >>> z = [[1.0, 0.0, -1.0]]
    >>> ce = tutorial_soft_cross_entropy(z, z, T=2.0)  # a perfect student
    >>> h = 4.0 * kdbook.entropy(kdbook.softmax(z, T=2.0))[0]  # T²·H(p_T)
    >>> round(float(ce), 4), round(float(h), 4)
    (4.0808, 4.0808)
    """
    z = v.as_float_array(student_logits, "student_logits")
    w = v.as_float_array(teacher_logits, "teacher_logits")
    T = v.check_positive(T, "T")
    if z.ndim != 2:
        raise ValueError(f"student_logits must have shape (B, K), got {z.shape}; add a batch axis with z[None, :]")
    if w.shape != z.shape:
        raise ValueError(f"teacher_logits must have the shape of student_logits {z.shape}; got {w.shape}")
    dtype = np.result_type(z, w)
    p = softmax(w, T=T)
    log_q = log_softmax(z, T=T)
    total = -(p * log_q).sum(dtype=np.float64) / z.shape[0] * T * T
    return dtype.type(total)

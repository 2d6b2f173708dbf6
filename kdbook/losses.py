"""The knowledge-distillation loss and its analytic gradient w.r.t. the student logits.

Introduced in chapter 4 (``notebooks/04_the_kd_loss.ipynb``), after Hinton, Vinyals & Dean
(2015): a soft term between teacher and student at temperature T, multiplied by T² so its
gradient keeps the same scale as T changes, plus an optional hard-label cross-entropy at T = 1.

Everything is computed from logits with log-softmax differences (never ``log(p/q)``), one
chunk of rows at a time, so it stays finite where probabilities underflow and needs only a few
MB of scratch memory for any batch size.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from . import _validate as v
from ._rowwise import for_row_chunks
from .softmax import _divide_by_temperature

__all__ = ["kd_loss", "kd_loss_and_grad", "DIVERGENCES", "REDUCTIONS"]

#: Soft-term divergences accepted by ``kd_loss(..., divergence=...)``.
DIVERGENCES = ("forward", "reverse", "jsd")
#: Reductions accepted by ``kd_loss(..., reduction=...)``.
REDUCTIONS = ("batchmean", "sum", "none")


def _log_softmax_block(x: np.ndarray, T: float) -> tuple[np.ndarray, np.ndarray]:
    """(log-softmax, softmax) of a (rows, K) block at temperature T."""
    u = _divide_by_temperature(x - x.max(axis=-1, keepdims=True), T)
    e = np.exp(u)
    s = e.sum(axis=-1, keepdims=True)
    u -= np.log(s)
    e /= s
    return u, e


def _soft_block(log_p, p, log_q, q, divergence: str, want_grad: bool):
    """Per-row D(p_T, q_T) and, if wanted, its gradient w.r.t. u = z/T (before the T² and 1/T)."""
    if divergence == "forward":  # KL(p‖q): gradient q − p
        d = log_p - log_q
        d *= p
        value = d.sum(axis=-1)
        if not want_grad:
            return value, None
        np.subtract(q, p, out=d)
        return value, d
    if divergence == "reverse":  # KL(q‖p): gradient q_j (log q_j − log p_j − KL(q‖p))
        d = log_q - log_p
        value = (q * d).sum(axis=-1)
        if not want_grad:
            return value, None
        d -= value[:, None]
        d *= q
        return value, d
    # Jensen–Shannon with m = (p+q)/2: ∂JS/∂q_j = ½ log(q_j/m_j); chain rule through softmax.
    # log m = max + log(½ + ½e^(−|log p − log q|)) = max + log1p(½ expm1(−|Δ|)): exactly log p
    # when p = q (so JS(p, p) = 0 exactly), and no underflow where p and q are both tiny.
    log_m = log_p - log_q
    np.abs(log_m, out=log_m)
    np.negative(log_m, out=log_m)
    np.expm1(log_m, out=log_m)
    log_m *= log_m.dtype.type(0.5)
    np.log1p(log_m, out=log_m)
    log_m += np.maximum(log_p, log_q)
    value = 0.5 * ((p * (log_p - log_m)).sum(axis=-1) + (q * (log_q - log_m)).sum(axis=-1))
    if not want_grad:
        return value, None
    g = log_q - log_m
    g *= 0.5
    g -= (q * g).sum(axis=-1, keepdims=True)
    g *= q
    return value, g


def _kd(student_logits, teacher_logits, T, labels, hard_weight, divergence, reduction, want_grad):
    s = v.as_float_array(student_logits, "student_logits")
    t = v.as_float_array(teacher_logits, "teacher_logits")
    T = v.check_positive(T, "T")
    hw = v.check_unit_interval(hard_weight, "hard_weight")
    v.check_choice(divergence, "divergence", DIVERGENCES)
    v.check_choice(reduction, "reduction", REDUCTIONS)
    try:
        t = np.broadcast_to(t, s.shape)
    except ValueError:
        raise ValueError(
            f"teacher_logits must broadcast to the shape of student_logits {s.shape}; got {t.shape}"
        ) from None
    batch_shape, k = s.shape[:-1], s.shape[-1]
    if k == 0:
        raise ValueError("student_logits has no classes: its last axis has length 0")
    if hw > 0 and labels is None:
        raise ValueError(f"labels are required when hard_weight > 0 (hard_weight={hw})")
    lab = v.check_labels(labels, batch_shape, k).reshape(-1) if labels is not None else None

    dtype = np.result_type(s, t)
    s2 = s.reshape(-1, k).astype(dtype, copy=False)
    t2 = t.reshape(-1, k).astype(dtype, copy=False)
    n = s2.shape[0]
    scale = {"batchmean": 1.0 / max(n, 1), "sum": 1.0, "none": 1.0}[reduction]
    per_row = np.empty(n, dtype=dtype)
    grad = np.empty_like(s2) if want_grad else None

    def work(lo: int, hi: int) -> None:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            log_q, q = _log_softmax_block(s2[lo:hi], T)
            log_p, p = _log_softmax_block(t2[lo:hi], T)
            soft, g = _soft_block(log_p, p, log_q, q, divergence, want_grad)
            np.maximum(soft, 0.0, out=soft)  # every D is ≥ 0; drop rounding noise like -1e-16
            # d[T²·D(u)]/dz = T²·(1/T)·dD/du = T·dD/du.
            loss = soft * dtype.type((1.0 - hw) * T)
            loss *= dtype.type(T)  # two steps: T * T alone can underflow to 0 at tiny T
            if g is not None:  # scale straight into the output rows (no extra copy pass)
                g = np.multiply(g, dtype.type((1.0 - hw) * T * scale), out=grad[lo:hi])
            if hw > 0:
                log_q1, q1 = (log_q, q) if T == 1.0 else _log_softmax_block(s2[lo:hi], 1.0)
                rows = np.arange(hi - lo)
                loss -= dtype.type(hw) * log_q1[rows, lab[lo:hi]]
                if g is not None:
                    q1[rows, lab[lo:hi]] -= 1.0  # softmax − one-hot
                    q1 *= dtype.type(hw * scale)
                    g += q1
            per_row[lo:hi] = loss

    for_row_chunks(n, k * dtype.itemsize, work)
    if not np.all(np.isfinite(per_row)):
        v.check_logits(s, "student_logits")
        v.check_logits(t, "teacher_logits")
        raise ValueError(
            f"the loss overflowed in {dtype}: logits spread too far for T={T}; use float64 or smaller logits"
        )
    if reduction == "none":
        loss_out = per_row.reshape(batch_shape)[()]
    else:
        total = per_row.sum(dtype=np.float64) * scale
        loss_out = dtype.type(total)
    if not want_grad:
        return loss_out
    return loss_out, grad.reshape(s.shape)


def kd_loss(
    student_logits: ArrayLike,
    teacher_logits: ArrayLike,
    *,
    T: float = 1.0,
    labels: ArrayLike | None = None,
    hard_weight: float = 0.0,
    divergence: str = "forward",
    reduction: str = "batchmean",
):
    r"""The knowledge-distillation loss of Hinton, Vinyals & Dean (2015).

    .. math:: L = w \cdot \mathrm{CE}(y, \mathrm{softmax}(z)) + (1 - w)\, T^2\, D(p_T, q_T),
              \quad p_T = \mathrm{softmax}(v/T),\ q_T = \mathrm{softmax}(z/T)

    with student logits z, teacher logits v, labels y and ``hard_weight`` w. Introduced in
    chapter 4, ``notebooks/04_the_kd_loss.ipynb``. The hard term is taken at T = 1; the soft
    term is multiplied by T² so that its gradient keeps its scale as T changes. kdbook's weight
    multiplies the *hard* term (as Keras's ``alpha`` does); ``hard_weight=0`` is pure
    distillation.

    Parameters
    ----------
    student_logits : array_like, shape (..., K)
        Student logits z; the last axis is the class axis, leading axes are the batch.
    teacher_logits : array_like
        Teacher logits v; must broadcast to the shape of ``student_logits``.
    T : float, default 1.0
        Temperature of the soft term, > 0.
    labels : array_like of int, shape (...), optional
        Hard labels in [0, K); required when ``hard_weight > 0``.
    hard_weight : float, default 0.0
        Weight w of the hard-label term, in [0, 1].
    divergence : {"forward", "reverse", "jsd"}
        D is KL(p_T‖q_T) (forward, teacher first), KL(q_T‖p_T) (reverse) or JS(p_T, q_T).
    reduction : {"batchmean", "sum", "none"}
        Sum over classes, then the mean over the batch (the true KL per example), the sum over
        the batch, or one value per example.

    Returns
    -------
    scalar or ndarray
        The loss, in the input's float dtype.

    Examples
    --------
    >>> import kdbook
    >>> round(float(kdbook.kd_loss([[1.0, 0.0]], [[1.0, 0.0]], T=2.0)), 4)
    0.0
    >>> round(float(kdbook.kd_loss([[0.0, 0.0]], [[2.0, 0.0]], T=1.0)), 4)
    0.3278
    """
    return _kd(student_logits, teacher_logits, T, labels, hard_weight, divergence, reduction, False)


def kd_loss_and_grad(
    student_logits: ArrayLike,
    teacher_logits: ArrayLike,
    *,
    T: float = 1.0,
    labels: ArrayLike | None = None,
    hard_weight: float = 0.0,
    divergence: str = "forward",
    reduction: str = "batchmean",
):
    r"""The distillation loss of :func:`kd_loss` and its gradient w.r.t. the student logits.

    For the forward soft term, ∂[T²·KL(p_T‖q_T)]/∂z = T(q_T − p_T) (Hinton et al. 2015, Eq. 2
    times T²); for the reverse term T·q_j(log q_j − log p_j − KL(q_T‖p_T)); for JS
    T·q_j(g_j − Σ_k q_k g_k) with g = ½ log(q_T/m); for the hard term softmax(z) − onehot(y).
    Introduced in chapter 4.

    Parameters
    ----------
    student_logits, teacher_logits, T, labels, hard_weight, divergence, reduction
        As in :func:`kd_loss`.

    Returns
    -------
    loss : scalar or ndarray
        As :func:`kd_loss` returns it.
    grad : ndarray, shape of ``student_logits``
        Gradient of the reduced loss; with ``reduction="none"``, the gradient of the sum of the
        per-example losses (row i is the gradient of example i's loss).

    Examples
    --------
    >>> import kdbook
    >>> loss, grad = kdbook.kd_loss_and_grad([[0.0, 0.0]], [[2.0, 0.0]], T=1.0)
    >>> [round(float(g), 4) for g in grad[0]]
    [-0.3808, 0.3808]
    """
    return _kd(student_logits, teacher_logits, T, labels, hard_weight, divergence, reduction, True)

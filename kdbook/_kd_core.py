"""The validated core of the distillation loss (private): arrays in, loss and gradient out.

``kdbook.kd_loss`` and ``kdbook.kd_loss_and_grad`` validate their arguments once and call
:func:`kd_core`; ``kdbook.train`` validates a whole training set once and calls it on every
mini-batch, so nothing is checked twice per step. Everything is computed from logits with
log-softmax differences (never ``log(p/q)``), one chunk of rows at a time, so it stays finite
where probabilities underflow and needs only a few MB of scratch memory for any batch size.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ._kd_kernels import soft_block
from ._rowwise import for_row_chunks
from .softmax import log_softmax_and_softmax

__all__ = ["kd_core"]


def _positions(mask: np.ndarray | None, n: int) -> tuple[int, Callable[[int, int], slice | np.ndarray]]:
    """Number of unmasked rows and a map from a range lo:hi of them to rows of the flat batch.

    Runs of consecutive unmasked rows (the usual right-padded batch) map to slices, so they are
    computed in place; masked rows are never computed at all.
    """
    if mask is None:
        return n, slice
    rows = np.flatnonzero(mask)

    def select(lo: int, hi: int) -> slice | np.ndarray:
        a, b = int(rows[lo]), int(rows[hi - 1])
        return slice(a, b + 1) if b - a == hi - lo - 1 else rows[lo:hi]

    return rows.size, select


def kd_core(student: np.ndarray, teacher: np.ndarray, *, labels: np.ndarray | None, mask: np.ndarray | None,
            T: float, hard_weight: float, divergence: str, weight: float | None, reduction: str,
            want_grad: bool, t_squared: bool = True):
    """The loss of ``kdbook.kd_loss`` (and its gradient) on validated arrays.

    ``student`` (..., K) and ``teacher`` (same shape) are float arrays, finite where ``mask``
    (batch shape, bool, or None) is True; ``labels`` (batch shape, int, in range where unmasked)
    or None; ``divergence``/``weight`` as ``check_divergence`` returns them. ``t_squared=False``
    leaves out the T² factor (the divergence itself, per position). Raises ``FloatingPointError``
    when the loss overflows (the public functions turn it into a clear error).
    """
    s, t, hw = student, teacher, hard_weight
    batch_shape, k = s.shape[:-1], s.shape[-1]
    lab = None if labels is None else labels.reshape(-1)
    dtype = np.result_type(s, t)
    s2 = s.reshape(-1, k).astype(dtype, copy=False)
    t2 = t.reshape(-1, k).astype(dtype, copy=False)
    n = s2.shape[0]
    n_valid, select = _positions(None if mask is None else mask.reshape(-1), n)
    batch_size = batch_shape[0] if batch_shape else 1
    scale = {"batchmean": 1.0 / max(batch_size, 1), "tokenmean": 1.0 / max(n_valid, 1)}.get(reduction, 1.0)
    per_row = np.zeros(n, dtype=dtype) if n_valid < n else np.empty(n, dtype=dtype)
    grad = None
    if want_grad:  # calloc'd zeros cost nothing until written: only masked rows keep them
        grad = np.zeros_like(s2) if n_valid < n else np.empty_like(s2)
    # d[T²·D(u)]/dz = T²·(1/T)·dD/du = T·dD/du; without T², dD(u)/dz = (1/T)·dD/du.
    loss_factor, grad_factor = ((1.0 - hw) * T, (1.0 - hw) * T) if t_squared else ((1.0 - hw), (1.0 - hw) / T)

    def work(lo: int, hi: int) -> None:
        rows = select(lo, hi)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            log_q, q = log_softmax_and_softmax(s2[rows], T)
            log_p, p = log_softmax_and_softmax(t2[rows], T)
            soft, g = soft_block(log_p, p, log_q, q, divergence, want_grad, weight)
            np.maximum(soft, 0.0, out=soft)  # every D is ≥ 0; drop rounding noise like -1e-16
            loss = soft * dtype.type(loss_factor)
            if t_squared:
                loss *= dtype.type(T)  # two steps: T * T alone can underflow to 0 at tiny T
            if g is not None:  # scale straight into the output rows when they are a slice
                out = grad[rows] if isinstance(rows, slice) else None
                g = np.multiply(g, dtype.type(grad_factor * scale), out=out)
            if hw > 0:
                log_q1, q1 = (log_q, q) if T == 1.0 else log_softmax_and_softmax(s2[rows], 1.0)
                picked = np.arange(q1.shape[0]), lab[rows]
                loss -= dtype.type(hw) * log_q1[picked]
                if g is not None:
                    q1[picked] -= 1.0  # softmax − one-hot
                    q1 *= dtype.type(hw * scale)
                    g += q1
            if g is not None and not isinstance(rows, slice):
                grad[rows] = g
            per_row[rows] = loss

    for_row_chunks(n_valid, k * dtype.itemsize, work)
    if not np.all(np.isfinite(per_row)):
        raise FloatingPointError("the loss overflowed")
    if reduction == "none":
        loss_out = per_row.reshape(batch_shape)[()]
    else:
        total = per_row.sum(dtype=np.float64) * scale
        loss_out = dtype.type(total)
    if not want_grad:
        return loss_out
    return loss_out, grad.reshape(s.shape)

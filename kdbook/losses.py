"""The knowledge-distillation loss and its analytic gradient w.r.t. the student logits.

Introduced in chapter 4 (``notebooks/04_the_kd_loss.ipynb``), after Hinton, Vinyals & Dean
(2015): a soft term between teacher and student at temperature T, multiplied by T² so its
gradient keeps the same scale as T changes, plus an optional hard-label cross-entropy at T = 1.

Everything is computed from logits with log-softmax differences (never ``log(p/q)``), one
chunk of rows at a time, so it stays finite where probabilities underflow and needs only a few
MB of scratch memory for any batch size.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from numpy.typing import ArrayLike

from . import _validate as v
from ._kd_kernels import soft_block
from ._rowwise import for_row_chunks
from .softmax import log_softmax_and_softmax

__all__ = ["kd_loss", "kd_loss_and_grad", "check_divergence", "DIVERGENCES", "REDUCTIONS"]

#: Soft-term divergences accepted by ``kd_loss(..., divergence=...)``.
DIVERGENCES = ("forward", "reverse", "jsd", "gjsd", "skew_forward", "skew_reverse")
#: Default β of ``"gjsd"`` (JSD(0.5) is ``"jsd"``) and α of the skew divergences (DistiLLM's).
DEFAULT_BETA, DEFAULT_ALPHA = 0.5, 0.1


def check_divergence(divergence, beta=None, alpha=None) -> tuple[str, float | None]:
    """Validate a soft-term divergence and its parameter; return ``(divergence, β or α or None)``.

    β belongs to ``"gjsd"`` only and must lie strictly inside (0, 1) (JSD(β) is identically 0
    at the ends); α belongs to the skew divergences and must lie in [0, 1) (α = 0 is the plain
    KL, α = 1 gives 0).
    """
    v.check_choice(divergence, "divergence", DIVERGENCES)
    if beta is not None and divergence != "gjsd":
        raise ValueError(f"beta applies to divergence='gjsd' only, not {divergence!r}")
    if alpha is not None and not divergence.startswith("skew_"):
        raise ValueError(f"alpha applies to divergence='skew_forward' or 'skew_reverse' only, not {divergence!r}")
    if divergence == "gjsd":
        b = v.check_unit_interval(DEFAULT_BETA if beta is None else beta, "beta")
        if b in (0.0, 1.0):
            raise ValueError(
                f"beta must be strictly between 0 and 1 (JSD(beta) is identically 0 at beta={b:g}); "
                "for the limits use divergence='forward' (beta -> 0) or 'reverse' (beta -> 1), as TRL does"
            )
        return divergence, b
    if divergence.startswith("skew_"):
        a = v.check_unit_interval(DEFAULT_ALPHA if alpha is None else alpha, "alpha")
        if a == 1.0:
            raise ValueError("alpha must be < 1 (at alpha=1 the skew KL is identically 0)")
        return divergence, a
    return divergence, None
#: Reductions accepted by ``kd_loss(..., reduction=...)``.
REDUCTIONS = ("batchmean", "tokenmean", "sum", "none")


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


def _kd(student_logits, teacher_logits, T, labels, hard_weight, divergence, reduction, want_grad, mask, beta, alpha):
    s = v.as_float_array(student_logits, "student_logits")
    t = v.as_float_array(teacher_logits, "teacher_logits")
    T = v.check_positive(T, "T")
    hw = v.check_unit_interval(hard_weight, "hard_weight")
    divergence, weight = check_divergence(divergence, beta, alpha)
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
    m = None if mask is None else v.check_mask(mask, batch_shape)
    if hw > 0 and labels is None:
        raise ValueError(f"labels are required when hard_weight > 0 (hard_weight={hw})")
    lab = None if labels is None else v.check_labels(labels, batch_shape, k, mask=m).reshape(-1)

    dtype = np.result_type(s, t)
    s2 = s.reshape(-1, k).astype(dtype, copy=False)
    t2 = t.reshape(-1, k).astype(dtype, copy=False)
    n = s2.shape[0]
    n_valid, select = _positions(None if m is None else m.reshape(-1), n)
    if reduction in ("batchmean", "tokenmean") and m is not None and n_valid == 0:
        raise ValueError(f"mask masks every position: reduction={reduction!r} would average over nothing")
    if reduction == "tokenmean" and n_valid == 0:
        raise ValueError("student_logits has no positions: reduction='tokenmean' would average over nothing")
    batch_size = batch_shape[0] if batch_shape else 1
    scale = {"batchmean": 1.0 / max(batch_size, 1), "tokenmean": 1.0 / max(n_valid, 1)}.get(reduction, 1.0)
    per_row = np.zeros(n, dtype=dtype) if n_valid < n else np.empty(n, dtype=dtype)
    grad = None
    if want_grad:  # calloc'd zeros cost nothing until written: only masked rows keep them
        grad = np.zeros_like(s2) if n_valid < n else np.empty_like(s2)

    def work(lo: int, hi: int) -> None:
        rows = select(lo, hi)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            log_q, q = log_softmax_and_softmax(s2[rows], T)
            log_p, p = log_softmax_and_softmax(t2[rows], T)
            soft, g = soft_block(log_p, p, log_q, q, divergence, want_grad, weight)
            np.maximum(soft, 0.0, out=soft)  # every D is ≥ 0; drop rounding noise like -1e-16
            # d[T²·D(u)]/dz = T²·(1/T)·dD/du = T·dD/du.
            loss = soft * dtype.type((1.0 - hw) * T)
            loss *= dtype.type(T)  # two steps: T * T alone can underflow to 0 at tiny T
            if g is not None:  # scale straight into the output rows when they are a slice
                out = grad[rows] if isinstance(rows, slice) else None
                g = np.multiply(g, dtype.type((1.0 - hw) * T * scale), out=out)
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
        v.check_finite(s, "student_logits", mask=m)
        v.check_finite(t, "teacher_logits", mask=m)
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
    mask: ArrayLike | None = None,
    beta: float | None = None,
    alpha: float | None = None,
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
    divergence : {"forward", "reverse", "jsd", "gjsd", "skew_forward", "skew_reverse"}
        D is KL(p_T‖q_T) (forward, teacher first), KL(q_T‖p_T) (reverse), JS(p_T, q_T);
        GKD's generalised JSD(β) = β KL(p‖m) + (1−β) KL(q‖m) with m = βp + (1−β)q
        (Agarwal et al. 2024; TRL's GKDTrainer convention: β → 0 behaves like forward KL,
        β → 1 like reverse KL, after dividing by β or 1 − β); or DistiLLM's skew KL
        KL(p‖αp + (1−α)q) and skew reverse KL KL(q‖αq + (1−α)p) (Ko et al. 2024). The last
        three are introduced in chapter 7.
    reduction : {"batchmean", "tokenmean", "sum", "none"}
        How the per-position losses ℓ (summed over classes) are reduced, with m the mask:
        ``"batchmean"`` Σ m·ℓ / B with B the size of the *first* axis (PyTorch's
        ``reduction="batchmean"``: the KL per example of a (B, K) batch, the summed KL per
        sequence of a (B, L, K) batch; an unbatched (K,) input is one example);
        ``"tokenmean"`` Σ m·ℓ / Σ m, the mean over unmasked positions (what LLM distillation
        code reports per token; equal to ``"batchmean"`` for an unmasked (B, K) batch);
        ``"sum"`` Σ m·ℓ; ``"none"`` ℓ per position, 0 where masked.
    mask : array_like of bool, shape (...), optional
        True where a position counts (like an attention mask), of the batch shape (every axis
        but the class axis). Masked positions contribute exactly 0 to the loss and the gradient,
        are excluded from ``"tokenmean"``'s count, and are not computed at all: their logits and
        labels may hold anything (padding, NaN, -100).
    beta : float, optional
        β of ``"gjsd"``, strictly between 0 and 1; default 0.5 (where it equals ``"jsd"``).
    alpha : float, optional
        α of ``"skew_forward"`` / ``"skew_reverse"``, in [0, 1); default 0.1 (DistiLLM's).

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
    return _kd(student_logits, teacher_logits, T, labels, hard_weight, divergence, reduction, False, mask, beta, alpha)


def kd_loss_and_grad(
    student_logits: ArrayLike,
    teacher_logits: ArrayLike,
    *,
    T: float = 1.0,
    labels: ArrayLike | None = None,
    hard_weight: float = 0.0,
    divergence: str = "forward",
    reduction: str = "batchmean",
    mask: ArrayLike | None = None,
    beta: float | None = None,
    alpha: float | None = None,
):
    r"""The distillation loss of :func:`kd_loss` and its gradient w.r.t. the student logits.

    For the forward soft term, ∂[T²·KL(p_T‖q_T)]/∂z = T(q_T − p_T) (Hinton et al. 2015, Eq. 2
    times T²); for the reverse term T·q_j(log q_j − log p_j − KL(q_T‖p_T)); for the others
    T·q_j(g_j − Σ_k q_k g_k) with g = ∂D/∂q: (1−β) log(q_T/m) for JSD(β) (½ log(q_T/m) for JS),
    −(1−α) p_T/m for the skew KL and log(q_T/m) − α q_T/m (plus a constant) for the skew
    reverse KL, m being the divergence's mixture; for the hard term softmax(z) − onehot(y).
    Introduced in chapter 4.

    Parameters
    ----------
    student_logits, teacher_logits, T, labels, hard_weight, divergence, reduction, mask, beta, alpha
        As in :func:`kd_loss`.

    Returns
    -------
    loss : scalar or ndarray
        As :func:`kd_loss` returns it.
    grad : ndarray, shape of ``student_logits``
        Gradient of the reduced loss; with ``reduction="none"``, the gradient of the sum of the
        per-example losses (row i is the gradient of example i's loss). Exactly 0 at masked
        positions.

    Examples
    --------
    >>> import kdbook
    >>> loss, grad = kdbook.kd_loss_and_grad([[0.0, 0.0]], [[2.0, 0.0]], T=1.0)
    >>> [round(float(g), 4) for g in grad[0]]
    [-0.3808, 0.3808]
    """
    return _kd(student_logits, teacher_logits, T, labels, hard_weight, divergence, reduction, True, mask, beta, alpha)

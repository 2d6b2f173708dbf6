"""The knowledge-distillation loss and its analytic gradient w.r.t. the student logits.

Introduced in chapter 4 (``notebooks/04_the_kd_loss.ipynb``), after Hinton, Vinyals & Dean
(2015): a soft term between teacher and student at temperature T, multiplied by T² so its
gradient keeps the same scale as T changes, plus an optional hard-label cross-entropy at T = 1.

Everything is computed from logits with log-softmax differences (never ``log(p/q)``), one
chunk of rows at a time, so it stays finite where probabilities underflow and needs only a few
MB of scratch memory for any batch size.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from . import _validate as v
from ._kd_core import kd_core

__all__ = ["kd_loss", "kd_loss_and_grad", "kl_from_logits", "check_divergence", "Objective", "DIVERGENCES",
           "REDUCTIONS"]

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


def _check_inputs(student_logits, teacher_logits, T, labels, hard_weight, divergence, reduction, mask, beta, alpha):
    """Validate every argument of the public losses once; return the core's keyword arguments."""
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
    lab = None if labels is None else v.check_labels(labels, batch_shape, k, mask=m)
    if reduction in ("batchmean", "tokenmean") and m is not None and not m.any():
        raise ValueError(f"mask masks every position: reduction={reduction!r} would average over nothing")
    if reduction == "tokenmean" and s.size == 0:
        raise ValueError("student_logits has no positions: reduction='tokenmean' would average over nothing")
    return dict(student=s, teacher=t, labels=lab, mask=m, T=T, hard_weight=hw, divergence=divergence,
                weight=weight, reduction=reduction)


def _kd(student_logits, teacher_logits, T, labels, hard_weight, divergence, reduction, want_grad, mask, beta, alpha,
        t_squared=True):
    args = _check_inputs(student_logits, teacher_logits, T, labels, hard_weight, divergence, reduction, mask, beta, alpha)
    try:
        return kd_core(**args, want_grad=want_grad, t_squared=t_squared)
    except FloatingPointError:
        v.check_finite(args["student"], "student_logits", mask=args["mask"])
        v.check_finite(args["teacher"], "teacher_logits", mask=args["mask"])
        raise ValueError(
            f"the loss overflowed in {np.result_type(args['student'], args['teacher'])}: logits spread too far for "
            f"T={args['T']}; use float64 or smaller logits"
        ) from None


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


def kl_from_logits(
    student_logits: ArrayLike,
    teacher_logits: ArrayLike,
    *,
    T: float = 1.0,
    mask: ArrayLike | None = None,
    reduction: str = "none",
):
    r"""KL(p_T ‖ q_T) from logits, per position (no T² factor), 0 where masked.

    .. math:: \mathrm{KL}\bigl(\mathrm{softmax}(v/T) \,\|\, \mathrm{softmax}(z/T)\bigr)
              = \sum_i p_i (\log p_i - \log q_i)

    The soft term of :func:`kd_loss` before its T² factor, from the same validated core: use it
    to *measure* how far a student is from its teacher at every position of a padded batch
    (chapter 6), where ``kd_loss(...) / T**2`` would multiply and divide by T² again.
    ``reduction`` as in :func:`kd_loss` (default ``"none"``: one value per position).

    Examples
    --------
    >>> import kdbook
    >>> from kdbook.losses import kl_from_logits
    >>> round(float(kl_from_logits([0.0, 0.0], [2.0, 0.0])), 4)
    0.3278
    >>> kl_from_logits([[0.0, 0.0], [9.0, float("nan")]], [[0.0, 0.0], [0.0, 0.0]], mask=[True, False]).tolist()
    [0.0, 0.0]
    """
    return _kd(student_logits, teacher_logits, T, None, 0.0, "forward", reduction, False, mask, None, None,
               t_squared=False)


@dataclass(frozen=True)
class Objective:
    """What a student is trained to minimise: the soft-term divergence (with its β or α), the
    temperature T and the hard-label weight, validated once.

    One type serves :func:`kdbook.train.train` (built from its keyword arguments) and the
    on-policy loop of chapter 7 (``kdbook.lm.onpolicy.distill_on_policy``). ``Objective("gjsd",
    beta=0.9)`` is GKD's JSD(0.9): β → 0 behaves like forward KL, β → 1 like reverse KL (GKD's and
    TRL's GKDTrainer convention). ``Objective("skew_forward", alpha=0.1)`` is DistiLLM's skew KL.

    Examples
    --------
    >>> Objective("gjsd", beta=0.9).label, Objective("gjsd", beta=0.9).kwargs()
    ('JSD(0.9)', {'divergence': 'gjsd', 'beta': 0.9})
    >>> Objective(T=0.0)
    Traceback (most recent call last):
    ...
    ValueError: T must be > 0, got 0.0
    """

    divergence: str = "forward"
    beta: float | None = None
    alpha: float | None = None
    T: float = 1.0
    hard_weight: float = 0.0

    def __post_init__(self) -> None:  # clear errors before any training
        check_divergence(self.divergence, self.beta, self.alpha)
        object.__setattr__(self, "T", v.check_positive(self.T, "T"))
        object.__setattr__(self, "hard_weight", v.check_unit_interval(self.hard_weight, "hard_weight"))

    @property
    def label(self) -> str:
        """A short name for tables and legends: "forward KL", "JSD(0.9)", "skew reverse KL (α=0.1)"."""
        names = {"forward": "forward KL", "reverse": "reverse KL", "jsd": "JSD(0.5)"}
        if self.divergence == "gjsd":
            return f"JSD({self.beta:g})"
        if self.divergence.startswith("skew_"):
            return f"skew {self.divergence[5:]} KL (α={self.alpha:g})"
        return names.get(self.divergence, self.divergence)

    def kwargs(self) -> dict:
        """The divergence keyword arguments of ``kd_loss`` / ``train_step`` for this objective."""
        out = {"divergence": self.divergence}
        if self.beta is not None:
            out["beta"] = self.beta
        if self.alpha is not None:
            out["alpha"] = self.alpha
        return out

    def core_arguments(self) -> dict:
        """Keyword arguments of the validated core (``kdbook._kd_core.kd_core``)."""
        divergence, weight = check_divergence(self.divergence, self.beta, self.alpha)
        return {"T": self.T, "hard_weight": self.hard_weight, "divergence": divergence, "weight": weight}

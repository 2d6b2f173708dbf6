"""What the interactive explorers show, computed in plain numpy (no widgets, no figures).

Each explorer of ``kdbook.widgets`` recomputes one of these state functions on every slider
move and draws it with the matching ``kdbook.plotting.states`` function; chapters call both
directly for the static figure that precedes each widget. Chapter 1: :func:`simplex_state`;
chapter 3: :func:`temperature_state`; chapter 4: :func:`gradient_state`; chapter 5:
:func:`bias_shift_state`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from . import _validate as v
from .divergences import cross_entropy, entropy, js_divergence, kl_divergence, reverse_kl_divergence, total_variation
from .losses import kd_loss_and_grad
from .softmax import softmax

__all__ = [
    "T_RANGE", "GRADIENT_T_RANGE", "SHIFT_RANGE", "CONTOURS",
    "simplex_state", "student_from_sliders",
    "TemperatureState", "temperature_state",
    "GradientState", "gradient_state",
    "BiasShiftState", "bias_shift_state",
]

#: The temperature explorer's entropy-curve grid and slider range.
T_RANGE = (0.25, 20.0)


#: The gradient explorer's temperature slider (below T = 0.5 the soft term's gradient is nearly one-hot).
GRADIENT_T_RANGE = (0.5, 20.0)


#: Default grid of shifts for the error curves (and the slider's range).
SHIFT_RANGE = (0.0, 15.0)


#: Contour maps offered by the explorer: label -> (divergence f(p, q), direction from the teacher).
CONTOURS = {
    "KL(teacher‖x)": (kl_divergence, "forward"),
    "KL(x‖teacher)": (kl_divergence, "reverse"),
    "JS(teacher, x)": (js_divergence, "forward"),
    "TV(teacher, x)": (total_variation, "forward"),
}


def simplex_state(teacher: ArrayLike, student: ArrayLike, *, base: float | None = None) -> dict[str, float]:
    r"""Every divergence of chapter 1 between one teacher and one student distribution.

    .. math:: \{\mathrm{KL}(p\|q),\ \mathrm{KL}(q\|p),\ \mathrm{JS}(p, q),\ \mathrm{TV}(p, q),\ H(p, q)\}

    Introduced in chapter 1 (the simplex explorer's computation). Keys, in order:
    ``"KL(teacher‖student)"``, ``"KL(student‖teacher)"``, ``"JS"``, ``"TV"``,
    ``"cross-entropy"``. Values are floats (``inf`` where a KL or the cross-entropy is
    infinite); nats unless ``base=2``; TV has no unit.

    Examples
    --------
    >>> from kdbook.states import simplex_state
    >>> s = simplex_state([0.7, 0.2, 0.1], [0.7, 0.1, 0.2])
    >>> round(s["KL(teacher‖student)"], 4), round(s["TV"], 4)
    (0.0693, 0.1)
    """
    p = v.as_float_array(teacher, "teacher")
    q = v.as_float_array(student, "student")
    if p.ndim != 1 or q.ndim != 1 or p.shape != q.shape:
        raise ValueError(
            f"teacher and student must be two distributions over the same classes, got shapes {p.shape} and {q.shape}"
        )
    for arr, name in ((p, "teacher"), (q, "student")):
        v.check_probabilities(arr, name, 0)
    return {
        "KL(teacher‖student)": float(kl_divergence(p, q, base=base)),
        "KL(student‖teacher)": float(reverse_kl_divergence(p, q, base=base)),
        "JS": float(js_divergence(p, q, base=base)),
        "TV": float(total_variation(p, q)),
        "cross-entropy": float(cross_entropy(p, q, base=base)),
    }


def student_from_sliders(q0: float, q1: float) -> np.ndarray:
    """The student (q0, q1, 1 − q0 − q1) set by the explorer's two sliders.

    Introduced in chapter 1. A remainder below 1e-12 (floating-point noise, as in
    1 − 0.7 − 0.3) becomes exactly 0, so the student really rules out class 2; a real excess
    (q0 + q1 > 1) is an error.

    Examples
    --------
    >>> from kdbook.states import student_from_sliders
    >>> student_from_sliders(0.5, 0.3).round(4).tolist()
    [0.5, 0.3, 0.2]
    """
    a = v.check_unit_interval(q0, "q0")
    b = v.check_unit_interval(q1, "q1")
    rest = 1.0 - a - b
    if rest < -1e-12:
        raise ValueError(f"q0 + q1 must be at most 1, got {a} + {b} = {a + b}")
    # 1 − 0.7 − 0.3 is 5.6e-17 in floating point: a slider readout of q2 = 0.00 must mean 0
    return np.array([a, b, rest if rest > 1e-12 else 0.0])


@dataclass
class TemperatureState:
    """Everything the temperature explorer shows for one teacher and one temperature."""

    T: float
    probabilities: np.ndarray  # softmax(v / T), shape (K,)
    reference: np.ndarray  # softmax(v), the same teacher at T = 1
    entropy: float  # H(softmax(v / T)) in nats (bits if base=2)
    max_entropy: float  # log K, the entropy of the uniform distribution
    temperatures: np.ndarray  # the T grid of the entropy curve
    entropies: np.ndarray  # H at each grid temperature
    base: float | None = None  # None: nats; 2: bits


def temperature_state(
    teacher_logits: ArrayLike, T: float, *, temperatures: ArrayLike | None = None, base: float | None = None
) -> TemperatureState:
    r"""Soft targets, their entropy, and the entropy curve of one teacher at temperature T.

    .. math:: p_{T,i} = \frac{\exp(v_i/T)}{\sum_j \exp(v_j/T)}, \qquad H(p_T) = -\sum_i p_{T,i} \log p_{T,i}

    Introduced in chapter 3 (the temperature explorer's computation). ``temperatures``
    defaults to 60 points spaced evenly in log T over [0.25, 20]. The entropy grows with T
    from 0 (one-hot, T → 0) to log K (uniform, T → ∞).

    Parameters
    ----------
    teacher_logits : array_like, shape (K,)
        The teacher's logits v, finite, K ≥ 2.
    T : float
        Temperature, > 0.
    temperatures : array_like, optional
        Positive temperatures for the entropy curve.
    base : float, optional
        ``None`` for nats, 2 for bits.

    Examples
    --------
    >>> from kdbook.states import temperature_state
    >>> s = temperature_state([2.0, 1.0, 0.0], 2.0)
    >>> s.probabilities.round(4).tolist(), round(s.entropy, 4), round(s.max_entropy, 4)
    ([0.5065, 0.3072, 0.1863], 1.0202, 1.0986)
    """
    z = v.as_float_array(teacher_logits, "teacher_logits")
    if z.ndim != 1 or z.shape[0] < 2:
        raise ValueError(f"teacher_logits must be one vector of at least 2 logits, got shape {z.shape}")
    v.check_logits(z, "teacher_logits")
    T = v.check_positive(T, "T")
    if temperatures is None:
        grid = np.geomspace(*T_RANGE, 60)
    else:
        grid = v.as_float_array(temperatures, "temperatures")
        if grid.ndim != 1 or not np.all(np.isfinite(grid)) or grid.min() <= 0:
            raise ValueError("temperatures must be a 1-D array of finite temperatures > 0")
    log_base = v.check_base(base)
    probs = softmax(z, T=T)
    curve = softmax(z[None, :] / grid[:, None])  # one row per grid temperature: softmax(v / t)
    k = z.shape[0]
    max_h = float(np.log(k) / (np.log(log_base) if log_base else 1.0))
    return TemperatureState(
        T=T,
        probabilities=probs,
        reference=softmax(z),
        entropy=float(entropy(probs, base=base)),
        max_entropy=max_h,
        temperatures=grid,
        entropies=np.asarray(entropy(curve, base=base), dtype=float),
        base=log_base,
    )


@dataclass
class GradientState:
    """The gradient of the distillation loss on one example, split into its two terms."""

    T: float
    hard_weight: float  # w, the weight of the hard-label term
    loss: float  # L = w·CE(y, softmax(z)) + (1 − w)·T²·KL(p_T‖q_T)
    hard: np.ndarray  # w·(softmax(z) − onehot(y)), shape (K,)
    soft: np.ndarray  # (1 − w)·T·(q_T − p_T), shape (K,)
    total: np.ndarray  # ∂L/∂z = hard + soft, shape (K,)


def _one_example(x: ArrayLike, name: str) -> np.ndarray:
    arr = v.as_float_array(x, name)
    if arr.ndim != 1 or arr.shape[0] < 2:
        raise ValueError(f"{name} must be 1-D with at least 2 classes (one example), got shape {arr.shape}")
    v.check_logits(arr, name)
    return arr


def gradient_state(
    student_logits: ArrayLike, teacher_logits: ArrayLike, label: int, *, T: float, hard_weight: float
) -> GradientState:
    r"""The distillation loss on one example and its gradient, term by term.

    .. math:: \frac{\partial L}{\partial z} = w\,\bigl(\mathrm{softmax}(z) - \mathrm{onehot}(y)\bigr) + (1-w)\,T\,(q_T - p_T)

    with p_T = softmax(v/T), q_T = softmax(z/T); w = ``hard_weight`` weighs the *hard* term.
    A negative entry means gradient descent raises that logit. Introduced in chapter 4.

    Parameters
    ----------
    student_logits, teacher_logits : array_like, shape (K,)
        Logits z and v of one example.
    label : int
        Its hard label y, in [0, K).
    T : float
        Temperature of the soft term, > 0.
    hard_weight : float
        w in [0, 1].

    Examples
    --------
    >>> from kdbook.states import gradient_state
    >>> s = gradient_state([0.0, 0.0], [0.0, 0.0], 0, T=2.0, hard_weight=1.0)
    >>> s.hard.tolist(), s.soft.tolist(), round(s.loss, 4)
    ([-0.5, 0.5], [0.0, 0.0], 0.6931)
    """
    z = _one_example(student_logits, "student_logits")
    t = _one_example(teacher_logits, "teacher_logits")
    if t.shape != z.shape:
        raise ValueError(f"teacher_logits must have the student's shape {z.shape}, got {t.shape}")
    y = v.check_int(label, "label")
    if y >= z.shape[0]:
        raise ValueError(f"label must be in [0, {z.shape[0] - 1}] for {z.shape[0]} classes, got {y}")
    temp = v.check_positive(T, "T")
    w = v.check_unit_interval(hard_weight, "hard_weight")
    zb, tb, yb = z[None, :], t[None, :], np.array([y])
    loss, total = kd_loss_and_grad(zb, tb, T=temp, labels=yb, hard_weight=w)
    _, hard_only = kd_loss_and_grad(zb, tb, labels=yb, hard_weight=1.0)
    _, soft_only = kd_loss_and_grad(zb, tb, T=temp)
    return GradientState(T=temp, hard_weight=w, loss=float(loss), hard=w * hard_only[0],
                         soft=(1.0 - w) * soft_only[0], total=total[0])


@dataclass
class BiasShiftState:
    """What the explorer shows for one student, one class and one bias shift."""

    label: int  # the class whose bias is raised
    shift: float  # the current shift s
    errors: int  # misclassified examples at s
    class_errors: int  # misclassified examples of class ``label`` at s
    recall: np.ndarray  # per-class fraction correctly classified at s, shape (K,)
    shifts: np.ndarray  # the grid of the error curves
    error_curve: np.ndarray  # errors at each grid shift
    class_error_curve: np.ndarray  # errors on class ``label`` at each grid shift
    n: int  # number of examples
    n_class: int  # number of examples of class ``label``


def _errors(logits: np.ndarray, y: np.ndarray, label: int, shifts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Errors overall and on ``label`` for every shift, all shifts at once: shape (len(shifts),)."""
    z = np.broadcast_to(logits, (len(shifts), *logits.shape)).copy()
    z[:, :, label] += shifts[:, None]
    wrong = z.argmax(axis=-1) != y
    return wrong.sum(axis=1), wrong[:, y == label].sum(axis=1)


def bias_shift_state(
    logits: ArrayLike, labels: ArrayLike, *, label: int, shift: float, shifts: ArrayLike | None = None
) -> BiasShiftState:
    r"""Errors of a classifier when class ``label``'s logit is raised by ``shift``.

    .. math:: \hat y_n(s) = \arg\max_k \bigl(z_{n,k} + s\,[k = c]\bigr)

    Raising b_c by s multiplies the odds of class c against every other class by e^s
    (``kdbook.classify.models.shift_class_bias`` does it to a model). Introduced in chapter 5.
    ``shifts`` defaults to 61 points on [0, 15].

    Parameters
    ----------
    logits : array_like, shape (n, K)
        The student's logits on some labelled examples.
    labels : array_like of int, shape (n,)
        Their true classes.
    label : int
        The class c whose logit is raised.
    shift : float
        The shift s for the per-class recall and the marked point.
    shifts : array_like, optional
        Grid for the error curves.

    Examples
    --------
    >>> from kdbook.states import bias_shift_state
    >>> s = bias_shift_state([[2.0, 0.0], [1.0, 0.5]], [0, 1], label=1, shift=1.0)
    >>> s.errors, s.class_errors, s.recall.tolist()
    (0, 0, [1.0, 1.0])
    """
    z = v.check_features(logits, "logits")
    k = z.shape[1]
    if k < 2 or z.shape[0] == 0:
        raise ValueError(f"logits must have at least one example and 2 classes, got shape {z.shape}")
    y = v.check_labels(labels, (z.shape[0],), k)
    c = v.check_int(label, "label")
    if c >= k:
        raise ValueError(f"label must be in [0, {k - 1}] for {k} classes, got {c}")
    s = v.as_real(shift, "shift")
    if shifts is None:
        grid = np.linspace(*SHIFT_RANGE, 61)
    else:
        grid = v.as_float_array(shifts, "shifts")
        if grid.ndim != 1:
            raise ValueError(f"shifts must be 1-D, got shape {grid.shape}")
        v.check_finite(grid, "shifts")
    curve, class_curve = _errors(z, y, c, grid)
    here, class_here = _errors(z, y, c, np.array([s]))
    pred = (z + s * (np.arange(k) == c)).argmax(axis=-1)
    counts = np.bincount(y, minlength=k)
    hits = np.bincount(y[pred == y], minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(counts > 0, hits / np.maximum(counts, 1), np.nan)
    return BiasShiftState(
        label=c, shift=s, errors=int(here[0]), class_errors=int(class_here[0]), recall=recall, shifts=grid,
        error_curve=curve, class_error_curve=class_curve, n=int(z.shape[0]), n_class=int(counts[c]),
    )

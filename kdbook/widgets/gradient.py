"""The chapter-4 gradient explorer: where the distillation loss pulls each student logit.

Introduced in chapter 4 (``notebooks/04_the_kd_loss.ipynb``). For one example, the gradient of
the combined loss splits into the hard term w(softmax(z) − onehot(y)) and the soft term
(1 − w)·T(q_T − p_T). :func:`gradient_state` computes both with ``kdbook.kd_loss_and_grad`` (a
fraction of a millisecond); :func:`plot_gradient_state` draws them class by class beside their
sum; the widget only wires a temperature slider and a weight slider to the two.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from numpy.typing import ArrayLike

from .. import _validate as v
from ..losses import kd_loss_and_grad
from ._frames import figure_output

__all__ = ["GradientState", "gradient_state", "plot_gradient_state", "gradient_explorer"]

#: The temperature slider's range.
T_RANGE = (0.5, 20.0)


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
    >>> from kdbook.widgets import gradient_state
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


def plot_gradient_state(state: GradientState, *, class_labels: Sequence[str] | None = None):
    """Draw a :class:`GradientState`: the hard term, the soft term and their sum, class by class.

    Introduced in chapter 4 (the static figure before the explorer, and each redraw).

    Returns
    -------
    BarPlot
        ``containers`` holds ``"hard term"``, ``"soft term"`` and ``"total"``.

    Examples
    --------
    >>> from kdbook.widgets import gradient_state, plot_gradient_state
    >>> bars = plot_gradient_state(gradient_state([0.0, 0.0], [0.0, 0.0], 0, T=2.0, hard_weight=1.0))
    >>> [float(b.get_height()) for b in bars.containers["total"]]
    [-0.5, 0.5]
    """
    from ..plotting import plot_grouped_bars

    if not isinstance(state, GradientState):
        raise TypeError(f"state must be a GradientState (from gradient_state), got {type(state).__name__}")
    bars = plot_grouped_bars(
        {"hard term": state.hard, "soft term": state.soft, "total": state.total},
        class_labels=class_labels, reference_name=None, ylabel="gradient on the student's logit",
        title=f"T = {state.T:.2f}, w = {state.hard_weight:.2f}: L = {state.loss:.3f}",
    )
    bars.ax.legend(loc="lower right", ncols=3)
    return bars


def gradient_explorer(
    student_logits: ArrayLike,
    teacher_logits: ArrayLike,
    label: int,
    *,
    T: float = 4.0,
    hard_weight: float = 0.3,
    class_labels: Sequence[str] | None = None,
) -> widgets.VBox:
    """Sliders for the temperature and the hard-label weight, with the live gradient figure.

    Introduced in chapter 4. Each move recomputes :func:`gradient_state` and redraws
    :func:`plot_gradient_state`, then calls ``plt.show()``. T spans 0.5 … 20 (log scale).

    Returns
    -------
    ipywidgets.VBox
        ``children[0]`` is the temperature slider, ``children[1]`` the weight slider,
        ``children[2]`` the output area.
    """
    state = gradient_state(student_logits, teacher_logits, label, T=T, hard_weight=hard_weight)  # validates first
    if class_labels is not None and len(class_labels) != state.total.shape[0]:
        raise ValueError(f"class_labels must have {state.total.shape[0]} entries, got {len(class_labels)}")
    if not T_RANGE[0] <= state.T <= T_RANGE[1]:
        raise ValueError(f"T must be within the slider's range {T_RANGE}, got {T}")
    z, t = np.asarray(student_logits, dtype=float), np.asarray(teacher_logits, dtype=float)
    roomy = dict(style={"description_width": "initial"}, continuous_update=False, layout=widgets.Layout(width="60%"))
    lo, hi = np.log10(T_RANGE)
    t_slider = widgets.FloatLogSlider(value=state.T, base=10.0, min=lo, max=hi, step=0.02, readout_format=".2f",
                                      description="temperature T", **roomy)
    w_slider = widgets.FloatSlider(value=state.hard_weight, min=0.0, max=1.0, step=0.05, description="hard_weight w",
                                   **roomy)

    def frame() -> plt.Figure:
        s = gradient_state(z, t, label, T=t_slider.value, hard_weight=w_slider.value)
        return plot_gradient_state(s, class_labels=class_labels).fig

    out, redraw = figure_output(frame)
    t_slider.observe(redraw, "value")
    w_slider.observe(redraw, "value")
    return widgets.VBox([t_slider, w_slider, out])

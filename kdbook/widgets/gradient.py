"""The chapter-4 gradient explorer: where the distillation loss pulls each student logit.

Introduced in chapter 4 (``notebooks/04_the_kd_loss.ipynb``). For one example, the gradient of
the combined loss splits into the hard term w(softmax(z) − onehot(y)) and the soft term
(1 − w)·T(q_T − p_T). ``kdbook.states.gradient_state`` computes both with
``kdbook.kd_loss_and_grad`` (a fraction of a millisecond); ``kdbook.plotting.plot_gradient_state``
draws them class by class beside their sum; the widget only wires a temperature slider and a
weight slider to the two.
"""
from __future__ import annotations

from typing import Sequence

import ipywidgets as widgets
import numpy as np
from numpy.typing import ArrayLike

from ..plotting.states import plot_gradient_state
from ..states import GRADIENT_T_RANGE, gradient_state
from ._frames import explorer

__all__ = ["gradient_explorer"]


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

    Introduced in chapter 4. Each move recomputes ``kdbook.states.gradient_state`` and redraws
    ``kdbook.plotting.plot_gradient_state``, then calls ``plt.show()``. T spans 0.5 … 20 (log
    scale).

    Returns
    -------
    ipywidgets.VBox
        ``children[0]`` is the temperature slider, ``children[1]`` the weight slider,
        ``children[2]`` the output area.
    """
    state = gradient_state(student_logits, teacher_logits, label, T=T, hard_weight=hard_weight)  # validates first
    if class_labels is not None and len(class_labels) != state.total.shape[0]:
        raise ValueError(f"class_labels must have {state.total.shape[0]} entries, got {len(class_labels)}")
    if not GRADIENT_T_RANGE[0] <= state.T <= GRADIENT_T_RANGE[1]:
        raise ValueError(f"T must be within the slider's range {GRADIENT_T_RANGE}, got {T}")
    z, t = np.asarray(student_logits, dtype=float), np.asarray(teacher_logits, dtype=float)
    roomy = dict(style={"description_width": "initial"}, continuous_update=False, layout=widgets.Layout(width="60%"))
    lo, hi = np.log10(GRADIENT_T_RANGE)
    t_slider = widgets.FloatLogSlider(value=state.T, base=10.0, min=lo, max=hi, step=0.02, readout_format=".2f",
                                      description="temperature T", **roomy)
    w_slider = widgets.FloatSlider(value=state.hard_weight, min=0.0, max=1.0, step=0.05, description="hard_weight w",
                                   **roomy)
    return explorer(
        {"T": t_slider, "hard_weight": w_slider},
        lambda T, hard_weight: gradient_state(z, t, label, T=T, hard_weight=hard_weight),
        lambda s: plot_gradient_state(s, class_labels=class_labels),
    )

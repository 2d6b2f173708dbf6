"""The chapter-5 bias-correction explorer: raise one class's output bias, watch the errors move.

Introduced in chapter 5 (``notebooks/05_training_a_toy_student.ipynb``), for a student distilled
on a transfer set that never showed one class (Hinton, Vinyals & Dean 2015 removed the "3"s
from MNIST). The computation behind each redraw is ``kdbook.states.bias_shift_state`` on
precomputed logits (about a millisecond for a thousand examples);
``kdbook.plotting.plot_bias_shift_state`` draws it; the widget only wires a slider to the two.
"""
from __future__ import annotations

import ipywidgets as widgets
import numpy as np
from numpy.typing import ArrayLike

from .. import _validate as v
from ..plotting.states import plot_bias_shift_state
from ..states import SHIFT_RANGE, bias_shift_state
from ._frames import explorer

__all__ = ["bias_shift_explorer"]


def bias_shift_explorer(
    logits: ArrayLike, labels: ArrayLike, *, label: int, shift: float = 0.0, max_shift: float = SHIFT_RANGE[1]
) -> widgets.VBox:
    """A slider for the bias shift of class ``label``, with the live figure.

    Introduced in chapter 5. Each move recomputes ``kdbook.states.bias_shift_state`` on the
    fixed ``logits`` (the model is not re-run) and redraws ``kdbook.plotting.plot_bias_shift_state``.

    Returns
    -------
    ipywidgets.VBox
        ``children[0]`` is the slider, ``children[1]`` the output area.
    """
    top = v.check_positive(max_shift, "max_shift")
    grid = np.linspace(0.0, top, 61)
    state = bias_shift_state(logits, labels, label=label, shift=shift, shifts=grid)  # validates first
    if not 0.0 <= state.shift <= top:
        raise ValueError(f"shift must be within the slider's range [0, {top:g}], got {shift}")
    z, y = v.check_features(logits, "logits"), np.asarray(labels)
    slider = widgets.FloatSlider(value=state.shift, min=0.0, max=top, step=0.25, description=f"bias shift (class {state.label})",
                                 style={"description_width": "initial"}, continuous_update=False,
                                 layout=widgets.Layout(width="60%"))
    return explorer(
        {"shift": slider},
        lambda shift: bias_shift_state(z, y, label=state.label, shift=shift, shifts=grid),
        plot_bias_shift_state,
    )

"""The chapter-3 temperature explorer: slide T over a teacher's logits, watch the soft targets.

Introduced in chapter 3 (``notebooks/03_temperature_and_soft_targets.ipynb``). The computation
behind each redraw is ``kdbook.states.temperature_state`` (well under a millisecond for a
handful of classes); ``kdbook.plotting.plot_temperature_state`` draws it (the softmax bars at T
beside those at T = 1, and the entropy against T with the current T marked); the widget only
wires a logarithmic slider to the two.
"""
from __future__ import annotations

from typing import Sequence

import ipywidgets as widgets
import numpy as np
from numpy.typing import ArrayLike

from .. import _validate as v
from ..plotting.states import plot_temperature_state
from ..states import T_RANGE, temperature_state
from ._frames import explorer

__all__ = ["temperature_explorer"]


def temperature_explorer(
    teacher_logits: ArrayLike, *, T: float = 1.0, class_labels: Sequence[str] | None = None
) -> widgets.VBox:
    """A logarithmic temperature slider over a teacher's logits, with the live figure.

    Introduced in chapter 3. Each move recomputes ``kdbook.states.temperature_state`` and
    redraws ``kdbook.plotting.plot_temperature_state``, then calls ``plt.show()``. The slider
    spans T = 0.25 … 20.

    Returns
    -------
    ipywidgets.VBox
        ``children[0]`` is the temperature slider, ``children[1]`` the output area.
    """
    state = temperature_state(teacher_logits, T)  # validates before any widget is built
    if class_labels is not None and len(class_labels) != state.probabilities.shape[0]:
        raise ValueError(f"class_labels must have {state.probabilities.shape[0]} entries, got {len(class_labels)}")
    if not T_RANGE[0] <= state.T <= T_RANGE[1]:
        raise ValueError(f"T must be within the slider's range {T_RANGE}, got {T}")
    lo, hi = np.log10(T_RANGE)
    slider = widgets.FloatLogSlider(value=T, base=10.0, min=lo, max=hi, step=0.02, description="temperature T",
                                    readout_format=".2f", style={"description_width": "initial"},
                                    continuous_update=False, layout=widgets.Layout(width="60%"))
    z = v.as_float_array(teacher_logits, "teacher_logits")
    return explorer(
        {"T": slider},
        lambda T: temperature_state(z, T, temperatures=state.temperatures),
        lambda s: plot_temperature_state(s, class_labels=class_labels),
    )

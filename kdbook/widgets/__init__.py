"""Interactive explorers for the chapters, built on ipywidgets 8 (with ``kdbook.progress``, which
imports it only when it draws a bar, the only kdbook code that imports ipywidgets).

Each explorer's computation is a plain-numpy function of ``kdbook.states`` (tested directly,
< 50 ms) and its figure a function of ``kdbook.plotting``; the widget only wires sliders to the
two (``_frames.explorer``) and redraws with ``plt.show()``. The state and plot functions are
re-exported here under the names the chapters import them by.
"""
from __future__ import annotations

from ..plotting.simplex import plot_simplex_state
from ..plotting.states import plot_bias_shift_state, plot_gradient_state, plot_temperature_state
from ..states import (
    CONTOURS,
    BiasShiftState,
    GradientState,
    TemperatureState,
    bias_shift_state,
    gradient_state,
    simplex_state,
    student_from_sliders,
    temperature_state,
)
from .bias import bias_shift_explorer
from .gradient import gradient_explorer
from .next_token import next_token_explorer
from .simplex import simplex_explorer
from .temperature import temperature_explorer

__all__: list[str] = []
__all__ += ["simplex_explorer", "simplex_state", "student_from_sliders", "plot_simplex_state", "CONTOURS"]
__all__ += ["TemperatureState", "plot_temperature_state", "temperature_explorer", "temperature_state"]
__all__ += ["BiasShiftState", "bias_shift_explorer", "bias_shift_state", "plot_bias_shift_state"]
__all__ += ["GradientState", "gradient_explorer", "gradient_state", "plot_gradient_state"]
__all__ += ["next_token_explorer"]

"""Interactive explorers for the chapters, built on ipywidgets 8.

Each explorer's computation is a plain function (tested directly, < 50 ms); the widget only
wires sliders to it and redraws with ``plt.show()``.
"""
from __future__ import annotations

from .gradient import GradientState, gradient_explorer, gradient_state, plot_gradient_state
from .bias import BiasShiftState, bias_shift_explorer, bias_shift_state, plot_bias_shift_state
from .simplex import simplex_explorer, simplex_state, student_from_sliders
from .temperature import TemperatureState, plot_temperature_state, temperature_explorer, temperature_state

__all__: list[str] = []
__all__ += ["simplex_explorer", "simplex_state", "student_from_sliders"]
__all__ += ["TemperatureState", "plot_temperature_state", "temperature_explorer", "temperature_state"]
__all__ += ["BiasShiftState", "bias_shift_explorer", "bias_shift_state", "plot_bias_shift_state"]
__all__ += ["GradientState", "gradient_explorer", "gradient_state", "plot_gradient_state"]

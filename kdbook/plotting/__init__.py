"""Plot helpers for the chapters: every figure in the workbook is one call into this package.

Each function draws in kdbook's colour-blind-safe style, accepts an optional ``ax`` where it
draws one panel, and returns one result type, :class:`Plot` (``.fig``, ``.ax``, ``.axes`` and the
named matplotlib objects it made in ``.artists``), or a thin subclass of it that names those
objects as attributes (``BarPlot.containers``, ``CurvePlot.lines``, ...).
"""
from __future__ import annotations

from ._result import NamedAxes, Plot
from ._style import CMAP, PALETTE, ROLE_COLORS, new_axes, sharp_inline, style
from .curves import CurvePlot, plot_curves
from .distributions import BarPlot, plot_distributions, plot_divergence_values, plot_grouped_bars, series_colors
from .heatmap import HeatmapPlot, plot_heatmap
from .calibration import ReliabilityPlot, plot_reliability_diagram
from .regions import RegionsPlot, decision_grid, plot_decision_regions
from .training import TrainingPlot, plot_training_curves
from .simplex import (
    SimplexAxesPlot,
    SimplexPlot,
    SimplexPointsPlot,
    SimplexStatePlot,
    cartesian_to_simplex,
    plot_simplex,
    plot_simplex_contours,
    plot_simplex_points,
    plot_simplex_state,
    simplex_divergence_grid,
    simplex_grid,
    simplex_to_cartesian,
)

from .states import BiasShiftPlot, TemperaturePlot, plot_bias_shift_state, plot_gradient_state, plot_temperature_state

sharp_inline()  # 2x-density inline figures in notebooks

__all__ = ["Plot", "NamedAxes", "CMAP", "PALETTE", "ROLE_COLORS", "new_axes", "style"]
__all__ += ["BarPlot", "plot_distributions", "plot_divergence_values", "plot_grouped_bars", "series_colors"]
__all__ += [
    "SimplexPlot",
    "SimplexAxesPlot",
    "SimplexPointsPlot",
    "SimplexStatePlot",
    "cartesian_to_simplex",
    "plot_simplex",
    "plot_simplex_contours",
    "plot_simplex_points",
    "plot_simplex_state",
    "simplex_divergence_grid",
    "simplex_grid",
    "simplex_to_cartesian",
]
__all__ += ["CurvePlot", "plot_curves", "HeatmapPlot", "plot_heatmap"]
__all__ += ["RegionsPlot", "decision_grid", "plot_decision_regions", "ReliabilityPlot", "plot_reliability_diagram"]
__all__ += ["TrainingPlot", "plot_training_curves"]
__all__ += ["TemperaturePlot", "BiasShiftPlot", "plot_temperature_state", "plot_gradient_state", "plot_bias_shift_state"]

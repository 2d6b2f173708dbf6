"""Plot helpers for the chapters: every figure in the workbook is one call into this package.

Each function draws in kdbook's colour-blind-safe style, accepts an optional ``ax``, and
returns the matplotlib objects it made (so tests, and learners, can inspect them).
"""
from __future__ import annotations

from ._style import CMAP, PALETTE, ROLE_COLORS, new_axes, style
from .curves import CurvePlot, plot_curves
from .distributions import BarPlot, plot_distributions, plot_divergence_values, plot_grouped_bars, series_colors
from .heatmap import HeatmapPlot, plot_heatmap
from .calibration import ReliabilityPlot, plot_reliability_diagram
from .regions import RegionsPlot, decision_grid, plot_decision_regions
from .training import TrainingPlot, plot_training_curves
from .simplex import (
    SimplexPlot,
    cartesian_to_simplex,
    plot_simplex,
    plot_simplex_contours,
    plot_simplex_points,
    plot_simplex_state,
    simplex_divergence_grid,
    simplex_grid,
    simplex_to_cartesian,
)

__all__ = ["CMAP", "PALETTE", "ROLE_COLORS", "new_axes", "style"]
__all__ += ["BarPlot", "plot_distributions", "plot_divergence_values", "plot_grouped_bars", "series_colors"]
__all__ += [
    "SimplexPlot",
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

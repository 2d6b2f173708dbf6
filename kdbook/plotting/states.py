"""Figures of the explorers' states (chapters 3, 4 and 5): the static figure before each widget
and every redraw. The states come from ``kdbook.states``; the simplex state's figure is
``kdbook.plotting.plot_simplex_state``.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..states import BiasShiftState, GradientState, TemperatureState
from ._result import Plot, artist_fields
from ._style import PALETTE, ROLE_COLORS, new_axes
from .curves import plot_curves
from .distributions import plot_distributions, plot_grouped_bars

__all__ = ["TemperaturePlot", "BiasShiftPlot", "plot_temperature_state", "plot_gradient_state", "plot_bias_shift_state"]


@artist_fields("bars", "curve")
class TemperaturePlot(Plot):
    """What :func:`plot_temperature_state` made: the soft-target ``bars`` (``BarPlot``, left) and
    the entropy ``curve`` (``CurvePlot``, right). ``fig, bars, curve = ...`` still unpacks."""

    _legacy_tuple = ("fig", "bars", "curve")


@artist_fields("curve", "bars")
class BiasShiftPlot(Plot):
    """What :func:`plot_bias_shift_state` made: the error ``curve`` (``CurvePlot``, left) and the
    per-class accuracy ``bars`` (BarContainer, right). ``fig, curve, bars = ...`` still unpacks."""

    _legacy_tuple = ("fig", "curve", "bars")


def _t_text(T: float) -> str:
    """T for a title or legend: at most 2 decimals, no trailing zeros (4, 1.05, 0.25)."""
    text = f"{T:.2f}".rstrip("0").rstrip(".")
    return text if text != "0" else f"{T:.2g}"  # a T below 0.005 keeps two significant digits


def plot_temperature_state(state: TemperatureState, *, class_labels: Sequence[str] | None = None):
    """Draw a :class:`TemperatureState`: bars of p_T beside p_1, and H(p_T) against T.

    Introduced in chapter 3 (the static figure before the explorer, and each redraw).

    Returns
    -------
    TemperaturePlot
        ``bars``: the ``BarPlot`` of the left panel; ``curve``: the ``CurvePlot`` of the right.

    Examples
    --------
    >>> from kdbook.plotting import plot_temperature_state
    >>> from kdbook.states import temperature_state
    >>> res = plot_temperature_state(temperature_state([2.0, 1.0, 0.0], 4.0))
    >>> list(res.bars.containers), float(res.curve.vline.get_xdata()[0])
    (['T = 1', 'T = 4'], 4.0)
    """
    if not isinstance(state, TemperatureState):
        raise TypeError(f"state must be a TemperatureState (from temperature_state), got {type(state).__name__}")
    fig, (left, right) = new_axes(ncols=2, figsize=(10.0, 3.6))
    label = f"T = {_t_text(state.T)}"
    series = {"T = 1": state.reference, label: state.probabilities} if state.T != 1.0 else {label: state.probabilities}
    bars = plot_distributions(series, class_labels=class_labels, reference_name="T = 1", ax=left,
                              title=f"soft targets at {label}")
    left.set_ylim(0.0, 1.05)
    curve = plot_curves(
        state.temperatures, {"H(p_T)": state.entropies}, logx=True, ylabel="entropy (nats)" if state.base is None else f"entropy (base {state.base:g})",
        hline=state.max_entropy, hline_label="log K (uniform)", vline=state.T, vline_label=label,
        title=f"entropy at {label}: {state.entropy:.3f} of at most {state.max_entropy:.3f}", ax=right,
    )
    right.set_ylim(0.0, state.max_entropy * 1.08)
    return TemperaturePlot(fig, (left, right), {"bars": bars, "curve": curve})


def plot_gradient_state(state: GradientState, *, class_labels: Sequence[str] | None = None):
    """Draw a :class:`GradientState`: the hard term, the soft term and their sum, class by class.

    Introduced in chapter 4 (the static figure before the explorer, and each redraw).

    Returns
    -------
    BarPlot
        ``containers`` holds ``"hard term"``, ``"soft term"`` and ``"total"``.

    Examples
    --------
    >>> from kdbook.plotting import plot_gradient_state
    >>> from kdbook.states import gradient_state
    >>> bars = plot_gradient_state(gradient_state([0.0, 0.0], [0.0, 0.0], 0, T=2.0, hard_weight=1.0))
    >>> [float(b.get_height()) for b in bars.containers["total"]]
    [-0.5, 0.5]
    """
    if not isinstance(state, GradientState):
        raise TypeError(f"state must be a GradientState (from gradient_state), got {type(state).__name__}")
    bars = plot_grouped_bars(
        {"hard term": state.hard, "soft term": state.soft, "total": state.total},
        class_labels=class_labels, reference_name=None, ylabel="gradient on the student's logit",
        title=f"T = {state.T:.2f}, w = {state.hard_weight:.2f}: L = {state.loss:.3f}",
    )
    bars.ax.legend(loc="lower right", ncols=3)
    return bars


def plot_bias_shift_state(state: BiasShiftState):
    """Draw a :class:`BiasShiftState`: errors against the shift, and per-class recall at it.

    Introduced in chapter 5 (the static figure before the explorer, and each redraw).

    Returns
    -------
    BiasShiftPlot
        ``curve``: the ``CurvePlot`` of the left panel; ``bars``: the ``BarContainer`` of the right.

    Examples
    --------
    >>> from kdbook.plotting import plot_bias_shift_state
    >>> from kdbook.states import bias_shift_state
    >>> res = plot_bias_shift_state(bias_shift_state([[2.0, 0.0], [1.0, 0.5]], [0, 1], label=1, shift=1.0))
    >>> list(res.curve.lines), [float(b.get_height()) for b in res.bars]
    (['all classes', 'class 1'], [1.0, 1.0])
    """
    if not isinstance(state, BiasShiftState):
        raise TypeError(f"state must be a BiasShiftState (from bias_shift_state), got {type(state).__name__}")
    fig, (left, right) = new_axes(ncols=2, figsize=(10.0, 3.4))
    c = state.label
    curve = plot_curves(
        state.shifts, {"all classes": state.error_curve, f"class {c}": state.class_error_curve},
        xlabel=f"shift s added to the bias of class {c}", ylabel="errors", vline=state.shift, vline_label=f"s = {state.shift:g}",
        title=f"errors: {state.errors} of {state.n} (class {c}: {state.class_errors} of {state.n_class})", ax=left,
    )
    k = len(state.recall)
    colors = [ROLE_COLORS["hard"] if i == c else PALETTE[0] for i in range(k)]
    bars = right.bar(np.arange(k), np.nan_to_num(state.recall), color=colors)
    right.set(xticks=np.arange(k), xlabel="true class", ylabel="fraction classified correctly", ylim=(0, 1.05),
              title=f"per-class accuracy at s = {state.shift:g}")
    return BiasShiftPlot(fig, (left, right), {"curve": curve, "bars": bars})

"""The chapter-5 bias-correction explorer: raise one class's output bias, watch the errors move.

Introduced in chapter 5 (``notebooks/05_training_a_toy_student.ipynb``), for a student distilled
on a transfer set that never showed one class (Hinton, Vinyals & Dean 2015 removed the "3"s
from MNIST). The computation behind each redraw is :func:`bias_shift_state`, a plain function on
precomputed logits (about a millisecond for a thousand examples); :func:`plot_bias_shift_state`
draws it; the widget only wires a slider to the two.
"""
from __future__ import annotations

from dataclasses import dataclass

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from numpy.typing import ArrayLike

from .. import _validate as v
from ._frames import figure_output

__all__ = ["BiasShiftState", "bias_shift_state", "plot_bias_shift_state", "bias_shift_explorer"]

#: Default grid of shifts for the error curves (and the slider's range).
SHIFT_RANGE = (0.0, 15.0)


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
    (``kdbook.models.shift_class_bias`` does it to a model). Introduced in chapter 5.
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
    >>> from kdbook.widgets import bias_shift_state
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


def plot_bias_shift_state(state: BiasShiftState):
    """Draw a :class:`BiasShiftState`: errors against the shift, and per-class recall at it.

    Introduced in chapter 5 (the static figure before the explorer, and each redraw).

    Returns
    -------
    tuple
        ``(fig, curve, bars)``: the figure, the ``CurvePlot`` of the left panel and the
        ``BarContainer`` of the right one.

    Examples
    --------
    >>> from kdbook.widgets import bias_shift_state, plot_bias_shift_state
    >>> fig, curve, bars = plot_bias_shift_state(bias_shift_state([[2.0, 0.0], [1.0, 0.5]], [0, 1], label=1, shift=1.0))
    >>> list(curve.lines), [float(b.get_height()) for b in bars]
    (['all classes', 'class 1'], [1.0, 1.0])
    """
    from ..plotting import PALETTE, ROLE_COLORS, new_axes, plot_curves

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
    return fig, curve, bars


def bias_shift_explorer(
    logits: ArrayLike, labels: ArrayLike, *, label: int, shift: float = 0.0, max_shift: float = SHIFT_RANGE[1]
) -> widgets.VBox:
    """A slider for the bias shift of class ``label``, with the live figure.

    Introduced in chapter 5. Each move recomputes :func:`bias_shift_state` on the fixed
    ``logits`` (the model is not re-run) and redraws :func:`plot_bias_shift_state`.

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

    def frame() -> plt.Figure:
        fig, _, _ = plot_bias_shift_state(bias_shift_state(z, y, label=state.label, shift=slider.value, shifts=grid))
        return fig

    out, redraw = figure_output(frame)
    slider.observe(redraw, "value")
    return widgets.VBox([slider, out])

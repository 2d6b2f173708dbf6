"""Reliability diagrams: accuracy against confidence, one panel per model.

Introduced in chapter 5 (``notebooks/05_training_a_toy_student.ipynb``) to compare how well the
teacher and the students' confidences match their accuracy. The numbers come from
``kdbook.calibration.reliability_curve``; the ECE in each title from
``kdbook.calibration.expected_calibration_error``.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
from numpy.typing import ArrayLike

from .. import _validate as v
from ..calibration import reliability_curve
from ._result import NamedAxes, Plot, artist_fields
from ._style import panel_axes
from .distributions import series_colors

__all__ = ["ReliabilityPlot", "plot_reliability_diagram"]


@artist_fields("bars", "ece")
class ReliabilityPlot(Plot):
    """What :func:`plot_reliability_diagram` made: ``axes`` by model name (:class:`NamedAxes`),
    and in ``artists`` the per-bin accuracy ``bars`` and the ``ece`` of each model (name -> value)."""


def plot_reliability_diagram(
    probs: Mapping[str, ArrayLike], labels: ArrayLike, *, n_bins: int = 10, ax_size: float = 3.0
) -> ReliabilityPlot:
    """Bars of per-bin accuracy against confidence, with the diagonal of perfect calibration.

    Introduced in chapter 5. Panels wrap into evenly filled rows no wider than 10 inches
    (four 3-inch panels make a 2 × 2 grid). A panel named "teacher" is drawn in the teacher's colour, the
    others in palette order (``series_colors``). Bars below the diagonal mean over-confidence (the model is right
    less often than it claims), bars above it under-confidence. Empty bins draw no bar; the
    title gives the expected calibration error with the same ``n_bins``.

    Parameters
    ----------
    probs : mapping str -> array_like of shape (n, K)
        Panel title -> predicted probabilities on the same n examples.
    labels : array_like of int, shape (n,)
        True classes.
    n_bins : int, default 10
        Equal-width confidence bins.
    ax_size : float, default 3.0
        Width and height of each panel, in inches (> 0).

    Examples
    --------
    >>> from kdbook.plotting import plot_reliability_diagram
    >>> out = plot_reliability_diagram({"model": [[0.9, 0.1], [0.3, 0.7]]}, [0, 0], n_bins=2)
    >>> round(out.ece["model"], 4), [round(float(b.get_height()), 4) for b in out.bars["model"]]
    (0.3, [0.0, 0.5])
    """
    if not isinstance(probs, Mapping) or not probs:
        raise TypeError(f"probs must be a non-empty mapping title -> probabilities, got {type(probs).__name__}")
    size = v.check_positive(ax_size, "ax_size")
    items = [(str(k), p, reliability_curve(p, labels, n_bins=n_bins)) for k, p in probs.items()]
    fig, axs = panel_axes(len(items), size)
    axes, bars, ece = {}, {}, {}
    colors = series_colors([name for name, _, _ in items])
    for ax, (name, p, c) in zip(axs, items):
        width = np.diff(c.edges)
        filled = c.counts > 0
        heights = np.where(filled, c.accuracy, 0.0)
        bars[name] = ax.bar(
            c.edges[:-1], heights, width=width, align="edge", color=colors[name], alpha=0.8,
            edgecolor="white", label="accuracy",
        )
        ax.plot(c.confidence[filled], c.accuracy[filled], "o", color="0.2", markersize=3, label="(mean confidence, accuracy)")
        ax.plot([0, 1], [0, 1], "--", color="0.35", linewidth=1.2, label="perfect calibration")
        ece[name] = c.ece
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence", title=f"{name}\nECE = {ece[name]:.3f}")
        if ax.get_subplotspec().is_first_col():  # first panel of each row
            ax.set_ylabel("accuracy")
        axes[name] = ax
    return ReliabilityPlot(fig, NamedAxes(axes), {"bars": bars, "ece": ece})

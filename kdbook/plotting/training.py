"""Training curves: one quantity per panel, one line per run, against the epoch.

Introduced in chapter 5 (``notebooks/05_training_a_toy_student.ipynb``) to follow students
trained on hard labels, on soft targets and on both. Each panel is a ``plot_curves`` call
(chapter 3's helper) over the histories that ``kdbook.train.train`` returns.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from .curves import plot_curves
from .distributions import series_colors
from ._result import NamedAxes, Plot, artist_fields
from ._style import new_axes

__all__ = ["TrainingPlot", "plot_training_curves", "HISTORY_LABELS"]

#: Axis labels for the keys of a ``kdbook.train.train`` history.
HISTORY_LABELS = {
    "train_loss": "training loss",
    "train_accuracy": "training accuracy",
    "eval_accuracy": "test accuracy",
    "eval_kl": "KL(teacher ‖ student), nats",
    "eval_ece": "expected calibration error",
}


@artist_fields("panels")
class TrainingPlot(Plot):
    """What :func:`plot_training_curves` made: one axes per history key (:class:`NamedAxes`) and
    one ``CurvePlot`` per key under ``artists["panels"]``."""


def plot_training_curves(
    histories: Mapping[str, Mapping[str, np.ndarray]],
    *,
    keys: Sequence[str] = ("train_loss", "eval_accuracy", "eval_kl"),
    logy: Sequence[str] = (),
    ax_size: float = 3.2,
) -> TrainingPlot:
    """Plot ``history[key]`` against ``history["epoch"]`` for every run, one panel per key.

    Introduced in chapter 5. Runs are coloured as ``series_colors`` colours them (a run named
    "teacher" in the teacher's colour, the others in palette order after it), the same colours
    as :func:`plot_reliability_diagram` gives the same names. Keys named in ``logy`` get a
    logarithmic y axis.

    Examples
    --------
    >>> import numpy as np
    >>> from kdbook.plotting import plot_training_curves
    >>> h = {"epoch": np.arange(1, 4), "train_loss": np.array([1.0, 0.5, 0.25])}
    >>> out = plot_training_curves({"run": h}, keys=["train_loss"])
    >>> [float(y) for y in out.panels["train_loss"].lines["run"].get_ydata()]
    [1.0, 0.5, 0.25]
    """
    if not isinstance(histories, Mapping) or not histories:
        raise TypeError(f"histories must be a non-empty mapping name -> history, got {type(histories).__name__}")
    if isinstance(keys, str) or not keys:
        raise TypeError(f"keys must be a non-empty list of history keys, got {keys!r}")
    for name, hist in histories.items():
        missing = [k for k in ("epoch", *keys) if k not in hist]
        if missing:
            raise ValueError(f"history {name!r} has no {', '.join(map(repr, missing))}; it has {sorted(hist)}")
    epochs = {len(h["epoch"]) for h in histories.values()}
    if len(epochs) != 1:
        raise ValueError(f"every history must cover the same epochs to share an x axis; lengths are {sorted(epochs)}")
    x = next(iter(histories.values()))["epoch"]
    colors = series_colors([str(name) for name in histories])
    fig, axs = new_axes(ncols=len(keys), figsize=(ax_size * len(keys), ax_size * 0.85))
    panels = {}
    for i, (ax, key) in enumerate(zip(np.atleast_1d(axs), keys)):
        series = {str(name): h[key] for name, h in histories.items()}
        panel = plot_curves(x, series, logy=key in logy, xlabel="epoch", title=HISTORY_LABELS.get(key, key), ax=ax)
        for name, line in panel.lines.items():
            line.set_color(colors[name])
        if ax.get_legend() is not None:
            ax.get_legend().remove()
        if i == 0 and len(series) > 1:
            ax.legend()  # one legend, in the first panel, drawn after recolouring
        panels[key] = panel
    return TrainingPlot(fig, NamedAxes({key: p.ax for key, p in panels.items()}), {"panels": panels})

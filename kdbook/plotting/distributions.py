"""Bar charts of categorical distributions and of named divergence values.

Introduced in chapter 1 (``notebooks/01_teacher_and_student.ipynb``): the teacher's and the
students' probabilities side by side, class by class, optionally annotated with each class's
contribution to a divergence.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike

from .. import _validate as v
from ._result import Plot, artist_fields
from ._style import PALETTE, ROLE_COLORS, new_axes

__all__ = ["BarPlot", "plot_grouped_bars", "plot_distributions", "plot_divergence_values"]


@artist_fields("containers", "annotations")
class BarPlot(Plot):
    """What a bar-chart function made: ``containers`` (series name -> BarContainer) and
    ``annotations`` (Text objects, series by series), in ``artists``."""


def series_colors(names: Sequence[str], reference_name: str | None = "teacher") -> dict[str, str]:
    """Colour per series name: the teacher's colour for ``reference_name``, the palette for the rest.

    Introduced in chapter 1. Used by every chapter-1 figure, so a student keeps its colour from
    the bar chart to the simplex.

    Examples
    --------
    >>> from kdbook.plotting import series_colors
    >>> series_colors(["teacher", "A"]) == {"teacher": "#0072B2", "A": "#E69F00"}
    True
    """
    out, rest = {}, iter(PALETTE[1:] * 2)
    for name in names:
        out[name] = ROLE_COLORS["teacher"] if name == reference_name else next(rest)
    return out


def _check_series(values: Mapping[str, ArrayLike], name: str, probabilities: bool) -> dict[str, np.ndarray]:
    if not isinstance(values, Mapping) or not values:
        raise TypeError(f"{name} must be a non-empty mapping name -> values, got {type(values).__name__}")
    out, k = {}, None
    for key, x in values.items():
        arr = v.as_float_array(x, f"{name}[{key!r}]")
        if arr.ndim != 1:
            raise ValueError(f"{name}[{key!r}] must be one vector of per-class values, got shape {arr.shape}")
        if k is not None and arr.shape[0] != k:
            raise ValueError(f"every series in {name} must have {k} classes; {name}[{key!r}] has {arr.shape[0]}")
        k = arr.shape[0]
        if probabilities:
            v.check_probabilities(arr, f"{name}[{key!r}]", 0)
        else:
            v.check_finite(arr, f"{name}[{key!r}]")
        out[str(key)] = arr
    return out


def plot_grouped_bars(
    values: Mapping[str, ArrayLike],
    *,
    class_labels: Sequence[str] | None = None,
    annotations: Mapping[str, ArrayLike] | None = None,
    fmt: str = "{:.2f}",
    reference_name: str | None = "teacher",
    ylabel: str | None = None,
    title: str | None = None,
    ax=None,
) -> BarPlot:
    """Side-by-side bars of several named per-class series (any real numbers), class by class.

    Introduced in chapter 1. Each series gets one bar per class; bars of one class stand
    together. ``annotations[name]`` (one number per class) is written at the end of that
    series' bars with ``fmt``.

    Returns
    -------
    BarPlot
        ``containers[name]`` is the BarContainer of that series (its bars' heights equal the
        values); ``annotations`` lists the Text objects.

    Examples
    --------
    >>> from kdbook.plotting import plot_grouped_bars
    >>> out = plot_grouped_bars({"A": [0.05, -0.02], "B": [0.0, 0.14]})
    >>> [float(b.get_height()) for b in out.containers["B"]]
    [0.0, 0.14]
    """
    series = _check_series(values, "values", probabilities=False)
    k = next(iter(series.values())).shape[0]
    labels = [f"class {i}" for i in range(k)] if class_labels is None else [str(c) for c in class_labels]
    if len(labels) != k:
        raise ValueError(f"class_labels must have {k} entries (one per class), got {len(labels)}")
    notes = _check_series(annotations, "annotations", probabilities=False) if annotations else {}
    unknown = set(notes) - set(series)
    if unknown:
        raise ValueError(f"annotations name series that are not plotted: {sorted(unknown)}")
    if notes and next(iter(notes.values())).shape[0] != k:
        raise ValueError(f"annotations must have {k} values per series (one per class)")
    fig, ax = new_axes(ax, figsize=(6.4, 3.8))
    colors = series_colors(list(series), reference_name)
    n = len(series)
    width = 0.8 / n
    x = np.arange(k)
    containers, texts = {}, []
    for i, (name, h) in enumerate(series.items()):
        pos = x - 0.4 + width * (i + 0.5)
        containers[name] = ax.bar(pos, h, width=width * 0.95, color=colors[name], label=name, zorder=2)
        if name in notes:
            for xi, hi, note in zip(pos, h, notes[name]):
                texts.append(ax.annotate(
                    fmt.format(float(note)), (xi, hi), xytext=(0, 3 if hi >= 0 else -3),
                    textcoords="offset points", ha="center", va="bottom" if hi >= 0 else "top",
                    fontsize=7, rotation=90 if n > 3 else 0,
                ))
    ax.set_xticks(x, labels)
    ax.axhline(0.0, color="0.3", linewidth=0.8, zorder=3)
    ax.grid(axis="x", visible=False)
    legend = ax.legend(ncols=min(n, 4), loc="upper right")
    if ylabel:
        ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if texts:  # leave head-room for the labels
        lo, hi = ax.get_ylim()
        ax.set_ylim(lo - (0.12 * (hi - lo) if lo < 0 else 0.0), hi + 0.15 * (hi - lo))
    _make_room_for_legend(ax, legend, containers)
    return BarPlot(fig, (ax,), {"containers": containers, "annotations": texts})


def _make_room_for_legend(ax, legend, containers: dict, *, tries: int = 8) -> None:
    """Raise the top of the y axis until no bar reaches into the legend (upper right)."""
    renderer = ax.figure.canvas.get_renderer()
    for _ in range(tries):
        box = legend.get_window_extent(renderer)
        if not any(bar.get_window_extent(renderer).overlaps(box) for bars in containers.values() for bar in bars):
            return
        lo, hi = ax.get_ylim()
        ax.set_ylim(lo, hi + 0.15 * (hi - lo))


def plot_distributions(
    distributions: Mapping[str, ArrayLike],
    *,
    class_labels: Sequence[str] | None = None,
    annotations: Mapping[str, ArrayLike] | None = None,
    fmt: str = "{:+.3f}",
    reference_name: str | None = "teacher",
    title: str | None = None,
    ax=None,
) -> BarPlot:
    """Side-by-side bars of several named probability distributions over the same classes.

    Introduced in chapter 1. Like :func:`plot_grouped_bars`, but every series must be a
    probability vector (non-negative, summing to 1), and the y axis is the probability. Pass
    ``annotations`` such as each class's contribution p_i log(p_i/q_i) to KL(p‖q).

    Examples
    --------
    >>> from kdbook.plotting import plot_distributions
    >>> out = plot_distributions({"teacher": [0.7, 0.2, 0.1], "B": [0.7, 0.1, 0.2]})
    >>> len(out.containers["teacher"]), out.ax.get_ylabel()
    (3, 'probability')
    """
    _check_series(distributions, "distributions", probabilities=True)
    return plot_grouped_bars(
        distributions, class_labels=class_labels, annotations=annotations, fmt=fmt,
        reference_name=reference_name, ylabel="probability", title=title, ax=ax,
    )


def plot_divergence_values(
    values: Mapping[str, float], *, fmt: str = "{:.4f}", title: str | None = None, ax=None
) -> BarPlot:
    """Horizontal bars of named non-negative numbers (divergences); ``inf`` drawn as "∞".

    Introduced in chapter 1 (the simplex explorer). Infinite values get a hatched bar reaching
    the right edge of the axes, labelled "inf".

    Examples
    --------
    >>> from kdbook.plotting import plot_divergence_values
    >>> out = plot_divergence_values({"KL": 0.0851, "TV": float("inf")})
    >>> [t.get_text() for t in out.annotations]
    ['0.0851', 'inf']
    """
    if not isinstance(values, Mapping) or not values:
        raise TypeError(f"values must be a non-empty mapping name -> number, got {type(values).__name__}")
    names = [str(k) for k in values]
    vals = np.array([float(x) for x in values.values()])
    if np.isnan(vals).any() or (vals < 0).any():
        bad = names[int(np.argmax(np.isnan(vals) | (vals < 0)))]
        raise ValueError(f"values must be non-negative numbers or inf; values[{bad!r}] is {values[bad]}")
    fig, ax = new_axes(ax, figsize=(4.0, 3.0))
    finite = vals[np.isfinite(vals)]
    right = max(float(finite.max()) if finite.size else 0.0, 1e-3) * 1.35
    shown = np.where(np.isfinite(vals), vals, right)
    y = np.arange(len(names))[::-1]
    bars = ax.barh(y, shown, color=ROLE_COLORS["soft"], height=0.6, zorder=2)
    texts = []
    for bar, val, yi in zip(bars, vals, y):
        if not np.isfinite(val):
            bar.set_hatch("//")
            bar.set_facecolor("0.85")
        label = fmt.format(val) if np.isfinite(val) else "inf"
        inside = not np.isfinite(val)
        texts.append(ax.text(
            bar.get_width() * (0.98 if inside else 1.0) + (0 if inside else 0.01 * right), yi, label,
            va="center", ha="right" if inside else "left", fontsize=9,
        ))
    ax.set_yticks(y, names)
    ax.set_xlim(0, right * 1.25)
    ax.grid(axis="y", visible=False)
    if title:
        ax.set_title(title)
    return BarPlot(fig, (ax,), {"containers": dict(zip(names, bars)), "annotations": texts})

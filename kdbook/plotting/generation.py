"""Figures of chapter 7: error against position, gradient-estimator error, the quality-coverage frontier.

Introduced in chapter 7 (``notebooks/07_generation_and_on_policy_distillation.ipynb``). Every
function draws into an optional ``ax`` in kdbook's style and returns a
:class:`kdbook.plotting._result.Plot`.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike

from .. import _validate as v
from ._result import Plot
from ._style import MARKERS, PALETTE, new_axes

__all__ = ["plot_position_kl", "plot_estimator_error", "plot_frontier"]


def _series(values, name: str) -> np.ndarray:
    arr = v.as_float_array(values, name)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array, got shape {arr.shape}")
    return arr


def plot_position_kl(curves: Mapping[str, tuple[ArrayLike, ArrayLike]], *, ylabel: str = "KL(teacher ‖ student), nats",
                     title: str | None = None, ax=None) -> Plot:
    """Mean per-position KL (± 2 standard errors) along prefixes of several kinds, one line each.

    ``curves`` maps a label ("teacher's prefixes") to ``(mean, se)`` arrays as
    ``kdbook.lm.genmetrics.position_kl`` returns them (NaN where no sentence is that long).
    Introduced in chapter 7 (exposure bias).

    Examples
    --------
    >>> from kdbook.plotting.generation import plot_position_kl
    >>> res = plot_position_kl({"a": ([0.1, 0.2], [0.01, 0.02])})
    >>> sorted(res.artists["lines"])
    ['a']
    """
    if not curves:
        raise ValueError("curves must name at least one (mean, se) pair")
    fig, ax = new_axes(ax)
    lines = {}
    for i, (label, pair) in enumerate(curves.items()):
        if not (isinstance(pair, tuple) and len(pair) == 2):
            raise TypeError(f"curves[{label!r}] must be a (mean, se) tuple")
        mean, se = _series(pair[0], f"curves[{label!r}] mean"), _series(pair[1], f"curves[{label!r}] se")
        if mean.shape != se.shape:
            raise ValueError(f"curves[{label!r}]: mean and se must have one shape, got {mean.shape} and {se.shape}")
        x = np.arange(1, mean.size + 1)
        color = PALETTE[i % len(PALETTE)]
        (lines[label],) = ax.plot(x, mean, marker="o", ms=4, color=color, label=label)
        ax.fill_between(x, mean - 2 * np.nan_to_num(se), mean + 2 * np.nan_to_num(se), color=color, alpha=0.2, lw=0)
    ax.set_xlabel("position in the sentence (1 = first word)")
    ax.set_ylabel(ylabel)
    ax.set_ylim(bottom=0)
    if title:
        ax.set_title(title)
    ax.legend()
    return Plot(fig, (ax,), {"lines": lines})


def plot_estimator_error(n_samples: ArrayLike, errors: Mapping[str, ArrayLike], *,
                         ylabel: str = "relative mean squared error", title: str | None = None, ax=None) -> Plot:
    """Log-log lines of a gradient estimator's error against the number of samples, one per estimator.

    Introduced in chapter 7 (REINFORCE against per-token scoring). A dotted line of slope −1
    through the first estimator's first point shows the 1/n rate of an unbiased estimator.
    """
    n = _series(n_samples, "n_samples")
    if (n <= 0).any():
        raise ValueError("n_samples must be positive")
    if not errors:
        raise ValueError("errors must name at least one estimator")
    fig, ax = new_axes(ax)
    lines = {}
    first = None
    for i, (label, err) in enumerate(errors.items()):
        e = _series(err, f"errors[{label!r}]")
        if e.shape != n.shape or (e <= 0).any():
            raise ValueError(f"errors[{label!r}] must hold one positive value per entry of n_samples")
        (lines[label],) = ax.loglog(n, e, marker="o", ms=4, color=PALETTE[i % len(PALETTE)], label=label)
        first = e if first is None else first
    ref = first[0] * n[0] / n
    lines["1/n"] = ax.loglog(n, ref, ls=":", color="0.4", label="slope −1 (1/n)")[0]
    ax.set_xticks(n, [f"{x:g}" for x in n])
    ax.minorticks_off()
    ax.set_xlabel("student samples per estimate")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8)
    return Plot(fig, (ax,), {"lines": lines})


def plot_frontier(points: Mapping[str, Sequence[float]], *, path: Sequence[str] = (), highlight: str | None = None,
                  xlabel: str = "coverage: student log-lik. per token of teacher samples",
                  ylabel: str = "quality: teacher log-lik. per token of student samples",
                  title: str | None = None, ax=None) -> Plot:
    """The quality-coverage plane: one point (± 1 SD error bars) per objective, up and right is better.

    ``points`` maps a label to ``(coverage, quality, coverage_sd, quality_sd)``; ``path`` lists
    labels to join by a line in order (a β sweep from forward-like to reverse-like);
    ``highlight`` rings one point (the explorer's current β). Introduced in chapter 7.

    Examples
    --------
    >>> from kdbook.plotting.generation import plot_frontier
    >>> res = plot_frontier({"a": (-1.9, -2.9, 0.01, 0.05), "b": (-2.0, -2.6, 0.01, 0.05)}, path=["a", "b"])
    >>> sorted(res.artists["points"]), res.artists["path"] is not None
    (['a', 'b'], True)
    """
    if not points:
        raise ValueError("points must hold at least one objective")
    vals = {}
    for label, pt in points.items():
        arr = v.as_float_array(pt, f"points[{label!r}]")
        if arr.shape != (4,) or not np.isfinite(arr).all():
            raise ValueError(f"points[{label!r}] must be four finite numbers (coverage, quality, coverage_sd, "
                             f"quality_sd), got {pt!r}")
        vals[label] = arr
    for name in list(path) + ([highlight] if highlight is not None else []):
        if name not in vals:
            raise ValueError(f"{name!r} (in path or highlight) is not one of the points: {', '.join(vals)}")
    fig, ax = new_axes(ax)
    artists = {"points": {}, "path": None, "highlight": None}
    if path:
        xy = np.array([vals[p][:2] for p in path])
        artists["path"] = ax.plot(xy[:, 0], xy[:, 1], color="0.6", lw=1, zorder=1)[0]
    for i, (label, (x, y, sx, sy)) in enumerate(vals.items()):
        artists["points"][label] = ax.errorbar(x, y, xerr=sx, yerr=sy, fmt=MARKERS[i % len(MARKERS)], ms=6, capsize=2,
                                               color=PALETTE[i % len(PALETTE)], zorder=2)
        ax.annotate(label, (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8)
    if highlight is not None:
        x, y = vals[highlight][:2]
        artists["highlight"] = ax.plot(x, y, "o", ms=16, mfc="none", mec="k", mew=1.5, zorder=3)[0]
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    return Plot(fig, (ax,), artists)

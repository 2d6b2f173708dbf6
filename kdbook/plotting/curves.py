"""Curves of several named quantities against one variable, usually the temperature T.

Introduced in chapter 3 (``notebooks/03_temperature_and_soft_targets.ipynb``): the class
probabilities and the entropy against T, the gradient magnitude with and without the T² factor,
and the error of the high-temperature (logit-matching) approximation.
"""
from __future__ import annotations

from typing import Mapping

import matplotlib.ticker as mticker
import numpy as np
from numpy.typing import ArrayLike

from .. import _validate as v
from ._result import Plot, artist_fields
from ._style import PALETTE, new_axes

__all__ = ["CurvePlot", "plot_curves"]


@artist_fields("lines", "hline", "vline")
class CurvePlot(Plot):
    """What :func:`plot_curves` made: ``lines`` (name -> Line2D) and the reference lines
    ``hline`` / ``vline`` (Line2D or None), in ``artists``."""


def _check_x(x: ArrayLike, logx: bool) -> np.ndarray:
    arr = v.as_float_array(x, "x")
    if arr.ndim != 1 or arr.shape[0] < 2:
        raise ValueError(f"x must be a 1-D array of at least 2 points, got shape {arr.shape}")
    v.check_finite(arr, "x")
    if logx and arr.min() <= 0:
        raise ValueError(f"x must be > 0 for a logarithmic x axis (logx=True); found {float(arr.min()):.4g}")
    return arr


def _check_curves(series: Mapping[str, ArrayLike], n: int, logy: bool) -> dict[str, np.ndarray]:
    if not isinstance(series, Mapping) or not series:
        raise TypeError(f"series must be a non-empty mapping name -> values, got {type(series).__name__}")
    out = {}
    for key, y in series.items():
        name = f"series[{key!r}]"
        arr = v.as_float_array(y, name)
        if arr.shape != (n,):
            raise ValueError(f"{name} must have one value per x point, shape ({n},); got {arr.shape}")
        v.check_finite(arr, name)
        if logy and arr.min() <= 0:
            raise ValueError(f"{name} must be > 0 for a logarithmic y axis (logy=True); found {float(arr.min()):.4g}")
        out[str(key)] = arr
    return out


def _check_reference(value, name: str, log: bool) -> float | None:
    if value is None:
        return None
    return v.check_positive(value, name) if log else v.as_real(value, name)


def plot_curves(
    x: ArrayLike,
    series: Mapping[str, ArrayLike],
    *,
    logx: bool = False,
    logy: bool = False,
    xlabel: str = "temperature T",
    ylabel: str | None = None,
    title: str | None = None,
    hline: float | None = None,
    hline_label: str | None = None,
    vline: float | None = None,
    vline_label: str | None = None,
    markers: bool = False,
    ax=None,
) -> CurvePlot:
    """Draw one line per named series against a shared x (by default the temperature T).

    Introduced in chapter 3. Series are coloured in order from kdbook's colour-blind-safe
    palette and labelled in a legend. ``hline`` draws a dashed horizontal reference line (for
    example the maximum entropy log K, or a limit the curve approaches); ``vline`` a dotted
    vertical one (for example the current temperature).

    Parameters
    ----------
    x : array_like, shape (n,)
        The shared x values; > 0 when ``logx``.
    series : mapping str -> array_like of shape (n,)
        The curves, by name (the legend label). Values finite; > 0 when ``logy``.
    logx, logy : bool, default False
        Logarithmic axes.
    xlabel, ylabel, title : str, optional
        Axis labels and title.
    hline, vline : float, optional
        Positions of the horizontal and vertical reference lines.
    hline_label, vline_label : str, optional
        Legend labels of the reference lines.
    markers : bool, default False
        Mark every data point (useful when x is coarse).
    ax : matplotlib Axes, optional
        Draw here instead of in a new figure.

    Returns
    -------
    CurvePlot
        ``lines[name]`` is the Line2D of that series; ``hline`` and ``vline`` the reference lines.

    Examples
    --------
    >>> from kdbook.plotting import plot_curves
    >>> out = plot_curves([1, 2, 4], {"1/T": [1.0, 0.5, 0.25]}, logx=True, hline=0.0)
    >>> out.ax.get_xscale(), [float(y) for y in out.lines["1/T"].get_ydata()]
    ('log', [1.0, 0.5, 0.25])
    """
    xs = _check_x(x, logx)
    curves = _check_curves(series, xs.shape[0], logy)
    h = _check_reference(hline, "hline", logy)
    vl = _check_reference(vline, "vline", logx)
    fig, ax = new_axes(ax)
    lines = {}
    for i, (name, ys) in enumerate(curves.items()):
        (lines[name],) = ax.plot(
            xs, ys, color=PALETTE[i % len(PALETTE)], label=name, linewidth=2, marker="o" if markers else None,
            markersize=4,
        )
    href = ax.axhline(h, color="0.35", linestyle="--", linewidth=1.2, label=hline_label) if h is not None else None
    vref = ax.axvline(vl, color="0.35", linestyle=":", linewidth=1.5, label=vline_label) if vl is not None else None
    if logx:  # ticks at 1, 2, 5 × 10^k, written as plain numbers (T = 0.5, 2, 20)
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(mticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(mticker.FormatStrFormatter("%g"))
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if len(curves) > 1 or hline_label or vline_label:
        ax.legend()
    return CurvePlot(fig, (ax,), {"lines": lines, "hline": href, "vline": vref})

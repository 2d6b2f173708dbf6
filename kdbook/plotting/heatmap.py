"""A heat map of a quantity over a 2-D grid of two parameters, such as the loss over (T, weight).

Introduced in chapter 4 (``notebooks/04_the_kd_loss.ipynb``): the distillation loss of a fixed
teacher–student pair over the temperature T and the hard-label weight.
"""
from __future__ import annotations


import matplotlib.colors as mcolors
import matplotlib.pyplot as plt
import numpy as np
from numpy.typing import ArrayLike

from .. import _validate as v
from ._result import Plot, artist_fields
from ._style import CMAP, new_axes

__all__ = ["HeatmapPlot", "plot_heatmap"]


@artist_fields("image", "colorbar", "texts")
class HeatmapPlot(Plot):
    """What :func:`plot_heatmap` made: the ``image`` (AxesImage; ``get_array()`` holds the values,
    rows = y), its ``colorbar`` and the cell ``texts`` (row by row, with ``annotate=True``)."""


def _check_axis_values(values: ArrayLike, name: str, n: int) -> np.ndarray:
    arr = v.as_float_array(values, name)
    if arr.shape != (n,):
        raise ValueError(f"{name} must have {n} values (one per {'column' if name == 'x' else 'row'}), got shape {arr.shape}")
    v.check_finite(arr, name)
    return arr


def plot_heatmap(
    values: ArrayLike,
    *,
    x: ArrayLike,
    y: ArrayLike,
    xlabel: str,
    ylabel: str,
    colorbar_label: str,
    title: str | None = None,
    annotate: bool = False,
    fmt: str = "{:.2f}",
    tick_fmt: str = "{:g}",
    cmap: str = CMAP,
    ax=None,
) -> HeatmapPlot:
    """Draw ``values[i, j]`` as a coloured cell at column ``x[j]``, row ``y[i]``, with a colour bar.

    Introduced in chapter 4. Cells are equally spaced whatever the spacing of ``x`` and ``y``
    (so a temperature grid such as 1, 2, 4, 8 reads evenly); ticks carry the actual values.
    With ``annotate=True`` each cell shows its value, in black or white, whichever reads better
    on the cell's colour.

    Parameters
    ----------
    values : array_like, shape (len(y), len(x))
        Finite values; rows follow ``y`` (drawn bottom to top), columns follow ``x``.
    x, y : array_like
        The parameter values of the columns and of the rows.
    xlabel, ylabel, colorbar_label : str
        Axis and colour-bar labels (required: a heat map without them cannot be read).
    title : str, optional
    annotate : bool, default False
        Write each cell's value with ``fmt``.
    fmt, tick_fmt : str
        Format strings for the cell values and the tick labels.
    cmap : str, default "viridis"
        A sequential colour map.
    ax : matplotlib Axes, optional
        Draw here instead of in a new figure.

    Returns
    -------
    HeatmapPlot
        ``image.get_array()`` holds ``values``; ``colorbar.ax`` the colour-bar axes; ``texts``
        the cell labels, row by row.

    Examples
    --------
    >>> from kdbook.plotting import plot_heatmap
    >>> out = plot_heatmap([[1.0, 2.0], [3.0, 4.0]], x=[1, 2], y=[0.0, 0.5], xlabel="T",
    ...                    ylabel="hard_weight", colorbar_label="loss", annotate=True)
    >>> [t.get_text() for t in out.texts], out.colorbar.ax.get_ylabel()
    (['1.00', '2.00', '3.00', '4.00'], 'loss')
    """
    grid = v.as_float_array(values, "values")
    if grid.ndim != 2 or 0 in grid.shape:
        raise ValueError(f"values must be a non-empty 2-D array (rows = y, columns = x), got shape {grid.shape}")
    v.check_finite(grid, "values")
    ny, nx = grid.shape
    xs = _check_axis_values(x, "x", nx)
    ys = _check_axis_values(y, "y", ny)
    for name, label in (("xlabel", xlabel), ("ylabel", ylabel), ("colorbar_label", colorbar_label)):
        if not isinstance(label, str) or not label:
            raise TypeError(f"{name} must be a non-empty string, got {label!r}")
    fig, ax = new_axes(ax)
    image = ax.imshow(grid, origin="lower", aspect="auto", cmap=cmap, interpolation="nearest")
    colorbar = fig.colorbar(image, ax=ax)
    colorbar.set_label(colorbar_label)
    ax.set_xticks(np.arange(nx), [tick_fmt.format(float(t)) for t in xs])
    ax.set_yticks(np.arange(ny), [tick_fmt.format(float(t)) for t in ys])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(False)
    if title:
        ax.set_title(title)
    texts = []
    if annotate:
        cm = plt.get_cmap(cmap)
        norm = mcolors.Normalize(float(grid.min()), float(grid.max()))
        for i in range(ny):
            for j in range(nx):
                r, g, b, _ = cm(norm(grid[i, j]))
                ink = "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white"
                texts.append(ax.text(j, i, fmt.format(float(grid[i, j])), ha="center", va="center",
                                     color=ink, fontsize=7))
    return HeatmapPlot(fig, (ax, colorbar.ax), {"image": image, "colorbar": colorbar, "texts": texts})

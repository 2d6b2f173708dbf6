"""Decision regions of one or several classifiers on 2-D data, side by side (wrapped into rows).

Introduced in chapter 5 (``notebooks/05_training_a_toy_student.ipynb``): the teacher and the
students trained three ways, drawn over the same grid, so the learner sees where a small or
over-fitted student draws its boundaries differently from the teacher.
"""
from __future__ import annotations

from typing import Callable, Mapping

import numpy as np
from matplotlib.colors import ListedColormap
from numpy.typing import ArrayLike

from .. import _validate as v
from ._result import NamedAxes, Plot, artist_fields
from ._style import PALETTE, panel_axes

__all__ = ["RegionsPlot", "decision_grid", "plot_decision_regions"]


@artist_fields("images")
class RegionsPlot(Plot):
    """What :func:`plot_decision_regions` made: ``axes`` by model name (:class:`NamedAxes`) and
    the region ``images`` (name -> AxesImage of predicted classes) in ``artists``."""


def _predictor(model) -> Callable[[np.ndarray], np.ndarray]:
    if hasattr(model, "logits") and callable(model.logits):
        return model.logits
    if callable(model):
        return model
    raise TypeError(f"each model must be a kdbook.classify.models.MLP or a callable X -> logits, got {type(model).__name__}")


def decision_grid(X: ArrayLike, *, resolution: int = 150, margin: float = 0.1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A regular grid covering the 2-D points ``X`` (plus ``margin`` of their range on each side).

    Returns ``(xs, ys, points)``: the grid's x and y coordinates (``resolution`` each) and the
    ``resolution²`` grid points as rows of shape (resolution², 2), row-major in y. Introduced in
    chapter 5.

    Examples
    --------
    >>> from kdbook.plotting import decision_grid
    >>> xs, ys, pts = decision_grid([[0.0, 0.0], [1.0, 2.0]], resolution=3, margin=0.0)
    >>> xs.tolist(), ys.tolist(), pts.shape
    ([0.0, 0.5, 1.0], [0.0, 1.0, 2.0], (9, 2))
    """
    X = v.check_features(X, "X")
    if X.shape[1] != 2:
        raise ValueError(f"X must have exactly 2 features to draw decision regions, got {X.shape[1]}")
    res = v.check_int(resolution, "resolution", minimum=2)
    m = v.check_unit_interval(margin, "margin")
    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = m * np.maximum(hi - lo, 1e-9)
    xs = np.linspace(lo[0] - pad[0], hi[0] + pad[0], res)
    ys = np.linspace(lo[1] - pad[1], hi[1] + pad[1], res)
    gx, gy = np.meshgrid(xs, ys)
    return xs, ys, np.column_stack([gx.ravel(), gy.ravel()])


def plot_decision_regions(
    models: Mapping[str, object],
    X: ArrayLike,
    labels: ArrayLike,
    *,
    resolution: int = 150,
    point_size: float = 6.0,
    ax_size: float = 3.0,
) -> RegionsPlot:
    """Draw each model's predicted class over a grid, one panel per model, with the data on top.

    Introduced in chapter 5. Panels run left to right and wrap into rows evenly filled, so no
    row is wider than 10 inches (four panels of 3 inches make a 2 × 2 grid). Region colours are kdbook's palette by class (class c in
    ``PALETTE[c]``), pale; the points ``X`` are drawn in the same colours, so a point sitting in
    a region of another colour is misclassified.

    Parameters
    ----------
    models : mapping str -> model
        Panel title -> a ``kdbook.classify.models.MLP`` (or any callable ``X -> logits``), drawn in order.
    X : array_like, shape (n, 2)
        The points to show (and the extent of the grid).
    labels : array_like of int, shape (n,)
        Their true classes.
    resolution : int, default 150
        Grid points per axis.
    point_size : float, default 6.0
        Marker size of the data points.
    ax_size : float, default 3.0
        Width and height of each panel, in inches (> 0).

    Returns
    -------
    RegionsPlot
        ``axes[name]`` and ``images[name]`` (whose array holds the predicted class per grid cell).

    Examples
    --------
    >>> import numpy as np
    >>> from kdbook.plotting import plot_decision_regions
    >>> X = np.array([[-1.0, 0.0], [1.0, 0.0]])
    >>> out = plot_decision_regions({"sign of x": lambda P: np.column_stack([-P[:, 0], P[:, 0]])}, X, [0, 1], resolution=4)
    >>> out.images["sign of x"].get_array()[0].tolist()
    [0, 0, 1, 1]
    """
    if not isinstance(models, Mapping) or not models:
        raise TypeError(f"models must be a non-empty mapping title -> model, got {type(models).__name__}")
    X = v.check_features(X, "X")
    size = v.check_positive(ax_size, "ax_size")
    xs, ys, grid = decision_grid(X, resolution=resolution)
    predicted, k = {}, None
    for name, model in models.items():
        z = np.asarray(_predictor(model)(grid))
        if z.ndim != 2 or z.shape[0] != grid.shape[0] or (k is not None and z.shape[1] != k):
            want = f"({grid.shape[0]}, {k if k is not None else 'K'})"
            raise ValueError(f"model {name!r} must return logits of shape {want} for the grid, got {z.shape}")
        k = z.shape[1]
        predicted[str(name)] = z.argmax(axis=-1).reshape(len(ys), len(xs))
    y = v.check_labels(labels, (X.shape[0],), k)
    if k > len(PALETTE):
        raise ValueError(f"at most {len(PALETTE)} classes can be coloured, got {k}")
    cmap = ListedColormap(PALETTE[:k])
    fig, axs = panel_axes(len(predicted), size)
    axes, images = {}, {}
    extent = (xs[0], xs[-1], ys[0], ys[-1])
    for ax, (name, pred) in zip(axs, predicted.items()):
        images[name] = ax.imshow(
            pred, origin="lower", extent=extent, cmap=cmap, vmin=-0.5, vmax=k - 0.5, alpha=0.3,
            interpolation="nearest", aspect="auto",
        )
        ax.scatter(X[:, 0], X[:, 1], c=y, cmap=cmap, vmin=-0.5, vmax=k - 0.5, s=point_size, edgecolors="white", linewidths=0.3)
        ax.set_title(name)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
        axes[name] = ax
    return RegionsPlot(fig, NamedAxes(axes), {"images": images})

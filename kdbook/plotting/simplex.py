"""The 3-class probability simplex (a ternary plot) with divergence contours around a reference.

Introduced in chapter 1 (``notebooks/01_teacher_and_student.ipynb``) and used again for the
forward/reverse KL maps of chapter 2 (``notebooks/02_divergences.ipynb``). Every distribution
over three classes, p = (p0, p1, p2), is one point of an equilateral triangle whose corners are
the one-hot distributions: class 0 at (0, 0), class 1 at (1, 0), class 2 at (½, √3/2). The point
is the probability-weighted average of the corners (barycentric coordinates).
"""
from __future__ import annotations

from typing import Callable, Mapping, Sequence

import matplotlib.colors as mcolors
import matplotlib.patheffects as pe
import matplotlib.pyplot as plt
import matplotlib.tri as mtri
import numpy as np
from numpy.typing import ArrayLike

from .. import _validate as v
from ._result import Plot, artist_fields
from ._simplex_geometry import (
    CORNERS,
    DIRECTIONS,
    cartesian_to_simplex,
    check_simplex_points,
    lattice,
    simplex_divergence_grid,
    simplex_grid,
    simplex_to_cartesian,
)
from ._style import CMAP, new_axes
from .distributions import series_colors

__all__ = [
    "SimplexPlot",
    "SimplexAxesPlot",
    "SimplexPointsPlot",
    "SimplexStatePlot",
    "simplex_to_cartesian",
    "cartesian_to_simplex",
    "simplex_grid",
    "simplex_divergence_grid",
    "plot_simplex",
    "plot_simplex_points",
    "plot_simplex_contours",
    "plot_simplex_state",
]


_HALO = [pe.withStroke(linewidth=3, foreground="white")]


@artist_fields("filled", "lines", "levels", "grid", "values", "points", "texts", "colorbar")
class SimplexPlot(Plot):
    """What :func:`plot_simplex_contours` made, in ``artists``: the ``filled`` bands and contour
    ``lines`` (TriContourSets), their ``levels``, the barycentric ``grid`` (N, 3) and the
    divergence ``values`` (N,) it contoured, the marked ``points`` (name -> PathCollection),
    corner and point ``texts`` and the ``colorbar`` (or None)."""


def _nice_levels(values: np.ndarray, count: int) -> np.ndarray:
    """About ``count`` levels on a 1-2-5 scale spanning the finite positive values."""
    finite = values[np.isfinite(values) & (values > 0)]
    if finite.size == 0:
        return np.array([0.0, 1.0])
    lo, hi = np.quantile(finite, 0.02), finite.max()
    decades = np.arange(np.floor(np.log10(lo)) - 1, np.ceil(np.log10(hi)) + 1)
    ladder = np.sort(np.concatenate([m * 10.0**decades for m in (1.0, 2.0, 5.0)]))
    ladder = ladder[(ladder >= lo) & (ladder <= hi)]
    if ladder.size > count:
        ladder = ladder[np.round(np.linspace(0, ladder.size - 1, count)).astype(int)]
    return np.concatenate([[0.0], ladder])


@artist_fields("texts")
class SimplexAxesPlot(Plot):
    """What :func:`plot_simplex` made: the empty simplex, its three corner ``texts``.

    ``fig, ax, texts = plot_simplex()`` still unpacks, as when it returned a tuple.
    """

    _legacy_tuple = ("fig", "ax", "texts")


@artist_fields("points", "texts")
class SimplexPointsPlot(Plot):
    """What :func:`plot_simplex_points` made: ``points`` (name -> PathCollection) and ``texts``.

    ``markers, texts = plot_simplex_points(...)`` still unpacks, as when it returned a tuple.
    """

    _legacy_tuple = ("points", "texts")


@artist_fields("simplex", "bars")
class SimplexStatePlot(Plot):
    """What :func:`plot_simplex_state` made: the ``simplex`` (:class:`SimplexPlot`) and the
    divergence ``bars`` (``BarPlot``). ``res["fig"]``, ``res["simplex"]`` and ``res["bars"]``
    still work, as when it returned a dict."""

    def __getitem__(self, key: str):
        return self.fig if key == "fig" else self.artists[key]


def plot_simplex(
    ax=None, *, class_labels: Sequence[str] = ("class 0", "class 1", "class 2")
) -> SimplexAxesPlot:
    """Draw the empty simplex: the triangle outline and its corner labels.

    Introduced in chapter 1. Returns a :class:`SimplexAxesPlot` whose ``texts`` are the three
    corner labels.

    Examples
    --------
    >>> from kdbook.plotting import plot_simplex
    >>> fig, ax, texts = plot_simplex(class_labels=("cat", "dog", "fox"))
    >>> [t.get_text() for t in texts]
    ['cat', 'dog', 'fox']
    """
    if len(class_labels) != 3:
        raise ValueError(f"class_labels must name 3 classes, got {len(class_labels)}")
    fig, ax = new_axes(ax, figsize=(5.0, 4.4))
    closed = np.vstack([CORNERS, CORNERS[:1]])
    ax.plot(closed[:, 0], closed[:, 1], color="0.2", linewidth=1.0, zorder=3)
    offsets = [(0.0, -0.055, "center"), (1.0, -0.055, "center"), (0.5, np.sqrt(3) / 2 + 0.035, "center")]
    texts = [
        ax.text(x, y, str(lab), ha=ha, va="center", fontsize=10)
        for (x, y, ha), lab in zip(offsets, class_labels)
    ]
    ax.set_aspect("equal")
    ax.set_xlim(-0.12, 1.12)
    ax.set_ylim(-0.1, np.sqrt(3) / 2 + 0.08)
    ax.axis("off")
    return SimplexAxesPlot(fig, (ax,), {"texts": texts})


def plot_simplex_points(
    points: Mapping[str, ArrayLike], ax, *, reference_name: str | None = "teacher"
) -> tuple[dict, list]:
    """Mark named 3-class distributions on simplex axes, each with its label.

    Introduced in chapter 1. The point named ``reference_name`` (the teacher) is drawn as a
    star in the teacher's colour; the others as circles coloured by :func:`series_colors`.
    Returns ``(markers, texts)``: a dict name → PathCollection and the list of labels.
    """
    if not isinstance(points, Mapping):
        raise TypeError(f"points must be a mapping name -> distribution, got {type(points).__name__}")
    colors = series_colors([str(k) for k in points], reference_name)
    xys = {name: simplex_to_cartesian(check_simplex_points(p, f"points[{name!r}]")) for name, p in points.items()}
    centre = xys.get(reference_name)
    markers, texts = {}, []
    for name, xy in xys.items():
        is_ref = name == reference_name
        markers[name] = ax.scatter(
            [xy[0]], [xy[1]], s=160 if is_ref else 70, marker="*" if is_ref else "o",
            color=colors[str(name)], edgecolor="white", linewidth=1.2, zorder=5, label=name,
        )
        offset, ha, va = _label_offset(xy, None if is_ref else centre)
        texts.append(ax.annotate(
            name, xy, xytext=offset, textcoords="offset points", ha=ha, va=va, fontsize=9,
            color="black", path_effects=_HALO, zorder=6, annotation_clip=True,
        ))
    return SimplexPointsPlot(ax.figure, (ax,), {"points": markers, "texts": texts})


def _label_offset(xy: np.ndarray, centre: np.ndarray | None) -> tuple[tuple[float, float], str, str]:
    """Place a point's label away from the reference point (the reference's own label: below left)."""
    if centre is None:
        return (-6.0, -6.0), "right", "top"
    d = xy - centre
    n = float(np.hypot(*d))
    u = d / n if n > 1e-9 else np.array([0.7, 0.7])
    ha = "left" if u[0] > 0.3 else "right" if u[0] < -0.3 else "center"
    va = "bottom" if u[1] > 0.3 else "top" if u[1] < -0.3 else "center"
    return (7.0 * u[0], 7.0 * u[1]), ha, va


def plot_simplex_contours(
    divergence: Callable[[np.ndarray, np.ndarray], np.ndarray],
    reference: ArrayLike,
    *,
    direction: str = "forward",
    points: Mapping[str, ArrayLike] | None = None,
    reference_name: str = "teacher",
    levels: int | Sequence[float] = 9,
    resolution: int = 60,
    class_labels: Sequence[str] = ("class 0", "class 1", "class 2"),
    title: str | None = None,
    colorbar: bool = True,
    zoom: float | None = None,
    ax=None,
) -> SimplexPlot:
    r"""Contours of a divergence from a fixed reference over the 3-class simplex, points marked.

    .. math:: x \mapsto f(r, x) \ (\text{direction}=\text{"forward"}) \quad\text{or}\quad f(x, r) \ (\text{"reverse"})

    Introduced in chapter 1; forward versus reverse KL maps in chapter 2. ``divergence`` is any
    function ``f(p, q)`` that broadcasts like kdbook's (``kdbook.kl_divergence``,
    ``kdbook.js_divergence``, ...); the whole grid is one call (see
    :func:`simplex_divergence_grid`). Filled bands use one colour per level interval.

    Parameters
    ----------
    divergence : callable
        ``f(p, q)`` returning one value per row.
    reference : array_like, shape (3,)
        The fixed distribution, marked with a star and named ``reference_name``.
    direction : {"forward", "reverse"}
        ``"forward"`` contours f(reference, x); ``"reverse"`` contours f(x, reference).
    points : mapping name -> distribution, optional
        Further distributions (the students) to mark and label.
    levels : int or sequence of float
        Number of levels (chosen on a 1-2-5 scale) or the increasing levels themselves.
    resolution : int
        Grid steps per edge.
    zoom : float, optional
        Show only a square window of this half-width (in the triangle's units, edge = 1)
        centred on the reference; the corner labels are then hidden.

    Returns
    -------
    SimplexPlot
        fig, ax, the filled and line contour sets, levels, grid, values, point markers, texts.

    Examples
    --------
    >>> import kdbook
    >>> from kdbook.plotting import plot_simplex_contours
    >>> out = plot_simplex_contours(kdbook.kl_divergence, [0.7, 0.2, 0.1], levels=[0, 0.1, 0.5], resolution=10)
    >>> out.levels.tolist()
    [0.0, 0.1, 0.5]
    """
    ref = check_simplex_points(reference, "reference")
    grid, values = simplex_divergence_grid(divergence, ref, direction=direction, resolution=resolution)
    if isinstance(levels, (int, np.integer)) and not isinstance(levels, bool):
        if levels < 2:
            raise ValueError(f"levels must be at least 2, got {levels}")
        lv = _nice_levels(values, int(levels))
    else:
        lv = np.asarray(levels, dtype=np.float64)
        if lv.ndim != 1 or lv.size < 2 or not np.all(np.diff(lv) > 0):
            raise ValueError("levels must be an int or an increasing sequence of at least 2 numbers")
    base = plot_simplex(ax, class_labels=class_labels)
    fig, ax, texts = base.fig, base.ax, base.texts
    _, tris = lattice(resolution)
    xy = grid @ CORNERS
    tri = mtri.Triangulation(xy[:, 0], xy[:, 1], tris)
    cmap = plt.get_cmap(CMAP)
    norm = mcolors.BoundaryNorm(lv, cmap.N, extend="max")
    shown = np.where(np.isfinite(values), values, np.finfo(np.float64).max)
    filled = ax.tricontourf(tri, shown, levels=lv, cmap=cmap, norm=norm, extend="max", zorder=1)
    lines = ax.tricontour(tri, shown, levels=lv[1:], colors="white", linewidths=0.6, alpha=0.8, zorder=2)
    cbar = None
    if colorbar:
        cbar = fig.colorbar(filled, ax=ax, shrink=0.8, ticks=lv, spacing="uniform")
        cbar.ax.set_yticklabels([f"{x:g}" for x in lv])
    marked = plot_simplex_points({reference_name: ref, **dict(points or {})}, ax, reference_name=reference_name)
    markers, ptexts = marked.points, marked.texts
    if zoom is not None:
        half = v.check_positive(zoom, "zoom")
        cx, cy = ref @ CORNERS
        ax.set_xlim(cx - half, cx + half)
        ax.set_ylim(max(cy - half, -0.02), cy + half)
        for t in texts:
            t.set_visible(False)
    if title is not None:
        ax.set_title(title)
    return SimplexPlot(fig, (ax,) if cbar is None else (ax, cbar.ax), {
        "filled": filled, "lines": lines, "levels": lv, "grid": grid, "values": values,
        "points": markers, "texts": texts + ptexts, "colorbar": cbar,
    })


def plot_simplex_state(
    teacher: ArrayLike,
    student: ArrayLike,
    values: Mapping[str, float],
    *,
    divergence: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    direction: str = "forward",
    contour_label: str = "KL(teacher‖x)",
    levels: int | Sequence[float] = (0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5),
    resolution: int = 60,
) -> SimplexStatePlot:
    """One frame of the chapter-1 simplex explorer: the student on the contour map, its divergences beside it.

    Introduced in chapter 1. Left: contours of ``divergence`` (default ``kdbook.kl_divergence``)
    around the teacher with teacher and student marked; right: ``values`` (for example
    ``kdbook.states.simplex_state(teacher, student)``) as horizontal bars. Returns a
    :class:`SimplexStatePlot` with ``simplex`` (:class:`SimplexPlot`) and ``bars`` (``BarPlot``).
    """
    from .. import divergences
    from .distributions import plot_divergence_values

    f = divergences.kl_divergence if divergence is None else divergence
    fig, (left, right) = new_axes(ncols=2, figsize=(9.0, 3.8))
    simplex = plot_simplex_contours(
        f, teacher, direction=direction, points={"student": student}, levels=levels,
        resolution=resolution, title=f"contours of {contour_label}", ax=left,
    )
    bars = plot_divergence_values(values, title="divergences (TV unitless, others nats)", ax=right)
    return SimplexStatePlot(fig, (left, right), {"simplex": simplex, "bars": bars})

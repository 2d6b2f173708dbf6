"""Geometry of the 3-class probability simplex: barycentric <-> Cartesian, grids (private).

Introduced in chapter 1 with the simplex plots of ``kdbook.plotting.simplex``, which re-exports
the public names. Class 0 sits at (0, 0), class 1 at (1, 0), class 2 at (½, √3/2).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from numpy.typing import ArrayLike

from .. import _validate as v

#: Cartesian positions of the corners (one-hot distributions) of the 3-class simplex.
CORNERS = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, np.sqrt(3.0) / 2.0]])
#: Directions of a divergence from the reference: forward f(reference, x), reverse f(x, reference).
DIRECTIONS = ("forward", "reverse")


def check_simplex_points(p: ArrayLike, name: str) -> np.ndarray:
    arr = v.as_float_array(p, name)
    if arr.shape[-1] != 3:
        raise ValueError(f"{name} must have 3 classes along axis -1 (a point of the 3-class simplex), got {arr.shape[-1]}")
    v.check_probabilities(arr, name, arr.ndim - 1)
    return arr.astype(np.float64, copy=False)


def simplex_to_cartesian(p: ArrayLike) -> np.ndarray:
    r"""Cartesian position of 3-class distributions in the equilateral simplex.

    .. math:: (x, y) = p_0 (0, 0) + p_1 (1, 0) + p_2 (\tfrac12, \tfrac{\sqrt3}{2})

    Introduced in chapter 1. ``p`` has shape (..., 3) and must be a probability vector along the
    last axis; the result has shape (..., 2).

    Examples
    --------
    >>> from kdbook.plotting import simplex_to_cartesian
    >>> [round(float(c), 4) for c in simplex_to_cartesian([1/3, 1/3, 1/3])]
    [0.5, 0.2887]
    """
    return check_simplex_points(p, "p") @ CORNERS


def cartesian_to_simplex(xy: ArrayLike) -> np.ndarray:
    r"""Inverse of :func:`simplex_to_cartesian`: barycentric coordinates of points (x, y).

    .. math:: p_2 = \tfrac{2y}{\sqrt3},\quad p_1 = x - \tfrac{p_2}{2},\quad p_0 = 1 - p_1 - p_2

    Introduced in chapter 1. Points outside the triangle get a negative coordinate; nothing is
    clipped.

    Examples
    --------
    >>> from kdbook.plotting import cartesian_to_simplex
    >>> [round(float(c), 4) for c in cartesian_to_simplex([0.5, 0.0])]
    [0.5, 0.5, 0.0]
    """
    arr = v.as_float_array(xy, "xy")
    if arr.shape[-1] != 2:
        raise ValueError(f"xy must have 2 coordinates (x, y) along axis -1, got {arr.shape[-1]}")
    v.check_finite(arr, "xy")
    p2 = 2.0 * arr[..., 1] / np.sqrt(3.0)
    p1 = arr[..., 0] - p2 / 2.0
    return np.stack([1.0 - p1 - p2, p1, p2], axis=-1)


def lattice(resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """Integer lattice (i, j, k), i + j + k = n, and its triangles (indices into the lattice)."""
    n = resolution
    ij = [(i, j) for i in range(n + 1) for j in range(n + 1 - i)]
    index = {pt: a for a, pt in enumerate(ij)}
    tris = []
    for i, j in ij:
        if i + j < n:
            tris.append((index[i, j], index[i + 1, j], index[i, j + 1]))
        if i + j < n - 1:
            tris.append((index[i + 1, j], index[i + 1, j + 1], index[i, j + 1]))
    ijk = np.array([(i, j, n - i - j) for i, j in ij], dtype=np.float64)
    return ijk, np.array(tris, dtype=np.intp)


def simplex_grid(resolution: int = 60, *, margin: float = 1e-3) -> np.ndarray:
    r"""A triangular grid of 3-class distributions covering the simplex's interior.

    .. math:: p = m + (1 - 3m)\,(i, j, k)/n, \quad i + j + k = n

    Introduced in chapter 1. Every point keeps each probability ≥ ``margin`` (> 0), so
    divergences that are infinite on the edges stay finite on the grid. Returns an array of
    shape ((n+1)(n+2)/2, 3) whose rows sum to 1.

    Parameters
    ----------
    resolution : int, default 60
        Number n of steps along each edge.
    margin : float, default 1e-3
        Smallest probability on the grid, in [0, 1/3).

    Examples
    --------
    >>> from kdbook.plotting import simplex_grid
    >>> simplex_grid(2, margin=0.0).tolist()[:3]
    [[0.0, 0.0, 1.0], [0.0, 0.5, 0.5], [0.0, 1.0, 0.0]]
    """
    n = _check_resolution(resolution)
    m = v.check_unit_interval(margin, "margin")
    if m >= 1.0 / 3.0:
        raise ValueError(f"margin must be < 1/3 (every class keeps at least margin), got {m}")
    ijk, _ = lattice(n)
    return m + (1.0 - 3.0 * m) * ijk / n


def _check_resolution(resolution) -> int:
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)):
        raise TypeError(f"resolution must be an int, got {type(resolution).__name__}")
    if not 1 <= resolution <= 500:
        raise ValueError(f"resolution must be in [1, 500], got {resolution}")
    return int(resolution)


def simplex_divergence_grid(
    divergence: Callable[[np.ndarray, np.ndarray], np.ndarray],
    reference: ArrayLike,
    *,
    direction: str = "forward",
    resolution: int = 60,
    margin: float = 1e-3,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Evaluate ``divergence`` between a fixed reference and every point of the simplex grid.

    .. math:: f(r, x) \text{ (forward)} \quad\text{or}\quad f(x, r) \text{ (reverse)}, \quad x \in \text{grid}

    Introduced in chapter 1. One batched call: ``divergence`` receives the reference with shape
    (1, 3) and the grid with shape (N, 3) and must broadcast them (every kdbook divergence does).
    With ``divergence=kdbook.kl_divergence`` and ``reference`` the teacher, ``"forward"`` maps
    KL(teacher‖x) and ``"reverse"`` maps KL(x‖teacher).

    Returns
    -------
    grid : ndarray, shape (N, 3)
    values : ndarray, shape (N,)

    Examples
    --------
    >>> import kdbook
    >>> from kdbook.plotting import simplex_divergence_grid
    >>> grid, vals = simplex_divergence_grid(kdbook.kl_divergence, [0.7, 0.2, 0.1], resolution=10)
    >>> grid.shape, vals.shape
    ((66, 3), (66,))
    """
    if not callable(divergence):
        raise TypeError(f"divergence must be a function f(p, q), got {type(divergence).__name__}")
    v.check_choice(direction, "direction", DIRECTIONS)
    ref = check_simplex_points(reference, "reference")
    if ref.ndim != 1:
        raise ValueError(f"reference must be one distribution of shape (3,), got shape {ref.shape}")
    grid = simplex_grid(resolution, margin=margin)
    args = (ref[None, :], grid) if direction == "forward" else (grid, ref[None, :])
    values = np.asarray(divergence(*args), dtype=np.float64)
    if values.shape != (grid.shape[0],):
        raise ValueError(
            f"divergence must return one value per grid point, shape ({grid.shape[0]},); got {values.shape}"
        )
    return grid, values

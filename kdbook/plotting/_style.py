"""One consistent, colour-blind-safe look for every kdbook figure (private).

Colours are the Okabe–Ito palette (distinguishable under the common colour-vision deficiencies),
ordered so that the first colours a figure uses stay furthest apart when simulated for protan,
deutan and tritan vision (tests/test_palette.py measures it); where many series share a plot,
MARKERS give each its own shape as well, so colour is never the only cue. Sequential maps are
``viridis``. Plot functions draw into an ``ax`` they are given, or into a
new figure from :func:`new_axes`, and return the matplotlib objects they made.
"""
from __future__ import annotations

from contextlib import contextmanager

import matplotlib

import matplotlib.pyplot as plt
import numpy as np

#: Okabe–Ito colours, in the order kdbook uses them (teacher blue, student orange first). The order
#: keeps the similar hues (orange, vermillion, yellow; blue, sky blue) apart in the first colours.
PALETTE = ("#0072B2", "#E69F00", "#000000", "#56B4E9", "#D55E00", "#CC79A7", "#F0E442", "#009E73")
#: Marker shapes, one per series where many series share a plot (with PALETTE, by index).
MARKERS = ("o", "s", "D", "^", "v", "P", "X", "*")
#: Named roles, so the teacher is the same colour in every chapter.
ROLE_COLORS = {"teacher": "#0072B2", "student": "#E69F00", "hard": "#D55E00", "soft": "#009E73"}
#: Sequential colour map for contours and heat maps.
CMAP = "viridis"

RC = {
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 80,
    "savefig.dpi": 100,
    "axes.prop_cycle": matplotlib.cycler(color=list(PALETTE)),
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.frameon": False,
    "font.size": 10,
    "image.cmap": CMAP,
}


def sharp_inline() -> bool:
    """In a notebook, render inline figures at twice the pixel density (matplotlib-inline's
    ``retina`` format), shown at the same size: sharp on high-density screens. Figure sizes and
    their text repr are unchanged; a stored PNG grows about 2.5× (measured on chapters 0–4).
    Returns whether it was switched on (False outside IPython or without matplotlib-inline)."""
    try:
        from IPython import get_ipython

        if get_ipython() is None:
            return False
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("retina")
        return True
    except Exception:  # no IPython, no matplotlib-inline (some browser kernels): keep the default
        return False


@contextmanager
def style():
    """Context manager applying kdbook's matplotlib style (``with style(): ...``)."""
    with plt.rc_context(RC):
        try:
            yield
        finally:
            # If the session's first figure is made in here, pyplot resolves the backend and
            # the inline backend switches interactive mode on; rc_context's restore would undo
            # that, and later figures would silently never display. Keep what was resolved.
            interactive = matplotlib.is_interactive()
    matplotlib.interactive(interactive)


#: Widest row of panels, in inches: a wider figure runs past a notebook cell (JupyterLab at 1280 px).
MAX_ROW_WIDTH = 10.0


def panel_grid(n: int, ax_size: float) -> tuple[int, int]:
    """(rows, columns) for n square panels of ``ax_size`` inches: as few rows as keep each row
    within MAX_ROW_WIDTH, the rows evenly filled (four 3-inch panels make a 2 × 2 grid)."""
    most = max(1, int(MAX_ROW_WIDTH // ax_size))
    rows = -(-n // most)
    return rows, -(-n // rows)


def new_axes(ax=None, *, figsize=None, ncols: int = 1, nrows: int = 1):
    """Return ``(fig, ax)``: the given axes and its figure, or a new figure in kdbook's style."""
    if ax is not None:
        return ax.figure, ax
    with style():
        fig, axes = plt.subplots(nrows, ncols, figsize=figsize or RC["figure.figsize"], layout="constrained")
    return fig, axes


def panel_axes(n: int, ax_size: float) -> tuple:
    """A new figure of ``n`` square panels of ``ax_size`` inches laid out by :func:`panel_grid`.

    Returns ``(fig, axes)`` with ``axes`` a list of exactly ``n`` axes (unused grid cells, as
    for five panels on a 2 × 3 grid, are removed).
    """
    rows, cols = panel_grid(n, ax_size)
    fig, axs = new_axes(nrows=rows, ncols=cols, figsize=(ax_size * cols, ax_size * rows))
    axs = list(np.atleast_1d(axs).ravel())
    for spare in axs[n:]:
        spare.remove()
    return fig, axs[:n]


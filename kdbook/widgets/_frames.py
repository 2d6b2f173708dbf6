"""A figure-in-an-Output-widget that every notebook executor can run, and the helper that wires
sliders to a state function and a plot function (private).

Drawing the first frame with ``plt.show()`` inside ``with out:`` while a cell executes works
in JupyterLab, but nbval records the captured figure as an ordinary cell output (so stored and
fresh outputs never agree) and nbclient has crashed on it. So the first frame goes straight
into the Output widget's state as a PNG; later frames, drawn by callbacks in a live session,
use ``plt.show()`` inside the widget as usual.
"""
from __future__ import annotations

import base64
import io
from typing import Any, Callable, Mapping, Sequence

import ipywidgets as widgets
import matplotlib.pyplot as plt

__all__ = ["png_output", "figure_output", "explorer"]


def png_output(fig: plt.Figure) -> dict:
    """The figure as a stored ``display_data`` output (and close the figure)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    data = {"image/png": base64.b64encode(buf.getvalue()).decode("ascii"), "text/plain": repr(fig)}
    return {"output_type": "display_data", "data": data, "metadata": {}}


def figure_output(draw: Callable[[], plt.Figure]) -> tuple[widgets.Output, Callable[..., None]]:
    """Return ``(out, redraw)``: an Output widget showing ``draw()``'s figure, and a callback.

    ``redraw`` (usable directly as an ``observe`` handler) clears the widget and draws a new
    frame with ``plt.show()``.
    """
    out = widgets.Output()

    def redraw(change=None) -> None:
        with out:
            out.clear_output(wait=True)
            draw()
            plt.show()

    out.outputs = (png_output(draw()),)
    return out, redraw


def explorer(
    controls: Mapping[str, widgets.ValueWidget],
    state: Callable[..., Any],
    plot: Callable[[Any], Any],
    *,
    rows: Sequence[widgets.Widget] | None = None,
) -> widgets.VBox:
    """Wire ``controls`` to a state function and a plot function: an explorer in a few lines.

    Each frame is ``plot(state(**{name: control.value}))``, whose ``.fig`` is shown (the
    ``kdbook.plotting`` result type); every control redraws it when its value changes.

    Parameters
    ----------
    controls : mapping of str to ipywidgets value widgets
        Keyword name of the state function -> the slider (or menu) that sets it.
    state : callable
        Plain-numpy state function (``kdbook.states``), called with the controls' values.
    plot : callable
        Draws a state and returns a ``kdbook.plotting`` result.
    rows : sequence of widgets, optional
        What to show above the figure; default the controls, one per row.

    Returns
    -------
    ipywidgets.VBox
        ``rows`` (or the controls) followed by the output area.
    """

    def frame() -> plt.Figure:
        return plot(state(**{name: c.value for name, c in controls.items()})).fig

    out, redraw = figure_output(frame)
    for control in controls.values():
        control.observe(redraw, "value")
    return widgets.VBox([*(controls.values() if rows is None else rows), out])

"""The training progress bar of ``kdbook.train.train`` (chapter 5) and of custom loops.

ipywidgets is imported only when a bar is drawn, so ``kdbook.train`` stays free of widgets.
"""
from __future__ import annotations

from IPython.display import display

__all__ = ["TrainingProgress"]


def _view_bundle(widget) -> dict:
    """The widget's display bundle: ipywidgets 8's ``_repr_mimebundle_``, or the same view for
    ipywidgets 7.7 (Colab's), which draws widgets through ``_ipython_display_`` instead."""
    if hasattr(widget, "_repr_mimebundle_"):
        return widget._repr_mimebundle_()
    return {"application/vnd.jupyter.widget-view+json": {"version_major": 2, "version_minor": 0,
                                                          "model_id": widget.model_id}}


class TrainingProgress:
    """An ipywidgets bar that fills while training and turns green when done, followed by a line
    of text ("training: 400 of 400 epochs done") when training ends.

    The bar is displayed with an empty text fallback, so a saved notebook opened where widgets
    do not render shows only the summary of the finished run, not a bar stuck at its first
    state. (A display update replacing the bar would be stored by nbclient but not seen by
    nbval, so the two would never agree.) With ``show=False`` every method does nothing.

    Parameters
    ----------
    total : int
        Number of epochs (steps of the bar).
    show : bool
        Whether to display the bar at all.
    """

    def __init__(self, total: int, show: bool):
        self.bar = None
        if show:
            import ipywidgets

            self.bar = ipywidgets.IntProgress(value=0, min=0, max=total, description="training")
            display({**_view_bundle(self.bar), "text/plain": ""}, raw=True)

    def update(self, epoch: int) -> None:
        """Show ``epoch`` epochs done."""
        if self.bar is not None:
            self.bar.value = epoch

    def summary(self) -> str:
        """The line shown under the bar when training ends (or stops early)."""
        done, total = self.bar.value, self.bar.max
        if done == total:
            return f"training: {total} of {total} epochs done"
        return f"training stopped after {done} of {total} epochs"

    def close(self) -> None:
        """Colour the bar (green when complete, red when stopped early) and show the summary."""
        if self.bar is not None:
            self.bar.bar_style = "success" if self.bar.value == self.bar.max else "danger"
            display({"text/plain": self.summary()}, raw=True)

"""The chapter-8 explorer: slide over the training mix and the epochs of context distillation.

Introduced in chapter 8 (``notebooks/08_context_distillation.ipynb``, section 2). Every run is
precomputed by ``kdbook.lm.context_mix.mix_sweep``; each redraw looks up
``kdbook.lm.context_mix.mix_state`` (no training) and draws it with
``kdbook.plotting.context.plot_mix_state``. The widget only wires the controls.
"""
from __future__ import annotations

import ipywidgets as widgets

from ..lm.context_mix import MixSweep, mix_state
from ._frames import explorer

__all__ = ["context_mix_explorer"]


def context_mix_explorer(sweep: MixSweep, *, mix: float | None = None, epoch: int | None = None) -> widgets.VBox:
    """A slider over the share of keep rows in the training mix and one over the epochs.

    Returns
    -------
    ipywidgets.VBox
        ``children[0]`` holds the two sliders, ``children[1]`` the output area.
    """
    if not isinstance(sweep, MixSweep):
        raise TypeError(f"sweep must be a MixSweep (from kdbook.lm.context_mix.mix_sweep), got {type(sweep).__name__}")
    options = [(f"{m:.0%}", float(m)) for m in sweep.mixes]
    mix = float(sweep.mixes[0]) if mix is None else float(mix)
    epoch = int(sweep.epochs[-1]) if epoch is None else int(epoch)
    mix_state(sweep, mix, epoch)  # validates both before any control is built
    mix_slider = widgets.SelectionSlider(options=options, value=next(v for _, v in options if abs(v - mix) < 1e-9),
                                         description="keep rows", continuous_update=False)
    epoch_slider = widgets.IntSlider(value=epoch, min=0, max=int(sweep.epochs[-1]), description="epoch",
                                     continuous_update=False)

    from ..plotting.context import plot_mix_state

    controls = {"mix": mix_slider, "epoch": epoch_slider}
    return explorer(controls, lambda mix, epoch: mix_state(sweep, mix, epoch), plot_mix_state,
                    rows=[widgets.HBox([mix_slider, epoch_slider])])

"""The chapter-9 explorer: γ, the cost ratio c and the draft's objective.

Introduced in chapter 9 (``notebooks/09_speculative_decoding.ipynb``, section 5). Every run is
precomputed by ``kdbook.lm.spec_explorer.speculative_sweep``; each redraw looks up
``kdbook.lm.spec_explorer.speculative_state`` and draws it with
``kdbook.plotting.speculative.plot_speculative_state``. The widget only wires the controls.
"""
from __future__ import annotations

import ipywidgets as widgets

from ..lm.spec_explorer import SpeculativeSweep, speculative_state
from ._frames import explorer

__all__ = ["speculative_explorer"]


def speculative_explorer(sweep: SpeculativeSweep, *, name: str | None = None, gamma: int | None = None,
                         c: float = 0.1) -> widgets.VBox:
    """A menu of drafts, a slider over γ and one over c; the figure of the chosen setting below."""
    if not isinstance(sweep, SpeculativeSweep):
        raise TypeError(f"sweep must be a SpeculativeSweep (from speculative_sweep), got {type(sweep).__name__}")
    name = sweep.names[0] if name is None else name
    gamma = sweep.gammas[len(sweep.gammas) // 2] if gamma is None else gamma
    speculative_state(sweep, name, gamma, c)  # validates before any control is built
    menu = widgets.Dropdown(options=list(sweep.names), value=name, description="draft")
    g_slider = widgets.SelectionSlider(options=list(sweep.gammas), value=gamma, description="γ", continuous_update=False)
    c_slider = widgets.FloatSlider(value=c, min=0.0, max=0.5, step=0.01, description="cost ratio c",
                                   continuous_update=False)

    from ..plotting.speculative import plot_speculative_state

    controls = {"name": menu, "gamma": g_slider, "c": c_slider}
    return explorer(controls, lambda name, gamma, c: speculative_state(sweep, name, gamma, c), plot_speculative_state,
                    rows=[widgets.HBox([menu, g_slider, c_slider])])

"""The chapter-7 β explorer: slide β along a precomputed sweep of GKD students.

Introduced in chapter 7 (``notebooks/07_generation_and_on_policy_distillation.ipynb``). Each
redraw reads :func:`kdbook.lm.frontier.frontier_state` (no training: the sweep is computed once,
before the explorer) and draws :func:`plot_frontier_state`: the student's point on the
quality-coverage frontier, its next-token distribution after one prefix beside the teacher's,
and a few sentences it writes.
"""
from __future__ import annotations

import ipywidgets as widgets

from ..lm.frontier import BETA_OBJECTIVES, FrontierState, SweepResult, frontier_state
from ._frames import explorer

__all__ = ["plot_frontier_state", "frontier_explorer"]


def plot_frontier_state(state: FrontierState):
    """Draw a :class:`kdbook.lm.frontier.FrontierState`: the frontier with β ringed, the next-token bars, sentences.

    Returns a :class:`kdbook.plotting._result.Plot` whose artists are ``frontier`` and ``bars``
    (the two panels' plots) and ``sentences`` (the text artist). Introduced in chapter 7.
    """
    from ..plotting import new_axes, plot_distributions
    from ..plotting._result import Plot
    from ..plotting.generation import plot_frontier

    if not isinstance(state, FrontierState):
        raise TypeError(f"state must be a FrontierState (from kdbook.lm.frontier.frontier_state), got {type(state).__name__}")
    fig, (left, right) = new_axes(ncols=2, figsize=(10.0, 4.4))
    front = plot_frontier(state.points, path=state.path, highlight=state.label, ax=left,
                          xlabel="coverage (nats/token)", ylabel="quality (nats/token)",
                          title=f"{state.label}: quality vs coverage")
    bars = plot_distributions(state.next_token, class_labels=list(state.words), ax=right, annotations=None,
                              title="next token after the prefix")
    right.tick_params(axis="x", labelrotation=45)
    text = fig.text(0.01, -0.02, "the student writes:  " + "  |  ".join(s or "(empty)" for s in state.sentences),
                    fontsize=9, ha="left", va="top", wrap=True)
    return Plot(fig, (left, right), {"frontier": front, "bars": bars, "sentences": text})


def frontier_explorer(sweep: SweepResult, *, teacher, prefix: str, beta: float = 0.5,
                      betas: dict | None = None) -> widgets.VBox:
    """A β slider over a finished sweep, with the live three-part figure.

    Introduced in chapter 7. ``betas`` as in :func:`kdbook.lm.frontier.frontier_state`. Returns a
    VBox: ``children[0]`` the slider, ``children[1]`` the output area.
    """
    first = frontier_state(sweep, beta, teacher=teacher, prefix=prefix, betas=betas)  # validates up front
    options = sorted(betas or BETA_OBJECTIVES)
    slider = widgets.SelectionSlider(options=options, value=first.beta, description="β (GKD)",
                                     continuous_update=False, style={"description_width": "initial"},
                                     layout=widgets.Layout(width="60%"))
    return explorer({"beta": slider},
                    lambda beta: frontier_state(sweep, beta, teacher=teacher, prefix=prefix, betas=betas),
                    plot_frontier_state)

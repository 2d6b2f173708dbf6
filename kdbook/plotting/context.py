"""Figures of chapter 8 (context distillation): the training-mix explorer's frame.

Introduced in chapter 8 (``notebooks/08_context_distillation.ipynb``). Every function returns a
:class:`kdbook.plotting._result.Plot`.
"""
from __future__ import annotations

import numpy as np

from ._result import Plot
from ._style import PALETTE, ROLE_COLORS, new_axes

__all__ = ["plot_mix_state"]


def _bars(ax, state, p, q, names, title):
    x = np.arange(len(state.shown))
    out = {}
    for i, (name, dist, color) in enumerate(((names[0], p, ROLE_COLORS["teacher"]),
                                             (names[1], q, ROLE_COLORS["student"]))):
        out[name] = ax.bar(x - 0.2 + 0.4 * i, dist[state.shown], width=0.38, color=color, label=name, zorder=2)
    ax.set_xticks(x, state.labels, rotation=35, ha="right")
    ax.set(ylim=(0, 1.0), ylabel="probability", title=title)
    ax.grid(axis="x", visible=False)
    ax.legend(loc="upper right", fontsize=8)
    return out


def plot_mix_state(state) -> Plot:
    """Three panels for one mix and epoch: prompted bars, unprompted bars, and the two held-out curves.

    Draws a :class:`kdbook.lm.context_mix.MixState`: left, the model under the full prompt c
    against the student under the short prompt c′ after the prefix; middle, the model and the
    student without a prompt; right, held-out KL to the prompted teacher and KL to the unprompted
    model against the epoch, the current one marked. The student's sentences under c′ are
    written below. Introduced in chapter 8.

    Returns
    -------
    Plot
        ``artists["prompted"]`` and ``artists["unprompted"]`` map the two series names to
        BarContainers; ``artists["curves"]`` maps "KL to teacher" and "KL unprompted" to Line2D;
        ``artists["marker"]`` is the vertical line at the current epoch.
    """
    from ..lm.context_mix import MixState

    if not isinstance(state, MixState):
        raise TypeError(f"state must be a MixState (from kdbook.lm.context_mix.mix_state), got {type(state).__name__}")
    fig, axes = new_axes(ncols=3, figsize=(13.0, 3.9))
    pre = f"“{state.prefix}”"
    prompted = _bars(axes[0], state, state.teacher, state.student_prompted, ("model, full prompt c", "student, short c′"),
                     f"after {pre}, prompted\nKL(teacher‖student) here {state.kl_here_prompted:.3f} nats")
    unprompted = _bars(axes[1], state, state.original, state.student_unprompted, ("model, no prompt", "student, no prompt"),
                       f"after {pre}, no prompt\nKL(model‖student) here {state.kl_here_unprompted:.3f} nats")
    ax = axes[2]
    curves = {
        "KL to teacher": ax.plot(state.epochs, state.kl_to_teacher, marker="o", color=PALETTE[0], label="KL to prompted teacher")[0],
        "KL unprompted": ax.plot(state.epochs, state.kl_unprompted, marker="s", color=PALETTE[4], label="KL to unprompted model")[0],
    }
    marker = ax.axvline(state.epoch, color="0.4", linestyle="--", linewidth=1)
    ax.set(xlabel="epoch", ylabel="nats per response token (held out)",
           title=f"keep rows: {state.mix:.0%} of the training rows")
    ax.set_ylim(0, max(0.05, float(np.max([state.kl_to_teacher, state.kl_unprompted])) * 1.1))
    ax.legend(fontsize=8)
    text = "student under c′ writes:  " + "  ·  ".join(f"“{s}”" for s in state.samples)
    fig.suptitle(text, fontsize=9, y=-0.02, va="top")
    return Plot(fig, tuple(axes), {"prompted": prompted, "unprompted": unprompted, "curves": curves, "marker": marker})

"""Figures of chapter 9: acceptance by position, drafts compared, speed-up against γ, a verified sentence.

Introduced in chapter 9 (``notebooks/09_speculative_decoding.ipynb``). Every function draws into
an optional ``ax`` in kdbook's style and returns a :class:`kdbook.plotting._result.Plot`.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike

from .. import _validate as v
from ..lm.speculative import modelled_speedup
from ._result import Plot
from ._style import PALETTE, new_axes

__all__ = ["plot_position_acceptance", "plot_draft_acceptance", "plot_speedup", "plot_verified_sentence",
           "plot_speculative_state"]


def plot_position_acceptance(measured: ArrayLike, exact: ArrayLike, se: ArrayLike | None = None, *,
                             title: str | None = None, ax=None) -> Plot:
    """Measured acceptance per sentence position (± 2 SE) against the exact Σ min(p, q) there.

    Examples
    --------
    >>> from kdbook.plotting.speculative import plot_position_acceptance
    >>> sorted(plot_position_acceptance([0.8, 0.9], [0.81, 0.88]).artists)
    ['exact', 'measured']
    """
    m, e = v.as_float_array(measured, "measured"), v.as_float_array(exact, "exact")
    if m.shape != e.shape or m.ndim != 1:
        raise ValueError(f"measured and exact must be 1-D arrays of one length, got {m.shape} and {e.shape}")
    fig, ax = new_axes(ax)
    x = np.arange(1, m.size + 1)
    (ex,) = ax.plot(x, e, color=PALETTE[0], marker="s", ms=5, label="exact: mean of Σ min(p, q)")
    s = np.zeros_like(m) if se is None else v.as_float_array(se, "se")
    meas = ax.errorbar(x, m, yerr=2 * s, color=PALETTE[1], marker="o", ms=4, ls="none", capsize=3,
                       label="measured: accepted / drafted (± 2 SE)")
    ax.set_xlabel("position in the sentence (1 = first word)")
    ax.set_ylabel("acceptance rate")
    ax.set_ylim(0, 1.02)
    if title:
        ax.set_title(title)
    ax.legend(loc="lower right")
    return Plot(fig, (ax,), {"exact": ex, "measured": meas})


def plot_draft_acceptance(labels: Sequence[str], means: Mapping[str, ArrayLike], sds: Mapping[str, ArrayLike] | None = None,
                          *, ylabel: str = "acceptance rate", title: str | None = None, ax=None) -> Plot:
    """Grouped bars: one group per draft (``labels``), one bar per decoding mode (keys of ``means``).

    ``means[mode]`` and ``sds[mode]`` hold one value per label (mean and SD over seeds).
    """
    if not labels or not means:
        raise ValueError("labels and means must be non-empty")
    fig, ax = new_axes(ax, figsize=(8, 3.6))
    n, k = len(labels), len(means)
    width = 0.8 / k
    bars = {}
    lo = 1.0
    for i, (mode, vals) in enumerate(means.items()):
        y = v.as_float_array(vals, f"means[{mode!r}]")
        if y.shape != (n,):
            raise ValueError(f"means[{mode!r}] must have one value per label ({n}), got shape {y.shape}")
        err = None if sds is None else 2 * v.as_float_array(sds[mode], f"sds[{mode!r}]")
        bars[mode] = ax.bar(np.arange(n) + (i - (k - 1) / 2) * width, y, width, yerr=err, capsize=2,
                            color=PALETTE[i % len(PALETTE)], label=mode)
        lo = min(lo, float(y.min()))
    ax.set_xticks(np.arange(n), labels, rotation=20, ha="right")
    ax.set_ylim(max(0.0, lo - 0.08), 1.0)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend(ncols=k, loc="upper left", fontsize="small")
    return Plot(fig, (ax,), {"bars": bars})


def plot_speedup(alphas: Sequence[float], cs: Sequence[float], *, max_gamma: int = 12, measured=None,
                 title: str | None = None, ax=None) -> Plot:
    """Modelled speed-up against γ (Leviathan et al.), one line per (α, c), its optimum marked.

    ``measured``: optional ``(gammas, speedups)`` points to overlay (e.g. measured tokens per call
    divided by γc + 1).

    Examples
    --------
    >>> from kdbook.plotting.speculative import plot_speedup
    >>> sorted(plot_speedup([0.8], [0.1]).artists["lines"])
    ['α=0.8, c=0.1']
    """
    g = np.arange(v.check_int(max_gamma, "max_gamma", minimum=1) + 1)
    fig, ax = new_axes(ax)
    lines = {}
    i = 0
    for a in alphas:
        for c in cs:
            s = modelled_speedup(a, g, c)
            label = f"α={a:g}, c={c:g}"
            (lines[label],) = ax.plot(g, s, color=PALETTE[i % len(PALETTE)], marker="o", ms=3, label=label)
            best = int(np.argmax(s))
            ax.plot([g[best]], [s[best]], marker="*", ms=12, color=PALETTE[i % len(PALETTE)])
            i += 1
    if measured is not None:
        mg, ms = measured
        ax.plot(mg, ms, ls="none", marker="x", ms=9, color="black", label="measured")
    ax.axhline(1.0, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("γ (drafted tokens per round)")
    ax.set_ylabel("speed-up over plain sampling")
    if title:
        ax.set_title(title)
    ax.legend(fontsize="small")
    return Plot(fig, (ax,), {"lines": lines})


def plot_verified_sentence(words: Sequence[str], kinds: Sequence[str], *, title: str | None = None, ax=None) -> Plot:
    """One sentence as coloured word boxes: ``kinds[i]`` is "accepted", "resampled" or "bonus".

    Accepted drafts are green (#009E73), tokens drawn from the residual after a rejection red
    (vermillion, #D55E00), tokens the target drew itself (bonus, or no draft) blue (#0072B2).
    """
    if len(words) != len(kinds):
        raise ValueError(f"words and kinds must have one length, got {len(words)} and {len(kinds)}")
    colors = {"accepted": PALETTE[7], "resampled": PALETTE[4], "bonus": PALETTE[0]}  # green, vermillion, blue
    for k in kinds:
        if k not in colors:
            raise ValueError(f"kinds must be 'accepted', 'resampled' or 'bonus', got {k!r}")
    fig, ax = new_axes(ax, figsize=(8, 1.3))
    ax.set_axis_off()
    x, texts = 0.0, []
    for w, k in zip(words, kinds):
        texts.append(ax.text(x, 0.5, w, color="white", fontsize=11, va="center",
                             bbox={"facecolor": colors[k], "edgecolor": "none", "boxstyle": "round,pad=0.3"}))
        x += 0.012 * (len(w) + 2)
    ax.set_xlim(-0.02, max(1.0, x))
    ax.set_ylim(0, 1)
    ax.set_title(title or "green: accepted draft   red: drawn from the residual   blue: drawn by the target",
                 fontsize="small")
    return Plot(fig, (ax,), {"words": texts})


def plot_speculative_state(state) -> Plot:
    """One explorer frame (``kdbook.lm.spec_explorer.SpeculativeState``): speed-up against γ and a verified sentence."""
    import matplotlib.pyplot as plt

    from ._style import style

    with style():
        fig, (ax, ax2) = plt.subplots(2, 1, figsize=(8, 4.6), height_ratios=[3, 1], layout="constrained")
    (line,) = ax.plot(state.gammas, state.modelled, color=PALETTE[0], marker="o", ms=3,
                      label=f"modelled, α = {state.alpha:.3f}, c = {state.c:g}")
    ax.plot([state.best_gamma], [state.modelled[state.best_gamma]], marker="*", ms=12, color=PALETTE[0])
    ax.plot(state.measured_gammas, state.measured, ls="none", marker="x", ms=9, color="black",
            label="measured tokens per call / (γc + 1)")
    sel = list(state.measured_gammas).index(state.gamma)
    ax.plot([state.gamma], [state.measured[sel]], marker="o", ms=12, mfc="none", color=PALETTE[5],
            label=f"γ = {state.gamma}: measured {state.measured[sel]:.2f}")
    ax.axhline(1.0, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("γ")
    ax.set_ylabel("speed-up")
    ax.set_title(f"draft: {state.name}")
    ax.legend(fontsize="small")
    plot_verified_sentence(state.words, state.kinds, ax=ax2)
    return Plot(fig, (ax, ax2), {"modelled": line})

"""Figures of the language-model chapters: next-token distributions, storage trade-offs, one position.

Introduced in chapter 6 (``notebooks/06_distilling_a_language_model.ipynb``). Every function
returns a :class:`kdbook.plotting._result.Plot` (``fig``, ``axes``, named ``artists``).
"""
from __future__ import annotations

import math

import matplotlib.ticker
from typing import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike

from .. import _validate as v
from ..lm.next_token import prefix_label
from ._result import Plot
from ._style import PALETTE, ROLE_COLORS, new_axes, panel_axes

__all__ = ["plot_next_token_panels", "plot_storage_tradeoff", "plot_next_token_state", "ZERO_KL"]

#: KL values at or below this are rounding noise of an exact reconstruction, drawn as 0.
ZERO_KL = 1e-12


def plot_next_token_panels(panels: Mapping[str, ArrayLike], words: Sequence[str], *, top: int = 8,
                           ax_size: float = 3.2) -> Plot:
    """One horizontal bar chart per prefix: its ``top`` most probable next tokens.

    Introduced in chapter 6. ``panels`` maps a prefix (the panel's title) to its next-token
    distribution over ``words``.

    Returns
    -------
    Plot
        ``artists["bars"][prefix]`` is that panel's BarContainer (most probable token on top).

    Examples
    --------
    >>> out = plot_next_token_panels({"<s> the": [0.7, 0.2, 0.1]}, ["dog", "cat", "</s>"], top=2)
    >>> [round(float(b.get_width()), 2) for b in out.artists["bars"]["<s> the"]]
    [0.7, 0.2]
    """
    if not isinstance(panels, Mapping) or not panels:
        raise TypeError("panels must be a non-empty dict mapping a prefix to its next-token distribution")
    words = [str(w) for w in words]
    n_top = v.check_int(top, "top", minimum=1)
    dists = {}
    for name, p in panels.items():
        arr = v.as_float_array(p, f"panels[{name!r}]")
        if arr.shape != (len(words),):
            raise ValueError(f"panels[{name!r}] must have one probability per word ({len(words)}), got shape {arr.shape}")
        v.check_probabilities(arr, f"panels[{name!r}]", -1)
        dists[str(name)] = arr
    fig, axes = panel_axes(len(dists), ax_size)
    bars = {}
    for ax, (name, p) in zip(axes, dists.items()):
        idx = np.argsort(-p, kind="stable")[:n_top]
        bars[name] = ax.barh(np.arange(len(idx))[::-1], p[idx], color=ROLE_COLORS["teacher"], zorder=2)
        ax.set_yticks(np.arange(len(idx))[::-1], [words[i] for i in idx])
        ax.set(xlim=(0, 1), xlabel="probability", title=name)
        ax.grid(axis="y", visible=False)
        for rect, value in zip(bars[name], p[idx]):
            ax.annotate(f"{value:.2f}", (rect.get_width(), rect.get_y() + rect.get_height() / 2), xytext=(3, 0),
                        textcoords="offset points", va="center", fontsize=8)
    return Plot(fig, tuple(axes), {"bars": bars})


def plot_storage_tradeoff(bytes_per_position: Mapping[str, ArrayLike], kl: Mapping[str, ArrayLike],
                          k_labels: Sequence[str], *, ylabel: str = "KL(full teacher ‖ stored teacher), nats/token",
                          title: str | None = None, ax=None) -> Plot:
    """KL to the full teacher against bytes stored per position, one line per storage scheme.

    Introduced in chapter 6. Each point is labelled with its k. An infinite KL is drawn as a
    triangle on the top edge marked "∞"; a KL of 0 (up to rounding: at most ``ZERO_KL``), as for
    the full teacher, on the bottom edge.

    Returns
    -------
    Plot
        ``artists["lines"][scheme]`` the finite points' Line2D, ``artists["infinite"][scheme]``
        the markers of infinite values (or None).

    Examples
    --------
    >>> out = plot_storage_tradeoff({"bucket": [6, 22, 102]}, {"bucket": [0.3, 0.01, 0.0]}, ["1", "5", "all"])
    >>> out.ax.get_xscale(), list(out.artists["lines"])
    ('log', ['bucket'])
    """
    if not isinstance(bytes_per_position, Mapping) or set(bytes_per_position) != set(kl) or not kl:
        raise ValueError("bytes_per_position and kl must be dicts with the same schemes as keys")
    labels = [str(s) for s in k_labels]
    series = {}
    for name in kl:
        b = v.as_float_array(bytes_per_position[name], f"bytes_per_position[{name!r}]")
        d = v.as_float_array(kl[name], f"kl[{name!r}]")
        if b.shape != d.shape or b.shape != (len(labels),):
            raise ValueError(f"bytes_per_position[{name!r}] and kl[{name!r}] need one value per k ({len(labels)})")
        if (b <= 0).any() or np.isnan(d).any() or (d < 0).any():
            raise ValueError(f"scheme {name!r}: bytes must be > 0 and KL values >= 0 (inf allowed)")
        series[name] = (b, d)
    finite = np.concatenate([d[np.isfinite(d) & (d > ZERO_KL)] for _, d in series.values()])
    lo = 10 ** math.floor(np.log10(finite.min())) / 10 if finite.size else 1e-3
    hi = 10 ** math.ceil(np.log10(finite.max())) * 10 if finite.size else 1.0
    fig, ax = new_axes(ax, figsize=(6.4, 4.0))
    lines, infinite = {}, {}
    for i, (name, (b, d)) in enumerate(series.items()):
        color = PALETTE[(i + 1) % len(PALETTE)]
        shown = np.where(np.isfinite(d), np.where(d > ZERO_KL, d, lo), np.nan)
        (lines[name],) = ax.plot(b, shown, marker="o", color=color, label=name, linewidth=2, zorder=3)
        inf = ~np.isfinite(d)
        infinite[name] = ax.plot(b[inf], np.full(inf.sum(), hi), marker="^", linestyle="none", color=color,
                                 markersize=9, clip_on=False, zorder=4)[0] if inf.any() else None
        for x, y, lab, is_inf in zip(b, np.where(inf, hi, np.where(d > ZERO_KL, d, lo)), labels, inf):
            ax.annotate(f"k={lab}" + (" (∞)" if is_inf else ""), (x, y), xytext=(4, -12 if is_inf else 5 + 9 * i),
                        textcoords="offset points", fontsize=8, color=color)
    ax.set(xscale="log", yscale="log", ylim=(lo, hi), xlabel="bytes stored per position", ylabel=ylabel)
    # the top edge stands for ∞ and the bottom edge for 0: say so on the axis
    ticks = 10.0 ** np.arange(round(np.log10(lo)), round(np.log10(hi)) + 1)
    labels = [f"$10^{{{int(round(np.log10(t)))}}}$" for t in ticks]
    labels[-1] = "∞"
    if any(((d <= ZERO_KL) & np.isfinite(d)).any() for _, d in series.values()):
        labels[0] = "0"
    ax.set_yticks(ticks, labels)
    ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    if title:
        ax.set_title(title)
    ax.legend(loc="lower left")
    return Plot(fig, (ax,), {"lines": lines, "infinite": infinite})


def plot_next_token_state(state, *, ax=None) -> Plot:
    """Bars of the teacher, the stored (top-k) teacher and the student at one position, with the KLs.

    Draws a :class:`kdbook.lm.next_token.NextTokenState`. Introduced in chapter 6.

    Returns
    -------
    Plot
        ``artists["bars"]`` maps "teacher", "stored teacher" and "student" to BarContainers.

    Examples
    --------
    >>> import numpy as np
    >>> from kdbook.lm.next_token import next_token_state
    >>> s = next_token_state(np.log([0.6, 0.3, 0.1]), np.zeros(3), words=["a", "b", "c"], k=2)
    >>> out = plot_next_token_state(s)
    >>> [round(float(b.get_height()), 3) for b in out.artists["bars"]["stored teacher"]]
    [0.667, 0.333, 0.0]
    """
    from ..lm.next_token import NextTokenState

    if not isinstance(state, NextTokenState):
        raise TypeError(f"state must be a NextTokenState (from kdbook.lm.next_token.next_token_state), got {type(state).__name__}")
    fig, ax = new_axes(ax, figsize=(8.0, 3.6))
    x = np.arange(len(state.shown))
    series = {"teacher": (state.teacher, ROLE_COLORS["teacher"]),
              "stored teacher": (state.stored, PALETTE[3]),
              "student": (state.student, ROLE_COLORS["student"])}
    bars = {}
    for i, (name, (p, color)) in enumerate(series.items()):
        bars[name] = ax.bar(x - 0.3 + 0.3 * i, p[state.shown], width=0.28, color=color, label=name, zorder=2)
    kept = "all" if state.k is None else f"top {state.k}, {state.rest}"
    rev = "∞" if not np.isfinite(state.reverse_kl_stored) else f"{state.reverse_kl_stored:.3f}"
    ax.set_xticks(x, state.labels, rotation=30, ha="right")
    ax.set(ylim=(0, 1.05), ylabel="probability",
           title=f"after {prefix_label(state.prefix)} · T = {state.T:g} · teacher kept: {kept}\n"
                 f"KL(teacher‖student) {state.kl_full:.3f} · KL(stored‖student) {state.kl_stored:.3f} · "
                 f"KL(student‖stored) {rev} nats")
    ax.grid(axis="x", visible=False)
    ax.legend(loc="upper right", ncols=3)
    return Plot(fig, (ax,), {"bars": bars})

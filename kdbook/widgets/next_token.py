"""The chapter-6 next-token explorer: pick a prefix, move T and k, compare teacher and student.

Introduced in chapter 6 (``notebooks/06_distilling_a_language_model.ipynb``, section 5). The
logits of every prefix are computed once; each redraw calls the plain function
``kdbook.lm.next_token.next_token_state`` (well under a millisecond) and draws it with
``kdbook.plotting.language.plot_next_token_state``; the controls are wired by the shared
``_frames.explorer``.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import ipywidgets as widgets
import numpy as np
from numpy.typing import ArrayLike

from .. import _validate as v
from ..lm.next_token import next_token_state, prefix_label
from ..plotting.language import plot_next_token_state
from ..lm.topk import RESTS
from ._frames import explorer

__all__ = ["next_token_explorer", "K_CHOICES"]

#: The k values on the explorer's slider ("all" keeps the full teacher).
K_CHOICES = ("1", "2", "3", "5", "10", "20", "all")


def next_token_explorer(teacher_logits: Mapping[str, ArrayLike], student_logits: Mapping[str, ArrayLike], *,
                        words: Sequence[str], T: float = 1.0, k: str = "all", rest: str = "renormalise",
                        top: int = 10) -> widgets.VBox:
    """A prefix menu, a T slider, a k slider and a rest-mass toggle over precomputed logits.

    Introduced in chapter 6. ``teacher_logits`` and ``student_logits`` map each prefix (its text)
    to that position's next-token logits, shape (V,).

    Returns
    -------
    ipywidgets.VBox
        ``children[0]`` holds the controls (prefix, T, k, rest), ``children[1]`` the output area.
    """
    if not isinstance(teacher_logits, Mapping) or not teacher_logits or set(teacher_logits) != set(student_logits):
        raise ValueError("teacher_logits and student_logits must be dicts with the same prefixes as keys")
    if str(k) not in K_CHOICES:
        raise ValueError(f"k must be one of {', '.join(K_CHOICES)}, got {k!r}")
    prefixes = list(teacher_logits)
    tl = {p: np.asarray(teacher_logits[p], dtype=float) for p in prefixes}
    sl = {p: np.asarray(student_logits[p], dtype=float) for p in prefixes}
    words = tuple(words)
    T = v.check_positive(T, "T")
    for p in prefixes:  # validates every entry before any control is built
        next_token_state(tl[p], sl[p], words=words, T=T, k=None, rest=rest, top=top, prefix=p)
    if not 0.25 <= T <= 4.0:
        raise ValueError(f"T must be within the slider's range [0.25, 4], got {T}")
    prefix = widgets.Dropdown(options=[(prefix_label(p), p) for p in prefixes], value=prefixes[0], description="prefix")
    t_slider = widgets.FloatLogSlider(value=T, base=2, min=-2, max=2, step=0.25, description="T",
                                      continuous_update=False)
    k_slider = widgets.SelectionSlider(options=K_CHOICES, value=str(k), description="k kept", continuous_update=False)
    rest_toggle = widgets.ToggleButtons(options=RESTS, value=rest, description="rest mass")

    def state(prefix: str, T: float, k: str, rest: str):
        return next_token_state(tl[prefix], sl[prefix], words=words, T=T, k=None if k == "all" else int(k),
                                rest=rest, top=top, prefix=prefix)

    controls = {"prefix": prefix, "T": t_slider, "k": k_slider, "rest": rest_toggle}
    rows = [widgets.VBox([widgets.HBox([prefix, t_slider]), widgets.HBox([k_slider, rest_toggle])])]
    return explorer(controls, state, plot_next_token_state, rows=rows)

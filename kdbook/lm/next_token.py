"""One position of a language model, teacher against student: the computation behind chapter 6's explorer.

Introduced in chapter 6 (``notebooks/06_distilling_a_language_model.ipynb``, section 5). For a
prefix, :func:`next_token_state` takes the teacher's and the student's next-token logits, a
temperature T and the number k of teacher outputs kept (``kdbook.lm.topk``), and returns the three
distributions and this position's KLs. It is a plain numpy function (well under a millisecond);
``kdbook.plotting.plot_next_token_state`` draws it and ``kdbook.widgets.next_token_explorer``
wires sliders to the two.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from numpy.typing import ArrayLike

from .. import _validate as v
from ..divergences import kl_divergence
from .topk import tempered, top_k_logprobs

__all__ = ["NextTokenState", "next_token_state", "prefix_label"]

#: How an empty prefix (the first word of a sentence) is named in the menu and the title.
START_LABEL = "the start of a sentence"


def prefix_label(prefix: str) -> str:
    """The prefix as the explorer names it: quoted text, or :data:`START_LABEL` when it is empty.

    >>> prefix_label("the cat"), prefix_label("")
    ('“the cat”', 'the start of a sentence')
    """
    prefix = str(prefix).strip()
    return f"“{prefix}”" if prefix else START_LABEL


@dataclass
class NextTokenState:
    """Everything the explorer shows for one prefix, temperature and k."""

    prefix: str
    T: float
    k: int | None  # None: the full teacher
    rest: str  # "renormalise" or "bucket"
    shown: np.ndarray  # ids of the tokens on the bars (the teacher's most probable first)
    labels: tuple[str, ...]  # their words
    teacher: np.ndarray  # (V,) softmax(v / T), the full teacher
    stored: np.ndarray  # (V,) the teacher rebuilt from its top k, at T
    student: np.ndarray  # (V,) softmax(z / T)
    kl_full: float  # KL(teacher_T ‖ student_T)
    kl_stored: float  # KL(stored_T ‖ student_T): what a student trained on the stored teacher sees
    reverse_kl_stored: float  # KL(student_T ‖ stored_T): +inf when stored drops a token the student uses


def next_token_state(teacher_logits: ArrayLike, student_logits: ArrayLike, *, words: Sequence[str], T: float = 1.0,
                     k: int | None = None, rest: str = "renormalise", top: int = 10, prefix: str = "") -> NextTokenState:
    r"""Teacher, stored teacher and student at one position, at temperature T, and their KLs.

    .. math:: p_T = \mathrm{softmax}(v/T),\quad \tilde p_T = \mathrm{softmax}(\tilde v/T),\quad
              q_T = \mathrm{softmax}(z/T)

    with ṽ the teacher's log-probabilities rebuilt from its top k (``kdbook.lm.topk.top_k_logprobs``).
    Introduced in chapter 6.

    Parameters
    ----------
    teacher_logits, student_logits : array_like, shape (V,)
        Next-token logits (or log-probabilities) at the prefix.
    words : sequence of str
        The V token names.
    T : float
        Temperature, > 0.
    k : int or None
        Teacher outputs kept; None keeps all.
    rest : {"renormalise", "bucket"}
        How the mass outside the top k is rebuilt.
    top : int
        Number of tokens on the bars (the teacher's most probable).
    prefix : str
        The prefix, for the figure's title.

    Examples
    --------
    >>> import numpy as np
    >>> s = next_token_state(np.log([0.6, 0.3, 0.1]), np.zeros(3), words=["a", "b", "c"], k=2)
    >>> s.labels, round(s.kl_full, 4), s.reverse_kl_stored
    (('a', 'b', 'c'), 0.2007, inf)
    """
    vt = v.as_float_array(teacher_logits, "teacher_logits")
    zs = v.as_float_array(student_logits, "student_logits")
    for arr, name in ((vt, "teacher_logits"), (zs, "student_logits")):
        if arr.ndim != 1:
            raise ValueError(f"{name} must be 1-D (one position's logits), got shape {arr.shape}")
        v.check_logits(arr, name)
    if vt.shape != zs.shape:
        raise ValueError(f"teacher_logits and student_logits must have the same length, got {vt.size} and {zs.size}")
    words = tuple(words)
    if len(words) != vt.size:
        raise ValueError(f"words must name the {vt.size} tokens, got {len(words)}")
    T = v.check_positive(T, "T")
    n_top = v.check_int(top, "top", minimum=1)
    p = tempered(top_k_logprobs(vt, None), T)
    stored = tempered(top_k_logprobs(vt, k, rest=rest), T)
    q = tempered(zs, T)
    shown = np.argsort(-p, kind="stable")[:n_top]
    return NextTokenState(
        prefix=str(prefix), T=T, k=None if k is None or k >= vt.size else int(k), rest=rest, shown=shown,
        labels=tuple(words[i] for i in shown), teacher=p, stored=stored, student=q,
        kl_full=float(kl_divergence(p, q)), kl_stored=float(kl_divergence(stored, q)),
        reverse_kl_stored=float(kl_divergence(q, stored)),
    )

"""Where a position sits in the toy language's grammar: the automaton phase before each token.

Introduced in chapter 6 (``notebooks/06_distilling_a_language_model.ipynb``, section 3), to split
a student's token-level KL by where it arises (after the subject, inside an object noun phrase,
after "and", at the length cap, ...).
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ._grammar import PHASE_NAMES as _NAMES

__all__ = ["PHASES", "position_phases"]

#: Phase names by index; the last one, "length cap", marks positions after max_len words.
PHASES = (*_NAMES, "length cap")


def position_phases(lang, inputs: ArrayLike) -> np.ndarray:
    """(B, L) index into :data:`PHASES` of the grammar phase in which each next token is predicted.

    Entry [b, t] describes the prefix ``inputs[b, :t+1]``: the automaton's phase after it, or
    "length cap" once ``lang.max_len`` words are written. Positions with nothing to predict
    (prompt, padding, ended) get -1.

    Examples
    --------
    >>> from kdbook.lm import ToyLanguage
    >>> lang = ToyLanguage()
    >>> b = lang.batch(["the dog sleeps"])
    >>> [PHASES[i] for i in position_phases(lang, b.inputs)[0]]
    ['start', 'subject', 'after subject', 'after verb phrase']
    """
    X = lang.check_input(inputs)
    out = np.full(X.shape, -1, dtype=np.intp)
    for t, state, n_words, defined in lang._states(X):
        ph = np.where(n_words >= lang.max_len, len(PHASES) - 1, lang.tables.phase[state])
        out[:, t] = np.where(defined, ph, -1)
    return out

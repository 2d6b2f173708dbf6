"""The capacity floor of a window-2 student: the best any model that sees two tokens can do.

Introduced in chapter 6 (``notebooks/06_distilling_a_language_model.ipynb``, section 3). A model
that sees only the window w = (last two tokens) minimises the expected token-level forward KL
E[Σ_t KL(p(·|y_<t) ‖ q(·|w_t))] with the *conditional mean* of the teacher's next-token
distributions over all prefixes that end in that window, weighted by how often the teacher
reaches them (its occupancy):

.. math:: q^*(\\cdot \\mid w) = \\frac{\\sum_{h:\\, w(h) = w} \\pi(h)\\, p(\\cdot \\mid h)}{\\sum_{h:\\, w(h) = w} \\pi(h)}.

For the toy language the occupancy π follows exactly from a forward pass over (words written,
automaton state, last two tokens), so the floor is exact (up to the length cap's 1e-9 tail).
"""
from __future__ import annotations

import numpy as np

__all__ = ["window2_floor"]


def window2_floor(lang) -> tuple[np.ndarray, float]:
    """The best window-2 next-token table q*[a, b, :] and its token-level KL per token (nats).

    ``q*[a, b]`` is the conditional-mean distribution after the input tokens (a, b) (``<pad>``
    before the row, as :class:`kdbook.lm.WindowLM` reads it); windows the teacher never reaches
    are uniform. The floor is Σ π·KL(p ‖ q*) / Σ π over every position of every sentence, the
    expectation of the per-token KL that chapter 6 measures on teacher samples. Unprompted
    language only. Introduced in chapter 6.
    """
    tab, vocab = lang.tables, lang.vocab
    V, T = vocab.n_classes, vocab.n_tokens
    n_states = tab.trans.shape[0]
    p_all = np.exp(tab.logp[0])  # (states, V)
    plogp_all = (p_all * tab.logp[0]).sum(axis=1)
    cap_p = np.exp(tab.cap_logp)
    cap_plogp = float((cap_p * tab.cap_logp).sum())
    occ = np.zeros((n_states, T, T))  # occupancy of (state, a, b) after n words
    occ[tab.start, vocab.pad, vocab.bos] = 1.0
    S1 = np.zeros((T, T, V))
    S0 = np.zeros((T, T))
    neg_h = 0.0
    for n in range(lang.max_len + 1):
        if n == lang.max_len:
            p, plogp = np.broadcast_to(cap_p, p_all.shape), np.full(n_states, cap_plogp)
        else:
            p, plogp = p_all, plogp_all
        w_occ = occ.sum(axis=0)
        S0 += w_occ
        S1 += (occ.reshape(n_states, T * T).T @ p).reshape(T, T, V)
        neg_h += float((occ.sum(axis=(1, 2)) * plogp).sum())
        if n == lang.max_len:
            break
        m = occ.sum(axis=1)  # (states, b): the new window is (b, w)
        new = np.zeros_like(occ)
        for w in range(1, V):  # words only: </s> ends the sentence
            np.add.at(new[:, :, w], tab.trans[:, w], m * p[:, w][:, None])
        occ = new
    with np.errstate(invalid="ignore", divide="ignore"):
        q = np.where(S0[..., None] > 0, S1 / S0[..., None], 1.0 / V)
        cross = np.where(S1 > 0, S1 * np.log(q), 0.0).sum()
    return q, (neg_h - cross) / S0.sum()

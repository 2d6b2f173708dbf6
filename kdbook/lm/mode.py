"""The exact mode of the toy language: the most probable continuation, by dynamic programming.

Introduced in chapter 6 (``notebooks/06_distilling_a_language_model.ipynb``, section 3). Beam
search keeps a few partial sentences and can miss the most probable whole sentence (a *search
error*). The toy language is a finite automaton, and a sentence's log-probability is a sum of
per-step terms that depend only on (automaton state, words so far), so the best completion from
every such pair follows from Bellman's recursion, run backwards from the word limit:

.. math:: V_n(s) = \\max_w \\bigl[\\log p(w \\mid s) + [w \\ne \\texttt{</s>}]\\, V_{n+1}(\\delta(s, w))\\bigr],
          \\qquad V_{n_{\\max}}(s) = \\log p(\\texttt{</s>} \\mid s, \\text{cap}).

Like :func:`kdbook.lm.decoding.beam_search`, only sentences within the word limit count.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .decoding import Generation, _finish, _start

__all__ = ["best_completion_values", "exact_mode"]


def best_completion_values(lang, context: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Bellman tables of ``lang``: ``value[n, s]`` and ``choice[n, s]`` for n = 0..max_len words.

    ``value[n, s]`` is the largest log-probability of any completion (to ``</s>``) from automaton
    state ``s`` after ``n`` words; ``choice[n, s]`` is its next token (ties: lower id).
    ``context`` is the instruction bit mask (0: unprompted). Introduced in chapter 6.
    """
    tab, L, eos = lang.tables, lang.max_len, lang.vocab.eos
    logp = tab.logp[int(context)]
    n_states, V = logp.shape
    value = np.empty((L + 1, n_states))
    choice = np.empty((L + 1, n_states), dtype=np.intp)
    value[L], choice[L] = tab.cap_logp[eos], eos
    is_eos = np.arange(V) == eos
    for n in range(L - 1, -1, -1):
        cand = logp + np.where(is_eos[None, :], 0.0, value[n + 1][tab.trans])
        choice[n] = cand.argmax(axis=1)
        value[n] = cand[np.arange(n_states), choice[n]]
    return value, choice


def exact_mode(lang, start: ArrayLike) -> Generation:
    """The most probable continuation of each start row under ``lang`` (exact, no search error).

    ``start``: (B, P) rows as for :func:`kdbook.lm.decoding.beam_search` (ending in ``<s>`` or in
    words). Returns a :class:`kdbook.lm.decoding.Generation` whose ``logprob`` is the log-probability
    of the added tokens (the same convention as beam search's), all ``finished``.

    Examples
    --------
    >>> from kdbook.lm import ToyLanguage
    >>> lang = ToyLanguage()
    >>> gen = exact_mode(lang, lang.prefixes(["the dog"]))
    >>> lang.decode_batch(gen.batch)
    ['the dog sleeps']
    """
    vocab, rows, _, words = _start(lang, start, None)
    ctx = vocab.contexts_of(rows)
    if np.unique(ctx).size > 1:
        raise ValueError("start rows must all share one context (instruction set)")
    value, choice = best_completion_values(lang, int(ctx[0]) if len(ctx) else 0)
    state = None
    for _, state, _, _ in lang._states(rows):
        pass
    B = rows.shape[0]
    n = words.copy()
    done = n >= lang.max_len + 1
    out = []
    logprob = np.zeros(B)
    for _ in range(lang.max_len + 1):
        tok = choice[np.minimum(n, lang.max_len), state]
        lp = np.where(n >= lang.max_len, lang.tables.cap_logp[tok], lang.tables.logp[ctx[0], state, tok])
        tok = np.where(done, vocab.pad, tok)
        logprob += np.where(done, 0.0, lp)
        out.append(tok)
        done = done | (tok == vocab.eos)
        state = np.where(done, state, lang.tables.trans[state, np.minimum(tok, vocab.n_classes - 1)])
        n = n + ~done
        if done.all():
            break
    rows = np.concatenate([rows, np.stack(out, axis=1)], axis=1)
    return _finish(vocab, rows, logprob, np.zeros(B), np.ones(B, dtype=bool))

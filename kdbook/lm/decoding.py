"""Decoding: greedy, sampling (temperature, top-k, top-p) and beam search, and sequence scores.

Introduced in chapter 6 (``notebooks/06_distilling_a_language_model.ipynb``). Every decoder
works for any language model with a ``vocab`` (``kdbook.lm.Vocabulary``) and either
``next_logprobs(prefixes)`` or ``logits(X)``: the exact toy language (the teacher) and the
students of ``kdbook.lm`` alike, through :func:`next_token_logprobs`. Decoders are vectorised
over a batch of start rows, seeded, and return a :class:`Generation`: the sentences as an
``LMBatch`` and their log-probabilities.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from .. import _validate as v
from .language import inverse_cdf
from ..softmax import log_softmax_rows
from .sequences import LMBatch, check_batch, check_language_model, pick_targets

__all__ = [
    "Generation", "next_token_logprobs", "token_logprobs", "sequence_logprob", "greedy", "sample",
    "beam_search", "truncate_distribution",
]


@dataclass(frozen=True, eq=False)
class Generation:
    """What a decoder produced.

    ``batch`` holds the sentences (prompt and ``<s>`` in its inputs); ``logprob`` (B,) is each
    sentence's log-probability under the model (T = 1, nothing truncated), ``sample_logprob``
    (B,) under the distribution the decoder actually drew from (tempered, truncated; equal to
    ``logprob`` for plain sampling, 0 for greedy and beam search), and ``finished`` (B,) says
    whether it ended with ``</s>`` within the length limit.
    """

    batch: LMBatch
    logprob: np.ndarray
    sample_logprob: np.ndarray
    finished: np.ndarray


def _vocab(model):
    return check_language_model(model, need_logits=False)  # a decoder needs only the next-token distribution


def next_token_logprobs(model, prefixes: ArrayLike) -> np.ndarray:
    """(B, V) log-probabilities of the next token after each row of ``prefixes``, for any model.

    Uses ``model.next_logprobs`` when it has one, else the log-softmax of ``model.logits`` at each
    row's last non-padding position. Introduced in chapter 6.
    """
    vocab = _vocab(model)
    if hasattr(model, "next_logprobs"):
        return model.next_logprobs(prefixes)
    X = vocab.check_inputs(prefixes, "prefixes")
    return log_softmax_rows(np.asarray(model.logits(X))[np.arange(X.shape[0]), vocab.last_positions(X)])


def token_logprobs(model, batch: LMBatch) -> np.ndarray:
    r"""(B, L) log-probability of each target token under ``model``, 0 where the mask is off.

    .. math:: \ell_{b,t} = \text{mask}_{b,t} \cdot \log \mathrm{softmax}(z_{b,t})_{y_{b,t}}
    """
    batch = check_batch(batch)
    _vocab(model)
    return pick_targets(log_softmax_rows(np.asarray(model.logits(batch.inputs), dtype=float)), batch)


def sequence_logprob(model, batch: LMBatch) -> np.ndarray:
    r"""(B,) log-probability of each sentence: the sum of its token log-probabilities over the mask.

    .. math:: \log q(y) = \sum_t \text{mask}_t \log q(y_t \mid y_{<t})

    Padding and prompt positions do not count. Introduced in chapter 6.
    """
    return token_logprobs(model, batch).sum(axis=1)


def truncate_distribution(logprobs: ArrayLike, *, T: float = 1.0, top_k: int | None = None,
                          top_p: float | None = None) -> np.ndarray:
    """The (B, V) distribution a sampler draws from: softmax(logprobs / T), then top-k, then top-p.

    top-k keeps the k most probable tokens (ties: lower id first); top-p the fewest most
    probable tokens whose probability reaches p (at least one). Both renormalise.
    """
    lp = v.as_float_array(logprobs, "logprobs")
    T = v.check_positive(T, "T")
    z = lp / T
    z = z - z.max(axis=-1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=-1, keepdims=True)
    order = np.argsort(-p, axis=-1, kind="stable")
    ranked = np.take_along_axis(p, order, axis=-1)
    keep = np.ones_like(ranked, dtype=bool)
    if top_k is not None:
        k = v.check_int(top_k, "top_k", minimum=1)
        keep[:, k:] = False
    if top_p is not None:
        top_p = v.check_unit_interval(top_p, "top_p")
        if top_p == 0:
            raise ValueError("top_p must be > 0 (it is the probability mass to keep)")
        before = np.cumsum(ranked, axis=-1) - ranked
        keep &= before < top_p - 1e-12  # reaching p within rounding counts as reaching it
    kept = np.zeros_like(keep)
    np.put_along_axis(kept, order, keep, axis=-1)
    p = np.where(kept, p, 0.0)
    return p / p.sum(axis=-1, keepdims=True)


def _start(model, start, max_len):
    vocab = _vocab(model)
    rows = vocab.check_inputs(start, "start", allow_ended=False)
    if (rows[:, -1] == vocab.pad).any():
        raise ValueError("start rows must end with a token, not padding (pad shorter prompts on the left, "
                         "as vocab.start does)")
    after = np.arange(rows.shape[1])[None, :] > np.argmax(rows == vocab.bos, axis=1)[:, None]
    words = after.sum(axis=1)
    room = vocab.max_len + 1 - int(words.min())
    n = room if max_len is None else min(v.check_int(max_len, "max_len", minimum=1), room)
    return vocab, rows, n, words


def _finish(vocab, rows, logprob, sample_lp, done):
    return Generation(vocab.batch_from_rows(rows), logprob, sample_lp, done.copy())


def _decode(model, start, max_len, pick):
    vocab, rows, n, words = _start(model, start, max_len)
    B = rows.shape[0]
    logprob, sample_lp = np.zeros(B), np.zeros(B)
    done = np.zeros(B, dtype=bool)
    finished = np.zeros(B, dtype=bool)
    for _ in range(n):
        lp = next_token_logprobs(model, rows)
        tok, slp = pick(lp)
        done |= (words >= vocab.max_len) & (tok != vocab.eos)  # a word past the length limit: cut here
        tok = np.where(done, vocab.pad, tok)
        live = ~done
        logprob[live] += lp[live, tok[live]]
        sample_lp[live] += slp[live]
        rows = np.concatenate([rows, tok[:, None]], axis=1)
        words += live & (tok != vocab.eos)
        finished |= tok == vocab.eos
        done |= finished
        if done.all():
            break
    return _finish(vocab, rows, logprob, sample_lp, finished)


def greedy(model, start: ArrayLike, *, max_len: int | None = None) -> Generation:
    """Extend every start row with the most probable next token until ``</s>`` (ties: lower id).

    ``start``: (B, P) rows ending in ``<s>`` (``vocab.start(n, context=...)``) or in words to
    continue. ``max_len``: most tokens to add (default and upper limit: up to the language's
    ``max_len`` words and ``</s>``). A row that reaches the word limit without ``</s>`` is cut
    there (``finished`` False; its log-probability covers the tokens kept).
    """
    return _decode(model, start, max_len, lambda lp: (lp.argmax(axis=-1), np.zeros(lp.shape[0])))


def sample(model, start: ArrayLike, *, T: float = 1.0, top_k: int | None = None, top_p: float | None = None,
           max_len: int | None = None, seed: int | np.random.Generator = 0) -> Generation:
    """Sample a continuation of every start row from ``model`` at temperature T, optionally top-k/top-p.

    One uniform per row and step, drawn by inverse CDF (so sampling the toy language here gives
    exactly ``ToyLanguage.sample``'s sentences for the same seed).
    """
    rng = v.check_rng(seed)
    plain = v.check_positive(T, "T") == 1.0 and top_k is None and top_p is None
    truncate_distribution(np.zeros((1, 2)), T=T, top_k=top_k, top_p=top_p)  # check the options once, up front

    def pick(lp):
        q = np.exp(lp) if plain else truncate_distribution(lp, T=T, top_k=top_k, top_p=top_p)
        tok = inverse_cdf(q, rng.random(lp.shape[0]))
        with np.errstate(divide="ignore"):
            return tok, np.log(q[np.arange(len(tok)), tok])

    return _decode(model, start, max_len, pick)


def beam_search(model, start: ArrayLike, *, beam_size: int = 4, max_len: int | None = None,
                length_penalty: float = 0.0) -> Generation:
    r"""The highest-scoring sentence per start row found by beam search with ``beam_size`` beams.

    A beam's score is its log-probability; finished beams (ended with ``</s>``) wait while the
    others extend. The winner maximises :math:`\log q(y) / |y|^\alpha` with α = ``length_penalty``
    (0: plain log-probability, as in Kim & Rush 2016). ``beam_size=1`` is greedy decoding.
    Only sentences within the language's word limit are considered.
    """
    K = v.check_int(beam_size, "beam_size", minimum=1)
    alpha = float(v._as_real(length_penalty, "length_penalty"))
    vocab, rows, n, words = _start(model, start, max_len)
    B, V = rows.shape[0], vocab.n_classes
    words = np.repeat(words, K)
    beams = np.repeat(rows, K, axis=0)
    score = np.tile(np.r_[0.0, np.full(K - 1, -np.inf)], B)
    done = np.zeros(B * K, dtype=bool)
    length = np.zeros(B * K)
    for _ in range(n):
        lp = next_token_logprobs(model, beams)
        full = words >= vocab.max_len  # at the length limit only </s> may follow
        lp = np.where((done | full)[:, None] & (np.arange(V) != vocab.eos), -np.inf, lp)
        lp[done, vocab.eos] = 0.0  # a finished beam "extends" by padding, at no cost
        cand = (score[:, None] + lp).reshape(B, K * V)
        best = np.argsort(-cand, axis=1, kind="stable")[:, :K]
        parent = (np.arange(B)[:, None] * K + best // V).reshape(-1)
        tok = (best % V).reshape(-1)
        score = np.take_along_axis(cand, best, axis=1).reshape(-1)
        was_done = done[parent]
        tok = np.where(was_done, vocab.pad, tok)
        beams = np.concatenate([beams[parent], tok[:, None]], axis=1)
        length = length[parent] + ~was_done
        words = words[parent] + (~was_done & (tok != vocab.eos))
        done = was_done | (tok == vocab.eos)
        if done[np.isfinite(score)].all():
            break
    with np.errstate(invalid="ignore"):
        final = np.where(np.isfinite(score), score / np.maximum(length, 1) ** alpha, -np.inf).reshape(B, K)
    pick = np.arange(B) * K + final.argmax(axis=1)
    return _finish(vocab, beams[pick], score[pick], np.zeros(B), done[pick])

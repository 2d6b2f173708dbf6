r"""Speculative sampling: a small draft proposes, the target verifies, the output is the target's.

Introduced in chapter 9 (``notebooks/09_speculative_decoding.ipynb``), after Leviathan, Kalman &
Matias 2023 ("Fast Inference from Transformers via Speculative Decoding") and Chen et al. 2023
("Accelerating Large Language Model Decoding with Speculative Sampling"). One *round*:

1. the draft q proposes γ tokens one after another, :math:`x_k \sim q(\cdot \mid y, x_{<k})`;
2. the target p scores all of them in **one** pass, giving :math:`p_k = p(\cdot \mid y, x_{<k})`
   for k = 1 … γ + 1;
3. token :math:`x_k` is accepted with probability :math:`\min(1, p_k(x_k)/q_k(x_k))`, in order;
4. at the first rejection (position k) one token is drawn from the *residual*
   :math:`r_k = \max(0, p_k - q_k) / \sum_x \max(0, p_k(x) - q_k(x))`; if all γ are accepted, one
   *bonus* token is drawn from :math:`p_{\gamma+1}`.

Each emitted token is distributed exactly as p's next-token distribution (the round emits
:math:`\min(p,q)(x)` by acceptance plus :math:`(1-\alpha)\,r(x) = \max(0, p-q)(x)` by the residual,
which sum to p(x)), so the output is *lossless*. The chance a drafted token is accepted is

.. math:: \alpha = \sum_x \min\bigl(p(x), q(x)\bigr) = 1 - \mathrm{TV}(p, q),

and with i.i.d. acceptance α and γ drafts a round emits on average
:math:`(1-\alpha^{\gamma+1})/(1-\alpha)` tokens per target call. If a draft pass costs c target
passes, the modelled speed-up over plain sampling is that number divided by :math:`\gamma c + 1`
(Leviathan et al., Theorem 3.8).

Distributions come in as probabilities (``p``, ``q``: (…, V) arrays); models in
:func:`speculative_sample` are kdbook language models (``ToyLanguage``, ``WindowLM``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from .. import _validate as v
from .decoding import _start, truncate_distribution
from .language import inverse_cdf
from .policy import check_pair
from .sequences import LMBatch
from .speedup import best_gamma, expected_tokens_per_call, modelled_speedup  # noqa: F401 - re-exported

__all__ = ["acceptance_probability", "residual", "step_distribution", "verify", "expected_tokens_per_call",
           "modelled_speedup", "best_gamma", "tempered", "SpeculativeGeneration", "speculative_sample",
           "sentence_probabilities", "REJECTIONS"]

#: What a rejection draws from: the correct residual, or the tempting shortcut (the target p itself).
REJECTIONS = ("residual", "target")


def _pq(p, q) -> tuple[np.ndarray, np.ndarray]:
    p, q = v.as_float_array(p, "p"), v.as_float_array(q, "q")
    p, q = v.broadcast_pair(p, q, ("p", "q"))
    v.check_probabilities(p, "p", -1)
    v.check_probabilities(q, "q", -1)
    return p, q


def acceptance_probability(p: ArrayLike, q: ArrayLike) -> np.ndarray:
    r"""Chance that a token drafted from q is accepted by p: :math:`\alpha = \sum_x \min(p(x), q(x)) = 1 - \mathrm{TV}(p, q)`.

    Leviathan et al. 2023 (Definition 3.1, Corollary 3.6). Chapter 9, section 2.

    Examples
    --------
    >>> float(acceptance_probability([0.5, 0.5, 0.0], [0.25, 0.25, 0.5]))
    0.5
    """
    p, q = _pq(p, q)
    return np.minimum(p, q).sum(axis=-1)


def residual(p: ArrayLike, q: ArrayLike) -> np.ndarray:
    r"""The distribution a rejection draws from: :math:`\max(0, p - q)` normalised along the last axis.

    Where p = q the residual is undefined (a rejection then has probability 0); this returns p
    there. Leviathan et al. 2023, Algorithm 1; Chen et al. 2023, Algorithm 2. Chapter 9, section 1.

    Examples
    --------
    >>> residual([0.5, 0.5, 0.0], [0.25, 0.25, 0.5]).tolist()
    [0.5, 0.5, 0.0]
    """
    p, q = _pq(p, q)
    return _residual(p, q)


def _residual(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    r = np.maximum(p - q, 0.0)
    total = r.sum(axis=-1, keepdims=True)
    return np.where(total > 1e-15, r / np.where(total > 1e-15, total, 1.0), p)


def step_distribution(p: ArrayLike, q: ArrayLike, *, rejection: str = "residual") -> np.ndarray:
    r"""The exact distribution of the token one accept/reject step emits (no sampling).

    .. math:: P(x) = q(x)\min\Bigl(1, \tfrac{p(x)}{q(x)}\Bigr) + (1 - \alpha)\, r(x)
              = \min(p, q)(x) + \max(0, p - q)(x) = p(x)

    with ``rejection="residual"``; ``rejection="target"`` (the shortcut: redraw from p after a
    rejection) gives :math:`\min(p,q)(x) + (1-\alpha)\,p(x)`, which is not p unless p = q.
    Chapter 9, section 1.
    """
    p, q = _pq(p, q)
    rejection = v.check_choice(rejection, "rejection", REJECTIONS)
    alpha = np.minimum(p, q).sum(axis=-1, keepdims=True)
    after = _residual(p, q) if rejection == "residual" else p
    return np.minimum(p, q) + (1.0 - alpha) * after


def verify(p: ArrayLike, q: ArrayLike, drafts: ArrayLike, *, n_drafts: ArrayLike | None = None,
           seed: int | np.random.Generator = 0, rejection: str = "residual") -> tuple[np.ndarray, np.ndarray]:
    r"""The accept/reject step of a round, vectorised over a batch of B rows.

    Parameters
    ----------
    p : array_like, shape (B, γ + 1, V)
        The target's distributions after the prefix and after each drafted token.
    q : array_like, shape (B, γ, V)
        The draft's distributions the drafts were drawn from.
    drafts : array_like of int, shape (B, γ)
    n_drafts : array_like of int, shape (B,), optional
        Drafts that count per row (default γ); later columns are ignored and the token after
        the last counted draft comes from p (as the bonus does).
    seed : int or numpy.random.Generator
        One uniform per draft (accept if :math:`u\,q_k(x_k) < p_k(x_k)`) and one per row for the
        emitted token (inverse CDF).
    rejection : {"residual", "target"}
        ``"target"`` is the biased shortcut, for demonstration.

    Returns
    -------
    n_accepted : ndarray of int, shape (B,)
        Leading drafts accepted (0 … n_drafts).
    token : ndarray of int, shape (B,)
        The token emitted after them: from the residual at the first rejection, else the bonus.
    """
    p, q = v.as_float_array(p, "p"), v.as_float_array(q, "q")
    if p.ndim != 3 or q.ndim != 3 or p.shape[0] != q.shape[0] or p.shape[1] != q.shape[1] + 1 or p.shape[2] != q.shape[2]:
        raise ValueError(f"p must have shape (B, γ + 1, V) and q shape (B, γ, V); got p {p.shape} and q {q.shape}")
    B, g, V = q.shape
    x = np.asarray(drafts)
    if x.shape != (B, g) or not np.issubdtype(x.dtype, np.integer):
        raise ValueError(f"drafts must be integer token ids of shape {(B, g)}, got {x.dtype} {x.shape}")
    if g and (x.min() < 0 or x.max() >= V):
        raise ValueError(f"drafts must be token ids in [0, {V - 1}]")
    n_dr = np.full(B, g) if n_drafts is None else np.asarray(n_drafts)
    if n_dr.shape != (B,) or not np.issubdtype(n_dr.dtype, np.integer) or (n_dr < 0).any() or (n_dr > g).any():
        raise ValueError(f"n_drafts must be {B} integers in [0, {g}]")
    rejection = v.check_choice(rejection, "rejection", REJECTIONS)
    rng = v.check_rng(seed)
    rows = np.arange(B)[:, None]
    px = p[rows, np.arange(g)[None, :], x]
    qx = q[rows, np.arange(g)[None, :], x]
    ok = (rng.random((B, g)) * qx < px) & (np.arange(g)[None, :] < n_dr[:, None])
    n_acc = np.where(ok.all(axis=1), g, np.argmin(ok, axis=1)) if g else np.zeros(B, dtype=int)
    p_n = p[np.arange(B), n_acc]
    q_n = q[np.arange(B), np.minimum(n_acc, max(g - 1, 0))] if g else p_n
    rejected = n_acc < n_dr
    after = _residual(p_n, q_n) if rejection == "residual" else p_n
    dist = np.where(rejected[:, None], after, p_n)
    return n_acc, inverse_cdf(dist, rng.random(B))


def tempered(logprobs: ArrayLike, T: float) -> np.ndarray:
    """softmax(logprobs / T) along the last axis; T = 0 is greedy (one-hot argmax, ties: lower id)."""
    lp = v.as_float_array(logprobs, "logprobs")
    if T == 0:
        return np.eye(lp.shape[-1])[lp.argmax(axis=-1)]
    shape = lp.shape
    return truncate_distribution(lp.reshape(-1, shape[-1]), T=T).reshape(shape)


@dataclass(frozen=True, eq=False)
class SpeculativeGeneration:
    """What :func:`speculative_sample` produced.

    ``batch``: the sentences; ``finished`` (B,): ended with ``</s>`` within the length limit;
    ``target_calls`` (B,): target passes each row used (rounds); ``draft_calls`` (B,): draft
    passes; ``accepted`` (B, max_len + 1) bool and ``drafted`` (B, max_len + 1) bool, per
    emitted position: was the token a drafted-and-accepted one, and was a draft verified there.
    """

    batch: LMBatch
    finished: np.ndarray
    target_calls: np.ndarray
    draft_calls: np.ndarray
    accepted: np.ndarray
    drafted: np.ndarray

    @property
    def tokens(self) -> np.ndarray:
        """(B,) tokens each row emitted (``</s>`` included)."""
        return self.batch.mask.sum(axis=1)

    @property
    def tokens_per_call(self) -> float:
        """All emitted tokens over all target passes."""
        return float(self.tokens.sum() / self.target_calls.sum())


def _next(model, X, pos, T):
    """Tempered next-token distributions of ``model`` after positions ``pos`` ((B,) or (B, K)) of each row: one pass."""
    rows = np.arange(X.shape[0]) if np.ndim(pos) == 1 else np.arange(X.shape[0])[:, None]
    z = np.asarray(model.logits(X), dtype=float)[rows, pos]
    z = z - z.max(axis=-1, keepdims=True)
    return tempered(z - np.log(np.exp(z).sum(axis=-1, keepdims=True)), T)


def speculative_sample(target, draft, start: ArrayLike, *, gamma: int = 4, T: float = 1.0,
                       max_len: int | None = None, seed: int | np.random.Generator = 0,
                       rejection: str = "residual") -> SpeculativeGeneration:
    r"""Continue every start row by speculative sampling: the sentences are distributed as the target's.

    Vectorised over the batch: each round, every unfinished row gets γ draft tokens (γ draft
    passes), one target pass over all of them, and :func:`verify`. Rows near the word limit
    draft fewer tokens (any such rule keeps the output exact). A drafted or emitted ``</s>``
    ends the row. Chapter 9, section 1.

    Parameters
    ----------
    target, draft : language models over one vocabulary (``ToyLanguage``, ``WindowLM``)
    start : array_like of int, shape (B, P)
        Rows ending in ``<s>`` or in words to continue (``vocab.start(n)``).
    gamma : int
        Drafted tokens per round (γ ≥ 0; 0 is plain sampling from the target).
    T : float
        Sampling temperature applied to both models (0: greedy, acceptance = argmax agreement).
    max_len : int, optional
        Most tokens to add (as in ``kdbook.lm.decoding.sample``).
    seed : int or numpy.random.Generator
    rejection : {"residual", "target"}
        ``"target"`` is the biased shortcut (redraw from p after a rejection), for demonstration.
    """
    check_pair(target, draft)
    g = v.check_int(gamma, "gamma", minimum=0)
    T = float(v.as_real(T, "T"))
    if T < 0:
        raise ValueError(f"T must be >= 0 (0 is greedy), got {T}")
    rejection = v.check_choice(rejection, "rejection", REJECTIONS)
    rng = v.check_rng(seed)
    vocab, rows, n, words = _start(target, start, max_len)
    B, P = rows.shape
    buf = np.full((B, P + n + 1), vocab.pad, dtype=np.intp)
    buf[:, :P] = rows
    length = np.full(B, P)
    room = np.minimum(n, vocab.max_len + 1 - words)  # tokens each row may still add (</s> included)
    done = room <= 0
    finished = np.zeros(B, dtype=bool)
    t_calls, d_calls = np.zeros(B, dtype=int), np.zeros(B, dtype=int)
    accepted, drafted = np.zeros((B, n + 1), dtype=bool), np.zeros((B, n + 1), dtype=bool)
    while not done.all():
        live = np.flatnonzero(~done)
        X = np.full((len(live), buf.shape[1] + g), vocab.pad, dtype=np.intp)
        X[:, : buf.shape[1]] = buf[live]
        L = length[live]
        n_dr = np.minimum(g, room[live] - (L - P) - 1)
        k_max = int(n_dr.max())
        xs = np.zeros((len(live), g), dtype=np.intp)
        qs = np.zeros((len(live), g, vocab.n_classes))
        ended = np.zeros(len(live), dtype=bool)
        for k in range(k_max):
            active = (k < n_dr) & ~ended
            qs[:, k] = _next(draft, X[:, : int(L.max()) + k], L - 1 + k, T)
            xs[:, k] = inverse_cdf(qs[:, k], rng.random(len(live)))
            X[active, L[active] + k] = xs[active, k]
            ended |= active & (xs[:, k] == vocab.eos)
        d_calls[live] += np.where(n_dr > 0, k_max, 0)
        ps = _next(target, X[:, : int(L.max()) + g], L[:, None] - 1 + np.arange(g + 1)[None, :], T)
        t_calls[live] += 1
        n_acc, tok = verify(ps, qs, xs, n_drafts=n_dr, seed=rng, rejection=rejection)
        em = np.zeros((len(live), g + 1), dtype=np.intp)
        em[:, :g] = xs
        em[np.arange(len(live)), n_acc] = tok
        k = np.arange(g + 1)[None, :]
        at = (L - P)[:, None] + k  # index of each emitted token in the row's continuation
        is_eos = em == vocab.eos
        bad = (k > n_acc[:, None]) | (at >= room[live][:, None]) \
            | ((words[live][:, None] + at >= vocab.max_len) & ~is_eos)  # a word past the limit: cut
        after_eos = np.cumsum(is_eos, axis=1) - is_eos > 0
        keep = ~(np.cumsum(bad, axis=1) > 0) & ~after_eos
        rr, kk = np.nonzero(keep)
        r = live[rr]
        buf[r, length[r] + kk] = em[rr, kk]
        accepted[r, at[rr, kk]] = kk < n_acc[rr]
        drafted[r, at[rr, kk]] = kk < n_dr[rr]
        ended = (keep & is_eos).any(axis=1)
        length[live] += keep.sum(axis=1)
        finished[live] |= ended
        done[live] |= ended | (keep.sum(axis=1) < n_acc + 1) | (length[live] - P >= room[live])
    return SpeculativeGeneration(vocab.batch_from_rows(buf), finished, t_calls, d_calls, accepted, drafted)


def sentence_probabilities(target, draft, batch: LMBatch, *, gamma: int, rejection: str = "residual") -> np.ndarray:
    r"""Exact probability that speculative sampling (T = 1, from ``<s>``) outputs each sentence of ``batch``.

    Computed from the algorithm's description, not by sampling: a round starting at position i
    emits the block :math:`y_i \dots y_{i+k-1}` with probability
    :math:`\prod_{j<i+k-1} \min(p_j, q_j)(y_j)` times :math:`\max(0, p - q)(y_{i+k-1})` (a rejection,
    k ≤ γ) or :math:`p(y_{i+\gamma})` (the bonus, k = γ + 1); a block of k ≤ γ tokens ending in
    ``</s>`` has last factor :math:`\min(p, q)(\texttt{</s>}) + (1-\alpha)\,r(\texttt{</s>})`
    (accepted, or redrawn after a rejection), which is :math:`p(\texttt{</s>})` for the residual
    r but :math:`\min(p, q) + (1-\alpha)\,p` for the shortcut. Summing over how rounds split
    the sentence (a backward recursion) gives its probability. With ``rejection="residual"``
    this equals the target's :math:`\prod_t p(y_t \mid y_{<t})`; with ``"target"`` it does not.
    Sentences must stay within the word limit (no draft is cut by it). Chapter 9, section 1.
    """
    check_pair(target, draft)
    g = v.check_int(gamma, "gamma", minimum=0)
    rejection = v.check_choice(rejection, "rejection", REJECTIONS)
    if not isinstance(batch, LMBatch):
        raise TypeError(f"batch must be a kdbook.lm.LMBatch, got {type(batch).__name__}")

    def probs(model):
        z = np.asarray(model.logits(batch.inputs), dtype=float)
        z = np.exp(z - z.max(axis=-1, keepdims=True))
        return z / z.sum(axis=-1, keepdims=True)

    p, q = probs(target), probs(draft)
    y = batch.targets[..., None]
    py = np.take_along_axis(p, y, -1)[..., 0]
    my = np.take_along_axis(np.minimum(p, q), y, -1)[..., 0]
    if rejection == "residual":
        ry = np.take_along_axis(np.maximum(p - q, 0.0), y, -1)[..., 0]
    else:
        ry = (1.0 - np.minimum(p, q).sum(-1)) * py
    Bn, L = batch.targets.shape
    first = np.argmax(batch.mask, axis=1)
    n_tok = batch.mask.sum(axis=1)
    f = np.zeros((Bn, L + g + 2))
    idx = np.arange(Bn)
    # f[b, i] = P(the rounds from the i-th emitted token on reproduce the rest of sentence b)
    f[idx, n_tok] = 1.0
    for i in range(int(n_tok.max()) - 1, -1, -1):
        live = i < n_tok
        acc = np.ones(Bn)
        total = np.zeros(Bn)
        for k in range(1, g + 2):
            j = i + k - 1  # the block's last token
            inside = live & (j < n_tok)
            col = np.minimum(first + j, L - 1)
            last_is_end = j == n_tok - 1
            if k <= g:  # a block that ends the sentence: </s> accepted as a draft, or redrawn after a rejection
                last = np.where(last_is_end, my[idx, col] + ry[idx, col], ry[idx, col])
            else:
                last = py[idx, col]
            total += np.where(inside, acc * last * f[idx, np.minimum(j + 1, L + g + 1)], 0.0)
            acc = acc * np.where(inside, my[idx, col], 0.0)
        f[:, i] = np.where(live, total, f[:, i])
    return f[:, 0]

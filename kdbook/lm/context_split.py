"""Held-out queries that are disjoint from the training queries (chapter 8).

A query of chapter 8 is a sentence opening of a few words; the toy language has few distinct
openings (of 144 distinct two-word openings in 20,000 draws, 60 carry 99 % of the mass), so queries drawn independently for
training and for evaluation are mostly the *same* openings (98 % of them, measured). "Held-out"
must mean not seen in training (``/work/shared/STYLE.md``), so the openings are split once into
two parts: training queries are drawn only from one part, held-out queries only from the other.

:func:`split_openings` chooses the held-out openings, :func:`sample_split_queries` draws queries
from one part, :func:`overlap` measures the share of evaluation queries whose opening occurs in a
training set (printed next to every held-out result). Introduced in chapter 8
(``notebooks/08_context_distillation.ipynb``, section 2).
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .. import _validate as v
from . import context as cd

__all__ = ["split_openings", "sample_split_queries", "overlap"]


def _openings(queries: ArrayLike, words: int) -> np.ndarray:
    Q = np.asarray(queries)
    if Q.ndim != 2 or Q.shape[1] < words:
        raise ValueError(f"queries must be 2-D rows with at least {words} columns, got shape {Q.shape}")
    return Q[:, Q.shape[1] - words:]


def split_openings(lang, *, words: int = 2, held_out: float = 0.25, n_draws: int = 20000,
                   seed: int = 0) -> np.ndarray:
    """(k, words) token ids of the openings reserved for evaluation.

    The distinct openings of ``n_draws`` unprompted queries are shuffled (seeded) and taken in
    that order until they carry at least ``held_out`` of the draws' mass. Every other opening,
    including any the draws missed, belongs to training.

    Examples
    --------
    >>> from kdbook.lm import ToyLanguage
    >>> lang = ToyLanguage()
    >>> ho = split_openings(lang, n_draws=2000)
    >>> q = sample_split_queries(lang, 50, held_out_openings=ho, part="train")
    >>> overlap(sample_split_queries(lang, 50, held_out_openings=ho, part="held_out"), q, words=2)
    0.0
    """
    share = v.check_unit_interval(held_out, "held_out")
    words = v.check_int(words, "words", minimum=1)
    draws = cd.sample_queries(lang, v.check_int(n_draws, "n_draws", minimum=1), words=words, seed=seed)
    types, counts = np.unique(_openings(draws, words), axis=0, return_counts=True)
    order = np.random.default_rng(seed).permutation(len(types))
    mass = np.cumsum(counts[order]) / counts.sum()
    k = int(np.searchsorted(mass, share) + 1)
    return types[order[:k]]


def sample_split_queries(lang, n: int, *, held_out_openings: ArrayLike, part: str, words: int = 2,
                         seed: int | np.random.Generator = 0) -> np.ndarray:
    """n query rows (as :func:`kdbook.lm.context.sample_queries`) from one part of the split.

    ``part="train"`` keeps only openings not in ``held_out_openings``; ``part="held_out"`` only
    those in it. Seeded.
    """
    if part not in ("train", "held_out"):
        raise ValueError(f"part must be 'train' or 'held_out', got {part!r}")
    n = v.check_int(n, "n", minimum=1)
    H = np.asarray(held_out_openings)
    if H.ndim != 2 or H.shape[1] != words:
        raise ValueError(f"held_out_openings must have shape (k, {words}), got {H.shape}")
    rng = v.check_rng(seed)
    keep = part == "held_out"
    rows, got = [], 0
    for _ in range(1000):
        q = cd.sample_queries(lang, 2 * n, words=words, seed=rng)
        inside = (_openings(q, words)[:, None, :] == H[None]).all(axis=2).any(axis=1)
        rows.append(q[inside == keep])
        got += len(rows[-1])
        if got >= n:
            return np.concatenate(rows)[:n]
    raise ValueError(f"part {part!r} of the split has almost no mass: could not draw {n} queries")


def overlap(eval_queries: ArrayLike, train_queries: ArrayLike, *, words: int = 2) -> float:
    """Share of ``eval_queries`` whose opening occurs among ``train_queries``' openings."""
    seen = {tuple(r) for r in _openings(train_queries, words).tolist()}
    E = _openings(eval_queries, words)
    return float(np.mean([tuple(r) in seen for r in E.tolist()]))

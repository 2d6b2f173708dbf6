"""Entropy and the divergences between two categorical distributions.

Introduced in chapter 2 (``notebooks/02_divergences.ipynb``; the generalised JSD and the skew KL
come with chapter 7). Every function reduces over the
class axis only (``axis=-1`` by default), broadcasts over the other axes, measures in nats
unless ``base=2`` (bits), follows 0·log 0 = 0, and returns ``inf`` -- never NaN -- where the
second distribution is missing support that the first one has.

The teacher comes first: ``kl_divergence(p, q)`` is KL(p‖q) with p the teacher and q the
student, as in Hinton, Vinyals & Dean (2015).

Every function also takes ``mask=None``: a boolean array of the batch shape (every axis but
``axis``), True where a position counts. Masked positions (the padding of a batch of
sequences) are neither validated nor computed and give exactly 0, so padding may hold anything.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from numpy.typing import ArrayLike

from . import _validate as v
from ._rowwise import as_rows, for_row_chunks

__all__ = [
    "entropy",
    "cross_entropy",
    "kl_divergence",
    "reverse_kl_divergence",
    "js_divergence",
    "generalized_js_divergence",
    "skew_kl_divergence",
    "total_variation",
]

Kernel = Callable[..., np.ndarray]


# --------------------------------------------------------------------------- row kernels
# Each kernel takes 2-D (rows, classes) blocks and returns one value per row. The fast path is
# the naive formula; rows where it is not finite (a zero probability gives 0·log 0 = NaN, a
# tiny float32 probability can overflow a ratio) are recomputed exactly in float64 with masks.


def _kl_exact(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    p64, q64 = p.astype(np.float64), q.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p64 > 0, p64 * (np.log(p64) - np.log(q64)), 0.0)
    return terms.sum(axis=-1)


def _kl_rows(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        t = p / q
        np.log(t, out=t)
        t *= p
        out = t.sum(axis=-1)
    bad = ~np.isfinite(out)
    if bad.any():
        out[bad] = _kl_exact(p[bad], q[bad])
    # KL ≥ 0 exactly (Gibbs); rounding can leave -1e-16 when p ≈ q, which would read as a bug.
    return np.maximum(out, 0.0, out=out)


def _ce_exact(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    p64, q64 = p.astype(np.float64), q.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p64 > 0, -p64 * np.log(q64), 0.0)
    return terms.sum(axis=-1)


def _ce_rows(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.log(q)
        t *= p
        out = -t.sum(axis=-1)
    bad = ~np.isfinite(out)
    if bad.any():
        out[bad] = _ce_exact(p[bad], q[bad])
    return out


def _entropy_rows(p: np.ndarray) -> np.ndarray:
    return _ce_rows(p, p)


def _mixture_kl_rows(p: np.ndarray, q: np.ndarray, w: float) -> np.ndarray:
    """w·KL(p‖m) + (1-w)·KL(q‖m) with m = w·p + (1-w)·q; 0 at w = 0 and w = 1."""
    if w == 0.0 or w == 1.0:
        return np.zeros(p.shape[0], dtype=p.dtype)
    m = w * p + (1.0 - w) * q
    return w * _kl_to_mixture(p, p, q, w, m) + (1.0 - w) * _kl_to_mixture(q, p, q, w, m)


def _kl_to_mixture(x: np.ndarray, p: np.ndarray, q: np.ndarray, w: float, m: np.ndarray) -> np.ndarray:
    """KL(x‖m) for x = p or q and m = w·p + (1-w)·q, finite whenever 0 < w < 1.

    m ≥ w·p > 0 wherever p > 0, but w·p can underflow to 0 (a tiny w or p); such rows are
    recomputed in float64 with log m = logaddexp(log w + log p, log(1-w) + log q).
    """
    out = _kl_rows(x, m)
    bad = ~np.isfinite(out)
    if bad.any() and 0.0 < w < 1.0:
        x64, p64, q64 = (a[bad].astype(np.float64) for a in (x, p, q))
        with np.errstate(divide="ignore", invalid="ignore"):
            log_m = np.logaddexp(np.log(w) + np.log(p64), np.log1p(-w) + np.log(q64))
            terms = np.where(x64 > 0, x64 * (np.log(x64) - log_m), 0.0)
        out[bad] = np.maximum(terms.sum(axis=-1), 0.0)
    return out


def _tv_rows(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    d = p - q
    np.abs(d, out=d)
    return 0.5 * d.sum(axis=-1)


# --------------------------------------------------------------------------- driver


def _reduce(kernel: Kernel, named: dict[str, ArrayLike], axis: int, base, mask=None, **kw) -> np.ndarray:
    """Validate, broadcast, run ``kernel`` over row chunks, reshape, and convert the unit.

    With a boolean ``mask`` of the batch shape, only unmasked rows are validated and computed;
    masked ones give 0.
    """
    arrays = {name: v.as_float_array(x, name) for name, x in named.items()}
    names = tuple(arrays)
    log_base = v.check_base(base)
    vals = list(arrays.values())
    if len(vals) == 2:
        vals = v.broadcast_pair(vals[0], vals[1], names)  # type: ignore[arg-type]
    ax = v.check_axis(axis, vals[0].ndim)
    if vals[0].shape[ax] == 0:
        raise ValueError(f"{names[0]} has no classes: axis {axis} has length 0")
    dtype = np.result_type(*vals)
    shape = tuple(s for i, s in enumerate(vals[0].shape) if i != ax)
    m = None if mask is None else v.check_mask(mask, shape)
    rows = [as_rows(x, ax).astype(dtype, copy=False) for x in vals]
    if m is not None:
        rows = [r[m.reshape(-1)] for r in rows]  # the unmasked rows only (a copy)
    n, k = rows[0].shape
    out = np.empty(n, dtype=dtype)
    stats = np.empty((len(rows), 2, n), dtype=np.float64)

    def work(lo: int, hi: int) -> None:
        blocks = [r[lo:hi] for r in rows]
        with np.errstate(invalid="ignore", over="ignore"):
            for i, b in enumerate(blocks):
                stats[i, 0, lo:hi] = b.min(axis=-1)
                stats[i, 1, lo:hi] = b.sum(axis=-1)
        out[lo:hi] = kernel(*blocks, **kw)

    for_row_chunks(n, k * dtype.itemsize, work)
    tol = v.SUM_TOLERANCE.get(dtype, 1e-6)
    for i, name in enumerate(names):
        mins, sums = stats[i]
        if not (np.all(mins >= 0) and np.all(np.abs(sums - 1.0) <= tol)):
            x = vals[i]
            if m is not None:  # masked rows become uniform, so the message names an unmasked row
                x = np.moveaxis(x, ax, -1).copy()
                x[~m] = 1.0 / k
            v.check_probabilities(x, name, ax if m is None else -1)  # raises with the offending row named
    if log_base is not None:
        out /= np.log(log_base)
    if m is not None:
        full = np.zeros(m.size, dtype=dtype)
        full[m.reshape(-1)] = out
        out = full
    return out.reshape(shape)[()]


# --------------------------------------------------------------------------- public API


def entropy(
    p: ArrayLike, *, axis: int = -1, base: float | None = None, mask: ArrayLike | None = None
) -> np.ndarray:
    r"""Shannon entropy of a categorical distribution.

    .. math:: H(p) = -\sum_i p_i \log p_i

    Introduced in chapter 2, ``notebooks/02_divergences.ipynb``.

    Parameters
    ----------
    p : array_like
        Probabilities, non-negative and summing to 1 along ``axis``.
    axis : int, default -1
        The class axis; all other axes are batch axes.
    base : float, optional
        Logarithm base: ``None`` for nats, ``2`` for bits.

    Returns
    -------
    ndarray or scalar
        H(p) for every batch entry, in ``[0, log K]``. Terms with p_i = 0 contribute 0.

    Examples
    --------
    >>> import kdbook
    >>> float(kdbook.entropy([0.5, 0.5], base=2))
    1.0
    """
    return _reduce(_entropy_rows, {"p": p}, axis, base, mask)


def cross_entropy(
    p: ArrayLike, q: ArrayLike, *, axis: int = -1, base: float | None = None, mask: ArrayLike | None = None
) -> np.ndarray:
    r"""Cross-entropy of q relative to p (teacher p first).

    .. math:: H(p, q) = -\sum_i p_i \log q_i = H(p) + \mathrm{KL}(p \| q)

    Introduced in chapter 2. Terms with p_i = 0 contribute 0; ``inf`` if some q_i = 0 where
    p_i > 0.

    Parameters
    ----------
    p, q : array_like
        Probabilities along ``axis``; they must broadcast together.
    axis : int, default -1
        The class axis.
    base : float, optional
        ``None`` for nats, ``2`` for bits.

    Examples
    --------
    >>> import kdbook
    >>> round(float(kdbook.cross_entropy([1.0, 0.0], [0.5, 0.5], base=2)), 4)
    1.0
    """
    return _reduce(_ce_rows, {"p": p, "q": q}, axis, base, mask)


def kl_divergence(
    p: ArrayLike, q: ArrayLike, *, axis: int = -1, base: float | None = None, mask: ArrayLike | None = None
) -> np.ndarray:
    r"""Kullback–Leibler divergence KL(p‖q), teacher p first ("forward KL" in distillation).

    .. math:: \mathrm{KL}(p \| q) = \sum_i p_i \log \frac{p_i}{q_i} \ge 0

    Introduced in chapter 2. Zero iff p = q (Gibbs' inequality); not symmetric. Terms with
    p_i = 0 contribute 0 (0·log 0 = 0); the result is ``inf`` where q_i = 0 but p_i > 0.

    Parameters
    ----------
    p : array_like
        Reference (teacher) probabilities along ``axis``.
    q : array_like
        Approximating (student) probabilities; must broadcast with ``p``.
    axis : int, default -1
        The class axis.
    base : float, optional
        ``None`` for nats, ``2`` for bits.
    mask : array_like of bool, optional
        True where a position counts, of the batch shape; masked positions give 0.

    Returns
    -------
    ndarray or scalar
        One value per batch entry; float32 input gives float32 output.

    See Also
    --------
    reverse_kl_divergence : KL(q‖p).

    Examples
    --------
    >>> import kdbook
    >>> round(float(kdbook.kl_divergence([0.7, 0.2, 0.1], [0.65, 0.22, 0.13])), 4)
    0.0066
    >>> float(kdbook.kl_divergence([0.5, 0.5], [1.0, 0.0]))
    inf
    """
    return _reduce(_kl_rows, {"p": p, "q": q}, axis, base, mask)


def reverse_kl_divergence(
    p: ArrayLike, q: ArrayLike, *, axis: int = -1, base: float | None = None, mask: ArrayLike | None = None
) -> np.ndarray:
    r"""Reverse KL divergence KL(q‖p): the student q weighs the log-ratio ("mode seeking").

    .. math:: \mathrm{KL}(q \| p) = \sum_i q_i \log \frac{q_i}{p_i}

    Introduced in chapter 2. Arguments stay in teacher-first order; only the direction flips.
    ``inf`` where p_i = 0 but q_i > 0.

    Examples
    --------
    >>> import kdbook
    >>> round(float(kdbook.reverse_kl_divergence([0.7, 0.2, 0.1], [0.65, 0.22, 0.13])), 4)
    0.0069
    """
    return _reduce(lambda pp, qq: _kl_rows(qq, pp), {"p": p, "q": q}, axis, base, mask)


def js_divergence(
    p: ArrayLike, q: ArrayLike, *, axis: int = -1, base: float | None = None, mask: ArrayLike | None = None
) -> np.ndarray:
    r"""Jensen–Shannon divergence, symmetric and bounded.

    .. math:: \mathrm{JS}(p, q) = \tfrac12 \mathrm{KL}(p \| m) + \tfrac12 \mathrm{KL}(q \| m),
              \quad m = \tfrac12 (p + q)

    Introduced in chapter 2. Always finite: 0 ≤ JS ≤ log 2 (1 bit); √JS is a metric.

    Examples
    --------
    >>> import kdbook
    >>> float(kdbook.js_divergence([1.0, 0.0], [0.0, 1.0], base=2))
    1.0
    """
    return _reduce(_mixture_kl_rows, {"p": p, "q": q}, axis, base, mask, w=0.5)


def generalized_js_divergence(
    p: ArrayLike, q: ArrayLike, *, beta: float, axis: int = -1, base: float | None = None, mask: ArrayLike | None = None
) -> np.ndarray:
    r"""Generalised Jensen–Shannon divergence JSD(β) of GKD (Agarwal et al. 2024, Eq. 1).

    .. math:: \mathrm{JSD}(\beta)(p \| q) = \beta\, \mathrm{KL}(p \| m) + (1-\beta)\, \mathrm{KL}(q \| m),
              \quad m = \beta p + (1-\beta) q

    Introduced in chapter 7 (distilling language models, where GKD uses it as the per-token
    loss; ``kdbook.kd_loss(..., divergence="gjsd", beta=...)`` is its distillation loss with an
    analytic gradient). ``beta=0.5`` is :func:`js_divergence`. The value tends to 0 as
    β → 0 and as β → 1 (it is exactly 0 there); only after dividing by β (resp. 1 − β) does it
    approach forward (resp. reverse) KL. Always finite.

    Parameters
    ----------
    beta : float
        Mixture weight of p, in [0, 1].

    Examples
    --------
    >>> import kdbook
    >>> p, q = [0.7, 0.2, 0.1], [0.5, 0.3, 0.2]
    >>> bool(abs(kdbook.generalized_js_divergence(p, q, beta=0.5) - kdbook.js_divergence(p, q)) < 1e-15)
    True
    """
    b = v.check_unit_interval(beta, "beta")
    return _reduce(_mixture_kl_rows, {"p": p, "q": q}, axis, base, mask, w=b)


def skew_kl_divergence(
    p: ArrayLike, q: ArrayLike, *, alpha: float, axis: int = -1, base: float | None = None, mask: ArrayLike | None = None
) -> np.ndarray:
    r"""Skew KL divergence of DistiLLM (Ko et al. 2024): KL to a mixture that contains p.

    .. math:: \mathrm{SKL}_\alpha(p \| q) = \mathrm{KL}(p \,\|\, \alpha p + (1-\alpha) q)

    Introduced in chapter 7 (distilling language models; ``kdbook.kd_loss(...,
    divergence="skew_forward" or "skew_reverse", alpha=...)`` is its distillation loss with an
    analytic gradient). ``alpha=0`` is :func:`kl_divergence`; for ``alpha > 0`` it is
    finite even where q has no support, and ``alpha=1`` gives 0. For the skew *reverse* KL,
    KL(q ‖ (1-α)p + αq), call ``skew_kl_divergence(q, p, alpha=alpha)``.

    Parameters
    ----------
    alpha : float
        Weight of p in the mixture, in [0, 1].

    Examples
    --------
    >>> import kdbook
    >>> round(float(kdbook.skew_kl_divergence([0.5, 0.5], [1.0, 0.0], alpha=0.1)), 4)
    0.8304
    """
    a = v.check_unit_interval(alpha, "alpha")

    def kernel(pp: np.ndarray, qq: np.ndarray) -> np.ndarray:
        return _kl_to_mixture(pp, pp, qq, a, a * pp + (1.0 - a) * qq)

    return _reduce(kernel, {"p": p, "q": q}, axis, base, mask)


def total_variation(
    p: ArrayLike, q: ArrayLike, *, axis: int = -1, base: float | None = None, mask: ArrayLike | None = None
) -> np.ndarray:
    r"""Total variation distance, the largest difference in probability of any event.

    .. math:: \mathrm{TV}(p, q) = \tfrac12 \sum_i |p_i - q_i| \in [0, 1]

    Introduced in chapter 2. Pinsker's inequality links it to KL: TV ≤ √(KL(p‖q)/2) in nats.
    TV is a probability, so it has no unit: ``base`` is accepted (and validated) only so every
    divergence shares one call shape, and does not change the value.

    Examples
    --------
    >>> import kdbook
    >>> round(float(kdbook.total_variation([0.7, 0.2, 0.1], [0.5, 0.3, 0.2])), 4)
    0.2
    """
    v.check_base(base)
    return _reduce(_tv_rows, {"p": p, "q": q}, axis, None, mask)

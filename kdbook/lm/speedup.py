r"""The speed-up model of speculative decoding (Leviathan, Kalman & Matias 2023, section 3).

With i.i.d. acceptance α and γ drafted tokens a round emits on average
:math:`(1-\alpha^{\gamma+1})/(1-\alpha)` tokens per target call; if a draft pass costs c target
passes, a round costs :math:`\gamma c + 1` of them, and the modelled speed-up over plain sampling
is the ratio (Theorem 3.8). Introduced in chapter 9 (``notebooks/09_speculative_decoding.ipynb``,
sections 2 and 4); :mod:`kdbook.lm.speculative` re-exports these functions.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .. import _validate as v

__all__ = ["expected_tokens_per_call", "modelled_speedup", "best_gamma"]


def _reals(x, name: str) -> np.ndarray:
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number or an array of numbers, got {type(x).__name__}") from None
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite")
    return arr


def expected_tokens_per_call(alpha: ArrayLike, gamma: ArrayLike) -> np.ndarray:
    r"""Expected tokens a round emits for i.i.d. acceptance α and γ drafts: :math:`(1-\alpha^{\gamma+1})/(1-\alpha)`.

    Equal to γ + 1 at α = 1. Leviathan et al. 2023, Equation 1. Chapter 9, section 2.

    Examples
    --------
    >>> float(expected_tokens_per_call(0.5, 2))
    1.75
    """
    a = _reals(alpha, "alpha")
    if ((a < 0) | (a > 1)).any():
        raise ValueError("alpha must be in [0, 1]")
    g = np.asarray(gamma)
    if not np.issubdtype(g.dtype, np.integer) or (g < 0).any():
        raise ValueError("gamma must be a non-negative integer (drafted tokens per round)")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(a < 1, (1 - a ** (g + 1)) / np.where(a < 1, 1 - a, 1.0), g + 1.0)
    return out


def modelled_speedup(alpha: ArrayLike, gamma: ArrayLike, c: ArrayLike) -> np.ndarray:
    r"""Leviathan et al.'s modelled wall-time speed-up over plain sampling: :math:`\frac{1-\alpha^{\gamma+1}}{(1-\alpha)(\gamma c + 1)}`.

    c is the cost of one draft pass in target passes; a round costs γ draft passes and one
    target pass. Chapter 9, section 4.

    Examples
    --------
    >>> round(float(modelled_speedup(0.8, 4, 0.1)), 4)
    2.4011
    """
    c = _reals(c, "c")
    if (c < 0).any():
        raise ValueError("c must be >= 0 (draft cost / target cost)")
    return expected_tokens_per_call(alpha, gamma) / (np.asarray(gamma) * c + 1.0)


def best_gamma(alpha: float, c: float, *, max_gamma: int = 20) -> int:
    """The γ in 0 … ``max_gamma`` with the largest :func:`modelled_speedup` (0: do not speculate)."""
    g = np.arange(v.check_int(max_gamma, "max_gamma", minimum=1) + 1)
    return int(np.argmax(modelled_speedup(v.check_unit_interval(alpha, "alpha"), g, float(c))))

"""The temperature softmax and its logarithm.

Introduced in chapter 3 (``notebooks/03_temperature_and_soft_targets.ipynb``), following
Hinton, Vinyals & Dean (2015), Eq. 1: q_i = exp(z_i/T) / Σ_j exp(z_j/T).
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from . import _validate as v

__all__ = ["softmax", "log_softmax"]  # divide_by_temperature is shared within kdbook


def _scaled_shifted(z: ArrayLike, T: float, axis: int) -> tuple[np.ndarray, int]:
    """Return (z − max z)/T along ``axis`` (≤ 0, so exp never overflows) and the axis."""
    arr = v.as_float_array(z, "z")
    t = v.check_positive(T, "T")
    ax = v.check_axis(axis, arr.ndim)
    v.check_logits(arr, "z")
    if arr.shape[ax] == 0:
        raise ValueError(f"z has no classes: axis {axis} has length 0")
    with np.errstate(over="ignore"):  # a gap beyond the float range becomes −inf: exp gives 0
        u = arr - arr.max(axis=ax, keepdims=True)
    return divide_by_temperature(u, t), ax


def divide_by_temperature(u: np.ndarray, T: float) -> np.ndarray:
    """Scale shifted logits ``u = z − max z ≤ 0`` by 1/T in place, without overflow or NaN.

    Shifting before scaling means the maximum stays exactly 0 and nothing can overflow upwards,
    even at a tiny T where z/T itself would. Entries that overflow downwards become −inf, whose
    exp is the correct 0 (the T → 0 one-hot limit), also when T or 1/T is not representable.
    """
    if T == 1.0:
        return u
    with np.errstate(over="ignore"):
        inv = u.dtype.type(1.0 / T)  # inf when 1/T is beyond the dtype's range
        if np.isfinite(inv):
            u *= inv
        elif u.dtype.type(T) > 0:
            u /= u.dtype.type(T)
        else:  # T underflows to 0 in this dtype: every non-maximal entry is infinitely far below
            u[u < 0] = -np.inf
    return u




def log_softmax_and_softmax(x: np.ndarray, T: float) -> tuple[np.ndarray, np.ndarray]:
    """(log-softmax, softmax) of validated logits along the last axis at temperature T, in one pass.

    No validation (for kdbook's own row kernels, which validate once at the public boundary);
    the same shift-then-scale as :func:`softmax`, so both agree to the last bit.
    """
    u = divide_by_temperature(x - x.max(axis=-1, keepdims=True), T)
    e = np.exp(u)
    s = e.sum(axis=-1, keepdims=True)
    u -= np.log(s)
    e /= s
    return u, e


def log_softmax(z: ArrayLike, *, T: float = 1.0, axis: int = -1) -> np.ndarray:
    r"""Logarithm of the temperature softmax, computed stably with log-sum-exp.

    .. math:: \log q_i = z_i/T - \log \sum_j \exp(z_j/T)

    Introduced in chapter 3. Use it instead of ``np.log(softmax(z))``: it stays finite where
    the softmax underflows to 0. float32 input gives float32 output.

    Parameters
    ----------
    z : array_like
        Logits; finite.
    T : float, default 1.0
        Temperature, > 0. Larger T gives a softer distribution.
    axis : int, default -1
        The class axis.

    Examples
    --------
    >>> import kdbook
    >>> [round(float(x), 4) for x in kdbook.log_softmax([0.0, 0.0])]
    [-0.6931, -0.6931]
    """
    u, ax = _scaled_shifted(z, T, axis)
    u -= np.log(np.exp(u).sum(axis=ax, keepdims=True))
    return u


def softmax(z: ArrayLike, *, T: float = 1.0, axis: int = -1) -> np.ndarray:
    r"""Temperature softmax (Hinton et al. 2015, Eq. 1), computed stably.

    .. math:: q_i = \frac{\exp(z_i/T)}{\sum_j \exp(z_j/T)}

    Introduced in chapter 3. Shift-invariant (adding a constant to every logit changes
    nothing); T → ∞ tends to the uniform distribution, T → 0 to the one-hot argmax.
    float32 input gives float32 output.

    Parameters
    ----------
    z : array_like
        Logits; finite.
    T : float, default 1.0
        Temperature, > 0.
    axis : int, default -1
        The class axis.

    Examples
    --------
    >>> import kdbook
    >>> [round(float(x), 4) for x in kdbook.softmax([2.0, 1.0, 0.0], T=2.0)]
    [0.5065, 0.3072, 0.1863]
    """
    u, ax = _scaled_shifted(z, T, axis)
    np.exp(u, out=u)
    u /= u.sum(axis=ax, keepdims=True)
    return u


def log_softmax_rows(z: np.ndarray) -> np.ndarray:
    """Log-softmax of already valid (finite) logits along the last axis at T = 1, no validation.

    The core that kdbook's own language-model code calls where the logits come from a model
    (``kdbook.lm``); the same shift-then-log-sum-exp as :func:`log_softmax`, so both agree to the
    last bit. Learners' code should call :func:`log_softmax`, which checks its input.
    """
    u = z - z.max(axis=-1, keepdims=True)
    u -= np.log(np.exp(u).sum(axis=-1, keepdims=True))
    return u

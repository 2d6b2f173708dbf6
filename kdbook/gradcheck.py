"""Finite-difference gradient checking.

Introduced in chapter 4 (``notebooks/04_the_kd_loss.ipynb``), where the learner verifies the
analytic gradient of the distillation loss, and used again for the toy models of chapter 5.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from numpy.typing import ArrayLike

from . import _validate as v

__all__ = ["check_gradient", "numerical_gradient"]


def _scalar(value, what: str) -> float:
    arr = np.asarray(value)
    if arr.size != 1:
        raise ValueError(f"{what} must return a scalar loss, got an array of shape {arr.shape}")
    return float(arr.reshape(()))


def numerical_gradient(f: Callable[[np.ndarray], float], x: ArrayLike, *, eps: float = 1e-6) -> np.ndarray:
    r"""Central finite-difference gradient of a scalar function, in float64.

    .. math:: \hat g_i = \frac{f(x + \epsilon e_i) - f(x - \epsilon e_i)}{2\epsilon}

    Introduced in chapter 4. Costs 2·x.size evaluations of ``f``; the error is O(ε²) plus
    rounding of order (machine ε)/ε.

    Examples
    --------
    >>> import numpy as np, kdbook
    >>> [round(float(g), 4) for g in kdbook.numerical_gradient(lambda x: (x ** 2).sum(), np.array([1.0, -2.0]))]
    [2.0, -4.0]
    """
    shape = np.shape(x)
    x0 = v.as_float_array(np.atleast_1d(x), "x").astype(np.float64)
    eps = v.check_positive(eps, "eps")
    grad = np.empty_like(x0)
    flat, gflat = x0.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        up = _scalar(f(x0.reshape(shape).copy()), "f")  # f sees x's own shape (a scalar stays 0-d)
        flat[i] = old - eps
        down = _scalar(f(x0.reshape(shape).copy()), "f")
        flat[i] = old
        gflat[i] = (up - down) / (2 * eps)
    return grad.reshape(shape)


def check_gradient(
    f: Callable,
    x: ArrayLike,
    *,
    grad: Callable | None = None,
    eps: float = 1e-6,
    rtol: float | None = None,
) -> float:
    r"""Compare an analytic gradient with central finite differences; return the relative error.

    .. math:: \mathrm{err} = \frac{\max_i |g_i - \hat g_i|}{\max(\max_i |g_i|, \max_i |\hat g_i|, 10^{-12})}

    Introduced in chapter 4. ``f(x)`` returns ``(loss, gradient)``; or pass ``grad`` and let
    ``f(x)`` return the loss alone. An error below ~1e-6 (float64) means the gradient is right;
    a wrong gradient typically gives 1e-2 or more. Check at a generic point: where the true
    gradient is 0 (e.g. student = teacher), finite differences return rounding noise of about
    1e-10 and the *relative* error is meaningless.

    Parameters
    ----------
    f : callable
        ``f(x) -> (loss, grad)``, or ``f(x) -> loss`` when ``grad`` is given.
    x : array_like
        The point at which to check; float64 is used for the differences.
    grad : callable, optional
        ``grad(x) -> gradient`` when ``f`` returns the loss only.
    eps : float, default 1e-6
        Finite-difference step.
    rtol : float, optional
        If given, raise ``AssertionError`` (with the worst component named) when the error
        exceeds it.

    Returns
    -------
    float
        The max relative error between the analytic and numerical gradients.

    Examples
    --------
    >>> import numpy as np, kdbook
    >>> err = kdbook.check_gradient(lambda x: ((x ** 2).sum(), 2 * x), np.array([1.0, -2.0]))
    >>> err < 1e-8
    True
    """
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    if grad is not None and not callable(grad):
        raise TypeError(f"grad must be callable or None, got {type(grad).__name__}")
    if rtol is not None:
        rtol = v.check_positive(rtol, "rtol")
    shape = np.shape(x)
    x0 = v.as_float_array(np.atleast_1d(x), "x").astype(np.float64).reshape(shape)
    if grad is None:
        out = f(x0.copy())
        if not (isinstance(out, tuple) and len(out) == 2):
            raise TypeError("f must return (loss, gradient) when grad is not given")
        analytic = out[1]

        def value(xx):
            return f(xx.reshape(shape))[0]
    else:
        analytic = grad(x0.copy())

        def value(xx):
            return f(xx.reshape(shape))
    analytic = np.asarray(analytic, dtype=np.float64)
    if analytic.size != x0.size:
        raise ValueError(f"the analytic gradient has shape {analytic.shape}, but x has shape {shape}")
    numeric = numerical_gradient(value, x0, eps=eps).reshape(-1)
    analytic = analytic.reshape(-1)
    diff = np.abs(analytic - numeric)
    scale = max(float(np.max(np.abs(analytic))), float(np.max(np.abs(numeric))), 1e-12)
    err = float(np.max(diff) / scale)
    if not np.isfinite(err):
        raise ValueError("the gradient check produced a non-finite error: f or its gradient returned NaN or inf")
    if rtol is not None and err > rtol:
        i = int(np.argmax(diff))
        raise AssertionError(
            f"gradient check failed: relative error {err:.3g} > rtol {rtol:g}; worst at flat index {i}: "
            f"analytic {analytic[i]:.6g}, numerical {numeric[i]:.6g}"
        )
    return err

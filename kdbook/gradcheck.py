"""Finite-difference gradient checking.

Introduced in chapter 4 (``notebooks/04_the_kd_loss.ipynb``), where the learner verifies the
analytic gradient of the distillation loss, and used again for the toy models of chapter 5.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from numpy.typing import ArrayLike

from . import _validate as v

__all__ = ["check_gradient", "numerical_gradient", "check_model_gradient"]


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


def check_model_gradient(
    model,
    X: ArrayLike,
    *,
    grad_logits: ArrayLike | None = None,
    seed: int = 0,
    eps: float = 1e-6,
    rtol: float | None = None,
) -> float:
    r"""Check a model's ``backward`` end to end against finite differences in its parameters.

    .. math:: L(\theta) = \sum_{n,k} R_{nk}\, z_{nk}(\theta),\qquad
              \frac{\partial L}{\partial \theta} = \texttt{model.backward}(R)

    with R = ``grad_logits`` (random normal by default). A linear function of the logits is
    enough: by the chain rule, a backward pass that is right for every R is right for every
    loss. Works for any model following ``kdbook.protocol`` (chapter 5's MLPs, the sequence
    models of later chapters); the parameters are restored afterwards. Introduced in chapter 5.

    Parameters
    ----------
    model : kdbook.protocol.Model
        The model; checked at its current parameters.
    X : array_like
        A small batch of inputs (the cost is 2 forward passes per parameter).
    grad_logits : array_like, optional
        R, of the shape of ``model.forward(X)``; default standard normal from ``seed``.
    seed : int, default 0
        Seed of the random R.
    eps, rtol
        As in :func:`check_gradient`.

    Returns
    -------
    float
        The max relative error between ``model.backward`` and the numerical gradient.

    Examples
    --------
    >>> import numpy as np
    >>> from kdbook.gradcheck import check_model_gradient
    >>> from kdbook.classify.models import MLP
    >>> net = MLP([3, 4, 2], activation="tanh", seed=0)
    >>> check_model_gradient(net, np.random.default_rng(0).normal(size=(5, 3))) < 1e-7
    True
    """
    from .protocol import check_model

    check_model(model)
    X = model.check_input(X)
    z = np.asarray(model.forward(X))
    if grad_logits is None:
        r = v.check_rng(seed).standard_normal(z.shape)
    else:
        r = v.as_float_array(grad_logits, "grad_logits")
        if r.shape != z.shape:
            raise ValueError(f"grad_logits must have the shape of the model's logits {z.shape}, got {r.shape}")
    grads = model.backward(r.astype(z.dtype, copy=False))
    if len(grads) != len(model.params) or any(np.shape(g) != p.shape for g, p in zip(grads, model.params)):
        raise ValueError("model.backward must return one gradient per parameter, of the parameter's shape")
    analytic = np.concatenate([np.ravel(g) for g in grads]).astype(np.float64)
    saved = [p.copy() for p in model.params]
    theta0 = np.concatenate([p.ravel() for p in saved]).astype(np.float64)

    def loss(theta: np.ndarray) -> float:
        start = 0
        for p in model.params:
            p[...] = theta[start : start + p.size].reshape(p.shape)
            start += p.size
        return float(np.sum(r * model.logits(X)))

    try:
        return check_gradient(loss, theta0, grad=lambda _: analytic, eps=eps, rtol=rtol)
    finally:
        for p, old in zip(model.params, saved):
            p[...] = old

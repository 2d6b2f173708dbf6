"""A restricted student: a single-peaked distribution over the classes, fitted by grid search.

Introduced in chapter 2 (``notebooks/02_divergences.ipynb``, "Forward versus reverse KL"). A
student that *can* be any distribution ends at the teacher under forward and reverse KL alike
(Wu et al. 2024, "Rethinking KL Divergence in Knowledge Distillation for LLMs"). A student
restricted to one peak cannot match a two-peaked teacher, and then the direction decides what
it settles for: forward KL(p‖q) spreads it over both peaks ("mode covering"), reverse KL(q‖p)
puts it on one of them ("mode seeking"). The grid search evaluates every (location, width)
at once by broadcasting over leading axes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from . import _validate as v
from .divergences import kl_divergence
from .softmax import softmax

__all__ = ["SinglePeakFit", "single_peak", "fit_single_peak"]


def single_peak(location: ArrayLike, width: ArrayLike, *, n_classes: int) -> np.ndarray:
    r"""Single-peaked distributions over classes 0 … K−1 (a discretised Gaussian).

    .. math:: q_k = \frac{\exp\bigl(-(k-\mu)^2 / 2\sigma^2\bigr)}{\sum_j \exp\bigl(-(j-\mu)^2 / 2\sigma^2\bigr)}

    ``location`` (μ, any real) and ``width`` (σ > 0) broadcast against each other; the class
    axis is appended last. Computed as a softmax of the log-weights, so a narrow peak far from
    a class gives that class a tiny probability rather than a NaN. Introduced in chapter 2.

    Returns
    -------
    ndarray, shape ``broadcast(location, width).shape + (n_classes,)``

    Examples
    --------
    >>> from kdbook.restricted import single_peak
    >>> single_peak(1.0, 1.0, n_classes=3).round(4).tolist()
    [0.2741, 0.4519, 0.2741]
    """
    k = v.check_int(n_classes, "n_classes", minimum=2)
    mu = v.as_float_array(np.atleast_1d(location), "location").astype(np.float64).reshape(np.shape(location))
    sigma = v.as_float_array(np.atleast_1d(width), "width").astype(np.float64).reshape(np.shape(width))
    for arr, name in ((mu, "location"), (sigma, "width")):
        v.check_finite(arr, name)
    if np.any(sigma <= 0):
        raise ValueError(f"width must be > 0, got min {sigma.min()}")
    try:
        mu, sigma = np.broadcast_arrays(mu, sigma)
    except ValueError:
        raise ValueError(f"location and width must broadcast, got shapes {mu.shape} and {sigma.shape}") from None
    classes = np.arange(k, dtype=float)
    log_w = -((classes - mu[..., None]) ** 2) / (2.0 * sigma[..., None] ** 2)
    return softmax(log_w)


@dataclass
class SinglePeakFit:
    """The best single-peaked student on a grid, and the divergence it reaches."""

    distribution: np.ndarray  # the fitted q, shape (K,)
    location: float  # μ
    width: float  # σ
    divergence: float  # KL(p‖q) (forward) or KL(q‖p) (reverse) at the fit, in nats
    direction: str  # "forward" or "reverse"


def fit_single_peak(
    teacher: ArrayLike,
    *,
    direction: str = "forward",
    locations: ArrayLike | None = None,
    widths: ArrayLike | None = None,
) -> SinglePeakFit:
    r"""The single-peaked student closest to ``teacher`` in forward or reverse KL, by grid search.

    .. math:: \hat q = \arg\min_{\mu,\sigma} \mathrm{KL}(p\|q_{\mu,\sigma}) \ \text{(forward)} \quad\text{or}\quad \mathrm{KL}(q_{\mu,\sigma}\|p) \ \text{(reverse)}

    Every grid point is evaluated at once (``kdbook.kl_divergence`` broadcasts over the grid's
    two leading axes). Defaults: 181 locations on [0, K−1] and 120 widths spaced evenly in log
    on [0.2, 2K]. Ties go to the first grid point. Introduced in chapter 2.

    Parameters
    ----------
    teacher : array_like, shape (K,)
        The teacher's distribution p.
    direction : {"forward", "reverse"}
        "forward" minimises KL(p‖q) (mode covering), "reverse" KL(q‖p) (mode seeking).
    locations, widths : array_like, 1-D, optional
        The grid of μ and of σ (> 0).

    Examples
    --------
    >>> from kdbook.restricted import fit_single_peak, single_peak
    >>> fit = fit_single_peak(single_peak(2.0, 1.0, n_classes=5), locations=[1.0, 2.0], widths=[0.5, 1.0])
    >>> fit.location, fit.width, round(fit.divergence, 6)
    (2.0, 1.0, 0.0)
    """
    p = v.as_float_array(teacher, "teacher").astype(np.float64)
    if p.ndim != 1 or p.shape[0] < 2:
        raise ValueError(f"teacher must be 1-D with at least 2 classes, got shape {p.shape}")
    v.check_probabilities(p, "teacher", 0)
    d = v.check_choice(direction, "direction", ("forward", "reverse"))
    k = p.shape[0]
    mus = np.linspace(0.0, k - 1.0, 181) if locations is None else v.as_float_array(locations, "locations")
    sigmas = np.geomspace(0.2, 2.0 * k, 120) if widths is None else v.as_float_array(widths, "widths")
    for arr, name in ((mus, "locations"), (sigmas, "widths")):
        if arr.ndim != 1 or arr.size == 0:
            raise ValueError(f"{name} must be a non-empty 1-D grid, got shape {arr.shape}")
    if np.any(sigmas <= 0):
        raise ValueError(f"widths must be > 0, got min {sigmas.min()}")
    q = single_peak(mus[:, None], sigmas[None, :], n_classes=k)  # (len(mus), len(sigmas), K)
    values = kl_divergence(p, q) if d == "forward" else kl_divergence(q, p)
    i, j = np.unravel_index(int(np.argmin(values)), values.shape)
    return SinglePeakFit(distribution=q[i, j], location=float(mus[i]), width=float(sigmas[j]),
                         divergence=float(values[i, j]), direction=d)

"""Pearson's chi-square goodness-of-fit test, in numpy (no scipy needed).

Introduced in chapter 9 (``notebooks/09_speculative_decoding.ipynb``), which checks that samples
from speculative sampling follow the target's distribution. The workbook needs only this one
test, and scipy is neither installed for learners nor shipped by the browser site, so it is
computed here: the statistic

.. math:: X^2 = \\sum_i \\frac{(O_i - E_i)^2}{E_i}

and its p-value, the chance that a chi-square variable with ``k - 1 - ddof`` degrees of freedom
exceeds it, :math:`P(\\chi^2_\\nu > X^2) = Q(\\nu/2, X^2/2)`, the regularized upper incomplete
gamma function (a series below :math:`x < a + 1`, a continued fraction above; Numerical Recipes,
§6.2). It agrees with ``scipy.stats.chisquare`` to about 1e-12 relative (``tests/test_goodness_of_fit.py``).
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["ChiSquareResult", "chi_square_test", "chi_square_sf"]


class ChiSquareResult(NamedTuple):
    """The statistic X² and its p-value (the names scipy uses)."""

    statistic: float
    pvalue: float


def _upper_gamma_regularized(a: float, x: float) -> float:
    """Q(a, x) = Γ(a, x) / Γ(a) for a > 0, x ≥ 0."""
    if x <= 0.0:
        return 1.0
    log_front = -x + a * math.log(x) - math.lgamma(a)
    if x < a + 1.0:  # series for P(a, x), then Q = 1 − P
        term = total = 1.0 / a
        n = a
        for _ in range(10_000):
            n += 1.0
            term *= x / n
            total += term
            if abs(term) < abs(total) * 1e-16:
                break
        return max(0.0, 1.0 - total * math.exp(log_front))
    tiny = 1e-300  # continued fraction for Q(a, x), modified Lentz
    b = x + 1.0 - a
    c, d = 1.0 / tiny, 1.0 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-16:
            break
    return math.exp(log_front) * h


def chi_square_sf(statistic: float, dof: int) -> float:
    """P(χ²_dof > statistic): the survival function of the chi-square distribution.

    >>> round(chi_square_sf(3.841458820694124, 1), 6)  # the 5 % critical value for one degree
    0.05
    """
    if not isinstance(dof, (int, np.integer)) or isinstance(dof, bool) or dof < 1:
        raise ValueError(f"dof must be a positive whole number, got {dof!r}")
    statistic = float(statistic)
    if math.isnan(statistic):
        raise ValueError("statistic must be a number, got nan")
    if statistic == math.inf:
        return 0.0
    return _upper_gamma_regularized(dof / 2.0, max(statistic, 0.0) / 2.0)


def chi_square_test(observed: ArrayLike, expected: ArrayLike, *, ddof: int = 0) -> ChiSquareResult:
    """Pearson's goodness-of-fit test of counts ``observed`` against ``expected`` (chapter 9).

    ``expected`` holds expected counts (scale it to ``observed.sum()`` first); categories with an
    expected count below about 5 make the chi-square approximation poor (merge them). The degrees
    of freedom are ``k - 1 - ddof`` for ``k`` categories.

    >>> r = chi_square_test([18, 22, 20], [20, 20, 20])
    >>> round(r.statistic, 4), round(r.pvalue, 4)
    (0.4, 0.8187)
    """
    obs = np.asarray(observed, dtype=float)
    exp = np.asarray(expected, dtype=float)
    if obs.ndim != 1 or obs.size < 2:
        raise ValueError(f"observed must be a 1-D array of at least two counts, got shape {obs.shape}")
    if exp.shape != obs.shape:
        raise ValueError(f"expected must have the shape of observed {obs.shape}, got {exp.shape}")
    if not (np.isfinite(obs).all() and (obs >= 0).all()):
        raise ValueError("observed must hold finite counts >= 0")
    if not (np.isfinite(exp).all() and (exp > 0).all()):
        raise ValueError("expected must hold finite counts > 0 (merge categories with no expected count)")
    if not math.isclose(obs.sum(), exp.sum(), rel_tol=1e-8):
        raise ValueError(f"observed and expected must have the same total, got {obs.sum():g} and {exp.sum():g}")
    dof = obs.size - 1 - int(ddof)
    if dof < 1:
        raise ValueError(f"ddof={ddof} leaves {dof} degrees of freedom for {obs.size} categories")
    statistic = float(np.sum((obs - exp) ** 2 / exp))
    return ChiSquareResult(statistic, chi_square_sf(statistic, dof))

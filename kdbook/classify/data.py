"""Small synthetic data sets, generated on the fly from a seed, and the splits distillation needs.

Introduced in chapter 5 (``notebooks/05_training_a_toy_student.ipynb``). Nothing is downloaded:
every set is drawn from ``numpy.random.default_rng(seed)``, so the same seed gives the same
points on every machine. Features are float64 arrays of shape (n, d); labels are int arrays of
shape (n,) with values in [0, K). Classes are balanced (sizes differ by at most one).
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .. import _validate as v

__all__ = ["gaussian_mixture", "spirals", "train_test_split", "transfer_subset", "drop_class"]


def _balanced_labels(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """n labels in [0, k), class sizes differing by at most one, in a random order."""
    return rng.permutation(np.arange(n) % k)


def gaussian_mixture(
    n_samples: int,
    *,
    n_classes: int = 3,
    n_features: int = 2,
    components_per_class: int = 1,
    separation: float = 3.0,
    noise: float = 1.0,
    seed: int | np.random.Generator = 0,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Classes made of Gaussian blobs in ``n_features`` dimensions.

    .. math:: x = \mu_{y,c} + \sigma \varepsilon,\quad \mu_{y,c} \sim \mathcal N(0, s^2 I),\
              \ \varepsilon \sim \mathcal N(0, I)

    Each class y owns ``components_per_class`` centres μ drawn once per seed (spread ``s`` =
    ``separation``); each point picks one of its class's centres uniformly and adds isotropic
    noise of standard deviation σ = ``noise``. More components per class make the classes
    non-convex, so a small model cannot fit them as well as a large one. Introduced in chapter 5.

    Returns
    -------
    X : ndarray, shape (n_samples, n_features)
    y : ndarray of int, shape (n_samples,)

    Examples
    --------
    >>> import kdbook.classify.data as kd
    >>> X, y = kd.gaussian_mixture(6, n_classes=3, n_features=4, seed=0)
    >>> X.shape, sorted(y.tolist())
    ((6, 4), [0, 0, 1, 1, 2, 2])
    """
    n = v.check_int(n_samples, "n_samples", minimum=1)
    k = v.check_int(n_classes, "n_classes", minimum=2)
    d = v.check_int(n_features, "n_features", minimum=1)
    m = v.check_int(components_per_class, "components_per_class", minimum=1)
    s = v.check_positive(separation, "separation")
    sigma = v.check_positive(noise, "noise")
    rng = v.check_rng(seed)
    centres = rng.normal(scale=s, size=(k, m, d))
    y = _balanced_labels(n, k, rng)
    component = rng.integers(m, size=n)
    X = centres[y, component] + sigma * rng.normal(size=(n, d))
    return X, y


def spirals(
    n_samples: int, *, n_classes: int = 3, turns: float = 1.0, noise: float = 0.1, seed: int | np.random.Generator = 0
) -> tuple[np.ndarray, np.ndarray]:
    r"""Interleaved 2-D spiral arms, one per class.

    .. math:: x = r\,(\cos\theta, \sin\theta) + \sigma\varepsilon,\quad r \sim U(0.1, 1),\
              \ \theta = 2\pi(\mathrm{turns}\cdot r + y/K)

    Introduced in chapter 5 for decision-region plots: a linear model cannot separate the arms.

    Examples
    --------
    >>> import kdbook.classify.data as kd
    >>> X, y = kd.spirals(9, seed=1)
    >>> X.shape, sorted(set(y.tolist()))
    ((9, 2), [0, 1, 2])
    """
    n = v.check_int(n_samples, "n_samples", minimum=1)
    k = v.check_int(n_classes, "n_classes", minimum=2)
    t = v.check_positive(turns, "turns")
    sigma = v.check_positive(noise, "noise")
    rng = v.check_rng(seed)
    y = _balanced_labels(n, k, rng)
    r = rng.uniform(0.1, 1.0, size=n)
    theta = 2 * np.pi * (t * r + y / k)
    X = r[:, None] * np.stack([np.cos(theta), np.sin(theta)], axis=1) + sigma * rng.normal(size=(n, 2))
    return X, y


def _check_xy(X: ArrayLike, y: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    X = v.check_features(X, "X")
    labels = np.asarray(y)
    if labels.ndim != 1:
        raise ValueError(f"y must be 1-D (one label per example), got shape {labels.shape}")
    n_classes = int(labels.max()) + 1 if labels.size and labels.dtype.kind in "iu" else 1
    labels = v.check_labels(labels, (X.shape[0],), max(n_classes, 1), "y")
    return X, labels


def _stratified_take(y: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of a stratified random sample: round(fraction·n_c) of each class, at least 1."""
    picked = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        take = min(len(idx), max(1, int(round(fraction * len(idx)))))
        picked.append(rng.choice(idx, size=take, replace=False))
    return np.sort(np.concatenate(picked))


def train_test_split(
    X: ArrayLike, y: ArrayLike, *, test_fraction: float = 0.25, seed: int | np.random.Generator = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Stratified random split into ``(X_train, X_test, y_train, y_test)``.

    Each class contributes ``round(test_fraction · n_c)`` (at least one) examples to the test
    set, so class proportions are the same on both sides. Introduced in chapter 5.

    Examples
    --------
    >>> import kdbook.classify.data as kd
    >>> X, y = kd.gaussian_mixture(100, n_classes=2, seed=0)
    >>> X_tr, X_te, y_tr, y_te = kd.train_test_split(X, y, test_fraction=0.2, seed=0)
    >>> len(y_tr), len(y_te), int(y_te.sum())
    (80, 20, 10)
    """
    X, y = _check_xy(X, y)
    f = v.check_unit_interval(test_fraction, "test_fraction")
    if not 0.0 < f < 1.0:
        raise ValueError(f"test_fraction must be strictly between 0 and 1, got {f}")
    test = np.zeros(len(y), dtype=bool)
    test[_stratified_take(y, f, v.check_rng(seed))] = True
    return X[~test], X[test], y[~test], y[test]


def transfer_subset(
    X: ArrayLike, y: ArrayLike, *, fraction: float, seed: int | np.random.Generator = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A small stratified random subset ``(X_s, y_s)``: a tiny transfer set for distillation.

    Hinton, Vinyals & Dean (2015, §6) trained on 3 % of the data (``fraction=0.03``). Every
    class keeps ``round(fraction · n_c)`` examples, at least one. Introduced in chapter 5.

    Examples
    --------
    >>> import kdbook.classify.data as kd
    >>> X, y = kd.gaussian_mixture(1000, n_classes=4, seed=0)
    >>> X_s, y_s = kd.transfer_subset(X, y, fraction=0.03, seed=0)
    >>> len(y_s), [int((y_s == c).sum()) for c in range(4)]
    (32, [8, 8, 8, 8])
    """
    X, y = _check_xy(X, y)
    f = v.check_unit_interval(fraction, "fraction")
    if f == 0.0:
        raise ValueError("fraction must be > 0, got 0.0")
    keep = _stratified_take(y, f, v.check_rng(seed))
    return X[keep], y[keep]


def drop_class(X: ArrayLike, y: ArrayLike, label: int) -> tuple[np.ndarray, np.ndarray]:
    """Remove every example of class ``label``: a transfer set that never shows that class.

    Hinton, Vinyals & Dean (2015) removed every "3" from MNIST's transfer set and found the
    distilled student still recognised 3s from the teacher's soft targets. The remaining labels
    keep their values (class ``label`` is simply absent). Introduced in chapter 5.

    Examples
    --------
    >>> import kdbook.classify.data as kd
    >>> X, y = kd.gaussian_mixture(9, n_classes=3, seed=0)
    >>> X_d, y_d = kd.drop_class(X, y, 1)
    >>> len(y_d), sorted(set(y_d.tolist()))
    (6, [0, 2])
    """
    X, y = _check_xy(X, y)
    c = v.check_int(label, "label")
    if not np.any(y == c):
        raise ValueError(f"label {c} does not occur in y (classes present: {np.unique(y).tolist()})")
    keep = y != c
    return X[keep], y[keep]

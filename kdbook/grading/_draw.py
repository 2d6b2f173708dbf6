"""Random inputs the checks draw for themselves (private)."""
from __future__ import annotations

import numpy as np

__all__ = ["probs", "logits", "with_zero_where_positive"]


def probs(rng: np.random.Generator, shape: tuple[int, ...], *, zeros: float = 0.0) -> np.ndarray:
    """Dirichlet(1) rows along the last axis; a fraction ``zeros`` of entries set to exactly 0.

    The largest entry of every row is always kept, so no row is all zeros.
    """
    x = rng.gamma(1.0, size=shape) + 1e-3
    if zeros > 0:
        mask = rng.random(shape) < zeros
        np.put_along_axis(mask, x.argmax(axis=-1)[..., None], False, axis=-1)
        x[mask] = 0.0
    return x / x.sum(axis=-1, keepdims=True)


def logits(rng: np.random.Generator, shape: tuple[int, ...], *, scale: float = 2.0) -> np.ndarray:
    """Normal logits with standard deviation ``scale``."""
    return rng.normal(0.0, scale, size=shape)


def with_zero_where_positive(rng: np.random.Generator, p: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]]:
    """A copy of a positive distribution ``q`` with one entry zeroed where ``p`` is positive.

    Returns (q, index of the zeroed entry). Use it to check that KL(p‖q) is ``inf``.
    """
    q = probs(rng, p.shape)
    flat = np.argwhere(p > 0)
    idx = tuple(int(i) for i in flat[rng.integers(len(flat))])
    q[idx] = 0.0
    q /= q.sum(axis=-1, keepdims=True)
    return q, idx

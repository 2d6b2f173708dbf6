"""Perturb a model's initial weights on request, to measure how much printed results move (private).

``KDBOOK_PERTURB=<relative size>`` (e.g. ``1e-12``) makes every kdbook model initialiser
(:class:`kdbook.classify.models.MLP`, :class:`kdbook.lm.WindowLM`) multiply each initial weight array by
``1 + size * eps``, ``eps ~ N(0, 1)``, elementwise. ``eps`` comes from a generator with a fixed
seed of its own, created afresh for every model, so the model's seed stream is not touched: a
perturbed model draws exactly what it would draw unperturbed, and a cell re-run alone gets the
same perturbation. Unset, empty or ``0``: the weights are left alone (bit for bit).

``python3 workbook.py spread`` sets it (1e-12 and 1e-9) to measure the spread of every printed
number of a tolerant notebook cell; see the README's contributor section.
"""
from __future__ import annotations

import math
import os
from collections.abc import Iterable

import numpy as np

ENV = "KDBOOK_PERTURB"
#: Seed of the perturbation generator (independent of every model seed).
SEED = 20261207


def perturb_size() -> float:
    """The relative size asked for in ``KDBOOK_PERTURB`` (0.0 when unset or empty)."""
    raw = os.environ.get(ENV, "").strip()
    if not raw:
        return 0.0
    try:
        size = float(raw)
    except ValueError:
        raise ValueError(f"{ENV} must be a relative size such as 1e-12, got {raw!r}") from None
    if not math.isfinite(size) or size < 0:
        raise ValueError(f"{ENV} must be a finite number >= 0 such as 1e-12, got {raw!r}")
    return size


def perturb_initial(arrays: Iterable[np.ndarray]) -> None:
    """Multiply each array in place by ``1 + size * eps`` when ``KDBOOK_PERTURB`` asks for it.

    Called by every model initialiser on its freshly drawn weights (zero-initialised biases may
    be passed too: they stay 0).
    """
    size = perturb_size()
    if size == 0.0:
        return
    rng = np.random.default_rng(SEED)
    for arr in arrays:
        arr *= 1.0 + size * rng.standard_normal(arr.shape)

"""kdbook: a course workbook on knowledge distillation and the KL-divergence loss.

The top-level namespace holds the numerical core (divergences, the temperature softmax, the
distillation loss and gradient checking). Plotting and widgets live in ``kdbook.plotting`` and
``kdbook.widgets`` and are imported on first use, so ``import kdbook`` stays fast.
"""
from __future__ import annotations

import importlib

from .divergences import (
    cross_entropy,
    entropy,
    generalized_js_divergence,
    js_divergence,
    kl_divergence,
    reverse_kl_divergence,
    skew_kl_divergence,
    total_variation,
)
from .gradcheck import check_gradient, check_model_gradient, numerical_gradient
from .losses import kd_loss, kd_loss_and_grad
from .softmax import log_softmax, softmax

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "softmax",
    "log_softmax",
    "entropy",
    "cross_entropy",
    "kl_divergence",
    "reverse_kl_divergence",
    "js_divergence",
    "generalized_js_divergence",
    "skew_kl_divergence",
    "total_variation",
    "kd_loss",
    "kd_loss_and_grad",
    "check_gradient",
    "check_model_gradient",
    "numerical_gradient",
]

_LAZY_SUBMODULES = {
    "plotting", "widgets", "data", "models", "optim", "train", "calibration", "evaluation", "protocol", "threads",
    "states",
    "conventions", "environment", "grading", "exercises", "restricted",
    "language", "sequences", "lm", "decoding", "lm_evaluation", "topk", "next_token",
}


def __getattr__(name: str):
    """Import heavy submodules (matplotlib, ipywidgets) only when first used."""
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'kdbook' has no attribute {name!r}")

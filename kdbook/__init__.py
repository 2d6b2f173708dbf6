"""kdbook: a course workbook on knowledge distillation and the KL-divergence loss.

The top-level namespace holds the numerical core (divergences, the temperature softmax, the
distillation loss and gradient checking). Everything else is imported on first use, so ``import
kdbook`` stays fast: training (``kdbook.train``), the classifiers of chapter 5
(``kdbook.classify``), the language models of chapters 6–9 (``kdbook.lm``), plotting and widgets
(``kdbook.plotting``, ``kdbook.widgets``), the exercise checker and the batch grader
(``kdbook.grading``, ``kdbook.grade``). docs/package_map.md draws the whole package.
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

#: Public submodules, imported on first attribute access (``kdbook.lm``, ``kdbook.train``, …).
_LAZY_SUBMODULES = {
    "lm", "classify", "plotting", "widgets", "grading", "grade", "exercises",
    "train", "evaluation", "optim", "protocol", "progress", "threads", "states", "calibration",
    "conventions", "environment", "restricted", "softmax", "divergences", "losses", "gradcheck", "goodness_of_fit",
}


def __getattr__(name: str):
    """Import heavy submodules (matplotlib, ipywidgets) only when first used; old module paths
    (``kdbook.language``, ``kdbook.models``, …) still resolve, with a DeprecationWarning."""
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    from ._moved import MOVED

    if name in MOVED:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'kdbook' has no attribute {name!r}")


if "IPython" in __import__("sys").modules:  # in a notebook: record cell runs, so check() sees failed answers
    importlib.import_module(".grading._stale", __name__).install()

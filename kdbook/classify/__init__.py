"""The classifier half of kdbook: the toy data sets and models of chapter 5.

==========  ================================================================================
``data``    toy classification data (Gaussian mixtures, spirals), splits and transfer sets
``models``  :class:`MLP` and softmax regression in numpy, with hand-written backward passes
==========  ================================================================================

Training and evaluation are shared with the language models: ``kdbook.train``,
``kdbook.evaluation``.
"""
from __future__ import annotations

import importlib

from .models import MLP, parameter_count, shift_class_bias, softmax_regression

__all__ = ["MLP", "softmax_regression", "parameter_count", "shift_class_bias"]

SUBMODULES = ("data", "models")


def __getattr__(name: str):
    if name in SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'kdbook.classify' has no attribute {name!r}")

"""The model protocol: what ``kdbook.train``, ``kdbook.train.evaluate`` and ``check_gradient``
need from a model (introduced in chapter 5, used by the sequence models of chapters 6-8).

A model is any object with

``params``
    a list of float arrays, updated in place by the optimisers in ``kdbook.optim``;
``n_classes``
    the size of the class (vocabulary) axis of its logits;
``check_input(X)``
    returns ``X`` validated as an array (clear ``ValueError``/``TypeError`` naming ``X``
    otherwise); the first axis of ``X`` indexes examples (rows of features, or sequences);
``forward(X)``
    logits of shape ``(*batch_shape, n_classes)``, keeping what ``backward`` needs;
    ``batch_shape`` is ``(n,)`` for a classifier and ``(n, L)`` for a sequence model;
``backward(grad_logits)``
    the gradients of the loss with respect to ``params`` (same order and shapes), given the
    gradient with respect to the logits of the last ``forward``;
``logits(X)``
    the same logits as ``forward`` without keeping anything.

Labels, teacher logits and masks handed to ``train`` have the model's ``batch_shape`` (plus the
class axis for teacher logits) and are sliced along the first axis into mini-batches.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["Model", "check_model"]


@runtime_checkable
class Model(Protocol):
    """Structural type of a trainable kdbook model (see the module docstring)."""

    params: list[np.ndarray]

    @property
    def n_classes(self) -> int: ...

    def check_input(self, X: ArrayLike) -> np.ndarray: ...

    def forward(self, X: ArrayLike) -> np.ndarray: ...

    def backward(self, grad_logits: ArrayLike) -> list[np.ndarray]: ...

    def logits(self, X: ArrayLike) -> np.ndarray: ...


_REQUIRED = ("params", "n_classes", "check_input", "forward", "backward", "logits")


def check_model(model, name: str = "model") -> None:
    """Require an object that follows :class:`Model`; the ``TypeError`` names what is missing.

    Examples
    --------
    >>> from kdbook.classify.models import MLP
    >>> from kdbook.protocol import check_model
    >>> check_model(MLP([2, 3]))
    >>> check_model("net")
    Traceback (most recent call last):
    ...
    TypeError: model must follow the kdbook model protocol (kdbook.protocol.Model): str has no params, n_classes, check_input, forward, backward, logits
    """
    missing = [attr for attr in _REQUIRED if not hasattr(model, attr)]
    if missing:
        raise TypeError(
            f"{name} must follow the kdbook model protocol (kdbook.protocol.Model): "
            f"{type(model).__name__} has no {', '.join(missing)}"
        )
    params = model.params
    if not isinstance(params, list) or not all(isinstance(p, np.ndarray) and p.dtype.kind == "f" for p in params):
        raise TypeError(f"{name}.params must be a list of float numpy arrays (updated in place by kdbook.optim)")
    k = model.n_classes
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise TypeError(f"{name}.n_classes must be a positive int, got {k!r}")

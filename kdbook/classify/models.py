"""A tiny numpy multilayer perceptron with explicit forward and backward passes.

Introduced in chapter 5 (``notebooks/05_training_a_toy_student.ipynb``), where a large MLP is the
teacher and a much smaller one the student. Softmax regression is the MLP with no hidden layer.
Every layer is affine, ``h_{l+1} = act(h_l W_l + b_l)``, with no activation after the last
layer: the model returns *logits*, and the loss (``kdbook.kd_loss_and_grad``) supplies the
gradient with respect to them, which :meth:`MLP.backward` carries back to every weight.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from numpy.typing import ArrayLike

from .. import _validate as v
from .._perturb import perturb_initial

__all__ = ["MLP", "softmax_regression", "parameter_count", "shift_class_bias", "ACTIVATIONS"]

#: Hidden-layer activations accepted by :class:`MLP`.
ACTIVATIONS = ("relu", "tanh")


class MLP:
    r"""Fully connected network returning logits, with a hand-written backward pass.

    .. math:: h_0 = x,\quad h_{l+1} = \phi(h_l W_l + b_l)\ (l < L-1),\quad z = h_{L-1} W_{L-1} + b_{L-1}

    Introduced in chapter 5. Weights start as N(0, g²/fan_in) with g² = 2 for ReLU (He et al.)
    and 1 for tanh; biases start at 0. ``params`` is the list ``[W_0, b_0, W_1, b_1, ...]``
    (W_l of shape (fan_in, fan_out)), updated in place by the optimisers in ``kdbook.optim``.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths ``[n_features, hidden_1, ..., n_classes]``; two entries is softmax
        regression.
    activation : {"relu", "tanh"}
        Hidden-layer nonlinearity φ.
    seed : int or numpy.random.Generator
        Seed for the initial weights.

    Examples
    --------
    >>> import numpy as np
    >>> from kdbook.classify.models import MLP
    >>> net = MLP([2, 8, 3], seed=0)
    >>> net.forward(np.zeros((4, 2))).shape, net.n_params
    ((4, 3), 51)
    """

    def __init__(self, sizes: Sequence[int], *, activation: str = "relu", seed: int | np.random.Generator = 0):
        if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__"):
            raise TypeError(f"sizes must be a sequence of ints, got {type(sizes).__name__}")
        if len(sizes) < 2:
            raise ValueError(f"sizes needs at least [n_features, n_classes], got {list(sizes)}")
        self.sizes = tuple(v.check_int(s, f"sizes[{i}]", minimum=1) for i, s in enumerate(sizes))
        if self.sizes[-1] < 2:
            raise ValueError(f"the last size is the number of classes and must be >= 2, got {self.sizes[-1]}")
        self.activation = v.check_choice(activation, "activation", ACTIVATIONS)
        rng = v.check_rng(seed)
        gain = 2.0 if activation == "relu" else 1.0
        self.params: list[np.ndarray] = []
        for fan_in, fan_out in zip(self.sizes[:-1], self.sizes[1:]):
            self.params.append(rng.normal(scale=np.sqrt(gain / fan_in), size=(fan_in, fan_out)))
            self.params.append(np.zeros(fan_out))
        perturb_initial(self.params)  # KDBOOK_PERTURB: measuring output spread (kdbook/_perturb.py)
        self._cache: list[np.ndarray] | None = None

    @property
    def n_params(self) -> int:
        """Number of trainable numbers (weights and biases): :func:`parameter_count` of the MLP."""
        return parameter_count(self)

    @property
    def n_classes(self) -> int:
        """Width of the output layer."""
        return self.sizes[-1]

    def __repr__(self) -> str:
        return f"MLP(sizes={list(self.sizes)}, activation={self.activation!r}, n_params={self.n_params})"

    def check_input(self, X: ArrayLike) -> np.ndarray:
        """``X`` as a finite float array of shape (n, n_features); a clear error naming ``X`` otherwise."""
        X = v.check_features(X, "X")
        if X.shape[1] != self.sizes[0]:
            raise ValueError(f"X must have {self.sizes[0]} features (columns) for this model, got {X.shape[1]}")
        return X

    _check_input = check_input  # the name before the model protocol

    def _act(self, a: np.ndarray) -> np.ndarray:
        return np.maximum(a, 0.0) if self.activation == "relu" else np.tanh(a)

    def _run(self, X: ArrayLike, keep: bool) -> np.ndarray:
        h = self.check_input(X)
        cache = [h]
        n_layers = len(self.params) // 2
        for layer in range(n_layers):
            W, b = self.params[2 * layer], self.params[2 * layer + 1]
            h = h @ W + b
            if layer < n_layers - 1:
                h = self._act(h)
                if keep:
                    cache.append(h)
        if keep:
            self._cache = cache
        return h

    def logits(self, X: ArrayLike) -> np.ndarray:
        """Logits for ``X`` of shape (n, n_features), without keeping anything for a backward pass."""
        return self._run(X, keep=False)

    __call__ = logits

    def forward(self, X: ArrayLike) -> np.ndarray:
        """Logits for ``X``, keeping each layer's input for the next :meth:`backward`."""
        return self._run(X, keep=True)

    def backward(self, grad_logits: ArrayLike) -> list[np.ndarray]:
        r"""Gradients of the loss w.r.t. ``params``, given ∂L/∂z from the loss.

        .. math:: \frac{\partial L}{\partial W_l} = h_l^\top \delta_l,\quad
                  \frac{\partial L}{\partial b_l} = \textstyle\sum_n \delta_l,\quad
                  \delta_{l-1} = (\delta_l W_l^\top) \odot \phi'(h_l)

        with φ'(h) = 1[h > 0] for ReLU and 1 − h² for tanh (both written in terms of the
        layer's output h). Uses the activations kept by the last :meth:`forward`.
        """
        if self._cache is None:
            raise RuntimeError("call forward(X) before backward(grad_logits)")
        g = v.as_float_array(grad_logits, "grad_logits")
        n = self._cache[0].shape[0]
        if g.shape != (n, self.n_classes):
            raise ValueError(f"grad_logits must have shape {(n, self.n_classes)} (as the last forward's logits), got {g.shape}")
        grads: list[np.ndarray] = [np.empty(0)] * len(self.params)
        for layer in range(len(self.params) // 2 - 1, -1, -1):
            h = self._cache[layer]
            grads[2 * layer] = h.T @ g
            grads[2 * layer + 1] = g.sum(axis=0)
            if layer > 0:
                g = g @ self.params[2 * layer].T
                g *= (h > 0) if self.activation == "relu" else (1.0 - h * h)
        return grads

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Predicted class (argmax of the logits) for each row of ``X``."""
        return self.logits(X).argmax(axis=-1)

    def copy(self) -> "MLP":
        """An independent copy (same sizes, activation and parameter values)."""
        new = MLP.__new__(MLP)
        new.sizes, new.activation = self.sizes, self.activation
        new.params = [p.copy() for p in self.params]
        new._cache = None
        return new


def softmax_regression(n_features: int, n_classes: int, *, seed: int | np.random.Generator = 0) -> MLP:
    r"""Multinomial logistic regression: the MLP with no hidden layer, z = xW + b.

    Introduced in chapter 5 as the smallest possible student.

    Examples
    --------
    >>> from kdbook.classify.models import softmax_regression
    >>> softmax_regression(2, 3).n_params
    9
    """
    return MLP([n_features, n_classes], seed=seed)


def parameter_count(model) -> int:
    """Number of trainable numbers in ``model``: the total size of ``model.params``.

    For an MLP that is Σ_l (fan_in_l + 1)·fan_out_l. Works for any model following the kdbook
    model protocol (``kdbook.protocol``). Introduced in chapter 5 to compare teacher and
    student sizes.

    Examples
    --------
    >>> from kdbook.classify.models import MLP, parameter_count
    >>> parameter_count(MLP([2, 64, 64, 3]))
    4547
    """
    params = getattr(model, "params", None)
    if not isinstance(params, list) or not all(isinstance(p, np.ndarray) for p in params):
        raise TypeError(f"model must have params, a list of numpy arrays (as kdbook models do), got {type(model).__name__}")
    return int(sum(p.size for p in params))


def shift_class_bias(model: MLP, label: int, shift: float) -> MLP:
    """A copy of ``model`` whose output bias for class ``label`` is raised by ``shift``.

    Adding s to b_c multiplies the odds of class c against every other class by e^s. Hinton,
    Vinyals & Dean (2015) used this to recover the "3"s a distilled student never saw in its
    transfer set. Introduced in chapter 5.

    Examples
    --------
    >>> import numpy as np
    >>> from kdbook.classify.models import MLP, shift_class_bias
    >>> net = MLP([2, 3], seed=0)
    >>> moved = shift_class_bias(net, 1, 2.0)
    >>> (moved.logits(np.ones((1, 2))) - net.logits(np.ones((1, 2)))).round(4).tolist()
    [[0.0, 2.0, 0.0]]
    """
    if not isinstance(model, MLP):
        raise TypeError(f"model must be a kdbook.classify.models.MLP, got {type(model).__name__}")
    c = v.check_int(label, "label")
    if c >= model.n_classes:
        raise ValueError(f"label must be in [0, {model.n_classes - 1}] for this model, got {c}")
    s = v.as_real(shift, "shift")
    new = model.copy()
    new.params[-1][c] += s
    return new

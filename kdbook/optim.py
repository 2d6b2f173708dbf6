"""Gradient-descent optimisers that update a model's parameter arrays in place.

Introduced in chapter 5 (``notebooks/05_training_a_toy_student.ipynb``). Both take the list of
parameter arrays (``model.params``) once, then ``step(grads)`` with gradients in the same order
and shapes, as ``kdbook.classify.models.MLP.backward`` returns them.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from . import _validate as v

__all__ = ["SGD", "Adam"]


class _Optimizer:
    """Shared bookkeeping: the parameter list, decoupled weight decay and gradient checks."""

    def __init__(self, params: Sequence[np.ndarray], lr: float, weight_decay: float):
        if isinstance(params, np.ndarray) or not isinstance(params, (list, tuple)):
            raise TypeError(f"params must be a list of numpy arrays (e.g. model.params), got {type(params).__name__}")
        if not params or not all(isinstance(p, np.ndarray) and p.dtype.kind == "f" for p in params):
            raise TypeError("params must be a non-empty list of float numpy arrays (e.g. model.params)")
        self.params = list(params)
        self.lr = v.check_positive(lr, "lr")
        self.weight_decay = float(weight_decay) if weight_decay == 0 else v.check_positive(weight_decay, "weight_decay")
        self.steps = 0

    def _check(self, grads: Sequence[np.ndarray]) -> list[np.ndarray]:
        if len(grads) != len(self.params):
            raise ValueError(f"grads must have one array per parameter ({len(self.params)}), got {len(grads)}")
        out = []
        for i, (p, g) in enumerate(zip(self.params, grads)):
            g = np.asarray(g)
            if g.shape != p.shape:
                raise ValueError(f"grads[{i}] must have shape {p.shape} (as params[{i}]), got {g.shape}")
            if not np.all(np.isfinite(g)):
                raise ValueError(f"grads[{i}] contains NaN or inf: the loss diverged (try a smaller lr)")
            out.append(g)
        self.steps += 1
        return out

    def _decay(self) -> None:
        if self.weight_decay:
            for p in self.params:
                p *= 1.0 - self.lr * self.weight_decay


class SGD(_Optimizer):
    r"""Stochastic gradient descent with (heavy-ball) momentum.

    .. math:: m \leftarrow \mu m + g,\qquad \theta \leftarrow \theta - \eta m

    Introduced in chapter 5. ``momentum=0`` is plain gradient descent. ``weight_decay`` λ is
    decoupled: θ ← (1 − ηλ)θ before the step.

    Examples
    --------
    >>> import numpy as np
    >>> from kdbook.optim import SGD
    >>> w = np.array([1.0])
    >>> opt = SGD([w], lr=0.1, momentum=0.0)
    >>> opt.step([2 * w]); w.round(4).tolist()
    [0.8]
    """

    def __init__(self, params: Sequence[np.ndarray], *, lr: float = 0.1, momentum: float = 0.9, weight_decay: float = 0.0):
        super().__init__(params, lr, weight_decay)
        self.momentum = v.check_unit_interval(momentum, "momentum")
        self._velocity = [np.zeros_like(p) for p in self.params]

    def step(self, grads: Sequence[np.ndarray]) -> None:
        """Apply one update in place."""
        grads = self._check(grads)
        self._decay()
        for p, g, m in zip(self.params, grads, self._velocity):
            m *= self.momentum
            m += g
            p -= self.lr * m


class Adam(_Optimizer):
    r"""Adam (Kingma & Ba 2015): per-parameter steps scaled by running gradient moments.

    .. math:: m \leftarrow \beta_1 m + (1-\beta_1) g,\ \ s \leftarrow \beta_2 s + (1-\beta_2) g^2,\ \
              \theta \leftarrow \theta - \eta\, \frac{m / (1-\beta_1^t)}{\sqrt{s / (1-\beta_2^t)} + \epsilon}

    Introduced in chapter 5. ``weight_decay`` is decoupled as in AdamW.

    Examples
    --------
    >>> import numpy as np
    >>> from kdbook.optim import Adam
    >>> w = np.array([1.0, -1.0])
    >>> opt = Adam([w], lr=0.1)
    >>> opt.step([np.array([3.0, -0.01])]); w.round(4).tolist()
    [0.9, -0.9]
    """

    def __init__(
        self,
        params: Sequence[np.ndarray],
        *,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ):
        super().__init__(params, lr, weight_decay)
        if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
            raise TypeError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        self.beta1 = v.check_unit_interval(betas[0], "betas[0]")
        self.beta2 = v.check_unit_interval(betas[1], "betas[1]")
        if self.beta1 == 1.0 or self.beta2 == 1.0:
            raise ValueError(f"betas must be < 1 (a beta of 1 never updates the moment), got {tuple(betas)}")
        self.eps = v.check_positive(eps, "eps")
        self._m = [np.zeros_like(p) for p in self.params]
        self._s = [np.zeros_like(p) for p in self.params]

    def step(self, grads: Sequence[np.ndarray]) -> None:
        """Apply one update in place."""
        grads = self._check(grads)
        self._decay()
        t = self.steps
        c1, c2 = 1.0 - self.beta1**t, 1.0 - self.beta2**t
        for p, g, m, s in zip(self.params, grads, self._m, self._s):
            m *= self.beta1
            m += (1.0 - self.beta1) * g
            s *= self.beta2
            s += (1.0 - self.beta2) * (g * g)
            p -= self.lr * (m / c1) / (np.sqrt(s / c2) + self.eps)

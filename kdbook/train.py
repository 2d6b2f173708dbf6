"""Train a kdbook MLP on hard labels, on a teacher's soft targets, or on both, and evaluate it.

Introduced in chapter 5 (``notebooks/05_training_a_toy_student.ipynb``). The loss and its
gradient with respect to the student's logits come from ``kdbook.kd_loss_and_grad`` (chapter 4):
hard labels only is ``hard_weight=1``, pure distillation ``hard_weight=0``, and anything between
is Hinton, Vinyals & Dean's (2015) combined objective. The loop is deterministic for a seed (the
seed only orders the mini-batches; the model's initial weights come from its own seed).
"""
from __future__ import annotations

import contextlib

import numpy as np
from numpy.typing import ArrayLike

from . import _validate as v
from .calibration import expected_calibration_error
from .losses import DIVERGENCES, kd_loss, kd_loss_and_grad
from .models import MLP
from .optim import SGD, Adam
from .softmax import softmax

__all__ = ["train", "evaluate", "HISTORY_KEYS", "PROGRESS_MIN_STEPS"]

#: Keys of the history :func:`train` returns (the ``eval_*`` ones only with ``eval_set``).
HISTORY_KEYS = ("epoch", "train_loss", "train_accuracy", "eval_accuracy", "eval_kl", "eval_ece")
#: With ``progress=None``, runs of at least this many optimiser steps show a bar in a notebook.
PROGRESS_MIN_STEPS = 2000


def evaluate(
    model: MLP, X: ArrayLike, labels: ArrayLike, *, teacher_logits: ArrayLike | None = None, n_bins: int = 15
) -> dict[str, float]:
    r"""Accuracy, calibration error and (with a teacher) KL(teacher ‖ student) of ``model`` on ``X``.

    .. math:: \mathrm{KL} = \frac1n \sum_n \mathrm{KL}\bigl(\mathrm{softmax}(v_n) \,\|\, \mathrm{softmax}(z_n)\bigr)

    at T = 1 (``kdbook.kd_loss`` with its default batch mean). Introduced in chapter 5.

    Returns
    -------
    dict
        ``accuracy``, ``ece`` (:func:`kdbook.calibration.expected_calibration_error`) and, if
        ``teacher_logits`` is given, ``kl_to_teacher`` (nats per example).

    Examples
    --------
    >>> import numpy as np
    >>> from kdbook.models import MLP
    >>> from kdbook.train import evaluate
    >>> net = MLP([2, 3], seed=0)
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> evaluate(net, X, net.predict(X), teacher_logits=net.logits(X))["kl_to_teacher"]
    0.0
    """
    if not isinstance(model, MLP):
        raise TypeError(f"model must be a kdbook.models.MLP, got {type(model).__name__}")
    z = model.logits(X)
    y = v.check_labels(labels, (z.shape[0],), z.shape[1])
    out = {
        "accuracy": float(np.mean(z.argmax(axis=-1) == y)),
        "ece": expected_calibration_error(softmax(z), y, n_bins=n_bins),
    }
    if teacher_logits is not None:
        out["kl_to_teacher"] = float(kd_loss(z, _teacher(teacher_logits, z.shape, "teacher_logits")))
    return out


def _teacher(t: ArrayLike, shape: tuple[int, ...], name: str) -> np.ndarray:
    t = v.as_float_array(t, name)
    if t.shape != shape:
        raise ValueError(f"{name} must have shape {shape} (one row of logits per example), got {t.shape}")
    v.check_logits(t, name)
    return t


_blas_controller = None


def _one_blas_thread():
    """Run BLAS single-threaded while training (a context manager; a no-op without threadpoolctl).

    The toy models' matrices are small: a second BLAS thread gains little on an idle machine,
    and on a busy one (parallel tests, a notebook kernel's own threads) spinning BLAS threads
    slowed training ten-fold in our measurements.
    """
    global _blas_controller
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # optional: training is correct either way, only its speed differs
        return contextlib.nullcontext()
    if _blas_controller is None:
        _blas_controller = ThreadpoolController()
    return _blas_controller.limit(limits=1, user_api="blas")


def _in_notebook_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipykernel
        return False
    shell = get_ipython()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


class _Progress:
    """An ipywidgets bar that fills while training and turns green when done, followed by a line
    of text ("training: 400 of 400 epochs done") when training ends.

    The bar is displayed with an empty text fallback, so a saved notebook opened where widgets
    do not render shows only the summary of the finished run, not a bar stuck at its first
    state. (A display update replacing the bar would be stored by nbclient but not seen by
    nbval, so the two would never agree.)
    """

    def __init__(self, total: int, show: bool):
        self.bar = None
        if show:
            import ipywidgets
            from IPython.display import display

            self.bar = ipywidgets.IntProgress(value=0, min=0, max=total, description="training")
            display({**self.bar._repr_mimebundle_(), "text/plain": ""}, raw=True)

    def update(self, epoch: int) -> None:
        if self.bar is not None:
            self.bar.value = epoch

    def summary(self) -> str:
        """The line shown under the bar when training ends (or stops early)."""
        done, total = self.bar.value, self.bar.max
        if done == total:
            return f"training: {total} of {total} epochs done"
        return f"training stopped after {done} of {total} epochs"

    def close(self) -> None:
        if self.bar is not None:
            from IPython.display import display

            self.bar.bar_style = "success" if self.bar.value == self.bar.max else "danger"
            display({"text/plain": self.summary()}, raw=True)


def _make_optimizer(optimizer, params, lr: float, weight_decay: float):
    if isinstance(optimizer, (SGD, Adam)):
        if optimizer.params is not params and any(a is not b for a, b in zip(optimizer.params, params)):
            raise ValueError("optimizer was built for other parameters: pass optimizer=Optimizer(model.params, ...)")
        return optimizer
    kind = v.check_choice(optimizer, "optimizer", ("adam", "sgd"))
    cls = Adam if kind == "adam" else SGD
    return cls(params, lr=lr, weight_decay=weight_decay)


def train(
    model: MLP,
    X: ArrayLike,
    labels: ArrayLike | None = None,
    *,
    teacher_logits: ArrayLike | None = None,
    T: float = 1.0,
    hard_weight: float | None = None,
    divergence: str = "forward",
    epochs: int = 100,
    batch_size: int | None = None,
    optimizer="adam",
    lr: float = 0.01,
    weight_decay: float = 0.0,
    seed: int | np.random.Generator = 0,
    eval_set: tuple | None = None,
    progress: bool | None = None,
) -> dict[str, np.ndarray]:
    r"""Train ``model`` in place on the distillation loss and return its per-epoch history.

    .. math:: L = w\, \mathrm{CE}(y, \mathrm{softmax}(z)) + (1-w)\, T^2 D\bigl(\mathrm{softmax}(v/T), \mathrm{softmax}(z/T)\bigr)

    with student logits z = model(X), teacher logits v and w = ``hard_weight``, computed by
    ``kdbook.kd_loss_and_grad`` and back-propagated by ``model.backward``. Introduced in
    chapter 5.

    Parameters
    ----------
    model : kdbook.models.MLP
        The student; its ``params`` are updated in place.
    X : array_like, shape (n, n_features)
        The training (transfer) inputs.
    labels : array_like of int, shape (n,), optional
        Hard labels; needed when ``hard_weight > 0``.
    teacher_logits : array_like, shape (n, K), optional
        The teacher's logits on ``X``; needed when ``hard_weight < 1``.
    T : float, default 1.0
        Temperature of the soft term.
    hard_weight : float, optional
        Weight w of the hard-label term in [0, 1]. Default: 1 with labels only, 0 with a
        teacher only; required when both are given.
    divergence : {"forward", "reverse", "jsd"}
        Soft-term divergence (as in ``kdbook.kd_loss``).
    epochs : int
        Passes over ``X``.
    batch_size : int, optional
        Mini-batch size; ``None`` is full-batch gradient descent.
    optimizer : {"adam", "sgd"} or an optimiser from ``kdbook.optim``
        Built on ``model.params`` with ``lr`` and ``weight_decay`` when given by name.
    lr, weight_decay : float
        Learning rate and decoupled weight decay for a named optimiser.
    seed : int or numpy.random.Generator
        Orders the mini-batches (full-batch training does not use it).
    eval_set : tuple, optional
        ``(X_eval, labels_eval)`` or ``(X_eval, labels_eval, teacher_logits_eval)`` evaluated
        after every epoch with :func:`evaluate`.
    progress : bool, optional
        Show an ipywidgets progress bar. ``None``: only inside a notebook kernel and only for
        runs of at least ``PROGRESS_MIN_STEPS`` optimiser steps. When training ends a one-line
        summary ("training: 400 of 400 epochs done") is displayed under the bar, and the bar
        itself has no text fallback, so a saved notebook shows the finished run where widgets
        do not render. Nothing is ever printed.

    Returns
    -------
    dict of ndarray
        One entry per epoch under ``epoch``, ``train_loss`` (mean loss over the epoch's
        batches), ``train_accuracy`` (at the end of the epoch; with labels) and, with ``eval_set``,
        ``eval_accuracy``, ``eval_ece`` and (given teacher logits) ``eval_kl``.

    Examples
    --------
    >>> import kdbook.data as kd
    >>> from kdbook.models import softmax_regression
    >>> from kdbook.train import train
    >>> X, y = kd.gaussian_mixture(200, n_classes=2, separation=8.0, seed=0)
    >>> net = softmax_regression(2, 2, seed=0)
    >>> hist = train(net, X, y, epochs=50, lr=0.1)
    >>> bool(hist["train_loss"][-1] < hist["train_loss"][0]), float(hist["train_accuracy"][-1]) > 0.9
    (True, True)
    """
    if not isinstance(model, MLP):
        raise TypeError(f"model must be a kdbook.models.MLP, got {type(model).__name__}")
    X = model._check_input(X)
    n, k = X.shape[0], model.n_classes
    if n == 0:
        raise ValueError("X has no examples: its first axis has length 0")
    y = None if labels is None else v.check_labels(labels, (n,), k)
    t = None if teacher_logits is None else _teacher(teacher_logits, (n, k), "teacher_logits")
    if y is None and t is None:
        raise ValueError("give labels, teacher_logits, or both: there is nothing to train on")
    if hard_weight is None:
        if y is not None and t is not None:
            raise ValueError("with both labels and teacher_logits, choose hard_weight in [0, 1] explicitly")
        hard_weight = 1.0 if t is None else 0.0
    w = v.check_unit_interval(hard_weight, "hard_weight")
    if w > 0 and y is None:
        raise ValueError(f"hard_weight={w} > 0 needs labels")
    if w < 1 and t is None:
        raise ValueError(f"hard_weight={w} < 1 needs teacher_logits (the soft term has no teacher)")
    T = v.check_positive(T, "T")
    v.check_choice(divergence, "divergence", DIVERGENCES)
    n_epochs = v.check_int(epochs, "epochs", minimum=1)
    bs = n if batch_size is None else min(n, v.check_int(batch_size, "batch_size", minimum=1))
    rng = v.check_rng(seed)
    opt = _make_optimizer(optimizer, model.params, lr, weight_decay)
    if eval_set is not None:
        if not (isinstance(eval_set, tuple) and len(eval_set) in (2, 3)):
            raise TypeError("eval_set must be a tuple (X, labels) or (X, labels, teacher_logits)")
        evaluate(model, *eval_set[:2], teacher_logits=eval_set[2] if len(eval_set) == 3 else None)  # validates early
    if progress is not None and not isinstance(progress, bool):
        raise TypeError(f"progress must be True, False or None, got {type(progress).__name__}")
    steps = n_epochs * -(-n // bs)
    show = _in_notebook_kernel() and (progress if progress is not None else steps >= PROGRESS_MIN_STEPS)

    hist: dict[str, list[float]] = {key: [] for key in HISTORY_KEYS}
    bar = _Progress(n_epochs, show)
    with contextlib.ExitStack() as stack:
        stack.callback(bar.close)
        stack.enter_context(_one_blas_thread())
        for epoch in range(1, n_epochs + 1):
            order = np.arange(n) if bs == n else rng.permutation(n)
            total = 0.0
            for lo in range(0, n, bs):
                idx = order[lo : lo + bs]
                with np.errstate(over="ignore", invalid="ignore"):
                    z = model.forward(X[idx])
                if not np.isfinite(z).all():
                    raise ValueError(f"training diverged at epoch {epoch}: the logits overflowed; try a smaller lr")
                teacher = z if t is None else t[idx]  # hard labels only: the soft term has weight 0
                loss, grad = kd_loss_and_grad(
                    z, teacher, T=T, labels=None if y is None else y[idx], hard_weight=w, divergence=divergence
                )
                opt.step(model.backward(grad))
                total += float(loss) * len(idx)
            hist["epoch"].append(epoch)
            hist["train_loss"].append(total / n)
            if y is not None:
                hist["train_accuracy"].append(float(np.mean(model.predict(X) == y)))
            if eval_set is not None:
                res = evaluate(model, *eval_set[:2], teacher_logits=eval_set[2] if len(eval_set) == 3 else None)
                for key, name in (("eval_accuracy", "accuracy"), ("eval_ece", "ece"), ("eval_kl", "kl_to_teacher")):
                    if name in res:
                        hist[key].append(res[name])
            bar.update(epoch)
    return {key: np.asarray(val) for key, val in hist.items() if val}

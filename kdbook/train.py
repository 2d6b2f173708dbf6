"""Train any kdbook model on hard labels, on a teacher's soft targets, or on both, and evaluate it.

Introduced in chapter 5 (``notebooks/05_training_a_toy_student.ipynb``) with the MLPs of
``kdbook.classify.models``; the same loop trains every model that follows the protocol of
``kdbook.protocol`` (the sequence models of the later chapters included). The loss and its
gradient with respect to the student's logits come from ``kdbook.kd_loss_and_grad`` (chapter 4):
hard labels only is ``hard_weight=1``, pure distillation ``hard_weight=0``, and anything between
is Hinton, Vinyals & Dean's (2015) combined objective, averaged over the unmasked positions of a
batch (``reduction="tokenmean"``, the batch mean for a classifier). The loop is deterministic for
a seed (the seed only orders the mini-batches; the model's initial weights come from its own).
"""
from __future__ import annotations

import contextlib
import numpy as np
from numpy.typing import ArrayLike

from . import _validate as v
from .environment import in_notebook_kernel
from .evaluation import check_targets, evaluate
from ._kd_core import kd_core
from .losses import Objective
from .optim import SGD, Adam
from .protocol import check_model
from .threads import one_blas_thread

__all__ = ["train", "train_step", "evaluate", "TrainingDiverged", "HISTORY_KEYS", "PROGRESS_MIN_STEPS"]

#: Keys of the history :func:`train` returns (the ``eval_*`` ones only with ``eval_set``).
HISTORY_KEYS = ("epoch", "train_loss", "train_accuracy", "eval_accuracy", "eval_kl", "eval_ece")
#: With ``progress=None``, runs of at least this many optimiser steps show a bar in a notebook.
PROGRESS_MIN_STEPS = 2000


class TrainingDiverged(ValueError):
    """The student's logits overflowed during training (the learning rate is too large)."""


def _objective(has_labels: bool, has_teacher: bool, T, hard_weight, divergence, beta=None, alpha=None) -> Objective:
    """The validated loss settings of :func:`train` and :func:`train_step` (one ``Objective``)."""
    if not has_labels and not has_teacher:
        raise ValueError("give labels, teacher_logits, or both: there is nothing to train on")
    if hard_weight is None:
        if has_labels and has_teacher:
            raise ValueError("with both labels and teacher_logits, choose hard_weight in [0, 1] explicitly")
        hard_weight = 0.0 if has_teacher else 1.0
    w = v.check_unit_interval(hard_weight, "hard_weight")
    if w > 0 and not has_labels:
        raise ValueError(f"hard_weight={w} > 0 needs labels")
    if w < 1 and not has_teacher:
        raise ValueError(f"hard_weight={w} < 1 needs teacher_logits (the soft term has no teacher)")
    return Objective(divergence, beta, alpha, T=T, hard_weight=w)


def _setup(model, batch_shape, labels, teacher_logits, mask, T, hard_weight, divergence, beta, alpha):
    """Validate the targets against the model's batch shape and the loss settings, once."""
    y, t, m = check_targets(batch_shape, model.n_classes, labels, teacher_logits, mask)
    obj = _objective(y is not None, t is not None, T, hard_weight, divergence, beta, alpha)
    if m is not None and not m.any():
        raise ValueError("mask masks every position: there is nothing to train on")
    return y, t, m, obj.core_arguments()


def _forward(model, X: np.ndarray) -> np.ndarray:
    """``model.forward(X)``, checked for its shape (n, ..., n_classes)."""
    with np.errstate(over="ignore", invalid="ignore"):
        z = model.forward(X)
    if z.ndim < 2 or z.shape[-1] != model.n_classes or z.shape[0] != X.shape[0]:
        raise ValueError(f"model.forward must return shape (n={X.shape[0]}, ..., n_classes={model.n_classes}); "
                         f"got {z.shape}")
    return z


def _update(model, opt, z, y, t, m, core: dict) -> tuple[float, int]:
    """Loss, gradient (validated core), backward and optimiser step; returns (token-mean loss, positions used)."""
    finite = np.isfinite(z).all(axis=-1)
    if not (finite.all() if m is None else finite[m].all()):
        raise TrainingDiverged("training diverged: the logits overflowed; try a smaller lr")
    teacher = z if t is None else t  # hard labels only: the soft term has weight 0
    try:
        loss, grad = kd_core(z, teacher, labels=y, mask=m, reduction="tokenmean", want_grad=True, **core)
    except FloatingPointError:
        raise TrainingDiverged("training diverged: the loss overflowed; try a smaller lr or float64") from None
    opt.step(model.backward(grad))
    return float(loss), (z.size // z.shape[-1] if m is None else int(np.count_nonzero(m)))


def train_step(
    model,
    optimizer,
    X: ArrayLike,
    labels: ArrayLike | None = None,
    *,
    teacher_logits: ArrayLike | None = None,
    mask: ArrayLike | None = None,
    T: float = 1.0,
    hard_weight: float | None = None,
    divergence: str = "forward",
    beta: float | None = None,
    alpha: float | None = None,
) -> float:
    r"""One optimiser step of ``model`` on one batch; the building block of custom training loops.

    Runs ``model.forward(X)``, the distillation loss of :func:`train` (mean over the unmasked
    positions) with its gradient from ``kdbook.kd_loss_and_grad``, ``model.backward`` and
    ``optimizer.step``. :func:`train` is a loop of these steps; chapter 7 writes an on-policy
    loop from it (student samples, teacher logits on them, one step). Introduced in chapter 5.

    Parameters
    ----------
    model : kdbook.protocol.Model
        The student; its ``params`` are updated in place.
    optimizer : kdbook.optim.SGD or kdbook.optim.Adam
        Built on ``model.params``.
    X : array_like
        One batch of inputs (first axis: examples or sequences).
    labels, teacher_logits, mask, T, hard_weight, divergence, beta, alpha
        As in :func:`train`, for this batch.

    Returns
    -------
    float
        The batch's loss before the step, per unmasked position.

    Examples
    --------
    >>> import numpy as np
    >>> from kdbook.classify.models import MLP
    >>> from kdbook.optim import Adam
    >>> from kdbook.train import train_step
    >>> net = MLP([2, 3], seed=0)
    >>> opt = Adam(net.params, lr=0.1)
    >>> X, y = np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([0, 2])
    >>> first = train_step(net, opt, X, y)
    >>> bool(train_step(net, opt, X, y) < first)
    True
    """
    check_model(model)
    if not isinstance(optimizer, (SGD, Adam)):
        raise TypeError(f"optimizer must be a kdbook.optim.SGD or Adam built on model.params, got {type(optimizer).__name__}")
    _same_params(optimizer, model.params)
    X = model.check_input(X)
    z = _forward(model, X)  # the step's own forward pass tells the batch shape: no extra probe
    y, t, m, core = _setup(model, z.shape[:-1], labels, teacher_logits, mask, T, hard_weight, divergence, beta, alpha)
    return _update(model, optimizer, z, y, t, m, core)[0]


def _probe(model, X: np.ndarray) -> tuple[int, ...]:
    """The model's batch shape for one example of ``X`` (a forward pass on ``X[:1]``)."""
    z = np.asarray(model.logits(X[:1]))
    if z.ndim < 2 or z.shape[-1] != model.n_classes:
        raise ValueError(
            f"model.logits must return shape (n, ..., n_classes={model.n_classes}); got {z.shape} for one example"
        )
    return z.shape[:-1]


def _same_params(opt, params) -> None:
    if opt.params is not params and (
        len(opt.params) != len(params) or any(a is not b for a, b in zip(opt.params, params))
    ):
        raise ValueError("optimizer was built for other parameters: pass optimizer=Optimizer(model.params, ...)")


def _make_optimizer(optimizer, params, lr: float, weight_decay: float):
    if isinstance(optimizer, (SGD, Adam)):
        _same_params(optimizer, params)
        return optimizer
    kind = v.check_choice(optimizer, "optimizer", ("adam", "sgd"))
    cls = Adam if kind == "adam" else SGD
    return cls(params, lr=lr, weight_decay=weight_decay)


def _eval_set(eval_set) -> tuple:
    if not (isinstance(eval_set, tuple) and 2 <= len(eval_set) <= 4):
        raise TypeError("eval_set must be a tuple (X, labels), (X, labels, teacher_logits) or (X, labels, teacher_logits, mask)")
    X, labels, teacher, mask = (*eval_set, None, None)[:4]
    return X, labels, {"teacher_logits": teacher, "mask": mask}


def train(
    model,
    X: ArrayLike,
    labels: ArrayLike | None = None,
    *,
    teacher_logits: ArrayLike | None = None,
    mask: ArrayLike | None = None,
    T: float = 1.0,
    hard_weight: float | None = None,
    divergence: str = "forward",
    beta: float | None = None,
    alpha: float | None = None,
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

    .. math:: L = \frac{1}{N} \sum_{n} \Bigl[ w\, \mathrm{CE}(y_n, \mathrm{softmax}(z_n))
              + (1-w)\, T^2 D\bigl(\mathrm{softmax}(v_n/T), \mathrm{softmax}(z_n/T)\bigr) \Bigr]

    over the N unmasked positions n of a mini-batch (examples of a classifier, tokens of a
    sequence model), with student logits z = model(X), teacher logits v and w =
    ``hard_weight``, computed by ``kdbook.kd_loss_and_grad`` and back-propagated by
    ``model.backward``. Each step is :func:`train_step`. Introduced in chapter 5.

    Parameters
    ----------
    model : kdbook.protocol.Model
        The student, e.g. a ``kdbook.classify.models.MLP``; its ``params`` are updated in place.
    X : array_like
        The training (transfer) inputs, sliced along the first axis into mini-batches:
        shape (n, n_features) for an MLP, (n, L) token ids for a sequence model.
    labels : array_like of int, optional
        Hard labels of the model's batch shape ((n,) or (n, L)); needed when ``hard_weight > 0``.
    teacher_logits : array_like, optional
        The teacher's logits on ``X``, shape (*batch_shape, K); needed when ``hard_weight < 1``.
    mask : array_like of bool, optional
        True where a position counts, of the batch shape (padding is False). Masked positions
        are excluded from the loss, the gradient, the averages and the accuracy.
    T : float, default 1.0
        Temperature of the soft term.
    hard_weight : float, optional
        Weight w of the hard-label term in [0, 1]. Default: 1 with labels only, 0 with a
        teacher only; required when both are given.
    divergence : str
        Soft-term divergence, one of ``kdbook.losses.DIVERGENCES`` (as in ``kdbook.kd_loss``).
    beta, alpha : float, optional
        β of ``"gjsd"`` and α of the skew divergences (as in ``kdbook.kd_loss``).
    epochs : int
        Passes over ``X``.
    batch_size : int, optional
        Mini-batch size (examples or sequences); ``None`` is full-batch gradient descent.
    optimizer : {"adam", "sgd"} or an optimiser from ``kdbook.optim``
        Built on ``model.params`` with ``lr`` and ``weight_decay`` when given by name.
    lr, weight_decay : float
        Learning rate and decoupled weight decay for a named optimiser.
    seed : int or numpy.random.Generator
        Orders the mini-batches (full-batch training does not use it).
    eval_set : tuple, optional
        ``(X_eval, labels_eval)``, ``(X_eval, labels_eval, teacher_logits_eval)`` or
        ``(X_eval, labels_eval, teacher_logits_eval or None, mask_eval)``, evaluated after every
        epoch with :func:`evaluate`.
    progress : bool, optional
        Show an ipywidgets progress bar. ``None``: only inside a notebook kernel and only for
        runs of at least ``PROGRESS_MIN_STEPS`` optimiser steps. When training ends a one-line
        summary ("training: 400 of 400 epochs done") is displayed under the bar, and the bar
        itself has no text fallback, so a saved notebook shows the finished run where widgets
        do not render. Nothing is ever printed.

    Returns
    -------
    dict of ndarray
        One entry per epoch under ``epoch``, ``train_loss`` (mean loss per unmasked position
        over the epoch's batches), ``train_accuracy`` (at the end of the epoch; with labels)
        and, with ``eval_set``, ``eval_accuracy``, ``eval_ece`` and (given teacher logits)
        ``eval_kl``.

    Examples
    --------
    >>> import kdbook.classify.data as kd
    >>> from kdbook.classify.models import softmax_regression
    >>> from kdbook.train import train
    >>> X, y = kd.gaussian_mixture(200, n_classes=2, separation=8.0, seed=0)
    >>> net = softmax_regression(2, 2, seed=0)
    >>> hist = train(net, X, y, epochs=50, lr=0.1)
    >>> bool(hist["train_loss"][-1] < hist["train_loss"][0]), float(hist["train_accuracy"][-1]) > 0.9
    (True, True)
    """
    check_model(model)
    X = model.check_input(X)
    n, k = X.shape[0], model.n_classes
    if n == 0:
        raise ValueError("X has no examples: its first axis has length 0")
    batch_shape = (n, *_probe(model, X)[1:])
    y, t, m, core = _setup(model, batch_shape, labels, teacher_logits, mask, T, hard_weight, divergence, beta, alpha)
    n_epochs = v.check_int(epochs, "epochs", minimum=1)
    bs = n if batch_size is None else min(n, v.check_int(batch_size, "batch_size", minimum=1))
    rng = v.check_rng(seed)
    opt = _make_optimizer(optimizer, model.params, lr, weight_decay)
    if eval_set is not None:
        X_eval, y_eval, eval_kw = _eval_set(eval_set)
        evaluate(model, X_eval, y_eval, **eval_kw)  # validates early
    if progress is not None and not isinstance(progress, bool):
        raise TypeError(f"progress must be True, False or None, got {type(progress).__name__}")
    steps = n_epochs * -(-n // bs)
    show = in_notebook_kernel() and (progress if progress is not None else steps >= PROGRESS_MIN_STEPS)
    valid = None if m is None else m.reshape(n, -1).any(axis=1)  # sequences with any unmasked token

    hist: dict[str, list[float]] = {key: [] for key in HISTORY_KEYS}
    bar = None
    if show:
        from .progress import TrainingProgress

        bar = TrainingProgress(n_epochs, True)
    with contextlib.ExitStack() as stack:
        if bar is not None:
            stack.callback(bar.close)
        stack.enter_context(one_blas_thread())
        for epoch in range(1, n_epochs + 1):
            order = np.arange(n) if bs == n else rng.permutation(n)
            total, count = 0.0, 0
            for lo in range(0, n, bs):
                idx = order[lo : lo + bs]
                if valid is not None and not valid[idx].any():
                    continue  # a batch of padding only: nothing to learn from
                batch = [None if a is None else a[idx] for a in (y, t, m)]
                try:
                    loss, used = _update(model, opt, _forward(model, X[idx]), *batch, core)
                except TrainingDiverged:
                    raise TrainingDiverged(
                        f"training diverged at epoch {epoch}: the logits overflowed; try a smaller lr"
                    ) from None
                total += loss * used
                count += used
            hist["epoch"].append(epoch)
            hist["train_loss"].append(total / count)
            if y is not None:
                z = model.logits(X)
                hits = z.argmax(axis=-1) == y
                hist["train_accuracy"].append(float(np.mean(hits if m is None else hits[m])))
            if eval_set is not None:
                res = evaluate(model, X_eval, y_eval, **eval_kw)
                for key, name in (("eval_accuracy", "accuracy"), ("eval_ece", "ece"), ("eval_kl", "kl_to_teacher")):
                    if name in res:
                        hist[key].append(res[name])
            if bar is not None:
                bar.update(epoch)
    return {key: np.asarray(val) for key, val in hist.items() if val}

"""Evaluate a model: accuracy, calibration error and KL to a teacher, over unmasked positions.

Introduced in chapter 5 (``notebooks/05_training_a_toy_student.ipynb``) for classifiers, and used
unchanged for the sequence models of the later chapters (any model following
``kdbook.protocol``). Also home of the validation of training targets shared with
``kdbook.train``.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from . import _validate as v
from .calibration import expected_calibration_error
from .losses import kd_loss
from .protocol import check_model
from .softmax import softmax

__all__ = ["evaluate", "check_targets"]


def check_targets(batch_shape: tuple[int, ...], k: int, labels, teacher_logits, mask):
    """Validate (labels, teacher_logits, mask) against a model's batch shape and class count.

    Returns ``(labels, teacher_logits, mask)`` as arrays (``None`` where not given): labels of
    shape ``batch_shape`` (range-checked where unmasked), teacher logits of shape
    ``(*batch_shape, k)`` (finite where unmasked) and a boolean mask of ``batch_shape``.
    """
    m = None if mask is None else v.check_mask(mask, batch_shape)
    y = None if labels is None else v.check_labels(labels, batch_shape, k, mask=m)
    t = None
    if teacher_logits is not None:
        t = v.as_float_array(teacher_logits, "teacher_logits")
        shape = (*batch_shape, k)
        if t.shape != shape:
            per = "example" if len(batch_shape) == 1 else "position"
            raise ValueError(f"teacher_logits must have shape {shape} (one row of logits per {per}), got {t.shape}")
        v.check_finite(t, "teacher_logits", mask=m)
    return y, t, m



def evaluate(
    model,
    X: ArrayLike,
    labels: ArrayLike,
    *,
    teacher_logits: ArrayLike | None = None,
    mask: ArrayLike | None = None,
    n_bins: int = 15,
) -> dict[str, float]:
    r"""Accuracy, calibration error and (with a teacher) KL(teacher ‖ student) of ``model`` on ``X``.

    .. math:: \mathrm{KL} = \frac{1}{N} \sum_{n} \mathrm{KL}\bigl(\mathrm{softmax}(v_n) \,\|\, \mathrm{softmax}(z_n)\bigr)

    at T = 1, over the N unmasked positions n (``kdbook.kd_loss`` with ``reduction="tokenmean"``:
    the mean per example for a classifier, per token for a sequence model). Accuracy and ECE
    are also taken over the unmasked positions. Introduced in chapter 5.

    Parameters
    ----------
    model : kdbook.protocol.Model
        Any model following the kdbook model protocol.
    X : array_like
        Inputs (first axis: examples or sequences).
    labels : array_like of int
        True classes, of the model's batch shape.
    teacher_logits : array_like, optional
        Teacher logits of shape (*batch_shape, n_classes).
    mask : array_like of bool, optional
        True where a position counts, of the batch shape.
    n_bins : int, default 15
        Confidence bins of the ECE.

    Returns
    -------
    dict
        ``accuracy``, ``ece`` (:func:`kdbook.calibration.expected_calibration_error`) and, if
        ``teacher_logits`` is given, ``kl_to_teacher`` (nats per example or token).

    Examples
    --------
    >>> import numpy as np
    >>> from kdbook.classify.models import MLP
    >>> from kdbook.train import evaluate
    >>> net = MLP([2, 3], seed=0)
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> evaluate(net, X, net.predict(X), teacher_logits=net.logits(X))["kl_to_teacher"]
    0.0
    """
    check_model(model)
    z = np.asarray(model.logits(X))
    if z.ndim < 2 or z.shape[-1] != model.n_classes:
        raise ValueError(f"model.logits must return shape (n, ..., n_classes={model.n_classes}); got {z.shape}")
    batch_shape, k = z.shape[:-1], z.shape[-1]
    y, t, m = check_targets(batch_shape, k, labels, teacher_logits, mask)
    if m is None:
        z_valid, y_valid = z.reshape(-1, k), y.reshape(-1)
    else:
        z_valid, y_valid = z[m], y[m]
        if y_valid.size == 0:
            raise ValueError("mask masks every position: there is nothing to evaluate")
    out = {
        "accuracy": float(np.mean(z_valid.argmax(axis=-1) == y_valid)),
        "ece": expected_calibration_error(softmax(z_valid), y_valid, n_bins=n_bins),
    }
    if t is not None:
        out["kl_to_teacher"] = float(kd_loss(z, t, mask=m, reduction="tokenmean"))
    return out

"""Calibration: does a model's confidence match how often it is right?

Introduced in chapter 5 (``notebooks/05_training_a_toy_student.ipynb``), to compare students
trained on hard labels with students trained on a teacher's soft targets. The confidence of a
prediction is its top probability max_i q_i; examples are grouped into ``n_bins`` equal-width
confidence bins (0, 1/M], (1/M, 2/M], ..., ((M−1)/M, 1] (as in Guo et al. 2017, "On Calibration
of Modern Neural Networks"), and each bin's accuracy is compared with its mean confidence.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from . import _validate as v

__all__ = ["ReliabilityCurve", "reliability_curve", "expected_calibration_error"]


class ReliabilityCurve(NamedTuple):
    """Per-bin statistics of a reliability diagram (``n_bins`` entries; NaN where a bin is empty)."""

    edges: np.ndarray  #: bin edges, shape (n_bins + 1,), from 0 to 1
    confidence: np.ndarray  #: mean top probability of the examples in each bin
    accuracy: np.ndarray  #: fraction of the examples in each bin predicted correctly
    counts: np.ndarray  #: number of examples in each bin (int)

    @property
    def ece(self) -> float:
        """The expected calibration error of these bins (see :func:`expected_calibration_error`)."""
        filled = self.counts > 0
        gaps = np.abs(self.accuracy[filled] - self.confidence[filled])
        return float((self.counts[filled] * gaps).sum() / self.counts.sum())


def reliability_curve(probs: ArrayLike, labels: ArrayLike, *, n_bins: int = 15) -> ReliabilityCurve:
    r"""Accuracy and mean confidence per confidence bin: the data of a reliability diagram.

    .. math:: \mathrm{acc}(B_b) = \frac{1}{|B_b|}\sum_{n \in B_b} 1[\hat y_n = y_n],\quad
              \mathrm{conf}(B_b) = \frac{1}{|B_b|}\sum_{n \in B_b} \max_i q_{n,i}

    Introduced in chapter 5. Example n falls in bin b when edges[b] < conf_n ≤ edges[b+1] (the
    first bin also takes 0); ŷ_n is the argmax of its probabilities (the first, on ties).

    Parameters
    ----------
    probs : array_like, shape (n, K)
        Predicted class probabilities (rows sum to 1).
    labels : array_like of int, shape (n,)
        True classes in [0, K).
    n_bins : int, default 15
        Number of equal-width bins on [0, 1].

    Examples
    --------
    >>> from kdbook.calibration import reliability_curve
    >>> curve = reliability_curve([[0.9, 0.1], [0.3, 0.7]], [0, 0], n_bins=2)
    >>> curve.counts.tolist(), curve.accuracy.tolist()
    ([0, 2], [nan, 0.5])
    """
    conf, correct, m = _confidence_and_correct(probs, labels, n_bins)
    edges = np.linspace(0.0, 1.0, m + 1)
    bins = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, m - 1)
    counts = np.bincount(bins, minlength=m)
    with np.errstate(invalid="ignore", divide="ignore"):
        confidence = np.bincount(bins, weights=conf, minlength=m) / counts
        accuracy = np.bincount(bins, weights=correct, minlength=m) / counts
    return ReliabilityCurve(edges, confidence, accuracy, counts)


def expected_calibration_error(probs: ArrayLike, labels: ArrayLike, *, n_bins: int = 15) -> float:
    r"""Expected calibration error: the bin-weighted gap between accuracy and confidence.

    .. math:: \mathrm{ECE} = \sum_b \frac{|B_b|}{n}\, \bigl|\mathrm{acc}(B_b) - \mathrm{conf}(B_b)\bigr|

    Introduced in chapter 5. 0 for a perfectly calibrated model (in every bin the accuracy
    equals the mean confidence), at most 1; empty bins contribute nothing. Bins as in
    :func:`reliability_curve`. The value depends on ``n_bins``: compare models with the same.

    Examples
    --------
    >>> from kdbook.calibration import expected_calibration_error
    >>> round(expected_calibration_error([[0.9, 0.1], [0.9, 0.1], [0.4, 0.6], [0.4, 0.6]], [0, 1, 1, 1], n_bins=10), 4)
    0.4
    """
    return reliability_curve(probs, labels, n_bins=n_bins).ece


def _confidence_and_correct(probs: ArrayLike, labels: ArrayLike, n_bins: int) -> tuple[np.ndarray, np.ndarray, int]:
    p = v.as_float_array(probs, "probs")
    if p.ndim != 2:
        raise ValueError(f"probs must be 2-D (examples, classes), got shape {p.shape}")
    if p.shape[0] == 0:
        raise ValueError("probs has no examples: its first axis has length 0")
    v.check_probabilities(p, "probs", -1)
    y = v.check_labels(labels, (p.shape[0],), p.shape[1])
    m = v.check_int(n_bins, "n_bins", minimum=1)
    pred = p.argmax(axis=-1)
    return p.max(axis=-1).astype(np.float64), (pred == y).astype(np.float64), m

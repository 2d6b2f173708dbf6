"""kdbook.calibration: the expected calibration error and the reliability-curve bins."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kdbook.calibration import expected_calibration_error, reliability_curve


def test_hand_computed_example():
    # Five examples, 3 classes, 5 bins of width 0.2.
    #   conf 0.9 (pred 0, label 0, right)  -> bin (0.8, 1]
    #   conf 0.85 (pred 1, label 0, wrong) -> bin (0.8, 1]    bin mean conf 0.875, acc 0.5
    #   conf 0.5 (pred 2, label 2, right)  -> bin (0.4, 0.6]
    #   conf 0.45 (pred 0, label 1, wrong) -> bin (0.4, 0.6]  bin mean conf 0.475, acc 0.5
    #   conf 0.7 (pred 1, label 1, right)  -> bin (0.6, 0.8]  conf 0.7, acc 1
    # ECE = 2/5·|0.5-0.875| + 2/5·|0.5-0.475| + 1/5·|1-0.7| = 0.15 + 0.01 + 0.06 = 0.22
    probs = [[0.9, 0.05, 0.05], [0.1, 0.85, 0.05], [0.3, 0.2, 0.5], [0.45, 0.35, 0.2], [0.2, 0.7, 0.1]]
    labels = [0, 0, 2, 1, 1]
    assert expected_calibration_error(probs, labels, n_bins=5) == pytest.approx(0.22, abs=1e-12)
    curve = reliability_curve(probs, labels, n_bins=5)
    np.testing.assert_array_equal(curve.counts, [0, 0, 2, 1, 2])
    np.testing.assert_allclose(curve.confidence[2:], [0.475, 0.7, 0.875])
    np.testing.assert_allclose(curve.accuracy[2:], [0.5, 1.0, 0.5])
    assert np.isnan(curve.accuracy[:2]).all()
    np.testing.assert_allclose(curve.edges, np.linspace(0, 1, 6))


def test_perfectly_calibrated_predictions_have_zero_ece():
    # Ten examples at confidence 0.8 with 8 right, five at 0.6 with 3 right.
    probs = np.array([[0.8, 0.2]] * 10 + [[0.4, 0.6]] * 5)
    labels = np.array([0] * 8 + [1] * 2 + [1] * 3 + [0] * 2)
    assert expected_calibration_error(probs, labels, n_bins=10) == pytest.approx(0.0, abs=1e-12)
    # ...and any other labelling is miscalibrated
    assert expected_calibration_error(probs, np.zeros(15, dtype=int), n_bins=10) > 0.1


def test_bin_edges_are_right_inclusive():
    # A confidence exactly on an edge belongs to the bin that ends there.
    probs = [[0.6, 0.4], [0.5, 0.5], [1.0, 0.0]]
    curve = reliability_curve(probs, [0, 0, 0], n_bins=5)
    np.testing.assert_array_equal(curve.counts, [0, 0, 2, 0, 1])


def test_one_bin_is_the_gap_between_accuracy_and_mean_confidence():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(50, 4))
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = rng.integers(4, size=50)
    acc = np.mean(probs.argmax(axis=1) == labels)
    assert expected_calibration_error(probs, labels, n_bins=1) == pytest.approx(abs(acc - probs.max(axis=1).mean()))


def _ece_by_loops(probs, labels, n_bins):
    """Guo et al.'s ECE from its definition, in plain Python: bins (b/M, (b+1)/M], the first also takes 0."""
    bins = [[] for _ in range(n_bins)]
    for row, y in zip(probs.tolist(), labels.tolist()):
        conf = max(row)
        b = max(0, math.ceil(conf * n_bins) - 1)  # conf in (b/M, (b+1)/M]
        bins[b].append((conf, row.index(conf) == y))
    n = len(labels)
    return sum(len(B) / n * abs(sum(c for _, c in B) / len(B) - sum(f for f, _ in B) / len(B)) for B in bins if B)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 40), st.integers(2, 5), st.integers(1, 20), st.integers(0, 2**31))
def test_ece_is_between_0_and_1_and_counts_add_up(n, k, n_bins, seed):
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(k), size=n)
    labels = rng.integers(k, size=n)
    ece = expected_calibration_error(probs, labels, n_bins=n_bins)
    assert 0.0 <= ece <= 1.0
    assert ece == pytest.approx(_ece_by_loops(probs, labels, n_bins), rel=1e-9, abs=1e-12)
    curve = reliability_curve(probs, labels, n_bins=n_bins)
    assert curve.counts.sum() == n
    filled = curve.counts > 0
    lo, hi = curve.edges[:-1][filled], curve.edges[1:][filled]
    assert np.all(curve.confidence[filled] >= lo - 1e-12) and np.all(curve.confidence[filled] <= hi + 1e-12)


@pytest.mark.parametrize(
    "probs, labels, kw, err, msg",
    [
        ([[0.5, 0.6]], [0], {}, ValueError, "probs must sum to 1"),
        ([0.5, 0.5], [0], {}, ValueError, "probs must be 2-D"),
        ([[0.5, 0.5]], [2], {}, ValueError, r"labels must be in \[0, 1\]"),
        ([[0.5, 0.5]], [0, 1], {}, ValueError, "labels must have shape"),
        ([[0.5, 0.5]], [0], {"n_bins": 0}, ValueError, "n_bins must be >= 1"),
        ([[0.5, 0.5]], [0], {"n_bins": 2.5}, TypeError, "n_bins must be an int"),
        ([[np.nan, 1.0]], [0], {}, ValueError, "probs must be finite"),
        (np.zeros((0, 2)), np.zeros(0, dtype=int), {}, ValueError, "no examples"),
    ],
)
def test_bad_input_is_named(probs, labels, kw, err, msg):
    with pytest.raises(err, match=msg):
        expected_calibration_error(probs, labels, **kw)

"""kdbook.classify.data: seeded synthetic sets, stratified splits, tiny transfer sets, dropping a class."""
from __future__ import annotations

import numpy as np
import pytest

import kdbook.classify.data as kd


@pytest.mark.parametrize(
    "make",
    [
        lambda seed: kd.gaussian_mixture(101, n_classes=4, n_features=5, components_per_class=2, seed=seed),
        lambda seed: kd.spirals(101, n_classes=3, seed=seed),
    ],
    ids=["gaussian_mixture", "spirals"],
)
def test_same_seed_same_data_other_seed_other_data_and_balanced_classes(make):
    X1, y1 = make(3)
    X2, y2 = make(3)
    X3, _ = make(4)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.allclose(X1, X3)
    assert X1.dtype == np.float64 and y1.dtype.kind == "i" and X1.shape[0] == y1.shape[0] == 101
    counts = np.bincount(y1)
    assert counts.max() - counts.min() <= 1


def test_gaussian_mixture_points_lie_near_their_class_centres():
    # With tiny noise every point is within a few sigma of one of its own class's centres, and the
    # nearest-centre rule recovers the label (centres are far apart relative to the noise).
    X, y = kd.gaussian_mixture(400, n_classes=3, n_features=6, components_per_class=2, separation=5.0, noise=0.01, seed=1)
    rng = np.random.default_rng(1)
    centres = rng.normal(scale=5.0, size=(3, 2, 6))  # the generator draws the centres first
    d = np.linalg.norm(X[:, None, None, :] - centres[None], axis=-1)  # (n, class, component)
    assert np.all(d.min(axis=2)[np.arange(len(y)), y] < 0.01 * 6 + 0.1)
    assert np.array_equal(d.min(axis=2).argmin(axis=1), y)


def test_spirals_radius():
    X, y = kd.spirals(300, noise=1e-9, seed=0)
    r = np.linalg.norm(X, axis=1)
    assert r.min() >= 0.1 - 1e-6 and r.max() <= 1.0 + 1e-6


def test_train_test_split_is_a_stratified_partition():
    X, y = kd.gaussian_mixture(200, n_classes=4, seed=0)
    X_tr, X_te, y_tr, y_te = kd.train_test_split(X, y, test_fraction=0.3, seed=5)
    assert len(y_tr) + len(y_te) == 200
    np.testing.assert_array_equal(np.bincount(y_te), [15, 15, 15, 15])
    rows = {tuple(r) for r in np.vstack([X_tr, X_te])}
    assert rows == {tuple(r) for r in X}  # nothing lost, nothing duplicated
    again = kd.train_test_split(X, y, test_fraction=0.3, seed=5)
    np.testing.assert_array_equal(again[1], X_te)


def test_transfer_subset_takes_the_fraction_of_every_class_and_at_least_one():
    X, y = kd.gaussian_mixture(1000, n_classes=5, seed=0)
    Xs, ys = kd.transfer_subset(X, y, fraction=0.03, seed=0)
    np.testing.assert_array_equal(np.bincount(ys), [6] * 5)
    assert all(any(np.array_equal(r, x) for x in X) for r in Xs[:5])
    _, ys = kd.transfer_subset(X, y, fraction=0.0001, seed=0)
    np.testing.assert_array_equal(np.bincount(ys), [1] * 5)


def test_drop_class_removes_exactly_that_class():
    X, y = kd.gaussian_mixture(90, n_classes=3, seed=2)
    Xd, yd = kd.drop_class(X, y, 2)
    assert 2 not in yd and len(yd) == 60
    np.testing.assert_array_equal(Xd, X[y != 2])


@pytest.mark.parametrize(
    "call, err, msg",
    [
        (lambda: kd.gaussian_mixture(0), ValueError, "n_samples must be >= 1"),
        (lambda: kd.gaussian_mixture(10, n_classes=1), ValueError, "n_classes must be >= 2"),
        (lambda: kd.gaussian_mixture(10.5), TypeError, "n_samples must be an int"),
        (lambda: kd.spirals(10, noise=-1.0), ValueError, "noise must be > 0"),
        (lambda: kd.spirals(10, seed=-1), ValueError, "seed must be >= 0"),
        (lambda: kd.spirals(10, seed="a"), TypeError, "seed must be an int"),
        (lambda: kd.train_test_split(np.zeros((4, 2)), [0, 1, 0, 1], test_fraction=1.0), ValueError, "strictly between"),
        (lambda: kd.train_test_split(np.zeros((4, 2)), [0, 1, 0], test_fraction=0.5), ValueError, "y must have shape"),
        (lambda: kd.train_test_split(np.zeros(4), [0, 1, 0, 1]), ValueError, "X must be 2-D"),
        (lambda: kd.transfer_subset(np.zeros((4, 2)), [0, 1, 0, 1], fraction=0.0), ValueError, "fraction must be > 0"),
        (lambda: kd.transfer_subset(np.zeros((2, 2)), [0.0, 1.0], fraction=0.5), TypeError, "y must be integers"),
        (lambda: kd.drop_class(np.zeros((2, 2)), [0, 1], 3), ValueError, "label 3 does not occur"),
        (lambda: kd.drop_class(np.full((2, 2), np.nan), [0, 1], 0), ValueError, "X must be finite"),
    ],
)
def test_bad_input_is_named(call, err, msg):
    with pytest.raises(err, match=msg):
        call()

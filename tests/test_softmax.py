"""kdbook.softmax and kdbook.log_softmax: values, limits, stability, dtypes, axes."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import scipy.special

import kdbook


@pytest.fixture
def rng():
    return np.random.default_rng(20150309)


def test_matches_the_definition_worked_by_hand():
    # exp(z/T) / sum exp(z/T) for z = (2, 1, 0), T = 2, with math.exp (no kdbook, no shift).
    e = [math.exp(2 / 2), math.exp(1 / 2), math.exp(0 / 2)]
    expected = [x / sum(e) for x in e]
    np.testing.assert_allclose(kdbook.softmax([2.0, 1.0, 0.0], T=2.0), expected, rtol=1e-15)
    np.testing.assert_allclose(
        kdbook.log_softmax([2.0, 1.0, 0.0], T=2.0), [math.log(x) for x in expected], rtol=1e-15
    )


@pytest.mark.parametrize("T", [0.25, 1.0, 3.0, 20.0])
@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_agrees_with_scipy(rng, T, axis):
    z = rng.normal(scale=4.0, size=(5, 7, 3))
    np.testing.assert_allclose(kdbook.softmax(z, T=T, axis=axis), scipy.special.softmax(z / T, axis=axis), rtol=1e-12)
    np.testing.assert_allclose(
        kdbook.log_softmax(z, T=T, axis=axis), scipy.special.log_softmax(z / T, axis=axis), rtol=1e-12, atol=1e-13
    )


def test_rows_are_distributions(rng):
    q = kdbook.softmax(rng.normal(scale=10.0, size=(50, 11)), T=0.7)
    assert np.all(q >= 0)
    np.testing.assert_allclose(q.sum(axis=-1), 1.0, rtol=1e-14)


@pytest.mark.parametrize("shift", [-1e4, -3.5, 7.0, 1e5])
def test_shift_invariance(rng, shift):
    z = rng.normal(size=(4, 9))
    np.testing.assert_allclose(kdbook.softmax(z + shift, T=1.5), kdbook.softmax(z, T=1.5), rtol=1e-9)
    np.testing.assert_allclose(kdbook.log_softmax(z + shift), kdbook.log_softmax(z), atol=1e-9)


def test_per_row_shift_does_not_leak_across_rows(rng):
    z = rng.normal(size=(3, 6))
    shifted = z + np.array([[100.0], [-50.0], [0.0]])
    np.testing.assert_allclose(kdbook.softmax(shifted), kdbook.softmax(z), rtol=1e-12)


def test_temperature_divides_the_logits(rng):
    z = rng.normal(size=(4, 6))
    np.testing.assert_allclose(kdbook.softmax(z, T=5.0), kdbook.softmax(z / 5.0), rtol=1e-14)


def test_high_temperature_tends_to_uniform(rng):
    z = rng.normal(scale=3.0, size=(2, 8))
    gaps = []
    for T in [1.0, 10.0, 1e3, 1e6]:
        q = kdbook.softmax(z, T=T)
        gaps.append(np.abs(q - 1 / 8).max())
    assert gaps == sorted(gaps, reverse=True)
    # First order: q_i ≈ (1 + (z_i - mean z)/T)/K, so the gap shrinks like 1/T.
    assert gaps[-1] < 2 * np.abs(z).max() / 8 / 1e6


def test_low_temperature_tends_to_one_hot_argmax(rng):
    z = rng.permutation(np.arange(7.0))  # distinct logits, gaps of 1
    one_hot = np.eye(7)[np.argmax(z)]
    np.testing.assert_allclose(kdbook.softmax(z, T=0.01), one_hot, atol=1e-40)
    assert np.array_equal(kdbook.softmax(z, T=1e-300), one_hot)


def test_low_temperature_splits_ties_evenly():
    np.testing.assert_array_equal(kdbook.softmax([3.0, 1.0, 3.0], T=1e-12), [0.5, 0.0, 0.5])


@pytest.mark.parametrize(
    "z, T",
    [
        ([1.0, 2.0], 1e-310),  # z/T overflows float64 (1/T is not representable)
        (np.float32([1.0, 2.0, 2.0]), 1e-50),  # T itself underflows to 0 in float32
        (np.float32([0.0, 3e38]), 0.5),  # z/T overflows float32
        ([-1e308, 1e308], 1.0),  # z - max z overflows
    ],
)
def test_extreme_temperatures_and_logits_give_no_nan_and_no_warning(z, T):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        q = kdbook.softmax(z, T=T)
        log_q = kdbook.log_softmax(z, T=T)
    zf = np.asarray(z, dtype=np.float64)
    expected = (zf == zf.max()) / np.sum(zf == zf.max())
    np.testing.assert_array_equal(q, expected.astype(q.dtype))
    assert not np.isnan(log_q).any()
    np.testing.assert_array_equal(log_q[expected > 0], np.log(expected[expected > 0]).astype(q.dtype))


def test_log_softmax_equals_log_of_softmax_where_finite(rng):
    z = rng.normal(scale=5.0, size=(6, 10))
    for T in (0.5, 1.0, 4.0):
        np.testing.assert_allclose(kdbook.log_softmax(z, T=T), np.log(kdbook.softmax(z, T=T)), rtol=1e-12, atol=1e-12)


def test_log_softmax_stays_finite_where_softmax_underflows():
    z = np.array([0.0, -1000.0, -5000.0])
    q = kdbook.softmax(z)
    assert q[1] == 0.0 and q[2] == 0.0  # underflow: np.log(q) would be -inf
    # log_softmax(z)_i = z_i - log(1 + e^-1000 + e^-5000) = z_i exactly in float64.
    np.testing.assert_array_equal(kdbook.log_softmax(z), z)
    z32 = np.float32([0.0, -200.0])
    out = kdbook.log_softmax(z32)
    assert out.dtype == np.float32 and np.all(np.isfinite(out))
    np.testing.assert_array_equal(out, z32)


def test_large_logits_do_not_overflow():
    q = kdbook.softmax([1000.0, 999.0, 0.0])
    e = math.exp(-1)
    np.testing.assert_allclose(q, [1 / (1 + e), e / (1 + e), 0.0], rtol=1e-15)


@pytest.mark.parametrize("fn", [kdbook.softmax, kdbook.log_softmax])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_float_dtype_is_preserved(rng, fn, dtype):
    z = rng.normal(size=(3, 5)).astype(dtype)
    out = fn(z, T=2.0)
    assert out.dtype == dtype
    np.testing.assert_allclose(out, fn(z.astype(np.float64), T=2.0), rtol=5e-3 if dtype == np.float16 else 1e-6)


@pytest.mark.parametrize("fn", [kdbook.softmax, kdbook.log_softmax])
def test_lists_and_integers_become_float64(fn):
    out = fn([[1, 2, 3], [0, 0, 0]])
    assert out.dtype == np.float64 and out.shape == (2, 3)
    reference = scipy.special.softmax if fn is kdbook.softmax else scipy.special.log_softmax
    np.testing.assert_allclose(out, reference(np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]), axis=-1), rtol=1e-14)
    # Integer logits are not divided by T in integer arithmetic: T = 2 halves the gaps exactly.
    np.testing.assert_allclose(fn([4, 2, 0], T=2), reference(np.array([2.0, 1.0, 0.0])), rtol=1e-14)


def test_axis_zero_equals_transpose(rng):
    z = rng.normal(size=(5, 3))
    np.testing.assert_array_equal(kdbook.softmax(z, axis=0), kdbook.softmax(z.T).T)
    np.testing.assert_array_equal(kdbook.log_softmax(z, axis=0, T=2.0), kdbook.log_softmax(z.T, T=2.0).T)


def test_input_is_not_modified(rng):
    z = rng.normal(size=(2, 4))
    before = z.copy()
    kdbook.softmax(z, T=3.0)
    kdbook.log_softmax(z)
    np.testing.assert_array_equal(z, before)


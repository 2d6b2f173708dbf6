"""Entropy and the divergences: hand-worked values, scipy cross-checks, zeros, units, dtypes, shapes."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import scipy.spatial.distance
import scipy.special
import scipy.stats

import kdbook
from kdbook import _rowwise

LN2 = math.log(2.0)

#: Every two-argument divergence, with its keyword options, by name.
PAIRWISE = {
    "cross_entropy": (kdbook.cross_entropy, {}),
    "kl_divergence": (kdbook.kl_divergence, {}),
    "reverse_kl_divergence": (kdbook.reverse_kl_divergence, {}),
    "js_divergence": (kdbook.js_divergence, {}),
    "generalized_js_divergence": (kdbook.generalized_js_divergence, {"beta": 0.3}),
    "skew_kl_divergence": (kdbook.skew_kl_divergence, {"alpha": 0.2}),
    "total_variation": (kdbook.total_variation, {}),
}


@pytest.fixture
def rng():
    return np.random.default_rng(2024)


@pytest.fixture
def pq(rng):
    """A batch of 6 teacher/student pairs over 9 classes with full support, float64."""
    return rng.dirichlet(np.ones(9), size=6), rng.dirichlet(np.full(9, 0.5), size=6)


@pytest.fixture
def smooth_pq(rng):
    """Pairs whose probability ratios stay within e^±4, so the small-weight limits set in early."""
    return kdbook.softmax(rng.normal(size=(6, 9))), kdbook.softmax(rng.normal(size=(6, 9)))


def _rel_entr_sum(p, q):
    """Σ p log(p/q) by scipy's elementwise rel_entr (0 log 0 = 0, inf for missing support)."""
    return scipy.special.rel_entr(p, q).sum(axis=-1)


# --------------------------------------------------------------------------- hand-worked values


def test_values_worked_by_hand():
    p, q = [0.5, 0.5], [0.25, 0.75]
    kl = 0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75)
    rev = 0.25 * math.log(0.25 / 0.5) + 0.75 * math.log(0.75 / 0.5)
    h = -2 * 0.5 * math.log(0.5)
    m = [0.375, 0.625]
    js = 0.5 * sum(a * math.log(a / b) for a, b in zip(p, m)) + 0.5 * sum(a * math.log(a / b) for a, b in zip(q, m))
    assert kdbook.kl_divergence(p, q) == pytest.approx(kl, rel=1e-15)
    assert kdbook.reverse_kl_divergence(p, q) == pytest.approx(rev, rel=1e-15)
    assert kdbook.entropy(p) == pytest.approx(h, rel=1e-15)
    assert kdbook.cross_entropy(p, q) == pytest.approx(-0.5 * math.log(0.25) - 0.5 * math.log(0.75), rel=1e-15)
    assert kdbook.js_divergence(p, q) == pytest.approx(js, rel=1e-14)
    assert kdbook.total_variation(p, q) == pytest.approx(0.25, rel=1e-15)
    assert kdbook.entropy([0.25] * 4, base=2) == pytest.approx(2.0, rel=1e-15)


def test_asymmetry_of_kl_and_direction_of_reverse_kl(pq):
    p, q = pq
    forward, reverse = kdbook.kl_divergence(p, q), kdbook.kl_divergence(q, p)
    assert np.all(np.abs(forward - reverse) > 1e-3)
    np.testing.assert_array_equal(kdbook.reverse_kl_divergence(p, q), reverse)


def test_symmetric_ones_are_symmetric(pq):
    p, q = pq
    for fn in (kdbook.js_divergence, kdbook.total_variation):
        np.testing.assert_allclose(fn(p, q), fn(q, p), rtol=1e-14)


# --------------------------------------------------------------------------- scipy cross-checks


@pytest.mark.parametrize("base", [None, 2, 10])
def test_entropy_and_kl_agree_with_scipy_stats_entropy(pq, base):
    p, q = pq
    np.testing.assert_allclose(kdbook.entropy(p, base=base), scipy.stats.entropy(p, axis=-1, base=base), rtol=1e-13)
    np.testing.assert_allclose(
        kdbook.kl_divergence(p, q, base=base), scipy.stats.entropy(p, q, axis=-1, base=base), rtol=1e-12
    )
    np.testing.assert_allclose(
        kdbook.reverse_kl_divergence(p, q, base=base), scipy.stats.entropy(q, p, axis=-1, base=base), rtol=1e-12
    )


def test_kl_agrees_with_scipy_rel_entr(pq):
    p, q = pq
    np.testing.assert_allclose(kdbook.kl_divergence(p, q), _rel_entr_sum(p, q), rtol=1e-12)


@pytest.mark.parametrize("base", [None, 2])
def test_js_is_scipy_jensenshannon_squared(pq, base):
    p, q = pq
    expected = scipy.spatial.distance.jensenshannon(p, q, axis=-1, base=base) ** 2
    np.testing.assert_allclose(kdbook.js_divergence(p, q, base=base), expected, rtol=1e-10)


def test_cross_entropy_agrees_with_scipy_xlogy(pq):
    p, q = pq
    np.testing.assert_allclose(kdbook.cross_entropy(p, q), -scipy.special.xlogy(p, q).sum(axis=-1), rtol=1e-13)


@pytest.mark.parametrize("beta", [0.0, 0.1, 0.5, 0.9, 1.0])
def test_generalized_js_matches_its_definition(pq, beta):
    p, q = pq
    m = beta * p + (1 - beta) * q
    expected = beta * _rel_entr_sum(p, m) + (1 - beta) * _rel_entr_sum(q, m)
    np.testing.assert_allclose(kdbook.generalized_js_divergence(p, q, beta=beta), expected, rtol=1e-12, atol=1e-16)


@pytest.mark.parametrize("alpha", [0.0, 0.1, 0.5, 1.0])
def test_skew_kl_matches_its_definition(pq, alpha):
    p, q = pq
    expected = _rel_entr_sum(p, alpha * p + (1 - alpha) * q)
    np.testing.assert_allclose(kdbook.skew_kl_divergence(p, q, alpha=alpha), expected, rtol=1e-12, atol=1e-16)


def test_skew_reverse_kl_by_swapping_the_arguments(pq):
    p, q = pq
    alpha = 0.3
    expected = _rel_entr_sum(q, (1 - alpha) * p + alpha * q)  # KL(q ‖ (1-α)p + αq), DistiLLM's SRKL
    np.testing.assert_allclose(kdbook.skew_kl_divergence(q, p, alpha=alpha), expected, rtol=1e-12)


def test_total_variation_matches_half_l1(pq):
    p, q = pq
    np.testing.assert_allclose(kdbook.total_variation(p, q), 0.5 * np.abs(p - q).sum(axis=-1), rtol=1e-14)


# --------------------------------------------------------------------------- limits of the families


def test_generalized_js_limits(smooth_pq):
    p, q = smooth_pq
    forward, reverse = kdbook.kl_divergence(p, q), kdbook.reverse_kl_divergence(p, q)
    assert np.all(kdbook.generalized_js_divergence(p, q, beta=0.0) == 0)
    assert np.all(kdbook.generalized_js_divergence(p, q, beta=1.0) == 0)
    np.testing.assert_allclose(kdbook.generalized_js_divergence(p, q, beta=0.5), kdbook.js_divergence(p, q), rtol=1e-15)
    errors_fwd, errors_rev, values = [], [], []
    for b in (1e-2, 1e-3, 1e-4):
        values.append(np.abs(kdbook.generalized_js_divergence(p, q, beta=b)).max())
        errors_fwd.append(np.abs(kdbook.generalized_js_divergence(p, q, beta=b) / b - forward).max())
        errors_rev.append(np.abs(kdbook.generalized_js_divergence(p, q, beta=1 - b) / b - reverse).max())
    # The value itself vanishes; divided by β (resp. 1 − β) it approaches forward (resp. reverse)
    # KL, with an error of order β: each tenfold step in β cuts the error about tenfold.
    assert values == sorted(values, reverse=True) and values[-1] < 1e-3
    for errors in (errors_fwd, errors_rev):
        assert errors[0] / errors[1] > 5 and errors[1] / errors[2] > 5
        assert errors[-1] < 1e-2 * forward.max()


def test_skew_kl_limits_and_monotonicity(smooth_pq):
    p, q = smooth_pq
    np.testing.assert_array_equal(kdbook.skew_kl_divergence(p, q, alpha=0.0), kdbook.kl_divergence(p, q))
    np.testing.assert_array_equal(kdbook.skew_kl_divergence(p, q, alpha=1.0), 0.0)
    values = np.array([kdbook.skew_kl_divergence(p, q, alpha=a) for a in np.linspace(0, 1, 11)])
    assert np.all(np.diff(values, axis=0) <= 1e-15)  # mixing in more p only brings the target closer
    np.testing.assert_allclose(kdbook.skew_kl_divergence(p, q, alpha=1e-6), kdbook.kl_divergence(p, q), rtol=1e-4)


# --------------------------------------------------------------------------- zeros and missing support


def test_zero_log_zero_is_zero():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert kdbook.entropy([1.0, 0.0, 0.0]) == 0.0
        assert kdbook.kl_divergence([1.0, 0.0], [0.5, 0.5]) == pytest.approx(LN2, rel=1e-15)
        assert kdbook.kl_divergence([0.0, 1.0, 0.0], [0.0, 1.0, 0.0]) == 0.0
        assert kdbook.cross_entropy([0.0, 1.0], [0.0, 1.0]) == 0.0
        assert kdbook.js_divergence([1.0, 0.0], [0.0, 1.0]) == pytest.approx(LN2, rel=1e-15)


@pytest.mark.parametrize(
    "fn, p, q",
    [
        (kdbook.kl_divergence, [0.5, 0.5], [1.0, 0.0]),
        (kdbook.cross_entropy, [0.5, 0.5], [1.0, 0.0]),
        (kdbook.reverse_kl_divergence, [1.0, 0.0], [0.5, 0.5]),
        (lambda p, q: kdbook.skew_kl_divergence(p, q, alpha=0.0), [0.5, 0.5], [1.0, 0.0]),
    ],
)
def test_missing_support_gives_inf_not_nan_and_no_warning(fn, p, q):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert fn(p, q) == np.inf
        # Only the affected row is inf; its neighbours keep their finite values.
        batch = fn(np.array([p, [0.5, 0.5]]), np.array([q, [0.5, 0.5]]))
    assert batch[0] == np.inf and batch[1] == fn([0.5, 0.5], [0.5, 0.5])


def test_mixtures_stay_finite_where_support_is_missing():
    p, q = [0.5, 0.5, 0.0], [0.0, 0.0, 1.0]
    assert kdbook.js_divergence(p, q) == pytest.approx(LN2, rel=1e-15)
    # Disjoint supports: KL(p‖m) = log(1/β) and KL(q‖m) = log(1/(1-β)).
    b = 0.2
    expected = b * math.log(1 / b) + (1 - b) * math.log(1 / (1 - b))
    assert kdbook.generalized_js_divergence(p, q, beta=b) == pytest.approx(expected, rel=1e-14)
    assert kdbook.skew_kl_divergence(p, q, alpha=0.1) == pytest.approx(math.log(10), rel=1e-14)


def test_mixtures_stay_finite_when_the_small_weight_underflows():
    # w·p underflows to 0 in m = w·p + (1-w)·q, yet KL(p‖m) ≤ log(1/w) stays finite: the value is
    # the exact β·½·log(1/β) (and ½·log(1/α) − ½·log 2 for skew KL), not inf.
    p, q = [0.5, 0.5], [1.0, 0.0]
    w = 5e-324
    g = kdbook.generalized_js_divergence(p, q, beta=w)
    assert np.isfinite(g) and g >= 0
    expected = 0.5 * math.log(0.5 / 1.0) + 0.5 * (math.log(0.5) - (math.log(w) + math.log(0.5)))
    assert kdbook.skew_kl_divergence(p, q, alpha=w) == pytest.approx(expected, rel=1e-14)
    out = kdbook.skew_kl_divergence(np.float32(p), np.float32(q), alpha=1e-40)  # α·p underflows in float32
    assert out.dtype == np.float32 and out == pytest.approx(0.5 * math.log(1e40) - 0.5 * math.log(2), rel=1e-6)
    assert np.isfinite(kdbook.generalized_js_divergence([1.0, 1e-30], q, beta=1e-300))  # 1e-330 underflows


def test_float32_tiny_probabilities():
    # p/q overflows float32 (1e-3 / 1e-42 = 1e39) and p holds a subnormal: the result must still
    # be the finite float64 value of the same float32 inputs.
    p = np.float32([0.998, 0.001, 0.001])
    q = np.float32([0.999, 0.001, 1e-42])
    p[0] = np.float32(1) - p[1] - p[2]
    q[0] = np.float32(1) - q[1] - q[2]
    p64, q64 = p.astype(np.float64), q.astype(np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kl = kdbook.kl_divergence(p, q)
        tiny = kdbook.kl_divergence(np.float32([1 - 2e-30, 1e-30, 1e-30]), np.float32([1 - 2e-30, 1e-30, 1e-45]))
    assert kl.dtype == np.float32
    assert kl == pytest.approx(_rel_entr_sum(p64, q64), rel=1e-5)
    assert np.isfinite(tiny) and tiny >= 0


# --------------------------------------------------------------------------- units, dtypes, shapes


@pytest.mark.parametrize("name", list(PAIRWISE))
def test_base_two_is_nats_over_ln2(pq, name):
    fn, kw = PAIRWISE[name]
    p, q = pq
    scale = 1.0 if name == "total_variation" else LN2  # TV is a probability: it has no unit
    np.testing.assert_allclose(fn(p, q, base=2, **kw), fn(p, q, **kw) / scale, rtol=1e-14)


def test_entropy_base_two_is_nats_over_ln2(pq):
    np.testing.assert_allclose(kdbook.entropy(pq[0], base=2), kdbook.entropy(pq[0]) / LN2, rtol=1e-14)


@pytest.mark.parametrize("name", list(PAIRWISE))
def test_float32_in_float32_out(pq, name):
    fn, kw = PAIRWISE[name]
    p, q = (x.astype(np.float32) for x in pq)
    out = fn(p, q, **kw)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, fn(p.astype(np.float64), q.astype(np.float64), **kw), rtol=1e-4, atol=1e-6)
    assert kdbook.entropy(p).dtype == np.float32


def test_lists_give_float64_and_one_dimensional_input_gives_a_scalar():
    out = kdbook.kl_divergence([0.5, 0.5], [0.25, 0.75])
    assert out.dtype == np.float64 and np.ndim(out) == 0
    assert kdbook.entropy([[1, 0], [0, 1]]).dtype == np.float64  # integers are promoted


@pytest.mark.parametrize("name", list(PAIRWISE))
def test_teacher_broadcasts_against_a_batch(pq, name):
    fn, kw = PAIRWISE[name]
    p, q = pq
    teacher = p[0]
    np.testing.assert_array_equal(fn(teacher, q, **kw), fn(np.tile(teacher, (6, 1)), q, **kw))
    np.testing.assert_array_equal(fn(q, teacher, **kw), fn(q, np.tile(teacher, (6, 1)), **kw))


@pytest.mark.parametrize("name", list(PAIRWISE))
def test_axis_zero_and_leading_batch_axes(pq, name):
    fn, kw = PAIRWISE[name]
    p, q = pq
    np.testing.assert_array_equal(fn(p.T, q.T, axis=0, **kw), fn(p, q, **kw))
    p3, q3 = p.reshape(2, 3, 9), q.reshape(2, 3, 9)
    out = fn(p3, q3, **kw)
    assert out.shape == (2, 3)
    np.testing.assert_array_equal(out.reshape(-1), fn(p, q, **kw))
    # Class axis in the middle of three.
    np.testing.assert_array_equal(fn(p3.transpose(0, 2, 1), q3.transpose(0, 2, 1), axis=1, **kw), out)


def test_inputs_are_not_modified(pq):
    p, q = pq
    before = p.copy(), q.copy()
    for fn, kw in PAIRWISE.values():
        fn(p, q, **kw)
    np.testing.assert_array_equal(p, before[0])
    np.testing.assert_array_equal(q, before[1])


# --------------------------------------------------------------------------- chunked and threaded paths


@pytest.mark.parametrize("name", list(PAIRWISE))
def test_many_small_chunks_on_threads_give_the_single_pass_result(monkeypatch, rng, name):
    fn, kw = PAIRWISE[name]
    p = rng.dirichlet(np.ones(40), size=300)
    q = rng.dirichlet(np.ones(40), size=300)
    q[7, 3:] = 0.0  # rows needing the exact (masked) path inside some chunk
    q[7] /= q[7].sum()
    p[150, :20] = 0.0
    p[150] /= p[150].sum()
    reference = fn(p, q, **kw)
    monkeypatch.setattr(_rowwise, "CHUNK_BYTES", 7 * 40 * 8)  # 7 rows per chunk: 43 chunks, the last of 6 rows
    monkeypatch.setattr(_rowwise, "PARALLEL_MIN_BYTES", 0)  # and dispatch them to the thread pool,
    monkeypatch.setattr(_rowwise, "_workers", lambda: 4)  # which is used even on a one-core machine
    np.testing.assert_array_equal(fn(p, q, **kw), reference)


def test_llm_sized_float32_rows_agree_with_scipy(rng):
    logits = rng.normal(scale=3.0, size=(2, 2, 32000))
    p64, q64 = scipy.special.softmax(logits, axis=-1)
    p, q = p64.astype(np.float32), q64.astype(np.float32)
    expected = scipy.stats.entropy(p.astype(np.float64), q.astype(np.float64), axis=-1)
    np.testing.assert_allclose(kdbook.kl_divergence(p, q), expected, rtol=1e-4)


@pytest.mark.parametrize(
    "name, fn",
    [
        ("entropy", lambda p, q, **kw: kdbook.entropy(p, **kw)),
        ("cross_entropy", kdbook.cross_entropy),
        ("kl_divergence", kdbook.kl_divergence),
        ("reverse_kl_divergence", kdbook.reverse_kl_divergence),
        ("js_divergence", kdbook.js_divergence),
        ("generalized_js_divergence", lambda p, q, **kw: kdbook.generalized_js_divergence(p, q, beta=0.3, **kw)),
        ("skew_kl_divergence", lambda p, q, **kw: kdbook.skew_kl_divergence(p, q, alpha=0.1, **kw)),
        ("total_variation", kdbook.total_variation),
    ],
)
def test_masked_positions_give_zero_and_are_not_validated(name, fn):
    rng = np.random.default_rng(5)
    p = rng.dirichlet(np.ones(6), size=(3, 4))
    q = rng.dirichlet(np.ones(6), size=(3, 4))
    mask = rng.random((3, 4)) > 0.3
    mask[0, 0] = True
    full = fn(p, q)
    p_pad, q_pad = p.copy(), q.copy()
    p_pad[~mask], q_pad[~mask] = np.nan, -1.0  # padding garbage: neither finite nor a distribution
    got = fn(p_pad, q_pad, mask=mask)
    np.testing.assert_array_equal(got[mask], full[mask])
    assert np.all(got[~mask] == 0.0)
    # the class axis elsewhere: the mask has the shape of the other axes
    np.testing.assert_array_equal(fn(np.moveaxis(p_pad, -1, 0), np.moveaxis(q_pad, -1, 0), axis=0, mask=mask), got)
    bad = p.copy()
    bad[2, 3] *= 2.0
    mask2 = np.ones((3, 4), dtype=bool)
    mask2[0, 1] = False
    with pytest.raises(ValueError, match=r"p must sum to 1 along axis -1 \(row \(2, 3\) sums to 2"):
        fn(bad, q, mask=mask2)
    with pytest.raises(ValueError, match=r"mask must have the batch shape \(3, 4\)"):
        fn(p, q, mask=np.ones((4, 3), dtype=bool))

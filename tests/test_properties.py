"""Hypothesis property tests: the inequalities and identities every divergence and loss must obey."""
from __future__ import annotations

import math

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import kdbook

LN2 = math.log(2.0)
#: Rounding slack for inequalities that are tight at the boundary (e.g. JS = ln 2 exactly).
SLACK = 1e-12

#: Modest example counts keep the file at a few seconds; set per test, not as a global profile,
#: so other test files keep their own hypothesis settings.
PROPERTY = settings(max_examples=60, deadline=None)

shapes = st.tuples(st.integers(1, 4), st.integers(2, 8))
logit_values = st.floats(-15, 15, allow_nan=False, allow_infinity=False)


@st.composite
def logit_pairs(draw, max_batch=4):
    shape = draw(st.tuples(st.integers(1, max_batch), st.integers(2, 8)))
    z = draw(hnp.arrays(np.float64, shape, elements=logit_values))
    v = draw(hnp.arrays(np.float64, shape, elements=logit_values))
    return z, v


@st.composite
def distribution_pairs(draw, zeros=True):
    """Two batches of distributions, optionally with exact zeros (0·log 0 and missing support)."""
    z, v = draw(logit_pairs())
    p, q = kdbook.softmax(v), kdbook.softmax(z)
    if zeros:
        for x in (p, q):
            mask = draw(hnp.arrays(np.bool_, x.shape))
            mask[:, 0] = False  # keep one class so every row still has mass
            x[mask] = 0.0
            x /= x.sum(axis=-1, keepdims=True)
    return p, q


@PROPERTY
@given(distribution_pairs())
def test_divergences_are_non_negative_and_bounded(pq):
    p, q = pq
    k = p.shape[-1]
    assert np.all(kdbook.kl_divergence(p, q) >= 0)
    assert np.all(kdbook.reverse_kl_divergence(p, q) >= 0)
    assert np.all(kdbook.skew_kl_divergence(p, q, alpha=0.1) >= 0)
    js = kdbook.js_divergence(p, q)
    assert np.all((js >= 0) & (js <= LN2 + SLACK))
    assert np.all(kdbook.js_divergence(p, q, base=2) <= 1 + SLACK)
    g = kdbook.generalized_js_divergence(p, q, beta=0.3)
    # JSD(β) ≤ H(β, 1-β), the binary entropy of the weights (reached for disjoint supports).
    assert np.all((g >= 0) & (g <= -(0.3 * math.log(0.3) + 0.7 * math.log(0.7)) + SLACK))
    tv = kdbook.total_variation(p, q)
    assert np.all((tv >= 0) & (tv <= 1 + SLACK))
    h = kdbook.entropy(p)
    assert np.all((h >= 0) & (h <= math.log(k) + SLACK))


@PROPERTY
@given(distribution_pairs())
def test_nothing_is_ever_nan(pq):
    p, q = pq
    for fn in (kdbook.kl_divergence, kdbook.reverse_kl_divergence, kdbook.cross_entropy, kdbook.entropy):
        out = fn(p, q) if fn is not kdbook.entropy else fn(p)
        assert not np.any(np.isnan(out))


@PROPERTY
@given(distribution_pairs())
def test_zero_iff_equal(pq):
    p, q = pq
    for fn in (kdbook.kl_divergence, kdbook.reverse_kl_divergence, kdbook.js_divergence, kdbook.total_variation):
        assert np.all(fn(p, p) == 0)
    different = np.abs(p - q).max(axis=-1) > 1e-6
    for fn in (kdbook.kl_divergence, kdbook.js_divergence, kdbook.total_variation):
        assert np.all(fn(p, q)[different] > 0)


@PROPERTY
@given(distribution_pairs())
def test_cross_entropy_is_entropy_plus_kl(pq):
    p, q = pq
    ce, h, kl = kdbook.cross_entropy(p, q), kdbook.entropy(p), kdbook.kl_divergence(p, q)
    finite = np.isfinite(kl)
    assert np.array_equal(np.isfinite(ce), finite)  # both are inf exactly where q misses p's support
    np.testing.assert_allclose(ce[finite], (h + kl)[finite], rtol=1e-9, atol=1e-12)


@PROPERTY
@given(distribution_pairs())
def test_pinsker(pq):
    p, q = pq
    tv, kl = kdbook.total_variation(p, q), kdbook.kl_divergence(p, q)
    # Compare in the squared form 2·TV² ≤ KL: for nearly equal p and q the computed KL is the
    # sum of terms of size |p − q| that cancel to (p − q)², so it is accurate only to ~1e-16
    # absolute, and its square root to ~1e-10 (found by hypothesis: p = (0.5, 0.5),
    # q = (0.50000025, 0.49999975), where Pinsker is tight).
    assert np.all(2 * tv**2 <= kl + 1e-14)


@PROPERTY
@given(distribution_pairs(), st.floats(0, 1))
def test_mixture_families(pq, w):
    p, q = pq
    np.testing.assert_allclose(
        kdbook.generalized_js_divergence(p, q, beta=w), kdbook.generalized_js_divergence(q, p, beta=1 - w),
        rtol=1e-9, atol=1e-14,
    )
    # Skew KL never exceeds KL and is finite whenever alpha > 0.
    skew = kdbook.skew_kl_divergence(p, q, alpha=w)
    assert np.all(skew <= kdbook.kl_divergence(p, q) * (1 + 1e-12) + SLACK)
    if w > 0:
        assert np.all(np.isfinite(skew))


@PROPERTY
@given(distribution_pairs(zeros=False))
def test_base_two_is_nats_over_ln2(pq):
    p, q = pq
    for fn in (kdbook.kl_divergence, kdbook.js_divergence, kdbook.cross_entropy):
        np.testing.assert_allclose(fn(p, q, base=2), fn(p, q) / LN2, rtol=1e-13)


@PROPERTY
@given(hnp.arrays(np.float64, shapes, elements=logit_values), st.floats(-1e3, 1e3), st.floats(0.05, 50))
def test_softmax_is_a_shift_invariant_distribution(z, c, T):
    q = kdbook.softmax(z, T=T)
    assert np.all(q >= 0)
    np.testing.assert_allclose(q.sum(axis=-1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(kdbook.softmax(z + c, T=T), q, rtol=1e-9, atol=1e-300)
    log_q = kdbook.log_softmax(z, T=T)
    assert np.all(np.isfinite(log_q))
    visible = q > 1e-300
    np.testing.assert_allclose(np.log(q[visible]), log_q[visible], rtol=1e-9, atol=1e-12)


@PROPERTY
@given(hnp.arrays(np.float64, shapes, elements=st.integers(-15, 15).map(float)))
def test_temperature_limits(z):
    # Whole-number logits: ties are exact and every gap is ≥ 1 ≫ T in the T → 0 limit.
    k = z.shape[-1]
    np.testing.assert_allclose(kdbook.softmax(z, T=1e7), 1.0 / k, atol=15 / 1e7)
    top = z == z.max(axis=-1, keepdims=True)
    # At T → 0 all mass goes to the maximal logits, shared evenly among ties.
    np.testing.assert_allclose(kdbook.softmax(z, T=1e-300), top / top.sum(axis=-1, keepdims=True), atol=1e-300)


@PROPERTY
@given(logit_pairs(), st.sampled_from(["forward", "reverse", "jsd"]), st.floats(0.2, 8))
def test_kd_loss_properties(zv, divergence, T):
    z, v = zv
    loss, grad = kdbook.kd_loss_and_grad(z, v, T=T, divergence=divergence, reduction="none")
    assert np.all(loss >= 0)
    # Softmax ignores a common shift of the logits, so the gradient sums to 0 over classes...
    np.testing.assert_allclose(grad.sum(axis=-1), 0.0, atol=1e-12 * max(1.0, np.abs(grad).max()))
    # ...and shifting the student's logits leaves the loss alone.
    np.testing.assert_allclose(
        kdbook.kd_loss(z + 7.0, v, T=T, divergence=divergence, reduction="none"), loss, rtol=1e-9, atol=1e-10
    )
    expected = {
        "forward": kdbook.kl_divergence,
        "reverse": kdbook.reverse_kl_divergence,
        "jsd": kdbook.js_divergence,
    }[divergence](kdbook.softmax(v, T=T), kdbook.softmax(z, T=T))
    np.testing.assert_allclose(loss, T**2 * expected, rtol=1e-8, atol=1e-10)


@settings(PROPERTY, max_examples=25)
@given(
    logit_pairs(max_batch=2),
    st.sampled_from(["forward", "reverse", "jsd"]),
    st.sampled_from([0.0, 0.5, 1.0]),
    st.sampled_from(["batchmean", "sum", "none"]),
    st.floats(0.5, 5),
    st.data(),
)
def test_kd_gradient_passes_check_gradient(zv, divergence, hard_weight, reduction, T, data):
    z, v = zv
    z, v = z / 3, v / 3  # moderate logits: finite differences lose digits on saturated softmaxes
    labels = data.draw(hnp.arrays(np.int64, z.shape[:-1], elements=st.integers(0, z.shape[-1] - 1)))
    kw = dict(T=T, labels=labels, hard_weight=hard_weight, divergence=divergence, reduction=reduction)

    def f(x):
        loss, grad = kdbook.kd_loss_and_grad(x, v, **kw)
        return np.sum(loss), grad

    # At (near) a stationary point, e.g. z = v, a relative error only measures rounding noise
    # (~1e-10 with eps = 1e-6); test_losses.py checks that the gradient vanishes there.
    assume(np.abs(f(z)[1]).max() > 1e-4)
    assert kdbook.check_gradient(f, z) < 1e-5

"""kd_loss and kd_loss_and_grad against an independent float64 implementation and finite differences."""
from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
import scipy.special

import kdbook
from kdbook import _rowwise

DIVERGENCES = ("forward", "reverse", "jsd")
REDUCTIONS = ("batchmean", "tokenmean", "sum", "none")


def reference_kd(s, t, *, T=1.0, labels=None, hard_weight=0.0, divergence="forward", reduction="batchmean"):
    """KD_REFERENCE.md's formula, written out plainly in float64 with scipy's softmax.

    L = w · CE(y, softmax(z)) + (1 − w) · T² · D(softmax(v/T), softmax(z/T)).
    """
    s = np.asarray(s, dtype=np.float64)
    t = np.broadcast_to(np.asarray(t, dtype=np.float64), s.shape)
    p = scipy.special.softmax(t / T, axis=-1)
    q = scipy.special.softmax(s / T, axis=-1)
    if divergence == "forward":
        soft = np.sum(p * np.log(p / q), axis=-1)
    elif divergence == "reverse":
        soft = np.sum(q * np.log(q / p), axis=-1)
    else:
        m = (p + q) / 2
        soft = 0.5 * np.sum(p * np.log(p / m), axis=-1) + 0.5 * np.sum(q * np.log(q / m), axis=-1)
    per_example = (1 - hard_weight) * T**2 * soft
    if hard_weight > 0:
        q1 = scipy.special.softmax(s, axis=-1)
        picked = np.take_along_axis(q1, np.asarray(labels)[..., None], axis=-1)[..., 0]
        per_example = per_example - hard_weight * np.log(picked)
    if reduction == "none":
        return per_example
    # batchmean: torch's meaning, divide by the first axis; tokenmean: by the number of positions.
    divisor = {"batchmean": per_example.shape[0] if per_example.ndim else 1, "tokenmean": per_example.size}
    return per_example.sum() / divisor.get(reduction, 1)


@pytest.fixture
def rng():
    return np.random.default_rng(1503)


def _batch(rng, shape, scale=2.0):
    s, t = rng.normal(scale=scale, size=shape), rng.normal(scale=scale, size=shape)
    labels = rng.integers(0, shape[-1], size=shape[:-1])
    return s, t, labels


CASES = list(itertools.product(DIVERGENCES, (0.0, 0.3, 1.0), REDUCTIONS, (0.5, 1.0, 4.0)))


@pytest.mark.parametrize("divergence, hard_weight, reduction, T", CASES)
@pytest.mark.parametrize("shape", [(4, 6), (6,), (2, 3, 5)])
def test_values_match_the_reference(rng, divergence, hard_weight, reduction, T, shape):
    s, t, labels = _batch(rng, shape)
    kw = dict(T=T, labels=labels, hard_weight=hard_weight, divergence=divergence, reduction=reduction)
    expected = reference_kd(s, t, **kw)
    loss = kdbook.kd_loss(s, t, **kw)
    np.testing.assert_allclose(loss, expected, rtol=1e-12, atol=1e-14)
    assert np.shape(loss) == (shape[:-1] if reduction == "none" else ())
    loss2, grad = kdbook.kd_loss_and_grad(s, t, **kw)
    np.testing.assert_array_equal(loss2, loss)
    assert grad.shape == s.shape


@pytest.mark.parametrize("divergence, hard_weight, reduction, T", CASES)
@pytest.mark.parametrize("shape", [(3, 5), (5,)])
def test_gradient_passes_check_gradient(rng, divergence, hard_weight, reduction, T, shape):
    s, t, labels = _batch(rng, shape)
    kw = dict(T=T, labels=labels, hard_weight=hard_weight, divergence=divergence, reduction=reduction)

    def f(z):
        loss, grad = kdbook.kd_loss_and_grad(z, t, **kw)
        return np.sum(loss), grad  # "none": the gradient is that of the sum of per-example losses

    assert kdbook.check_gradient(f, s, rtol=1e-6) < 1e-6


def test_gradient_of_forward_kl_is_t_times_q_minus_p(rng):
    # Hinton et al. (2015) Eq. 2 times T²: d[T² KL(p_T‖q_T)]/dz = T (q_T − p_T), then /N for batchmean.
    s, t, _ = _batch(rng, (4, 7))
    T = 3.0
    p, q = scipy.special.softmax(t / T, axis=-1), scipy.special.softmax(s / T, axis=-1)
    _, grad = kdbook.kd_loss_and_grad(s, t, T=T)
    np.testing.assert_allclose(grad, T * (q - p) / 4, rtol=1e-12, atol=1e-16)


def test_gradient_of_reverse_kl_matches_the_closed_form(rng):
    # KD_REFERENCE.md (T = 1): dKL(q‖p)/dz_j = q_j (log(q_j/p_j) − KL(q‖p)).
    s, t, _ = _batch(rng, (4, 7))
    p, q = scipy.special.softmax(t, axis=-1), scipy.special.softmax(s, axis=-1)
    kl = np.sum(q * np.log(q / p), axis=-1, keepdims=True)
    _, grad = kdbook.kd_loss_and_grad(s, t, divergence="reverse", reduction="sum")
    np.testing.assert_allclose(grad, q * (np.log(q / p) - kl), rtol=1e-10, atol=1e-15)


def test_gradient_of_the_hard_term_is_softmax_minus_one_hot(rng):
    s, t, labels = _batch(rng, (4, 7))
    _, grad = kdbook.kd_loss_and_grad(s, t, T=5.0, labels=labels, hard_weight=1.0, reduction="sum")
    np.testing.assert_allclose(grad, scipy.special.softmax(s, axis=-1) - np.eye(7)[labels], rtol=1e-12, atol=1e-16)


def test_high_temperature_gradient_is_logit_matching(rng):
    # Hinton et al. (2015) Eq. 4: with zero-mean logits and T ≫ |logits|, T(q − p) ≈ (z − v)/K.
    s, t, _ = _batch(rng, (3, 10), scale=1.0)
    s -= s.mean(axis=-1, keepdims=True)
    t -= t.mean(axis=-1, keepdims=True)
    _, grad = kdbook.kd_loss_and_grad(s, t, T=1000.0, reduction="sum")
    np.testing.assert_allclose(grad, (s - t) / 10, rtol=1e-2, atol=1e-5)


@pytest.mark.parametrize("divergence", DIVERGENCES)
def test_zero_when_student_equals_teacher_and_positive_otherwise(rng, divergence):
    s, t, _ = _batch(rng, (5, 8))
    loss, grad = kdbook.kd_loss_and_grad(s, s, T=2.0, divergence=divergence, reduction="none")
    np.testing.assert_array_equal(loss, 0.0)
    np.testing.assert_array_equal(grad, 0.0)
    loss, grad = kdbook.kd_loss_and_grad(s, s + 3.0, T=2.0, divergence=divergence, reduction="none")
    np.testing.assert_allclose(loss, 0.0, atol=1e-14)  # a constant shift does not change the softmax
    np.testing.assert_allclose(grad, 0.0, atol=1e-14)
    assert np.all(kdbook.kd_loss(s, t, T=2.0, divergence=divergence, reduction="none") > 0)


def test_soft_term_is_t_squared_times_the_kdbook_divergences(rng):
    s, t, _ = _batch(rng, (5, 8))
    T = 2.5
    p, q = kdbook.softmax(t, T=T), kdbook.softmax(s, T=T)
    for divergence, fn in [
        ("forward", kdbook.kl_divergence),
        ("reverse", kdbook.reverse_kl_divergence),
        ("jsd", kdbook.js_divergence),
    ]:
        loss = kdbook.kd_loss(s, t, T=T, divergence=divergence, reduction="none")
        np.testing.assert_allclose(loss, T**2 * fn(p, q), rtol=1e-12)


def test_reductions(rng):
    s, t, labels = _batch(rng, (6, 5))
    kw = dict(T=2.0, labels=labels, hard_weight=0.3)
    per_example = kdbook.kd_loss(s, t, reduction="none", **kw)
    assert per_example.shape == (6,)
    assert kdbook.kd_loss(s, t, reduction="sum", **kw) == pytest.approx(per_example.sum(), rel=1e-14)
    batchmean = kdbook.kd_loss(s, t, reduction="batchmean", **kw)
    assert batchmean == pytest.approx(per_example.sum() / 6, rel=1e-14)
    # PyTorch's reduction="mean" divides by N·K as well: K times smaller, not the KL per example.
    torch_style_mean = per_example.sum() / s.size
    assert batchmean == pytest.approx(5 * torch_style_mean, rel=1e-14)
    assert abs(batchmean - torch_style_mean) > 0.1 * batchmean
    _, g_sum = kdbook.kd_loss_and_grad(s, t, reduction="sum", **kw)
    _, g_mean = kdbook.kd_loss_and_grad(s, t, reduction="batchmean", **kw)
    _, g_none = kdbook.kd_loss_and_grad(s, t, reduction="none", **kw)
    np.testing.assert_allclose(g_mean, g_sum / 6, rtol=1e-14)
    np.testing.assert_array_equal(g_none, g_sum)


def test_batchmean_divides_by_the_first_axis_and_tokenmean_by_every_position(rng):
    # (B, L, K) = (2, 3, 4): torch's batchmean divides by B = 2, the per-token mean by B·L = 6.
    s, t, _ = _batch(rng, (2, 3, 4))
    total = kdbook.kd_loss(s, t, T=2.0, reduction="sum")
    assert kdbook.kd_loss(s, t, T=2.0) == pytest.approx(total / 2, rel=1e-14)
    assert kdbook.kd_loss(s, t, T=2.0, reduction="tokenmean") == pytest.approx(total / 6, rel=1e-14)
    s2, t2 = s.reshape(6, 4), t.reshape(6, 4)  # on a 2-D batch the two means agree
    assert kdbook.kd_loss(s2, t2, T=2.0) == kdbook.kd_loss(s2, t2, T=2.0, reduction="tokenmean")


@pytest.mark.parametrize("divergence", DIVERGENCES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_float32_in_float32_out(rng, divergence, reduction):
    s, t, labels = (x.astype(np.float32) if x.dtype.kind == "f" else x for x in _batch(rng, (4, 6)))
    kw = dict(T=2.0, labels=labels, hard_weight=0.3, divergence=divergence, reduction=reduction)
    loss = kdbook.kd_loss(s, t, **kw)
    loss2, grad = kdbook.kd_loss_and_grad(s, t, **kw)
    assert loss.dtype == np.float32 and loss2.dtype == np.float32 and grad.dtype == np.float32
    np.testing.assert_allclose(loss, reference_kd(s, t, **kw), rtol=1e-4, atol=1e-6)
    _, grad64 = kdbook.kd_loss_and_grad(s.astype(np.float64), t.astype(np.float64), **kw)
    np.testing.assert_allclose(grad, grad64, rtol=1e-4, atol=1e-6)


def test_teacher_broadcasts_to_the_student_batch(rng):
    s, t, labels = _batch(rng, (5, 6))
    teacher = t[0]
    for divergence in DIVERGENCES:
        kw = dict(T=2.0, labels=labels, hard_weight=0.3, divergence=divergence, reduction="none")
        loss, grad = kdbook.kd_loss_and_grad(s, teacher, **kw)
        loss_t, grad_t = kdbook.kd_loss_and_grad(s, np.tile(teacher, (5, 1)), **kw)
        np.testing.assert_array_equal(loss, loss_t)
        np.testing.assert_array_equal(grad, grad_t)


def test_one_example_with_a_scalar_label(rng):
    s, t, _ = _batch(rng, (6,))
    loss = kdbook.kd_loss(s, t, T=2.0, labels=4, hard_weight=0.5)
    assert np.ndim(loss) == 0
    assert loss == pytest.approx(reference_kd(s, t, T=2.0, labels=np.array(4), hard_weight=0.5), rel=1e-13)
    assert kdbook.kd_loss(list(s), list(t), T=2.0, labels=4, hard_weight=0.5) == loss


def test_far_apart_logits_stay_finite_without_warnings():
    # log(p/q) from probabilities would be log(0/0); log-softmax differences stay exact.
    s = np.float32([[300.0, 0.0, -300.0]])
    t = np.float32([[-300.0, 0.0, 300.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for divergence in DIVERGENCES:
            loss, grad = kdbook.kd_loss_and_grad(s, t, T=1.0, divergence=divergence)
            assert np.isfinite(loss) and np.all(np.isfinite(grad))
        forward = kdbook.kd_loss(s, t, T=1.0)
    # log q ≈ (0, −300, −600), log p ≈ (−600, −300, 0): p ≈ (0, 0, 1) and KL ≈ 0 − (−600).
    assert forward == pytest.approx(600.0, rel=1e-6)


def test_tiny_temperature_has_the_argmax_limit():
    # T² · KL(p_T‖q_T) → T · (max z − z at the teacher's argmax) = T · 1 here, as T → 0.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = kdbook.kd_loss([1.0, 2.0], [2.0, 1.0], T=1e-300)
    assert loss == pytest.approx(1e-300, rel=1e-12)


def test_chunked_and_threaded_evaluation_matches_one_pass(monkeypatch, rng):
    s, t, labels = _batch(rng, (64, 12))
    kw = dict(T=2.0, labels=labels, hard_weight=0.3, divergence="reverse")
    loss, grad = kdbook.kd_loss_and_grad(s, t, **kw)
    monkeypatch.setattr(_rowwise, "CHUNK_BYTES", 5 * 12 * 8)  # 5 rows per chunk, uneven last chunk
    monkeypatch.setattr(_rowwise, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(_rowwise, "_workers", lambda: 4)  # the thread pool even on a one-core machine
    loss_c, grad_c = kdbook.kd_loss_and_grad(s, t, **kw)
    assert loss_c == pytest.approx(loss, rel=1e-14)
    np.testing.assert_array_equal(grad_c, grad)


def test_large_float32_batch_matches_the_reference(rng):
    s, t, labels = (x.astype(np.float32) if x.dtype.kind == "f" else x for x in _batch(rng, (64, 8000), scale=3.0))
    kw = dict(T=2.0, labels=labels, hard_weight=0.1)
    loss, grad = kdbook.kd_loss_and_grad(s, t, **kw)
    assert loss == pytest.approx(reference_kd(s, t, **kw), rel=1e-4)
    p = scipy.special.softmax(t.astype(np.float64) / 2.0, axis=-1)
    q = scipy.special.softmax(s.astype(np.float64) / 2.0, axis=-1)
    q1 = scipy.special.softmax(s.astype(np.float64), axis=-1)
    expected = (0.9 * 2.0 * (q - p) + 0.1 * (q1 - np.eye(8000)[labels])) / 64
    np.testing.assert_allclose(grad, expected, rtol=1e-3, atol=1e-9)


def test_inputs_are_not_modified(rng):
    s, t, labels = _batch(rng, (3, 4))
    before = s.copy(), t.copy(), labels.copy()
    for divergence in DIVERGENCES:
        kdbook.kd_loss_and_grad(s, t, T=1.0, labels=labels, hard_weight=0.5, divergence=divergence)
    for x, y in zip((s, t, labels), before):
        np.testing.assert_array_equal(x, y)

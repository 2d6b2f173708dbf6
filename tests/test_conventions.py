"""The numpy re-implementations of framework conventions (kdbook.conventions).

Checked against independent formulas written here from the definitions (always run), and
against real PyTorch where it is importable (skipped otherwise).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special
from hypothesis import given, settings
from hypothesis import strategies as st

import kdbook
from kdbook.conventions import torch_style_kl_div, tutorial_soft_cross_entropy


def _batch(rng, b=4, k=5, scale=2.0):
    return rng.normal(scale=scale, size=(b, k)), rng.normal(scale=scale, size=(b, k))


def _kl_by_loops(p, q):
    """KL(p‖q) per row, written out with Python loops and math.log (0·log 0 = 0)."""
    return [sum(pi * (math.log(pi) - math.log(qi)) for pi, qi in zip(pr, qr) if pi > 0) for pr, qr in zip(p, q)]


# --------------------------------------------------------------------- torch_style_kl_div


def test_batchmean_is_the_mean_kl_teacher_first():
    rng = np.random.default_rng(0)
    z, w = _batch(rng)
    p, q = kdbook.softmax(w), kdbook.softmax(z)
    expected = np.mean(_kl_by_loops(p, q))
    got = torch_style_kl_div(np.log(q), p, reduction="batchmean")
    assert got == pytest.approx(expected, rel=1e-12)


def test_argument_order_trap_swapping_gives_the_reverse_kl():
    rng = np.random.default_rng(1)
    z, w = _batch(rng)
    p, q = kdbook.softmax(w), kdbook.softmax(z)
    swapped = torch_style_kl_div(np.log(p), q, reduction="batchmean")
    assert swapped == pytest.approx(np.mean(_kl_by_loops(q, p)), rel=1e-12)
    assert abs(swapped - np.mean(_kl_by_loops(p, q))) > 1e-3


def test_probabilities_as_input_is_not_a_kl():
    # The trap: F.kl_div(q, p) with q probabilities. The value is Σ p log p − Σ p q, which is
    # negative here although every KL is >= 0.
    p = np.array([[0.7, 0.2, 0.1]])
    q = np.array([[0.5, 0.3, 0.2]])
    got = torch_style_kl_div(q, p, reduction="batchmean")
    by_hand = sum(pi * math.log(pi) - pi * qi for pi, qi in zip(p[0], q[0]))
    assert got == pytest.approx(by_hand, rel=1e-12)
    assert got < 0


@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 5), (6,)])
def test_reductions_divide_exactly_as_documented(shape):
    rng = np.random.default_rng(2)
    z, w = rng.normal(size=shape), rng.normal(size=shape)
    log_q = kdbook.log_softmax(z)
    p = kdbook.softmax(w)
    p[..., 0] = 0.0  # as in test_against_torch (skipped where torch is absent): 0·log 0 = 0 in every reduction
    p /= p.sum(axis=-1, keepdims=True)
    pointwise = torch_style_kl_div(log_q, p, reduction="none")
    assert pointwise.shape == shape
    # PyTorch's documented pointwise loss, target·(log target − input), with scipy's xlogy for 0·log 0.
    np.testing.assert_allclose(pointwise, scipy.special.xlogy(p, p) - p * log_q, rtol=1e-13, atol=1e-15)
    assert np.all(pointwise[..., 0] == 0.0)
    total = pointwise.sum()
    assert torch_style_kl_div(log_q, p, reduction="sum") == pytest.approx(total, rel=1e-13)
    assert torch_style_kl_div(log_q, p, reduction="mean") == pytest.approx(total / np.prod(shape), rel=1e-13)
    assert torch_style_kl_div(log_q, p, reduction="batchmean") == pytest.approx(total / shape[0], rel=1e-13)
    # The default is "mean", as in PyTorch.
    assert torch_style_kl_div(log_q, p) == torch_style_kl_div(log_q, p, reduction="mean")


def test_mean_is_batchmean_divided_by_the_number_of_classes():
    rng = np.random.default_rng(3)
    z, w = _batch(rng, b=8, k=7)
    log_q, p = kdbook.log_softmax(z), kdbook.softmax(w)
    ratio = torch_style_kl_div(log_q, p, reduction="batchmean") / torch_style_kl_div(log_q, p, reduction="mean")
    assert ratio == pytest.approx(7.0, rel=1e-12)


def test_zero_target_contributes_zero_even_with_a_very_negative_input():
    got = torch_style_kl_div(np.array([[-1e300, 0.0]]), np.array([[0.0, 1.0]]), reduction="none")
    np.testing.assert_array_equal(got, [[0.0, 0.0]])


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 4), st.integers(2, 6), st.integers(0, 2**32 - 1))
def test_log_target_agrees_with_probability_target(b, k, seed):
    rng = np.random.default_rng(seed)
    z, w = rng.normal(size=(b, k)), rng.normal(size=(b, k))
    log_q, log_p = kdbook.log_softmax(z), kdbook.log_softmax(w)
    a = torch_style_kl_div(log_q, np.exp(log_p), reduction="none")
    c = torch_style_kl_div(log_q, log_p, reduction="none", log_target=True)
    np.testing.assert_allclose(a, c, rtol=1e-10, atol=1e-14)
    # batchmean of either is the KL, which is >= 0 and matches kdbook.
    kl = torch_style_kl_div(log_q, log_p, reduction="batchmean", log_target=True)
    assert kl == pytest.approx(float(np.mean(kdbook.kl_divergence(np.exp(log_p), np.exp(log_q)))), rel=1e-9, abs=1e-14)


def test_float32_stays_float32():
    z = np.array([[0.5, -0.5]], dtype=np.float32)
    out = torch_style_kl_div(kdbook.log_softmax(z), kdbook.softmax(z[:, ::-1].copy()), reduction="sum")
    assert out.dtype == np.float32


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(input=[[0.0, 0.0]], target=[[0.5, 0.5]], reduction="average"), ValueError, "reduction must be one of"),
        (dict(input=[[0.0, 0.0]], target=[0.5, 0.5]), ValueError, r"input and target must have the same shape"),
        (dict(input=[[np.nan, 0.0]], target=[[0.5, 0.5]]), ValueError, r"input must be finite"),
        (dict(input=[[0.0, 0.0]], target=[[-0.5, 1.5]]), ValueError, "target must be non-negative"),
        (dict(input=[[0.0, 0.0]], target=[[0.5, 0.5]], log_target="yes"), TypeError, "log_target must be a bool"),
        (dict(input=np.zeros((0, 3)), target=np.zeros((0, 3))), ValueError, "input is empty"),
        (dict(input=[["a", "b"]], target=[[0.5, 0.5]]), TypeError, "input must be an array of numbers"),
    ],
)
def test_bad_input_is_named(kwargs, exc, match):
    inp, tgt = kwargs.pop("input"), kwargs.pop("target")
    with pytest.raises(exc, match=match):
        torch_style_kl_div(inp, tgt, **kwargs)


# --------------------------------------------------------------- tutorial_soft_cross_entropy


@pytest.mark.parametrize("T", [1.0, 2.5, 8.0])
def test_tutorial_loss_is_t2_times_mean_soft_cross_entropy(T):
    rng = np.random.default_rng(4)
    z, w = _batch(rng, b=6, k=4)
    p, q = kdbook.softmax(w, T=T), kdbook.softmax(z, T=T)
    by_loops = np.mean([-sum(pi * math.log(qi) for pi, qi in zip(pr, qr)) for pr, qr in zip(p, q)]) * T * T
    assert tutorial_soft_cross_entropy(z, w, T=T) == pytest.approx(by_loops, rel=1e-12)


@pytest.mark.parametrize("T", [1.0, 3.0])
def test_tutorial_loss_differs_from_kd_loss_by_t2_entropy_with_the_same_gradient(T):
    rng = np.random.default_rng(5)
    z, w = _batch(rng, b=3, k=5)
    gap = tutorial_soft_cross_entropy(z, w, T=T) - kdbook.kd_loss(z, w, T=T)
    assert gap == pytest.approx(T * T * float(np.mean(kdbook.entropy(kdbook.softmax(w, T=T)))), rel=1e-10)
    numeric = kdbook.numerical_gradient(lambda x: tutorial_soft_cross_entropy(x, w, T=T), z)
    _, analytic = kdbook.kd_loss_and_grad(z, w, T=T)
    np.testing.assert_allclose(numeric, analytic, rtol=1e-6, atol=1e-8)


def test_tutorial_loss_bad_input():
    with pytest.raises(ValueError, match=r"shape \(B, K\)"):
        tutorial_soft_cross_entropy([1.0, 0.0], [1.0, 0.0])
    with pytest.raises(ValueError, match="teacher_logits must have the shape"):
        tutorial_soft_cross_entropy([[1.0, 0.0]], [[1.0, 0.0, 2.0]])
    with pytest.raises(ValueError, match="T must be > 0"):
        tutorial_soft_cross_entropy([[1.0, 0.0]], [[1.0, 0.0]], T=0.0)


# --------------------------------------------------------------------- against real PyTorch


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides the total loss")
def test_against_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(6)
    for shape in [(4, 5), (2, 3, 6), (7,)]:
        z, w = rng.normal(scale=2.0, size=shape), rng.normal(scale=2.0, size=shape)
        log_q, p = kdbook.log_softmax(z), kdbook.softmax(w)
        p[..., 0] = 0.0  # exercise the 0·log 0 convention
        p /= p.sum(axis=-1, keepdims=True)
        for inp, tgt in [(log_q, p), (p, np.exp(log_q))]:  # also the "probabilities as input" trap
            for reduction in ("none", "sum", "mean", "batchmean"):
                ours = torch_style_kl_div(inp, tgt, reduction=reduction)
                theirs = F.kl_div(torch.from_numpy(inp), torch.from_numpy(tgt), reduction=reduction).numpy()
                np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)
        log_p = kdbook.log_softmax(w)
        ours = torch_style_kl_div(log_q, log_p, reduction="batchmean", log_target=True)
        theirs = F.kl_div(torch.from_numpy(log_q), torch.from_numpy(log_p), reduction="batchmean", log_target=True)
        assert ours == pytest.approx(float(theirs), rel=1e-12)
    z, w = rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    for T in (1.0, 4.0):
        zt, wt = torch.from_numpy(z), torch.from_numpy(w)
        soft_targets = F.softmax(wt / T, dim=-1)
        soft_prob = F.log_softmax(zt / T, dim=-1)
        tutorial = -torch.sum(soft_targets * soft_prob) / soft_prob.size()[0] * (T**2)
        assert tutorial_soft_cross_entropy(z, w, T=T) == pytest.approx(float(tutorial), rel=1e-12)

"""Masked distillation losses and the four reductions: an independent per-position loop, finite
differences, and PyTorch (when installed) on 2-D and 3-D batches."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.special

import kdbook
from kdbook import _rowwise

DIVERGENCES = ("forward", "reverse", "jsd")
REDUCTIONS = ("batchmean", "tokenmean", "sum", "none")


def loop_loss(s, t, mask, *, T, labels=None, hard_weight=0.0, divergence="forward", reduction="batchmean"):
    """One position at a time, skipping masked ones, then the reduction's formula written out."""
    s, t = np.asarray(s, float), np.asarray(t, float)
    batch_shape = s.shape[:-1]
    per_position = np.zeros(batch_shape)
    for idx in np.ndindex(*batch_shape):
        if not mask[idx]:
            continue
        p = scipy.special.softmax(t[idx] / T)
        q = scipy.special.softmax(s[idx] / T)
        if divergence == "forward":
            d = np.sum(p * np.log(p / q))
        elif divergence == "reverse":
            d = np.sum(q * np.log(q / p))
        else:
            m = (p + q) / 2
            d = 0.5 * np.sum(p * np.log(p / m)) + 0.5 * np.sum(q * np.log(q / m))
        loss = (1 - hard_weight) * T * T * d
        if hard_weight:
            loss -= hard_weight * np.log(scipy.special.softmax(s[idx])[labels[idx]])
        per_position[idx] = loss
    if reduction == "none":
        return per_position
    total = per_position.sum()
    if reduction == "batchmean":
        return total / (batch_shape[0] if batch_shape else 1)
    if reduction == "tokenmean":
        return total / np.count_nonzero(mask)
    return total


@pytest.fixture
def rng():
    return np.random.default_rng(2024)


def _padded(rng, shape, *, pad_fraction=0.3, random=False):
    """Logits, labels and a mask; right padding per sequence (or random holes), never all masked."""
    s, t = rng.normal(scale=2.0, size=shape), rng.normal(scale=2.0, size=shape)
    labels = rng.integers(0, shape[-1], size=shape[:-1])
    batch_shape = shape[:-1]
    if random:
        mask = rng.random(batch_shape) > pad_fraction
    else:
        L = batch_shape[-1]
        lengths = rng.integers(1, L + 1, size=batch_shape[:-1])
        mask = np.arange(L) < lengths[..., None]
    mask.reshape(-1)[0] = True
    return s, t, labels, mask


@pytest.mark.parametrize("divergence", DIVERGENCES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape, random", [((5, 4), True), ((3, 6, 5), False), ((2, 3, 4, 3), True)])
@pytest.mark.parametrize("hard_weight", [0.0, 0.4])
def test_masked_loss_matches_a_per_position_loop(rng, divergence, reduction, shape, random, hard_weight):
    s, t, labels, mask = _padded(rng, shape, random=random)
    kw = dict(T=2.0, labels=labels, hard_weight=hard_weight, divergence=divergence, reduction=reduction)
    expected = loop_loss(s, t, mask, **kw)
    loss = kdbook.kd_loss(s, t, mask=mask, **kw)
    np.testing.assert_allclose(loss, expected, rtol=1e-11, atol=1e-14)
    loss2, grad = kdbook.kd_loss_and_grad(s, t, mask=mask, **kw)
    np.testing.assert_array_equal(loss2, loss)
    assert np.all(grad[~mask] == 0.0)
    if reduction == "none":
        assert np.all(loss[~mask] == 0.0)


@pytest.mark.parametrize("divergence", DIVERGENCES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_masked_gradient_passes_check_gradient(rng, divergence, reduction):
    s, t, labels, mask = _padded(rng, (2, 4, 3))
    kw = dict(T=1.5, labels=labels, hard_weight=0.3, divergence=divergence, reduction=reduction, mask=mask)

    def f(z):
        loss, grad = kdbook.kd_loss_and_grad(z, t, **kw)
        return np.sum(loss), grad

    assert kdbook.check_gradient(f, s, rtol=1e-6) < 1e-6


def test_masked_positions_may_hold_padding_garbage(rng):
    s, t, labels, mask = _padded(rng, (3, 5, 4))
    s_bad, t_bad, labels_bad = s.copy(), t.copy(), labels.copy()
    s_bad[~mask], t_bad[~mask], labels_bad[~mask] = np.nan, np.inf, -100  # Hugging Face's ignore index
    kw = dict(T=2.0, hard_weight=0.5, reduction="tokenmean", mask=mask)
    loss, grad = kdbook.kd_loss_and_grad(s, t, labels=labels, **kw)
    loss_bad, grad_bad = kdbook.kd_loss_and_grad(s_bad, t_bad, labels=labels_bad, **kw)
    assert loss_bad == loss
    np.testing.assert_array_equal(grad_bad, grad)
    # ...and the loss on the valid positions alone, as one flat batch, is the same number.
    flat = kdbook.kd_loss(s[mask], t[mask], labels=labels[mask], T=2.0, hard_weight=0.5, reduction="tokenmean")
    assert loss == pytest.approx(flat, rel=1e-14)


def test_no_mask_and_an_all_true_mask_agree_exactly(rng):
    s, t, labels, _ = _padded(rng, (3, 4, 5))
    full = np.ones((3, 4), dtype=bool)
    for reduction in REDUCTIONS:
        a = kdbook.kd_loss_and_grad(s, t, T=3.0, labels=labels, hard_weight=0.2, reduction=reduction)
        b = kdbook.kd_loss_and_grad(s, t, T=3.0, labels=labels, hard_weight=0.2, reduction=reduction, mask=full)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])


def test_batchmean_and_tokenmean_differ_by_the_mean_length(rng):
    # Summed over a sequence and divided by B, vs divided by the number of valid tokens.
    s, t, _, mask = _padded(rng, (4, 8, 6))
    bm = kdbook.kd_loss(s, t, T=2.0, mask=mask)
    tm = kdbook.kd_loss(s, t, T=2.0, mask=mask, reduction="tokenmean")
    assert bm == pytest.approx(tm * mask.sum() / 4, rel=1e-13)


def test_chunked_threaded_masked_evaluation_matches_one_pass(monkeypatch, rng):
    s, t, labels, mask = _padded(rng, (6, 11, 7), random=True)  # holes: chunks are index lists
    kw = dict(T=2.0, labels=labels, hard_weight=0.3, divergence="reverse", mask=mask)
    loss, grad = kdbook.kd_loss_and_grad(s, t, **kw)
    monkeypatch.setattr(_rowwise, "CHUNK_BYTES", 5 * 7 * 8)
    monkeypatch.setattr(_rowwise, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(_rowwise, "_workers", lambda: 4)
    loss_c, grad_c = kdbook.kd_loss_and_grad(s, t, **kw)
    assert loss_c == pytest.approx(loss, rel=1e-14)
    np.testing.assert_array_equal(grad_c, grad)
    np.testing.assert_allclose(loss, loop_loss(s, t, mask, T=2.0, labels=labels, hard_weight=0.3,
                                               divergence="reverse"), rtol=1e-11)


def test_float32_masked_stays_float32(rng):
    s, t, _, mask = _padded(rng, (2, 5, 6))
    loss, grad = kdbook.kd_loss_and_grad(s.astype(np.float32), t.astype(np.float32), T=2.0, mask=mask)
    assert loss.dtype == np.float32 and grad.dtype == np.float32
    assert loss == pytest.approx(loop_loss(s.astype(np.float32), t.astype(np.float32), mask, T=2.0), rel=1e-5)


def test_everything_masked_under_sum_is_zero(rng):
    s, t, _, _ = _padded(rng, (2, 3, 4))
    none = np.zeros((2, 3), dtype=bool)
    loss, grad = kdbook.kd_loss_and_grad(s, t, mask=none, reduction="sum")
    assert loss == 0.0 and np.all(grad == 0.0)
    np.testing.assert_array_equal(kdbook.kd_loss(s, t, mask=none, reduction="none"), np.zeros((2, 3)))


@pytest.mark.parametrize(
    "mask, kw, exc, match",
    [
        (np.ones((2, 4), dtype=bool), {}, ValueError, r"mask must have the batch shape \(2, 3\) .*got \(2, 4\)"),
        (np.ones((2, 3, 4), dtype=bool), {}, ValueError, r"mask must have the batch shape \(2, 3\)"),
        (np.ones(3, dtype=bool), {}, ValueError, r"mask must have the batch shape \(2, 3\)"),
        (np.ones((2, 3), dtype=int), {}, TypeError, r"mask must be a boolean array .*got dtype int64; use mask.astype\(bool\)"),
        (np.ones((2, 3)), {}, TypeError, r"mask must be a boolean array .*float64"),
        ([["a"] * 3] * 2, {}, TypeError, r"mask must be a boolean array"),
        (np.zeros((2, 3), dtype=bool), {}, ValueError, r"mask masks every position: reduction='batchmean'"),
        (np.zeros((2, 3), dtype=bool), {"reduction": "tokenmean"}, ValueError, r"mask masks every position: reduction='tokenmean'"),
        (np.array([[True, False, True]] * 2), {"labels": np.array([[0, 9, 4]] * 2), "hard_weight": 0.5},
         ValueError, r"labels must be in \[0, 3\] for 4 classes, found 4 \(at an unmasked position\)"),
    ],
)
def test_bad_masks_get_clear_errors(rng, mask, kw, exc, match):
    s, t, _, _ = _padded(rng, (2, 3, 4))
    for fn in (kdbook.kd_loss, kdbook.kd_loss_and_grad):
        with pytest.raises(exc, match=match):
            fn(s, t, mask=mask, **kw)


def test_nan_at_an_unmasked_position_is_named(rng):
    s, t, _, mask = _padded(rng, (2, 3, 4))
    s[0, 0, 1] = np.nan
    with pytest.raises(ValueError, match=r"student_logits must be finite at unmasked positions: student_logits\[0, 0\]"):
        kdbook.kd_loss(s, t, mask=mask)


# --------------------------------------------------------------------------- against PyTorch

def _torch():
    return pytest.importorskip("torch")


@pytest.mark.parametrize("shape", [(4, 7), (3, 5, 7)])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_reductions_and_gradients_match_torch(rng, shape, masked, reduction):
    torch = _torch()
    import torch.nn.functional as F

    s, t, _, mask = _padded(rng, shape, random=len(shape) == 2)
    if not masked:
        mask = np.ones(shape[:-1], dtype=bool)
    T = 2.0
    zs = torch.tensor(s, requires_grad=True)
    log_q = F.log_softmax(zs / T, dim=-1)
    log_p = F.log_softmax(torch.tensor(t) / T, dim=-1)
    m = torch.tensor(mask)
    if not masked and reduction == "batchmean":
        # torch's own batchmean on the whole (B, ..., K) tensor: divide by the first axis only.
        ref = F.kl_div(log_q, log_p, log_target=True, reduction="batchmean") * T**2
    else:
        per_position = F.kl_div(log_q, log_p, log_target=True, reduction="none").sum(-1) * T**2
        per_position = torch.where(m, per_position, torch.zeros_like(per_position))
        ref = {
            "batchmean": lambda: per_position.sum() / shape[0],
            "tokenmean": lambda: per_position.sum() / m.sum(),
            "sum": per_position.sum,
            "none": lambda: per_position,
        }[reduction]()
    ref.sum().backward()
    loss, grad = kdbook.kd_loss_and_grad(s, t, T=T, reduction=reduction, mask=mask if masked else None)
    np.testing.assert_allclose(loss, ref.detach().numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(grad, zs.grad.numpy(), rtol=1e-10, atol=1e-15)


def test_tokenmean_matches_torch_cross_entropy_with_ignore_index(rng):
    # The hard term alone with tokenmean is torch's F.cross_entropy(ignore_index=-100), mean reduction.
    torch = _torch()
    import torch.nn.functional as F

    s, t, labels, mask = _padded(rng, (3, 6, 5))
    labels_hf = np.where(mask, labels, -100)
    ref = F.cross_entropy(torch.tensor(s).reshape(-1, 5), torch.tensor(labels_hf).reshape(-1), ignore_index=-100)
    loss = kdbook.kd_loss(s, t, labels=labels_hf, hard_weight=1.0, reduction="tokenmean", mask=mask)
    assert loss == pytest.approx(float(ref), rel=1e-12)

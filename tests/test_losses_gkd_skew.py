"""The generalised JSD of GKD and DistiLLM's skew KLs as soft terms of kd_loss: values against
kdbook's divergences, analytic gradients against finite differences and torch autograd, limits."""
from __future__ import annotations

import numpy as np
import pytest

import kdbook

NEW = [("gjsd", {"beta": 0.1}), ("gjsd", {"beta": 0.5}), ("gjsd", {"beta": 0.9}),
       ("skew_forward", {}), ("skew_forward", {"alpha": 0.5}), ("skew_forward", {"alpha": 0.0}),
       ("skew_reverse", {}), ("skew_reverse", {"alpha": 0.5}), ("skew_reverse", {"alpha": 0.0})]


@pytest.fixture
def rng():
    return np.random.default_rng(77)


def _pair(rng, shape, scale=2.0):
    return rng.normal(scale=scale, size=shape), rng.normal(scale=scale, size=shape)


def _divergence_value(divergence, kw, p, q):
    """What the soft term must equal, from kdbook's divergences (chapter 2's functions)."""
    if divergence == "gjsd":
        return kdbook.generalized_js_divergence(p, q, beta=kw["beta"])
    alpha = kw.get("alpha", 0.1)
    if divergence == "skew_forward":
        return kdbook.skew_kl_divergence(p, q, alpha=alpha)  # KL(p ‖ αp + (1−α)q)
    return kdbook.skew_kl_divergence(q, p, alpha=alpha)  # KL(q ‖ αq + (1−α)p)


@pytest.mark.parametrize("divergence, kw", NEW)
@pytest.mark.parametrize("T", [0.5, 1.0, 3.0])
def test_soft_term_is_t_squared_times_the_divergence(rng, divergence, kw, T):
    s, t = _pair(rng, (6, 9))
    p, q = kdbook.softmax(t, T=T), kdbook.softmax(s, T=T)
    loss = kdbook.kd_loss(s, t, T=T, divergence=divergence, reduction="none", **kw)
    np.testing.assert_allclose(loss, T**2 * _divergence_value(divergence, kw, p, q), rtol=1e-11, atol=1e-15)


@pytest.mark.parametrize("divergence, kw", NEW)
@pytest.mark.parametrize("reduction", ["batchmean", "tokenmean", "sum", "none"])
@pytest.mark.parametrize("hard_weight", [0.0, 0.3])
def test_gradient_passes_check_gradient(rng, divergence, kw, reduction, hard_weight):
    s, t = _pair(rng, (2, 3, 5))
    labels = rng.integers(0, 5, size=(2, 3))
    mask = np.array([[True, True, False], [True, False, False]])
    args = dict(T=2.0, labels=labels, hard_weight=hard_weight, divergence=divergence, reduction=reduction, mask=mask, **kw)

    def f(z):
        loss, grad = kdbook.kd_loss_and_grad(z, t, **args)
        return np.sum(loss), grad

    assert kdbook.check_gradient(f, s, rtol=1e-6) < 1e-6
    assert np.all(f(s)[1][~mask] == 0.0)


def test_gjsd_at_one_half_is_jsd_exactly(rng):
    s, t = _pair(rng, (5, 7))
    a = kdbook.kd_loss_and_grad(s, t, T=2.0, divergence="jsd", reduction="none")
    b = kdbook.kd_loss_and_grad(s, t, T=2.0, divergence="gjsd", reduction="none")  # default beta = 0.5
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_alpha_zero_is_the_plain_kl_exactly(rng):
    s, t = _pair(rng, (5, 7))
    for skew, plain in (("skew_forward", "forward"), ("skew_reverse", "reverse")):
        a = kdbook.kd_loss_and_grad(s, t, T=2.0, divergence=skew, alpha=0.0)
        b = kdbook.kd_loss_and_grad(s, t, T=2.0, divergence=plain)
        assert a[0] == b[0]
        np.testing.assert_array_equal(a[1], b[1])


@pytest.mark.parametrize("beta, plain", [(1e-8, "forward"), (1 - 1e-8, "reverse")])
def test_gjsd_divided_by_its_weight_tends_to_forward_and_reverse_kl(rng, beta, plain):
    # GKD / TRL: beta -> 0 behaves like forward KL, beta -> 1 like reverse KL (values and
    # gradients both vanish there; divided by beta or 1 - beta they approach the KLs).
    s, t = _pair(rng, (4, 6))
    weight = beta if plain == "forward" else 1 - beta
    loss, grad = kdbook.kd_loss_and_grad(s, t, T=1.5, divergence="gjsd", beta=beta)
    loss_kl, grad_kl = kdbook.kd_loss_and_grad(s, t, T=1.5, divergence=plain)
    assert loss / weight == pytest.approx(loss_kl, rel=1e-4)
    np.testing.assert_allclose(grad / weight, grad_kl, rtol=1e-4, atol=1e-6)


def test_skew_kls_stay_finite_where_the_plain_kl_is_huge():
    # A student with (numerically) no mass where the teacher has it: forward KL ~ 700 nats,
    # skew KL bounded by log(1/alpha).
    s = np.array([[0.0, -700.0]])
    t = np.array([[0.0, 0.0]])
    assert kdbook.kd_loss(s, t) > 300
    for divergence, s_, t_ in (("skew_forward", s, t), ("skew_reverse", t, s)):
        loss, grad = kdbook.kd_loss_and_grad(s_, t_, divergence=divergence, alpha=0.1)
        assert 0 < loss <= np.log(10) + 1e-12
        assert np.all(np.isfinite(grad))


@pytest.mark.parametrize("divergence, kw", NEW)
def test_zero_for_a_perfect_student_and_float32_kept(rng, divergence, kw):
    s, t = _pair(rng, (4, 6))
    loss, grad = kdbook.kd_loss_and_grad(s, s + 1.0, T=2.0, divergence=divergence, reduction="none", **kw)
    np.testing.assert_allclose(loss, 0.0, atol=1e-14)
    np.testing.assert_allclose(grad, 0.0, atol=1e-14)
    s32, t32 = s.astype(np.float32), t.astype(np.float32)
    loss32, grad32 = kdbook.kd_loss_and_grad(s32, t32, T=2.0, divergence=divergence, **kw)
    assert loss32.dtype == np.float32 and grad32.dtype == np.float32
    assert loss32 == pytest.approx(kdbook.kd_loss(s, t, T=2.0, divergence=divergence, **kw), rel=1e-4)


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(divergence="gjsd", beta=0.0), r"beta must be strictly between 0 and 1 .*use divergence='forward'"),
        (dict(divergence="gjsd", beta=1.0), r"beta must be strictly between 0 and 1"),
        (dict(divergence="gjsd", beta=1.5), r"beta must be in \[0, 1\], got 1.5"),
        (dict(divergence="forward", beta=0.3), r"beta applies to divergence='gjsd' only, not 'forward'"),
        (dict(divergence="jsd", beta=0.3), r"beta applies to divergence='gjsd' only"),
        (dict(divergence="skew_forward", alpha=1.0), r"alpha must be < 1"),
        (dict(divergence="skew_reverse", alpha=-0.1), r"alpha must be in \[0, 1\]"),
        (dict(divergence="gjsd", alpha=0.1), r"alpha applies to divergence='skew_forward' or 'skew_reverse' only"),
        (dict(divergence="skew"), r"divergence must be one of 'forward', 'reverse', 'jsd', 'gjsd', 'skew_forward', 'skew_reverse'"),
    ],
)
def test_bad_divergence_parameters_are_named(rng, kw, match):
    s, t = _pair(rng, (2, 3))
    with pytest.raises(ValueError, match=match):
        kdbook.kd_loss(s, t, **kw)
    with pytest.raises(ValueError, match=match):
        kdbook.train.train(kdbook.classify.models.MLP([2, 3]), rng.normal(size=(4, 2)), teacher_logits=rng.normal(size=(4, 3)), **kw)


@pytest.mark.parametrize("beta", [0.1, 0.5, 0.9])
def test_gjsd_matches_a_trl_style_torch_implementation(rng, beta):
    # TRL's GKDTrainer.generalized_jsd_loss, re-derived: log m = logsumexp(log q + log(1-β), log p + log β),
    # loss = β KL(p‖m) + (1-β) KL(q‖m), gradients by autograd.
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F

    s, t = _pair(rng, (3, 4, 8))
    mask = np.array([[1, 1, 1, 0], [1, 1, 0, 0], [1, 1, 1, 1]], dtype=bool)
    T = 2.0
    zs = torch.tensor(s, requires_grad=True)
    log_q, log_p = F.log_softmax(zs / T, -1), F.log_softmax(torch.tensor(t) / T, -1)
    b = torch.tensor(beta, dtype=torch.float64)
    log_m = torch.logsumexp(torch.stack([log_q + torch.log(1 - b), log_p + torch.log(b)]), dim=0)
    kl_p = F.kl_div(log_m, log_p, reduction="none", log_target=True).sum(-1)
    kl_q = F.kl_div(log_m, log_q, reduction="none", log_target=True).sum(-1)
    per_token = (beta * kl_p + (1 - beta) * kl_q) * T**2
    ref = per_token[torch.tensor(mask)].sum() / mask.sum()
    ref.backward()
    loss, grad = kdbook.kd_loss_and_grad(s, t, T=T, divergence="gjsd", beta=beta, reduction="tokenmean", mask=mask)
    assert loss == pytest.approx(float(ref.detach()), rel=1e-11)
    np.testing.assert_allclose(grad, zs.grad.numpy(), rtol=1e-9, atol=1e-14)


@pytest.mark.parametrize("divergence", ["skew_forward", "skew_reverse"])
def test_skew_kls_match_torch_autograd(rng, divergence):
    torch = pytest.importorskip("torch")

    s, t = _pair(rng, (5, 8))
    alpha, T = 0.1, 1.5
    zs = torch.tensor(s, requires_grad=True)
    q, p = torch.softmax(zs / T, -1), torch.softmax(torch.tensor(t) / T, -1)
    if divergence == "skew_forward":
        ref = (p * (p.log() - (alpha * p + (1 - alpha) * q).log())).sum(-1)
    else:
        ref = (q * (q.log() - (alpha * q + (1 - alpha) * p).log())).sum(-1)
    ref = ref.mean() * T**2
    ref.backward()
    loss, grad = kdbook.kd_loss_and_grad(s, t, T=T, divergence=divergence, alpha=alpha)
    assert loss == pytest.approx(float(ref.detach()), rel=1e-11)
    np.testing.assert_allclose(grad, zs.grad.numpy(), rtol=1e-9, atol=1e-14)

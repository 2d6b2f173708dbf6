"""kdbook.classify.models: the MLP's hand-written backward pass agrees with finite differences, layer by layer."""
from __future__ import annotations

import numpy as np
import pytest

import kdbook
from kdbook.classify.models import MLP, parameter_count, shift_class_bias, softmax_regression


def _problem(n_in=3, k=4, n=7, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_in))
    labels = rng.integers(k, size=n)
    teacher = rng.normal(scale=2.0, size=(n, k))
    return X, labels, teacher


LOSSES = {
    "hard": dict(hard_weight=1.0),
    "forward_T3": dict(T=3.0),
    "reverse_T2": dict(T=2.0, divergence="reverse"),
    "combined": dict(T=4.0, hard_weight=0.3),
}


def _loss_and_param_grads(model, X, labels, teacher, kw):
    z = model.forward(X)
    loss, g = kdbook.kd_loss_and_grad(z, teacher, labels=labels, **kw)
    return float(loss), model.backward(g)


@pytest.mark.parametrize("sizes", [[3, 4], [3, 5, 4], [3, 6, 5, 4]], ids=["softmax_regression", "one_hidden", "two_hidden"])
@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("loss", list(LOSSES))
def test_every_layer_gradient_matches_finite_differences(sizes, activation, loss):
    X, labels, teacher = _problem()
    model = MLP(sizes, activation=activation, seed=1)
    # biases start at 0; move them so ReLU kinks are not at the evaluation point by accident
    for b in model.params[1::2]:
        b += np.random.default_rng(2).normal(scale=0.1, size=b.shape)
    _, grads = _loss_and_param_grads(model, X, labels, teacher, LOSSES[loss])
    for i, p in enumerate(model.params):
        original = p.copy()

        def f(values, i=i):
            model.params[i][...] = values
            out = _loss_and_param_grads(model, X, labels, teacher, LOSSES[loss])[0]
            model.params[i][...] = original
            return out

        err = kdbook.check_gradient(f, original, grad=lambda _x, i=i: grads[i], eps=1e-6)
        assert err < 1e-6, f"params[{i}] ({'W' if i % 2 == 0 else 'b'}{i // 2}) relative error {err:.2e}"


def test_a_wrong_backward_is_caught_by_the_gradient_check():
    # The check above can fail: drop the activation derivative and it reports a large error.
    X, labels, teacher = _problem()
    model = MLP([3, 5, 4], activation="tanh", seed=1)
    z = model.forward(X)
    _, g = kdbook.kd_loss_and_grad(z, teacher, T=2.0)
    h = model._cache[1]
    wrong = X.T @ (g @ model.params[2].T)  # forgets the (1 - h²) factor
    right = model.backward(g)[0]
    assert np.abs(wrong - right).max() > 1e-3
    flat0 = model.params[0].copy()

    def f(w):
        model.params[0][...] = w
        out = float(kdbook.kd_loss(model.logits(X), teacher, T=2.0))
        model.params[0][...] = flat0
        return out

    assert kdbook.check_gradient(f, flat0, grad=lambda _x: wrong) > 1e-2
    assert h.shape == (7, 5)


def test_forward_and_logits_agree_with_a_direct_computation():
    X, _, _ = _problem()
    model = MLP([3, 5, 4], activation="relu", seed=3)
    W0, b0, W1, b1 = model.params
    direct = np.maximum(X @ W0 + b0, 0) @ W1 + b1
    np.testing.assert_allclose(model.forward(X), direct, rtol=1e-12)
    np.testing.assert_allclose(model.logits(X), direct, rtol=1e-12)
    np.testing.assert_array_equal(model.predict(X), direct.argmax(axis=1))


def test_softmax_regression_is_one_affine_layer_and_counts_parameters():
    model = softmax_regression(3, 4, seed=0)
    assert model.sizes == (3, 4) and len(model.params) == 2
    assert parameter_count(model) == 3 * 4 + 4
    assert parameter_count(MLP([2, 64, 64, 3])) == (2 + 1) * 64 + (64 + 1) * 64 + (64 + 1) * 3
    assert MLP([2, 8, 3]).n_params == (2 + 1) * 8 + (8 + 1) * 3  # weights and biases of both layers, by hand


def test_seed_fixes_the_initial_weights():
    a, b, c = MLP([3, 5, 4], seed=7), MLP([3, 5, 4], seed=7), MLP([3, 5, 4], seed=8)
    flat = [np.concatenate([p.ravel() for p in m.params]) for m in (a, b, c)]
    np.testing.assert_array_equal(flat[0], flat[1])
    assert not np.allclose(flat[0], flat[2])
    assert [p.shape for p in a.params] == [(3, 5), (5,), (5, 4), (4,)]


def test_shift_class_bias_raises_one_logit_and_leaves_the_model_alone():
    X, _, _ = _problem()
    model = MLP([3, 5, 4], seed=0)
    before = model.logits(X)
    moved = shift_class_bias(model, 2, 1.5)
    np.testing.assert_allclose(moved.logits(X) - before, np.tile([0, 0, 1.5, 0], (len(X), 1)), atol=1e-12)
    np.testing.assert_array_equal(model.logits(X), before)
    copy = model.copy()
    copy.params[0] += 1.0
    np.testing.assert_array_equal(model.logits(X), before)


@pytest.mark.parametrize(
    "call, err, msg",
    [
        (lambda: MLP([3]), ValueError, "at least"),
        (lambda: MLP("34"), TypeError, "sizes must be a sequence"),
        (lambda: MLP([3, 0, 4]), ValueError, r"sizes\[1\] must be >= 1"),
        (lambda: MLP([3, 1]), ValueError, "number of classes"),
        (lambda: MLP([3, 4], activation="sigmoid"), ValueError, "activation must be one of"),
        (lambda: MLP([3, 4]).forward(np.zeros((2, 5))), ValueError, "X must have 3 features"),
        (lambda: MLP([3, 4]).forward(np.zeros(3)), ValueError, "X must be 2-D"),
        (lambda: MLP([3, 4]).backward(np.zeros((2, 4))), RuntimeError, "call forward"),
        (lambda: _after_forward().backward(np.zeros((2, 3))), ValueError, "grad_logits must have shape"),
        (lambda: shift_class_bias(MLP([3, 4]), 4, 1.0), ValueError, "label must be in"),
        (lambda: shift_class_bias(MLP([3, 4]), 1, float("nan")), ValueError, "shift must be finite"),
        (lambda: parameter_count([1, 2]), TypeError, "model must have params, a list of numpy arrays"),
    ],
)
def test_bad_input_is_named(call, err, msg):
    with pytest.raises(err, match=msg):
        call()


def _after_forward():
    m = MLP([3, 4])
    m.forward(np.zeros((2, 3)))
    return m

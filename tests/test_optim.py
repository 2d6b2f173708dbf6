"""kdbook.optim: SGD with momentum and Adam take the steps their update rules prescribe."""
from __future__ import annotations

import numpy as np
import pytest

from kdbook.optim import SGD, Adam


def test_sgd_momentum_steps_by_hand():
    # Constant gradient g = 1, lr 0.1, momentum 0.5: velocities 1, 1.5, 1.75 -> w = 1 - 0.1·(1 + 1.5 + 1.75).
    w = np.array([1.0])
    opt = SGD([w], lr=0.1, momentum=0.5)
    for _ in range(3):
        opt.step([np.array([1.0])])
    np.testing.assert_allclose(w, [1.0 - 0.425], rtol=1e-12)


def test_plain_gradient_descent_and_decoupled_weight_decay():
    w = np.array([2.0, -4.0])
    SGD([w], lr=0.25, momentum=0.0).step([2 * w])  # w - 0.25·2w = w/2
    np.testing.assert_allclose(w, [1.0, -2.0])
    w = np.array([2.0])
    SGD([w], lr=0.1, momentum=0.0, weight_decay=0.5).step([np.zeros(1)])  # (1 - 0.05)·2
    np.testing.assert_allclose(w, [1.9])


def test_adam_first_step_is_lr_times_sign_and_second_step_by_hand():
    # Step 1: m̂ = g, ŝ = g², so the step is lr·g/(|g| + eps) ≈ lr·sign(g) whatever |g| is.
    w = np.array([0.0, 0.0, 0.0])
    opt = Adam([w], lr=0.01, eps=1e-12)
    opt.step([np.array([1e-3, -5.0, 1e3])])
    np.testing.assert_allclose(w, [-0.01, 0.01, -0.01], rtol=1e-8)
    # Step 2 with g2 = 3 after g1 = 1 (betas 0.9, 0.999):
    # m̂ = (0.09 + 0.3)/0.19, ŝ = (0.000999 + 0.009)/0.001999
    w = np.array([0.0])
    opt = Adam([w], lr=1.0, eps=0.0 + 1e-300)
    opt.step([np.array([1.0])])
    opt.step([np.array([3.0])])
    m_hat = (0.9 * 0.1 * 1.0 + 0.1 * 3.0) / (1 - 0.9**2)
    s_hat = (0.999 * 0.001 * 1.0 + 0.001 * 9.0) / (1 - 0.999**2)
    np.testing.assert_allclose(w, [-1.0 - m_hat / np.sqrt(s_hat)], rtol=1e-12)


@pytest.mark.parametrize("make", [lambda p: SGD(p, lr=0.05, momentum=0.9), lambda p: Adam(p, lr=0.05)], ids=["sgd", "adam"])
def test_both_minimise_a_quadratic(make):
    A = np.diag([1.0, 10.0])
    w = np.array([3.0, -2.0])
    opt = make([w])
    for _ in range(500):
        opt.step([A @ w])
    assert np.linalg.norm(w) < 1e-3


def test_updates_happen_in_place_on_every_array():
    params = [np.ones((2, 3)), np.ones(3)]
    ids = [id(p) for p in params]
    opt = Adam(params, lr=0.1)
    opt.step([np.ones((2, 3)), -np.ones(3)])
    assert [id(p) for p in opt.params] == ids
    assert np.all(params[0] < 1) and np.all(params[1] > 1)


@pytest.mark.parametrize(
    "call, err, msg",
    [
        (lambda: SGD(np.ones(3)), TypeError, "params must be a list"),
        (lambda: SGD([]), TypeError, "non-empty list"),
        (lambda: SGD([np.ones(2, dtype=int)]), TypeError, "float numpy arrays"),
        (lambda: SGD([np.ones(2)], lr=0.0), ValueError, "lr must be > 0"),
        (lambda: SGD([np.ones(2)], momentum=1.5), ValueError, r"momentum must be in \[0, 1\]"),
        (lambda: Adam([np.ones(2)], betas=(0.9, 1.0)), ValueError, "betas must be < 1"),
        (lambda: Adam([np.ones(2)], betas=0.9), TypeError, "betas must be a pair"),
        (lambda: Adam([np.ones(2)], weight_decay=-1.0), ValueError, "weight_decay must be > 0"),
        (lambda: Adam([np.ones(2)]).step([np.ones(3)]), ValueError, r"grads\[0\] must have shape \(2,\)"),
        (lambda: Adam([np.ones(2)]).step([np.ones(2), np.ones(2)]), ValueError, "one array per parameter"),
        (lambda: SGD([np.ones(2)]).step([np.array([np.nan, 0.0])]), ValueError, "NaN or inf"),
    ],
)
def test_bad_input_is_named(call, err, msg):
    with pytest.raises(err, match=msg):
        call()

"""numerical_gradient and check_gradient: they pass right gradients and catch wrong ones."""
from __future__ import annotations

import numpy as np
import pytest

import kdbook


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def test_numerical_gradient_of_known_functions(rng):
    x = rng.normal(size=(3, 4))
    np.testing.assert_allclose(kdbook.numerical_gradient(lambda v: np.sin(v).sum(), x), np.cos(x), rtol=1e-8)
    np.testing.assert_allclose(kdbook.numerical_gradient(lambda v: (v**3).sum(), x), 3 * x**2, rtol=1e-7, atol=1e-9)
    g = kdbook.numerical_gradient(lambda v: float(v**2), 1.5)
    assert np.shape(g) == () and float(g) == pytest.approx(3.0, rel=1e-9)


def test_numerical_gradient_leaves_x_alone_and_passes_copies(rng):
    x = rng.normal(size=5)
    before = x.copy()

    def f(v):
        out = (v**2).sum()
        v[:] = 0.0  # a careless f that scribbles on its argument must not corrupt the next probe
        return out

    np.testing.assert_allclose(kdbook.numerical_gradient(f, x), 2 * before, rtol=1e-8)
    np.testing.assert_array_equal(x, before)


def test_correct_gradient_has_tiny_error(rng):
    x = rng.normal(size=(2, 3))
    err = kdbook.check_gradient(lambda v: ((v**2).sum(), 2 * v), x)
    assert err < 1e-8
    assert kdbook.check_gradient(lambda v: (np.exp(v).sum(), np.exp(v)), x, rtol=1e-6) < 1e-6


def test_grad_callable_form(rng):
    x = rng.normal(size=4)
    assert kdbook.check_gradient(lambda v: np.sum(np.tanh(v)), x, grad=lambda v: 1 - np.tanh(v) ** 2) < 1e-8
    assert kdbook.check_gradient(lambda v: np.sum(np.tanh(v)), x, grad=lambda v: np.tanh(v) ** 2) > 0.1


@pytest.mark.parametrize(
    "wrong",
    [
        pytest.param(lambda g, T: g / T, id="forgot the factor T from T-squared"),
        pytest.param(lambda g, T: -g, id="sign flipped"),
        pytest.param(lambda g, T: g * 0.999, id="off by 0.1 percent"),
        pytest.param(lambda g, T: np.roll(g, 1, axis=-1), id="classes permuted"),
    ],
)
def test_deliberately_wrong_kd_gradients_are_caught(rng, wrong):
    s, t = rng.normal(size=(3, 5)), rng.normal(size=(3, 5))
    T = 4.0

    def right(z):
        return kdbook.kd_loss_and_grad(z, t, T=T)

    def broken(z):
        loss, g = right(z)
        return loss, wrong(g, T)

    assert kdbook.check_gradient(right, s) < 1e-7
    err = kdbook.check_gradient(broken, s)
    assert err > 1e-4
    with pytest.raises(AssertionError, match=r"gradient check failed: relative error .* > rtol 1e-06"):
        kdbook.check_gradient(broken, s, rtol=1e-6)


def test_assertion_names_the_worst_component():
    x = np.array([1.0, 2.0, 3.0])

    def f(v):
        g = 2 * v
        g[2] += 1.0  # only component 2 is wrong: analytic 7 vs numerical 6
        return (v**2).sum(), g

    with pytest.raises(AssertionError, match=r"worst at flat index 2: analytic 7, numerical 6"):
        kdbook.check_gradient(f, x, rtol=1e-3)


def test_error_is_relative_to_the_gradient_scale():
    x = np.array([1.0, -2.0])
    small = kdbook.check_gradient(lambda v: (1e-6 * (v**2).sum(), 1e-6 * 2 * v * 1.01), x)
    large = kdbook.check_gradient(lambda v: (1e6 * (v**2).sum(), 1e6 * 2 * v * 1.01), x)
    assert small == pytest.approx(0.01 / 1.01, rel=1e-3)
    assert large == pytest.approx(0.01 / 1.01, rel=1e-3)


def test_gradient_check_works_on_float32_functions(rng):
    # The differences are taken in float64 whatever f does internally; a float32 loss limits the
    # attainable accuracy, so the tolerance is looser, but a wrong gradient still stands out.
    s, t = rng.normal(size=(2, 4)), rng.normal(size=(2, 4)).astype(np.float32)

    def f32(z):
        return kdbook.kd_loss_and_grad(z.astype(np.float32), t, T=2.0)

    assert kdbook.check_gradient(f32, s, eps=1e-3) < 1e-2

    def forgot_the_t_factor(z):
        loss, g = f32(z)
        return loss, g / 2.0

    assert kdbook.check_gradient(forgot_the_t_factor, s, eps=1e-3) > 0.3  # relative error 1/2 for g/T, T = 2

"""The chapter-4 gradient explorer: its plain computation, its figure, and its widget."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import ipywidgets as widgets  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import kdbook  # noqa: E402
from kdbook.widgets import gradient_explorer, gradient_state, plot_gradient_state  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


Z = np.array([1.0, 2.0, 1.5, 0.0, 1.0])  # chapter 4's student
V = np.array([6.0, 2.0, 1.0, -2.0, -4.0])  # and teacher
Y = 0


def _softmax_by_hand(x, T=1.0):
    e = np.exp(np.asarray(x) / T - np.max(np.asarray(x) / T))
    return e / e.sum()


@pytest.mark.parametrize("T, w", [(1.0, 0.0), (4.0, 0.3), (12.0, 1.0), (0.5, 0.75)])
def test_terms_match_the_formula_written_out(T, w):
    s = gradient_state(Z, V, Y, T=T, hard_weight=w)
    onehot = np.eye(5)[Y]
    np.testing.assert_allclose(s.hard, w * (_softmax_by_hand(Z) - onehot), rtol=0, atol=1e-12)
    np.testing.assert_allclose(s.soft, (1 - w) * T * (_softmax_by_hand(Z, T) - _softmax_by_hand(V, T)), rtol=0, atol=1e-12)
    np.testing.assert_allclose(s.total, s.hard + s.soft, rtol=0, atol=1e-12)
    p, q = _softmax_by_hand(V, T), _softmax_by_hand(Z, T)
    loss = w * -np.log(_softmax_by_hand(Z)[Y]) + (1 - w) * T**2 * np.sum(p * np.log(p / q))
    assert s.loss == pytest.approx(loss, rel=1e-10)
    assert (s.T, s.hard_weight) == (T, w)


def test_total_is_the_finite_difference_gradient_of_the_loss():
    s = gradient_state(Z, V, Y, T=3.0, hard_weight=0.4)
    num = kdbook.numerical_gradient(lambda z: kdbook.kd_loss(z[None, :], V[None, :], T=3.0, labels=[Y], hard_weight=0.4), Z)
    np.testing.assert_allclose(s.total, num, rtol=0, atol=1e-6)
    assert abs(s.total.sum()) < 1e-12  # softmax gradients sum to zero over the classes


def test_figure_draws_the_three_series_and_names_the_state():
    bars = plot_gradient_state(gradient_state(Z, V, Y, T=4.0, hard_weight=0.3), class_labels=list("abcde"))
    assert list(bars.containers) == ["hard term", "soft term", "total"]
    s = gradient_state(Z, V, Y, T=4.0, hard_weight=0.3)
    np.testing.assert_allclose([b.get_height() for b in bars.containers["soft term"]], s.soft)
    assert bars.ax.get_title() == f"T = 4.00, w = 0.30: L = {s.loss:.3f}"
    assert [t.get_text() for t in bars.ax.get_xticklabels()] == list("abcde")
    with pytest.raises(TypeError, match="state must be a GradientState"):
        plot_gradient_state({"T": 1.0})


def test_explorer_stores_the_first_frame_and_redraws_on_each_slider(monkeypatch):
    shown = []
    monkeypatch.setattr(plt, "show", lambda *a, **k: shown.append(plt.gcf()))
    box = gradient_explorer(Z, V, Y, T=4.0, hard_weight=0.3)
    t_slider, w_slider, out = box.children
    assert isinstance(t_slider, widgets.FloatLogSlider) and isinstance(w_slider, widgets.FloatSlider)
    assert isinstance(out, widgets.Output)
    assert (t_slider.value, w_slider.value) == (4.0, 0.3)
    (first,) = out.outputs  # the first frame is stored as a PNG, so a saved notebook shows it
    assert "image/png" in first["data"]
    w_slider.value = 1.0
    t_slider.value = 10.0
    assert len(shown) == 2
    assert shown[-1].axes[0].get_title().startswith("T = 10.00, w = 1.00")


@pytest.mark.parametrize(
    "call, err, msg",
    [
        (lambda: gradient_state(Z, V, 5, T=1.0, hard_weight=0.0), ValueError, r"label must be in \[0, 4\]"),
        (lambda: gradient_state(Z, V, 0.5, T=1.0, hard_weight=0.0), TypeError, "label must be an int"),
        (lambda: gradient_state(Z, V[:3], 0, T=1.0, hard_weight=0.0), ValueError, "teacher_logits must have the student's shape"),
        (lambda: gradient_state(Z[None, :], V, 0, T=1.0, hard_weight=0.0), ValueError, "student_logits must be 1-D"),
        (lambda: gradient_state([1.0, np.nan], [0.0, 0.0], 0, T=1.0, hard_weight=0.0), ValueError, "student_logits must be finite"),
        (lambda: gradient_state(Z, V, 0, T=0.0, hard_weight=0.0), ValueError, "T must be > 0"),
        (lambda: gradient_state(Z, V, 0, T=1.0, hard_weight=1.5), ValueError, r"hard_weight must be in \[0, 1\]"),
        (lambda: gradient_explorer(Z, V, 0, T=50.0), ValueError, "slider's range"),
        (lambda: gradient_explorer(Z, V, 0, class_labels=["a"]), ValueError, "class_labels must have 5 entries"),
    ],
)
def test_bad_input_is_named(call, err, msg):
    with pytest.raises(err, match=msg):
        call()

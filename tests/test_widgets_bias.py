"""The chapter-5 bias-correction explorer: its plain computation, its figure, and its widget."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import ipywidgets as widgets  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from kdbook.classify.models import MLP, shift_class_bias  # noqa: E402
from kdbook.widgets import bias_shift_explorer, bias_shift_state, plot_bias_shift_state  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# Three examples, 3 classes; class 2 is under-predicted by a constant.
LOGITS = np.array([[2.0, 0.0, 1.5], [0.0, 2.0, 0.5], [1.0, 0.0, 0.2]])
LABELS = np.array([2, 1, 2])


def test_state_by_hand():
    # s = 0: predictions 0, 1, 0 -> 2 errors, both on class 2.
    # s = 1: logits of class 2 become 2.5, 1.5, 1.2 -> predictions 2, 1, 2 -> no errors.
    # s = 2: 3.5, 2.5, 2.2 -> predictions 2, 2, 2 -> 1 error (the class-1 example).
    s = bias_shift_state(LOGITS, LABELS, label=2, shift=1.0, shifts=[0.0, 1.0, 2.0])
    assert (s.errors, s.class_errors, s.n, s.n_class) == (0, 0, 3, 2)
    np.testing.assert_array_equal(s.error_curve, [2, 0, 1])
    np.testing.assert_array_equal(s.class_error_curve, [2, 0, 0])
    np.testing.assert_array_equal(s.recall[1:], [1.0, 1.0])
    assert np.isnan(s.recall[0])  # no example of class 0


def test_state_agrees_with_shifting_a_real_models_bias():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(200, 4)), rng.integers(5, size=200)
    net = MLP([4, 6, 5], seed=1)
    s = bias_shift_state(net.logits(X), y, label=3, shift=2.5)
    pred = shift_class_bias(net, 3, 2.5).predict(X)
    assert s.errors == int(np.sum(pred != y)) and s.class_errors == int(np.sum(pred[y == 3] != 3))
    assert len(s.shifts) == 61 and s.shifts[0] == 0.0 and s.shifts[-1] == 15.0
    # errors on the shifted class never increase as its bias rises
    assert np.all(np.diff(s.class_error_curve) <= 0)


def test_figure_marks_the_shift_and_draws_per_class_accuracy():
    fig, curve, bars = plot_bias_shift_state(bias_shift_state(LOGITS, LABELS, label=2, shift=2.0, shifts=[0.0, 1.0, 2.0]))
    assert float(curve.vline.get_xdata()[0]) == 2.0
    np.testing.assert_array_equal(curve.lines["class 2"].get_ydata(), [2, 0, 0])
    assert [float(b.get_height()) for b in bars] == [0.0, 0.0, 1.0]
    assert curve.ax.get_title() == "errors: 1 of 3 (class 2: 0 of 2)"
    with pytest.raises(TypeError, match="state must be a BiasShiftState"):
        plot_bias_shift_state({"shift": 1.0})


def test_explorer_wires_a_slider_to_the_output(monkeypatch):
    shown = []
    monkeypatch.setattr(plt, "show", lambda *a, **k: shown.append(plt.gcf()))
    box = bias_shift_explorer(LOGITS, LABELS, label=2, shift=1.0, max_shift=4.0)
    slider, out = box.children
    assert isinstance(slider, widgets.FloatSlider) and isinstance(out, widgets.Output)
    assert (slider.value, slider.min, slider.max) == (1.0, 0.0, 4.0)
    n = len(shown)
    slider.value = 2.0
    assert len(shown) == n + 1
    assert shown[-1].axes[0].get_title() == "errors: 1 of 3 (class 2: 0 of 2)"


@pytest.mark.parametrize(
    "call, err, msg",
    [
        (lambda: bias_shift_state(LOGITS, LABELS, label=3, shift=0.0), ValueError, r"label must be in \[0, 2\]"),
        (lambda: bias_shift_state(LOGITS, LABELS, label=2, shift=np.inf), ValueError, "shift must be finite"),
        (lambda: bias_shift_state(LOGITS[0], LABELS, label=2, shift=0.0), ValueError, "logits must be 2-D"),
        (lambda: bias_shift_state(LOGITS, LABELS[:2], label=2, shift=0.0), ValueError, "labels must have shape"),
        (lambda: bias_shift_state(LOGITS, LABELS, label=2, shift=0.0, shifts=[[1.0]]), ValueError, "shifts must be 1-D"),
        (lambda: bias_shift_explorer(LOGITS, LABELS, label=2, shift=20.0), ValueError, "slider's range"),
        (lambda: bias_shift_explorer(LOGITS, LABELS, label=2, max_shift=0.0), ValueError, "max_shift must be > 0"),
    ],
)
def test_bad_input_is_named(call, err, msg):
    with pytest.raises(err, match=msg):
        call()

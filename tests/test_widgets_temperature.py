"""The chapter-3 temperature explorer: its plain computation, its figure, and its widget."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import ipywidgets as widgets  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from kdbook.widgets import plot_temperature_state, temperature_explorer, temperature_state  # noqa: E402

LOGITS = [9.0, 5.5, 4.0, 0.5, -2.0]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_state_matches_the_definitions_by_hand():
    v, T = np.array([2.0, 1.0, 0.0]), 2.0
    s = temperature_state(v, T, temperatures=[1.0, 2.0])
    e = np.exp(v / T)
    p = e / e.sum()
    np.testing.assert_allclose(s.probabilities, p, rtol=1e-14)
    np.testing.assert_allclose(s.reference, np.exp(v) / np.exp(v).sum(), rtol=1e-14)
    assert s.entropy == pytest.approx(-(p * np.log(p)).sum(), rel=1e-13)
    assert s.max_entropy == pytest.approx(np.log(3.0), rel=1e-15)
    assert s.entropies[1] == pytest.approx(s.entropy, rel=1e-13)
    bits = temperature_state(v, T, base=2)
    assert bits.entropy == pytest.approx(s.entropy / np.log(2.0), rel=1e-13)
    assert bits.max_entropy == pytest.approx(np.log2(3.0), rel=1e-15)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-20, 20), min_size=2, max_size=8), st.floats(0.05, 50.0))
def test_entropy_curve_rises_with_temperature_towards_log_k(logits, T):
    s = temperature_state(logits, T)
    assert np.all(np.diff(s.entropies) >= -1e-12)  # dH/dT = Var_p(v)/T³ >= 0
    assert np.all(s.entropies <= s.max_entropy + 1e-12)
    assert np.all(s.entropies >= -1e-12)
    assert s.probabilities.sum() == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize(
    "args, kwargs, exc, match",
    [
        (([1.0], 1.0), {}, ValueError, "teacher_logits must be one vector of at least 2 logits"),
        (([[1.0, 2.0]], 1.0), {}, ValueError, "teacher_logits must be one vector"),
        (([1.0, np.nan], 1.0), {}, ValueError, "teacher_logits must be finite"),
        (([1.0, 0.0], 0.0), {}, ValueError, "T must be > 0"),
        (([1.0, 0.0], 1.0), {"temperatures": [0.0, 1.0]}, ValueError, "temperatures must be"),
        (([1.0, 0.0], 1.0), {"base": 1.0}, ValueError, "base must not be 1"),
    ],
)
def test_bad_input_is_named(args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        temperature_state(*args, **kwargs)


def test_figure_shows_bars_at_t_and_at_1_and_marks_t_on_the_entropy_curve():
    s = temperature_state(LOGITS, 4.0)
    fig, bars, curve = plot_temperature_state(s, class_labels=["car", "truck", "bus", "dog", "carrot"])
    assert list(bars.containers) == ["T = 1", "T = 4"]
    heights = [b.get_height() for b in bars.containers["T = 4"]]
    np.testing.assert_allclose(heights, s.probabilities)
    assert [t.get_text() for t in bars.ax.get_xticklabels()] == ["car", "truck", "bus", "dog", "carrot"]
    np.testing.assert_allclose(curve.lines["H(p_T)"].get_ydata(), s.entropies)
    assert curve.vline.get_xdata()[0] == 4.0
    assert curve.hline.get_ydata()[0] == pytest.approx(np.log(5.0))
    assert curve.ax.get_xscale() == "log" and curve.ax.get_ylabel() == "entropy (nats)"
    assert len(fig.axes) == 2
    # At T = 1 only one set of bars is drawn.
    _, bars1, _ = plot_temperature_state(temperature_state(LOGITS, 1.0))
    assert list(bars1.containers) == ["T = 1"]
    with pytest.raises(TypeError, match="state must be a TemperatureState"):
        plot_temperature_state({"T": 1.0})


def test_explorer_wires_a_log_slider_to_the_output(monkeypatch):
    shown = []
    monkeypatch.setattr(plt, "show", lambda *a, **k: shown.append(plt.gcf()))
    box = temperature_explorer(LOGITS, T=2.0, class_labels=list("abcde"))
    slider, out = box.children
    assert isinstance(slider, widgets.FloatLogSlider) and isinstance(out, widgets.Output)
    assert slider.value == pytest.approx(2.0)
    # The first frame (at T = 2) is stored in the Output widget as a PNG, before any move.
    assert len(out.outputs) == 1 and out.outputs[0]["data"]["image/png"]
    assert out.outputs[0]["data"]["text/plain"].endswith("with 2 Axes>")
    assert 10**slider.min == pytest.approx(0.25) and 10**slider.max == pytest.approx(20.0)
    n = len(shown)
    slider.value = 8.0  # a move redraws: the callback runs and calls plt.show()
    assert len(shown) == n + 1
    title = shown[-1].axes[1].get_title()
    assert title.startswith("entropy at T = 8:")
    with pytest.raises(ValueError, match="slider's range"):
        temperature_explorer(LOGITS, T=100.0)
    with pytest.raises(ValueError, match="class_labels must have 5 entries"):
        temperature_explorer(LOGITS, class_labels=["a"])


@pytest.mark.parametrize(
    "T, shown",
    [(10**0.02, "1.05"), (4.0, "4"), (0.25, "0.25"), (2.5, "2.5"), (12.589254117941675, "12.59"), (0.001234, "0.0012")],
)
def test_titles_and_legend_show_t_with_at_most_two_decimals(T, shown):
    # A log slider's values are like 1.0471285: the figure must not print them in full.
    fig, bars, curve = plot_temperature_state(temperature_state(LOGITS, T))
    assert f"T = {shown}" in list(bars.containers)
    assert bars.ax.get_title() == f"soft targets at T = {shown}"
    assert curve.ax.get_title().startswith(f"entropy at T = {shown}:")

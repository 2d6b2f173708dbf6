"""kdbook.plotting.plot_curves: the lines it draws carry the data, labels and scales asked for."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import kdbook  # noqa: E402
from kdbook.plotting import PALETTE, plot_curves  # noqa: E402
from kdbook.plotting._style import new_axes  # noqa: E402


def test_each_series_is_one_line_with_its_data_label_and_colour():
    T = np.array([0.5, 1.0, 2.0, 4.0])
    z = [2.0, 1.0, 0.0]
    probs = np.array([kdbook.softmax(z, T=t) for t in T])
    series = {f"class {i}": probs[:, i] for i in range(3)}
    out = plot_curves(T, series, ylabel="probability")
    assert list(out.lines) == ["class 0", "class 1", "class 2"]
    for i, (name, line) in enumerate(out.lines.items()):
        np.testing.assert_array_equal(line.get_xdata(), T)
        np.testing.assert_array_equal(line.get_ydata(), probs[:, i])
        assert line.get_label() == name
        assert matplotlib.colors.to_hex(line.get_color()) == PALETTE[i].lower()
    assert out.ax.get_xlabel() == "temperature T" and out.ax.get_ylabel() == "probability"
    assert [t.get_text() for t in out.ax.get_legend().get_texts()] == list(series)
    assert out.hline is None and out.vline is None
    assert out.ax.get_xscale() == "linear" and out.ax.get_yscale() == "linear"


def test_log_axes_and_reference_lines():
    T = np.geomspace(0.5, 20.0, 9)
    out = plot_curves(
        T, {"with T²": np.ones(9), "without T²": 1.0 / T**2}, logx=True, logy=True,
        hline=1.0, hline_label="limit", vline=4.0, vline_label="T = 4",
    )
    assert out.ax.get_xscale() == "log" and out.ax.get_yscale() == "log"
    assert list(out.hline.get_ydata()) == [1.0, 1.0] and out.hline.get_label() == "limit"
    assert list(out.vline.get_xdata()) == [4.0, 4.0] and out.vline.get_label() == "T = 4"
    labels = [t.get_text() for t in out.ax.get_legend().get_texts()]
    assert labels == ["with T²", "without T²", "limit", "T = 4"]
    # Tick labels are plain numbers, not 10^k.
    out.fig.canvas.draw()
    shown = [t.get_text() for t in out.ax.get_xticklabels() if t.get_text()]
    assert "1" in shown and "10" in shown and not any("10^" in s or "$" in s for s in shown)


def test_single_series_has_no_legend_and_draws_into_a_given_axes():
    fig, ax = new_axes()
    out = plot_curves([1, 2, 3], {"H": [0.1, 0.2, 0.3]}, ax=ax, markers=True, title="entropy")
    assert out.ax is ax and out.fig is fig
    assert ax.get_legend() is None
    assert out.lines["H"].get_marker() == "o"
    assert ax.get_title() == "entropy"


@pytest.mark.parametrize(
    "x, series, kwargs, exc, match",
    [
        ([1, 2], {}, {}, TypeError, "series must be a non-empty mapping"),
        ([1, 2], [[1, 2]], {}, TypeError, "series must be a non-empty mapping"),
        ([1, 2, 3], {"a": [1, 2]}, {}, ValueError, r"series\['a'\] must have one value per x point"),
        ([[1, 2]], {"a": [1, 2]}, {}, ValueError, "x must be a 1-D array"),
        ([1, 2], {"a": [1, np.nan]}, {}, ValueError, r"series\['a'\] must be finite"),
        ([0, 1], {"a": [1, 2]}, {"logx": True}, ValueError, "x must be > 0 for a logarithmic x axis"),
        ([1, 2], {"a": [0, 2]}, {"logy": True}, ValueError, r"series\['a'\] must be > 0 for a logarithmic y"),
        ([1, 2], {"a": [1, 2]}, {"hline": "top"}, TypeError, "hline must be a real number"),
        ([1, 2], {"a": [1, 2]}, {"vline": 0.0, "logx": True}, ValueError, "vline must be > 0"),
    ],
)
def test_bad_input_is_named(x, series, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        plot_curves(x, series, **kwargs)

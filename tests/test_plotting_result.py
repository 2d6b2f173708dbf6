"""Every kdbook.plotting function returns the one result type, Plot; explorers' states are plain
numpy; the explorer helper wires controls to a state and a plot function."""
from __future__ import annotations

import subprocess
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import kdbook  # noqa: E402
from kdbook import plotting, states  # noqa: E402
from kdbook.classify.models import MLP  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _calls():
    p, q = [0.7, 0.2, 0.1], [0.5, 0.3, 0.2]
    X = np.array([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]])
    y = np.array([0, 1, 2, 0])
    hist = {"epoch": np.arange(1, 4), "train_loss": np.array([1.0, 0.5, 0.25])}
    return {
        "plot_distributions": lambda: plotting.plot_distributions({"teacher": p, "student": q}),
        "plot_grouped_bars": lambda: plotting.plot_grouped_bars({"a": [1.0, -1.0], "b": [0.5, 0.5]}),
        "plot_divergence_values": lambda: plotting.plot_divergence_values({"KL": 0.1, "TV": 0.2}),
        "plot_curves": lambda: plotting.plot_curves([1.0, 2.0, 3.0], {"y": [1.0, 4.0, 9.0]}),
        "plot_heatmap": lambda: plotting.plot_heatmap(np.eye(2), x=[0.0, 1.0], y=[0.0, 1.0], xlabel="x", ylabel="y",
                                                      colorbar_label="c"),
        "plot_reliability_diagram": lambda: plotting.plot_reliability_diagram({"m": [[0.9, 0.1], [0.3, 0.7]]}, [0, 0]),
        "plot_decision_regions": lambda: plotting.plot_decision_regions({"mlp": MLP([2, 3])}, X, y, resolution=10),
        "plot_training_curves": lambda: plotting.plot_training_curves({"run": hist}, keys=["train_loss"]),
        "plot_simplex": lambda: plotting.plot_simplex(),
        "plot_simplex_points": lambda: plotting.plot_simplex_points({"teacher": p}, plotting.plot_simplex().ax),
        "plot_simplex_contours": lambda: plotting.plot_simplex_contours(kdbook.kl_divergence, p, resolution=10),
        "plot_simplex_state": lambda: plotting.plot_simplex_state(p, q, states.simplex_state(p, q), resolution=10),
        "plot_temperature_state": lambda: plotting.plot_temperature_state(states.temperature_state([2.0, 1.0, 0.0], 2.0)),
        "plot_gradient_state": lambda: plotting.plot_gradient_state(
            states.gradient_state([0.0, 1.0], [1.0, 0.0], 0, T=2.0, hard_weight=0.5)),
        "plot_bias_shift_state": lambda: plotting.plot_bias_shift_state(
            states.bias_shift_state([[2.0, 0.0], [1.0, 0.5]], [0, 1], label=1, shift=1.0)),
    }


def test_every_plot_function_is_covered():
    drawn = {name for name in plotting.__all__ if name.startswith("plot_")}
    assert drawn == set(_calls())


@pytest.mark.parametrize("name", sorted(_calls()))
def test_every_plot_function_returns_a_plot(name):
    res = _calls()[name]()
    assert isinstance(res, plotting.Plot)
    assert isinstance(res.fig, matplotlib.figure.Figure)
    assert isinstance(res.axes, tuple) and res.axes and res.ax is res.axes[0]
    assert all(ax.figure is res.fig for ax in res.axes)
    assert isinstance(res.artists, dict)


def test_named_fields_read_the_artists_and_legacy_tuples_still_unpack():
    res = _calls()["plot_temperature_state"]()
    fig, bars, curve = res
    assert fig is res.fig and bars is res.bars is res.artists["bars"] and curve is res.curve
    bars = _calls()["plot_distributions"]()
    assert bars.containers is bars.artists["containers"]
    with pytest.raises(TypeError, match="BarPlot is not a tuple"):
        tuple(bars)
    markers, texts = _calls()["plot_simplex_points"]()
    assert list(markers) == ["teacher"] and texts[0].get_text() == "teacher"
    state = _calls()["plot_simplex_state"]()
    assert state["fig"] is state.fig and state["bars"] is state.bars


def test_multi_panel_axes_are_a_tuple_also_indexed_by_name():
    res = _calls()["plot_reliability_diagram"]()
    assert res.axes["m"] is res.axes[0] is res.ax and res.axes.names == ["m"]


def test_states_are_plain_numpy():
    code = ("import sys, kdbook.states as s; s.temperature_state([1.0, 0.0], 2.0); "
            "print(' '.join(m for m in ('ipywidgets', 'matplotlib', 'IPython') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == ""


def test_only_kdbook_widgets_imports_ipywidgets():
    code = ("import sys, kdbook, kdbook.plotting, kdbook.states, kdbook.train, kdbook.evaluation; "
            "print('ipywidgets' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "False"


def test_explorer_helper_wires_controls_to_state_and_plot(monkeypatch):
    import ipywidgets as widgets

    from kdbook.widgets._frames import explorer

    shown, calls = [], []
    monkeypatch.setattr(plt, "show", lambda *a, **k: shown.append(plt.gcf()))
    a = widgets.FloatSlider(value=1.0, min=0.0, max=5.0)
    b = widgets.FloatSlider(value=2.0, min=0.0, max=5.0)

    def state(x, y):
        calls.append((x, y))
        return np.array([x, y])

    box = explorer({"x": a, "y": b}, state, lambda s: plotting.plot_curves([0.0, 1.0], {"s": s}))
    assert list(box.children[:2]) == [a, b] and isinstance(box.children[2], widgets.Output)
    assert calls == [(1.0, 2.0)] and box.children[2].outputs  # the first frame is stored
    b.value = 3.0
    a.value = 4.0
    assert calls == [(1.0, 2.0), (1.0, 3.0), (4.0, 3.0)]
    assert len(shown) == 2
    np.testing.assert_array_equal(shown[-1].axes[0].lines[0].get_ydata(), [4.0, 3.0])

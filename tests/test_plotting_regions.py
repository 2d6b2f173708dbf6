"""kdbook.plotting: decision regions, reliability diagrams and training curves draw the data they are given."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from kdbook.calibration import expected_calibration_error, reliability_curve  # noqa: E402
from kdbook.classify.models import MLP  # noqa: E402
from kdbook.plotting import (  # noqa: E402
    PALETTE,
    decision_grid,
    plot_decision_regions,
    plot_reliability_diagram,
    plot_training_curves,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _quadrant_model(P):
    """Class 0 left of x = 0, class 1 right of it and below y = 0, class 2 right and above."""
    right, up = P[:, 0] > 0, P[:, 1] > 0
    z = np.zeros((len(P), 3))
    z[np.arange(len(P)), np.where(~right, 0, np.where(up, 2, 1))] = 5.0
    return z


def test_grid_covers_the_data_with_the_margin():
    X = np.array([[0.0, -1.0], [2.0, 3.0]])
    xs, ys, pts = decision_grid(X, resolution=5, margin=0.5)
    np.testing.assert_allclose([xs[0], xs[-1], ys[0], ys[-1]], [-1.0, 3.0, -3.0, 5.0])
    np.testing.assert_allclose(pts[:5, 1], -3.0)  # first row: lowest y, x increasing
    np.testing.assert_allclose(pts[:5, 0], xs)


def test_regions_image_holds_each_models_argmax_on_the_grid():
    X = np.array([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]])
    y = np.array([0, 1, 2, 0])
    net = MLP([2, 4, 3], seed=0)
    out = plot_decision_regions({"quadrants": _quadrant_model, "mlp": net}, X, y, resolution=20)
    assert out.axes.names == ["quadrants", "mlp"] and out.ax is out.axes["quadrants"] and len(out.fig.axes) == 2
    xs, ys, pts = decision_grid(X, resolution=20)
    np.testing.assert_array_equal(out.images["quadrants"].get_array(), _quadrant_model(pts).argmax(1).reshape(20, 20))
    np.testing.assert_array_equal(out.images["mlp"].get_array(), net.predict(pts).reshape(20, 20))
    assert out.axes["mlp"].get_title() == "mlp"
    # the image's colours are the palette by class; the points are drawn on top in the same colours
    cmap = out.images["quadrants"].get_cmap()
    assert [matplotlib.colors.to_hex(cmap(c)) for c in range(3)] == [c.lower() for c in PALETTE[:3]]
    scatter = out.axes["quadrants"].collections[0]
    np.testing.assert_array_equal(scatter.get_offsets(), X)


@pytest.mark.parametrize("n, rows, cols", [(1, 1, 1), (3, 1, 3), (4, 2, 2), (5, 2, 3)])
def test_panels_wrap_into_rows_no_wider_than_ten_inches(n, rows, cols):
    # Chapter 5 draws four panels: in one 12-inch row the last one ran past the cell in JupyterLab.
    X = np.array([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]])
    names = [f"m{i}" for i in range(n)]
    regions = plot_decision_regions({m: _quadrant_model for m in names}, X, [0, 1, 2, 0], resolution=5)
    diagram = plot_reliability_diagram({m: np.full((4, 3), 1 / 3) for m in names}, [0, 1, 2, 0], n_bins=3)
    for out in (regions, diagram):
        width, height = out.fig.get_size_inches()
        assert width <= 10.0 and (width, height) == pytest.approx((3.0 * cols, 3.0 * rows))
        assert len(out.fig.axes) == n  # no empty spare panel
        spec = [out.axes[m].get_subplotspec() for m in names]
        assert [(s.rowspan.start, s.colspan.start) for s in spec] == [(i // cols, i % cols) for i in range(n)]
    # the y label on the first panel of each row only
    assert [diagram.axes[m].get_ylabel() for m in names] == ["accuracy" if i % cols == 0 else "" for i in range(n)]


def test_reliability_diagram_bars_are_the_curve_and_the_title_the_ece():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(3) * 0.5, size=200)
    labels = rng.integers(3, size=200)
    out = plot_reliability_diagram({"A": p, "B": np.full((200, 3), 1 / 3)}, labels, n_bins=5)
    curve = reliability_curve(p, labels, n_bins=5)
    heights = [b.get_height() for b in out.bars["A"]]
    np.testing.assert_allclose(heights, np.where(curve.counts > 0, curve.accuracy, 0.0))
    assert out.ece["A"] == pytest.approx(expected_calibration_error(p, labels, n_bins=5))
    assert f"{out.ece['A']:.3f}" in out.axes["A"].get_title()
    # uniform predictions all sit in bin (0.2, 0.4]: one non-zero bar, at the accuracy of argmax 0
    hb = [b.get_height() for b in out.bars["B"]]
    assert hb[1] == pytest.approx(np.mean(labels == 0)) and sum(h > 0 for h in hb) == 1


def test_training_curves_one_panel_per_key_one_line_per_run():
    e = np.arange(1, 5)
    h1 = {"epoch": e, "train_loss": np.array([4.0, 3.0, 2.0, 1.0]), "eval_accuracy": np.array([0.1, 0.2, 0.3, 0.4])}
    h2 = {"epoch": e, "train_loss": np.array([5.0, 4.0, 3.0, 2.0]), "eval_accuracy": np.array([0.5, 0.6, 0.7, 0.8])}
    out = plot_training_curves({"hard": h1, "soft": h2}, keys=["train_loss", "eval_accuracy"])
    assert list(out.panels) == ["train_loss", "eval_accuracy"] and out.axes.names == list(out.panels)
    np.testing.assert_array_equal(out.panels["eval_accuracy"].lines["soft"].get_ydata(), h2["eval_accuracy"])
    np.testing.assert_array_equal(out.panels["train_loss"].lines["hard"].get_xdata(), e)
    assert out.panels["train_loss"].ax.get_legend() is not None and out.panels["eval_accuracy"].ax.get_legend() is None


@pytest.mark.parametrize(
    "call, err, msg",
    [
        (lambda: plot_decision_regions({}, np.zeros((2, 2)), [0, 1]), TypeError, "non-empty mapping"),
        (lambda: plot_decision_regions({"m": _quadrant_model}, np.zeros((2, 3)), [0, 1]), ValueError, "exactly 2 features"),
        (lambda: plot_decision_regions({"m": _quadrant_model}, np.eye(2), [0, 3]), ValueError, r"labels must be in \[0, 2\]"),
        (lambda: plot_decision_regions({"m": 3}, np.eye(2), [0, 1]), TypeError, "callable"),
        (lambda: plot_decision_regions({"m": lambda P: P[:, 0]}, np.eye(2), [0, 1]), ValueError, "must return logits of shape"),
        (lambda: decision_grid(np.eye(2), resolution=1), ValueError, "resolution must be >= 2"),
        (lambda: plot_decision_regions({"m": _quadrant_model}, np.eye(2), [0, 1], ax_size=0), ValueError, "ax_size must be > 0"),
        (lambda: plot_reliability_diagram([[0.5, 0.5]], [0]), TypeError, "non-empty mapping"),
        (lambda: plot_reliability_diagram({"a": [[0.5, 0.5]]}, [0], ax_size=-1.0), ValueError, "ax_size must be > 0"),
        (lambda: plot_reliability_diagram({"a": [[0.5, 0.6]]}, [0]), ValueError, "probs must sum to 1"),
        (lambda: plot_training_curves({"a": {"epoch": [1, 2]}}), ValueError, "has no 'train_loss'"),
        (
            lambda: plot_training_curves(
                {"a": {"epoch": [1, 2], "x": [1.0, 2.0]}, "b": {"epoch": [1], "x": [1.0]}}, keys=["x"]
            ),
            ValueError,
            "same epochs",
        ),
    ],
)
def test_bad_input_is_named(call, err, msg):
    with pytest.raises(err, match=msg):
        call()


def test_runs_keep_their_colour_across_training_curves_and_reliability_diagrams():
    e = np.arange(1, 3)
    hist = {"epoch": e, "eval_accuracy": np.array([0.5, 0.6])}
    names = ["teacher", "hard labels", "soft targets"]
    curves = plot_training_curves({n: hist for n in names}, keys=["eval_accuracy"])
    p = np.array([[0.7, 0.3], [0.2, 0.8]])
    diagram = plot_reliability_diagram({n: p for n in names}, [0, 1], n_bins=4)
    expected = {"teacher": PALETTE[0], "hard labels": PALETTE[1], "soft targets": PALETTE[2]}
    for n in names:
        line_color = matplotlib.colors.to_hex(curves.panels["eval_accuracy"].lines[n].get_color())
        bar_color = matplotlib.colors.to_hex(diagram.bars[n].patches[-1].get_facecolor(), keep_alpha=False)
        assert line_color == bar_color == expected[n].lower()
    legend = curves.panels["eval_accuracy"].ax.get_legend()
    assert [matplotlib.colors.to_hex(h.get_color()) for h in legend.legend_handles] == [expected[n].lower() for n in names]


def test_panel_grid_fits_every_panel_in_rows_within_the_width():
    from kdbook.plotting._style import MAX_ROW_WIDTH, panel_grid

    for ax_size in (2.0, 3.0, 3.2, 4.5, 12.0):
        for n in range(1, 13):
            rows, cols = panel_grid(n, ax_size)
            assert rows * cols >= n and (rows - 1) * cols < n  # room for all, no empty row
            assert cols == 1 or cols * ax_size <= MAX_ROW_WIDTH  # one over-wide panel still fits alone
            assert cols - (n - (rows - 1) * cols) < rows or rows == 1  # rows evenly filled

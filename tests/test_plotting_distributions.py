"""Tests for kdbook.plotting.distributions: bars equal the inputs, annotations sit on their bars."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from kdbook.plotting import (  # noqa: E402
    PALETTE,
    ROLE_COLORS,
    plot_distributions,
    plot_divergence_values,
    plot_grouped_bars,
    series_colors,
)
from matplotlib.colors import to_hex  # noqa: E402

DISTS = {
    "teacher": [0.7, 0.2, 0.1],
    "A": [0.65, 0.22, 0.13],
    "B": [0.7, 0.1, 0.2],
    "C": [0.5, 0.3, 0.2],
}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_one_container_per_distribution_with_the_input_heights():
    out = plot_distributions(DISTS)
    assert list(out.containers) == list(DISTS)
    for name, p in DISTS.items():
        bars = out.containers[name]
        assert len(bars) == 3
        assert [b.get_height() for b in bars] == pytest.approx(p)
    assert out.ax.get_ylabel() == "probability"
    assert out.fig is out.ax.figure
    assert [t.get_text() for t in out.ax.get_xticklabels()] == ["class 0", "class 1", "class 2"]


def test_bars_of_one_class_stand_together_in_series_order():
    out = plot_distributions(DISTS)
    for k in range(3):
        centres = [out.containers[name][k].get_x() + out.containers[name][k].get_width() / 2 for name in DISTS]
        assert np.all(np.diff(centres) > 0)  # series order left to right
        assert np.mean(centres) == pytest.approx(k)  # the group is centred on its class tick
        assert max(centres) - min(centres) < 0.8


def test_teacher_keeps_its_colour_and_students_get_the_palette():
    out = plot_distributions(DISTS)
    colors = {name: to_hex(c[0].get_facecolor()) for name, c in out.containers.items()}
    assert colors["teacher"] == ROLE_COLORS["teacher"].lower()
    assert [colors[n] for n in "ABC"] == [c.lower() for c in PALETTE[1:4]]
    assert series_colors(["A", "teacher"])["teacher"] == ROLE_COLORS["teacher"]
    assert series_colors(["x", "y"], reference_name=None) == {"x": PALETTE[1], "y": PALETTE[2]}


def test_annotations_are_written_on_their_bars():
    contrib = {"B": [0.0, 0.1386, -0.0693]}
    out = plot_distributions(DISTS, annotations=contrib, fmt="{:+.4f}", class_labels=["cat", "dog", "fox"])
    assert [t.get_text() for t in out.annotations] == ["+0.0000", "+0.1386", "-0.0693"]
    for t, bar in zip(out.annotations, out.containers["B"]):
        assert t.xy == pytest.approx((bar.get_x() + bar.get_width() / 2, bar.get_height()))
    assert [t.get_text() for t in out.ax.get_xticklabels()] == ["cat", "dog", "fox"]


def test_grouped_bars_accept_negative_values():
    out = plot_grouped_bars({"A": [0.05, -0.02], "B": [0.0, 0.14]}, annotations={"A": [0.05, -0.02]}, ylabel="nats")
    assert [b.get_height() for b in out.containers["A"]] == pytest.approx([0.05, -0.02])
    assert out.annotations[1].get_va() == "top"  # below a negative bar
    assert out.ax.get_ylim()[0] < -0.02 and out.ax.get_ylabel() == "nats"


def test_no_bar_reaches_into_the_legend():
    # chapter 2's case: a tall middle bar of the last series sits right under the legend
    teacher = np.array([0.005, 0.12, 0.34, 0.12, 0.006, 0.004, 0.08, 0.23, 0.08, 0.015])
    narrow = np.array([0.009, 0.202, 0.578, 0.202, 0.009, 0.0, 0.0, 0.0, 0.0, 0.0])
    out = plot_distributions({"teacher": teacher, "forward-KL fit": np.full(10, 0.1), "reverse-KL fit": narrow})
    renderer = out.fig.canvas.get_renderer()
    legend = out.ax.get_legend().get_window_extent(renderer)
    bars = [bar for c in out.containers.values() for bar in c]
    assert not any(bar.get_window_extent(renderer).overlaps(legend) for bar in bars)
    assert out.ax.get_ylim()[1] > 0.578  # the axis grew instead of the bars being cut
    low_right = plot_distributions({"teacher": [0.9, 0.05, 0.05], "B": [0.9, 0.05, 0.05]})
    assert low_right.ax.get_ylim()[1] == pytest.approx(0.945)  # matplotlib's own 5% margin, nothing added


def test_bad_input_is_named():
    with pytest.raises(ValueError, match=r"distributions\['A'\] must sum to 1"):
        plot_distributions({"teacher": [0.7, 0.2, 0.1], "A": [0.5, 0.2, 0.2]})
    with pytest.raises(ValueError, match=r"distributions\['A'\] must be finite and non-negative"):
        plot_distributions({"A": [1.2, -0.2]})
    with pytest.raises(ValueError, match="must have 3 classes"):
        plot_distributions({"teacher": [0.7, 0.2, 0.1], "A": [0.5, 0.5]})
    with pytest.raises(ValueError, match="class_labels must have 3 entries"):
        plot_distributions(DISTS, class_labels=["a", "b"])
    with pytest.raises(ValueError, match="annotations name series that are not plotted"):
        plot_distributions(DISTS, annotations={"D": [0, 0, 0]})
    with pytest.raises(ValueError, match="annotations must have 3 values"):
        plot_distributions(DISTS, annotations={"A": [0, 0]})
    with pytest.raises(TypeError, match="must be a non-empty mapping"):
        plot_distributions([[0.5, 0.5]])
    with pytest.raises(ValueError, match="must be finite"):
        plot_grouped_bars({"A": [np.nan, 1.0]})


def test_divergence_values_bars_and_infinity():
    values = {"KL": 0.0851, "JS": 0.0219, "cross-entropy": float("inf")}
    out = plot_divergence_values(values)
    assert list(out.containers) == list(values)
    assert out.containers["KL"].get_width() == pytest.approx(0.0851)
    assert out.containers["JS"].get_width() == pytest.approx(0.0219)
    inf_bar = out.containers["cross-entropy"]
    assert inf_bar.get_hatch() == "//"
    assert inf_bar.get_width() > 0.0851 and inf_bar.get_width() < out.ax.get_xlim()[1]
    assert [t.get_text() for t in out.annotations] == ["0.0851", "0.0219", "inf"]
    # first name at the top
    assert out.containers["KL"].get_y() > out.containers["cross-entropy"].get_y()


def test_divergence_values_reject_nan_and_negative():
    with pytest.raises(ValueError, match=r"values\['KL'\]"):
        plot_divergence_values({"KL": float("nan")})
    with pytest.raises(ValueError, match=r"values\['TV'\]"):
        plot_divergence_values({"KL": 0.1, "TV": -0.5})
    with pytest.raises(TypeError, match="non-empty mapping"):
        plot_divergence_values({})

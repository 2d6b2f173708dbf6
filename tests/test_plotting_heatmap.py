"""kdbook.plotting.plot_heatmap: the image holds the grid, axes and colour bar are labelled."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from kdbook.plotting import plot_heatmap  # noqa: E402


def _grid():
    T = np.array([1.0, 2.0, 4.0, 8.0])
    w = np.array([0.0, 0.5, 1.0])
    return T, w, w[:, None] * 10.0 + T[None, :]  # rows follow w, columns follow T


def test_image_rows_follow_y_and_columns_follow_x():
    T, w, values = _grid()
    out = plot_heatmap(values, x=T, y=w, xlabel="T", ylabel="hard_weight", colorbar_label="loss", title="KD loss")
    np.testing.assert_array_equal(out.image.get_array(), values)
    assert out.image.origin == "lower"
    assert [t.get_text() for t in out.ax.get_xticklabels()] == ["1", "2", "4", "8"]
    assert [t.get_text() for t in out.ax.get_yticklabels()] == ["0", "0.5", "1"]
    assert out.ax.get_xlabel() == "T" and out.ax.get_ylabel() == "hard_weight"
    assert out.ax.get_title() == "KD loss"
    assert out.colorbar.ax.get_ylabel() == "loss"
    assert out.image.get_clim() == (values.min(), values.max())
    assert out.texts == []


def test_annotations_sit_on_their_cells_with_readable_ink():
    T, w, values = _grid()
    out = plot_heatmap(values, x=T, y=w, xlabel="T", ylabel="w", colorbar_label="loss", annotate=True, fmt="{:.1f}")
    assert len(out.texts) == values.size
    for text in out.texts:
        j, i = (int(round(c)) for c in text.get_position())
        assert text.get_text() == f"{values[i, j]:.1f}"
    # viridis: dark at the minimum (white ink), light at the maximum (black ink).
    assert out.texts[0].get_color() == "white"
    assert out.texts[-1].get_color() == "black"


@pytest.mark.parametrize(
    "values, x, y, exc, match",
    [
        ([1.0, 2.0], [1, 2], [0], ValueError, "values must be a non-empty 2-D array"),
        ([[1.0, 2.0]], [1, 2, 3], [0], ValueError, r"x must have 2 values"),
        ([[1.0, 2.0]], [1, 2], [0, 1], ValueError, r"y must have 1 values"),
        ([[1.0, np.inf]], [1, 2], [0], ValueError, "values must be finite"),
    ],
)
def test_bad_input_is_named(values, x, y, exc, match):
    with pytest.raises(exc, match=match):
        plot_heatmap(values, x=x, y=y, xlabel="T", ylabel="w", colorbar_label="loss")


def test_labels_are_required():
    with pytest.raises(TypeError, match="colorbar_label must be a non-empty string"):
        plot_heatmap([[1.0]], x=[1], y=[0], xlabel="T", ylabel="w", colorbar_label="")

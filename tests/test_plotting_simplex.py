"""Tests for kdbook.plotting.simplex: coordinates, the grid, the batched contour values, the figure."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import kdbook  # noqa: E402
from kdbook.plotting import (  # noqa: E402
    cartesian_to_simplex,
    plot_simplex,
    plot_simplex_contours,
    plot_simplex_state,
    simplex_divergence_grid,
    simplex_grid,
    simplex_to_cartesian,
)

TEACHER = np.array([0.7, 0.2, 0.1])
STUDENTS = {"A": [0.65, 0.22, 0.13], "B": [0.7, 0.1, 0.2], "C": [0.5, 0.3, 0.2]}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _by_hand(p):
    """x = p1 + p2/2, y = (√3/2) p2: the corners are (0,0), (1,0), (1/2, √3/2)."""
    p = np.asarray(p, dtype=float)
    return np.stack([p[..., 1] + p[..., 2] / 2, np.sqrt(3) / 2 * p[..., 2]], axis=-1)


dirichlet = st.integers(0, 2**32 - 1).map(lambda s: np.random.default_rng(s).dirichlet([1.0, 1.0, 1.0], size=5))


def test_corners_form_a_unit_equilateral_triangle():
    xy = simplex_to_cartesian(np.eye(3))
    dists = [np.linalg.norm(xy[i] - xy[j]) for i, j in ((0, 1), (1, 2), (0, 2))]
    np.testing.assert_allclose(dists, 1.0, rtol=0, atol=1e-15)
    np.testing.assert_allclose(xy[0], [0.0, 0.0])


def test_uniform_maps_to_the_centroid():
    centroid = simplex_to_cartesian(np.eye(3)).mean(axis=0)
    np.testing.assert_allclose(simplex_to_cartesian([1 / 3, 1 / 3, 1 / 3]), centroid, atol=1e-15)


@settings(max_examples=30, deadline=None)
@given(dirichlet)
def test_conversion_matches_formula_and_round_trips(p):
    xy = simplex_to_cartesian(p)
    assert xy.shape == (5, 2)
    np.testing.assert_allclose(xy, _by_hand(p), atol=1e-14)
    np.testing.assert_allclose(cartesian_to_simplex(xy), p, atol=1e-14)


def test_conversion_rejects_bad_input():
    with pytest.raises(ValueError, match="p must have 3 classes"):
        simplex_to_cartesian([0.5, 0.25, 0.25, 0.0])
    with pytest.raises(ValueError, match="p must sum to 1"):
        simplex_to_cartesian([0.5, 0.2, 0.2])
    with pytest.raises(ValueError, match="xy must have 2 coordinates"):
        cartesian_to_simplex([0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="xy must be finite"):
        cartesian_to_simplex([np.nan, 0.2])


@pytest.mark.parametrize("n, margin", [(1, 0.0), (7, 0.0), (30, 1e-3), (60, 0.05)])
def test_grid_covers_the_interior(n, margin):
    g = simplex_grid(n, margin=margin)
    assert g.shape == ((n + 1) * (n + 2) // 2, 3)
    np.testing.assert_allclose(g.sum(axis=1), 1.0, atol=1e-12)
    assert g.min() == pytest.approx(margin)
    assert g.max() == pytest.approx(1 - 2 * margin)
    assert len(np.unique(g.round(12), axis=0)) == len(g)


def test_grid_rejects_bad_options():
    with pytest.raises(TypeError, match="resolution must be an int"):
        simplex_grid(10.5)
    with pytest.raises(ValueError, match="resolution must be in"):
        simplex_grid(0)
    with pytest.raises(ValueError, match="margin must be < 1/3"):
        simplex_grid(10, margin=0.4)


@pytest.mark.parametrize(
    "f, direction, direct",
    [
        (kdbook.kl_divergence, "forward", lambda r, x: kdbook.kl_divergence(r, x)),
        (kdbook.kl_divergence, "reverse", lambda r, x: kdbook.kl_divergence(x, r)),
        (kdbook.kl_divergence, "reverse", lambda r, x: kdbook.reverse_kl_divergence(r, x)),
        (kdbook.js_divergence, "forward", lambda r, x: kdbook.js_divergence(x, r)),
        (kdbook.total_variation, "reverse", lambda r, x: kdbook.total_variation(r, x)),
    ],
)
def test_grid_values_equal_direct_kdbook_calls(f, direction, direct):
    grid, vals = simplex_divergence_grid(f, TEACHER, direction=direction, resolution=12)
    expected = [float(direct(TEACHER, x)) for x in grid]
    np.testing.assert_allclose(vals, expected, rtol=1e-12, atol=1e-15)


def test_forward_and_reverse_kl_maps_differ():
    _, fwd = simplex_divergence_grid(kdbook.kl_divergence, TEACHER, direction="forward", resolution=12)
    _, rev = simplex_divergence_grid(kdbook.kl_divergence, TEACHER, direction="reverse", resolution=12)
    assert np.max(np.abs(fwd - rev)) > 0.1


def test_grid_is_one_batched_call():
    calls = []

    def counting(p, q):
        calls.append((np.shape(p), np.shape(q)))
        return kdbook.kl_divergence(p, q)

    grid, _ = simplex_divergence_grid(counting, TEACHER, resolution=20)
    assert calls == [((1, 3), grid.shape)]


def test_grid_rejects_bad_arguments():
    with pytest.raises(TypeError, match="divergence must be a function"):
        simplex_divergence_grid("kl", TEACHER)
    with pytest.raises(ValueError, match="direction must be one of"):
        simplex_divergence_grid(kdbook.kl_divergence, TEACHER, direction="backward")
    with pytest.raises(ValueError, match="reference must have 3 classes"):
        simplex_divergence_grid(kdbook.kl_divergence, [0.25] * 4)
    with pytest.raises(ValueError, match="reference must be one distribution"):
        simplex_divergence_grid(kdbook.kl_divergence, [TEACHER, TEACHER])
    with pytest.raises(ValueError, match="one value per grid point"):
        simplex_divergence_grid(lambda p, q: np.zeros(2), TEACHER, resolution=5)


def test_plot_simplex_draws_outline_and_labels():
    fig, ax, texts = plot_simplex(class_labels=("cat", "dog", "fox"))
    assert [t.get_text() for t in texts] == ["cat", "dog", "fox"]
    outline = ax.lines[0].get_xydata()
    np.testing.assert_allclose(outline[:3], simplex_to_cartesian(np.eye(3)), atol=1e-15)
    with pytest.raises(ValueError, match="class_labels must name 3 classes"):
        plot_simplex(class_labels=("a", "b"))


def test_contour_plot_objects():
    levels = [0.0, 0.01, 0.05, 0.1, 0.5, 1.0]
    out = plot_simplex_contours(kdbook.kl_divergence, TEACHER, points=STUDENTS, levels=levels, resolution=30)
    np.testing.assert_array_equal(out.levels, levels)
    np.testing.assert_array_equal(out.filled.levels, levels)
    np.testing.assert_array_equal(out.lines.levels, levels[1:])
    assert out.fig is out.ax.figure and out.colorbar is not None
    expected = [float(kdbook.kl_divergence(TEACHER, x)) for x in out.grid]
    np.testing.assert_allclose(out.values, expected, rtol=1e-12)
    assert list(out.points) == ["teacher", "A", "B", "C"]
    for name, p in {"teacher": TEACHER, **STUDENTS}.items():
        np.testing.assert_allclose(out.points[name].get_offsets()[0], _by_hand(p), atol=1e-14)
    labels = [t.get_text() for t in out.texts]
    assert labels[:3] == ["class 0", "class 1", "class 2"] and labels[3:] == ["teacher", "A", "B", "C"]


def test_contour_triangles_tile_the_grid_triangle():
    out = plot_simplex_contours(kdbook.kl_divergence, TEACHER, levels=4, resolution=9)
    tri = out.filled.get_paths()  # drawn at all
    assert tri
    # the triangulation used is the lattice one: its triangles' areas add up to the grid's triangle
    from kdbook.plotting._simplex_geometry import lattice as _lattice

    _, tris = _lattice(9)
    xy = out.grid @ simplex_to_cartesian(np.eye(3))
    a, b, c = xy[tris[:, 0]], xy[tris[:, 1]], xy[tris[:, 2]]
    areas = 0.5 * np.abs((b - a)[:, 0] * (c - a)[:, 1] - (b - a)[:, 1] * (c - a)[:, 0])
    side = 1 - 3 * out.grid.min()
    assert areas.sum() == pytest.approx(np.sqrt(3) / 4 * side**2, rel=1e-12)
    assert len(tris) == 81  # n² small triangles


def test_default_levels_are_increasing_and_start_at_zero():
    out = plot_simplex_contours(kdbook.kl_divergence, TEACHER, levels=6, resolution=20)
    assert out.levels[0] == 0.0
    assert np.all(np.diff(out.levels) > 0)
    assert len(out.levels) <= 7
    assert out.levels[-1] <= out.values.max()


def test_reverse_direction_and_any_divergence():
    out = plot_simplex_contours(kdbook.js_divergence, TEACHER, direction="reverse", levels=[0, 0.1, 0.3], resolution=10)
    np.testing.assert_allclose(out.values, [float(kdbook.js_divergence(x, TEACHER)) for x in out.grid], rtol=1e-12)
    assert out.values.max() <= np.log(2)


def test_zoom_centres_on_the_reference():
    out = plot_simplex_contours(kdbook.kl_divergence, TEACHER, zoom=0.1, levels=[0, 0.1, 1], resolution=10)
    cx, cy = _by_hand(TEACHER)
    assert np.mean(out.ax.get_xlim()) == pytest.approx(cx)
    assert out.ax.get_xlim()[1] - out.ax.get_xlim()[0] == pytest.approx(0.2)
    assert not any(t.get_visible() for t in out.texts[:3])


def test_contour_plot_rejects_bad_levels():
    with pytest.raises(ValueError, match="levels must be"):
        plot_simplex_contours(kdbook.kl_divergence, TEACHER, levels=[0.5, 0.1], resolution=5)
    with pytest.raises(ValueError, match="levels must be at least 2"):
        plot_simplex_contours(kdbook.kl_divergence, TEACHER, levels=1, resolution=5)
    with pytest.raises(ValueError, match=r"points\['A'\] must sum to 1"):
        plot_simplex_contours(kdbook.kl_divergence, TEACHER, points={"A": [0.5, 0.2, 0.2]}, resolution=5)


def test_state_frame_shows_student_and_values():
    s = STUDENTS["C"]
    values = {"KL": float(kdbook.kl_divergence(TEACHER, s)), "TV": float(kdbook.total_variation(TEACHER, s))}
    out = plot_simplex_state(TEACHER, s, values, resolution=10)
    np.testing.assert_allclose(out["simplex"].points["student"].get_offsets()[0], _by_hand(s), atol=1e-14)
    assert [b.get_width() for b in out["bars"].containers.values()] == pytest.approx(list(values.values()))
    assert out["fig"] is out["simplex"].fig is out["bars"].fig


def test_point_labels_point_away_from_the_reference():
    out = plot_simplex_contours(kdbook.kl_divergence, TEACHER, points=STUDENTS, levels=[0, 0.1, 1], resolution=5)
    centre = _by_hand(TEACHER)
    assert [t.get_text() for t in out.texts[4:]] == list(STUDENTS)  # the loop below sees every student
    for text in out.texts[4:]:  # A, B, C
        direction = _by_hand(STUDENTS[text.get_text()]) - centre
        assert np.dot(text.xyann, direction) > 0

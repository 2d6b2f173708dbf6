"""Tests for the chapter-1 simplex explorer: its compute function against kdbook, and the widget."""
from __future__ import annotations

import base64

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import kdbook  # noqa: E402
from kdbook.widgets import simplex_explorer, simplex_state, student_from_sliders  # noqa: E402

TEACHER = [0.7, 0.2, 0.1]
KEYS = ["KL(teacher‖student)", "KL(student‖teacher)", "JS", "TV", "cross-entropy"]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _direct(p, q, base=None):
    return [
        float(kdbook.kl_divergence(p, q, base=base)),
        float(kdbook.kl_divergence(q, p, base=base)),
        float(kdbook.js_divergence(p, q, base=base)),
        float(kdbook.total_variation(p, q)),
        float(kdbook.cross_entropy(p, q, base=base)),
    ]


pairs = st.integers(0, 2**32 - 1).map(lambda s: np.random.default_rng(s).dirichlet([1.0] * 3, size=2))


@settings(max_examples=25, deadline=None)
@given(pairs)
def test_state_equals_direct_kdbook_calls(pq):
    p, q = pq
    for base in (None, 2):
        s = simplex_state(p, q, base=base)
        assert list(s) == KEYS
        assert list(s.values()) == pytest.approx(_direct(p, q, base), rel=1e-12, abs=1e-15)
        assert all(isinstance(x, float) for x in s.values())


def test_state_properties():
    s = simplex_state(TEACHER, [0.5, 0.3, 0.2])
    assert s["cross-entropy"] == pytest.approx(float(kdbook.entropy(TEACHER)) + s["KL(teacher‖student)"], rel=1e-12)
    assert s["TV"] <= np.sqrt(s["KL(teacher‖student)"] / 2)  # Pinsker
    zero = simplex_state(TEACHER, TEACHER)
    assert zero["KL(teacher‖student)"] == zero["JS"] == zero["TV"] == 0.0


def test_state_with_missing_support_is_infinite_not_nan():
    s = simplex_state(TEACHER, [0.0, 0.1, 0.9])
    assert s["KL(teacher‖student)"] == np.inf and s["cross-entropy"] == np.inf
    assert np.isfinite(s["KL(student‖teacher)"]) and np.isfinite(s["JS"]) and s["TV"] == pytest.approx(0.8)


def test_state_rejects_bad_input():
    with pytest.raises(ValueError, match="student must sum to 1"):
        simplex_state(TEACHER, [0.5, 0.3, 0.3])
    with pytest.raises(ValueError, match="same classes"):
        simplex_state(TEACHER, [0.5, 0.5])
    with pytest.raises(ValueError, match="teacher must be finite and non-negative"):
        simplex_state([1.1, -0.1, 0.0], TEACHER)


def test_student_from_sliders():
    q = student_from_sliders(0.7, 0.3)  # 1 - 0.7 - 0.3 is not exactly 0 in floating point
    assert q.sum() == pytest.approx(1.0) and q[2] == 0.0
    assert simplex_state(TEACHER, q)["KL(teacher‖student)"] == np.inf
    assert student_from_sliders(0.25, 0.5).tolist() == [0.25, 0.5, 0.25]
    with pytest.raises(ValueError, match="q0 \\+ q1 must be at most 1"):
        student_from_sliders(0.7, 0.4)
    with pytest.raises(ValueError, match="q1 must be in \\[0, 1\\]"):
        student_from_sliders(0.2, 1.5)


def _student_marker(fig):
    ax = fig.axes[0]
    (marker,) = [c for c in ax.collections if c.get_label() == "student"]
    return marker.get_offsets()[0]


def test_explorer_builds_and_redraws():
    w = simplex_explorer(TEACHER, (0.5, 0.3, 0.2))
    (s0, s1, rest), menu, out = w.children[0].children, w.children[1], w.children[2]
    assert (s0.value, s1.value) == (0.5, 0.3)
    assert rest.value.endswith("0.20")
    (first,) = out.outputs  # the first frame is stored in the output widget as a PNG
    assert base64.b64decode(first["data"]["image/png"])[:8] == b"\x89PNG\r\n\x1a\n"
    before = set(plt.get_fignums())
    s0.value = 0.2  # the callback runs here, with the Agg backend
    new = sorted(set(plt.get_fignums()) - before)
    assert new, "the callback drew no figure"
    fig = plt.figure(new[-1])
    expected = kdbook.plotting.simplex_to_cartesian([0.2, 0.3, 0.5])
    np.testing.assert_allclose(_student_marker(fig), expected, atol=1e-12)
    labels = [t.get_text() for t in fig.axes[1].texts]
    state = simplex_state(TEACHER, [0.2, 0.3, 0.5])
    assert labels == [f"{x:.4f}" for x in state.values()]


def test_explorer_keeps_the_student_on_the_simplex():
    w = simplex_explorer()
    (s0, s1, rest), menu, _ = w.children[0].children, w.children[1], w.children[2]
    s0.value = 0.9
    assert s1.max == pytest.approx(0.1) and s1.value <= 0.1 + 1e-12
    assert rest.value.endswith("0.00")
    s0.value = 0.0  # student on the edge: forward KL is infinite, the callback still draws
    menu.value = "KL(x‖teacher)"
    fig = plt.figure(plt.get_fignums()[-1])
    assert "inf" in [t.get_text() for t in fig.axes[1].texts]
    assert "KL(x‖teacher)" in fig.axes[0].get_title()


def test_explorer_rejects_a_teacher_off_the_simplex():
    with pytest.raises(ValueError, match="teacher must have 3 classes"):
        simplex_explorer([0.25] * 4, [0.25] * 4)
    with pytest.raises(ValueError, match="student must sum to 1"):
        simplex_explorer(TEACHER, [0.5, 0.5, 0.5])


def test_explorer_starts_on_the_chosen_contour_map():
    w = simplex_explorer(TEACHER, (0.9, 0.05, 0.05), contour="KL(x‖teacher)")
    menu = w.children[1]
    assert menu.value == "KL(x‖teacher)"
    s0 = w.children[0].children[0]
    s0.value = 0.85  # the redraw follows the menu's starting value
    fig = plt.figure(plt.get_fignums()[-1])
    assert "KL(x‖teacher)" in fig.axes[0].get_title()
    with pytest.raises(ValueError, match="contour must be one of"):
        simplex_explorer(contour="KL")
    with pytest.raises(ValueError, match="contour must be one of"):
        simplex_explorer(contour=["KL(teacher‖x)"])

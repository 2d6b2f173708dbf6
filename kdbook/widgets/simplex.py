"""The chapter-1 simplex explorer: move a student over the 3-class simplex, watch every divergence.

Introduced in chapter 1 (``notebooks/01_teacher_and_student.ipynb``). The computation behind
each redraw is :func:`simplex_state`, a plain function (a handful of microseconds); the widget
only wires sliders to it and draws with ``kdbook.plotting.plot_simplex_state``.

Two sliders set the student's probabilities of class 0 and class 1; class 2 gets the rest,
1 − q0 − q1. The class-1 slider's maximum follows 1 − q0, so every slider position is a valid
distribution and each readout is exactly a probability of the student (three free sliders
renormalised afterwards would show numbers that are not the student's probabilities).
"""
from __future__ import annotations

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from numpy.typing import ArrayLike

from .. import _validate as v
from ._frames import figure_output
from ..divergences import cross_entropy, js_divergence, kl_divergence, reverse_kl_divergence, total_variation

__all__ = ["simplex_state", "student_from_sliders", "simplex_explorer", "CONTOURS"]

#: Contour maps offered by the explorer: label -> (divergence f(p, q), direction from the teacher).
CONTOURS = {
    "KL(teacher‖x)": (kl_divergence, "forward"),
    "KL(x‖teacher)": (kl_divergence, "reverse"),
    "JS(teacher, x)": (js_divergence, "forward"),
    "TV(teacher, x)": (total_variation, "forward"),
}


def simplex_state(teacher: ArrayLike, student: ArrayLike, *, base: float | None = None) -> dict[str, float]:
    r"""Every divergence of chapter 1 between one teacher and one student distribution.

    .. math:: \{\mathrm{KL}(p\|q),\ \mathrm{KL}(q\|p),\ \mathrm{JS}(p, q),\ \mathrm{TV}(p, q),\ H(p, q)\}

    Introduced in chapter 1 (the simplex explorer's computation). Keys, in order:
    ``"KL(teacher‖student)"``, ``"KL(student‖teacher)"``, ``"JS"``, ``"TV"``,
    ``"cross-entropy"``. Values are floats (``inf`` where a KL or the cross-entropy is
    infinite); nats unless ``base=2``; TV has no unit.

    Examples
    --------
    >>> from kdbook.widgets import simplex_state
    >>> s = simplex_state([0.7, 0.2, 0.1], [0.7, 0.1, 0.2])
    >>> round(s["KL(teacher‖student)"], 4), round(s["TV"], 4)
    (0.0693, 0.1)
    """
    p = v.as_float_array(teacher, "teacher")
    q = v.as_float_array(student, "student")
    if p.ndim != 1 or q.ndim != 1 or p.shape != q.shape:
        raise ValueError(
            f"teacher and student must be two distributions over the same classes, got shapes {p.shape} and {q.shape}"
        )
    for arr, name in ((p, "teacher"), (q, "student")):
        v.check_probabilities(arr, name, 0)
    return {
        "KL(teacher‖student)": float(kl_divergence(p, q, base=base)),
        "KL(student‖teacher)": float(reverse_kl_divergence(p, q, base=base)),
        "JS": float(js_divergence(p, q, base=base)),
        "TV": float(total_variation(p, q)),
        "cross-entropy": float(cross_entropy(p, q, base=base)),
    }


def student_from_sliders(q0: float, q1: float) -> np.ndarray:
    """The student (q0, q1, 1 − q0 − q1) set by the explorer's two sliders.

    Introduced in chapter 1. A remainder below 1e-12 (floating-point noise, as in
    1 − 0.7 − 0.3) becomes exactly 0, so the student really rules out class 2; a real excess
    (q0 + q1 > 1) is an error.

    Examples
    --------
    >>> from kdbook.widgets import student_from_sliders
    >>> student_from_sliders(0.5, 0.3).round(4).tolist()
    [0.5, 0.3, 0.2]
    """
    a = v.check_unit_interval(q0, "q0")
    b = v.check_unit_interval(q1, "q1")
    rest = 1.0 - a - b
    if rest < -1e-12:
        raise ValueError(f"q0 + q1 must be at most 1, got {a} + {b} = {a + b}")
    # 1 − 0.7 − 0.3 is 5.6e-17 in floating point: a slider readout of q2 = 0.00 must mean 0
    return np.array([a, b, rest if rest > 1e-12 else 0.0])


def simplex_explorer(
    teacher: ArrayLike = (0.7, 0.2, 0.1), student: ArrayLike = (0.5, 0.3, 0.2), *,
    contour: str = "KL(teacher‖x)",
) -> widgets.VBox:
    """Sliders for a student's class-0 and class-1 probabilities, a contour choice, and the live figure.

    Introduced in chapter 1; chapter 2 uses it to compare forward and reverse KL. Each change
    recomputes :func:`simplex_state` and redraws :func:`kdbook.plotting.plot_simplex_state`,
    then calls ``plt.show()`` inside the widget's output area.

    Parameters
    ----------
    teacher, student : array_like, shape (3,)
        The teacher and the student the sliders start at.
    contour : str
        The contour map shown first: one of the keys of :data:`CONTOURS`.

    Returns
    -------
    ipywidgets.VBox
        Its children: the row of sliders (``children[0]``), the contour menu and the output.
    """
    from ..plotting import plot_simplex_state

    p = v.as_float_array(teacher, "teacher")
    q = v.as_float_array(student, "student")
    if p.shape != (3,):
        raise ValueError(f"teacher must have 3 classes (a point of the simplex), got shape {p.shape}")
    simplex_state(p, q)  # validates both distributions before any widget is built
    if not isinstance(contour, str) or contour not in CONTOURS:
        raise ValueError(f"contour must be one of {list(CONTOURS)}, got {contour!r}")
    style = {"description_width": "initial"}
    s0 = widgets.FloatSlider(value=round(float(q[0]), 2), min=0.0, max=1.0, step=0.01,
                             description="student q0", style=style, continuous_update=False)
    s1 = widgets.FloatSlider(value=round(float(q[1]), 2), min=0.0, max=round(1.0 - s0.value, 2), step=0.01,
                             description="student q1", style=style, continuous_update=False)
    rest = widgets.Label()
    menu = widgets.Dropdown(options=list(CONTOURS), value=contour, description="contours of")

    def follow_q0(change) -> None:
        s1.max = round(1.0 - change["new"], 2)

    s0.observe(follow_q0, "value")

    def frame() -> plt.Figure:
        qq = student_from_sliders(s0.value, s1.value)
        rest.value = f"q2 = 1 − q0 − q1 = {qq[2]:.2f}"
        f, direction = CONTOURS[menu.value]
        values = simplex_state(p, qq)  # the computation: microseconds
        return plot_simplex_state(p, qq, values, divergence=f, direction=direction, contour_label=menu.value)["fig"]

    out, redraw = figure_output(frame)
    for control in (s0, s1, menu):
        control.observe(redraw, "value")
    return widgets.VBox([widgets.HBox([s0, s1, rest]), menu, out])


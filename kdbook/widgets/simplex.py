"""The chapter-1 simplex explorer: move a student over the 3-class simplex, watch every divergence.

Introduced in chapter 1 (``notebooks/01_teacher_and_student.ipynb``). The computation behind
each redraw is ``kdbook.states.simplex_state`` (a handful of microseconds); the widget only wires
sliders to it and draws with ``kdbook.plotting.plot_simplex_state``.

Two sliders set the student's probabilities of class 0 and class 1; class 2 gets the rest,
1 − q0 − q1. The class-1 slider's maximum follows 1 − q0, so every slider position is a valid
distribution and each readout is exactly a probability of the student (three free sliders
renormalised afterwards would show numbers that are not the student's probabilities).
"""
from __future__ import annotations

import ipywidgets as widgets
from numpy.typing import ArrayLike

from .. import _validate as v
from ..states import CONTOURS, simplex_state, student_from_sliders
from ._frames import explorer

__all__ = ["simplex_explorer"]


def simplex_explorer(
    teacher: ArrayLike = (0.7, 0.2, 0.1), student: ArrayLike = (0.5, 0.3, 0.2), *,
    contour: str = "KL(teacher‖x)",
) -> widgets.VBox:
    """Sliders for a student's class-0 and class-1 probabilities, a contour choice, and the live figure.

    Introduced in chapter 1; chapter 2 uses it to compare forward and reverse KL. Each change
    recomputes ``kdbook.states.simplex_state`` and redraws ``kdbook.plotting.plot_simplex_state``,
    then calls ``plt.show()`` inside the widget's output area.

    Parameters
    ----------
    teacher, student : array_like, shape (3,)
        The teacher and the student the sliders start at.
    contour : str
        The contour map shown first: one of the keys of ``kdbook.states.CONTOURS``.

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

    def state(q0: float, q1: float, contour: str):
        qq = student_from_sliders(q0, q1)
        rest.value = f"q2 = 1 − q0 − q1 = {qq[2]:.2f}"
        return qq, contour, simplex_state(p, qq)  # the computation: microseconds

    def plot(frame):
        qq, contour, values = frame
        f, direction = CONTOURS[contour]
        return plot_simplex_state(p, qq, values, divergence=f, direction=direction, contour_label=contour)

    return explorer({"q0": s0, "q1": s1, "contour": menu}, state, plot, rows=[widgets.HBox([s0, s1, rest]), menu])

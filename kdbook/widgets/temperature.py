"""The chapter-3 temperature explorer: slide T over a teacher's logits, watch the soft targets.

Introduced in chapter 3 (``notebooks/03_temperature_and_soft_targets.ipynb``). The computation
behind each redraw is :func:`temperature_state`, a plain function (well under a millisecond for
a handful of classes); :func:`plot_temperature_state` draws it (the softmax bars at T beside
those at T = 1, and the entropy against T with the current T marked); the widget only wires a
logarithmic slider to the two.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from numpy.typing import ArrayLike

from .. import _validate as v
from ..divergences import entropy
from ..softmax import softmax
from ._frames import figure_output

__all__ = ["TemperatureState", "temperature_state", "plot_temperature_state", "temperature_explorer"]

#: Temperatures on the explorer's entropy curve (and the slider's range).
T_RANGE = (0.25, 20.0)


@dataclass
class TemperatureState:
    """Everything the temperature explorer shows for one teacher and one temperature."""

    T: float
    probabilities: np.ndarray  # softmax(v / T), shape (K,)
    reference: np.ndarray  # softmax(v), the same teacher at T = 1
    entropy: float  # H(softmax(v / T)) in nats (bits if base=2)
    max_entropy: float  # log K, the entropy of the uniform distribution
    temperatures: np.ndarray  # the T grid of the entropy curve
    entropies: np.ndarray  # H at each grid temperature
    base: float | None = None  # None: nats; 2: bits


def temperature_state(
    teacher_logits: ArrayLike, T: float, *, temperatures: ArrayLike | None = None, base: float | None = None
) -> TemperatureState:
    r"""Soft targets, their entropy, and the entropy curve of one teacher at temperature T.

    .. math:: p_{T,i} = \frac{\exp(v_i/T)}{\sum_j \exp(v_j/T)}, \qquad H(p_T) = -\sum_i p_{T,i} \log p_{T,i}

    Introduced in chapter 3 (the temperature explorer's computation). ``temperatures``
    defaults to 60 points spaced evenly in log T over [0.25, 20]. The entropy grows with T
    from 0 (one-hot, T → 0) to log K (uniform, T → ∞).

    Parameters
    ----------
    teacher_logits : array_like, shape (K,)
        The teacher's logits v, finite, K ≥ 2.
    T : float
        Temperature, > 0.
    temperatures : array_like, optional
        Positive temperatures for the entropy curve.
    base : float, optional
        ``None`` for nats, 2 for bits.

    Examples
    --------
    >>> from kdbook.widgets import temperature_state
    >>> s = temperature_state([2.0, 1.0, 0.0], 2.0)
    >>> s.probabilities.round(4).tolist(), round(s.entropy, 4), round(s.max_entropy, 4)
    ([0.5065, 0.3072, 0.1863], 1.0202, 1.0986)
    """
    z = v.as_float_array(teacher_logits, "teacher_logits")
    if z.ndim != 1 or z.shape[0] < 2:
        raise ValueError(f"teacher_logits must be one vector of at least 2 logits, got shape {z.shape}")
    v.check_logits(z, "teacher_logits")
    T = v.check_positive(T, "T")
    if temperatures is None:
        grid = np.geomspace(*T_RANGE, 60)
    else:
        grid = v.as_float_array(temperatures, "temperatures")
        if grid.ndim != 1 or not np.all(np.isfinite(grid)) or grid.min() <= 0:
            raise ValueError("temperatures must be a 1-D array of finite temperatures > 0")
    log_base = v.check_base(base)
    probs = softmax(z, T=T)
    curve = softmax(z[None, :] / grid[:, None])  # one row per grid temperature: softmax(v / t)
    k = z.shape[0]
    max_h = float(np.log(k) / (np.log(log_base) if log_base else 1.0))
    return TemperatureState(
        T=T,
        probabilities=probs,
        reference=softmax(z),
        entropy=float(entropy(probs, base=base)),
        max_entropy=max_h,
        temperatures=grid,
        entropies=np.asarray(entropy(curve, base=base), dtype=float),
        base=log_base,
    )


def _t_text(T: float) -> str:
    """T for a title or legend: at most 2 decimals, no trailing zeros (4, 1.05, 0.25)."""
    text = f"{T:.2f}".rstrip("0").rstrip(".")
    return text if text != "0" else f"{T:.2g}"  # a T below 0.005 keeps two significant digits


def plot_temperature_state(state: TemperatureState, *, class_labels: Sequence[str] | None = None):
    """Draw a :class:`TemperatureState`: bars of p_T beside p_1, and H(p_T) against T.

    Introduced in chapter 3 (the static figure before the explorer, and each redraw).

    Returns
    -------
    tuple
        ``(fig, bars, curve)``: the figure, the ``BarPlot`` of the left panel and the
        ``CurvePlot`` of the right panel.

    Examples
    --------
    >>> from kdbook.widgets import plot_temperature_state, temperature_state
    >>> fig, bars, curve = plot_temperature_state(temperature_state([2.0, 1.0, 0.0], 4.0))
    >>> list(bars.containers), float(curve.vline.get_xdata()[0])
    (['T = 1', 'T = 4'], 4.0)
    """
    from ..plotting import new_axes, plot_curves, plot_distributions

    if not isinstance(state, TemperatureState):
        raise TypeError(f"state must be a TemperatureState (from temperature_state), got {type(state).__name__}")
    fig, (left, right) = new_axes(ncols=2, figsize=(10.0, 3.6))
    label = f"T = {_t_text(state.T)}"
    series = {"T = 1": state.reference, label: state.probabilities} if state.T != 1.0 else {label: state.probabilities}
    bars = plot_distributions(series, class_labels=class_labels, reference_name="T = 1", ax=left,
                              title=f"soft targets at {label}")
    left.set_ylim(0.0, 1.05)
    curve = plot_curves(
        state.temperatures, {"H(p_T)": state.entropies}, logx=True, ylabel="entropy (nats)" if state.base is None else f"entropy (base {state.base:g})",
        hline=state.max_entropy, hline_label="log K (uniform)", vline=state.T, vline_label=label,
        title=f"entropy at {label}: {state.entropy:.3f} of at most {state.max_entropy:.3f}", ax=right,
    )
    right.set_ylim(0.0, state.max_entropy * 1.08)
    return fig, bars, curve


def temperature_explorer(
    teacher_logits: ArrayLike, *, T: float = 1.0, class_labels: Sequence[str] | None = None
) -> widgets.VBox:
    """A logarithmic temperature slider over a teacher's logits, with the live figure.

    Introduced in chapter 3. Each move recomputes :func:`temperature_state` and redraws
    :func:`plot_temperature_state`, then calls ``plt.show()``. The slider spans T = 0.25 … 20.

    Returns
    -------
    ipywidgets.VBox
        ``children[0]`` is the temperature slider, ``children[1]`` the output area.
    """
    state = temperature_state(teacher_logits, T)  # validates before any widget is built
    if class_labels is not None and len(class_labels) != state.probabilities.shape[0]:
        raise ValueError(f"class_labels must have {state.probabilities.shape[0]} entries, got {len(class_labels)}")
    if not T_RANGE[0] <= state.T <= T_RANGE[1]:
        raise ValueError(f"T must be within the slider's range {T_RANGE}, got {T}")
    lo, hi = np.log10(T_RANGE)
    slider = widgets.FloatLogSlider(value=T, base=10.0, min=lo, max=hi, step=0.02, description="temperature T",
                                    readout_format=".2f", style={"description_width": "initial"},
                                    continuous_update=False, layout=widgets.Layout(width="60%"))
    z = v.as_float_array(teacher_logits, "teacher_logits")

    def frame() -> plt.Figure:
        fig, _, _ = plot_temperature_state(temperature_state(z, slider.value, temperatures=state.temperatures),
                                           class_labels=class_labels)
        return fig

    out, redraw = figure_output(frame)
    slider.observe(redraw, "value")
    return widgets.VBox([slider, out])

"""kdbook's figures use a colour-blind-safe palette, in an order whose first colours stay apart under
simulated colour-vision deficiencies, and never hard-code other colours (issue 28, item 6)."""
from __future__ import annotations

import itertools
import re
from pathlib import Path

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from kdbook.plotting import _style  # noqa: E402
from kdbook.plotting.generation import plot_frontier  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
#: Okabe & Ito (2008), "Color Universal Design": the eight colours, as published.
OKABE_ITO = {"#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000"}
#: Machado, Oliveira & Fernandes (2009), severity 1.0, on linear RGB.
CVD = {
    "protan": [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]],
    "deutan": [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]],
    "tritan": [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602], [0.004733, 0.691367, 0.303900]],
}


def _lab(hex_colour: str, matrix) -> np.ndarray:
    """CIELAB (D65) of a colour as seen through a CVD simulation matrix."""
    srgb = np.array([int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)])
    linear = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
    linear = np.clip(np.asarray(matrix) @ linear, 0, 1)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ linear
    t = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(t > (6 / 29) ** 3, np.cbrt(t), t / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def min_distance(colours) -> float:
    """Smallest CIE76 ΔE between two of ``colours``, under normal vision and each simulated CVD."""
    views = {"normal": np.eye(3), **CVD}
    return min(float(np.linalg.norm(_lab(a, m) - _lab(b, m)))
               for m in views.values() for a, b in itertools.combinations(colours, 2))


def test_the_palette_is_okabe_ito():
    assert len(_style.PALETTE) == 8 and set(c.upper() for c in _style.PALETTE) == OKABE_ITO
    assert set(_style.ROLE_COLORS.values()) <= set(_style.PALETTE)


def test_the_simulation_tells_known_confusions():
    # red and green merge for deuteranopes; blue and yellow do not
    assert min_distance(["#D00000", "#00A000"]) < 0.5 * min_distance(["#0000FF", "#FFFF00"])


@pytest.mark.parametrize("k, at_least", [(3, 50.0), (4, 24.0), (5, 18.0)])
def test_the_first_colours_stay_apart_under_every_simulated_deficiency(k, at_least):
    # Two to five series are what most figures draw; ΔE below ~20 starts to look alike at a glance.
    assert min_distance(_style.PALETTE[:k]) >= at_least


def test_plot_modules_draw_colours_from_the_palette_only():
    # Greys ("0.35") are allowed for reference lines; any other named colour must be Okabe–Ito.
    offenders = []
    for folder in ("plotting", "widgets"):
        for path in sorted((ROOT / "kdbook" / folder).glob("*.py")):
            text = path.read_text(encoding="utf-8")
            found = re.findall(r"#[0-9A-Fa-f]{6}\b|[\"']tab:\w+[\"']|[\"']C\d[\"']", text)
            offenders += [f"{folder}/{path.name}: {m}" for m in found if m.upper() not in OKABE_ITO]
    assert not offenders, offenders


def test_many_points_on_the_frontier_differ_in_shape_as_well_as_colour():
    points = {f"β = {b:.1f}": (-2 - b / 10, -3 + b, 0.01, 0.02) for b in np.linspace(0, 1, 7)}
    res = plot_frontier(points)
    shapes = [bar.lines[0].get_marker() for bar in res.artists["points"].values()]
    colours = [matplotlib.colors.to_hex(bar.lines[0].get_color()).upper() for bar in res.artists["points"].values()]
    assert len(set(shapes)) == 7 and len(set(colours)) == 7
    assert set(colours) <= OKABE_ITO
    matplotlib.pyplot.close("all")

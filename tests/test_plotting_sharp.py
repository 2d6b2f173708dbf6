"""Inline figures are rendered at 2x pixel density and shown at their normal size (issue 28, item 6)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytest.importorskip("IPython")
pytest.importorskip("matplotlib_inline")

DRIVER = r'''
import base64, json, struct
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
shell.run_cell("import matplotlib; matplotlib.use('module://matplotlib_inline.backend_inline')")
shell.run_cell(IMPORT)
shell.run_cell("from kdbook.plotting import plot_distributions\nres = plot_distributions({'p': [0.2, 0.8]})")
data, meta = shell.display_formatter.format(shell.user_ns["res"].fig)
png = data["image/png"]
png = base64.b64decode(png) if isinstance(png, str) else png
w, h = struct.unpack(">II", png[16:24])
print(json.dumps({"pixels": [w, h], "shown": meta.get("image/png", {}).get("width"),
                  "dpi": shell.user_ns["res"].fig.dpi, "repr": repr(shell.user_ns["res"].fig)}))
'''


def _render(import_line: str) -> dict:
    out = subprocess.run([sys.executable, "-c", f"IMPORT = {import_line!r}\n" + DRIVER], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_figures_are_stored_at_twice_the_pixels_and_shown_at_the_same_size():
    got = _render("import kdbook.plotting")
    width, height = got["pixels"]
    # the figure's own size at its dpi (bbox "tight" trims a little): shown ≈ that, stored at twice
    assert got["shown"] is not None and width == pytest.approx(2 * got["shown"], abs=2)
    assert got["shown"] == pytest.approx(6.4 * got["dpi"], rel=0.05)
    # the text nbval compares keeps the figure's own dpi (not doubled)
    assert f"Figure size {6.4 * got['dpi']:g}x" in got["repr"] and got["dpi"] == 80, got["repr"]


def test_outside_ipython_nothing_changes():
    code = "from kdbook.plotting import sharp_inline; print(sharp_inline())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "False", out.stderr

"""`import kdbook` stays light: matplotlib and ipywidgets load only when a chapter asks for them."""
from __future__ import annotations

import subprocess
import sys

HEAVY = ("matplotlib", "ipywidgets")


def _heavy_modules_after(statement: str) -> list[str]:
    code = f"import sys\n{statement}\nprint(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return [m for m in out.stdout.strip().split(",") if m]


def test_import_kdbook_and_using_the_core_loads_no_plotting_or_widgets():
    assert _heavy_modules_after("import kdbook; kdbook.kd_loss_and_grad([1.0, 2.0], [2.0, 1.0], T=2.0)") == []


def test_the_probe_sees_matplotlib_once_plotting_is_used():
    # The counterpart that shows the check above can fail: asking for kdbook.plotting loads it.
    assert "matplotlib" in _heavy_modules_after("import kdbook; kdbook.plotting")

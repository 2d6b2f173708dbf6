"""kdbook's style context must not switch a notebook's inline plotting off."""
from __future__ import annotations

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from kdbook._notebooks import execute_notebook


def _images(cell) -> int:
    return sum("image/png" in out.get("data", {}) for out in cell.outputs)


def test_every_figure_displays_in_a_notebook_kernel(tmp_path):
    # The session's first figure is made inside kdbook's rc_context; the inline backend turns
    # interactive mode on while it loads, and a plain rc_context restore switched it off again,
    # so every later figure silently failed to display.
    nb = new_notebook(cells=[
        new_code_cell("import kdbook\nfig, ax = kdbook.plotting.new_axes()"),
        new_code_cell("fig, ax = kdbook.plotting.new_axes()"),
        new_code_cell("fig, ax = kdbook.plotting.new_axes()"),
    ])
    done = execute_notebook(nbformat.from_dict(nb), tmp_path, timeout=120)
    assert [_images(c) for c in done.cells] == [1, 1, 1]


def test_style_applies_kdbook_rc_and_restores_it():
    import matplotlib

    from kdbook.plotting import PALETTE, style

    with matplotlib.rc_context({"axes.spines.top": True}):  # a known starting value, whatever ran before
        with style():
            assert matplotlib.rcParams["axes.spines.top"] is False
            assert matplotlib.rcParams["axes.prop_cycle"].by_key()["color"][0] == PALETTE[0]
        assert matplotlib.rcParams["axes.spines.top"] is True  # restored, so the check above changed something

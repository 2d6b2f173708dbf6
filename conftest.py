"""Repository-wide pytest set-up (loaded for every test path, notebooks included).

nbval compares every code cell's fresh output with the stored one, character for character.
Cells that declare a tolerance in their metadata (``{"kdbook": {"tolerance": {"atol": ...}}}``;
see ``kdbook/_tolerance.py`` and the README's contributor section) are compared instead by
``kdbook._tolerance.compare_outputs``: the text exactly, each printed number within the
tolerance. Every other cell keeps nbval's strict comparison.
"""
from __future__ import annotations


def _install_tolerant_comparison() -> None:
    from nbval.plugin import IPyNbCell

    from kdbook._tolerance import cell_tolerance, compare_outputs

    strict = IPyNbCell.compare_outputs
    if getattr(strict, "_kdbook_tolerant", False):
        return

    def compare_outputs_with_tolerance(self, test, ref, skip_compare=None):
        cells = self.parent.nb.cells
        index = next((i for i, c in enumerate(cells) if c is self.cell), None)
        where = f"{self.parent.fspath.relto(self.config.rootdir)}, cell {index} (nbval Cell {self.cell_num})"
        tol = cell_tolerance(self.cell, where)
        if tol is None:
            return strict(self, test, ref, skip_compare)
        self.comparison_traceback = compare_outputs(ref, test, tol, where, sanitize=self.sanitize)
        return not self.comparison_traceback

    compare_outputs_with_tolerance._kdbook_tolerant = True
    IPyNbCell.compare_outputs = compare_outputs_with_tolerance


def pytest_configure(config):
    if config.pluginmanager.hasplugin("nbval"):
        _install_tolerant_comparison()


def _moved_module_shims() -> list[str]:
    """The old module paths kept for saved notebooks (``kdbook._moved``): importing one re-points it
    at its new module, so doctest collection must not import them as files of their own."""
    from kdbook._moved import MOVED

    return [f"kdbook/{name}.py" for name in MOVED]


collect_ignore = _moved_module_shims()

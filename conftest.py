"""Repository-wide pytest set-up (loaded for every test path, notebooks included).

nbval compares every code cell's fresh output with the stored one, character for character.
Cells that declare a tolerance in their metadata (``{"kdbook": {"tolerance": {"atol": ...}}}``;
see ``kdbook/_tolerance.py`` and the README's contributor section) are compared instead by
``kdbook._tolerance.compare_outputs``: the text exactly, each printed number within the
tolerance. Every other cell keeps nbval's strict comparison.
"""
from __future__ import annotations

from pathlib import Path


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


# --------------------------------------------------------------------------- test groups (issue 23)
# Every test carries the marker of its group, so ``python3 workbook.py test --quick`` can leave
# the slow groups out: ``unit`` (the default of a test file, doctests included), ``grader``,
# ``browser``, ``portability``, ``oldest``, ``claims`` (every file under tests/claims/), ``system``;
# nbval items are ``notebooks``. A test file of a slow group is listed in GROUPS.

#: The group of each test file that is not ``unit`` (files under tests/claims/ are ``claims``).
GROUPS = {
    "test_grade_batch.py": "grader",
    "test_grade_isolation.py": "grader",
    "test_grade_forkserver.py": "grader",
    "test_grading_create.py": "grader",
    "test_grade_lms.py": "grader",
    "test_grade_roundtrip.py": "grader",
    "test_wrong_answers.py": "grader",
    "test_browser_notebooks.py": "browser",
    "test_lite_site.py": "browser",
    "test_jupyterhub.py": "browser",
    "test_colab_widgets_browser.py": "browser",
    "test_portability.py": "portability",
    "test_oldest_versions.py": "oldest",
    "test_fresh_machine.py": "system",
    "test_binder.py": "system",
    "test_colab_env.py": "system",
    "test_nbgitpuller.py": "system",
}
QUICK_EXCLUDES = ("grader", "browser", "portability", "oldest", "claims", "system", "slow")


def group_of(path) -> str:
    """The group of the test file (or notebook) at ``path``."""
    path = Path(str(path))
    if path.suffix == ".ipynb":
        return "notebooks"
    if "claims" in path.parts:
        return "claims"
    return GROUPS.get(path.name, "unit")


def pytest_collection_modifyitems(config, items):
    import pytest

    for item in items:
        item.add_marker(getattr(pytest.mark, group_of(item.path)))


def pytest_configure(config):
    if config.pluginmanager.hasplugin("nbval"):
        _install_tolerant_comparison()


def _moved_module_shims() -> list[str]:
    """The old module paths kept for saved notebooks (``kdbook._moved``): importing one re-points it
    at its new module, so doctest collection must not import them as files of their own."""
    from kdbook._moved import MOVED

    return [f"kdbook/{name}.py" for name in MOVED]


collect_ignore = _moved_module_shims()

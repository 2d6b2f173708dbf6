"""Every notebook imports only what a learner has: the standard library and kdbook's own dependencies.

A learner installs kdbook without its test extras (``python3 workbook.py lab``, ``pip install kdbook``,
the browser site), so a chapter that imports scipy (a test dependency only) fails for them while
the suite, which has scipy, passes: chapter 9 once did, and the site benchmark found it.
"""
from __future__ import annotations

import ast
import sys
import tomllib
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for folder in ("notebooks", "solutions", "exercises") for p in (ROOT / folder).glob("*.ipynb")
                   if not p.name.endswith(".bak.ipynb"))
#: Import names of the runtime dependencies (pyproject's [project] dependencies) that differ from their
#: distribution names, and the modules JupyterLab's kernel brings (IPython runs every notebook).
_IMPORT_NAMES = {"ipywidgets": "ipywidgets", "matplotlib": "matplotlib", "numpy": "numpy", "threadpoolctl": "threadpoolctl"}
#: ``google`` is ``google.colab``, which the setup block imports only when it runs on Colab.
_KERNEL = {"IPython", "kdbook", "google"}


def _runtime_modules() -> set[str]:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {d.split(";")[0].split("[")[0].split("=")[0].split(">")[0].split("<")[0].split("~")[0].strip().lower()
             for d in deps}
    return {_IMPORT_NAMES.get(n, n.replace("-", "_")) for n in names} | _KERNEL


def _imports(source: str) -> set[str]:
    lines = [ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!"))]
    tree = ast.parse("\n".join(lines))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_notebook_imports_only_what_a_learner_has(path):
    allowed = _runtime_modules() | set(sys.stdlib_module_names)
    nb = nbformat.read(path, as_version=4)
    used = set().union(*(_imports(c.source) for c in nb.cells if c.cell_type == "code"))
    extra = sorted(used - allowed)
    assert not extra, (f"{path.name} imports {extra}, which a learner's install does not have (runtime "
                       f"dependencies: {sorted(_runtime_modules())}); use kdbook or the standard library")


def test_the_check_sees_a_test_only_import():
    assert "scipy" in _imports("from scipy import stats\nimport numpy as np\n%matplotlib inline") - _runtime_modules()

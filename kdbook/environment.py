"""The environment self-check run by ``notebooks/00_start_here.ipynb``.

It reports whether each package the workbook needs is installed at a recent enough version,
without printing the versions themselves (they differ between machines; the stored notebook
output must not).
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from importlib import metadata

__all__ = ["REQUIREMENTS", "Check", "check_environment", "environment_report", "in_notebook_kernel"]

#: Minimum versions the workbook is tested with (keep in step with pyproject.toml).
REQUIREMENTS: dict[str, str] = {
    "python": "3.11",
    "numpy": "1.26",
    "matplotlib": "3.9",
    "ipywidgets": "7.7.1",  # 8 here; Colab preloads 7.7, which the explorers also work with (tests/test_colab_env.py)
    "jupyterlab_widgets": "3.0",  # the JupyterLab side of ipywidgets 8: without it, widgets do not display
    "ipykernel": "6.25",
    "jupyterlab": "4.0",
}


#: Parts of the JupyterLab server that the JupyterLite site replaces when the workbook runs in the
#: browser (Pyodide): they are not Python packages there, so they are not checked.
BROWSER_PROVIDED = frozenset({"ipykernel", "jupyterlab", "jupyterlab_widgets"})
#: Minimums that differ in the browser. The site's Pyodide (0.27.7) ships matplotlib 3.8.4, whose
#: inline figures the site's own browser test sees; the desktop bound of 3.9 comes from how 3.8's
#: inline backend works with today's IPython, which the browser kernel does not use.
BROWSER_MINIMUMS = {"matplotlib": "3.8"}


@dataclass(frozen=True)
class Check:
    """One requirement: the package, the minimum version, what was found, and whether it is met."""

    name: str
    required: str
    found: str | None

    @property
    def ok(self) -> bool:
        return self.found is not None and _parse(self.found) >= _parse(self.required)


def _parse(version: str) -> tuple[int, ...]:
    """Leading numeric release parts: "8.1.9" -> (8, 1, 9), "2.4.0rc1" -> (2, 4, 0)."""
    match = re.match(r"\d+(?:\.\d+)*", version)
    return tuple(int(x) for x in match.group().split(".")) if match else ()


def _found(name: str) -> str | None:
    if name == "python":
        return ".".join(map(str, sys.version_info[:3]))
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def check_environment(requirements: dict[str, str] | None = None) -> list[Check]:
    """Return one :class:`Check` per requirement (default :data:`REQUIREMENTS`).

    In the browser (Pyodide, ``sys.platform == "emscripten"``) the default leaves out
    :data:`BROWSER_PROVIDED`, which the JupyterLite site provides itself, and uses
    :data:`BROWSER_MINIMUMS` where the site's Pyodide release pins an older version.

    Examples
    --------
    >>> from kdbook.environment import check_environment
    >>> all(c.ok for c in check_environment({"python": "3.11"}))
    True
    """
    reqs = REQUIREMENTS if requirements is None else requirements
    if requirements is None and sys.platform == "emscripten":
        reqs = {name: BROWSER_MINIMUMS.get(name, v) for name, v in reqs.items() if name not in BROWSER_PROVIDED}
    return [Check(name, req, _found(name)) for name, req in reqs.items()]


def environment_report(checks: list[Check] | None = None) -> str:
    """A table of requirements with "ok", "too old" or "missing" (no versions, so it is stable).

    Examples
    --------
    >>> from kdbook.environment import Check, environment_report
    >>> print(environment_report([Check("numpy", "1.26", "1.20.0"), Check("scipy", "1.0", None)]))
    numpy              >= 1.26   too old: upgrade it
    scipy              >= 1.0    missing: install it
    """
    rows = []
    for c in check_environment() if checks is None else checks:
        status = "ok" if c.ok else ("missing: install it" if c.found is None else "too old: upgrade it")
        rows.append(f"{c.name:<18} >= {c.required:<6} {status}")
    return "\n".join(rows)


def in_notebook_kernel() -> bool:
    """Whether the code runs inside a Jupyter (IPython) kernel, where widgets can display."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipykernel
        return False
    shell = get_ipython()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})

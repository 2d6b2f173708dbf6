"""Batch grader for submitted exercise notebooks.

``python -m kdbook.grade SUBMISSION.ipynb [...] --out report.json [--csv scores.csv] [--md report.md]``

Each submission runs in its own isolated child process (``python -I``, a fresh temporary folder,
per-step and whole-submission time limits, a memory cap); the grader draws the test inputs and
judges the outputs in its own process, so a submission cannot forge its score. Submissions are
read, never written, and graded in parallel. Guarantees and limits: ``docs/grading.md``.
"""
from __future__ import annotations

import os
import secrets
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ._report import write_csv, write_json, write_markdown
from ._runner import Limits, grade_submission

__all__ = ["grade", "Limits", "grade_submission", "write_json", "write_csv", "write_markdown"]

#: Why the batch grader cannot run in the browser (the JupyterLite site), said plainly.
NOT_IN_BROWSER = (
    "The batch grader does not run in the browser: it grades each submission in a separate Python "
    "process, and the browser's Python (Pyodide, in the JupyterLite site) cannot start processes. "
    "Grade on a computer with Python >= 3.11: python -m kdbook.grade SUBMISSION.ipynb ... "
    "(learners get their feedback in the browser from kdbook.grading.check)."
)


def _refuse_in_browser() -> None:
    if sys.platform == "emscripten":
        raise RuntimeError(NOT_IN_BROWSER)


def grade(paths: list[Path], *, chapter: str | None = None, seed: int | None = None,
          limits: Limits = Limits(), jobs: int | None = None) -> dict:
    """Grade many notebooks in parallel; return the report (see ``write_json``).

    ``seed`` fixes the hidden tests' inputs (default: a fresh random seed, recorded in the report).
    """
    _refuse_in_browser()
    seed = secrets.randbits(32) if seed is None else int(seed)
    jobs = max(1, jobs or os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        entries = list(pool.map(lambda p: grade_submission(Path(p), chapter=chapter, seed=seed, limits=limits),
                                paths))
    return {"seed": seed, "limits": {"step_timeout": limits.step_timeout,
                                     "submission_timeout": limits.submission_timeout,
                                     "memory_mb": limits.memory_mb},
            "submissions": entries}

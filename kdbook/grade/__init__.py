"""Batch grader for submitted exercise notebooks.

``python -m kdbook.grade SUBMISSION.ipynb [...] --out report.json [--csv scores.csv] [--md report.md]
[--manual manual.csv]``, or an LMS download (a Canvas or Moodle zip, or a folder) with
``--roster``, ``--canvas-csv``, ``--moodle-worksheet``, ``--feedback`` … (``roundtrip``).

Each submission runs in its own isolated child process (``python -I``, a private temporary
folder, its own session, per-step and whole-submission time limits, a memory cap; as a dedicated
unprivileged user when the grader runs as root); the grader draws the test inputs and judges the
outputs in its own process, so a submission cannot forge its score. Submissions are read, never
written, and graded in parallel. Guarantees and limits: ``docs/grading.md``.
"""
from __future__ import annotations

import os
import secrets
import sys
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path

from . import _isolation
from ._isolation import isolation
from ._report import merge_manual, read_manual, write_csv, write_json, write_markdown
from ._runner import STOP, Limits, grade_submission, stop_all

__all__ = ["grade", "Limits", "grade_submission", "write_json", "write_csv", "write_markdown", "read_manual",
           "merge_manual"]


def _interrupted(path: Path) -> dict:
    return {"submission": str(path), "chapter": None, "score": 0.0, "max_score": 0.0, "exercises": [],
            "messages": ["not graded: grading was interrupted before this submission started"]}

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

    ``seed`` fixes the test inputs (default: a fresh random seed, recorded in the report). On
    KeyboardInterrupt (SIGINT, or SIGTERM through the command line) every running child is killed
    and the report comes back complete in shape, with ``"interrupted": true`` and each
    unfinished submission saying so.
    """
    _refuse_in_browser()
    seed = secrets.randbits(32) if seed is None else int(seed)
    jobs = max(1, jobs or os.cpu_count() or 1)
    STOP.clear()
    entries: dict[int, dict] = {}
    interrupted = False
    futures: dict = {}
    pool = ThreadPoolExecutor(max_workers=jobs)
    try:
        futures = {pool.submit(grade_submission, Path(p), chapter=chapter, seed=seed, limits=limits): i
                   for i, p in enumerate(paths)}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            for future in done:
                entries[futures[future]] = future.result()
    except KeyboardInterrupt:
        interrupted = True
        stop_all()
        for future, i in futures.items():
            if future.cancel():
                continue
            try:
                entries[i] = future.result(timeout=30)
            except Exception:  # noqa: BLE001 - still running after the kill: report it as not graded
                pass
    finally:
        pool.shutdown(wait=not interrupted, cancel_futures=True)
    report = {"seed": seed, "limits": {"step_timeout": limits.step_timeout,
                                       "submission_timeout": limits.submission_timeout,
                                       "memory_mb": limits.memory_mb},
              "isolation": isolation(),
              "submissions": [entries.get(i) or _interrupted(Path(p)) for i, p in enumerate(paths)]}
    if _isolation._FALLBACK:
        report["isolation_note"] = _isolation._FALLBACK[0]
    if interrupted:
        report["interrupted"] = True
    return report

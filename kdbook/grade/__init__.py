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

from ..grading import registry
from ..grading.keys import MissingKeyError, default_solutions, keyed, solution_keys
from . import _forkserver, _isolation
from ._isolation import isolation
from ._report import merge_manual, read_manual, write_csv, write_json, write_markdown
from ..grading.spec import describe_error
from ._runner import STOP, Limits, grade_submission, stop_all
from ._stage import staged

__all__ = ["grade", "Limits", "grade_submission", "write_json", "write_csv", "write_markdown", "read_manual",
           "merge_manual"]


def _refused(path: Path, why: str) -> dict:
    return {"submission": str(path), "chapter": None, "score": 0.0, "max_score": 0.0, "exercises": [],
            "messages": [why]}


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


def _keys_for(paths: list[Path], chapter: str | None, solutions: Path | None) -> dict:
    """The answer keys of the chapters to grade (read from the solution notebooks), or MissingKeyError."""
    from ._extract import read_submission

    chapters = {chapter} if chapter else {read_submission(Path(p)).chapter for p in paths} - {None}
    if not any(keyed(ex) for ch in chapters for ex in registry.chapter_exercises(ch)):
        return {}
    folder = solutions or default_solutions()
    if folder is None:
        raise MissingKeyError("the submissions' chapters have select, prediction or other keyed exercises, whose "
                              "answer keys are read from the instructor's solution notebooks; none were found: "
                              "pass --solutions DIR (the folder holding NN_topic.ipynb solution notebooks)")
    keys = solution_keys(folder)
    missing = [ex.id for ch in sorted(chapters) for ex in registry.chapter_exercises(ch) if keyed(ex) and ex.id not in keys]
    if missing:
        raise MissingKeyError(f"{folder} has no answer key for {', '.join(missing)} (no solution notebook of that "
                              "chapter?)")
    return keys


def grade(paths: list[Path], *, chapter: str | None = None, seed: int | None = None,
          limits: Limits = Limits(), jobs: int | None = None, solutions: Path | None = None) -> dict:
    """Grade many notebooks in parallel; return the report (see ``write_json``).

    ``seed`` fixes the test inputs (default: a fresh 128-bit secret, recorded in the report so that
    it can be replayed). ``solutions`` is the folder of the instructor's solution notebooks, from
    which the answer keys are read (default: the repository's ``solutions/``); when a graded
    chapter needs a key and there is none, :class:`~kdbook.grading.keys.MissingKeyError` is raised
    before anything runs. On
    KeyboardInterrupt (SIGINT, or SIGTERM through the command line) every running child is killed
    and the report comes back complete in shape, with ``"interrupted": true`` and each
    unfinished submission saying so; if the grader itself fails, likewise with ``"crashed"``.
    Every submission is first copied into a private folder (symbolic links are refused) and graded
    from the copy.
    """
    _refuse_in_browser()
    _isolation.refuse_root_without_users()
    if isolation() == "users":
        _isolation.shared_dirs(refresh=True)  # where grading users can leave files, as the machine is now
    seed = secrets.randbits(128) if seed is None else int(seed)
    jobs = max(1, jobs or os.cpu_count() or 1)
    STOP.clear()
    entries: dict[int, dict] = {}
    interrupted, crashed = False, None
    futures: dict = {}
    keys: dict = {}
    pool = ThreadPoolExecutor(max_workers=jobs)
    with staged([Path(p) for p in paths]) as copies, _forkserver.session():
        keys = _keys_for([c for c, _ in copies if c is not None], chapter, solutions)
        try:
            for i, (copy, refused) in enumerate(copies):
                if refused:
                    entries[i] = _refused(Path(paths[i]), refused)
            futures = {pool.submit(grade_submission, copy, chapter=chapter, seed=seed, limits=limits, keys=keys,
                                   shown=Path(paths[i])): i for i, (copy, _) in enumerate(copies) if copy is not None}
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                for future in done:
                    entries[futures[future]] = future.result()
        except KeyboardInterrupt:
            interrupted = True
        except Exception as err:  # noqa: BLE001 - the grader itself failed: keep what is graded, say so
            crashed = f"the grader itself failed ({describe_error(err)}); the report is partial"
        if interrupted or crashed:
            stop_all()
            for future, i in futures.items():
                if future.cancel():
                    continue
                try:
                    entries[i] = future.result(timeout=30)
                except Exception:  # noqa: BLE001 - still running after the kill: report it as not graded
                    pass
        pool.shutdown(wait=not (interrupted or crashed), cancel_futures=True)
    report = {"seed": seed, "solutions": str(solutions or default_solutions() or ""),
              "limits": {"step_timeout": limits.step_timeout, "submission_timeout": limits.submission_timeout,
                         "memory_mb": limits.memory_mb},
              "isolation": isolation(),
              "submissions": [entries.get(i) or _interrupted(Path(p)) for i, p in enumerate(paths)]}
    if _isolation._FALLBACK:
        report["isolation_note"] = _isolation._FALLBACK[0]
    if report["isolation"] == "users":
        problem = _isolation.python_readable_by_others()
        if problem:
            report["python_note"] = problem
        folder = solutions or default_solutions()
        problem = _isolation.keys_readable_by_others(Path(folder)) if keys and folder else None
        if problem:
            report["solutions_note"] = problem
    if interrupted:
        report["interrupted"] = True
    if crashed:
        report["crashed"] = crashed
    return report

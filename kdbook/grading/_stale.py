"""Stale answers: notice that an answer cell's latest run failed before checking what it left behind.

After an answer cell raises (a SyntaxError, an exception), the notebook still holds the
definition from an earlier run, and checking that would grade an answer the learner no longer
sees. In IPython (JupyterLab, Notebook, JupyterLite's Pyodide kernel) a ``post_run_cell`` hook,
installed by ``import kdbook`` or ``import kdbook.grading``, records every cell run: its source,
its cell id when the front end sends one, and its error. :func:`stale_message` then finds the
answer cell's latest run — the latest cell whose source binds the exercise's name, or a later run
of the same cell id — and, if that run failed, says so instead of checking.

Cells run before the hook was installed are judged from ``sys.last_value`` (the latest error
only) and IPython's input history ``In``. Outside IPython (plain Python, the batch grader) there
is no history and nothing is reported: :func:`stale_message` returns ``None``.

A kernel cannot see edits that were never run; those are not detected.
"""
from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass

__all__ = ["install", "stale_message", "CellRun"]


@dataclass(frozen=True)
class CellRun:
    """One finished cell run: execution count, cell id (or None), source, and its error (or None)."""

    count: int | None
    cell_id: str | None
    source: str
    error: BaseException | None


_RUNS: list[CellRun] = []
_MAX_RUNS = 2000


def _shell():
    if "IPython" not in sys.modules:
        return None
    try:
        from IPython import get_ipython

        return get_ipython()
    except Exception:
        return None


def _record(result) -> None:
    try:
        info = getattr(result, "info", None)
        source = getattr(info, "raw_cell", None) or ""
        error = getattr(result, "error_before_exec", None) or getattr(result, "error_in_exec", None)
        _RUNS.append(CellRun(getattr(result, "execution_count", None), getattr(info, "cell_id", None),
                             source, error))
        del _RUNS[:-_MAX_RUNS]
    except Exception:  # a recorder must never break the learner's cell
        pass


def install() -> bool:
    """Register the cell recorder on the running IPython shell (once). False outside IPython."""
    shell = _shell()
    if shell is None or not hasattr(shell, "events"):
        return False
    if getattr(shell, "_kdbook_cell_recorder", False):
        return True
    try:
        shell.events.register("post_run_cell", _record)
        shell._kdbook_cell_recorder = True
    except Exception:
        return False
    return True


def _binds(source: str, name: str) -> bool:
    """Does this cell source bind ``name`` at top level (def, class, assignment, import)?"""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):  # the failed run itself: read it loosely
        pat = rf"^[ \t]*(?:async[ \t]+)?(?:def|class)[ \t]+{re.escape(name)}\b|^[ \t]*{re.escape(name)}[ \t]*(?::[^=\n]*)?="
        return re.search(pat, source, flags=re.M) is not None
    for node in tree.body:
        for sub in ast.walk(node) if isinstance(node, (ast.If, ast.Try, ast.With, ast.For)) else (node,):
            if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and sub.name == name:
                return True
            targets = (sub.targets if isinstance(sub, ast.Assign) else
                       [sub.target] if isinstance(sub, (ast.AnnAssign, ast.AugAssign)) else [])
            for t in targets:
                if any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(t)):
                    return True
            if isinstance(sub, (ast.Import, ast.ImportFrom)):
                if any((a.asname or a.name.split(".")[0]) == name for a in sub.names):
                    return True
    return False


def _answer_run(runs: list[CellRun], name: str) -> CellRun | None:
    """The latest run of the cell that answers ``name``, or None if no run touched it."""
    ids = {r.cell_id for r in runs if r.cell_id and _binds(r.source, name)}
    for r in reversed(runs):
        if (r.cell_id and r.cell_id in ids) or _binds(r.source, name):
            return r
    return None


def _where(err: BaseException) -> str:
    """' at line N' of the answer cell, if known."""
    if isinstance(err, SyntaxError) and err.lineno:
        return f" at line {err.lineno}"
    tb, frames = err.__traceback__, []
    while tb is not None:
        frames.append(tb)
        tb = tb.tb_next
    cell_file = next((f.tb_frame.f_code.co_filename for f in frames if f.tb_frame.f_code.co_name == "<module>"), None)
    lines = [f.tb_lineno for f in frames if f.tb_frame.f_code.co_filename == cell_file]
    return f" at line {lines[-1]}" if lines else ""


def _from_history(shell, name: str) -> CellRun | None:
    """Without recorded runs: the latest error (``sys.last_value``) if it came from the answer cell."""
    err = getattr(sys, "last_value", None)
    history = list(getattr(shell, "user_ns", {}).get("In", []) or [])
    if err is None or not history:
        return None
    answers = [i for i, src in enumerate(history) if src and _binds(src, name)]
    if not answers:
        return None
    # The error's cell: IPython keeps failed cells' sources in the input history; a SyntaxError
    # carries its text, a traceback its cell file in linecache.
    import linecache

    filename = getattr(err, "filename", None) if isinstance(err, SyntaxError) else None
    if filename is None:
        tb = err.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_name == "<module>":
                filename = tb.tb_frame.f_code.co_filename
            tb = tb.tb_next
    cached = linecache.cache.get(filename) if filename else None
    source = "".join(cached[2]) if cached else None
    if source is None or not _binds(source, name):
        return None
    latest = answers[-1]
    if history[latest].strip() != source.strip():
        return None  # the answer cell ran again, differently, after the error
    return CellRun(latest, None, source, err)


def stale_message(name: str) -> str | None:
    """Why the current definition of ``name`` must not be checked, or None if nothing is wrong (or
    nothing is known: outside IPython)."""
    shell = _shell()
    if shell is None:
        return None
    try:
        run = _answer_run(_RUNS, name) if getattr(shell, "_kdbook_cell_recorder", False) else None
        if run is None and not any(_binds(r.source, name) for r in _RUNS):
            run = _from_history(shell, name)
        if run is None or run.error is None:
            return None
        err = run.error
        what = type(err).__name__
        return (f"Your last run of the answer cell for `{name}` raised {what}{_where(err)}: fix it and run it "
                "again. I did not check the older definition it left behind.")
    except Exception:
        return None

"""Immediate feedback on the workbook's exercises, and the exercise registry the grader uses.

In an exercise notebook, after each answer cell::

    kdbook.grading.check("02.kl_scratch")   # runs the public tests on inputs it draws itself
    kdbook.grading.hint("02.kl_scratch")    # reveals the hint
    kdbook.grading.scoreboard("02")         # the chapter's score board (last cell)

``check`` never raises: a wrong, missing or unfinished answer gets a message, not a traceback.
Public tests draw fresh inputs at every check (so a message cannot be replayed as an answer);
at grading every test draws from the run's secret seed, hidden tests included, and select,
prediction and other keyed answers are judged with the instructor's keys, which the learner's
package does not hold (``python -m kdbook.grade``, see docs/grading.md). Where no timer can interrupt code (Pyodide/JupyterLite, a
thread), checks run without a time limit and say so.
"""
from __future__ import annotations

import secrets
import sys

from . import _stale, engine, registry
from ._core import Exercise, Verdict, time_limit_available
from .spec import verdict_line

__all__ = ["check", "hint", "scoreboard", "run_tests", "registry", "engine"]

_stale.install()  # records cell runs in IPython, so that a failed answer cell is not checked stale


def run_tests(exercise: Exercise, namespace: dict, *, timeout: float | None = 10.0,
              public_seed: int | None = None, **hidden: object) -> list[Verdict]:
    """Run an exercise's public tests in this process (what ``check`` shows).

    Public tests draw fresh inputs at every call (``public_seed`` fixes them), so a message about
    one draw cannot be replayed as an answer. Hidden tests run only at grading, with the instructor's
    secret seed and answer keys: :func:`kdbook.grading.engine.score`. A test whose calls take longer
    than ``timeout`` seconds fails (where a timer can interrupt code: see ``time_limit_available``).
    """
    if hidden:
        raise TypeError(f"run_tests runs the public tests only (got {', '.join(hidden)}); hidden tests run at "
                        "grading: kdbook.grading.engine.score(exercise, namespace, seed=..., key=...)")
    seed = secrets.randbits(32) if public_seed is None else public_seed
    return engine.score(exercise, namespace, seed=seed, timeout=timeout, hidden=False)


#: Printed lines are kept within this width (a laptop screen with the file browser open).
WIDTH = 100


def _wrap(text: str) -> str:
    """Wrap every line longer than WIDTH at spaces, continuing it indented two more spaces."""
    import textwrap

    out = []
    for line in text.split("\n"):
        indent = line[: len(line) - len(line.lstrip())]
        out.append(line if len(line) <= WIDTH else textwrap.fill(
            line.strip(), WIDTH, initial_indent=indent, subsequent_indent=indent + "  ", break_long_words=False))
    return "\n".join(out)


def _pts(x: float) -> str:
    return f"{x:g}"


def _plural(x: float, word: str) -> str:
    return f"{_pts(x)} {word}{'' if x == 1 else 's'}"


def _caller_namespace(depth: int = 2) -> dict:
    try:
        from IPython import get_ipython

        shell = get_ipython()
        if shell is not None:
            return shell.user_ns
    except ImportError:
        pass
    return sys._getframe(depth).f_globals


def _hidden_note(ex: Exercise) -> str:
    if not ex.hidden_points:
        return "No hidden tests for this exercise."
    s = "" if ex.hidden_points == 1 else "s"
    return f"{_pts(ex.hidden_points)} more point{s} await{'s' if not s else ''} hidden tests at grading."


def _score_line(ex: Exercise, got: float, passed: bool | None) -> str:
    """The summary line: public points now, and what is left for grading (``passed=None``: no answer)."""
    if not ex.public_points:  # select and prediction items: every point is decided at grading
        form = {True: "Your answer has the right form", False: "Your answer is not in the right form yet",
                None: "No answer yet"}[passed]
        points = "its 1 point is" if ex.hidden_points == 1 else f"all {_plural(ex.hidden_points, 'point')} are"
        return f"{form}; nothing is scored now: {points} decided at grading."
    verdict = "All public tests pass" if passed else "Public tests"
    return f"{verdict}: {_pts(got)}/{_pts(ex.public_points)} points. {_hidden_note(ex)}"


def _report(ex: Exercise, verdicts: list[Verdict]) -> str:
    got = sum(v.points for v in verdicts)
    head = f"{ex.id} · {ex.title}  [{ex.level}, {_plural(ex.points, 'point')}]"
    statuses = {v.status for v in verdicts}
    stuck = f"  Stuck? kdbook.grading.hint({ex.id!r})"
    if statuses == {"not attempted"}:
        return (f"{head}\n  Not attempted yet: {verdicts[0].message.split('(', 1)[-1].rstrip(')')}.\n"
                f"  {_score_line(ex, 0.0, None)}\n{stuck}")
    if "missing" in statuses:
        return (f"{head}\n  {verdicts[0].message}.\n"
                f"  {_score_line(ex, 0.0, None)}\n{stuck}")
    lines = [head]
    for v in verdicts:
        head, _, why = verdict_line(v).partition("): ")
        lines.append(f"  {head})" if why else f"  {head}")
        if why:
            lines.append(f"      {why}")
    passed = all(v.status == "pass" for v in verdicts)
    lines.append(f"  {_score_line(ex, got, passed)}")
    if not passed:
        lines.append(stuck)
    return "\n".join(lines)


def _notes(ex: Exercise, ns: dict) -> str:
    """What the check does not judge here: predictions, selections, reasoning, a missing time limit."""
    notes = []
    if ex.kind == "prediction":
        notes.append("Your prediction is kept as it is and judged only at grading: run the next cell to see "
                     "what happens, and do not change the prediction afterwards.")
    elif ex.kind == "select":
        notes.append("Which statements are true is judged only at grading; this check says only that your "
                     "answer is a set of the listed letters.")
    if ex.reasoning:
        text = ns.get(ex.reasoning)
        words = len(text.split()) if isinstance(text, str) else 0
        state = f"{words} words" if words else "nothing written yet"
        notes.append(f"`{ex.reasoning}` ({state}) is read by your instructor"
                     + (f", for up to {_plural(ex.manual_points, 'point')}." if ex.manual_points else "."))
    if not time_limit_available():
        notes.append("(No time limit here: this Python cannot interrupt running code, so an endless loop "
                     "would hang this cell.)")
    return "".join(f"\n  {n}" for n in notes)


def check(exercise_id: str, *, namespace: dict | None = None) -> None:
    """Run the public tests of one exercise on the notebook's answer and print the verdicts.

    Never raises. ``namespace`` defaults to the notebook's (the caller's) variables.
    """
    try:
        ex = registry.get(exercise_id)
        ns = namespace if namespace is not None else _caller_namespace()
        stale = _stale.stale_message(ex.name) if namespace is None else None
        if stale:
            print(_wrap(f"{ex.id} · {ex.title}\n  {stale}\n  Public tests: not run."))
            return
        print(_wrap(_report(ex, run_tests(ex, ns)) + _notes(ex, ns)))
    except KeyError as err:
        print(f"kdbook.grading.check: {err.args[0]}")
    except Exception as err:  # the checker must never break a learner's run-all
        print(f"kdbook.grading.check({exercise_id!r}) could not run ({type(err).__name__}: {err}); "
              "please report this as a kdbook bug")


def hint(exercise_id: str) -> None:
    """Print the hint of one exercise. Never raises."""
    try:
        ex = registry.get(exercise_id)
        print(_wrap(f"Hint for {ex.id} · {ex.title}:\n  {ex.hint}"))
    except KeyError as err:
        print(f"kdbook.grading.hint: {err.args[0]}")


def scoreboard(chapter: str, *, namespace: dict | None = None) -> None:
    """Re-run every public test of a chapter and print the notebook's score board. Never raises."""
    try:
        exercises = registry.chapter_exercises(str(chapter))
        ns = namespace if namespace is not None else _caller_namespace()
        rows, total, public, hidden = [], 0.0, 0.0, 0.0
        for ex in exercises:
            if namespace is None and _stale.stale_message(ex.name):
                rows.append(f"  {ex.id:<28} {ex.level:<10} {'0/' + _pts(ex.public_points):>7}"
                            f" {_pts(ex.hidden_points):>7}   last run failed: fix and re-run the cell")
                public, hidden = public + ex.public_points, hidden + ex.hidden_points
                continue
            verdicts = run_tests(ex, ns)
            got = sum(v.points for v in verdicts)
            status = "not attempted" if all(v.status in ("not attempted", "missing") for v in verdicts) else (
                "all public pass" if all(v.status == "pass" for v in verdicts) else "some public fail")
            rows.append(f"  {ex.id:<28} {ex.level:<10} {_pts(got) + '/' + _pts(ex.public_points):>7}"
                        f" {_pts(ex.hidden_points):>7}   {status}")
            total, public, hidden = total + got, public + ex.public_points, hidden + ex.hidden_points
        print(_wrap(f"Score board · chapter {chapter} (public tests now; hidden tests at grading)\n"
              f"  {'exercise':<28} {'level':<10} {'public':>7} {'hidden':>7}\n" + "\n".join(rows) +
              f"\n  {'total':<39} {_pts(total) + '/' + _pts(public):>7} {_pts(hidden):>7}\n"
              f"  Maximum: {_pts(public + hidden)} points; {_pts(hidden)} of them "
              f"{'is' if hidden == 1 else 'are'} decided by hidden tests."))
    except KeyError as err:
        print(f"kdbook.grading.scoreboard: {err.args[0]}")
    except Exception as err:
        print(f"kdbook.grading.scoreboard({chapter!r}) could not run ({type(err).__name__}: {err}); "
              "please report this as a kdbook bug")

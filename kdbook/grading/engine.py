"""The grading engine: score one exercise's answer in this process, hidden and keyed tests included.

The batch grader (``python -m kdbook.grade``) runs answers in isolated processes and judges with
the same pieces; this module is the public, in-process form of it, for tests and tools::

    from kdbook.grading import engine, keys, registry
    KEYS = keys.solution_keys("solutions")           # the instructor's keys
    ex = registry.get("06.choose_objective")
    verdicts = engine.score(ex, {"objective_claims": {"a", "c", "f"}}, seed=7, key=KEYS.get(ex.id))
    engine.points(verdicts)                          # 2.0

Hidden tests draw their inputs from ``seed`` (the batch grader's is a fresh 128-bit secret per
run, recorded in its report so that ``--seed`` replays it). Keyed tests (select, prediction and
other answers decided by the instructor's key) need ``key``; without it :func:`score` raises
:class:`~kdbook.grading.keys.MissingKeyError`, so a missing key is never a silent 0.
"""
from __future__ import annotations

from ._core import (Exercise, TimeLimitExceeded, Verdict, decode, draw_calls, encode, judge, probe, static_violations,
                    time_limit)
from .keys import MissingKeyError, keyed

__all__ = ["score", "points", "MissingKeyError",
           # the pieces the batch grader runs in its two processes (kdbook.grade): drawing a test's inputs,
           # probing the answer under a time limit in the child, judging the outcomes in the grader
           "Verdict", "TimeLimitExceeded", "draw_calls", "probe", "judge", "static_violations", "time_limit",
           "encode", "decode"]


def _source_of(obj) -> str | None:
    import inspect

    try:
        return inspect.getsource(obj)
    except (TypeError, OSError):
        return None


def score(exercise: Exercise, namespace: dict, *, seed: int, key: dict | None = None,
          public_seed: int | None = None, timeout: float | None = 10.0, hidden: bool = True) -> list[Verdict]:
    """Run an exercise's tests on the answer in ``namespace``; one :class:`Verdict` per test.

    ``seed`` draws every test's inputs (``public_seed``, when given, draws the public tests' instead);
    ``key`` is the exercise's answer key (``keys.solution_keys(...)[exercise.id]``), needed when the
    exercise has keyed tests. ``hidden=False`` runs the public tests only (the notebook's check).
    A test whose calls take longer than ``timeout`` seconds fails (where a timer can interrupt code).
    """
    if hidden and key is None and keyed(exercise):
        raise MissingKeyError(f"{exercise.id} is graded with the instructor's answer key: pass key= (from "
                              "kdbook.grading.keys.solution_keys(SOLUTIONS_DIR))")
    source = _source_of(namespace.get(exercise.name)) if exercise.forbid else None
    banned = static_violations(source, exercise) if source else []
    verdicts = []
    for test in exercise.tests:
        if test.hidden and not hidden:
            continue
        if banned:
            verdicts.append(Verdict(test, 0.0, "fail", f"your code uses {', '.join(banned)}, which this exercise "
                                                        "asks you not to use: implement it yourself"))
            continue
        calls = draw_calls(exercise, test, public_seed if public_seed is not None and not test.hidden else seed)
        try:
            with time_limit(timeout):
                outcomes = probe(namespace, exercise, [c.public() for c in calls])
        except TimeLimitExceeded:
            verdicts.append(Verdict(test, 0.0, "fail", f"did not finish within {timeout:g} s (an endless loop?)"))
            continue
        verdicts.append(judge(exercise, test, calls, outcomes, key))
    return verdicts


def points(verdicts: list[Verdict]) -> float:
    """The points the verdicts award."""
    return float(sum(v.points for v in verdicts))

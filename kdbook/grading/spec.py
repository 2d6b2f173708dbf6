"""The exercise specification shared by the checker, the batch grader and the exercise generator.

One module says what an exercise is and how a notebook refers to it, so that
``kdbook.grading`` (feedback in the notebook), ``kdbook.grade`` (a class's batch grading) and
``kdbook.exercises`` (generating the learners' notebooks) cannot drift apart:

* :class:`Exercise`, :class:`Test`, :class:`Call`, :class:`Statement` and :class:`Fail`: what a
  chapter module (``kdbook/grading/chNN.py``) declares;
* :func:`draw_calls`: the inputs of one test, from the seed :func:`case_seed` derives;
* :data:`EXERCISE_ID`, :data:`CHECK_TAG`, :data:`SOLUTION_ONLY`, :func:`cell_tags`,
  :func:`chapter_from_filename`: how notebooks are tagged and named;
* :func:`describe_error` and :func:`verdict_line`: the wording of errors and of ✓/✗ lines.

>>> chapter_from_filename("02_divergences.ipynb", ("01", "02"))
'02'
>>> cell_tags({"metadata": {"tags": ["02.kl_scratch", 3]}})
['02.kl_scratch']
>>> bool(EXERCISE_ID.fullmatch("02.kl_scratch"))
True
"""
from __future__ import annotations

import dataclasses
import re
import zlib
from typing import Any, Callable, Iterable

import numpy as np

__all__ = [
    "LEVELS", "KINDS", "EXERCISE_ID", "CHECK_TAG", "SOLUTION_ONLY", "Fail", "Call", "Test", "Statement",
    "Exercise", "Verdict", "case_seed", "draw_calls", "cell_tags", "chapter_from_filename", "describe_error",
    "verdict_line", "select_tests", "selected_letters",
]

#: Bloom's levels (revised taxonomy), from recalling a formula to designing something new.
#: The rubric for what each means in this workbook is in docs/grading.md.
LEVELS = ("remember", "understand", "apply", "analyse", "evaluate", "create")

#: Levels of the first version of the workbook, read as the Bloom level they meant.
_OLD_LEVELS = {"compute": "apply", "implement": "apply"}

#: What the learner defines: a function called on the grader's inputs; a value (a number, array
#: or choice); a selection of the true statements among listed ones; a prediction committed
#: before running a cell (judged only at grading, so the notebook's check cannot reveal it);
#: free text (no automatic points, collected for the instructor).
KINDS = ("function", "value", "select", "prediction", "text")

#: Exercise ids: the chapter's two digits, a dot, a snake_case name ("02.kl_scratch").
EXERCISE_ID = re.compile(r"\d\d\.[a-z0-9_]+")
#: The tag of a cell that calls the checker (never run at grading; recognised by this tag only).
CHECK_TAG = "check"
#: The tag of a solution-notebook cell that the generator drops from the exercise notebook.
SOLUTION_ONLY = "solution-only"


class Fail(Exception):
    """A test's verdict that the answer is wrong; the message says what and by how much."""


@dataclasses.dataclass(frozen=True)
class Call:
    """Positional and keyword arguments of one call of the learner's function.

    ``secret`` is for the judge only (for example the seed of a create item's hidden training run):
    it is never sent to the submission's process, so an answer cannot compute it from its arguments.
    """

    args: tuple = ()
    kwargs: dict = dataclasses.field(default_factory=dict)
    secret: Any = None

    def public(self) -> "Call":
        """This call without its ``secret``: what the submission's process receives."""
        return Call(self.args, self.kwargs)


@dataclasses.dataclass(frozen=True)
class Test:
    """One graded check: ``points`` for passing every call it draws.

    A ``keyed`` test is decided by the instructor's answer key (see :mod:`kdbook.grading.keys`):
    its judge is called as ``judge(calls, outputs, key)``. Keyed tests are hidden: the learner's
    package holds no key, so the notebook's check cannot run them.
    """

    name: str
    points: float
    judge: Callable[..., None]
    cases: Callable[[np.random.Generator], list] = lambda rng: [Call()]
    hidden: bool = False
    keyed: bool = False

    def __post_init__(self) -> None:
        if self.keyed and not self.hidden:
            raise ValueError(f"test {self.name!r}: a keyed test must be hidden (the learner has no key)")


_KEYS_MOVED = ("{what} no longer takes the answer: the key lives in the solution notebook's answer cell "
               "(docs/grading.md, 'How to declare a select or prediction item')")


@dataclasses.dataclass(frozen=True, init=False)
class Statement:
    """One statement of a multi-select question (lettered a, b, c, … in the exercise's order).

    Which statements are true is not declared here: it is the instructor's key, read at grading
    from the solution notebook's answer cell (:mod:`kdbook.grading.keys`).
    """

    text: str

    def __init__(self, text: str, *truth: Any, **old: Any) -> None:
        if truth or old:
            raise TypeError(_KEYS_MOVED.format(what="Statement"))
        object.__setattr__(self, "text", text)


@dataclasses.dataclass(frozen=True)
class Exercise:
    """An exercise: the learner defines ``name`` (see :data:`KINDS`).

    ``forbid`` names kdbook functions an implement-exercise must not call; ``reasoning`` names a
    free-text variable collected for the instructor, worth up to ``manual_points`` points merged
    from the instructor's CSV (``python -m kdbook.grade --manual``); ``statements`` lists a
    select-exercise's statements (lettered a, b, c, … in order).
    """

    id: str
    title: str
    name: str
    kind: str
    level: str
    hint: str
    tests: tuple[Test, ...]
    forbid: tuple[str, ...] = ()
    reasoning: str = ""
    manual_points: float = 0.0
    statements: tuple[Statement, ...] = ()

    def __post_init__(self) -> None:
        if self.level in _OLD_LEVELS:  # chapter modules written before the six Bloom levels
            object.__setattr__(self, "level", _OLD_LEVELS[self.level])
        if self.kind not in KINDS:
            raise ValueError(f"{self.id}: kind must be one of {KINDS}, got {self.kind!r}")
        if self.level not in LEVELS:
            raise ValueError(f"{self.id}: level must be one of {LEVELS}, got {self.level!r}")
        if not EXERCISE_ID.fullmatch(self.id):
            raise ValueError(f"exercise id {self.id!r} must look like '02.kl_scratch'")
        if self.kind == "prediction" and any(not t.hidden and t.points for t in self.tests):
            raise ValueError(f"{self.id}: a prediction's points must come from hidden tests, so that the "
                             "notebook's check cannot reveal the answer")
        if self.level == "create" and not any(t.hidden for t in self.tests):
            raise ValueError(f"{self.id}: a create item is graded on behaviour on hidden inputs; add a hidden test")
        if (self.kind == "select") != bool(self.statements):
            raise ValueError(f"{self.id}: a select exercise (and only one) lists its statements")
        if self.manual_points and not self.reasoning:
            raise ValueError(f"{self.id}: manual points need a reasoning variable to grade")

    @property
    def chapter(self) -> str:
        return self.id[:2]

    @property
    def points(self) -> float:
        """Automatic points (manual points for the reasoning are counted apart)."""
        return sum(t.points for t in self.tests)

    @property
    def public_points(self) -> float:
        return sum(t.points for t in self.tests if not t.hidden)

    @property
    def hidden_points(self) -> float:
        return self.points - self.public_points

    @property
    def names(self) -> tuple[str, ...]:
        """Every variable the learner's answer cell defines for this exercise."""
        return (self.name, self.reasoning) if self.reasoning else (self.name,)


@dataclasses.dataclass
class Verdict:
    """The result of one test: points awarded, a status and a message for the learner."""

    test: Test
    points: float
    status: str  # "pass", "fail", "not attempted", "missing"
    message: str


def case_seed(exercise_id: str, test_name: str, run_seed: int = 0) -> int:
    """Seed of one test's inputs in one run: the same (exercise, test, run seed) draws the same inputs.

    The run seed's bits are all kept (the batch grader's is a fresh 128-bit secret, so a submission
    cannot search for it); run seeds below 2⁴⁸ give the same inputs as earlier versions.
    """
    return zlib.crc32(f"{exercise_id}/{test_name}".encode()) ^ abs(int(run_seed))


def draw_calls(exercise: Exercise, test: Test, run_seed: int) -> list[Call]:
    """The inputs of one test in the run with ``run_seed`` (one empty call for non-function answers)."""
    if exercise.kind != "function":
        return [Call()]
    return test.cases(np.random.default_rng(case_seed(exercise.id, test.name, run_seed)))


def cell_tags(cell: Any) -> list[str]:
    """The string tags of a notebook cell (a dict or an nbformat node); malformed metadata has none."""
    meta = cell.get("metadata") if isinstance(cell, dict) else None
    tags = meta.get("tags") if isinstance(meta, dict) else None
    return [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []


def chapter_from_filename(name: str, chapters: Iterable[str]) -> str | None:
    """The chapter an ``NN_topic.ipynb`` file name belongs to, if NN is one of ``chapters``."""
    m = re.match(r"(\d\d)_", name)
    return m.group(1) if m and m.group(1) in set(chapters) else None


def describe_error(err: BaseException, limit: int = 300) -> str:
    """``"ValueError: first line of the message"`` (the type alone when the message is empty)."""
    try:
        text = str(err).strip().splitlines()
    except Exception:  # noqa: BLE001 - a hostile exception's __str__ may raise too
        text = []
    first = text[0][:limit] if text else ""
    return f"{type(err).__name__}: {first}" if first else type(err).__name__


def verdict_line(verdict: Verdict, label: str | None = None) -> str:
    """``"✓ label (1/1)"``, or ``"✗ label (0/2): why"``: one test's line in feedback and reports."""
    mark = "✓" if verdict.status == "pass" else "✗"
    head = f"{mark} {label or verdict.test.name} ({verdict.points:g}/{verdict.test.points:g})"
    return head if verdict.status == "pass" else f"{head}: {verdict.message}"


# --------------------------------------------------------------------------- multi-select


def selected_letters(got: Any, n: int) -> set[str]:
    """The letters a select-answer chose: a set, list or tuple of letters, or a string such as "a, c"."""
    letters = "abcdefghijklmnopqrstuvwxyz"[:n]
    if isinstance(got, str):
        items = [c for c in got.replace(",", " ").replace(";", " ").split()]
        items = [c for word in items for c in (word if len(word) > 1 and set(word) <= set(letters + letters.upper())
                                               else [word])]
    elif isinstance(got, (list, tuple)):
        items = list(got)
    else:
        raise Fail(f"the answer should be a set of letters such as {{'a', 'c'}}, got {type(got).__name__}")
    chosen = set()
    for item in items:
        if not isinstance(item, str) or item.strip().strip("()").lower() not in letters:
            raise Fail(f"each choice should be one of the letters {', '.join(letters)}; got {str(item)[:20]!r}")
        chosen.add(item.strip().strip("()").lower())
    return chosen


def select_tests(statements: tuple, points: float, what: str = "true statements", *,
                 groups: tuple[tuple[str, str], ...] = ()) -> tuple[Test, ...]:
    """The tests of a select-exercise: a public check that the answer is a set of listed letters
    (no points, and no hint of which are right, so the notebook's check cannot be used to search),
    and a keyed hidden test worth ``points``: exactly the true statements, and at least one of the
    acceptable alternatives when there are any. The key (``{"answer": the solution's letters,
    "either": letters of which at least one is needed}``) comes from the solution notebook.

    ``groups`` gives partial credit: pairs ``(label, letters)`` that split the statements (every
    letter in exactly one group, for example ``(("team A", "ab"), ("team B", "cde"))``); each group
    is then its own keyed hidden test, worth ``points / len(groups)``, judged exactly on its letters.
    """
    n = len(statements)
    if not all(isinstance(s, Statement) for s in statements):
        raise TypeError("select_tests takes the exercise's Statement objects")
    if not isinstance(points, (int, float)):
        raise TypeError(_KEYS_MOVED.format(what="select_tests"))
    letters = "abcdefghijklmnopqrstuvwxyz"[:n]
    if groups and sorted("".join(g for _, g in groups)) != list(letters):
        raise ValueError(f"groups must split the letters {letters} into disjoint groups, got {groups!r}")

    def well_formed(calls, outs):
        if not selected_letters(outs[0], n):
            raise Fail("choose at least one statement")

    def exact(among: str = letters, label: str = ""):
        def judge(calls, outs, key):
            group = set(among)
            either = set(key.get("either", ())) & group
            true = set(key["answer"]) & group - either
            chosen = selected_letters(outs[0], n)
            picked = chosen & group
            if not chosen or picked & (group - true - either) or true - picked or (either and not picked & either):
                raise Fail(f"not exactly the {what}{label}: reread each statement against your measurements")
        return judge

    if not groups:
        return (Test("a set of letters among the listed statements", 0, well_formed),
                Test(f"exactly the {what}", points, exact(), hidden=True, keyed=True))
    return (Test("a set of letters among the listed statements", 0, well_formed),) + tuple(
        Test(f"exactly the {what} {label}", points / len(groups), exact(among, f" {label}"), hidden=True, keyed=True)
        for label, among in groups)

"""The wrong-answer catalogue (tests/wrong_answers/chNN.py) run through the grading engine.

Every WRONG entry must lose points on every one of :data:`GRADING_SEEDS`, public and hidden tests
together, as the batch grader draws them (``python -m kdbook.grade --seed s`` draws public and hidden
inputs from the same seed); every VALID entry must pass every test on every seed, so that no message
tells a right answer about a bug it does not have. The coverage test asks every graded exercise of
every chapter in the registry for at least two WRONG and one VALID entries. See
tests/wrong_answers/__init__.py for the format.
"""
from __future__ import annotations

import importlib.util
import linecache
import re
import textwrap
from pathlib import Path

import pytest

from _keys import run_all
from kdbook.grading import registry

CATALOGUE = Path(__file__).parent / "wrong_answers"
#: The grading seeds every entry is judged on (the batch grader's ``--seed``).
GRADING_SEEDS = tuple(range(20))
#: A create item's WRONG entries labelled so (the named baseline, a constant design) must score 0 points.
_NOTHING = ("baseline:", "constant:")
#: Errors that mean the catalogue entry itself is broken, not the answer it stands for.
#: A failing message that says only "should be X, got Y" (or adds only the generic "follow the recipe")
#: names no mistake (issue 28, item 2); "should be one of …" lists the allowed answers, which does.
_BARE = re.compile(r"should (be|have) (?!one of ).*, got [^:;]*(; follow the recipe[^:]*)?$")
#: Kinds whose messages must name the mistake a catalogue WRONG entry makes (select and prediction
#: items are judged at grading only, create items by how far a design misses its spec).
_NAMED_KINDS = ("function", "value")
#: WRONG entries whose feedback still only says "should be X, got Y", with why (strict: once the
#: grader names the mistake, the entry must leave this list).
UNNAMED: dict[str, str] = {}
_BROKEN_ENTRY = ("raised NameError", "raised ImportError", "raised ModuleNotFoundError", "raised SyntaxError",
                 "raised IndentationError")


def _load(path: Path) -> tuple[dict, dict]:
    spec = importlib.util.spec_from_file_location(f"_kdbook_wrong_answers_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, "WRONG", {}), getattr(module, "VALID", {})


def _catalogue() -> dict[str, tuple[dict, dict]]:
    """Chapter ("06") → (WRONG, VALID) for every tests/wrong_answers/chNN.py."""
    return {path.stem[2:]: _load(path) for path in sorted(CATALOGUE.glob("ch[0-9][0-9].py"))}


def _graded(ex) -> bool:
    """Whether an exercise earns automatic points (text items do not)."""
    return ex.kind != "text" and ex.points > 0


def _entries():
    for chapter, (wrong, valid) in _catalogue().items():
        for kind, table in (("WRONG", wrong), ("VALID", valid)):
            for exercise_id, answers in table.items():
                for label, source in answers.items():
                    ex = _exercise_or_none(exercise_id)
                    marks = [pytest.mark.slow] if ex is not None and ex.level == "create" else []
                    yield pytest.param(kind, exercise_id, label, source, marks=marks,
                                       id=f"{exercise_id}/{kind}/{label}")


def _exercise_or_none(exercise_id: str):
    try:
        return registry.get(exercise_id)
    except KeyError:
        return None


def answer_namespace(source: str, label: str) -> dict:
    """Execute one catalogue entry in a fresh namespace, its source registered with ``linecache`` so that
    ``inspect.getsource`` finds it (the static checks of ``forbid`` exercises read the answer's source, as
    the batch grader does)."""
    source = textwrap.dedent(source)
    filename = f"<wrong-answer catalogue: {label}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    namespace: dict = {"__name__": "__main__"}
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - the catalogue's own sources
    return namespace


def judge_on_seeds(ex, namespace: dict, seeds=GRADING_SEEDS) -> dict[int, list]:
    """Seed → the verdicts of every test (public and hidden, keyed ones with the instructor's key from
    solutions/) for one answer, as ``kdbook.grading.engine.score`` gives them to the batch grader."""
    return {s: run_all(ex, namespace, seed=s, public_seed=s, timeout=60.0) for s in seeds}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # wrong answers overflow and divide by zero by design
@pytest.mark.parametrize("kind, exercise_id, label, source", list(_entries()))
def test_catalogue_entry(kind, exercise_id, label, source):
    ex = _exercise_or_none(exercise_id)
    assert ex is not None, f"{exercise_id!r} is not an exercise in kdbook.grading.registry"
    namespace = answer_namespace(source, f"{exercise_id}/{kind}/{label}")
    assert ex.name in namespace, f"the entry does not define {ex.name!r}"
    runs = judge_on_seeds(ex, namespace)
    broken = sorted({v.message for verdicts in runs.values() for v in verdicts
                     if any(b in v.message for b in _BROKEN_ENTRY)})
    assert not broken, f"the catalogue entry itself is broken: {broken[:2]}"
    if kind == "WRONG":
        full = [s for s, verdicts in runs.items() if sum(v.points for v in verdicts) >= ex.points]
        assert not full, (f"the wrong answer {label!r} gets full points ({ex.points:g}) on grading seeds {full} "
                          f"of {list(GRADING_SEEDS)}")
        if ex.level == "create" and label.startswith(_NOTHING):
            some = {s: [v.test.name for v in verdicts if v.points] for s, verdicts in runs.items()}
            some = {s: names for s, names in some.items() if names}
            assert not some, (f"the design {label!r} should score nothing, but earns points on grading seeds "
                              f"{sorted(some)} (tests {sorted({n for names in some.values() for n in names})})")
        if ex.kind in _NAMED_KINDS and ex.level != "create":
            _check_named(f"{exercise_id}/{label}", [v.message for v in runs[GRADING_SEEDS[0]] if v.status != "pass"])
    else:
        failed = {s: [f"{v.test.name}: {v.message}" for v in verdicts if v.status != "pass"]
                  for s, verdicts in runs.items()}
        failed = {s: m for s, m in failed.items() if m}
        first = next(iter(failed.items()), None)
        assert not failed, (f"the valid answer {label!r} fails a test on grading seeds {sorted(failed)}; "
                            f"seed {first[0]}: {first[1][:2]}")


def _check_named(entry: str, messages: list[str]) -> None:
    """Issue 28 (item 2): the feedback on a catalogued mistake names it, beyond "should be X, got Y"."""
    named = any(not _BARE.search(m.strip()) for m in messages)
    if entry in UNNAMED:
        assert not named, f"{entry}: its feedback now names the mistake: remove it from UNNAMED ({messages[:1]})"
        pytest.xfail(f"{entry}: {UNNAMED[entry]}")
    assert named, f"{entry}: the feedback does not say what the mistake is: {messages[:2]}"


@pytest.mark.parametrize("chapter", list(registry.CHAPTERS))
def test_every_graded_exercise_has_wrong_and_valid_answers(chapter):
    catalogue = _catalogue()
    assert chapter in catalogue, f"tests/wrong_answers/ch{chapter}.py is missing: every chapter needs a catalogue"
    wrong, valid = catalogue[chapter]
    short = [f"{ex.id} ({len(wrong.get(ex.id, {}))} wrong, {len(valid.get(ex.id, {}))} valid)"
             for ex in registry.chapter_exercises(chapter) if _graded(ex)
             and (len(wrong.get(ex.id, {})) < 2 or len(valid.get(ex.id, {})) < 1)]
    assert not short, f"chapter {chapter} needs >= 2 wrong and >= 1 valid answers for: {', '.join(short)}"
    unknown = [i for i in {**wrong, **valid} if _exercise_or_none(i) is None or not i.startswith(chapter)]
    assert not unknown, f"tests/wrong_answers/ch{chapter}.py names exercises not in chapter {chapter}: {unknown}"


def test_a_catalogue_entry_that_passes_is_reported():
    # The runner itself: the solution's own kl_scratch, filed as a wrong answer, gets full points.
    ex = registry.get("02.kl_scratch")
    ns = answer_namespace('''
import numpy as np
def kl_scratch(p, q):
    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(p > 0, p * (np.log(p) - np.log(q)), 0.0).sum(axis=-1)
''', "runner self-test")
    runs = judge_on_seeds(ex, ns, seeds=(0, 1))
    assert all(sum(v.points for v in verdicts) == ex.points for verdicts in runs.values())
    ns = answer_namespace("import scipy.special\ndef kl_scratch(p, q):\n    return scipy.special.rel_entr(p, q).sum(-1)\n",
                          "runner self-test: static check")
    verdicts = judge_on_seeds(ex, ns, seeds=(0,))[0]
    assert all("scipy" in v.message for v in verdicts), "the source must reach the grader's static check"

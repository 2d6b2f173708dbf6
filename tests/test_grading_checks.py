"""In-process tests of the exercise checks: solutions pass every test on many draws, trivial stubs
score 0 on every test, and ``kdbook.grading.check`` never raises and says what is wrong."""
from __future__ import annotations

import io
from contextlib import redirect_stdout
from pathlib import Path

import nbformat
import numpy as np
import pytest

import kdbook
from kdbook import grading
from _keys import run_all
from kdbook.grading import registry, run_tests

ROOT = Path(__file__).resolve().parents[1]
EXERCISES = registry.all_exercises()


def _namespace(folder: str, chapter: str) -> dict:
    """Run a notebook's code cells (not its check cells) in a fresh namespace, as the grader would."""
    path = next((ROOT / folder).glob(f"{chapter}_*.ipynb"))
    ns: dict = {"__name__": "__main__"}
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "code" and "check" not in cell.metadata.get("tags", []):
            exec(compile(cell.source, str(path), "exec"), ns)
    return ns


@pytest.fixture(scope="module")
def solved():
    return {ch: _namespace("solutions", ch) for ch in {ex.chapter for ex in EXERCISES}}


@pytest.fixture(scope="module")
def untouched():
    return {ch: _namespace("exercises", ch) for ch in {ex.chapter for ex in EXERCISES}}


def _uniform(*args, **kwargs):
    x = np.asarray(args[0], dtype=float)
    return np.full_like(x, 1.0 / x.shape[-1]) if x.ndim else 1.0


TRIVIAL = {
    "return 0": lambda *a, **k: 0,
    "return None": lambda *a, **k: None,
    "return the input": lambda *a, **k: a[0],
    "return a uniform distribution": _uniform,
}


def test_registry_has_3_to_10_exercises_per_chapter_across_bloom_levels():
    ids = [ex.id for ex in EXERCISES]
    assert len(ids) == len(set(ids))
    for chapter in registry.CHAPTERS:
        exercises = registry.chapter_exercises(chapter)
        if not exercises:
            continue
        assert 3 <= len(exercises) <= 10, chapter
        levels = {ex.level for ex in exercises}
        assert len(levels) >= 2 and levels & {"analyse", "evaluate"}, (chapter, levels)
        for ex in exercises:
            assert ex.hint and ex.points > 0 and ex.chapter == chapter
            # a claim, a prediction or a labelled value (and a decision that comes with reasoning) is judged
            # only at grading, so that repeated checks cannot find it
            assert ex.public_points > 0 or ex.kind in ("select", "prediction", "value") or ex.reasoning, ex.id


def test_every_answer_cell_is_tagged_once_in_its_solution_notebook():
    for chapter in registry.CHAPTERS:
        exercises = registry.chapter_exercises(chapter)
        if not exercises:
            continue
        nb = nbformat.read(next((ROOT / "solutions").glob(f"{chapter}_*.ipynb")), as_version=4)
        for ex in exercises:
            tagged = [c for c in nb.cells if ex.id in c.metadata.get("tags", [])]
            assert len(tagged) == 1 and "### BEGIN SOLUTION" in tagged[0].source, ex.id
            checks = [c for c in nb.cells if f'kdbook.grading.check("{ex.id}")' in c.source]
            assert len(checks) == 1, ex.id


@pytest.mark.parametrize("ex", [pytest.param(ex, marks=[pytest.mark.slow] if ex.level == "create" else [])
                                for ex in EXERCISES], ids=lambda ex: ex.id)
def test_solution_passes_every_test_on_many_draws(ex, solved):
    for seed in range(1, 6):
        for v in run_all(ex, solved[ex.chapter], seed=seed):
            assert v.status == "pass", f"{ex.id} / {v.test.name} (seed {seed}): {v.message}"


@pytest.mark.parametrize("ex", [ex for ex in EXERCISES if ex.kind == "function"], ids=lambda ex: ex.id)
@pytest.mark.parametrize("stub", TRIVIAL, ids=list(TRIVIAL))
def test_trivial_stub_scores_zero_on_every_test(ex, stub):
    verdicts = run_all(ex, {ex.name: TRIVIAL[stub]}, seed=3)
    assert len(verdicts) == len(ex.tests)
    for v in verdicts:
        assert v.points == 0, f"{ex.id}: the stub '{stub}' passed '{v.test.name}'"


@pytest.mark.parametrize("ex", [ex for ex in EXERCISES if ex.kind != "function"], ids=lambda ex: ex.id)
@pytest.mark.parametrize("value", [0, None, 0.5, "", "I do not know.", (0.0, 0.0)])
def test_trivial_value_or_text_scores_zero(ex, value):
    for v in run_all(ex, {ex.name: value}, seed=3):
        assert v.points == 0, f"{ex.id}: {value!r} passed '{v.test.name}'"


@pytest.mark.parametrize("ex", EXERCISES, ids=lambda ex: ex.id)
def test_untouched_stub_reports_not_attempted(ex, untouched):
    ns = untouched[ex.chapter]
    verdicts = run_all(ex, ns, seed=1)
    assert {v.status for v in verdicts} == {"not attempted"}
    text = io.StringIO()
    with redirect_stdout(text):
        grading.check(ex.id, namespace=ns)
    hidden = f"{ex.hidden_points:g} more point" if ex.hidden_points else "No hidden tests"
    if not ex.public_points:  # select and prediction items: every point is decided at grading
        hidden = f"{ex.hidden_points:g} point"
    said = " ".join(text.getvalue().split())  # wrapped at 100 characters
    assert "Not attempted yet" in said and hidden in said and "0/0" not in said


def _check(exercise_id: str, **ns) -> str:
    out = io.StringIO()
    with redirect_stdout(out):
        assert grading.check(exercise_id, namespace=ns) is None
    return out.getvalue()


def test_check_gives_specific_messages():
    assert "KL(p‖p) should be 0, got 0.1204" in _check("02.kl_scratch", kl_scratch=lambda p, q: 0.1204)
    def naive_kl(p, q):
        with np.errstate(divide="ignore", invalid="ignore"):
            return (p * np.log(p / q)).sum(-1)

    no_zero_safety = _check("02.kl_scratch", kl_scratch=naive_kl)
    assert "gave nan where p has zeros" in no_zero_safety
    assert "is not defined" in _check("02.kl_scratch")
    assert "did you forget `return`" in _check("03.softmax_t", softmax_T=lambda z, T=1.0: None)
    assert "one of the letters a, b, c" in _check("02.asymmetry_why", why_infinite_claims={"b", "z"})
    assert "(8 words) is read by your instructor" in _check("02.asymmetry_why", why_infinite_claims={"b"},
                                                             why_infinite="It is infinite because maths says so here.")
    assert "Stuck? kdbook.grading.hint('02.kl_scratch')" in _check("02.kl_scratch", kl_scratch=lambda p, q: 0.0)


class _Hostile:
    def __call__(self, *a, **k):
        raise SystemExit(3)

    def __array__(self, *a, **k):
        raise RuntimeError("no")


@pytest.mark.parametrize("obj", [_Hostile(), "text", 42, lambda: 1, lambda p, q: _Hostile(), lambda *a: "x" * 10**6,
                                 lambda *a: [[1, 2], [3]], lambda *a: {"a": 1}, lambda *a: np.array(["a"])])
def test_check_never_raises(obj):
    for ex_id in ("02.kl_scratch", "02.asymmetry", "02.asymmetry_why"):
        out = _check(ex_id, **{registry.get(ex_id).name: obj})
        assert "✗" in out or "should" in out or "raised" in out, out


def test_check_and_hint_handle_unknown_ids():
    assert "no exercise '02.nope'" in _check("02.nope")
    out = io.StringIO()
    with redirect_stdout(out):
        grading.hint("02.kl_scratch")
        grading.hint("99.x")
        grading.scoreboard("99")
    text = " ".join(out.getvalue().split())  # wrapped at 100 characters
    assert " ".join(registry.get("02.kl_scratch").hint.split()) in text and "no exercise '99.x'" in text and "no exercises for" in text


def test_forbidden_functions_are_restored_after_a_check():
    original = kdbook.kl_divergence
    _check("02.kl_scratch", kl_scratch=lambda p, q: kdbook.kl_divergence(p, q))
    assert kdbook.kl_divergence is original and kdbook.divergences.kl_divergence is original


def test_scoreboard_sums_public_points(solved):
    out = io.StringIO()
    with redirect_stdout(out):
        grading.scoreboard("02", namespace=solved["02"])
    public = sum(ex.public_points for ex in registry.chapter_exercises("02"))
    assert f"{public:g}/{public:g}" in out.getvalue()


def test_an_endless_answer_fails_its_test_instead_of_hanging_the_notebook():
    def endless(p, q):
        while True:
            pass

    verdicts = run_tests(registry.get("02.kl_scratch"), {"kl_scratch": endless}, timeout=0.2)
    assert [v.status for v in verdicts] == ["fail"] * 3
    assert all("did not finish within 0.2 s" in v.message for v in verdicts)


def test_the_guard_does_not_leak_into_a_module_first_imported_under_it(tmp_path, monkeypatch):
    # A module imported for the first time while the guard is on binds kd_loss_and_grad by name, as
    # kdbook.train does; after the check it must hold the real function again.
    (tmp_path / "late_import_mod.py").write_text(
        "from kdbook.losses import kd_loss_and_grad, kd_loss\n\ndef helper(z, v, T):\n    return kd_loss(z, v, T=T)\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    def kd_loss_fixed(z, v, T):
        import late_import_mod

        return late_import_mod.helper(z, v, T)

    out = _check("04.fix_the_bug", kd_loss_fixed=kd_loss_fixed)
    assert "off-limits" in out
    import late_import_mod

    assert late_import_mod.kd_loss_and_grad is kdbook.losses.kd_loss_and_grad
    assert late_import_mod.kd_loss is kdbook.kd_loss
    z = np.zeros((2, 3))
    assert np.isfinite(late_import_mod.kd_loss_and_grad(z, z, T=2.0)[0])


def test_the_static_check_names_the_tricks_round_the_guard():
    def kl_scratch(p, q):
        import kdbook as k
        return getattr(k, "kl_" + "divergence")(p, q)

    out = _check("02.kl_scratch", kl_scratch=kl_scratch)
    assert "your code uses getattr" in out and "0/1" in out


@pytest.mark.parametrize("where", ["emscripten", "thread"])
def test_check_degrades_to_no_time_limit_without_sigalrm(where, monkeypatch, solved):
    import threading

    outputs = []
    if where == "emscripten":
        monkeypatch.setattr("sys.platform", "emscripten")
        outputs.append(_check("02.kl_scratch", **solved["02"]))
    else:
        thread = threading.Thread(target=lambda: outputs.append(_check("02.kl_scratch", **solved["02"])))
        thread.start()
        thread.join(60)
    assert "All public tests pass" in outputs[0] and "No time limit here" in outputs[0], outputs


def test_a_float32_answer_is_judged_with_float32_tolerance():
    def kl_contributions(p, q):
        p32, q32 = np.asarray(p, np.float32), np.asarray(q, np.float32)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(p32 > 0, p32 * (np.log(p32) - np.log(q32)), np.float32(0))

    verdicts = run_all(registry.get("01.kl_contributions"), {"kl_contributions": kl_contributions}, seed=2)
    assert all(v.status == "pass" for v in verdicts), [v.message for v in verdicts]
    # Still wrong is wrong, and the message shows enough digits to see the difference.
    off = run_tests(registry.get("01.kl_contributions"), {"kl_contributions": lambda p, q: kl_contributions(p, q) * 1.001})
    assert off[0].status == "fail" and "should be" in off[0].message
    want, got = off[0].message.split("should be ")[1].split(", got ")
    assert want != got.split(":")[0]


def test_chapter_modules_written_against_the_older_api_still_import():
    # Other chapters are written against the names of the first version: they must keep working.
    from kdbook.grading._core import (Call, Exercise, Fail, Test, as_array, case_seed, expect_close,  # noqa: F401
                                      factor_suspects)
    from kdbook.grading._text import key_facts, says  # noqa: F401

    old = Exercise("09.old", "Old", "f", "function", "implement", "h", (Test("t", 1, lambda c, o: None),))
    assert old.level == "apply"
    assert Exercise("09.v", "V", "v", "value", "compute", "h", (Test("t", 1, lambda c, o: None),)).level == "apply"


def test_the_unbatched_pair_of_the_hidden_kl_test_is_really_unbatched():
    from kdbook.grading.spec import draw_calls

    ex = registry.get("02.kl_scratch")
    test = next(t for t in ex.tests if "unbatched pair" in t.name)
    batch, pair = draw_calls(ex, test, 5)
    assert batch.args[0].ndim == 3 and pair.args[0].ndim == pair.args[1].ndim == 1

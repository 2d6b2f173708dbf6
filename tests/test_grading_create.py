"""Predict-before-you-run and create items: the reference designs earn full marks on many hidden
draws, the named baselines and tempting half-designs do not, predictions are judged exactly and
never revealed, and every predicted outcome is recomputed here independently (scipy, own numpy)."""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import numpy as np
import pytest
import scipy.special
import scipy.stats

from _keys import run_all
from kdbook.grading import registry, run_tests
from test_grading_checks import _namespace  # runs a notebook's code cells, as the grader would

ROOT = Path(__file__).resolve().parents[1]
CREATE = [ex for ex in registry.all_exercises() if ex.level == "create"]
PREDICT = [ex for ex in registry.all_exercises() if ex.kind == "prediction"]
SEEDS = range(1, 26)


@pytest.fixture(scope="module")
def solved():
    return {ch: _namespace("solutions", ch) for ch in sorted({ex.chapter for ex in CREATE})}


def _points(ex, answer, seed=1, only_hidden=False) -> float:
    return sum(v.points for v in run_all(ex, {ex.name: answer}, seed=seed)
               if v.test.hidden or not only_hidden)


def test_every_chapter_has_a_create_item_and_a_prediction():
    for chapter in registry.CHAPTERS:
        kinds = {(ex.level, ex.kind) for ex in registry.chapter_exercises(chapter)}
        assert ("create", "function") in kinds and ("understand", "prediction") in kinds, chapter


# --------------------------------------------------------------------------- create items


@pytest.mark.parametrize("ex", CREATE, ids=lambda ex: ex.id)
def test_the_reference_design_scores_full_marks_on_25_hidden_seeds(ex, solved):
    design = solved[ex.chapter][ex.name]
    for seed in SEEDS:
        verdicts = run_all(ex, {ex.name: design}, seed=seed)
        assert sum(v.points for v in verdicts) == ex.points, (seed, [v.message for v in verdicts])


def test_ch01_the_baseline_and_other_capped_students_score_zero():
    from kdbook.grading.ch01 import spread_evenly

    ex = registry.get("01.capped_student")
    uniform = lambda p, cap: np.full(len(p), 1 / len(p))  # noqa: E731 - obeys the cap, far from p
    clip_renormalise = lambda p, cap: np.minimum(p, cap) / np.minimum(p, cap).sum()  # noqa: E731 - breaks the cap
    for design in (spread_evenly, uniform, clip_renormalise):
        for seed in (1, 2, 3):
            assert _points(ex, design, seed) == 0, design


def test_ch01_the_best_capped_student_is_optimal_by_an_independent_search():
    # Independent check of the grader's yardstick: no random capped student beats best_capped.
    from kdbook.grading.ch01 import best_capped

    rng = np.random.default_rng(0)
    p, cap = np.array([0.55, 0.25, 0.12, 0.05, 0.03]), 0.4
    best = scipy.stats.entropy(p, best_capped(p, cap))
    tries = rng.dirichlet(np.ones(5), size=20000)
    tries = tries[(tries <= cap).all(axis=1)]
    assert len(tries) > 1000
    assert (scipy.stats.entropy(p[:, None], tries.T) >= best - 1e-12).all()


def test_ch02_a_threshold_on_one_divergence_does_not_pass_the_hidden_pairs():
    from kdbook.grading.ch02 import collapse_pairs

    ex = registry.get("02.flag_collapse")
    rows = [(scipy.stats.entropy(p, q), scipy.stats.entropy(q, p), c)
            for p, q, c in collapse_pairs(np.random.default_rng(0), 4000)]
    fwd, rev, label = (np.array(x) for x in zip(*rows))
    for values in (fwd, rev):  # the best threshold in either direction, fitted on 4000 labelled pairs
        cuts = np.quantile(values, np.linspace(0.01, 0.99, 99))
        accuracy = [max(((values > c) == label).mean(), ((values <= c) == label).mean()) for c in cuts]
        assert max(accuracy) < 0.8
        cut = cuts[int(np.argmax(accuracy))]
        sign = ((values > cut) == label).mean() >= 0.5
        is_fwd = values is fwd

        def rule(p, q, cut=cut, sign=sign, is_fwd=is_fwd):
            d = scipy.stats.entropy(p, q) if is_fwd else scipy.stats.entropy(q, p)
            return bool(d > cut) if sign else bool(d <= cut)

        for seed in SEEDS:
            assert _points(ex, rule, seed, only_hidden=True) == 0, seed
    assert _points(ex, lambda p, q: True) == 0 and _points(ex, lambda p, q: False) == 0


def test_ch02_the_labels_are_the_construction_and_the_asymmetry_separates_them():
    from kdbook.grading.ch02 import _collapsed, collapse_pairs

    pairs = collapse_pairs(np.random.default_rng(5), 4000)
    assert sum(c for *_, c in pairs) == 2000
    ratio = np.array([scipy.stats.entropy(p, q) / scipy.stats.entropy(q, p) for p, q, _ in pairs])
    label = np.array([c for *_, c in pairs])
    assert all(_collapsed(p, q) == c for p, q, c in pairs)
    assert ratio[label].min() > 1.05 and ratio[~label].max() < 0.97  # a margin on both sides of 1


def test_ch03_label_smoothing_and_a_one_sided_design_score_zero():
    from kdbook.grading.ch03 import smoothed_to_entropy

    ex = registry.get("03.soft_targets")
    smoothing = lambda v, bits: smoothed_to_entropy(scipy.special.softmax(v), bits)  # noqa: E731
    for seed in (1, 2, 3):
        assert _points(ex, smoothing, seed) == 0
    # The tempered softmax is the closest distribution of a given entropy in KL(q‖p): no random
    # distribution of (nearly) the same entropy is closer (independent check of the grader's yardstick).
    from kdbook.grading.ch03 import _tempered_to_entropy

    rng = np.random.default_rng(1)
    v = np.array([2.0, 1.0, 0.3, -0.5, -1.0])
    p = scipy.special.softmax(v)
    tries = rng.dirichlet(np.full(5, 2.0), size=50000)
    h = scipy.stats.entropy(tries.T, base=2)
    near = tries[np.abs(h - 2.0) < 0.002]
    best = scipy.stats.entropy(_tempered_to_entropy(v, 2.0), p)
    assert len(near) > 100 and (scipy.stats.entropy(near.T, p[:, None]) >= best - 1e-4).all()


def _np_softmax(z, T):
    return scipy.special.softmax(np.asarray(z, dtype=float) / T, axis=-1)


def test_ch04_the_standard_loss_and_an_unscaled_js_fail_where_they_should():
    ex = registry.get("04.symmetric_kd")

    def standard(z, v, T):  # asymmetric
        p, q = _np_softmax(v, T), _np_softmax(z, T)
        return T**2 * scipy.stats.entropy(p.T, q.T).mean(), T * (q - p) / len(z)

    def unscaled_js(z, v, T):  # symmetric and exact, but a quarter of the standard gradient at high T
        p, q = _np_softmax(v, T), _np_softmax(z, T)
        m = (p + q) / 2
        js = 0.5 * scipy.stats.entropy(p.T, m.T) + 0.5 * scipy.stats.entropy(q.T, m.T)
        g = 0.5 * np.log(q / m)
        return T**2 * js.mean(), T * q * (g - (q * g).sum(-1, keepdims=True)) / len(z)

    def zero(z, v, T):
        return 0.0, np.zeros_like(np.asarray(z, dtype=float))

    assert _points(ex, standard) == 0 and _points(ex, zero) == 0
    for seed in (1, 2):
        verdicts = run_all(ex, {ex.name: unscaled_js}, seed=seed)
        assert [v.status for v in verdicts] == ["pass", "pass", "fail"], [v.message for v in verdicts]
        assert "0.25" in verdicts[2].message or "0.24" in verdicts[2].message


def test_ch04_a_loss_whose_gradient_is_not_its_own_fails_the_finite_difference_check():
    ex = registry.get("04.symmetric_kd")

    def inconsistent(z, v, T):  # a symmetric value with the standard (asymmetric) gradient
        p, q = _np_softmax(v, T), _np_softmax(z, T)
        return 0.5 * T**2 * (scipy.stats.entropy(p.T, q.T) + scipy.stats.entropy(q.T, p.T)).mean(), T * (q - p) / len(z)

    messages = [v.message for v in run_all(ex, {ex.name: inconsistent}, seed=1)]
    assert all("not the gradient of the loss you return" in m for m in messages), messages


def test_ch05_the_baseline_recipe_and_malformed_recipes_score_zero():
    from kdbook.grading.ch05 import BASELINE_RECIPE, STEP_BUDGET

    ex = registry.get("05.recipe")
    assert _points(ex, lambda X, v: list(BASELINE_RECIPE)) == 0
    over = lambda X, v: [(1.0, 0.1, STEP_BUDGET), (1.0, 0.01, 1)]  # noqa: E731
    assert "the budget is 150" in run_tests(ex, {ex.name: over})[0].message
    for bad in ([(1.0, 0.1)], [(1.0, 0.1, 2.5)], [(0.0, 0.1, 100)], [(1.0, -0.1, 100)], "fast", []):
        assert _points(ex, lambda X, v, bad=bad: bad) == 0, bad


# --------------------------------------------------------------------------- predictions

ANSWERS = {"01.predict_shuffled": "c", "02.predict_direction": "c", "03.predict_doubled": "b",
           "04.predict_grad_sum": "a", "05.predict_objective": "a", "06.predict_stored_kl": "b",
           "07.predict_baseline": "b", "08.predict_neutral": "b", "09.predict_shortcut": "b"}
#: How many outcomes each prediction lists (lettered a, b, …).
OPTIONS = {"01.predict_shuffled": 3, "02.predict_direction": 4, "03.predict_doubled": 4, "04.predict_grad_sum": 4,
           "05.predict_objective": 3, "06.predict_stored_kl": 4, "07.predict_baseline": 4,
           "08.predict_neutral": 3, "09.predict_shortcut": 4}


@pytest.mark.parametrize("ex", PREDICT, ids=lambda ex: ex.id)
def test_a_prediction_is_judged_exactly_and_a_wrong_one_learns_nothing_from_the_message(ex):
    right = ANSWERS[ex.id]
    n = OPTIONS[ex.id]
    assert ex.public_points == 0 and ex.hidden_points == 1
    for spelling in (right, right.upper(), f" {right} ", f"({right})", {right}, [right]):
        assert _points(ex, spelling) == 1, spelling
    messages = set()
    for wrong in "abcd"[:n]:
        if wrong != right:
            verdicts = run_all(ex, {ex.name: wrong}, seed=1)
            assert [v.points for v in verdicts] == [0, 0] and verdicts[0].status == "pass"
            messages.add(verdicts[1].message)
    assert len(messages) == 1, messages  # every wrong letter gets the same message
    for answer in ("a, b", "abc", "e", "", None, 3):
        assert _points(ex, answer) == 0, answer
    # The public check cannot be used to search: it passes the wrong letters as well.
    assert all(run_tests(ex, {ex.name: w}, public_seed=0)[0].status == "pass" for w in "abcd"[:n])


def test_outcome_01_the_shuffled_student_is_farther_than_student_a():
    from kdbook.grading.ch01 import STUDENT_A, STUDENT_C, TEACHER

    assert sorted(STUDENT_C) == sorted(TEACHER)
    assert scipy.stats.entropy(TEACHER, STUDENT_C) > scipy.stats.entropy(TEACHER, STUDENT_A) > 0  # "c"


def test_outcome_02_forward_prefers_broad_and_reverse_prefers_narrow():
    from kdbook.grading.ch02 import BIMODAL, BROAD, NARROW

    kl = scipy.stats.entropy
    assert kl(BIMODAL, BROAD) < kl(BIMODAL, NARROW) and kl(NARROW, BIMODAL) < kl(BROAD, BIMODAL)  # "c"


def test_outcome_03_doubling_the_logits_halves_the_temperature():
    rng = np.random.default_rng(3)
    for _ in range(20):
        z, T = rng.normal(0, 2, 6), rng.uniform(0.3, 5)
        doubled = _np_softmax(2 * z, T)
        assert np.allclose(doubled, _np_softmax(z, T / 2))  # "b"
        assert not np.allclose(doubled, _np_softmax(z, 2 * T)) and not np.allclose(doubled, _np_softmax(z, T))


def test_outcome_04_every_row_of_the_soft_gradient_sums_to_zero():
    import kdbook

    rng = np.random.default_rng(4)
    for T in (0.5, 1.0, 4.0, 20.0):
        z, v = rng.normal(0, 3, (5, 7)), rng.normal(0, 3, (5, 7))
        _, grad = kdbook.kd_loss_and_grad(z, v, T=T)
        assert np.allclose(grad.sum(axis=1), 0.0, atol=1e-12)  # "a"
        # independently: the loss does not change when a row's logits all move together
        p = _np_softmax(v, T)
        loss = lambda zz: T**2 * scipy.stats.entropy(p.T, _np_softmax(zz, T).T).mean()  # noqa: E731
        shift = np.zeros_like(z)
        shift[2] = 1e-3
        assert abs(loss(z + shift) - loss(z)) < 1e-12


def test_outcome_05_the_student_trained_at_t1_is_closer_at_t1_on_every_seed():
    import kdbook.classify.data as kd
    from kdbook.classify.models import MLP
    from kdbook.train import train

    X, y = kd.spirals(800, n_classes=3, noise=0.08, seed=0)
    X_train, _, y_train, _ = kd.train_test_split(X, y, test_fraction=0.5, seed=0)
    X_fit, X_val, y_fit, _ = kd.train_test_split(X_train, y_train, test_fraction=0.5, seed=1)
    teacher = MLP([2, 64, 64, 3], seed=0)
    train(teacher, X_fit, y_fit, epochs=400, lr=0.01)
    v_fit, p_val = teacher.logits(X_fit), scipy.special.softmax(teacher.logits(X_val), axis=1)
    for seed in (0, 1, 2):
        kl = []
        for T in (1.0, 8.0):
            student = MLP([2, 8, 3], seed=seed)
            train(student, X_fit, teacher_logits=v_fit, T=T, epochs=300, lr=0.02)
            kl.append(scipy.stats.entropy(p_val.T, scipy.special.softmax(student.logits(X_val), axis=1).T).mean())
        assert kl[0] < 0.8 * kl[1], (seed, kl)  # "a", with a margin on every seed


def test_every_prediction_lists_its_outcomes_in_its_solution_notebook():
    for ex in PREDICT:
        nb = nbformat.read(next((ROOT / "solutions").glob(f"{ex.chapter}_*.ipynb")), as_version=4)
        text = next(c.source for c in nb.cells if c.cell_type == "markdown" and f"id `{ex.id}`" in c.source)
        letters = [x for x in "abcdefgh" if f"- **{x})** " in text]
        assert letters == list("abcdefgh"[:OPTIONS[ex.id]]), ex.id


def _np_kl(p, q):
    return float(scipy.special.rel_entr(p, q).sum())  # inf where p > 0 = q


def test_outcome_06_a_renormalised_top_k_teacher_is_finite_one_way_and_infinite_for_any_student():
    from kdbook.lm import ToyLanguage

    lang = ToyLanguage()
    batch = lang.sample(200, seed=6)
    lp = lang.logits(batch.inputs)[batch.mask]  # exact teacher log-probabilities at 1,400-odd positions
    p = scipy.special.softmax(lp, axis=1)
    assert (p > 0).all()  # the language's floor: every token possible
    rng = np.random.default_rng(6)
    for k in (1, 5, 20, 50):
        top = np.argsort(-p, axis=1, kind="stable")[:, :k]
        stored = np.zeros_like(p)
        np.put_along_axis(stored, top, np.take_along_axis(p, top, axis=1), axis=1)
        stored /= stored.sum(axis=1, keepdims=True)  # renormalised: 0 outside the top k
        for i in range(0, len(p), 50):
            kept = np.take_along_axis(p[i], top[i], axis=0).sum()
            assert np.isclose(_np_kl(stored[i], p[i]), -np.log(kept))  # finite: −log of the kept mass
            q = scipy.special.softmax(rng.normal(0, 3, p.shape[1]))  # any student's softmax
            assert _np_kl(q, stored[i]) == np.inf  # "b"
    # the example the exercise prints: after "the big dog", top 5, the student = the teacher at T = 2
    lp0 = lang.next_logprobs(lang.prefixes(["the big dog"]))[0]
    p0 = np.exp(lp0)
    top = np.argsort(-p0, kind="stable")[:5]
    stored = np.where(np.isin(np.arange(len(p0)), top), p0, 0.0) / p0[top].sum()
    assert np.isfinite(_np_kl(stored, p0)) and _np_kl(scipy.special.softmax(lp0 / 2), stored) == np.inf


def test_outcome_08_the_model_moves_with_the_prompt_where_the_language_does_not():
    from kdbook.lm.context import prefix_rows, train_original
    from kdbook.grading import ch08

    lang, _ = ch08.original_model()
    neutral, prompted = ch08.NEUTRAL_PREFIX, ch08.PROMPT_PREFIX
    c = ("brief", "polite")

    def kl_with_and_without(logprobs, prefix):
        rows = [prefix_rows(lang, [prefix], context=ctx) for ctx in (c, None)]
        with_c, without = (scipy.special.softmax(logprobs(r)[0]) for r in rows)
        return _np_kl(with_c, without)

    # the exact language: the prompt does not matter before the verb, and does after a verb phrase
    assert abs(kl_with_and_without(lang.next_logprobs, neutral)) < 1e-9
    assert kl_with_and_without(lang.next_logprobs, prompted) > 0.3
    # the model (seed 0 is the one the exercise reads; seeds 1 and 2: not a fluke of one training run)
    for seed in (0, 1, 2):
        model = ch08.original_model()[1] if seed == 0 else train_original(lang, seed=seed)
        at_neutral = kl_with_and_without(model.next_logprobs, neutral)
        at_prompted = kl_with_and_without(model.next_logprobs, prompted)
        assert 1e-3 < at_neutral < 0.5 * at_prompted, (seed, at_neutral, at_prompted)  # "b", with margins


def test_the_untouched_exercise_notebooks_do_not_show_the_outcome_before_a_prediction():
    for ex in PREDICT:
        nb = nbformat.read(next((ROOT / "exercises").glob(f"{ex.chapter}_*.ipynb")), as_version=4)
        cells = nb.cells
        k = next(i for i, c in enumerate(cells) if ex.id in c.metadata.get("tags", []))
        reveal = cells[k + 2]
        assert f"{ex.name} is ..." in reveal.source
        text = "".join(o.get("text", "") for o in reveal.outputs)
        assert text.strip() == "Commit your prediction in the answer cell above first, then run this cell.", ex.id


@pytest.mark.parametrize("exercise_id, answer, method_words", [
    ("01.capped_student", "spread_evenly", ["proportion", "c·p", "Lagrange", "min(cap"]),
    ("03.soft_targets", "smoothing", ["temperature", "softmax", "p^", "Lagrange"]),
    ("05.recipe", "baseline", ["lr", "learning rate", "0.05", "stage"]),
])
def test_a_create_item_says_how_far_off_a_design_is_but_not_which_design_wins(exercise_id, answer, method_words):
    from kdbook.grading.ch01 import spread_evenly
    from kdbook.grading.ch03 import smoothed_to_entropy
    from kdbook.grading.ch05 import BASELINE_RECIPE

    design = {"spread_evenly": spread_evenly,
              "smoothing": lambda v, bits: smoothed_to_entropy(scipy.special.softmax(v), bits),
              "baseline": lambda X, v: list(BASELINE_RECIPE)}[answer]
    ex = registry.get(exercise_id)
    for public_seed in range(40):  # public inputs are drawn per check: try many draws, not one
        messages = [v.message for v in run_all(ex, {ex.name: design}, seed=2, public_seed=public_seed)]
        assert all(any(ch.isdigit() for ch in m) for m in messages), messages  # the numbers are there
        for word in method_words:
            # A number such as 0.05 (a learning rate) must not be named; a KL of 0.0528 is not that number.
            pattern = rf"(?<![\d.]){re.escape(word)}(?!\d)" if word[0].isdigit() else re.escape(word)
            assert not any(re.search(pattern, m) for m in messages), (word, public_seed, messages)

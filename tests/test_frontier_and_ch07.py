"""Chapter 7: the β explorer's state and figure, the chapter's plots, and the exercise checks' diagnoses."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import ipywidgets as widgets  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import kdbook  # noqa: E402
from kdbook.lm.frontier import (BETA_OBJECTIVES, SweepResult, beta_label, frontier_state)  # noqa: E402
from _keys import run_all  # noqa: E402
from kdbook.grading import registry, run_tests  # noqa: E402
from kdbook.grading.ch07 import reinforce_reference  # noqa: E402

_reference = reinforce_reference  # 07.reinforce forbids the name itself in an answer's source
from kdbook.lm.language import ToyLanguage  # noqa: E402
from kdbook.lm import WindowLM  # noqa: E402
from kdbook.plotting.generation import plot_estimator_error, plot_frontier, plot_position_kl  # noqa: E402
from kdbook.widgets.frontier import frontier_explorer, plot_frontier_state  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def lang():
    return ToyLanguage()


@pytest.fixture(scope="module")
def sweep(lang):
    """A sweep built by hand (untrained students, made-up scores): the state function only reads it."""
    labels = tuple(beta_label(b) for b in BETA_OBJECTIVES)
    scores = {lab: np.array([[-3.0 + 0.1 * i, -1.9 - 0.05 * i, 1.9, 0.16], [-2.9 + 0.1 * i, -1.92 - 0.05 * i, 1.8, 0.15]])
              for i, lab in enumerate(labels)}
    students = {lab: [WindowLM(lang, window=2, dim=4, hidden=8, seed=i)] for i, lab in enumerate(labels)}
    return SweepResult(labels, (0, 1), scores, students)


def test_state_reads_the_sweep(lang, sweep):
    s = frontier_state(sweep, 0.5, teacher=lang, prefix="the dog")
    assert s.label == "β = 0.5" and s.path[0] == "β = 0 (forward KL)" and s.path[-1] == "β = 1 (reverse KL)"
    cov, qual, cov_sd, qual_sd = s.points["β = 0.5"]
    assert (cov, qual) == pytest.approx((np.mean([-2.0, -2.02]), np.mean([-2.8, -2.7])))
    assert qual_sd == pytest.approx(np.std([-2.8, -2.7], ddof=1))
    p = np.exp(lang.next_logprobs(lang.vocab.batch(["the dog"]).inputs))[0]
    top = np.argsort(-p, kind="stable")[:8]
    np.testing.assert_allclose(s.next_token["teacher"][:8], p[top])
    assert s.next_token["teacher"].sum() == pytest.approx(1.0) and s.next_token["β = 0.5"].sum() == pytest.approx(1.0)
    assert s.words[:3] == ("chases", "eats", "sleeps") and s.words[-1] == "other"
    assert len(s.sentences) == 4


def test_state_refuses_unswept_beta_and_bad_prefix(lang, sweep):
    with pytest.raises(ValueError, match="beta must be one of"):
        frontier_state(sweep, 0.3, teacher=lang, prefix="the dog")
    with pytest.raises(ValueError, match="outside the vocabulary"):
        frontier_state(sweep, 0.5, teacher=lang, prefix="the unicorn")


def test_figure_and_widget(lang, sweep):
    res = plot_frontier_state(frontier_state(sweep, 1.0, teacher=lang, prefix="the dog"))
    assert res.artists["frontier"].artists["highlight"] is not None
    assert "the student writes" in res.artists["sentences"].get_text()
    box = frontier_explorer(sweep, teacher=lang, prefix="the dog", beta=0.9)
    slider = box.children[0]
    assert isinstance(slider, widgets.SelectionSlider) and slider.value == 0.9
    slider.value = 0.1  # a redraw must not raise
    with pytest.raises(TypeError, match="FrontierState"):
        plot_frontier_state("state")


def test_plots_validate_and_draw():
    res = plot_position_kl({"a": ([0.1, np.nan], [0.01, np.nan])})
    assert res.ax.get_xlabel().startswith("position")
    with pytest.raises(ValueError, match="one shape"):
        plot_position_kl({"a": ([0.1, 0.2], [0.01])})
    res = plot_estimator_error([4, 16], {"x": [2.0, 0.5]})
    assert set(res.artists["lines"]) == {"x", "1/n"}
    with pytest.raises(ValueError, match="positive"):
        plot_estimator_error([4, 16], {"x": [2.0, 0.0]})
    with pytest.raises(ValueError, match="four finite numbers"):
        plot_frontier({"a": (1.0, 2.0)})
    with pytest.raises(ValueError, match="not one of the points"):
        plot_frontier({"a": (1.0, 2.0, 0.1, 0.1)}, highlight="b")


# --------------------------------------------------------------------------- exercise diagnoses


def _messages(exercise_id, answer, seed=1):
    ex = registry.get(exercise_id)
    return "\n".join(v.message for v in run_all(ex, {ex.name: answer}, seed=seed) if v.status != "pass")


def _jsd(beta_of, swap_pq=False):
    def f(z, v, beta):
        log_q, log_p = kdbook.log_softmax(np.asarray(z)), kdbook.log_softmax(np.asarray(v))
        if swap_pq:
            log_q, log_p = log_p, log_q
        b = beta_of(beta)
        p, q = np.exp(log_p), np.exp(log_q)
        m = b * p + (1 - b) * q
        loss = b * (p * (log_p - np.log(m))).sum(-1) + (1 - b) * (q * (log_q - np.log(m))).sum(-1)
        g = (1 - b) * (log_q - np.log(m))
        return loss, q * (g - (q * g).sum(-1, keepdims=True))
    return f


def test_jsd_check_names_a_reversed_beta():
    assert "β convention is reversed" in _messages("07.jsd_beta", _jsd(lambda b: 1 - b))
    assert _messages("07.jsd_beta", _jsd(lambda b: b)) == ""  # the same code with the right convention passes


def test_jsd_check_names_a_gradient_in_probability_space():
    def no_chain(z, v, beta):
        loss, _ = _jsd(lambda b: b)(z, v, beta)
        log_q, log_p = kdbook.log_softmax(np.asarray(z)), kdbook.log_softmax(np.asarray(v))
        m = beta * np.exp(log_p) + (1 - beta) * np.exp(log_q)
        return loss, (1 - beta) * (log_q - np.log(m))
    assert "chain it through the softmax" in _messages("07.jsd_beta", no_chain)


def test_reinforce_check_names_the_missing_baseline():
    def no_baseline(theta, samples, log_p):
        return _reference(theta, samples, log_p, baseline="none")

    def mean_baseline(theta, samples, log_p):
        return _reference(theta, samples, log_p, baseline="mean")
    assert "without a baseline" in _messages("07.reinforce", no_baseline)
    assert "includes the sample itself" in _messages("07.reinforce", mean_baseline)


def test_reinforce_reference_is_unbiased():
    """The grader's reference: its mean over many draws matches ∇ KL(softmax(θ)‖p) within 4.5 standard errors."""
    rng = np.random.default_rng(0)
    theta, log_p = rng.normal(size=5), np.log(rng.dirichlet(np.ones(5)))
    q = np.exp(theta) / np.exp(theta).sum()
    r = np.log(q) - log_p
    exact = q * (r - (q * r).sum())
    est = np.array([reinforce_reference(theta, rng.choice(5, size=6, p=q), log_p) for _ in range(4000)])
    z = (est.mean(0) - exact) / (est.std(0, ddof=1) / np.sqrt(len(est)))
    assert np.abs(z).max() < 4.5


def test_diagnose_and_pick_beta_messages():
    wrong = ("correct", "sampled_from_teacher", "missing_baseline", "lambda_reversed", "correct")
    assert "diagnosis['A'] is not right" in _messages("07.diagnose", wrong)
    assert "should be one of" in _messages("07.diagnose", ("typo",) * 5)
    assert "below the product's floor" in _messages("07.pick_beta", (0.9, 0.033))
    assert "another β that also meets it" in _messages("07.pick_beta", (0.1, 0.127))
    assert "choice_reasons" in _messages("07.pick_beta", 0.5)  # the bare β, or β with a sentence, is not the pair
    assert "choice_reasons" in _messages("07.pick_beta", (0.5, "the reasons belong in their own variable"))
    assert "one of the swept values" in _messages("07.pick_beta", (0.3, 0.1))
    assert "wrong sign" in _messages("07.pick_beta", (0.5, -0.107))


def _points(exercise_id, answer, seed=1):
    ex = registry.get(exercise_id)
    return sum(v.points for v in run_all(ex, {ex.name: answer}, seed=seed))


def test_pick_beta_grades_the_pair_exactly_in_any_container_and_precision():
    ex = registry.get("07.pick_beta")
    assert ex.reasoning == "choice_reasons" and ex.manual_points == 1 and ex.points == 3
    # The product floor by hand from the table: coverage ≥ −2.0 leaves β = 0, 0.1, 0.5; the best quality among
    # them is β = 0.5, ahead of β = 0.1 by −2.703 − (−2.810) = 0.107 nats per token.
    from kdbook.grading.ch07 import FRONTIER
    allowed = [b for b, row in FRONTIER.items() if row["coverage"][0] >= -2.0]
    assert allowed == [0.0, 0.1, 0.5] and max(allowed, key=lambda b: FRONTIER[b]["quality"][0]) == 0.5
    for right in ((0.5, 0.107), [0.5, 0.107], np.array([0.5, 0.107]), np.array([0.5, 0.107], dtype=np.float32),
                  (np.float32(0.5), np.float64(0.107)), (0.5, 0.1070)):
        assert _points("07.pick_beta", right) == 3, right
    assert _points("07.pick_beta", (0.5, 0.11)) == 2  # rounded to two decimals: the lead is asked to three
    assert _points("07.pick_beta", (np.float32(0.1), 0.107)) == 0  # float32 0.1 is still β = 0.1, a wrong choice
    # A fixed answer: the public message must not print the expected lead.
    assert "0.107" not in _messages("07.pick_beta", (0.5, 0.2))
    # Free text earns nothing automatically.
    for text in ("β = 0.5 because it meets the floor with the best quality", "0.5, 0.107", "", None, True, 0.5,
                 [0.5], {"beta": 0.5}, (0.0, 0.0)):
        assert _points("07.pick_beta", text) == 0, text


def test_conventions_accept_numpy_numbers_and_float32():
    assert _points("07.conventions", (np.float32(0.0), np.float64(1.0), "beta", np.int64(0))) == 2
    assert _points("07.conventions", [0, 1, "beta", 0]) == 2
    assert _points("07.conventions", (True, False, "beta", False)) == 0  # booleans are not the numbers asked for


def test_jsd_and_reinforce_accept_float32_answers():
    def jsd32(z, v, beta):
        loss, grad = _jsd(lambda b: b)(np.float32(z), np.float32(v), np.float32(beta))
        return loss.astype(np.float32), grad.astype(np.float32)

    def reinforce32(theta, samples, log_p):
        return _reference(theta, samples, log_p).astype(np.float32)
    for seed in (1, 2, 3):
        assert _messages("07.jsd_beta", jsd32, seed) == ""
        assert _messages("07.jsd_beta", lambda z, v, b: list(_jsd(lambda x: x)(z, v, b)), seed) == ""  # a list pair
        assert _messages("07.reinforce", reinforce32, seed) == ""


def test_reinforce_forbids_the_graders_reference():
    from kdbook.grading._core import static_violations
    ex = registry.get("07.reinforce")
    assert static_violations("def reinforce_grad(t, s, lp):\n    return reinforce_reference(t, s, lp)\n", ex)
    assert not static_violations("def reinforce_grad(t, s, lp):\n    return t  # reinforce_reference\n", ex)


def test_outcome_07_the_baseline_pays_only_for_the_far_teacher():
    """07.predict_baseline's answer "b", recomputed exactly: every one of the 4⁸ ordered samples of size 8,
    with its probability, for both estimators, written here without the grader's reference."""
    import itertools

    from kdbook.grading.ch07 import BASELINE_N, BASELINE_TEACHERS, BASELINE_THETA

    theta = np.array(BASELINE_THETA)
    q = np.exp(theta - theta.max())
    q /= q.sum()
    K, n = q.size, BASELINE_N
    ys = np.array(list(itertools.product(range(K), repeat=n)))
    prob = np.prod(q[ys], axis=1)
    assert prob.sum() == pytest.approx(1.0)
    score = np.eye(K)[ys] - q  # ∇_θ log q(y) for every sample of every tuple
    ratio = {}
    for name, p in BASELINE_TEACHERS.items():
        r_table = np.log(q) - np.log(np.asarray(p))
        exact = q * (r_table - q @ r_table)  # ∇_θ KL(q‖p)
        total = {}
        for baseline in (False, True):
            R = r_table[ys]
            if baseline:
                R = R - (R.sum(axis=1, keepdims=True) - R) / (n - 1)
            est = (R[..., None] * score).mean(axis=1)
            mean = prob @ est
            np.testing.assert_allclose(mean, exact, atol=1e-12)  # both unbiased: the question is only the spread
            total[baseline] = float(prob @ ((est - mean) ** 2).sum(axis=1))
        ratio[name] = total[True] / total[False]
    assert ratio["near"] > 1.5 and ratio["far"] < 0.7, ratio  # "b": only the far teacher, each by a wide margin
    assert registry.get("07.predict_baseline").level == "understand"


def test_conventions_message_for_reversed_beta():
    assert "β convention reversed" in _messages("07.conventions", (1.0, 0.0, "beta", 0.0))
    assert "teacher_weight_in_m has the β convention reversed" in _messages("07.conventions", (0.0, 1.0, "1-beta", 0.0))


def test_recipe_check_rejects_bad_recipes_before_training():
    assert "one of" in _messages("07.recipe", lambda n, s: ("kl", None, 0.5))
    assert "weight should be None" in _messages("07.recipe", lambda n, s: ("forward", 0.5, 0.5))
    assert "in [0, 1]" in _messages("07.recipe", lambda n, s: ("reverse", None, 1.5))
    assert "list of 60" in _messages("07.recipe", lambda n, s: ("reverse", None, [0.5] * 10))
    assert "strictly between 0 and 1" in _messages("07.recipe", lambda n, s: ("gjsd", 1.0, 0.5))


def test_recipe_check_fails_constant_recipes():
    """No constant passes both specs: forward KL misses the quality-first floor, JSD(0.5) the coverage-first one."""
    msg = _messages("07.recipe", lambda q, c: ("forward", None, 1.0))
    assert "quality -2." in msg  # λ = 1 forward KL misses even the coverage-first quality floor
    msg = _messages("07.recipe", lambda q, c: ("gjsd", 0.5, 0.0))
    assert "coverage -1.9" in msg and "min_coverage=-1.882" in msg and "mean over the 2 students" in msg


def test_recipe_specs_straddle_the_frontier():
    """Every test asks for both specs on one secret seed."""
    from kdbook.grading.ch07 import SPECS
    from kdbook.grading.spec import draw_calls

    ex = registry.get("07.recipe")
    for seed in range(20):
        for test in ex.tests:
            calls = draw_calls(ex, test, seed)
            assert len(calls) == 2 and calls[0].secret == calls[1].secret and calls[0].secret is not None
            assert sorted(c.args for c in calls) == sorted(SPECS.values())


def test_conventions_check_is_form_only():
    ex = registry.get("07.conventions")
    assert [t.points for t in ex.tests if not t.hidden] == [0]
    assert _messages("07.conventions", (1.0, 0.0, "beta", 0.0)) and _points("07.conventions", (1, 0, "beta", 0)) == 1  # the λ point only


def test_exposure_gap_messages():
    from kdbook.grading.ch07_measure import _token_kl

    def gap(direction=None, masked=True, sign=1):
        def f(to, so, mo, tr, sr, mr):
            def mean(t, s, m):
                kl = _token_kl(t, s, np.asarray(m, bool) if masked else np.ones(np.shape(m), bool),
                               reverse=direction == "reverse")
                return kl.sum() / (np.sum(m) if masked else np.size(m))
            return sign * (mean(to, so, mo) - mean(tr, sr, mr))
        return f
    assert _messages("07.exposure_gap", gap()) == ""
    assert "reverse KL(q‖p)" in _messages("07.exposure_gap", gap("reverse"))
    assert "padding positions were counted" in _messages("07.exposure_gap", gap(masked=False))
    assert "sign is flipped" in _messages("07.exposure_gap", gap(sign=-1))


def test_exposure_gap_reference_against_scipy():
    from scipy.special import rel_entr, softmax as sp_softmax

    from kdbook.grading.ch07_measure import _exposure_cases, exposure_gap_reference

    args = _exposure_cases()(np.random.default_rng(3))[0].args
    def mean(t, s, m):
        return rel_entr(sp_softmax(t, axis=-1), sp_softmax(s, axis=-1)).sum(-1)[m].mean()
    want = mean(*args[:3]) - mean(*args[3:])
    assert exposure_gap_reference(*args) == pytest.approx(want, rel=1e-9)
    assert np.isfinite(exposure_gap_reference(*_exposure_cases(800.0)(np.random.default_rng(3))[0].args))


def test_gkd_cost_messages_and_counts():
    def cost(n_on_of, per_token=False, stored_ignored=False):
        def f(lam, B, lt, ls, stored):
            n = n_on_of(lam, B)
            return (0.0 if stored and not stored_ignored else (B - n) * lt, n * ls if per_token else n, n * ls)
        return f
    assert _messages("07.gkd_cost", cost(lambda lam, B: round(lam * B))) == ""
    assert "on-policy fraction" in _messages("07.gkd_cost", cost(lambda lam, B: round((1 - lam) * B)))
    assert "not one per token" in _messages("07.gkd_cost", cost(lambda lam, B: round(lam * B), per_token=True))
    assert "stored teacher data set" in _messages("07.gkd_cost", cost(lambda lam, B: round(lam * B),
                                                                      stored_ignored=True))
    assert "rounded down" in _messages("07.gkd_cost", cost(lambda lam, B: int(lam * B)))
    # a constant count (the row of the chapter's table for λ = 0.5, B = 32) earns nothing
    assert _points("07.gkd_cost", lambda lam, B, lt, ls, stored: (16 * lt, 16, 16 * ls)) == 0

"""Chapter 7: the β explorer's state and figure, the chapter's plots, and the exercise checks' diagnoses."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import ipywidgets as widgets  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import kdbook  # noqa: E402
from kdbook.frontier import (BETA_OBJECTIVES, SweepResult, beta_label, frontier_state)  # noqa: E402
from kdbook.grading import registry, run_tests  # noqa: E402
from kdbook.grading.ch07 import reinforce_reference  # noqa: E402
from kdbook.language import ToyLanguage  # noqa: E402
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
    return "\n".join(v.message for v in run_tests(ex, {ex.name: answer}, hidden_seed=seed) if v.status != "pass")


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
        return reinforce_reference(theta, samples, log_p, baseline="none")

    def mean_baseline(theta, samples, log_p):
        return reinforce_reference(theta, samples, log_p, baseline="mean")
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
    wrong = ("correct", "sampled_from_teacher", "missing_baseline", "teacher_student_swapped", "correct")
    assert "diagnosis['A'] is not right" in _messages("07.diagnose", wrong)
    assert "should be one of" in _messages("07.diagnose", ("typo",) * 5)
    assert "below the product's floor" in _messages("07.pick_beta", (0.9, "it has the best quality of all"))
    assert "another β that also meets it" in _messages("07.pick_beta", (0.1, "it keeps the most coverage here"))
    assert "sentence or two" in _messages("07.pick_beta", (0.5, ""))


def test_conventions_message_for_reversed_beta():
    assert "β convention reversed" in _messages("07.conventions", (1.0, 0.0, "beta", 0.0))
    assert "teacher_weight_in_m is wrong" in _messages("07.conventions", (0.0, 1.0, "1-beta", 0.0))


def test_recipe_check_rejects_bad_recipes_before_training():
    assert "one of" in _messages("07.recipe", lambda n, s: ("kl", None, 0.5))
    assert "weight should be None" in _messages("07.recipe", lambda n, s: ("forward", 0.5, 0.5))
    assert "in [0, 1]" in _messages("07.recipe", lambda n, s: ("reverse", None, 1.5))
    assert "list of 60" in _messages("07.recipe", lambda n, s: ("reverse", None, [0.5] * 10))
    assert "strictly between 0 and 1" in _messages("07.recipe", lambda n, s: ("gjsd", 1.0, 0.5))


def test_recipe_check_fails_plain_forward_kl():
    msg = _messages("07.recipe", lambda n, s: ("forward", None, 1.0))
    assert "quality" in msg and "look at the frontier" in msg

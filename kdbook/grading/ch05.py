"""Chapter 5 exercises: calibration error, and choosing a temperature for a tiny student.

Answers live in ``solutions/05_training_a_toy_student.ipynb``; learners get
``exercises/05_training_a_toy_student.ipynb``. The temperature exercises choose T on a validation
split over a few seeds, as the chapter teaches, and check the learner's measurement against the
grader's own run of the same recipe (:func:`reference_sweep`).
"""
from __future__ import annotations

import functools

import numpy as np

from ..calibration import expected_calibration_error
from . import _draw
from ._core import Call, Exercise, Fail, Opaque, Statement, Test, as_array, expect_close, select_tests
from ._predict import prediction_tests

__all__ = ["EXERCISES", "TEMPERATURES", "SEEDS", "STUDENT_SIZES", "DEFENCE_STATEMENTS", "reference_sweep",
           "STEP_BUDGET", "BASELINE_RECIPE", "recipe_problem", "run_recipe"]

#: The sweep of the temperature exercises: temperatures, student seeds and the tiny student's layer sizes.
TEMPERATURES = (1.0, 2.0, 4.0, 8.0)
SEEDS = (0, 1, 2)
STUDENT_SIZES = (2, 8, 3)
_ACCURACY_TOL = 0.011  # two validation points: training in another process may round differently


@functools.lru_cache(maxsize=1)
def reference_sweep() -> np.ndarray:
    """Validation accuracy of the tiny student at each of :data:`TEMPERATURES` (rows) and :data:`SEEDS`.

    The exercise notebook's recipe: the training half of the spirals is split again into a fitting
    part (teacher and students train on it) and a validation part (T is chosen on it); the test
    half is not touched.
    """
    from ..classify import data as kd
    from ..classify.models import MLP
    from ..train import evaluate, train

    X, y = kd.spirals(800, n_classes=3, noise=0.08, seed=0)
    X_train, _, y_train, _ = kd.train_test_split(X, y, test_fraction=0.5, seed=0)
    X_fit, X_val, y_fit, y_val = kd.train_test_split(X_train, y_train, test_fraction=0.5, seed=1)
    teacher = MLP([2, 64, 64, 3], seed=0)
    train(teacher, X_fit, y_fit, epochs=400, lr=0.01)
    v_fit = teacher.logits(X_fit)
    accuracy = np.empty((len(TEMPERATURES), len(SEEDS)))
    for i, T in enumerate(TEMPERATURES):
        for j, seed in enumerate(SEEDS):
            student = MLP(list(STUDENT_SIZES), seed=seed)
            train(student, X_fit, teacher_logits=v_fit, T=T, epochs=300, lr=0.02)
            accuracy[i, j] = evaluate(student, X_val, y_val)["accuracy"]
    return accuracy


def _ranked() -> np.ndarray:
    """Indices of :data:`TEMPERATURES` by mean validation accuracy, best first."""
    return np.argsort(-reference_sweep().mean(axis=1), kind="stable")


# --------------------------------------------------------------------------- ECE


def _ece_random(rng):
    calls = []
    for n, k, bins in ((200, 4, 10), (150, 3, 5)):
        probs = _draw.probs(rng, (n, k))
        probs = probs**3 / (probs**3).sum(axis=-1, keepdims=True)  # sharper, so bins spread out
        labels = rng.integers(0, k, size=n)
        if bins == 10:  # right 70 % of the time: under-confident in the low bins, over-confident in the high ones,
            right = rng.random(n) < 0.7  # so that one overall |accuracy − confidence| is not the ECE
            labels = np.where(right, probs.argmax(axis=1), (probs.argmax(axis=1) + rng.integers(1, k, n)) % k)
        calls.append(Call((probs, labels), {"n_bins": bins}))
    return calls + [_ece_on_edges(rng, 10)]


def _ece_variants(probs, labels, n_bins: int) -> tuple:
    """(value, diagnosis) of the ECE that common bugs compute: bins closed on the left, edges[b] ≤ conf <
    edges[b+1] (np.floor(conf·n_bins), np.histogram: differs only for a confidence exactly on an edge);
    bin indices one too high (np.searchsorted without the − 1, which merges the top two bins); one bin."""
    conf, correct = probs.max(axis=1), (probs.argmax(axis=1) == labels)

    def ece(bins):
        return float(sum((bins == b).mean() * abs(correct[bins == b].mean() - conf[bins == b].mean())
                         for b in np.unique(bins)))

    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.clip(np.searchsorted(edges, conf) - 1, 0, n_bins - 1)
    unweighted = float(np.mean([abs(correct[bins == b].mean() - conf[bins == b].mean()) for b in np.unique(bins)]))
    true_conf = probs[np.arange(len(labels)), labels]
    true_bins = np.clip(np.searchsorted(edges, true_conf) - 1, 0, n_bins - 1)
    by_true = float(sum((true_bins == b).mean() * abs(correct[true_bins == b].mean() - true_conf[true_bins == b].mean())
                        for b in np.unique(true_bins)))
    return ((unweighted, "every bin counts the same: weight each bin's gap by its share of the predictions, |B_b|/n"),
            (by_true, "the confidence is the probability of the true class: ECE uses the top (predicted) class's "
                      "probability"),
            (ece(np.clip(np.floor(conf * n_bins).astype(int), 0, n_bins - 1)),
             "a confidence exactly on a bin edge belongs to the bin below it (edges[b] < confidence ≤ edges[b+1])"),
            (ece(np.clip(np.searchsorted(edges, conf), 0, n_bins - 1)),
             "your bin indices look one too high (the top two bins end up merged)"),
            (ece(np.zeros(len(conf), dtype=int)), "this is |accuracy − confidence| over all predictions: one bin"))


def _ece_on_edges(rng, n_bins: int) -> Call:
    """Two-class predictions, half of them with a confidence exactly on a bin edge (the rest inside the
    bins on both sides), drawn until each of :func:`_ece_variants` misses the ECE by at least 0.01."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    inner = edges[(edges > 0.5) & (edges < 1.0)]
    while True:
        conf = np.concatenate([rng.choice(inner, 40), rng.choice(inner, 40) + rng.choice([-0.5, 0.5], 40) / n_bins])
        probs = np.stack([conf, 1.0 - conf], axis=1)
        labels = (rng.random(conf.size) > conf).astype(int)  # label 1 where the prediction is wrong
        want = expected_calibration_error(probs, labels, n_bins=n_bins)
        if all(abs(value - want) >= 0.01 for value, _ in _ece_variants(probs, labels, n_bins)):
            return Call((probs, labels), {"n_bins": n_bins})


def _ece_extremes(rng):
    k = 4
    wrong = np.eye(k)[rng.integers(0, k, size=20)]
    labels = (wrong.argmax(axis=1) + 1) % k
    calibrated = np.tile([0.75, 0.25], (8, 1))
    return [Call((wrong, labels), {"n_bins": 10}), Call((calibrated, np.array([0, 0, 0, 1, 0, 0, 0, 1])), {"n_bins": 10})]


def _ece_hidden(rng):
    probs = _draw.probs(rng, (1000, 10))
    probs = probs**4 / (probs**4).sum(axis=-1, keepdims=True)
    return [Call((probs, rng.integers(0, 10, size=1000)), {"n_bins": 15})]


def _judge_ece(calls, outs):
    for call, out in zip(calls, outs):
        (probs, labels), bins = call.args, call.kwargs["n_bins"]
        what = f"ece_scratch(probs, labels, n_bins={bins})"
        expect_close(as_array(out, what, ()), expected_calibration_error(probs, labels, n_bins=bins), what,
                     suspects=_ece_variants(probs, labels, bins))


# --------------------------------------------------------------------------- temperature


def _judge_sweep(calls, outs):
    want = reference_sweep()
    got = as_array(outs[0], "sweep_accuracy")
    if got.shape == want.T.shape != want.shape:
        raise Fail(f"sweep_accuracy has shape {got.shape}: it should have one row per temperature and one "
                   f"column per seed, shape {want.shape}")
    got = as_array(got, "sweep_accuracy", want.shape)
    bad = np.abs(got - want) > _ACCURACY_TOL
    if bad.any():
        i, j = (int(k) for k in np.argwhere(bad)[0])
        why = next((text for alt, text in (
            (1 - want, "these are error rates, 1 − accuracy: report the accuracy"),
            (want[::-1], "the rows are in reverse order: one row per temperature, in the order of TEMPERATURES"),
            (want[:, ::-1], "the columns are in reverse order: one column per seed, in the order of SEEDS"),
            (np.repeat(want[:, :1], want.shape[1], axis=1), "every column repeats the first seed's run: train "
                                                              "each column's student with its own seed"),
        ) if np.all(np.abs(got - alt) <= _ACCURACY_TOL)), "follow the recipe exactly (fitting part, validation part, "
                                                             "sizes, seed, epochs, lr)")
        raise Fail(f"sweep_accuracy[{i}, {j}] (T = {TEMPERATURES[i]:g}, seed {SEEDS[j]}) should be {want[i, j]:.4f}, "
                   f"got {got[i, j]:.4f}; {why}")


def _judge_best(calls, outs):
    mean = reference_sweep().mean(axis=1)
    got = float(as_array(outs[0], "best_T", ()))
    if got not in TEMPERATURES:
        raise Fail(f"best_T should be one of the temperatures tried, {list(TEMPERATURES)}; got {got:g}")
    if mean[TEMPERATURES.index(got)] < mean.max() - _ACCURACY_TOL:
        raise Fail(f"at T = {got:g} the mean validation accuracy over the seeds is "
                   f"{mean[TEMPERATURES.index(got)]:.4f}; another temperature does better")


def _judge_paired(calls, outs):
    acc = reference_sweep()
    best, runner_up = _ranked()[:2]
    gaps = acc[best] - acc[runner_up]
    got = outs[0]
    if isinstance(got, (int, float)) or (isinstance(got, np.ndarray) and got.ndim == 0):
        if abs(float(got) - gaps.mean()) <= 2 * _ACCURACY_TOL:
            raise Fail(f"paired_gap should hold one gap per seed ({len(SEEDS)} numbers), not their mean")
    worst = _ranked()[-1]
    expect_close(got, gaps, "paired_gap", rtol=0.0, atol=2 * _ACCURACY_TOL, suspects=(
        (-gaps, "every entry has the wrong sign: best temperature minus runner-up"),
        (acc[best] - acc[worst], "this is the best temperature minus the worst: the gap asked is to the runner-up"),
        (np.full_like(gaps, acc[best].mean() - acc[runner_up].mean()), "every entry is the difference of the two "
         "means: a paired gap is taken seed by seed, best minus runner-up on the same seed"),
    ))


#: The statements of 05.defend_temperature. Whether the high-T penalty comes from the tiny student's
#: capacity or from the fixed budget of epochs is not settled by the chapter (cell 32): the larger
#: student, trained on the same budget, is insensitive to T, which favours capacity, but no run varies
#: the budget. Either explanation (or both) is accepted.
DEFENCE_STATEMENTS = (
    Statement("T was chosen on the validation part of the training half; the test half played no part in the "
              "choice."),
    Statement("T was chosen by test accuracy, because the test set is the most reliable measurement."),
    Statement("The temperatures are compared by their accuracy averaged over the three student seeds, not by "
              "one seed."),
    Statement("One run per temperature would be enough, because training is deterministic given its seed."),
    Statement("At high T the tiny student (8 hidden units) lacks the capacity to match the softened targets."),
    Statement("At high T the fixed budget of epochs is too short for the student to fit the softer targets."),
    Statement("A higher temperature always gives the student more information, so it must give higher "
              "accuracy."),
)


# --------------------------------------------------------------------------- recipe (create)

#: Optimiser steps (full-batch epochs) a recipe may spend, and the baseline it must beat: the
#: chapter's pure distillation at T = 1 with Adam's usual lr = 0.01, all steps in one stage.
STEP_BUDGET = 150
BASELINE_RECIPE = ((1.0, 0.01, STEP_BUDGET),)


def recipe_problem(rng: np.random.Generator, n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    """A hidden distillation problem: ``n`` inputs in the plane and the logits of a random teacher
    network (2–16–3, rescaled to a logit spread of 4) on them."""
    from ..classify.models import MLP

    X = rng.normal(0.0, 1.0, size=(n, 2))
    v = MLP([2, 16, 3], seed=rng).logits(X)
    return X, 4.0 * v / v.std()


def run_recipe(stages, X: np.ndarray, v: np.ndarray) -> float:
    """Train the tiny student (``MLP(STUDENT_SIZES, seed=0)``) stage by stage, each stage a
    full-batch Adam run ``(T, lr, steps)`` on the teacher's logits, and return its mean
    KL(teacher‖student) at T = 1 on the inputs."""
    from ..divergences import kl_divergence
    from ..classify.models import MLP
    from ..softmax import softmax
    from ..train import train

    student = MLP(list(STUDENT_SIZES), seed=0)
    for T, lr, steps in stages:
        train(student, X, teacher_logits=v, T=T, epochs=steps, lr=lr, progress=False)
    return float(kl_divergence(softmax(v), softmax(student.logits(X))).mean())


def _recipe_stages(got) -> list[tuple[float, float, int]]:
    """The stages of a returned recipe, checked: a list of (T, lr, steps) within the step budget."""
    what = "distillation_recipe(X, teacher_logits)"
    if isinstance(got, np.ndarray) and got.ndim == 2 and got.shape[1] == 3 and got.dtype.kind in "iuf":
        got = [tuple(row) for row in got.tolist()]
    if not isinstance(got, (list, tuple)) or not got or isinstance(got, Opaque):
        raise Fail(f"{what} should return a list of stages (T, lr, steps), got {type(got).__name__}")
    stages = []
    for k, stage in enumerate(got):
        if isinstance(stage, np.ndarray):
            stage = stage.tolist()
        if not isinstance(stage, (list, tuple)) or len(stage) != 3:
            raise Fail(f"stage {k} of the recipe should be a triple (T, lr, steps), got {str(stage)[:40]}")
        try:
            T, lr, steps = (float(np.asarray(x)) for x in stage)
        except (TypeError, ValueError):
            raise Fail(f"stage {k} of the recipe should hold three numbers (T, lr, steps)") from None
        if not (0.1 <= T <= 100 and 0 < lr <= 1 and steps >= 1 and steps.is_integer()):
            raise Fail(f"stage {k} = ({T:g}, {lr:g}, {steps:g}): T must be in [0.1, 100], lr in (0, 1] and steps "
                       "a whole number ≥ 1")
        stages.append((T, lr, int(steps)))
    total = sum(s[2] for s in stages)
    if total > STEP_BUDGET:
        raise Fail(f"the recipe spends {total} steps; the budget is {STEP_BUDGET}")
    return stages


def _recipe_cases(n: int):
    def cases(rng):
        return [Call(recipe_problem(rng)) for _ in range(n)]
    return cases


def _judge_recipe(factor: float):
    """Pass when the recipe's KL, divided by the baseline's on the same problem and averaged over
    the problems of the test, is at most ``factor``."""
    def judge(calls, outs):
        ratios, lines = [], []
        for k, (call, out) in enumerate(zip(calls, outs)):
            stages = _recipe_stages(out)
            mine, base = run_recipe(stages, *call.args), run_recipe(BASELINE_RECIPE, *call.args)
            ratios.append(mine / base)
            lines.append(f"{mine:.4f} against the baseline's {base:.4f}")
        if not np.mean(ratios) <= factor:
            where = "on the problem" if len(calls) == 1 else f"averaged over {len(calls)} problems"
            raise Fail(f"your student ends {np.mean(ratios):.2f} times as far from the teacher as the baseline's "
                       f"{where} (KL {'; '.join(lines)}); the goal is at most {factor:g} times")
    return judge


EXERCISES = (
    Exercise(
        id="05.ece_scratch", title="Expected calibration error from scratch", name="ece_scratch",
        kind="function", level="apply", forbid=("expected_calibration_error", "reliability_curve"),
        hint="Sort the predictions into bins by their confidence (np.searchsorted on the bin edges does it in "
             "one call; mind the convention for a confidence exactly on an edge). In each non-empty bin compare "
             "the fraction correct with the mean confidence, and weight by the bin's share of the predictions.",
        tests=(
            Test("matches ECE on random predictions, 10 and 5 bins", 2, _judge_ece, _ece_random),
            Test("always confidently wrong gives 1; calibrated gives 0", 1, _judge_ece, _ece_extremes),
            Test("1000 predictions over 10 classes, 15 bins", 1, _judge_ece, _ece_hidden, hidden=True),
        ),
    ),
    Exercise(
        id="05.temperature_sweep", title="Distil a tiny student at four temperatures and three seeds",
        name="sweep_accuracy", kind="value", level="apply",
        hint="Two nested loops, temperatures outside and seeds inside; the recipe is the same as in the "
             "chapter, with the student's seed taken from the inner loop and accuracy measured on the "
             "validation part.",
        tests=(Test("validation accuracy at each temperature and seed", 2, _judge_sweep),),
    ),
    Exercise(
        id="05.best_temperature", title="Choose the temperature", name="best_T",
        kind="value", level="evaluate",
        hint="One seed can mislead: compare the temperatures by their accuracy averaged over the seeds.",
        tests=(Test("the temperature with the best mean validation accuracy", 1, _judge_best),),
    ),
    Exercise(
        id="05.paired_gap", title="Is the winner's lead larger than the noise?", name="paired_gap",
        kind="value", level="analyse",
        hint="Rank the temperatures by mean validation accuracy; subtract the runner-up's row of sweep_accuracy "
             "from the winner's. Compare the gaps with the spread of each row.",
        tests=(Test("the per-seed gap between the best and the runner-up temperature", 2, _judge_paired),),
    ),
    Exercise(
        id="05.defend_temperature", title="Defend your choice", name="defend_claims",
        kind="select", level="evaluate", statements=DEFENCE_STATEMENTS, reasoning="defend_T", manual_points=1,
        hint="Check each statement against how you measured (which split, how many seeds) and against what "
             "the chapter showed for the larger student.",
        tests=select_tests(DEFENCE_STATEMENTS, 2, "statements that defend the choice"),
    ),
    Exercise(
        id="05.predict_objective", title="Predict: which student is closer to the teacher at T = 1?",
        name="predict_objective", kind="prediction", level="understand",
        hint="Each student minimises the divergence between the teacher and itself at its own training "
             "temperature. Which of them was trained on the quantity the cell measures?",
        tests=prediction_tests(3),
    ),
    Exercise(
        id="05.recipe", title="Design a training recipe that beats the baseline on a step budget",
        name="distillation_recipe", kind="function", level="create",
        hint="Try a few recipes on problems you draw yourself with kdbook.grading.ch05.recipe_problem and score "
             "them with run_recipe. With only 150 steps, what limits the baseline: the temperature, or how far "
             "each step can go? Does one learning rate have to serve the whole run?",
        tests=(
            Test("at most 0.8 times the baseline's KL, averaged over two problems", 1, _judge_recipe(0.8),
                 _recipe_cases(2)),
            Test("at most half the baseline's KL, averaged over three fresh problems", 3, _judge_recipe(0.5),
                 _recipe_cases(3), hidden=True),
        ),
    ),
)

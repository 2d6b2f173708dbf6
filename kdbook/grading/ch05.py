"""Chapter 5 exercises: calibration error, and choosing a temperature for a tiny student.

Answers live in ``solutions/05_training_a_toy_student.ipynb``; learners get
``exercises/05_training_a_toy_student.ipynb``. The temperature exercises check the learner's
measurement against the grader's own run of the same recipe (:func:`reference_sweep`).
"""
from __future__ import annotations

import functools

import numpy as np

from ..calibration import expected_calibration_error
from . import _draw
from ._core import Call, Exercise, Fail, Test, as_array, expect_close, key_facts

__all__ = ["EXERCISES", "TEMPERATURES", "STUDENT_SIZES", "reference_sweep"]

#: The sweep of the temperature exercises: temperatures and the tiny student's layer sizes.
TEMPERATURES = (1.0, 2.0, 4.0, 8.0)
STUDENT_SIZES = (2, 8, 3)
_ACCURACY_TOL = 0.01  # a few test points: training in another process may round differently


@functools.lru_cache(maxsize=1)
def reference_sweep() -> np.ndarray:
    """Test accuracy of the tiny student distilled at each of :data:`TEMPERATURES` (the notebook's recipe)."""
    from .. import data as kd
    from ..models import MLP
    from ..train import evaluate, train

    X, y = kd.spirals(800, n_classes=3, noise=0.08, seed=0)
    X_train, X_test, y_train, y_test = kd.train_test_split(X, y, test_fraction=0.5, seed=0)
    teacher = MLP([2, 64, 64, 3], seed=0)
    train(teacher, X_train, y_train, epochs=400, lr=0.01)
    v_train = teacher.logits(X_train)
    accuracy = []
    for T in TEMPERATURES:
        student = MLP(list(STUDENT_SIZES), seed=0)
        train(student, X_train, teacher_logits=v_train, T=T, epochs=300, lr=0.02)
        accuracy.append(evaluate(student, X_test, y_test)["accuracy"])
    return np.array(accuracy)


# --------------------------------------------------------------------------- ECE


def _ece_random(rng):
    calls = []
    for n, k, bins in ((200, 4, 10), (150, 3, 5)):
        probs = _draw.probs(rng, (n, k))
        probs = probs**3 / (probs**3).sum(axis=-1, keepdims=True)  # sharper, so bins spread out
        labels = rng.integers(0, k, size=n)
        calls.append(Call((probs, labels), {"n_bins": bins}))
    return calls


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
        expect_close(as_array(out, what, ()), expected_calibration_error(probs, labels, n_bins=bins), what)


# --------------------------------------------------------------------------- temperature


def _judge_sweep(calls, outs):
    want = reference_sweep()
    got = as_array(outs[0], "sweep_accuracy", want.shape)
    bad = np.abs(got - want) > _ACCURACY_TOL
    if bad.any():
        i = int(np.argmax(bad))
        raise Fail(f"sweep_accuracy[{i}] (T = {TEMPERATURES[i]:g}) should be {want[i]:.4f}, got {got[i]:.4f}; "
                   "follow the recipe exactly (student sizes, seed, epochs, lr)")


def _judge_best(calls, outs):
    acc = reference_sweep()
    got = float(as_array(outs[0], "best_T", ()))
    if got not in TEMPERATURES:
        raise Fail(f"best_T should be one of the temperatures tried, {list(TEMPERATURES)}; got {got:g}")
    i = TEMPERATURES.index(got)
    if acc[i] < acc.max() - _ACCURACY_TOL:
        raise Fail(f"at T = {got:g} the student reaches {acc[i]:.4f}, but another temperature does better")


def _judge_defend(calls, outs):
    key_facts(outs[0], [
        ("the temperature you chose", r"\bT\s*=\s*\d|temperature"),
        ("a number you measured (an accuracy such as 0.83 or 83%)", r"\d\.\d{2}|\d+(\.\d+)?\s*%"),
        ("why the student's size explains it (a tiny student cannot follow the softened, detailed targets)",
         r"small|tiny|capacity|hidden units|few (units|parameters|neurons)|cannot|can't|too simple|limited"),
    ])


EXERCISES = (
    Exercise(
        id="05.ece_scratch", title="Expected calibration error from scratch", name="ece_scratch",
        kind="function", level="implement", forbid=("expected_calibration_error", "reliability_curve"),
        hint="conf = probs.max(1), correct = probs.argmax(1) == labels. With edges = np.linspace(0, 1, n_bins + 1), "
             "bin b holds edges[b] < conf ≤ edges[b+1] (np.searchsorted(edges, conf) - 1, clipped to "
             "[0, n_bins − 1]). ECE = Σ_b (count_b / n)·|mean(correct_b) − mean(conf_b)| over non-empty bins.",
        tests=(
            Test("matches ECE on random predictions, 10 and 5 bins", 2, _judge_ece, _ece_random),
            Test("always confidently wrong gives 1; calibrated gives 0", 1, _judge_ece, _ece_extremes),
            Test("1000 predictions over 10 classes, 15 bins", 1, _judge_ece, _ece_hidden, hidden=True),
        ),
    ),
    Exercise(
        id="05.temperature_sweep", title="Distil a tiny student at four temperatures", name="sweep_accuracy",
        kind="value", level="compute",
        hint="For each T in temperatures: student = MLP([2, 8, 3], seed=0); train(student, X_train, "
             "teacher_logits=v_train, T=T, epochs=300, lr=0.02); then evaluate(student, X_test, y_test)['accuracy'].",
        tests=(Test("test accuracy at each temperature", 2, _judge_sweep),),
    ),
    Exercise(
        id="05.best_temperature", title="Choose the temperature", name="best_T",
        kind="value", level="evaluate",
        hint="Pick the temperature at which your sweep's test accuracy is highest.",
        tests=(Test("the temperature with the best test accuracy", 1, _judge_best),),
    ),
    Exercise(
        id="05.defend_temperature", title="Defend your choice", name="defend_T",
        kind="text", level="evaluate",
        hint="Quote the accuracies at your temperature and at T = 8, and connect them to the student's 8 hidden units.",
        tests=(Test("names the temperature, a measurement and the reason", 2, _judge_defend),),
    ),
)

"""Written answers and claims: wrong-but-keyword-rich answers score 0, right ones in other words pass,
messages never give the answer away, and common numeric bugs are named."""
from __future__ import annotations

import io
from contextlib import redirect_stdout

import numpy as np
import pytest

from kdbook import grading
from kdbook.grading import registry, run_tests
from kdbook.grading._core import LEVELS

# Answers that use the right words but claim something false: each must score 0.
WRONG = [
    ("01.justify", "Student A is closer than B: both pick the top class 0, and A matches class 1 better."),
    ("01.justify", "I would keep A: both students pick the teacher's top class 0, but B puts too much on class 1."),
    ("01.justify", "B is farther from the teacher although both choose the top class, since A costs less on class 1."),
    ("01.justify", "Both students have the same top class 0, and A is better on the second class, so A wins."),
    ("02.asymmetry_why", "KL(p‖q) is infinite because p is zero on class 2 where q is positive, so the log ratio "
                         "divides by zero; KL(q‖p) is finite."),
    ("02.asymmetry_why", "KL(p || q) = inf since p has no mass on class 2 and q does, so log(q/p) blows up there."),
    ("02.asymmetry_why", "The forward KL blows up: there is a zero in the support and the log divides by zero."),
    ("02.asymmetry_why", "KL(q‖p) is infinite because q is zero on class 2 where p is positive, so the log divides "
                         "by zero."),
    ("03.why_t_squared", "the gradient would otherwise be too large at high temperature, T squared makes it smaller."),
    ("03.why_t_squared", "At high T the soft gradients explode, and multiplying by T^2 keeps them smaller so the "
                         "scale stays balanced."),
    ("03.why_t_squared", "The gradient grows as T increases; T² reduces it to keep a comparable magnitude."),
    ("05.defend_temperature", "T = 1: I picked it by test accuracy, 0.79 over three seeds; the tiny student is small."),
    ("05.defend_temperature", "T = 1: I picked it on the test set, where it reaches 0.79 accuracy over three seeds; "
                              "the tiny student has little capacity."),
    ("05.defend_temperature", "T = 1, because it reaches 0.97 validation accuracy over all seeds and the tiny "
                              "student has little capacity for soft targets."),
]

# The same facts in other words: each must pass (the checks are not tied to the solution's wording).
RIGHT = [
    ("01.justify", "B is closer. Both students put their top probability on class 0, so accuracy ties, but A "
                   "gives class 1 only 0.05 against the teacher's 0.20."),
    ("01.justify", "I keep student B: the two share the teacher's argmax, while A starves class 1, which costs "
                   "it most of its 0.18 nats."),
    ("01.justify", "B is the closer student: A gives a lower probability to class 1 (0.05 against the teacher's "
                   "0.20), although both pick class 0 as their top class."),
    ("01.justify", "Both share the top class; A matches it even more confidently (0.90), but it gives class 1 only "
                   "0.05, so B is closer."),
    ("05.defend_temperature", "I chose T = 1 on the validation part, 0.79 mean accuracy over the seeds, and its test "
                              "accuracy confirms it; the tiny student has too little capacity for soft targets."),
    ("02.asymmetry_why", "The reverse direction KL(q||p) is infinite: p puts no mass on class 2 while q gives it "
                         "0.1, so log(q/p) divides by zero there."),
    ("02.asymmetry_why", "KL(p‖q) is not infinite, but KL(q‖p) = inf because p is zero where q is positive and "
                         "the log of q/p is unbounded."),
    ("03.why_t_squared", "Without the factor the soft gradient shrinks like 1/T^2 as the temperature grows; "
                         "multiplying by T² scales it back up so both terms keep the same size."),
    ("03.why_t_squared", "The soft gradients fall from 0.58 at T = 1 to 0.008 at T = 8, and T squared "
                         "compensates, keeping their magnitude constant across temperatures."),
    ("03.why_t_squared", "T² is needed because the soft gradient becomes too small at high temperature, and T² "
                         "makes it larger again."),
    ("04.bug_report", "p and q are swapped, so it is the reverse KL; np.mean divides by all B·K entries instead of "
                      "B; and the T^2 factor is missing."),
    ("05.defend_temperature", "I chose T = 1 on the validation split: 0.79 mean accuracy over three seeds against "
                              "0.63 at T = 8. A student with 8 hidden units is too small for very soft targets."),
]


def _points(exercise_id: str, answer) -> float:
    ex = registry.get(exercise_id)
    return sum(v.points for v in run_tests(ex, {ex.name: answer}, hidden_seed=1))


def _messages(exercise_id: str, answer) -> str:
    ex = registry.get(exercise_id)
    return "\n".join(v.message for v in run_tests(ex, {ex.name: answer}, hidden_seed=1))


@pytest.mark.parametrize("exercise_id, answer", WRONG)
def test_a_wrong_answer_with_the_right_keywords_scores_zero(exercise_id, answer):
    assert _points(exercise_id, answer) == 0, answer


@pytest.mark.parametrize("exercise_id, answer", RIGHT)
def test_a_right_answer_in_other_words_scores_full_marks(exercise_id, answer):
    assert _points(exercise_id, answer) == registry.get(exercise_id).points, _messages(exercise_id, answer)


@pytest.mark.parametrize("answer, points", [("B", 1), ("student B", 1), (" b ", 1), ("A", 0), ("Student A", 0),
                                            ("C", 0), ("AB", 0), (1, 0)])
def test_the_closer_student_is_graded_exactly(answer, points):
    assert _points("01.closer", answer) == points


@pytest.mark.parametrize("answer, points", [("JS", 1), ("Jensen-Shannon", 1), ("KL(p‖q)", 0), ("KL(q||p)", 0),
                                            ("TV", 0), ("", 0)])
def test_the_monitored_divergence_is_graded_exactly(answer, points):
    assert _points("02.pick_divergence", answer) == points


# Wrong or partial answers, and words that would give the answer away in the message.
REVEALING = [
    ("01.closer", "A", ['"B"', "student B", "is B"]),
    ("01.justify", "Both students pick the top class, so accuracy is the same for the two of them.",
     ["(B)", "class 1", "B is", "student B"]),
    ("01.justify", "Student A is closer than B: both pick the top class 0, and A matches class 1 better.",
     ["(B)", "class 1", "B is", "student B"]),
    ("02.asymmetry_why", "One of them is infinite because of a zero probability in the log.", ["q‖p", "q||p", "reverse"]),
    ("02.asymmetry_why", "KL(p‖q) is infinite because p is zero on class 2, so the log divides by zero.",
     ["q‖p", "q||p", "reverse"]),
    ("02.pick_divergence", "KL(p‖q)", ["JS", "Jensen"]),
    ("03.why_t_squared", "T squared is there because the paper says so, it is a convention.",
     ["1/T", "restor", "shrink"]),
    ("04.bug_report", "The T² factor is missing from the loss, so the result is too small overall.",
     ["order", "swap", "revers", "mean", "B·K", "classes", "q‖p"]),
    ("04.bug_report", "The arguments are swapped and the mean is over all B·K entries, so it is wrong.",
     ["T²", "squared", "factor"]),
    ("05.defend_temperature", "I like this temperature because it looked good in my sweep of the student.",
     ["T = 1", "0.79", "capacity", "hidden units"]),
]


@pytest.mark.parametrize("exercise_id, answer, giveaways", REVEALING)
def test_failure_messages_do_not_give_the_answer_away(exercise_id, answer, giveaways):
    message = _messages(exercise_id, answer)
    assert _points(exercise_id, answer) == 0 and message
    for word in giveaways:
        assert word not in message, f"{exercise_id}: the message reveals {word!r}: {message}"


def test_the_bug_report_says_how_many_bugs_were_found():
    assert "1 of 3 bugs identified" in _messages("04.bug_report", "The T² factor is missing, so the loss is too small.")
    two = "The arguments are swapped, computing the reverse KL, and the T^2 factor is missing from it."
    assert "2 of 3 bugs identified" in _messages("04.bug_report", two)


#: The two level schemes LEVELS holds while chapters move to the second: every chapter covers one whole.
_FOUR_LEVELS = {"compute", "implement", "analyse", "evaluate"}
_BLOOM_LEVELS = ({"remember", "understand"}, {"apply"}, {"analyse"}, {"evaluate"}, {"create"})


def test_every_chapter_covers_all_four_bloom_levels_with_3_to_6_exercises():
    for chapter in registry.CHAPTERS:
        exercises = registry.chapter_exercises(chapter)
        assert 3 <= len(exercises) <= 6, chapter
        levels = {ex.level for ex in exercises}
        assert levels <= set(LEVELS), chapter
        assert levels == _FOUR_LEVELS or all(levels & group for group in _BLOOM_LEVELS), chapter


# --------------------------------------------------------------------------- numeric diagnostics


def _softmax(z, T):
    e = np.exp((z - z.max(-1, keepdims=True)) / T)
    return e / e.sum(-1, keepdims=True)


def _kl(p, q):
    return (p * (np.log(p) - np.log(q))).sum(-1)


def _kd(z, v, T):
    return T**2 * _kl(_softmax(v, T), _softmax(z, T)).mean()


DIAGNOSES = [
    ("04.fix_the_bug", lambda z, v, T: _kd(z, v, T) / T**2, "exactly T² = 4 times too small: did you forget the T²"),
    ("04.fix_the_bug", lambda z, v, T: T**2 * np.mean(_softmax(v, T) * np.log(_softmax(v, T) / _softmax(z, T))),
     "exactly K = 6 times too small"),
    ("04.fix_the_bug", lambda z, v, T: _kd(z, v, T) * len(z), "exactly B = 4 times too large"),
    ("04.fix_the_bug", lambda z, v, T: T**2 * _kl(_softmax(z, T), _softmax(v, T)).mean(), "reverse KL(q_T‖p_T)"),
    ("04.kd_grad", lambda z, v, T: T * (_softmax(z, T) - _softmax(v, T)), "exactly B = 4 times too large"),
    ("04.kd_grad", lambda z, v, T: (_softmax(z, T) - _softmax(v, T)) / (T * len(z)),
     "exactly T² = 9 times too small"),
    ("04.kd_grad", lambda z, v, T: T**2 * (_softmax(z, T) - _softmax(v, T)) / len(z),
     "exactly T = 3 times too large: did you forget the 1/T of the chain rule"),
    ("04.kd_grad", lambda z, v, T: T * (_softmax(v, T) - _softmax(z, T)) / len(z), "wrong sign"),
    ("02.kl_scratch", lambda p, q: _kl(q, p), "this is KL(q‖p): are p and q swapped?"),
    ("02.kl_scratch", lambda p, q: _kl(p, q) / p.shape[-1], "exactly K = 4 times too small"),
    ("02.kl_scratch", lambda p, q: _kl(p, q) / np.log(2), "did you use log2?"),
    ("01.kl_contributions", lambda p, q: q * np.log(q / p), "are p and q swapped?"),
]


@pytest.mark.parametrize("exercise_id, answer, diagnosis", DIAGNOSES, ids=[d[2][:30] for d in DIAGNOSES])
def test_a_common_numeric_bug_is_named(exercise_id, answer, diagnosis):
    ex = registry.get(exercise_id)
    with np.errstate(all="ignore"):
        verdict = run_tests(ex, {ex.name: answer})[0]
    assert verdict.points == 0 and diagnosis in verdict.message, verdict.message


def test_combined_loss_and_grad_norm_diagnoses():
    def no_t2(z, v, labels, T=1.0, hard_weight=0.0):
        ce = -np.mean(np.log(_softmax(z, 1.0))[np.arange(len(z)), labels])
        return hard_weight * ce + (1 - hard_weight) * _kd(z, v, T) / T**2

    def swapped_weights(z, v, labels, T=1.0, hard_weight=0.0):
        ce = -np.mean(np.log(_softmax(z, 1.0))[np.arange(len(z)), labels])
        return (1 - hard_weight) * ce + hard_weight * _kd(z, v, T)

    assert "did you forget T²" in _messages("04.combined", no_t2)
    assert "weights are swapped" in _messages("04.combined", swapped_weights)

    from kdbook.grading.ch03 import STUDENT_LOGITS, TEACHER_LOGITS, TEMPERATURES
    plain = np.array([np.linalg.norm((_softmax(STUDENT_LOGITS, T) - _softmax(TEACHER_LOGITS, T)) / T)
                      for T in TEMPERATURES])
    assert "did you forget the T² factor" in _messages("03.grad_norms", np.stack([plain, plain]))
    assert "carries a factor 1/T" in _messages("03.grad_norms", np.stack([plain, plain * TEMPERATURES**2]) * TEMPERATURES)


def test_temperature_exercises_name_a_transposed_sweep_and_a_flipped_gap():
    from kdbook.grading.ch05 import reference_sweep

    acc = reference_sweep()
    assert "one row per temperature" in _messages("05.temperature_sweep", acc.T)
    assert _points("05.temperature_sweep", acc) == 2
    order = np.argsort(-acc.mean(axis=1), kind="stable")
    assert "wrong sign" in _messages("05.paired_gap", acc[order[1]] - acc[order[0]])
    # Choosing on one seed alone is not what the exercise asks; the mean over seeds is.
    assert _points("05.best_temperature", 8.0) == 0


def _check_output(exercise_id: str, **ns) -> str:
    out = io.StringIO()
    with redirect_stdout(out):
        grading.check(exercise_id, namespace=ns)
    return out.getvalue()


@pytest.mark.parametrize("ex", registry.all_exercises(), ids=lambda ex: ex.id)
def test_the_hint_pointer_follows_every_result_short_of_full_marks(ex):
    stuck = f"Stuck? kdbook.grading.hint({ex.id!r})"
    stub = (lambda *a, **k: (_ for _ in ()).throw(NotImplementedError())) if ex.kind == "function" else ...
    wrong = (lambda *a, **k: 0.0) if ex.kind == "function" else 0.123
    for ns in ({ex.name: stub}, {}, {ex.name: wrong}):
        assert stuck in _check_output(ex.id, **ns), (ex.id, ns)


def _solution_blocks() -> dict[str, list[str]]:
    """Lines of each exercise's solution block, by exercise id."""
    from pathlib import Path

    import nbformat

    out: dict[str, list[str]] = {}
    for path in sorted((Path(__file__).resolve().parents[1] / "solutions").glob("[0-9][0-9]_*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            src = cell.source
            for tag in cell.metadata.get("tags", []):
                if "### BEGIN SOLUTION" in src:
                    block = src.split("### BEGIN SOLUTION", 1)[1].split("### END SOLUTION", 1)[0]
                    out[tag] = [line.strip() for line in block.splitlines()]
    return out


def test_hints_are_nudges_not_the_solution_code():
    blocks = _solution_blocks()
    for ex in registry.all_exercises():
        hint = " ".join(ex.hint.split())
        for line in blocks[ex.id]:
            if len(line) >= 25 and not line.startswith(("#", '"', "'")):
                assert line not in hint, f"{ex.id}: the hint contains the solution line {line!r}"


def test_exercise_texts_state_the_sources_correctly():
    from pathlib import Path

    import nbformat

    root = Path(__file__).resolve().parents[1]

    def text(name):
        return "\n".join(c.source for c in nbformat.read(root / "solutions" / name, as_version=4).cells)

    ch1 = text("01_teacher_and_student.ipynb")
    # Chapter 1's running example has three classes and students A, B, C; this one is new.
    assert "running example" not in ch1 and "A new example in the style of chapter 1" in ch1
    ch5 = text("05_training_a_toy_student.ipynb")
    assert "30 units per hidden layer" in ch5 and "2.5–4" in ch5 and "smallest students" not in ch5

"""Chapter 1 exercises: the teacher, candidate students and the KL ranking.

Answers live in ``solutions/01_teacher_and_student.ipynb``; learners get
``exercises/01_teacher_and_student.ipynb``.
"""
from __future__ import annotations

import numpy as np

from .. import divergences as _div
from . import _draw
from ._core import Call, Exercise, Fail, Test, as_array, expect_close
from ._text import key_facts, says

__all__ = ["EXERCISES", "TEACHER", "STUDENT_A", "STUDENT_B"]

#: A new example in the style of chapter 1 (also in the exercise notebook's given cell).
TEACHER = np.array([0.70, 0.20, 0.08, 0.02])
STUDENT_A = np.array([0.90, 0.05, 0.03, 0.02])
STUDENT_B = np.array([0.60, 0.25, 0.10, 0.05])


def _contributions(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(p > 0, p * (np.log(p) - np.log(q)), 0.0)


# --------------------------------------------------------------------------- kl_contributions


def _contrib_random(rng):
    return [Call((_draw.probs(rng, (4, 6)), _draw.probs(rng, (4, 6))))]


def _contrib_zeros(rng):
    p = _draw.probs(rng, (3, 5), zeros=0.4)
    return [Call((p, _draw.probs(rng, (3, 5))))]


def _contrib_hidden(rng):
    p = _draw.probs(rng, (2, 3, 5), zeros=0.3)
    q, _ = _draw.with_zero_where_positive(rng, p)
    return [Call((p, q))]


def _judge_contrib(calls, outs):
    p, q = calls[0].args
    got = as_array(outs[0], "kl_contributions(p, q)", p.shape)
    expect_close(got, _contributions(p, q), "kl_contributions(p, q)", suspects=(
        (_contributions(q, p), "these are the terms of KL(q‖p): are p and q swapped?"),
        (-_contributions(p, q), "every term has the wrong sign: log(p/q), not log(q/p)"),
    ))
    if not np.isclose(got.sum(), _div.kl_divergence(p, q).sum()):
        raise Fail("the contributions of a row should add up to KL(p‖q)")


# --------------------------------------------------------------------------- rank_students


def _rank_cases(rng):
    p = _draw.probs(rng, (6,))
    return [Call((p, _draw.probs(rng, (5, 6))))]


def _rank_edge_cases(rng):
    p = _draw.probs(rng, (5,))
    students = _draw.probs(rng, (4, 5))
    students[1] = p  # a perfect student ranks first
    students[2], _ = _draw.with_zero_where_positive(rng, p)  # missing support ranks last
    return [Call((p, students))]


def _judge_rank(calls, outs):
    p, students = calls[0].args
    got = as_array(outs[0], "rank_students(p, students)", (len(students),))
    want = np.argsort(_div.kl_divergence(p, students), kind="stable")
    if not np.array_equal(np.sort(got), np.arange(len(students))):
        raise Fail(f"rank_students should return the student indices 0..{len(students) - 1} in some order, "
                   f"got {got.tolist()}")
    if not np.array_equal(got, want):
        raise Fail(f"ranking should be {want.tolist()} (smallest KL(p‖q) first), got {got.astype(int).tolist()}")


# --------------------------------------------------------------------------- blame and justification


def _judge_worst_class(calls, outs):
    terms = _contributions(TEACHER, STUDENT_A)
    got = float(as_array(outs[0], "worst_class", ()))
    if not (got.is_integer() and 0 <= got < TEACHER.size):
        raise Fail(f"worst_class should be a class index 0..{TEACHER.size - 1}, got {got:g}")
    if int(got) != int(np.argmax(terms)):
        raise Fail(f"class {int(got)} contributes {terms[int(got)]:.4f} nats to KL(teacher‖A); another class "
                   f"contributes more")


def _judge_closer(calls, outs):
    got = outs[0]
    if not isinstance(got, str) or got.strip().upper().removeprefix("STUDENT").strip() not in ("A", "B"):
        raise Fail(f'closer should be the string "A" or "B", got {got!r}')
    if got.strip().upper()[-1] != "B":
        raise Fail("that student is not the closer one in KL(teacher‖student): compare the two divergences")


# Student A or B as a subject: a capital letter (not the article "a"), not inside KL(teacher‖A).
_A = r"\b(?:student )?(?-i:A)\b(?!\))"
_B = r"\b(?:student )?(?-i:B)\b(?!\))"
_A_WINS = r"closer|nearer|better|preferable|\bwins\b|(?:smaller|lower) (?:KL|divergence)"
_B_LOSES = r"farther|further|worse|(?:larger|bigger|higher) (?:KL|divergence)"


def _judge_justify(calls, outs):
    key_facts(outs[0], [
        ("your answer does not yet say what the two students have in common (why accuracy alone cannot "
         "separate them)", r"top|argmax|most likely|same (class|prediction|answer|label)|accura|both[^.;]*class 0"),
        ("your answer does not yet say where the farther student loses most of its divergence",
         r"class 1|second(?:-most likely| most likely)? class|runner.up|0\.05\b|0\.277|0\.28\b|dark knowledge|"
         r"other class|remaining class"),
    ], wrong=(
        ("your answer's claim about which student is closer contradicts the divergences: compare "
          "KL(teacher‖A) with KL(teacher‖B)",
         says(_A, _A_WINS, stop=_B) + "|" + says(_B, _B_LOSES, stop=_A)
         + r"|(?:keep|choose|prefer|pick|select|recommend)\s+(?:student\s+)?(?-i:A)\b"
         + r"|(?:closer|nearer|better) than (?:student )?B\b"),
    ))


EXERCISES = (
    Exercise(
        id="01.kl_contributions", title="Per-class contributions to KL", name="kl_contributions",
        kind="function", level="implement",
        hint="Each term is p_i·(log p_i − log q_i). Compute it with np.where(p > 0, ..., 0.0) inside "
             "np.errstate(divide='ignore', invalid='ignore') so that 0·log 0 counts as 0.",
        tests=(
            Test("matches p·log(p/q) on a random batch", 1, _judge_contrib, _contrib_random),
            Test("terms where p_i = 0 are exactly 0", 1, _judge_contrib, _contrib_zeros),
            Test("3-D batch with zeros, and inf where q_i = 0 < p_i", 1, _judge_contrib, _contrib_hidden, hidden=True),
        ),
    ),
    Exercise(
        id="01.rank_students", title="Rank candidate students by KL", name="rank_students",
        kind="function", level="compute",
        hint="kdbook.kl_divergence(p, students) broadcasts p over the rows of students; np.argsort "
             "then orders the students from the smallest divergence to the largest.",
        tests=(
            Test("ranks five random students", 2, _judge_rank, _rank_cases),
            Test("a perfect student first, one missing support last", 1, _judge_rank, _rank_edge_cases, hidden=True),
        ),
    ),
    Exercise(
        id="01.worst_class", title="Which class costs student A the most?", name="worst_class",
        kind="value", level="analyse",
        hint="Use your kl_contributions(TEACHER, STUDENT_A) and take the index of the largest term.",
        tests=(Test("the class with the largest KL term", 1, _judge_worst_class),),
    ),
    Exercise(
        id="01.closer", title="Which student is closer?", name="closer",
        kind="value", level="evaluate",
        hint="Compute KL(teacher‖student) for both students; the smaller divergence is the closer student.",
        tests=(Test("the closer student in KL", 1, _judge_closer),),
    ),
    Exercise(
        id="01.justify", title="Justify the ranking", name="justify_ranking",
        kind="text", level="evaluate",
        hint="Both students put most mass on class 0. Compare what each says about class 1.",
        tests=(Test("gives the reason behind the ranking", 2, _judge_justify),),
    ),
)

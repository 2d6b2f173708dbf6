"""Chapter 1 exercises: the teacher, candidate students and the KL ranking.

Answers live in ``solutions/01_teacher_and_student.ipynb``; learners get
``exercises/01_teacher_and_student.ipynb``.
"""
from __future__ import annotations

import numpy as np

from .. import divergences as _div
from . import _draw
from ._core import Call, Exercise, Fail, Statement, Test, as_array, expect_close, select_tests
from ._predict import as_distribution, prediction_tests

__all__ = ["EXERCISES", "TEACHER", "STUDENT_A", "STUDENT_B", "STUDENT_C", "JUSTIFY_STATEMENTS", "best_capped",
           "spread_evenly"]

#: A new example in the style of chapter 1 (also in the exercise notebook's given cell).
TEACHER = np.array([0.70, 0.20, 0.08, 0.02])
STUDENT_A = np.array([0.90, 0.05, 0.03, 0.02])
STUDENT_B = np.array([0.60, 0.25, 0.10, 0.05])
#: The teacher's four numbers given to other classes (the prediction of 01.predict_shuffled).
STUDENT_C = np.array([0.20, 0.70, 0.02, 0.08])


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
    """A teacher and five students whose ranking by KL(p‖q) is not its own inverse (so the students'
    ranks, argsort applied twice, differ from it) and differs from the ranking by KL(q‖p)."""
    p = _draw.probs(rng, (6,))
    while True:
        students = _draw.probs(rng, (5, 6))
        order = np.argsort(_div.kl_divergence(p, students))
        if not (np.array_equal(order[order], np.arange(len(order)))
                or np.array_equal(order, np.argsort(_div.kl_divergence(students, p)))):
            return [Call((p, students))]


def _rank_edge_cases(rng):
    p = _draw.probs(rng, (5,))
    students = _draw.probs(rng, (4, 5))
    students[1] = p  # a perfect student ranks first
    students[2], _ = _draw.with_zero_where_positive(rng, p)  # missing support ranks last
    return [Call((p, students))]


def _judge_rank(calls, outs):
    p, students = calls[0].args
    got = as_array(outs[0], "rank_students(p, students)", (len(students),))
    if not np.array_equal(np.sort(got), np.arange(len(students))):
        raise Fail(f"rank_students should return the student indices 0..{len(students) - 1} in some order, "
                   f"got {got.tolist()}")
    kl = _div.kl_divergence(p, students)[got.astype(int)]
    with np.errstate(invalid="ignore"):
        worse = (kl[1:] < kl[:-1]) & ~(np.isinf(kl[1:]) & np.isinf(kl[:-1]))
    if worse.any():  # ties may come in either order; the message never prints the expected ranking
        k = int(np.argmax(worse))
        forward = _div.kl_divergence(p, students)
        why = ""
        if np.array_equal(got, np.argsort(_div.kl_divergence(students, p), kind="stable")):
            why = " (this is the order by KL(q‖p), the other direction)"
        elif np.array_equal(got, np.argsort(np.argsort(forward, kind="stable"), kind="stable")):
            why = " (these are the students' ranks; the answer lists the students themselves, closest first)"
        raise Fail(f"position {k} of your ranking holds student {int(got[k])}, but the student you ranked next "
                   f"has a smaller KL(p‖q): order them from the smallest divergence to the largest{why}")


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


#: The statements of 01.justify (true ones checked against TEACHER, STUDENT_A and STUDENT_B in the tests).
JUSTIFY_STATEMENTS = (
    Statement("Both students give their largest probability to class 0, as the teacher does, so top-1 accuracy "
              "cannot tell them apart."),
    Statement("Student A is closer to the teacher because it is more confident on the teacher's top class."),
    Statement("The largest term of KL(teacher‖A) is class 1's: A gives it 0.05 where the teacher gives 0.20."),
    Statement("KL(teacher‖A) is smaller than KL(teacher‖B)."),
    Statement("Class 0 adds the most to KL(teacher‖A), because A's 0.90 is far from the teacher's 0.70."),
)


# --------------------------------------------------------------------------- capped_student (create)


def spread_evenly(p: np.ndarray, cap: float) -> np.ndarray:
    """The baseline of 01.capped_student: clip every class at ``cap`` and share the excess equally
    among the classes below the cap, until no class is above it."""
    q = np.asarray(p, dtype=np.float64).copy()
    for _ in range(q.size):
        over = q > cap
        if not over.any():
            break
        excess = float((q[over] - cap).sum())
        q[over] = cap
        under = q < cap
        q[under] += excess / under.sum()
    return q


def best_capped(p: np.ndarray, cap: float) -> np.ndarray:
    """The student closest to ``p`` in KL(p‖q) with every q_i ≤ cap: q_i = min(cap, c·p_i), with c
    found by bisection so that q sums to 1 (the grader's yardstick for 01.capped_student)."""
    p = np.asarray(p, dtype=np.float64)
    lo, hi = 0.0, 1.0 / cap / p[p > 0].min()
    for _ in range(200):
        c = 0.5 * (lo + hi)
        lo, hi = (lo, c) if np.minimum(cap, c * p).sum() > 1.0 else (c, hi)
    q = np.minimum(cap, lo * p)
    return q / q.sum()


def _gain(p: np.ndarray, cap: float) -> float:
    """The fraction of the baseline's KL that the best capped student saves."""
    base = float(_div.kl_divergence(p, spread_evenly(p, cap)))
    return 1.0 - float(_div.kl_divergence(p, best_capped(p, cap))) / base


def _capped_cases(n: int):
    """``n`` teachers over 4–8 classes with caps in [0.25, 0.6] below their top class, where the best
    capped student saves at least 5 % of the baseline's KL (so that the baseline itself cannot pass)."""
    def cases(rng):
        calls = []
        while len(calls) < n:
            k = int(rng.integers(4, 9))
            p = rng.dirichlet(np.full(k, 0.6))
            cap = float(np.round(rng.uniform(max(1.5 / k, 0.25), 0.6), 3))
            if p.max() > cap + 0.05 and p.min() > 1e-4 and _gain(p, cap) >= 0.05:
                calls.append(Call((p, cap)))
        return calls
    return cases


def _capped_fixed(rng):
    return [Call((TEACHER, 0.5)), Call((np.array([0.55, 0.25, 0.12, 0.05, 0.03]), 0.4))]


def _check_capped(call, out) -> tuple[float, float, float]:
    """(KL of the answer, of the baseline, of the best student) after checking the constraint."""
    p, cap = call.args
    what = f"capped_student(p, cap={cap:g}) for a teacher over {p.size} classes"
    q = as_distribution(out, what, p.size)
    if q.max() > cap + 1e-9:
        raise Fail(f"{what} gives {q.max():.4f} to a class, above the cap {cap:g}")
    return (float(_div.kl_divergence(p, q)), float(_div.kl_divergence(p, spread_evenly(p, cap))),
            float(_div.kl_divergence(p, best_capped(p, cap))))


def _judge_capped_baseline(calls, outs):
    for call, out in zip(calls, outs):
        mine, base, best = _check_capped(call, out)
        if not mine <= base - 0.5 * (base - best):
            raise Fail(f"KL(p‖your student) = {mine:.4f} on a teacher over {call.args[0].size} classes; clipping "
                       f"and spreading the excess evenly reaches {base:.4f}, and a capped student as close as "
                       f"{best:.4f} exists: the excess can be shared out in a way that costs less")


def _judge_capped_best(calls, outs):
    for call, out in zip(calls, outs):
        mine, _, best = _check_capped(call, out)
        if not mine <= best + 1e-6:
            raise Fail(f"KL(p‖your student) = {mine:.6f} on a teacher over {call.args[0].size} classes; a "
                       f"student under the same cap reaches {best:.6f}")


EXERCISES = (
    Exercise(
        id="01.kl_contributions", title="Per-class contributions to KL", name="kl_contributions",
        kind="function", level="apply",
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
        kind="function", level="apply",
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
        kind="value", level="apply",
        hint="Compute KL(teacher‖student) for both students; the smaller divergence is the closer student.",
        tests=(Test("the closer student in KL", 1, _judge_closer),),
    ),
    Exercise(
        id="01.justify", title="Justify the ranking", name="justify_claims",
        kind="select", level="understand", statements=JUSTIFY_STATEMENTS,
        reasoning="justify_ranking", manual_points=1,
        hint="Both students put most mass on class 0. Compare what each says about class 1, term by term.",
        tests=select_tests(JUSTIFY_STATEMENTS, 2),
    ),
    Exercise(
        id="01.predict_shuffled", title="Predict: the teacher's numbers on other classes", name="predict_shuffled",
        kind="prediction", level="understand",
        hint="KL(p‖q) adds one term per class, p_i·log(p_i/q_i). Which classes get which numbers in C?",
        tests=prediction_tests(3),
    ),
    Exercise(
        id="01.capped_student", title="Design a student under a confidence cap", name="capped_student",
        kind="function", level="create",
        hint="Only −Σ p_i log q_i depends on q. Minimise it over the classes below the cap with a Lagrange "
             "multiplier for Σ q_i = 1: what does the stationarity condition say about q_i/p_i on those classes? "
             "Then find the one constant that makes q sum to 1 (bisection works).",
        tests=(
            Test("respects the cap and clearly beats spreading evenly on two teachers", 1, _judge_capped_baseline,
                 _capped_fixed),
            Test("clearly beats spreading evenly on six fresh teachers", 2, _judge_capped_baseline, _capped_cases(6),
                 hidden=True),
            Test("as close to the teacher as any capped student, on six fresh teachers", 1, _judge_capped_best,
                 _capped_cases(6), hidden=True),
        ),
    ),
)

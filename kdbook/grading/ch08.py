"""Chapter 8 exercises: context distillation.

Answers live in ``solutions/08_context_distillation.ipynb``; learners get
``exercises/08_context_distillation.ipynb``. The create item (a training mix) is graded on
behaviour: the grader trains the short-prompt student with the learner's mix on its own seeds
and measures both sides on held-out queries (:func:`mix_outcome`), under a tight and a loose drift
budget and a cost rule for keep rows (:func:`max_keep_share`), so that the budget argument matters.
Its machinery, judge and measured margins live in :mod:`kdbook.grading._ch08_mix`; the names are
re-exported here.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ..divergences import kl_divergence
from ..losses import kd_loss, kd_loss_and_grad
from ..softmax import log_softmax, softmax
from . import _draw
from ._ch08_mix import (KEEP_COST, QUALITY, _judge_mix, _mix_hidden, _mix_public, max_keep_share, mix_outcome,
                       original_model)
from ._core import Call, Exercise, Fail, Test, as_array, expect_close, factor_suspects, select_tests
from .ch08_statements import COLLAPSE_STATEMENTS, RECIPE_STATEMENTS
from ._predict import prediction_tests

__all__ = ["EXERCISES", "TEACHER", "CANDIDATES", "RANK_TEMPERATURES", "SCENARIOS", "QUALITY", "mix_outcome",
           "original_model", "NEUTRAL_PREFIX", "PROMPT_PREFIX", "RECIPE_STATEMENTS",
           "COLLAPSE_STATEMENTS", "PAIR_CONTEXTS", "KEEP_COST", "max_keep_share"]

# --------------------------------------------------------------------------- the opening question, again

#: The prompted teacher's answer distribution and the candidate students of exercise 8.1.
TEACHER = np.array([0.70, 0.20, 0.10])
CANDIDATES = {"D": np.array([0.64, 0.18, 0.18]), "E": np.array([0.70, 0.12, 0.18]), "F": np.array([0.74, 0.22, 0.04])}
#: Temperatures of exercise 8.1's two rankings.
RANK_TEMPERATURES = (1.0, 3.0)


def _ranking(T: float, *, reverse: bool = False, probs_as_logits: bool = False) -> list[str]:
    """Candidates best first by T²·KL(p_T‖q_T) (``reverse``: by T²·KL(q_T‖p_T), the wrong direction;
    ``probs_as_logits``: softmax of the probabilities instead of their logarithms, a common slip)."""
    as_logits = (lambda x: x) if probs_as_logits else np.log
    p_T = softmax(as_logits(TEACHER), T=T)
    soft = {n: T**2 * float(kl_divergence(*((softmax(as_logits(q), T=T), p_T) if reverse
                                              else (p_T, softmax(as_logits(q), T=T)))))
            for n, q in CANDIDATES.items()}
    return sorted(soft, key=soft.get)


def _as_names(x, what: str) -> list[str]:
    if isinstance(x, str) or not isinstance(x, (list, tuple)) or not all(isinstance(i, str) for i in x):
        raise Fail(f"{what} should be a list of student names such as ['D', 'E', 'F'], got {x!r}"[:200])
    names = [i.strip().upper() for i in x]
    if sorted(names) != sorted(CANDIDATES):
        raise Fail(f"{what} should list each of {', '.join(CANDIDATES)} exactly once, got {names}")
    return names


def _judge_rankings(calls, outs):
    got = outs[0]
    if not isinstance(got, (list, tuple)) or len(got) != 3:
        raise Fail("rankings should be a tuple of three entries: (ranking at T = 1, ranking at T = 3, "
                   "the student the top-1 view picks)")
    both = [_as_names(x, f"the ranking at T = {T:g}") for T, x in zip(RANK_TEMPERATURES, got[:2])]
    if all(names == _ranking(T, probs_as_logits=True) != _ranking(T) for T, names in zip(RANK_TEMPERATURES, both)):
        raise Fail("both rankings are the rankings with the probabilities themselves as logits: take softmax of "
                   "their logarithms, softmax(log p / T)")
    for T, names in zip(RANK_TEMPERATURES, both):
        want = _ranking(T)
        if names != want and names == _ranking(T, reverse=True) and all(names != _ranking(t) for t in RANK_TEMPERATURES):
            raise Fail(f"the ranking at T = {T:g} is the ranking by the reverse KL(q_T‖p_T): the objective is "
                       f"KL(p_T‖q_T), the teacher's distribution first (and the logits are the probabilities' "
                       f"logarithms)")
        if names != want and T != RANK_TEMPERATURES[0] and names == _ranking(RANK_TEMPERATURES[0]):
            raise Fail(f"the ranking at T = {T:g} is the ranking at T = {RANK_TEMPERATURES[0]:g}: recompute with the "
                       f"temperature")
        if names != want:
            raise Fail(f"the ranking at T = {T:g} is not right: rank by T²·KL(p_T‖q_T), the smallest first")
    top1 = min(CANDIDATES, key=lambda n: abs(CANDIDATES[n][0] - TEACHER[0]))
    pick = got[2].strip().upper() if isinstance(got[2], str) else got[2]
    if pick != top1:
        raise Fail("the third entry should be the student the top-1 view picks: every student agrees with the "
                   "teacher's top answer, so it looks at the top answer's probability")


# --------------------------------------------------------------------------- the loss


def _batch(rng, B, L, V, *, nan=True, scale=2.0):
    z = _draw.logits(rng, (B, L, V), scale=scale)
    v = _draw.logits(rng, (B, L, V), scale=scale)
    lengths = rng.integers(1, L + 1, size=B)
    start = rng.integers(0, 2, size=B)  # a query word or two that does not count
    col = np.arange(L)[None, :]
    mask = (col >= start[:, None]) & (col < np.maximum(lengths, start + 1)[:, None])
    garbage = np.nan if nan else 50.0
    z[~mask], v[~mask] = garbage, -garbage
    return z, v, mask


def _loss_cases(*specs):
    # each spec: (B, L, V, T, NaN in masked positions[, logit scale]); a scale of 1000 overflows a naive softmax
    def cases(rng):
        out = []
        for B, L, V, T, nan, *scale in specs:
            z, v, m = _batch(rng, B, L, V, nan=nan, scale=scale[0] if scale else 2.0)
            out.append(Call((z, v, m), {"T": float(T)}))
        return out
    return cases


def _judge_loss(calls, outs):
    for call, out in zip(calls, outs):
        z, v, m = call.args
        T = call.kwargs["T"]
        what = f"cd_loss(z, v, mask, T={T:g})"
        want = float(kd_loss(z, v, T=T, mask=m, reduction="tokenmean"))
        zz, vv = np.where(m[..., None], z, 0.0), np.where(m[..., None], v, 0.0)
        suspects = ((float(kd_loss(zz, vv, T=T, mask=m, reduction="tokenmean", divergence="reverse")),
                     "this is the reverse KL(q_T‖p_T): the teacher's distribution goes first"),)
        suspects += factor_suspects(want, "your loss", (
            ("T²", T**2, "did you forget the T² factor?", None),
            ("tokens per sequence", m.sum() / len(m), None,
             "did you divide by the number of sequences B instead of the number of unmasked tokens?"),
            ("B·L", m.size / m.sum(), "did you divide by all B·L positions instead of the unmasked ones?", None),
        ))
        expect_close(as_array(out, what, ()), want, what, rtol=1e-6, atol=1e-10, suspects=suspects)


# --------------------------------------------------------------------------- the soft-prompt gradient


def soft_prompt_reference(pre, U, teacher_logits, mask, T=1.0):
    """∂L/∂σ for logits z = tanh(pre) U, pre = a + σ, L the token-mean T²·KL over the mask."""
    h = np.tanh(pre)
    z = h @ U
    _, g = kd_loss_and_grad(z, np.where(mask[..., None], teacher_logits, 0.0), T=T, mask=mask, reduction="tokenmean")
    return ((g @ U.T) * (1.0 - h * h)).sum(axis=(0, 1))


def _grad_cases(*specs):
    def cases(rng):
        out = []
        for B, L, H, V, T in specs:
            pre = rng.normal(0.0, 1.0, size=(B, L, H))
            U = rng.normal(0.0, 1.0 / np.sqrt(H), size=(H, V))
            _, v, m = _batch(rng, B, L, V, nan=True)
            out.append(Call((pre, U, v, m), {"T": float(T)}))
        return out
    return cases


def _judge_grad(calls, outs):
    for call, out in zip(calls, outs):
        pre, U, v, m = call.args
        T = call.kwargs["T"]
        what = f"soft_prompt_grad(pre, U, v, mask, T={T:g})"
        want = soft_prompt_reference(pre, U, v, m, T)
        h = np.tanh(pre)
        _, g = kd_loss_and_grad(h @ U, np.where(m[..., None], v, 0.0), T=T, mask=m, reduction="tokenmean")
        suspects = (((g @ U.T).sum(axis=(0, 1)), "the tanh's derivative 1 − tanh² is missing"),
                    (-want, "every entry has the wrong sign"))
        suspects += factor_suspects(want, "your gradient", (
            ("the number of unmasked tokens", m.sum(), None, "did you sum the loss instead of averaging it over the "
             "unmasked tokens?"),
            ("T", T, "did you drop a factor T (the loss carries T², the chain rule 1/T)?", None),
        ))
        expect_close(as_array(out, what, (pre.shape[-1],)), want, what, rtol=1e-6, atol=1e-10, suspects=suspects)


# --------------------------------------------------------------------------- keep the prompt or distil?


@dataclasses.dataclass(frozen=True)
class Scenario:
    """A deployment: what the prompt costs per query and what distillation costs and reaches."""

    name: str
    prompt_tokens: int  # P, read on every query when the prompt is kept
    queries: int  # N, queries expected over the model's lifetime
    training_passes: int  # D, position-passes to distil once (teacher writing and scoring + student training)
    distilled_kl: float  # measured KL(teacher ‖ distilled student) per response token
    max_kl: float  # quality bar: the most KL to the prompted teacher the product accepts


#: Exercise 8.4's three deployments.
SCENARIOS = (
    Scenario("support bot", 1200, 2_000_000, 400_000_000, 0.004, 0.01),
    Scenario("internal tool", 40, 50_000, 5_000_000, 0.002, 0.01),
    Scenario("legal drafting", 900, 5_000_000, 300_000_000, 0.03, 0.01),
)


def _choices(got) -> list[str]:
    """The decisions as a list of 'distil'/'keep' (a list, a tuple or an array of strings), or :class:`Fail`."""
    if not isinstance(got, (list, tuple)) or len(got) != len(SCENARIOS):
        raise Fail(f"decisions should be a list of {len(SCENARIOS)} choices, one per scenario, each 'distil' or 'keep'")
    choices = [g.strip().lower() if isinstance(g, str) else g for g in got]
    if any(c not in ("distil", "keep") for c in choices):
        raise Fail("each decision should be the string 'distil' or 'keep'")
    return choices


def _judge_decisions_form(calls, outs):
    _choices(outs[0])


def _judge_decisions(calls, outs, key):
    # One message whatever is wrong, and only at grading (the right decisions are the instructor's key,
    # from the solution notebook): with three yes/no choices, a message that said how many are wrong
    # would let repeated checks find the answer.
    if _choices(outs[0]) != _choices(key["answer"]):
        raise Fail("not every decision follows from the numbers: check both the quality bar and the cost of each "
                   "deployment")


# --------------------------------------------------------------------------- the teacher/student pair

#: Contexts the grader draws for 08.teacher_student (the full prompt, and others, so that none can be hard-coded).
PAIR_CONTEXTS = (("brief", "polite"), ("polite",), ("brief",), ("animals", "polite"))
#: The first call of every test reads one of these: several instructions, none of them the chapter's prompt, so an
#: answer that reads only part of the context (its first instruction, say) or the chapter's prompt fails every test.
_PAIR_FIRST = (("animals", "polite"), ("animals", "brief"), ("animals", "brief", "polite"))


def _pair_cases(*sizes):
    def cases(rng):
        from ..lm.context import respond, sample_queries, set_prompt

        lang, model = original_model()
        out = []
        for k, n in enumerate(sizes):
            pool = _PAIR_FIRST if k == 0 else PAIR_CONTEXTS
            context = pool[int(rng.integers(len(pool)))]
            q = sample_queries(lang, n, words=2, seed=int(rng.integers(2**31)))
            rows = set_prompt(respond(model, q, context=context, seed=int(rng.integers(2**31))).inputs, lang, None)
            out.append(Call((model.copy(), rows, context), {}))
        return out
    return cases


def _judge_pair(calls, outs):
    from ..lm.context import set_prompt

    for call, out in zip(calls, outs):
        model, rows, context = call.args
        what = f"teacher_and_student(model, rows, context={context!r})"
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise Fail(f"{what} should return a pair (teacher_logits, student_logits)")
        _, reference = original_model()
        # logits are compared up to a constant per position (log-probabilities are as good as logits)
        want_t = log_softmax(reference.logits(set_prompt(rows, reference, context)))
        want_s = log_softmax(reference.logits(set_prompt(rows, reference, None)))
        t, st = (log_softmax(as_array(x, f"{what}[{i}]", want_t.shape)) for i, x in enumerate(out))
        if np.allclose(t, st, atol=1e-12):
            side = "teacher" if np.allclose(t, want_s, atol=1e-9) else "student"
            raise Fail(f"{what}: teacher and student logits are identical, so the distillation loss is exactly 0 "
                       f"from the first step and nothing trains, without any error (the {side} reads the wrong "
                       f"rows). The teacher must read the prompt: kdbook.lm.context.set_prompt(rows, model, context)")
        if np.allclose(t, want_s, atol=1e-9) and np.allclose(st, want_t, atol=1e-9):
            raise Fail(f"{what}: teacher and student are swapped: the teacher reads c, the student reads no prompt")
        suspects = [(log_softmax(reference.logits(set_prompt(rows, reference, c))), why) for c, why in (
            (context[:1], "the teacher reads only the first instruction: pass the whole context to set_prompt"),
            (("brief", "polite"), "the teacher reads the chapter's prompt, not the context asked"),
        ) if tuple(c) != tuple(context)]
        sides = ((t, want_t, tuple(suspects), "the teacher's log-probabilities, read with c"),
                 (st, want_s, (), "the student's log-probabilities, read without a prompt"))
        for i, (got, want, sus, whose) in enumerate(sides):
            try:
                expect_close(got, want, f"log_softmax({what}[{i}])", rtol=1e-9, atol=1e-9, suspects=sus)
            except Fail as err:  # the numbers shown are log-probabilities, not the logits returned
                raise Fail(f"{err} ({whose}; logits are compared up to a constant per position)") from None


# --------------------------------------------------------------------------- the prediction

#: 08.predict_neutral: the verb comes next, so the exact language's next token does not depend on the
#: prompt; and the prefix after which the prompt does matter (the sentence may end or take an adverb).
NEUTRAL_PREFIX = "the dog"
PROMPT_PREFIX = "the dog sleeps"


EXERCISES = (
    Exercise(
        id="08.rankings", title="Rank context-distilled students, twice", name="rankings",
        kind="value", level="apply",
        hint="Compute T²·KL(p_T‖q_T) for each student with the probabilities' logarithms as logits "
             "(kdbook.softmax(np.log(p), T=T)); sort ascending. The top-1 view compares only the top answer's "
             "probability.",
        tests=(Test("rankings at T = 1 and T = 3, and the top-1 pick", 2, _judge_rankings),),
    ),
    Exercise(
        id="08.cd_loss", title="The context-distillation loss over a masked batch", name="cd_loss",
        kind="function", level="apply",
        # only names no other library uses, so that an answer using scipy.special.softmax / log_softmax or
        # scipy.stats.entropy is told it used scipy (off-limits in every implement-exercise), not kdbook
        forbid=("kd_loss", "kd_loss_and_grad", "kl_divergence", "reverse_kl_divergence", "context_distillation_loss"),
        hint="Take log-softmax of z/T and of v/T with the log-sum-exp trick, KL per position = Σ p (log p − log q), "
             "multiply by T², then average over the positions where the mask is True only (np.where first, so "
             "NaN in masked positions cannot leak).",
        tests=(
            Test("random batches with padding, T = 1 and T = 2, and logits of size 1000", 2, _judge_loss,
                 _loss_cases((4, 6, 5, 1.0, False), (3, 7, 11, 2.0, True), (3, 5, 7, 1.0, True, 1000.0))),
            Test("a larger batch with NaN where the mask is off, T = 0.5", 1, _judge_loss,
                 _loss_cases((16, 12, 51, 0.5, True)), hidden=True),
        ),
    ),
    Exercise(
        id="08.soft_prompt_grad", title="The gradient of the soft prompt", name="soft_prompt_grad",
        kind="function", level="apply",
        hint="σ is added to the pre-activation at every position, so ∂L/∂σ = Σ over batch and positions of "
             "∂L/∂pre. Back-propagate: ∂L/∂z from kdbook.kd_loss_and_grad (tokenmean, with the mask), then "
             "∂L/∂h = (∂L/∂z) Uᵀ, then ∂L/∂pre = ∂L/∂h ⊙ (1 − tanh(pre)²).",
        tests=(
            Test("matches the analytic gradient on random models", 2, _judge_grad,
                 _grad_cases((3, 5, 4, 6, 1.0), (2, 4, 7, 9, 2.0))),
            Test("a larger model, T = 0.5", 1, _judge_grad, _grad_cases((8, 10, 16, 51, 0.5)), hidden=True),
        ),
    ),
    Exercise(
        id="08.keep_or_distil", title="Keep the prompt or distil it?", name="decisions",
        kind="value", level="evaluate", reasoning="decision_reasons", manual_points=1,
        hint="Distil only when the distilled student meets the product's quality bar AND the prompt tokens saved "
             "over all queries (N·P) exceed the one-off cost of distilling.",
        tests=(Test("three choices, each 'distil' or 'keep'", 0, _judge_decisions_form),
               Test("the choice for each of the three deployments", 2, _judge_decisions, hidden=True,
                    keyed=True)),
    ),
    Exercise(
        id="08.recipe_claims", title="Which recipe puts a prompt into the weights?", name="recipe_claims",
        kind="select", level="evaluate", statements=RECIPE_STATEMENTS, reasoning="recipe_choice", manual_points=1,
        hint="Read each statement against chapter 8's table of students, the paired differences and the "
             "training-mix table: is the number quoted right, and does it support the conclusion drawn from it?",
        tests=select_tests(RECIPE_STATEMENTS, 2, "statements the chapter's measurements support"),
    ),
    Exercise(
        id="08.teacher_student", title="Build the teacher/student pair", name="teacher_and_student",
        kind="function", level="apply",
        hint="Both are the same model: the teacher reads the rows with the prompt (set_prompt(rows, model, context)), "
             "the student without (set_prompt(rows, model, None), or the rows as given). If the two logit arrays "
             "are equal, the loss is 0 and nothing trains.",
        tests=(
            Test("teacher reads c, student reads no prompt, on the grader's rows", 2, _judge_pair, _pair_cases(20, 33)),
            Test("another context and other rows", 1, _judge_pair, _pair_cases(41), hidden=True),
        ),
    ),
    Exercise(
        id="08.collapse_cause", title="Why the sequence-level student collapses", name="collapse_cause",
        kind="select", level="analyse", statements=COLLAPSE_STATEMENTS, reasoning="collapse_reason", manual_points=1,
        hint="Compare rows of the 2 × 2 that differ in one factor only: same data, other target; same target, "
             "other data. Which change moves the KL by a factor of a hundred?",
        tests=select_tests(COLLAPSE_STATEMENTS, 2, "statements the 2 × 2 supports"),
    ),
    Exercise(
        id="08.predict_neutral", title="Predict: does the prompt change the model where it should not?",
        name="predict_neutral", kind="prediction", level="understand",
        hint="The exact language ignores the prompt when the verb comes next. The model is not the language: "
             "how does its context channel enter the computation, and at which positions?",
        tests=prediction_tests(3),
    ),
    Exercise(
        id="08.training_mix", title="Design a training mix within a KL budget", name="training_mix",
        kind="function", level="create",
        hint="Measure the drift for a few shares of keep rows with kdbook.grading.ch08.mix_outcome on several seeds: "
             "it falls roughly like 1/share. Choose the share from the budget with a safety margin for the worst "
             "seed, and stay under ch08.max_keep_share(budget).",
        tests=(
            Test("280 to 320 rows, budgets 0.005 and 0.025: drift within each, student within 0.01 of the teacher, "
                 "keep rows within the cost rule", 2, _judge_mix, _mix_public),
            Test("other numbers of rows, budgets 0.006 and 0.02, on hidden seeds", 2, _judge_mix, _mix_hidden,
                 hidden=True),
        ),
    ),
)

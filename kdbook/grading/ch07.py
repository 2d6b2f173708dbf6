"""Chapter 7 exercises: GKD's conventions, JSD(β) and REINFORCE from scratch, bugs in on-policy code,
predicting when a REINFORCE baseline pays, choosing β from a frontier, designing a
recipe for a product spec, measuring exposure bias and counting the cost of a GKD update.

Answers live in ``solutions/07_generation_and_on_policy_distillation.ipynb``; learners get
``exercises/07_generation_and_on_policy_distillation.ipynb``. The recipe exercise (``ch07_recipe``) trains
the learner's recipes in the grader's process on two seeds the grader draws (about 2.5 s per test).
"""
from __future__ import annotations

import math

import numpy as np

from ._core import Call, Exercise, Fail, Opaque, Test, as_array
from .ch07_functions import (_as_dict, _jsd_cases, _jsd_convention_cases, _judge_jsd, _judge_reinforce, _reinforce_cases,
                             reinforce_reference)  # reinforce_reference: re-exported for the solution notebook
from .ch07_measure import _cost_cases, _exposure_cases, _judge_cost, _judge_exposure
from .ch07_recipe import SPECS, _judge_recipe, _recipe_cases, recipe_scores
from ._predict import prediction_tests

__all__ = ["EXERCISES", "FRONTIER", "BUGS", "SPECS", "BASELINE_THETA", "BASELINE_N", "BASELINE_TEACHERS",
           "reinforce_reference", "recipe_scores"]

#: The chapter's sweep (notebook section 4, seeds 0-2, λ = 1, 60 updates): β -> mean and SD over
#: seeds of quality and coverage (nats per token) and distinct-2. The ends are forward and reverse KL.
FRONTIER = {
    0.0: {"quality": (-2.937, 0.053), "coverage": (-1.900, 0.006), "distinct_2": 0.165},
    0.1: {"quality": (-2.810, 0.029), "coverage": (-1.880, 0.002), "distinct_2": 0.156},
    0.5: {"quality": (-2.703, 0.059), "coverage": (-1.929, 0.009), "distinct_2": 0.135},
    0.9: {"quality": (-2.626, 0.035), "coverage": (-2.054, 0.017), "distinct_2": 0.113},
    1.0: {"quality": (-2.659, 0.031), "coverage": (-2.115, 0.024), "distinct_2": 0.117},
}
#: The product goal of exercise 07.pick_beta: coverage must stay at or above this (nats per token).
COVERAGE_FLOOR = -2.0
#: Labels of the bug-spotting exercise.
BUGS = ("beta_reversed", "lambda_reversed", "missing_baseline", "sampled_from_teacher", "correct")
#: The snippets' true labels (the notebook shows snippets A-E).
#: The snippets of exercise 07.diagnose; their right labels are the instructor's key (solutions/07).
_SNIPPETS = ("A", "B", "C", "D", "E")
#: Exercise 07.predict_baseline: the student's logits θ (q = softmax(θ)), the number n of samples per
#: estimate, and two teachers p: the near one of exercise 07.reinforce's cell (KL(q‖p) ≈ 0.52 nats)
#: and a far one (≈ 2.16 nats). The leave-one-out baseline raises the estimate's variance for the
#: first and lowers it for the second (tests/test_frontier_and_ch07.py enumerates all 4⁸ samples).
BASELINE_THETA = (1.0, 0.0, -1.0, 0.5)
BASELINE_N = 8
BASELINE_TEACHERS = {"near": (0.1, 0.2, 0.3, 0.4), "far": (0.02, 0.04, 0.9, 0.04)}


# --------------------------------------------------------------------------- 07.conventions

#: The four items' names; which values are right is the instructor's key (solutions/07), not here.
_CONVENTIONS = ("beta_forward_like", "beta_reverse_like", "teacher_weight_in_m", "lambda_supervised")


def _number(x) -> float | None:
    """A real number given as a Python int or float or a numpy scalar of any precision (``None`` if not)."""
    if isinstance(x, (bool, np.bool_)):
        return None
    if isinstance(x, np.ndarray) and x.shape == () and x.dtype.kind in "iuf":
        x = x.item()
    if isinstance(x, (int, float, np.integer, np.floating)) and math.isfinite(float(x)):
        return float(x)
    return None


def _conventions_form(calls, outs):
    """The form only (public): which values are right is judged at grading, so the check cannot be searched."""
    d = _as_dict(outs[0], "conventions", _CONVENTIONS)
    for k in ("beta_forward_like", "beta_reverse_like", "lambda_supervised"):
        if _number(d[k]) not in (0.0, 1.0):
            raise Fail(f"{k} should be the number 0 or 1")
    if d["teacher_weight_in_m"] not in ("beta", "1-beta"):
        raise Fail("teacher_weight_in_m should be the string 'beta' or '1-beta'")


def _judge_beta_ends(calls, outs, key):
    d, right = _as_dict(outs[0], "conventions", _CONVENTIONS), _as_dict(key["answer"], "the key", _CONVENTIONS)
    fwd, rev = _number(d["beta_forward_like"]), _number(d["beta_reverse_like"])
    if fwd is None or rev is None:
        raise Fail("beta_forward_like and beta_reverse_like should be numbers (0 or 1)")
    ends = (float(right["beta_forward_like"]), float(right["beta_reverse_like"]))
    if (fwd, rev) == ends[::-1]:
        raise Fail("you have GKD's β convention reversed: let β → 0 and β → 1 in JSD(β) = β KL(P‖M) + (1−β) KL(Q‖M), "
                   "divide by β or 1 − β, and see which KL's gradient is left at each end")
    if (fwd, rev) != ends:
        raise Fail("beta_forward_like and beta_reverse_like should be the ends of β's range where JSD(β), divided by β "
                   "or 1 − β, approaches forward and reverse KL")
    w = d["teacher_weight_in_m"]
    if w not in ("beta", "1-beta"):
        raise Fail("teacher_weight_in_m should be the string 'beta' or '1-beta'")
    if w != right["teacher_weight_in_m"]:
        raise Fail("teacher_weight_in_m has the β convention reversed: in M = βP + (1−β)Q, which of P and Q is "
                   "the teacher?")


def _judge_lambda(calls, outs, key):
    d, right = _as_dict(outs[0], "conventions", _CONVENTIONS), _as_dict(key["answer"], "the key", _CONVENTIONS)
    lam = _number(d["lambda_supervised"])
    if lam not in (0.0, 1.0):
        raise Fail("lambda_supervised should be 0 or 1")
    if lam != float(right["lambda_supervised"]):
        raise Fail("λ is the fraction of on-policy (student-sampled) sentences; which value leaves only the fixed "
                   "data set, i.e. chapter 6's supervised KD?")


# --------------------------------------------------------------------------- 07.diagnose


def _diagnose_well_formed(calls, outs):
    d = _as_dict(outs[0], "diagnosis", tuple(_SNIPPETS))
    for k, label in d.items():
        if not isinstance(label, str) or label not in BUGS:
            raise Fail(f"diagnosis[{k!r}] should be one of {', '.join(map(repr, BUGS))}, got {label!r}")


def _judge_diagnose(keys):
    def judge(calls, outs, key):
        _diagnose_well_formed(calls, outs)
        d = _as_dict(outs[0], "diagnosis", tuple(_SNIPPETS))
        right = _as_dict(key["answer"], "the key", tuple(_SNIPPETS))
        for k in keys:
            label = d[k]
            if label != right[k]:
                raise Fail(f"diagnosis[{k!r}] is not right yet: read snippet {k} again line by line")
    return judge


# --------------------------------------------------------------------------- 07.pick_beta


def _allowed_best() -> float:
    ok = [b for b, row in FRONTIER.items() if row["coverage"][0] >= COVERAGE_FLOOR]
    return max(ok, key=lambda b: FRONTIER[b]["quality"][0])


def _lead(beta: float) -> float:
    """Quality lead of ``beta`` over the best other β that meets the coverage floor (nats per token)."""
    others = [b for b, row in FRONTIER.items() if row["coverage"][0] >= COVERAGE_FLOOR and b != beta]
    return FRONTIER[beta]["quality"][0] - max(FRONTIER[b]["quality"][0] for b in others)


def _pick_pair(got, *, need_lead: bool = True) -> tuple[float, float | None]:
    """The answer of 07.pick_beta, ``(beta, lead)`` as a tuple, list or array, with β one of the swept values."""
    if isinstance(got, str) or not isinstance(got, (tuple, list, np.ndarray)) or np.size(got) != 2:
        shown = f"a {type(got).__name__}" + (f" of {len(got)} items" if isinstance(got, (tuple, list)) else "")
        raise Fail("choice should be a pair (beta, lead): one of the swept β values and its quality lead in nats "
                   f"per token (write your reasons in choice_reasons); got {shown}")
    pair = [_number(np.asarray(x)[()]) if not isinstance(x, (str, Opaque)) and np.ndim(x) == 0 else None
            for x in (np.ravel(got) if isinstance(got, np.ndarray) else got)]
    # float32 spells 0.1 as 0.100000001..., so a swept value is matched to within single precision
    swept = [b for b in FRONTIER if pair[0] is not None and abs(pair[0] - b) <= 1e-6]
    if not swept:
        raise Fail(f"choice's β should be one of the swept values {', '.join(f'{b:g}' for b in FRONTIER)}")
    if pair[1] is None and need_lead:
        raise Fail("choice's lead should be a number (nats per token); write your reasons in choice_reasons")
    return swept[0], pair[1]


def _judge_pick(calls, outs):
    beta, _ = _pick_pair(outs[0], need_lead=False)
    row = FRONTIER[beta]
    if row["coverage"][0] < COVERAGE_FLOOR:
        raise Fail(f"at β = {beta:g} the coverage is {row['coverage'][0]:.3f} nats per token, below the "
                   f"product's floor of {COVERAGE_FLOOR:g}")
    if beta != _allowed_best():
        raise Fail(f"β = {beta:g} meets the coverage floor, but another β that also meets it writes clearly "
                   "better sentences")


def _judge_lead(calls, outs):
    beta, lead = _pick_pair(outs[0])
    if beta != _allowed_best():
        raise Fail("the lead is judged for the β that meets the floor with the best quality; choose that β first")
    want = _lead(beta)  # a fixed number: the message must not print it
    if abs(lead - want) <= 5e-4:
        return
    if abs(lead + want) <= 5e-4:
        raise Fail(f"a lead of {lead:.3f} has the wrong sign: the lead is your β's quality minus the other's, "
                   "positive when yours writes better sentences")
    raise Fail(f"a lead of {lead:.3f} nats per token is not the gap between the quality of your β and that of the "
               "best other β that meets the floor: read both from the table")


EXERCISES = (
    Exercise(
        id="07.conventions", title="GKD's conventions", name="conventions", kind="value", level="remember",
        hint="Write out M = βP + (1−β)Q with P the teacher and let β go to 0: which KL's gradient is left? λ is the "
             "on-policy fraction.",
        tests=(Test("four items of the right kinds (judged at grading)", 0, _conventions_form),
               Test("the ends of β and the teacher's weight in the mixture", 1, _judge_beta_ends, hidden=True,
                    keyed=True),
               Test("the λ of supervised KD", 1, _judge_lambda, hidden=True, keyed=True)),
    ),
    Exercise(
        id="07.jsd_beta", title="JSD(β) and its gradient from scratch", name="jsd_beta", kind="function",
        level="apply",
        forbid=("generalized_js_divergence", "js_divergence", "kl_divergence", "skew_kl_divergence", "kd_loss",
                "kd_loss_and_grad"),
        hint="Compute p and q with a stable softmax, m = βp + (1−β)q, the loss β Σ p log(p/m) + (1−β) Σ q log(q/m). "
             "Its derivative with respect to q_j is (1−β) log(q_j/m_j) (the other terms cancel); then chain it "
             "through the softmax: ∂/∂z_j = q_j (g_j − Σ_k q_k g_k).",
        tests=(
            Test("loss and gradient for β = 0.1, 0.5, 0.9 on (4, 6) logits", 2, _judge_jsd,
                 _jsd_cases([((4, 6), 0.1), ((4, 6), 0.5), ((4, 6), 0.9)], 2.0)),
            Test("a (2, 3, 5) batch and β = 0.3", 1, _judge_jsd, _jsd_cases([((2, 3, 5), 0.3)], 2.0)),
            Test("large logits (scale 30, near 1000), β = 0.7", 1, _judge_jsd,
                 _jsd_cases([((3, 8), 0.7)], 30.0, shift=1000.0), hidden=True),
            Test("β = 0.2 with teacher and student far apart", 1, _judge_jsd, _jsd_convention_cases, hidden=True),
        ),
    ),
    Exercise(
        id="07.reinforce", title="A REINFORCE estimate of the reverse-KL gradient", name="reinforce_grad",
        kind="function", level="apply", forbid=("reinforce_reference",),
        hint="R_i = log q(y_i) − log p(y_i); b_i = (Σ_j R_j − R_i)/(n − 1); ∇_θ log q(y) = onehot(y) − q. Average "
             "(R_i − b_i) ∇ log q(y_i) over the n samples.",
        tests=(
            Test("6 outcomes, 8 samples, three draws", 2, _judge_reinforce, _reinforce_cases(6, 8, 3)),
            Test("40 outcomes, 25 samples", 1, _judge_reinforce, _reinforce_cases(40, 25, 2), hidden=True),
        ),
    ),
    Exercise(
        id="07.predict_baseline", title="Predict: for which teacher does the baseline pay?",
        name="predict_baseline", kind="prediction", level="understand",
        hint="Subtracting b_i keeps the mean because E[∇ log q(y)] = 0. For the variance, write s(y) = ∇ log q(y) "
             "and μ = E_q[R]. Without a baseline each term carries E_q[R² ‖s‖²]; with b_i (independent of y_i, mean "
             "μ, variance Var(R)/(n − 1)) it carries about E_q[(R − μ)² ‖s‖²] + Var(R)/(n − 1) · E_q[‖s‖²]. "
             "Comparing μ with the SD of R alone is not enough: R and ‖s‖² are correlated. Work out both "
             "sums over the four outcomes for each teacher.",
        tests=prediction_tests(4),
    ),
    Exercise(
        id="07.diagnose", title="Four bugs and one correct snippet", name="diagnosis", kind="value", level="analyse",
        hint="For each snippet ask: where do the sentences come from, who is p and who is q, which way does β point, "
             "and is anything subtracted from R?",
        tests=(Test("five labels from the list (judged at grading)", 0, _diagnose_well_formed),)
        + tuple(Test(f"snippet {k}", 0.6, _judge_diagnose((k,)), hidden=True, keyed=True) for k in _SNIPPETS),
    ),
    Exercise(
        id="07.pick_beta", title="Choose β for an autocomplete product", name="choice", kind="value", level="evaluate",
        reasoning="choice_reasons", manual_points=1,
        hint="First drop every β whose coverage falls below the floor; among the rest, compare quality, and check "
             "whether the lead is larger than the spread over seeds.",
        tests=(Test("a swept β and a number (judged at grading)", 0, lambda calls, outs: _pick_pair(outs[0])),
               Test("the β that meets the coverage floor with the best quality", 2, _judge_pick, hidden=True),
               Test("its quality lead over the best other β that meets the floor", 1, _judge_lead, hidden=True)),
    ),
    Exercise(
        id="07.recipe", title="Design a recipe for a spec", name="gkd_recipe", kind="function", level="create",
        hint="No single recipe serves both specs: the frontier trades coverage for quality. Measure a few recipes "
             "with kdbook.grading.ch07.recipe_scores(recipe, seed) on seeds of your own (λ and the divergence both "
             "move the point), keep a margin over the spread across seeds, and let the floors pick the recipe.",
        tests=(
            Test("a coverage-first and a quality-first spec, one public student", 2, _judge_recipe, _recipe_cases),
            Test("both specs on a hidden student", 2, _judge_recipe, _recipe_cases, hidden=True),
        ),
    ),
    Exercise(
        id="07.exposure_gap", title="Measure exposure bias", name="exposure_gap", kind="function", level="apply",
        forbid=("position_kl", "kl_divergence", "kl_from_logits", "kd_loss", "kd_loss_and_grad",
                "exposure_gap_reference"),
        hint="On each prefix set: log p and log q by a stable log-softmax of the logits, KL(p‖q) = Σ_v p (log p − "
             "log q) at every position, then the sum over positions where the mask is True divided by the number "
             "of such positions. The gap is the own-prefix mean minus the teacher-prefix mean.",
        tests=(
            Test("two padded prefix sets", 2, _judge_exposure, _exposure_cases()),
            Test("logits near 800", 1, _judge_exposure, _exposure_cases(shift=800.0), hidden=True),
        ),
    ),
    Exercise(
        id="07.gkd_cost", title="What one GKD update costs", name="gkd_cost", kind="function", level="apply",
        hint="round(λB) sentences are the student's: each takes ℓ_student decoding steps of the student and one "
             "teacher scoring pass. The other B − round(λB) are teacher samples: ℓ_teacher teacher decoding steps "
             "each when fresh, nothing when read from a stored set.",
        tests=(
            Test("fresh teacher samples, three (λ, B)", 2, _judge_cost, _cost_cases(stored=False)),
            Test("a stored teacher data set", 1, _judge_cost, _cost_cases(stored=True), hidden=True),
        ),
    ),
)

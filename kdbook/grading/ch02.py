"""Chapter 2 exercises: KL and Jensen–Shannon from scratch, asymmetry, Pinsker.

Answers live in ``solutions/02_divergences.ipynb``; learners get ``exercises/02_divergences.ipynb``.
"""
from __future__ import annotations

import re

import numpy as np

from .. import divergences as _div
from . import _draw
from ._core import Call, Exercise, Fail, Statement, Test, as_array, expect_close, factor_suspects, select_tests
from ._predict import as_flag, prediction_tests

__all__ = ["EXERCISES", "P_ASYM", "Q_ASYM", "TEACHER_TOPK", "STUDENTS_TOPK", "ASYMMETRY_STATEMENTS", "BIMODAL",
           "NARROW", "BROAD", "collapse_pairs"]

#: The asymmetry example: p has no mass on class 2, q has.
P_ASYM = np.array([0.5, 0.5, 0.0])
Q_ASYM = np.array([0.8, 0.1, 0.1])

#: The monitoring example: a top-3 teacher (exact zero on class 3) and three students, one of
#: them with a zero where the teacher is positive, one with mass where the teacher has none.
TEACHER_TOPK = np.array([0.6, 0.3, 0.1, 0.0])
STUDENTS_TOPK = np.array([[0.5, 0.3, 0.2, 0.0], [0.7, 0.3, 0.0, 0.0], [0.4, 0.3, 0.2, 0.1]])

#: The prediction of 02.predict_direction: a two-peaked teacher, a student on one peak, a broad student.
BIMODAL = np.array([0.02, 0.45, 0.02, 0.02, 0.02, 0.45, 0.02])
NARROW = np.array([0.02, 0.88, 0.02, 0.02, 0.02, 0.02, 0.02])
BROAD = np.array([0.12, 0.20, 0.12, 0.12, 0.12, 0.20, 0.12])


def _batched(fname, reference, suspects=None):
    """A judge comparing ``fname(p, q)`` with ``reference(p, q)`` on every call.

    ``suspects(p, q, want)`` gives the values of common bugs (see :func:`expect_close`).
    """
    def judge(calls, outs):
        for call, out in zip(calls, outs):
            p, q = call.args
            want = np.asarray(reference(p, q))
            expect_close(as_array(out, f"{fname}(p, q)", want.shape), want, f"{fname}(p, q)",
                         suspects=suspects(p, q, want) if suspects else ())
    return judge


def _kl_suspects(p, q, want):
    """KL with the arguments swapped, averaged over classes, or in bits."""
    return ((_div.kl_divergence(q, p), "this is KL(q‖p): are p and q swapped?"),) + factor_suspects(
        want, "your KL", (("K", p.shape[-1], "did you average over the classes instead of summing?", None),
                          ("1/ln 2", 1 / np.log(2), None, "did you use log2? KL here is in nats (natural log)")))


# --------------------------------------------------------------------------- kl_scratch


def _kl_random(rng):
    return [Call((_draw.probs(rng, (5, 4)), _draw.probs(rng, (5, 4))))]


def _kl_self(rng):
    p = _draw.probs(rng, (6,))
    return [Call((p, p.copy())), Call((p, _draw.probs(rng, (6,))))]


def _judge_kl_self(calls, outs):
    got = float(as_array(outs[0], "kl_scratch(p, p)", ()))
    if not abs(got) < 1e-9:
        raise Fail(f"KL(p‖p) should be 0, got {got:.4f}")
    p, q = calls[1].args
    expect_close(outs[1], _div.kl_divergence(p, q), "kl_scratch(p, q) for p ≠ q",
                 suspects=_kl_suspects(p, q, _div.kl_divergence(p, q)))


def _kl_zeros(rng):
    p = _draw.probs(rng, (4, 5), zeros=0.4)
    q_zero, _ = _draw.with_zero_where_positive(rng, p[0])
    return [Call((p, _draw.probs(rng, (4, 5)))), Call((p[0], q_zero))]


def _judge_kl_zeros(calls, outs):
    p, q = calls[0].args
    got = as_array(outs[0], "kl_scratch(p, q)", (len(p),))
    if np.isnan(got).any():
        raise Fail("kl_scratch gave nan where p has zeros: terms with p_i = 0 must count as 0 (0·log 0 = 0)")
    expect_close(got, _div.kl_divergence(p, q), "kl_scratch(p, q) with zeros in p",
                 suspects=_kl_suspects(p, q, _div.kl_divergence(p, q)))
    inf = float(as_array(outs[1], "kl_scratch(p, q)", ()))
    if inf != np.inf:
        raise Fail(f"KL(p‖q) should be inf when q_i = 0 where p_i > 0, got {inf:.4f}"
                   + (": clipping q or adding an epsilon turns +inf into a large finite number" if np.isfinite(inf)
                      else ""))


def _kl_hidden(rng):
    p = _draw.probs(rng, (2, 3, 7), zeros=0.3)
    return [Call((p, _draw.probs(rng, (2, 3, 7)))), Call((p[0, 0], _draw.probs(rng, (7,))))]


# --------------------------------------------------------------------------- js_scratch


def _js_props(rng):
    p, q = _draw.probs(rng, (6,)), _draw.probs(rng, (6,))
    return [Call((p, q)), Call((q, p)), Call((np.array([0.5, 0.5, 0.0, 0.0]), np.array([0.0, 0.0, 0.3, 0.7])))]


def _judge_js_props(calls, outs):
    pq = float(as_array(outs[0], "js_scratch(p, q)", ()))
    qp = float(as_array(outs[1], "js_scratch(q, p)", ()))
    want = _div.js_divergence(*calls[0].args)
    expect_close(pq, want, "js_scratch(p, q)", suspects=_js_suspects(*calls[0].args, want))
    low = str(getattr(outs[0], "dtype", "")) in ("float32", "float16")  # single precision rounds the order
    if not np.isclose(pq, qp, rtol=1e-5 if low else 1e-9, atol=1e-7 if low else 1e-12):
        raise Fail(f"JS is symmetric: js_scratch(p, q) = {pq:.4f} but js_scratch(q, p) = {qp:.4f}")
    disjoint = float(as_array(outs[2], "js_scratch(p, q)", ()))
    if not np.isclose(disjoint, np.log(2)):
        raise Fail(f"for disjoint supports JS should reach its maximum ln 2 = {np.log(2):.4f}, got {disjoint:.4f}")


def _js_suspects(p, q, want):
    """JS in bits, or scipy's jensenshannon (the square root of JS, a distance)."""
    return ((np.sqrt(want), "this is the square root of JS (what scipy.spatial.distance.jensenshannon returns, "
                            "a distance): return the divergence itself"),) + factor_suspects(
        want, "your JS", (("1/ln 2", 1 / np.log(2), None, "did you use log2? JS here is in nats (natural log)"),))


def _js_random(rng):
    return [Call((_draw.probs(rng, (3, 5)), _draw.probs(rng, (3, 5))))]


def _js_hidden(rng):
    return [Call((_draw.probs(rng, (2, 2, 6), zeros=0.4), _draw.probs(rng, (2, 2, 6), zeros=0.4)))]


# --------------------------------------------------------------------------- asymmetry


def _judge_asym(calls, outs):
    got = outs[0]
    if isinstance(got, np.ndarray) and got.shape == (2,):
        got = list(got)
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        raise Fail("kl_both should be a pair (KL(p‖q), KL(q‖p)): a tuple, a list or an array of two numbers")
    expect_close(got[0], _div.kl_divergence(P_ASYM, Q_ASYM), "kl_both[0] = KL(p‖q)")
    expect_close(got[1], _div.kl_divergence(Q_ASYM, P_ASYM), "kl_both[1] = KL(q‖p)")


#: The statements of 02.asymmetry_why (checked against P_ASYM and Q_ASYM in the tests).
ASYMMETRY_STATEMENTS = (
    Statement("KL(p‖q) is infinite."),
    Statement("KL(q‖p) is infinite."),
    Statement("p is exactly zero on class 2, where q puts 0.1."),
    Statement("q is exactly zero on class 2, where p is positive."),
    Statement("In KL(p‖q), class 2's term is 0·log(0/0.1), which counts as 0."),
    Statement("The infinite term is q₂·log(q₂/p₂): the log of a positive number divided by zero."),
    Statement("Both directions are finite; kl_both only shows that one of them is large."),
)


def _choice(text: str) -> str:
    """One spelling of a divergence's name: "KL[q || p]", "D_KL(q, p)" and "KL(q‖p)" all read "KL(q‖p)"."""
    t = re.sub(r"\s+", "", text).replace("[", "(").replace("]", ")")
    t = re.sub(r"(\|\||∥|\||,)", "‖", t)
    t = re.sub(r"^(?:D_?KL|D|KL)\(", "KL(", t, flags=re.IGNORECASE)
    return t.upper().replace("KL(P‖Q)", "KL(p‖q)").replace("KL(Q‖P)", "KL(q‖p)")


def _judge_monitor(calls, outs):
    got = outs[0]
    names = {"KL(p‖q)": "KL(p‖q)", "KL(q‖p)": "KL(q‖p)", "JS": "JS", "JSD": "JS", "JENSEN-SHANNON": "JS",
             "JENSEN–SHANNON": "JS"}
    choice = names.get(_choice(got)) if isinstance(got, str) else None
    if choice is None:
        raise Fail(f'monitor should be one of the strings "KL(p‖q)", "KL(q‖p)" or "JS", got {got!r}')
    if choice != "JS":
        raise Fail("with that divergence at least one of the students scores inf, so it cannot rank them all: "
                   "compute it for every student")


# --------------------------------------------------------------------------- pinsker


def _pinsker_ref(p, q):
    return np.sqrt(_div.kl_divergence(p, q) / 2) - _div.total_variation(p, q)


def _pinsker_suspects(p, q, want=None):
    """The slack with KL in bits, or with KL not halved."""
    kl, tv = _div.kl_divergence(p, q), _div.total_variation(p, q)
    return ((np.sqrt(kl / np.log(2) / 2) - tv, "did you use log2? Pinsker's inequality holds with KL in nats"),
            (np.sqrt(kl) - tv, "did you forget to halve KL inside the square root?"))


def _pinsker_props(rng):
    p = _draw.probs(rng, (8, 5))
    return [Call((p, _draw.probs(rng, (8, 5)))), Call((p, p.copy()))]


def _judge_pinsker_props(calls, outs):
    p, q = calls[0].args
    got = as_array(outs[0], "pinsker_slack(p, q)", (len(p),))
    if (got < -1e-12).any():
        raise Fail(f"Pinsker's inequality says the slack is never negative, got {got.min():.4f}")
    expect_close(got, _pinsker_ref(p, q), "pinsker_slack(p, q)", suspects=_pinsker_suspects(p, q))
    same = as_array(outs[1], "pinsker_slack(p, p)", (len(p),))
    if not np.allclose(same, 0.0, atol=1e-9):
        raise Fail(f"the slack is 0 when p = q, got {float(np.abs(same).max()):.4f}")


def _pinsker_hidden(rng):
    return [Call((_draw.probs(rng, (3, 4, 6), zeros=0.3), _draw.probs(rng, (3, 4, 6))))]


# --------------------------------------------------------------------------- flag_collapse (create)


def _two_peaked(rng) -> np.ndarray:
    """A teacher over 5–10 classes with two main classes (together 75–92 % of the mass)."""
    k = int(rng.integers(5, 11))
    tail = rng.dirichlet(np.full(k - 2, 0.5)) * rng.uniform(0.08, 0.25)
    share, rest = rng.uniform(0.35, 0.65), 1.0 - tail.sum()
    return rng.permutation(np.concatenate([[share * rest, (1 - share) * rest], tail]))


def _jitter(rng, q: np.ndarray) -> np.ndarray:
    q = q * np.exp(rng.normal(0.0, 0.05, q.shape))
    return q / q.sum()


def collapse_pairs(rng: np.random.Generator, n: int) -> list[tuple[np.ndarray, np.ndarray, bool]]:
    """``n`` (teacher, student, collapsed) triples, half of each kind, in random order.

    A collapsed student keeps only 2–30 % of one of the teacher's two main classes and moves the rest
    to the other; a smoothed student keeps both but flattens the teacher (p^(1/τ), τ in 2–8). Both
    get multiplicative noise. Neither KL(p‖q) nor KL(q‖p) alone separates the two kinds (a threshold
    on either is right on about two pairs in three); their asymmetry does.
    """
    out = []
    for i in range(n):
        p = _two_peaked(rng)
        if i % 2 == 0:
            drop, keep = np.argsort(p)[-2:][rng.permutation(2)]
            q, r = p.copy(), rng.uniform(0.02, 0.3)
            q[keep] += q[drop] * (1 - r)
            q[drop] *= r
        else:
            q = p ** (1 / rng.uniform(2.0, 8.0))
        out.append((p, _jitter(rng, q / q.sum()), i % 2 == 0))
    return [out[j] for j in rng.permutation(n)]


def _collapse_cases(n: int):
    def cases(rng):
        return [Call((p, q)) for p, q, _ in collapse_pairs(rng, n)]
    return cases


def _collapsed(p: np.ndarray, q: np.ndarray) -> bool:
    """Which kind a drawn pair is: a collapsed student keeps under half of one main class and gives the
    other more than the teacher does (a smoothed one gives both less)."""
    ratio = q[np.argsort(p)[-2:]] / p[np.argsort(p)[-2:]]
    return bool(ratio.min() < 0.5 and ratio.max() > 1.0)


def _judge_collapse(calls, outs):
    wrong = []
    for k, (call, out) in enumerate(zip(calls, outs)):
        p, q = call.args
        flag = as_flag(out, "flag_collapse(p, q)")
        if flag != _collapsed(p, q):
            wrong.append((k, flag))
    if wrong:
        k, flag = wrong[0]
        what = ("flagged a student that keeps both main classes and only spreads the teacher's mass more evenly"
                if flag else "missed a student that dropped one of the teacher's two main classes")
        raise Fail(f"{len(wrong)} of {len(calls)} pairs judged wrongly; for instance pair {k} (a teacher over "
                   f"{calls[k].args[0].size} classes): your rule {what}")


_FORBID_KL = ("kl_divergence", "reverse_kl_divergence", "cross_entropy", "entropy", "skew_kl_divergence",
              "js_divergence", "generalized_js_divergence")

EXERCISES = (
    Exercise(
        id="02.kl_scratch", title="KL divergence from scratch: zero-safe and batched", name="kl_scratch",
        kind="function", level="apply", forbid=_FORBID_KL,
        hint="Sum p_i·(log p_i − log q_i) over axis=-1. Wrap it in np.errstate(divide='ignore', "
             "invalid='ignore') and use np.where(p > 0, term, 0.0) so 0·log 0 = 0; where q_i = 0 < p_i "
             "the term is +inf by itself.",
        tests=(
            Test("matches KL on a random batch", 1, _batched("kl_scratch", _div.kl_divergence, _kl_suspects), _kl_random),
            Test("KL(p‖p) = 0, and the right value for p ≠ q", 1, _judge_kl_self, _kl_self),
            Test("zeros in p count 0; q_i = 0 < p_i gives inf", 1, _judge_kl_zeros, _kl_zeros),
            Test("3-D batch with zeros, and one unbatched pair", 1, _batched("kl_scratch", _div.kl_divergence, _kl_suspects),
                 _kl_hidden, hidden=True),
        ),
    ),
    Exercise(
        id="02.js_scratch", title="Jensen–Shannon divergence from scratch", name="js_scratch",
        kind="function", level="apply", forbid=_FORBID_KL[-2:],
        hint="m = (p + q) / 2, then JS = ½ KL(p‖m) + ½ KL(q‖m). Your kl_scratch already handles zeros, "
             "and m is positive wherever p or q is.",
        tests=(
            Test("matches JS, symmetric, and ln 2 for disjoint supports", 1, _judge_js_props, _js_props),
            Test("matches JS on a random batch", 1, _batched("js_scratch", _div.js_divergence, _js_suspects), _js_random),
            Test("3-D batch with zeros in both", 1, _batched("js_scratch", _div.js_divergence, _js_suspects), _js_hidden,
                 hidden=True),
        ),
    ),
    Exercise(
        id="02.asymmetry", title="Both directions of KL", name="kl_both",
        kind="value", level="apply",
        hint="kdbook.kl_divergence(p, q) is KL(p‖q); swap the arguments for the other direction.",
        tests=(Test("KL(p‖q) and KL(q‖p)", 1, _judge_asym),),
    ),
    Exercise(
        id="02.asymmetry_why", title="Why one direction is infinite", name="why_infinite_claims",
        kind="select", level="understand", statements=ASYMMETRY_STATEMENTS,
        reasoning="why_infinite", manual_points=1,
        hint="Look at class 2: which distribution gives it probability and which gives it none? Then write "
             "out that class's term in each direction.",
        tests=select_tests(ASYMMETRY_STATEMENTS, 2),
    ),
    Exercise(
        id="02.pick_divergence", title="Choose a divergence to monitor", name="monitor",
        kind="value", level="evaluate",
        hint="Compute all three divergences for every student. Which ones are finite for all three students?",
        tests=(Test("a divergence that ranks every student", 1, _judge_monitor),),
    ),
    Exercise(
        id="02.pinsker", title="How tight is Pinsker's inequality?", name="pinsker_slack",
        kind="function", level="apply",
        hint="Slack = sqrt(KL(p‖q) / 2) − TV(p, q), with KL in nats; kdbook has both functions.",
        tests=(
            Test("non-negative, matches, and 0 for p = q", 1, _judge_pinsker_props, _pinsker_props),
            Test("3-D batch with zeros", 1, _batched("pinsker_slack", _pinsker_ref, _pinsker_suspects), _pinsker_hidden,
                 hidden=True),
        ),
    ),
    Exercise(
        id="02.predict_direction", title="Predict: which student does each direction prefer?",
        name="predict_direction", kind="prediction", level="understand",
        hint="In KL(p‖q) the teacher's probabilities weigh the log-ratios; in KL(q‖p) the student's do. Where "
             "does each student put mass that the teacher does not, and where does it miss the teacher's mass?",
        tests=prediction_tests(4),
    ),
    Exercise(
        id="02.flag_collapse", title="Design a rule that flags a collapsed student", name="flag_collapse",
        kind="function", level="create",
        hint="Compute KL(p‖q) and KL(q‖p) for a few pairs of each kind (drop a main class of a two-peaked "
             "teacher; or flatten it with p**(1/4)) and look at both numbers together: which direction "
             "punishes a missing peak, which one punishes mass spread where the teacher has little?",
        tests=(
            Test("judges twelve pairs correctly", 1, _judge_collapse, _collapse_cases(12)),
            Test("judges twenty fresh pairs correctly", 3, _judge_collapse, _collapse_cases(20), hidden=True),
        ),
    ),
)

"""Chapter 9 exercises: distilling a draft model for speculative decoding.

Answers live in ``solutions/09_speculative_decoding.ipynb``; learners get
``exercises/09_speculative_decoding.ipynb``. The accept/reject item is graded on the **exact**
output distribution of the learner's step (and its joint law with the draft, so that a step which
ignores the draft and draws from p fails): for every draft token the grader sweeps both
uniforms over the cells that the rule's breakpoints (p(x)/q(x) and the cumulative sums of the
residual, of p and of q) and a uniform grid cut [0, 1] into, so a correct step is integrated
exactly (to 1e-9) and a shortcut (redrawing from p after a rejection) is off by more than 0.05,
never by sampling luck. The create item (a draft recipe)
is graded on behaviour: the grader fine-tunes the chapter's starting draft with the learner's
recipe and with the forward-KL baseline (same budget) on its own seeds and compares acceptance
at T = 1 and T = 0.5 (:func:`draft_outcome`).

The create item's margin, :data:`CREATE_MARGIN` = 0.008, and its rule were set from a run over 200
seeds drawn like the hidden test's (1000-100,000; ``tests/wrong_answers/ch09.py``, MARGIN_RUN): a
draft must gain the margin over the forward-KL draft at T = 1 and on average over T = 1 and T = 0.5
(the hidden test measures both on one seed). At T = 0.5 alone no margin separates the reference
(TV on the target's samples; worst gain +0.0064) from forward KL on-policy, which is no better than
the baseline on average but gained up to +0.0235 there (above 0.005 on 24 of 200 seeds). With the
rule, the reference's worst values were +0.0204 at T = 1 and +0.0151 on average (TV on-policy:
+0.0196, +0.0141); forward KL on-policy never reached 0.008 at T = 1 (at most -0.0039), reverse KL
and the baseline never gain. JSD(0.5) fell below the margin on average on 5 of the 200 seeds (worst
+0.0029), and the exercise says that it is not a reliable answer.
"""
from __future__ import annotations

import functools

import numpy as np

from . import _draw
from ._ch09_verify import GRID, _judge_verify, _verify_cases  # 9.2 is graded there
from ._core import Call, Exercise, Fail, Test, as_array, as_scalar, expect_close
from ._predict import prediction_tests

__all__ = ["EXERCISES", "ACCEPTANCE", "draft_outcome", "CREATE_MARGIN", "GRID"]

#: How much higher than the forward-KL draft's acceptance the create item's draft must be.
CREATE_MARGIN = 0.008

#: The chapter's acceptance table (section 3, held-out α, mean of 3 seeds): draft → (T = 1, greedy, T = 0.5).
ACCEPTANCE = {
    "chapter 6 student": (0.8311, 0.7828, 0.8342),
    "forward off": (0.8379, 0.8352, 0.8420),
    "forward on": (0.8238, 0.8184, 0.8371),
    "reverse off": (0.8196, 0.7521, 0.7763),
    "reverse on": (0.8220, 0.7380, 0.7754),
    "jsd off": (0.8564, 0.8385, 0.8545),
    "jsd on": (0.8472, 0.8273, 0.8442),
    "tv off": (0.8669, 0.8542, 0.8667),
    "tv on": (0.8657, 0.8540, 0.8654),
}
_MODES = {"T = 1": 0, "greedy": 1, "T = 0.5": 2}


# --------------------------------------------------------------------------- 9.1 expected tokens per call

def _tokens_cases(rng):
    alpha = np.r_[rng.uniform(0.05, 0.95, 6), 1.0, 0.0]
    gamma = np.r_[rng.integers(1, 9, 6), 3, 2]
    return [Call((alpha, gamma))]


def _judge_tokens(calls, outs):
    for call, out in zip(calls, outs):
        alpha, gamma = call.args
        what = "expected_tokens(alpha, gamma)"
        want = np.array([sum(a**k for k in range(int(g) + 1)) for a, g in zip(alpha, gamma)])
        got = as_array(out, what, want.shape)
        no_bonus = np.array([sum(a**k for k in range(1, int(g) + 1)) for a, g in zip(alpha, gamma)])
        with np.errstate(divide="ignore", invalid="ignore"):
            geometric = np.where(alpha < 1, gamma / np.where(alpha < 1, 1 - alpha, 1.0), gamma + 1.0)
        short = np.array([sum(a**k for k in range(int(g))) for a, g in zip(alpha, gamma)])
        expect_close(got, want, what, rtol=1e-9, atol=1e-9, suspects=(
            (no_bonus, "the round's extra token is missing: a round always emits one token after the accepted drafts"),
            (geometric, "γ/(1 − α) is not the expected count: the accepted run stops at γ drafts, so sum α^k for "
                        "k = 0 … γ, which is (1 − α^(γ+1))/(1 − α)"),
            (short, "the sum stops at α^(γ−1): a round emits up to γ + 1 tokens, so sum α^k for k = 0 … γ"),
        ))


# --------------------------------------------------------------------------- 9.3 acceptance by position

def _padded(rng, B, L, V):
    z = _draw.logits(rng, (B, L, V), scale=2.5)
    v = _draw.logits(rng, (B, L, V), scale=2.5)
    lengths = rng.integers(1, L + 1, size=B)
    lengths[0] = L
    mask = np.arange(L)[None, :] < lengths[:, None]
    z[~mask] = rng.normal(size=z[~mask].shape) * 50
    v[~mask] = rng.normal(size=v[~mask].shape) * 50
    return v, z, mask


def _pos_cases(*specs):
    def cases(rng):
        return [Call(_padded(rng, B, L, V)) for B, L, V in specs]
    return cases


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _judge_pos(calls, outs):
    for call, out in zip(calls, outs):
        t, d, mask = call.args
        what = "acceptance_by_position(target_logits, draft_logits, mask)"
        p, q = _softmax(t), _softmax(d)
        a = np.minimum(p, q).sum(-1)
        want = np.where(mask, a, 0).sum(0) / mask.sum(0)
        got = as_array(out, what)
        if got.shape == (mask.shape[0],) != (mask.shape[1],):
            raise Fail(f"{what} has one value per sentence; average over the sentences (axis 0), one value per position")
        expect_close(as_array(got, what, want.shape), want, what, rtol=1e-7, atol=1e-9, suspects=(
            (np.where(mask, a, 0).sum(0) / mask.shape[0], "padding counted: divide each position's sum by the number "
                                                          "of sentences that reach it"),
            (np.where(mask, np.maximum(p, q).sum(-1), 0).sum(0) / mask.sum(0), "Σ max(p, q) is 1 + TV: acceptance is Σ min"),
        ))


# --------------------------------------------------------------------------- 9.4 choose a draft and γ

def _speedup(a, g, c):
    return sum(a**k for k in range(g + 1)) / (g * c + 1)


def _made_table(rng) -> dict[str, tuple[float, float, float]]:
    """A table like ACCEPTANCE whose best draft differs between the three modes (by at least 0.01)."""
    vals = rng.uniform(0.55, 0.88, size=(len(ACCEPTANCE), len(_MODES)))
    for col, w in enumerate(rng.choice(len(ACCEPTANCE), size=len(_MODES), replace=False)):
        vals[w, col] = vals[:, col].max() + rng.uniform(0.01, 0.05)
    return {name: tuple(round(float(x), 4) for x in row) for name, row in zip(ACCEPTANCE, vals)}


def _choose_cases(public: bool):
    def cases(rng):
        if public:
            return [Call((c, m, dict(ACCEPTANCE))) for c in (0.05, 0.2) for m in _MODES]
        cs = rng.choice([0.02, 0.1, 0.3, 0.5, 0.8], size=3, replace=False)
        return [Call((float(c), m, _made_table(rng))) for c in cs for m in _MODES]
    return cases


def _judge_choose(calls, outs):
    for call, out in zip(calls, outs):
        c, mode, table = call.args
        what = f"choose({c:g}, {mode!r}, table)"
        if not (isinstance(out, tuple) and len(out) == 2 and isinstance(out[0], str)):
            raise Fail(f"{what} should return a tuple (draft name, γ), such as ('forward off', 4)")
        name, g = out
        if name not in table:
            raise Fail(f"{what}: {name!r} is not a draft of the table (its keys: {', '.join(table)})")
        g = as_scalar(g)
        if isinstance(g, bool) or not isinstance(g, int) or not 0 <= g <= 30:
            shown = f"an array of shape {g.shape}" if isinstance(g, np.ndarray) else repr(g)[:40]
            raise Fail(f"{what}: γ should be an integer between 0 and 30, got {shown}")
        col = _MODES[mode]
        best = max(a[col] for a in table.values())
        if table[name][col] < best - 1e-9:
            hint = " (that is the best draft at T = 1, not in this mode)" if col and table[name][0] == max(
                a[0] for a in table.values()) else ""
            raise Fail(f"{what}: {name!r} is not the draft with the highest acceptance for {mode}{hint}")
        a = table[name][col]
        top = max(_speedup(a, k, c) for k in range(31))
        if _speedup(a, g, c) < top - 1e-9:
            best_g = max(range(31), key=lambda k: _speedup(a, k, c))
            hint = ""
            if best_g > 20 and _speedup(a, g, c) >= max(_speedup(a, k, c) for k in range(21)) - 1e-9:
                hint = (f"; the best γ here is {best_g}, above 20: speculative.best_gamma searches γ = 0 … 20 by "
                        "default, pass max_gamma=30")
            raise Fail(f"{what}: γ = {g} gives a modelled speed-up of {_speedup(a, g, c):.4f}, below the best "
                       f"for this draft and c ({top:.4f}){hint}")


# --------------------------------------------------------------------------- 9.6 a draft recipe

@functools.lru_cache(maxsize=8)
def _start(seed: int):
    from ..lm import ToyLanguage
    from ..lm.frontier import supervised_student
    lang = ToyLanguage()
    return lang, supervised_student(lang, seed), lang.sample(4000, seed=2000 + seed)


@functools.lru_cache(maxsize=16)
def _eval_batch(seed: int, T: float):
    from ..lm.decoding import sample
    from ..lm.draft import held_out
    lang, _, data = _start(seed)
    batch = sample(lang, lang.vocab.start(800), T=T, seed=7000 + seed).batch
    # disjoint from the fine-tuning data and from the starting draft's own training data (supervised_student)
    return held_out(batch, data, lang.sample(4000, seed=1000 + seed))[0]


@functools.lru_cache(maxsize=8)
def _baseline(seed: int):
    """The forward-KL draft of ``seed`` (read only: both temperatures of the hidden test share it)."""
    from ..lm.draft import DraftObjective, distill_draft
    lang, start, data = _start(seed)
    return distill_draft(start, lang, data, DraftObjective("forward"), seed=seed + 50)


def _objective(recipe):
    from ..lm.draft import DraftObjective
    if isinstance(recipe, DraftObjective):
        return recipe
    if not (isinstance(recipe, (tuple, list)) and len(recipe) == 3 and isinstance(recipe[0], str)):
        raise Fail(f"the recipe should be a tuple (divergence, beta, lam) such as ('forward', None, 0.0), got "
                   f"{str(recipe)[:80]}")
    div, beta, lam = recipe
    try:
        return DraftObjective(div, None if beta is None else float(beta), float(lam))
    except (TypeError, ValueError) as err:
        raise Fail(f"the recipe is not valid: {err}") from None


def draft_outcome(recipe, seed: int, T: float = 1.0) -> dict[str, float]:
    """Acceptance at temperature T of a draft fine-tuned with ``recipe`` and of the forward-KL draft, same budget.

    The chapter's recipe: the chapter 6 student of ``seed`` (``supervised_student``), 60 Adam
    steps of 32 sentences at lr 0.005 on 4,000 target samples (seed 2000 + seed), λ of each
    batch from the draft itself; acceptance Σ min(p_T, q_T) on 800 target samples at T (seed
    7000 + seed) that occur neither in the fine-tuning data nor in the starting draft's.
    """
    from ..lm.draft import acceptance, distill_draft
    lang, start, data = _start(int(seed))
    ev = _eval_batch(int(seed), float(T))
    mine = distill_draft(start, lang, data, _objective(recipe), seed=seed + 50)
    base = _baseline(int(seed))
    return {"draft": acceptance(lang, mine, ev, T=T), "forward": acceptance(lang, base, ev, T=T)}


def _recipe_cases(public: bool):
    def cases(rng):
        if public:
            return [Call((1.0, int(rng.integers(100, 200))))]
        seed = int(rng.integers(1000, 100_000))
        return [Call((T, seed)) for T in (1.0, 0.5)]  # judged on the mean of the two gains
    return cases


def _judge_recipe(calls, outs):
    """At least CREATE_MARGIN above the forward-KL draft at T = 1, and on average over the calls' temperatures."""
    gains, said = {}, []
    for call, out in zip(calls, outs):
        T, seed = call.args
        res = draft_outcome(out, seed, T)
        gains[T] = res["draft"] - res["forward"]
        said.append(f"T = {T:g}: acceptance {res['draft']:.4f} against the forward-KL draft's {res['forward']:.4f} "
                    f"(gain {gains[T]:+.4f})")
    mean = float(np.mean(list(gains.values())))
    if gains[1.0] < CREATE_MARGIN or mean < CREATE_MARGIN:
        rule = (f"the gain at T = 1 and the mean gain ({mean:+.4f}) must both be at least {CREATE_MARGIN}"
                if len(gains) > 1 else f"the gain must be at least {CREATE_MARGIN}")
        raise Fail(f"draft_recipe(T, {calls[0].args[1]}) at " + "; at ".join(said) + f". {rule[0].upper()}{rule[1:]}")


EXERCISES = (
    Exercise(
        id="09.expected_tokens", title="Tokens per target call", name="expected_tokens", kind="function",
        level="remember",
        hint="A round emits the accepted drafts and then one more token (from the residual or the bonus). With "
             "i.i.d. acceptance α the chance that the first k drafts are all accepted is α^k: sum α^k for k = 0 … γ. "
             "At α = 1 the closed form divides by zero.",
        tests=(
            Test("α in (0, 1) and the ends α = 0 and α = 1", 1, _judge_tokens, _tokens_cases),
            Test("more α and γ", 1, _judge_tokens, _tokens_cases, hidden=True),
        ),
    ),
    Exercise(
        id="09.predict_shortcut", title="Predict: what does the shortcut get wrong?", name="predict_shortcut",
        kind="prediction", level="understand",
        hint="Write down the probability that one step emits x: accepted as a draft, min(p(x), q(x)), plus the "
             "chance of a rejection times the probability the redraw gives x.",
        tests=prediction_tests(4),
    ),
    Exercise(
        id="09.accept_reject", title="The accept/reject step with the residual", name="accept_reject",
        kind="function", level="apply", forbid=("verify", "residual", "step_distribution"),
        hint="Accept x when u < p(x)/q(x) (or u·q(x) < p(x)). Otherwise draw from r = max(0, p − q) / its sum by "
             "inverse CDF: the first token whose cumulative probability exceeds v.",
        tests=(
            Test("the exact distribution of the emitted token, on small vocabularies", 2, _judge_verify,
                 _verify_cases((3, 3), (2, 4))),
            Test("more target/draft pairs", 1, _judge_verify, _verify_cases((3, 5)), hidden=True),
        ),
    ),
    Exercise(
        id="09.acceptance_by_position", title="Where is the draft rejected?", name="acceptance_by_position",
        kind="function", level="analyse",
        hint="Softmax both logits, Σ_x min(p, q) at every position, zero the padding, and divide each column's "
             "sum by the number of sentences that reach that position.",
        tests=(
            Test("padded batches", 2, _judge_pos, _pos_cases((5, 6, 4), (7, 4, 9))),
            Test("a larger batch", 1, _judge_pos, _pos_cases((20, 12, 51)), hidden=True),
        ),
    ),
    Exercise(
        id="09.choose", title="Choose a draft and γ for a cost ratio and a decoding mode", name="choose",
        kind="function", level="evaluate",
        hint="Pick the draft with the highest acceptance in the mode's column of the table, then the γ in 0 … 30 "
             "that maximises (1 − α^(γ+1)) / ((1 − α)(γc + 1)); a round costs γ draft passes and one target pass.",
        tests=(
            Test("the chapter's table, c = 0.05 and 0.2, three decoding modes", 2, _judge_choose,
                 _choose_cases(True)),
            Test("other tables (a different best draft per mode) and cost ratios", 1, _judge_choose,
                 _choose_cases(False), hidden=True),
        ),
    ),
    Exercise(
        id="09.draft_recipe", title="Design a draft that the target accepts more often", name="draft_recipe",
        kind="function", level="create",
        hint="The acceptance rate is 1 − TV. Which of the chapter's objectives trains the draft for that quantity, "
             "and did on-policy data help in the chapter's table?",
        tests=(
            Test(f"at T = 1: acceptance at least {CREATE_MARGIN} above the forward-KL draft's", 2,
                 _judge_recipe, _recipe_cases(True)),
            Test("a hidden seed: at T = 1, and on average over T = 1 and T = 0.5", 2, _judge_recipe,
                 _recipe_cases(False), hidden=True),
        ),
    ),
)

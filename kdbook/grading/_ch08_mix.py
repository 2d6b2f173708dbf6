"""Chapter 8's create item, 08.training_mix: the chapter's model, the training run the grader repeats
with a learner's mix (:func:`mix_outcome`), the cost rule for keep rows (:func:`max_keep_share`) and the judge.

Split out of ``kdbook.grading.ch08``, which builds the exercise from these and re-exports the public names
(``ch08.mix_outcome``, ``ch08.max_keep_share``, ``ch08.original_model``, ``ch08.QUALITY``, ``ch08.KEEP_COST``).
The grader trains the short-prompt student with the learner's mix on its own seeds and measures both sides on
held-out queries (about a quarter of a second a run), under a tight and a loose drift budget and the cost rule,
so that the budget argument matters.

Margins of the reference (keep min(1, 0.0035 / budget) of the rows), measured over 100 grading
seeds with 280 to 400 rows (worst seed; budget minus drift, QUALITY minus KL to the teacher):
budget 0.005: drift ≤ 0.0036 (margin 0.0014), KL to teacher ≤ 0.0071 (margin 0.0029);
budget 0.025: drift ≤ 0.0209 (margin 0.0041), KL to teacher ≤ 0.0064 (margin 0.0036), keep share
0.14 under the cap of 0.24; budget 0.006: drift ≤ 0.0044 (margin 0.0016), KL to teacher ≤ 0.0066;
budget 0.02: drift ≤ 0.0166 (margin 0.0034), KL to teacher ≤ 0.0057 (0.175 kept, cap 0.30). The wrong
answers of ``tests/wrong_answers/ch08.py`` (a constant share, the inverted rule, no keep rows, the chapter's
3-seed table read literally) lose points on each of 20 grading seeds; a rule that keeps 90 % of the rows at the
tight budget misses the quality bar on some seeds (keep rows trade drift against the prompted side).
"""
from __future__ import annotations

import functools

import numpy as np

from ._core import Call, Fail

__all__ = ["QUALITY", "KEEP_COST", "max_keep_share", "original_model", "mix_outcome"]

#: The create item: the student must stay within this KL of the prompted teacher (nats per token).
QUALITY = 0.01
#: The create item's cost rule: keep rows teach nothing about the prompt, so a mix may use at most
#: ``KEEP_COST / budget`` of them (capped at 1): few for a loose budget, many for a tight one.
KEEP_COST = 0.006


def max_keep_share(budget: float) -> float:
    """The largest share of keep rows 08.training_mix allows for a drift ``budget``: min(1, KEEP_COST / budget)."""
    return min(1.0, KEEP_COST / float(budget))


@functools.lru_cache(maxsize=1)
def original_model():
    """``(lang, model)``: the toy language and chapter 8's prompt-following model (seed 0), trained once.

    The model read with ``<brief> <polite>`` is the teacher of :func:`mix_outcome` and of the
    exercise notebook's prediction; the first call trains it (about a second), later calls reuse it.
    Treat the model as read-only (copy it before training).
    """
    from ..lm.context import train_original
    from ..lm.language import ToyLanguage

    lang = ToyLanguage()
    return lang, train_original(lang, seed=0)


def mix_outcome(distil, seed: int) -> dict[str, float]:
    """Train the chapter's short-prompt student with a mix (``distil``: True = distillation row) on a seed.

    The recipe of the chapter: queries of two words from the training openings
    (``kdbook.lm.context_split``), full context ``<brief> <polite>``, short context ``<polite>``,
    Adam (lr 0.01) for 8 epochs of equal batches of about 50 rows; then
    :func:`kdbook.lm.context_mix.mix_quality` on 400 held-out queries from the other openings
    (no overlap with the training queries).
    """
    from ..lm.context_mix import mix_data, mix_quality
    from ..lm.context_split import sample_split_queries
    from ..train import train

    lang, model = original_model()
    held = _held_out_openings()
    distil = np.asarray(distil, dtype=bool)
    queries = sample_split_queries(lang, len(distil), held_out_openings=held, part="train", seed=1000 + seed)
    kw = {"context": ("brief", "polite"), "short_context": "polite", "n_query_words": 2}
    data = mix_data(model, queries, distil, seed=seed, **kw)
    student = model.copy()
    n_batches = -(-len(distil) // 50)  # batches of about 50, none tiny: a last batch of 1 row jolts Adam
    train(student, **data.train_kwargs(), epochs=8, batch_size=-(-len(distil) // n_batches), lr=0.01, seed=seed)
    held_out = sample_split_queries(lang, 400, held_out_openings=held, part="held_out", seed=2000 + seed)
    return mix_quality(student, model, held_out, seed=seed, **kw)


@functools.lru_cache(maxsize=1)
def _held_out_openings():
    from ..lm.context_split import split_openings

    return split_openings(original_model()[0], words=2, held_out=0.25, seed=0)


def _mix_public(rng):
    # a fresh number of rows at every check, so that the training seed (derived from it) changes too; a tight
    # and a loose budget, so that a constant share fails one of them
    n = int(rng.integers(280, 321))
    return [Call((n, 0.005), {}), Call((n, 0.025), {})]


def _mix_hidden(rng):
    # the training seed is the judge's secret: the design cannot work it out from its arguments
    return [Call((int(rng.integers(300, 401)), 0.006), {}, secret=int(rng.integers(10_000))),
            Call((int(rng.integers(300, 401)), 0.02), {}, secret=int(rng.integers(10_000)))]


def _judge_mix(calls, outs):
    for call, out in zip(calls, outs):
        n, budget = call.args
        what = f"training_mix({n}, {budget:g})"
        if out is None:
            raise Fail(f"{what} returned None (did you forget `return`?)")
        arr = np.asarray(out) if not isinstance(out, (str, dict)) else None
        if arr is None or arr.dtype != bool or arr.shape != (n,):
            raise Fail(f"{what} should return a boolean array of shape ({n},): True for a distillation row, "
                       f"False for a keep row")
        if not arr.any():
            raise Fail(f"{what} has no distillation rows: the student would never learn the prompt")
        share, cap = 1.0 - arr.mean(), max_keep_share(budget)
        if share > cap + 1e-9:
            raise Fail(f"{what} makes {share:.0%} of the rows keep rows, more than the {cap:.0%} allowed for a "
                       f"budget of {budget:g} (ch08.max_keep_share): a looser budget needs fewer keep rows")
        seed = call.secret if call.secret is not None else (n * 7919 + int(round(budget * 1e4))) % 10_000
        res = mix_outcome(arr, seed)
        if res["kl_unprompted"] > budget:
            raise Fail(f"{what}: the unprompted model drifted by {res['kl_unprompted']:.4f} nats per token, over the "
                       f"budget of {budget:g}")
        if res["kl_to_teacher"] > QUALITY:
            raise Fail(f"{what}: the student reading c′ is {res['kl_to_teacher']:.4f} nats per token from the "
                       f"prompted teacher, over {QUALITY:g}")

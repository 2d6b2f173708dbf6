"""Chapter 7's create item 07.recipe: a function that maps a product spec to a distillation recipe.

The learner writes ``gkd_recipe(min_quality, min_coverage)`` returning ``(objective, weight, lam)``.
Each test trains the learner's recipes from two supervised students (the judge's secret seeds, which
the answer never sees) for two specs drawn on opposite sides of the chapter's frontier, and judges
each recipe by its mean quality and coverage over the two students:

* coverage first: coverage ≥ −1.882 (and quality ≥ −3.00) nats per token;
* quality first: quality ≥ −2.625 (and coverage ≥ −2.30) nats per token.

Measured with :func:`recipe_scores` (2,000 student samples), one student's quality varies by
0.03–0.05 nats per token over seeds and its coverage by 0.005–0.05; the mean of two students by
1/√2 of that. Only forward-like recipes (forward KL, JSD(β ≤ 0.15), skew forward KL with
α = 0.05, λ = 0) keep a mean coverage of −1.882 or more, and their quality is −2.71 to −2.83;
only recipes from JSD(0.35) towards reverse KL reach a mean quality of −2.625, at coverage −1.91
or less. On a grid of floor-ignoring constants (JSD(β), β = 0.05 … 0.95 in steps of 0.05,
forward and reverse KL, both skew divergences with α ≤ 0.3, λ ∈ {0, 0.5, 1};
``benchmarks/recipe_floors_ch07.py``), the nearest to meeting both specs (JSD(0.15)–JSD(0.4),
skew forward KL α ≤ 0.1, skew reverse KL α = 0.3, at λ = 0) met both on none of 253 pairs of
23 students; a normal fit gives each at most 0.8 % per test (docs/grading.md). The reference's
margins over 100 grading seeds are in docs/grading.md. Grading time: per test two supervised
starts and four 60-update runs, about 2.5 s of CPU.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from ._core import Call, Fail, as_array, as_scalar
from .ch07_functions import _as_dict

__all__ = ["SPECS", "recipe_scores"]

#: The two specs of every test: name -> (min_quality, min_coverage), nats per token.
SPECS = {"coverage first": (-3.00, -1.882), "quality first": (-2.625, -2.30)}
#: Secret students per test: a recipe's scores are its means over them.
N_STUDENTS = 2
_RECIPE_STEPS = 60
_N_SAMPLES = 2000


@functools.lru_cache(maxsize=128)  # a catalogue or margin run grades many answers on the same students
def _start(seed: int):
    from ..lm.frontier import supervised_student
    from ..lm.language import ToyLanguage

    lang = ToyLanguage()
    return lang, supervised_student(lang, seed), lang.sample(1000, seed=123)


def recipe_scores(recipe, seed, *, n_steps: int = _RECIPE_STEPS) -> tuple[float, float]:
    """Train a recipe ``(objective, weight, lam)`` from the supervised student of ``seed``; (quality, coverage).

    Exactly what exercise 07.recipe's grader does for one student: 60 updates of 32 sentences,
    lr 0.02, from ``kdbook.lm.frontier.supervised_student(lang, seed)``; scores (nats per token)
    from 2,000 student samples and the chapter's 1,000 fixed teacher samples. About a second of
    CPU per student. ``seed`` may be a sequence of seeds: the means over those students, which is
    what a test judges (it draws ``N_STUDENTS`` secret seeds).
    """
    if not isinstance(recipe, dict):
        recipe = _check_recipe(recipe)
    if np.ndim(seed) == 1:
        scores = np.array([recipe_scores(recipe, int(s), n_steps=n_steps) for s in seed])
        return float(scores[:, 0].mean()), float(scores[:, 1].mean())
    from ..lm.genmetrics import generation_report
    from ..lm.onpolicy import Objective, distill_on_policy

    lang, start, teacher_eval = _start(int(seed))
    obj = Objective(recipe["objective"], beta=recipe.get("beta"), alpha=recipe.get("alpha"))
    lam = recipe["lam"]
    schedule = (lambda s, n, x=float(lam): x) if np.ndim(lam) == 0 else (lambda s, n, xs=tuple(lam): xs[s])
    student = start.copy()
    distill_on_policy(student, lang, lang.sample(n_steps * 32, seed=2000 + int(seed)), lam=schedule, objective=obj,
                      steps=n_steps, batch_size=32, lr=0.02, seed=int(seed) + 50)
    r = generation_report(student, lang, teacher_samples=teacher_eval, n_samples=_N_SAMPLES, seed=99)
    return r.quality.mean, r.coverage.mean


def _recipe_cases(rng):
    """The two specs, in random order; the students' seeds are the judge's secret."""
    seeds = tuple(int(s) for s in rng.choice(np.arange(10, 10_000), size=N_STUDENTS, replace=False))
    calls = [Call(spec, secret=seeds) for spec in SPECS.values()]
    return calls if rng.random() < 0.5 else calls[::-1]


def _check_recipe(out) -> dict:
    from ..losses import DIVERGENCES, check_divergence

    d = _as_dict(out, "gkd_recipe(min_quality, min_coverage)", ("objective", "weight", "lam"))
    if not isinstance(d["objective"], str) or d["objective"] not in DIVERGENCES:
        raise Fail(f"recipe['objective'] should be one of {', '.join(map(repr, DIVERGENCES))}, got {d['objective']!r}")
    w = as_scalar(d["weight"])  # np.float64(0.5) arrives as a 0-d array
    if w is not None and (isinstance(w, bool) or not isinstance(w, (int, float))):
        raise Fail("recipe's weight should be β (for 'gjsd'), α (for the skew divergences) or None")
    beta = w if d["objective"] == "gjsd" else None
    alpha = w if d["objective"].startswith("skew_") else None
    if w is not None and beta is None and alpha is None:
        raise Fail(f"recipe's weight should be None for divergence {d['objective']!r} (it takes no β or α)")
    try:
        check_divergence(d["objective"], beta, alpha)
    except (ValueError, TypeError) as err:
        raise Fail(f"the recipe's objective is not valid: {err}") from None
    lam = as_array(d["lam"], "recipe['lam']")
    if lam.ndim not in (0, 1) or (lam.ndim == 1 and lam.size != _RECIPE_STEPS):
        raise Fail(f"recipe['lam'] should be one number or a list of {_RECIPE_STEPS} numbers (one per update)")
    if not np.all((lam >= 0) & (lam <= 1)):
        raise Fail("every λ in recipe['lam'] must lie in [0, 1]")
    return {"objective": d["objective"], "beta": beta, "alpha": alpha,
            "lam": float(lam) if lam.ndim == 0 else tuple(float(x) for x in lam)}


def _judge_recipe(calls, outs):
    recipes = [_check_recipe(out) for out in outs]  # every recipe well formed before any training
    for call, recipe in zip(calls, recipes):
        min_q, min_c = call.args
        q, c = recipe_scores(recipe, call.secret)
        short = []
        if not math.isfinite(q) or q < min_q:
            short.append(f"quality {q:.3f} < {min_q:.3f}")
        if not math.isfinite(c) or c < min_c:
            short.append(f"coverage {c:.3f} < {min_c:.3f}")
        if short:
            raise Fail(f"for the spec (min_quality={min_q:.3f}, min_coverage={min_c:.3f}) your recipe reached "
                       + " and ".join(short) + f" (nats per token, the mean over the {len(call.secret)} students "
                       "the grader drew)")

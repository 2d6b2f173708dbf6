"""Where 07.recipe's floors sit: floor-ignoring constant recipes against both specs (docs/grading.md).

Trains every recipe of a grid with ``recipe_scores`` (the grader's own run, one student at a time)
on the given student seeds, then pairs the students as a test does (``N_STUDENTS`` = 2, all pairs)
and prints, per recipe, how often its two-student means meet the coverage-first spec, the
quality-first spec and both, and a bivariate normal estimate of "both" per test. ``--margins N``
instead scores the reference's recipes (forward KL; JSD(0.9) or reverse KL) on the secret students
of grading seeds 0 … N − 1, as the grader draws them, and prints the worst margin to each floor
(what ``benchmarks/create_margins.py 100 07`` prints, at half its cost). Run from the repository
root (about 25 s of CPU per seed for the full grid, 7 s per grading seed for the margins):

    PYTHONPATH=$PWD python benchmarks/recipe_floors_ch07.py [--knee] SEED [SEED ...]
    PYTHONPATH=$PWD python benchmarks/recipe_floors_ch07.py --margins 100
"""
from __future__ import annotations

import itertools
import sys

import numpy as np
from scipy.stats import multivariate_normal

from kdbook.grading import registry
from kdbook.grading.ch07_recipe import N_STUDENTS, SPECS, recipe_scores
from kdbook.grading.spec import draw_calls

GRID = ([("gjsd", round(b, 2), 0.0) for b in np.arange(0.05, 0.951, 0.05)]
        + [(d, None, lam) for d in ("forward", "reverse") for lam in (0.0, 0.5, 1.0)]
        + [("gjsd", b, 0.5) for b in (0.2, 0.4, 0.6, 0.8)]
        + [("gjsd", round(b, 1), 1.0) for b in np.arange(0.1, 0.91, 0.1)]
        + [(d, a, lam) for d in ("skew_forward", "skew_reverse") for a in (0.05, 0.1, 0.2, 0.3)
           for lam in (0.0, 0.5, 1.0)])
KNEE = [("gjsd", b, 0.0) for b in (0.15, 0.2, 0.25, 0.3, 0.35, 0.4)] + [
    ("skew_forward", 0.05, 0.0), ("skew_forward", 0.1, 0.0), ("skew_reverse", 0.3, 0.0)]


def meets(q, c) -> tuple[bool, bool]:
    """Whether two-student means (q, c) meet the coverage-first and the quality-first spec."""
    (cq, cc), (qq, qc) = SPECS["coverage first"], SPECS["quality first"]
    return bool(q >= cq and c >= cc), bool(q >= qq and c >= qc)


def main(seeds, recipes) -> None:
    (_, min_c), (min_q, _) = SPECS["coverage first"], SPECS["quality first"]
    print(f"{len(seeds)} students, all pairs of {N_STUDENTS}; specs {SPECS}")
    for recipe in recipes:
        x = np.array([recipe_scores(recipe, s) for s in seeds])  # (seed, [quality, coverage])
        pairs = [x[list(g)].mean(0) for g in itertools.combinations(range(len(seeds)), N_STUDENTS)]
        ok = np.array([meets(q, c) for q, c in pairs])
        sd = x.std(0, ddof=1) / np.sqrt(N_STUDENTS)
        r = max(0.0, float(np.corrcoef(x.T)[0, 1]))
        z = [(x[:, 0].mean() - min_q) / sd[0], (x[:, 1].mean() - min_c) / sd[1]]
        both = multivariate_normal([0, 0], [[1, r], [r, 1]]).cdf(z)
        print(f"{str(recipe):28s} q {x[:, 0].mean():.3f} c {x[:, 1].mean():.3f}  coverage-first "
              f"{ok[:, 0].mean():.3f} quality-first {ok[:, 1].mean():.3f} both {ok.all(1).mean():.3f} "
              f"(normal {both:.4f})", flush=True)


def margins(n_seeds: int) -> None:
    ex = registry.get("07.recipe")
    (cq, cc), (qq, qc) = SPECS["coverage first"], SPECS["quality first"]
    worst: dict = {}
    for seed in range(n_seeds):
        for test in ex.tests:  # the grader's draw: the public test's seed is the run's seed here
            secret = draw_calls(ex, test, seed)[0].secret
            q, c = recipe_scores(("forward", None, 0.0), secret)
            rows = {"forward KL, coverage-first": (q - cq, c - cc)}
            for name, recipe in (("JSD(0.9)", ("gjsd", 0.9, 0.0)), ("reverse KL", ("reverse", None, 0.0))):
                q, c = recipe_scores(recipe, secret)
                rows[f"{name}, quality-first"] = (q - qq, c - qc)
            for k, m in rows.items():
                worst[k] = np.minimum(worst.get(k, np.inf), m)
    for k, (mq, mc) in worst.items():
        print(f"{k}: worst margin over grading seeds 0-{n_seeds - 1}: quality {mq:.4f}, coverage {mc:.4f}")


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["--margins"]:
        margins(int(args[1]))
    else:
        knee = "--knee" in args
        main([int(a) for a in args if a != "--knee"], KNEE if knee else GRID)

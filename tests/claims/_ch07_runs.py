"""Chapter 7's training runs, computed once per pytest process and shared by the chapter-7 claims tests.

test_ch07_onpolicy.py and test_ch07_regimes.py train the same students: the supervised start of
each seed (the regime map's 2-token window is the chapter's student) and the forward- and
reverse-KL fine-tunings at λ = 1 (the sweep's ends are the regime map's λ = 1 rows), and the
sweep's β = 0.5 at λ = 1 is the λ = 1 run of the λ comparison. Every run is exactly what
``kdbook.lm.frontier.objective_sweep`` does for one objective (60 updates of 32 sentences, lr 0.02,
fresh teacher samples of seed 2000 + seed, scores from 500 student samples of seed 99 against the
chapter's 1,000 teacher samples of seed 123), so sharing changes no number.
"""
from __future__ import annotations

import functools

import numpy as np

from kdbook.lm import ToyLanguage, WindowLM
from kdbook.lm.frontier import objective_sweep, supervised_student
from kdbook.lm.onpolicy import Objective, distill_on_policy


@functools.lru_cache(maxsize=1)
def setting():
    """The teacher (the toy language) and its 1,000 evaluation samples (seed 123)."""
    lang = ToyLanguage()
    return lang, lang.sample(1000, seed=123)


def start(seed: int, window: int = 2) -> WindowLM:
    """The supervised start: 300 forward-KL updates on 4,000 teacher samples (the chapter's for window 2)."""
    return _start(int(seed), int(window))  # every argument explicit: lru_cache keys start(s) and start(s, 2) apart


@functools.lru_cache(maxsize=None)
def _start(seed: int, window: int) -> WindowLM:
    lang, _ = setting()
    if window == 2:
        return supervised_student(lang, seed)
    st = WindowLM(lang, seed=seed, window=window, dim=16, hidden=32)
    distill_on_policy(st, lang, lang.sample(4000, seed=1000 + seed), lam=0.0, steps=300, batch_size=32, lr=0.01,
                      seed=seed)
    return st


def objective(key: tuple) -> Objective | None:
    """("forward",), ("gjsd", β), ("skew_forward", α), ... as an Objective; ("start",) is no fine-tuning."""
    name, *weight = key
    if name == "start":
        return None
    if name == "gjsd":
        return Objective("gjsd", beta=weight[0])
    if name.startswith("skew_"):
        return Objective(name, alpha=weight[0])
    return Objective(name)


def run(seed: int, key: tuple, lam: float, window: int = 2) -> tuple[WindowLM, np.ndarray]:
    """One fine-tuning from :func:`start`: the student and its (quality, coverage, entropy rate, distinct-2)."""
    return _run(int(seed), tuple(key), float(lam), int(window))


@functools.lru_cache(maxsize=None)
def _run(seed: int, key: tuple, lam: float, window: int) -> tuple[WindowLM, np.ndarray]:
    lang, teacher_eval = setting()
    sw = objective_sweep(lang, {"x": objective(key)}, [seed], starts={seed: start(seed, window)}, lam=lam,
                         teacher_samples=teacher_eval)
    return sw.students["x"][0], sw.scores["x"][0]

"""The objective sweep of chapter 7 and the state behind its β explorer (no UI code here).

Introduced in chapter 7 (``notebooks/07_generation_and_on_policy_distillation.ipynb``). The
recipe: a supervised student (forward KL on teacher samples, λ = 0: chapter 6's token-level KD)
is the common starting point of every seed; from it, each objective fine-tunes a copy on-policy
(``kdbook.lm.onpolicy.distill_on_policy``) at the same budget of teacher passes. Each result is
scored with ``kdbook.lm.genmetrics.generation_report``. :func:`frontier_state` reads everything the
explorer shows for one β out of a finished sweep, so a redraw computes nothing expensive.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _validate as v
from .genmetrics import generation_report
from .window import WindowLM
from .onpolicy import Objective, distill_on_policy
from .policy import sample_sentences

__all__ = ["STUDENT", "supervised_student", "SweepResult", "objective_sweep", "FrontierState", "frontier_state",
           "BETA_OBJECTIVES", "beta_label"]

#: The chapter's student: a 2-token window, 16-d embeddings, 32 tanh units.
STUDENT = {"window": 2, "dim": 16, "hidden": 32}

#: β of the explorer's slider and the objective each stands for: the ends are the KL limits.
BETA_OBJECTIVES = {0.0: Objective("forward"), 0.1: Objective("gjsd", beta=0.1), 0.5: Objective("gjsd", beta=0.5),
                   0.9: Objective("gjsd", beta=0.9), 1.0: Objective("reverse")}


def supervised_student(teacher, seed: int, *, n_data: int = 4000, steps: int = 300, lr: float = 0.01,
                       batch_size: int = 32) -> WindowLM:
    """The chapter's starting point: a :data:`STUDENT` trained by forward KL on ``n_data`` teacher samples.

    Teacher samples use seed ``1000 + seed``, the student's weights and batch order ``seed``.
    Introduced in chapter 7.
    """
    seed = v.check_int(seed, "seed", minimum=0)
    student = WindowLM(teacher, seed=seed, **STUDENT)
    data = teacher.sample(v.check_int(n_data, "n_data", minimum=1), seed=1000 + seed)
    distill_on_policy(student, teacher, data, lam=0.0, steps=steps, batch_size=batch_size, lr=lr, seed=seed)
    return student


@dataclass
class SweepResult:
    """Scores of every objective and seed of :func:`objective_sweep`.

    ``scores[label]`` is an (n_seeds, 4) array of quality, coverage, entropy rate and distinct-2;
    ``students[label]`` the fine-tuned students (one per seed); ``labels`` in sweep order.
    """

    labels: tuple
    seeds: tuple
    scores: dict
    students: dict

    def summary(self, label: str) -> tuple[np.ndarray, np.ndarray]:
        """Mean and sample SD (ddof = 1) over seeds of the four scores of one objective."""
        s = self.scores[label]
        return s.mean(axis=0), s.std(axis=0, ddof=1) if len(s) > 1 else np.zeros(s.shape[1])

    def point(self, label: str) -> tuple[float, float, float, float]:
        """(coverage, quality, coverage SD, quality SD): a point of ``kdbook.plotting.generation.plot_frontier``."""
        mean, sd = self.summary(label)
        return float(mean[1]), float(mean[0]), float(sd[1]), float(sd[0])


def objective_sweep(teacher, objectives: dict, seeds, *, starts: dict | None = None, lam=1.0, steps: int = 60,
                    lr: float = 0.02, batch_size: int = 32, teacher_samples=None, n_eval: int = 500,
                    eval_seed: int = 99) -> SweepResult:
    """Fine-tune a copy of each seed's supervised student with each objective; score them all.

    ``objectives`` maps a label to an :class:`kdbook.lm.onpolicy.Objective` (or ``None``: the
    supervised student itself, not fine-tuned). ``starts`` maps a seed to its starting student
    (default :func:`supervised_student`). The λ fine-tuning takes ``steps`` updates of
    ``batch_size`` sentences (seed ``seed + 50``; off-policy rows from fresh teacher samples,
    seed ``2000 + seed``). Scores use ``n_eval`` student samples (seed ``eval_seed``) and the
    fixed ``teacher_samples``. Introduced in chapter 7.
    """
    if not isinstance(objectives, dict) or not objectives:
        raise ValueError("objectives must be a non-empty dict: label -> kdbook.lm.onpolicy.Objective (or None)")
    for label, obj in objectives.items():
        if obj is not None and not isinstance(obj, Objective):
            raise TypeError(f"objectives[{label!r}] must be a kdbook.lm.onpolicy.Objective or None, got {type(obj).__name__}")
    seeds = tuple(v.check_int(s, "seeds", minimum=0) for s in seeds)
    if not seeds:
        raise ValueError("seeds must hold at least one seed")
    if teacher_samples is None:
        teacher_samples = teacher.sample(1000, seed=123)
    starts = dict(starts or {})
    scores = {label: np.zeros((len(seeds), 4)) for label in objectives}
    students = {label: [] for label in objectives}
    for i, seed in enumerate(seeds):
        if seed not in starts:
            starts[seed] = supervised_student(teacher, seed)
        fresh = teacher.sample(steps * batch_size, seed=2000 + seed)
        for label, obj in objectives.items():
            student = starts[seed].copy()
            if obj is not None:
                distill_on_policy(student, teacher, fresh, lam=lam, objective=obj, steps=steps,
                                  batch_size=batch_size, lr=lr, seed=seed + 50)
            r = generation_report(student, teacher, teacher_samples=teacher_samples, n_samples=n_eval, seed=eval_seed)
            scores[label][i] = (r.quality.mean, r.coverage.mean, r.entropy_rate.mean, r.distinct_2)
            students[label].append(student)
    return SweepResult(tuple(objectives), seeds, scores, students)


@dataclass(frozen=True)
class FrontierState:
    """What the β explorer shows for one β: frontier points, the highlighted one, next-token bars, sentences."""

    beta: float
    label: str
    points: dict  # label -> (coverage, quality, coverage SD, quality SD)
    path: tuple  # labels of the β sweep, forward-like to reverse-like
    words: tuple  # the tokens of the next-token bars
    next_token: dict  # "teacher" and the student at β -> probabilities over ``words`` (renormalised: top tokens)
    sentences: tuple  # a few sentences the student at β writes


def frontier_state(sweep: SweepResult, beta: float, *, teacher, prefix: str, betas: dict | None = None,
                   n_words: int = 8, n_sentences: int = 4) -> FrontierState:
    """The explorer's view of a finished sweep at one β (seed 0's student; no training).

    ``betas`` maps each β to its label in ``sweep`` (default: "β = 0 (forward KL)", …,
    "β = 1 (reverse KL)" for the keys of :data:`BETA_OBJECTIVES`). The next-token bars show the
    ``n_words`` tokens the teacher finds most likely after ``prefix``, plus "other" (the rest
    of the mass), for the teacher and the student. Introduced in chapter 7.
    """
    if not isinstance(sweep, SweepResult):
        raise TypeError(f"sweep must be a kdbook.lm.frontier.SweepResult (from objective_sweep), got {type(sweep).__name__}")
    if not isinstance(prefix, str):
        raise TypeError(f"prefix must be a string of words such as 'the dog', got {type(prefix).__name__}")
    betas = betas or {b: beta_label(b) for b in BETA_OBJECTIVES}
    b = v.check_unit_interval(beta, "beta")
    if b not in betas:
        raise ValueError(f"beta must be one of the swept values {sorted(betas)}, got {beta!r}")
    label = betas[b]
    if label not in sweep.scores:
        raise ValueError(f"the sweep has no objective {label!r} for beta={b:g}")
    student = sweep.students[label][0]
    start = teacher.vocab.batch([prefix]).inputs  # <s> and the prefix's words
    p = np.exp(teacher.next_logprobs(start))[0]
    q = np.exp(student.next_logprobs(start))[0]
    top = np.argsort(-p, kind="stable")[:n_words]
    words = tuple(teacher.words[i] for i in top) + ("other",)
    bars = {name: np.append(d[top], max(0.0, 1.0 - d[top].sum())) for name, d in (("teacher", p), (label, q))}
    sents = sample_sentences(student, n_sentences, seed=7)
    return FrontierState(b, label, {k: sweep.point(k) for k in sweep.labels}, tuple(betas[x] for x in sorted(betas)),
                         words, bars, tuple(teacher.decode_batch(sents)))


def beta_label(beta: float) -> str:
    """The sweep label of a β: "β = 0 (forward KL)", "β = 0.5", "β = 1 (reverse KL)".

    >>> beta_label(0), beta_label(0.9)
    ('β = 0 (forward KL)', 'β = 0.9')
    """
    b = float(beta)
    return {0.0: "β = 0 (forward KL)", 1.0: "β = 1 (reverse KL)"}.get(b, f"β = {b:g}")

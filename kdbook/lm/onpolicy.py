r"""On-policy distillation of a language model (GKD, Agarwal et al. 2024).

Introduced in chapter 7 (``notebooks/07_generation_and_on_policy_distillation.ipynb``). Each
update draws a batch of B sentences: round(λB) of them sampled from the *current student*
(on-policy) and the rest from a fixed data set of teacher samples (off-policy, supervised KD as
in chapter 6). The teacher scores every token of every sentence (its full next-token
distribution), and the student takes one step on the per-token divergence

.. math:: L = \frac{1}{\sum_{b,t} m_{b,t}} \sum_{b,t} m_{b,t}\, D\bigl(p(\cdot\mid y_{b,<t}),\, q_\theta(\cdot\mid y_{b,<t})\bigr)

with D one of kdbook's divergences (forward KL, reverse KL, JSD(β) in GKD's convention, skew KL
with α), through ``kdbook.train.train_step``. The sampled sentences are treated as data: no
gradient flows through the sampling (GKD's choice; ``kdbook.lm.seqkl`` has the gradient that does).

λ = 0 is supervised KD on teacher samples; λ = 1 is fully on-policy. ``lam`` may also be a
schedule, a function ``lam(step, n_steps) -> float`` in [0, 1].
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .. import _validate as v
from ..losses import Objective  # one objective type for supervised and on-policy training
from ..optim import Adam
from .policy import check_pair, free_mask, sample_sentences, stack_batches
from .sequences import LMBatch
from ..train import train_step

__all__ = ["Objective", "OBJECTIVES", "gkd_batch", "distill_on_policy", "teacher_passes"]


#: The objectives chapter 7 compares, by name.
OBJECTIVES = {
    "forward": Objective("forward"),
    "reverse": Objective("reverse"),
    "jsd(0.1)": Objective("gjsd", beta=0.1),
    "jsd(0.5)": Objective("gjsd", beta=0.5),
    "jsd(0.9)": Objective("gjsd", beta=0.9),
    "skew_forward": Objective("skew_forward", alpha=0.1),
    "skew_reverse": Objective("skew_reverse", alpha=0.1),
}


def _check_lam(lam) -> Callable[[int, int], float]:
    if callable(lam):
        def schedule(step: int, n_steps: int) -> float:
            value = lam(step, n_steps)
            try:
                x = float(value)
            except (TypeError, ValueError):
                raise TypeError(f"lam(step, n_steps) must return a number in [0, 1], got {type(value).__name__} "
                                f"at step {step}") from None
            if not 0.0 <= x <= 1.0:
                raise ValueError(f"lam(step, n_steps) must return a number in [0, 1], got {x!r} at step {step}")
            return x
        return schedule
    x = v.check_unit_interval(lam, "lam")
    return lambda step, n_steps: x


def gkd_batch(student, data: LMBatch, order: np.ndarray, cursor: int, *, batch_size: int, lam: float,
              seed: int | np.random.Generator) -> tuple[LMBatch, int, int]:
    """One mixed batch: round(λB) student samples and B − round(λB) rows of ``data``.

    ``data`` rows are taken in ``order`` from ``cursor`` on (wrapping around). Returns the batch,
    the new cursor and the number of student sentences in it. Introduced in chapter 7.
    """
    n_on = int(round(lam * batch_size))
    parts = []
    if n_on:
        parts.append(sample_sentences(student, n_on, seed=seed))
    n_off = batch_size - n_on
    if n_off:
        if len(data) == 0:
            raise ValueError("data is empty but lam < 1 asks for off-policy sentences")
        idx = order[(cursor + np.arange(n_off)) % len(order)]
        parts.append(data.select(idx))
        cursor += n_off
    return stack_batches(*parts, pad=student.vocab.pad), cursor, n_on


@dataclass
class History:
    """Per-step record of :func:`distill_on_policy`."""

    loss: list = field(default_factory=list)
    lam: list = field(default_factory=list)
    student_sentences: list = field(default_factory=list)  # sampled from the student at this step
    teacher_positions: list = field(default_factory=list)  # next-token distributions the teacher gave

    def as_arrays(self) -> dict[str, np.ndarray]:
        return {k: np.asarray(val) for k, val in self.__dict__.items()}


def distill_on_policy(student, teacher, data: LMBatch | None, *, lam=0.5, objective: Objective | None = None,
                      steps: int = 200, batch_size: int = 32, lr: float = 0.01,
                      seed: int | np.random.Generator = 0) -> dict[str, np.ndarray]:
    """Train ``student`` in place by GKD: λ on-policy, 1 − λ from ``data``; return the per-step history.

    Parameters
    ----------
    student : kdbook.lm.WindowLM (or any protocol model with a ``vocab``)
    teacher : kdbook.lm.ToyLanguage (or any model whose ``logits`` the loss can use)
        Scores every token of every sentence of each batch.
    data : LMBatch or None
        Teacher samples for the off-policy part, visited in a seeded random order; may be
        ``None`` only when λ = 1 at every step.
    lam : float in [0, 1] or callable ``lam(step, n_steps)``
        The on-policy fraction λ of each batch (GKD's ``lmbda``).
    objective : Objective, default forward KL
    steps, batch_size, lr : int, int, float
        Adam updates, sentences per update, learning rate.
    seed : int or numpy.random.Generator
        Orders ``data`` and seeds the student's samples.

    Returns
    -------
    dict of ndarray
        ``loss``, ``lam``, ``student_sentences`` and ``teacher_positions`` per step.
    """
    check_pair(teacher, student)
    objective = Objective() if objective is None else objective
    if not isinstance(objective, Objective):
        raise TypeError(f"objective must be a kdbook.losses.Objective, got {type(objective).__name__}")
    schedule = _check_lam(lam)
    n_steps = v.check_int(steps, "steps", minimum=1)
    B = v.check_int(batch_size, "batch_size", minimum=1)
    rng = v.check_rng(seed)
    if data is not None and not isinstance(data, LMBatch):
        raise TypeError(f"data must be a kdbook.lm.LMBatch of teacher samples or None, got {type(data).__name__}")
    order = rng.permutation(len(data)) if data is not None and len(data) else np.zeros(0, dtype=int)
    opt = Adam(student.params, lr=v.check_positive(lr, "lr"))
    hist, cursor = History(), 0
    for step in range(n_steps):
        lam_t = schedule(step, n_steps)
        if data is None and round(lam_t * B) < B:
            raise ValueError(f"data is None but lam={lam_t:g} at step {step} asks for off-policy sentences")
        batch, cursor, n_on = gkd_batch(student, data, order, cursor, batch_size=B, lam=lam_t, seed=rng)
        free = free_mask(batch, student.vocab.max_len)
        loss = train_step(student, opt, batch.inputs, teacher_logits=teacher.logits(batch.inputs), mask=free,
                          T=objective.T, hard_weight=objective.hard_weight, **objective.kwargs())
        hist.loss.append(float(loss))
        hist.lam.append(lam_t)
        hist.student_sentences.append(n_on)
        on_rows = free[:n_on]
        hist.teacher_positions.append(int(on_rows.sum()))
    return hist.as_arrays()


def teacher_passes(n_data: int, history: dict) -> int:
    """Teacher forward passes a run used: one per data sentence (sampling it) plus one per student sentence scored.

    Counting a whole sentence as one pass is how a transformer teacher is used: one forward
    pass scores every position of a sequence. Introduced in chapter 7.
    """
    return int(v.check_int(n_data, "n_data", minimum=0) + np.sum(history["student_sentences"]))

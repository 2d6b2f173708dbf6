r"""Distilling a draft model for speculative decoding: objectives (TV among them), data, acceptance.

Introduced in chapter 9 (``notebooks/09_speculative_decoding.ipynb``). A draft q is good when the
target p accepts its tokens: the acceptance rate at temperature T is
:math:`\alpha_T = \mathbb{E}_{y \sim p_T}\bigl[\sum_x \min(p_T(x \mid y), q_T(x \mid y))\bigr] = 1 - \mathbb{E}\,\mathrm{TV}(p_T, q_T)`
(Leviathan, Kalman & Matias 2023), and under greedy decoding (T = 0) it is the share of positions
where the two argmaxes agree. DistillSpec (Zhou et al. 2024) trains the draft for this: with
several divergences, on the target's samples or on the draft's own (on-policy).

:func:`tv_loss_and_grad` gives the total variation as a training loss: its gradient exists
wherever no :math:`p_i = q_i` exactly, and is

.. math:: \frac{\partial\, \mathrm{TV}}{\partial z_j} = \tfrac12\, q_j \Bigl(s_j - \sum_i s_i q_i\Bigr),
          \qquad s = \operatorname{sign}(q - p),\; q = \mathrm{softmax}(z).

:func:`distill_draft` fine-tunes a copy of a starting draft with one objective for a fixed
budget; :func:`acceptance` measures α at any temperature on given prefixes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _validate as v
from ..losses import kd_loss_and_grad
from ..optim import Adam
from .onpolicy import Objective, gkd_batch
from .policy import check_pair, free_mask
from .sequences import LMBatch
from .speculative import tempered

__all__ = ["tv_loss_and_grad", "DraftObjective", "DRAFT_OBJECTIVES", "distill_draft", "acceptance",
           "position_acceptance", "round_acceptance", "held_out", "seen_share"]


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def tv_loss_and_grad(student_logits, teacher_logits, *, mask=None) -> tuple[float, np.ndarray]:
    r"""Token-mean total variation :math:`\tfrac12\sum_x |p(x) - q(x)|` between teacher and student, and its gradient.

    ``student_logits`` and ``teacher_logits``: (…, V) logits (log-probabilities are logits);
    ``mask``: (…) bool, the positions that count. Returns the mean TV over the counted positions
    and the gradient with respect to ``student_logits`` (formula in the module docstring).
    Chapter 9, section 3.
    """
    z = v.as_float_array(student_logits, "student_logits")
    t = v.as_float_array(teacher_logits, "teacher_logits")
    if z.shape != t.shape:
        raise ValueError(f"student_logits and teacher_logits must have one shape, got {z.shape} and {t.shape}")
    m = np.ones(z.shape[:-1], dtype=bool) if mask is None else v.check_mask(mask, z.shape[:-1])
    n = int(m.sum())
    if n == 0:
        raise ValueError("mask masks every position: there is nothing to average")
    q, p = _softmax(z), _softmax(t)
    s = np.sign(q - p)
    tv = 0.5 * np.abs(q - p).sum(axis=-1)
    grad = 0.5 * q * (s - (s * q).sum(axis=-1, keepdims=True))
    return float(tv[m].sum() / n), np.where(m[..., None], grad, 0.0) / n


@dataclass(frozen=True)
class DraftObjective:
    """How a draft is fine-tuned: a divergence (``"tv"`` or any :class:`kdbook.lm.onpolicy.Objective`) and λ.

    ``lam`` is the share of each batch sampled from the draft itself (0: the target's samples,
    1: on-policy, DistillSpec's preferred data).
    """

    divergence: str = "forward"
    beta: float | None = None
    lam: float = 0.0

    def __post_init__(self) -> None:
        if self.divergence != "tv":
            Objective(self.divergence, beta=self.beta)
        v.check_unit_interval(self.lam, "lam")

    @property
    def label(self) -> str:
        name = "TV" if self.divergence == "tv" else Objective(self.divergence, beta=self.beta).label
        return f"{name}, {'on-policy' if self.lam == 1 else 'target samples' if self.lam == 0 else f'λ={self.lam:g}'}"


#: The drafts chapter 9 compares: four divergences, on the target's samples and on-policy.
DRAFT_OBJECTIVES = {
    f"{name} {data}": DraftObjective(div, beta, lam)
    for name, div, beta in (("forward", "forward", None), ("reverse", "reverse", None), ("jsd", "gjsd", 0.5),
                            ("tv", "tv", None))
    for data, lam in (("off", 0.0), ("on", 1.0))
}


def distill_draft(draft, target, data: LMBatch, objective: DraftObjective, *, steps: int = 60,
                  batch_size: int = 32, lr: float = 0.005, seed: int | np.random.Generator = 0):
    """Fine-tune a copy of ``draft`` towards ``target`` with ``objective``; return the copy.

    Each of ``steps`` Adam updates takes ``batch_size`` sentences: round(λ·B) sampled from the
    draft being trained, the rest from ``data`` (target samples); the target scores every
    position; the loss is the token mean of the divergence. Same budget for every objective.
    Chapter 9, section 3.
    """
    check_pair(target, draft)
    if not isinstance(objective, DraftObjective):
        raise TypeError(f"objective must be a kdbook.lm.draft.DraftObjective, got {type(objective).__name__}")
    if not isinstance(data, LMBatch):
        raise TypeError(f"data must be a kdbook.lm.LMBatch of target samples, got {type(data).__name__}")
    student = draft.copy()
    rng = v.check_rng(seed)
    n_steps, B = v.check_int(steps, "steps", minimum=1), v.check_int(batch_size, "batch_size", minimum=1)
    opt = Adam(student.params, lr=v.check_positive(lr, "lr"))
    order, cursor = rng.permutation(len(data)), 0
    kw = {} if objective.divergence == "tv" else Objective(objective.divergence, beta=objective.beta).kwargs()
    for _ in range(n_steps):
        batch, cursor, _ = gkd_batch(student, data, order, cursor, batch_size=B, lam=objective.lam, seed=rng)
        mask = free_mask(batch, student.vocab.max_len)
        z = student.forward(batch.inputs)
        t = target.logits(batch.inputs)
        if objective.divergence == "tv":
            _, grad = tv_loss_and_grad(z, t, mask=mask)
        else:
            _, grad = kd_loss_and_grad(z, t, mask=mask, reduction="tokenmean", **kw)
        opt.step(student.backward(grad))
    return student


def _position_values(target, draft, batch: LMBatch, T: float) -> tuple[np.ndarray, np.ndarray]:
    check_pair(target, draft)
    if not isinstance(batch, LMBatch):
        raise TypeError(f"batch must be a kdbook.lm.LMBatch of prefixes, got {type(batch).__name__}")
    T = float(v.as_real(T, "T"))
    if T < 0:
        raise ValueError(f"T must be >= 0 (0 is greedy), got {T}")
    lp, lq = target.logits(batch.inputs), np.asarray(draft.logits(batch.inputs), dtype=float)
    lq = lq - lq.max(axis=-1, keepdims=True)
    lq = lq - np.log(np.exp(lq).sum(axis=-1, keepdims=True))
    mask = free_mask(batch, target.vocab.max_len)
    if T == 0:
        a = (lp.argmax(axis=-1) == lq.argmax(axis=-1)).astype(float)
    else:
        a = np.minimum(tempered(lp, T), tempered(lq, T)).sum(axis=-1)
    return a, mask


def acceptance(target, draft, batch: LMBatch, *, T: float = 1.0) -> float:
    r"""Mean acceptance probability over the free positions of ``batch``: :math:`\overline{\sum_x \min(p_T, q_T)}`.

    T = 0: the share of positions where the target's and the draft's argmax agree (greedy
    speculative decoding accepts exactly those). The prefixes should come from the target
    (sampled at T) to measure what a speculative run meets. Chapter 9, section 3.
    """
    a, mask = _position_values(target, draft, batch, T)
    return float(a[mask].mean())


def position_acceptance(target, draft, batch: LMBatch, *, T: float = 1.0, n_positions: int = 10) -> np.ndarray:
    """(n_positions,) mean acceptance at sentence positions 1, 2, … (free positions only; NaN where none).

    Chapter 9, section 2: acceptance varies with position, which is why the measured tokens per
    call differ from the i.i.d. formula.
    """
    a, mask = _position_values(target, draft, batch, T)
    k = v.check_int(n_positions, "n_positions", minimum=1)
    pos = np.cumsum(batch.mask, axis=1) - 1  # 0 for the first predicted token
    out = np.full(k, np.nan)
    for t in range(k):
        sel = mask & (pos == t)
        if sel.any():
            out[t] = a[sel].mean()
    return out


def round_acceptance(target, draft, gen, *, n_positions: int = 10, T: float = 1.0) -> dict[str, np.ndarray]:
    r"""Per sentence position of a speculative run: measured acceptance, its SE, and the exact Σ min(p, q).

    ``gen`` is a :class:`kdbook.lm.speculative.SpeculativeGeneration`. At position t the
    measured rate is accepted / drafted over the rows where a draft was verified there; the
    exact value is the mean of :math:`\sum_x \min(p_T, q_T)` at those very prefixes, so the two
    differ only by sampling noise; ``se`` is that noise's standard error given the prefixes,
    :math:`\sqrt{\sum_i \alpha_i(1-\alpha_i)}/n` (each verified draft is accepted with its own
    :math:`\alpha_i`). Returns ``measured``, ``se``, ``exact`` and ``count``
    (NaN where nothing was drafted). Chapter 9, section 2.
    """
    a, _ = _position_values(target, draft, gen.batch, T)
    k = v.check_int(n_positions, "n_positions", minimum=1)
    pos = np.cumsum(gen.batch.mask, axis=1) - 1
    out = {name: np.full(k, np.nan) for name in ("measured", "se", "exact", "count")}
    for t in range(min(k, gen.drafted.shape[1])):
        rows = np.flatnonzero(gen.drafted[:, t])
        if rows.size == 0:
            continue
        col = np.argmax((pos[rows] == t) & gen.batch.mask[rows], axis=1)
        acc, a_t = gen.accepted[rows, t].astype(float), a[rows, col]
        out["measured"][t], out["count"][t] = acc.mean(), rows.size
        out["se"][t] = np.sqrt((a_t * (1 - a_t)).sum()) / rows.size  # given the prefixes: Bernoulli(α_i) each
        out["exact"][t] = a_t.mean()
    return out


def _sentences(b: LMBatch, name: str) -> list[tuple]:
    if not isinstance(b, LMBatch):
        raise TypeError(f"{name} must be a kdbook.lm.LMBatch, got {type(b).__name__}")
    return [tuple(r[m]) for r, m in zip(b.targets, b.mask)]


def seen_share(batch: LMBatch, data: LMBatch) -> float:
    """The share of the sentences of ``batch`` that occur in ``data`` (whole sentences compared).

    Chapter 9, section 3: the overlap of an evaluation set with a training set.
    """
    seen = set(_sentences(data, "data"))
    rows = _sentences(batch, "batch")
    return float(np.mean([r in seen for r in rows])) if rows else 0.0


def held_out(batch: LMBatch, data: LMBatch, *more: LMBatch) -> tuple[LMBatch, float]:
    """The sentences of ``batch`` that occur in none of the training sets ``data, *more``, and the share removed.

    Held-out means disjoint from every training input a model saw (for a fine-tuned draft: its
    starting model's data too). Short sentences of the toy language recur in any large sample, so
    the filter removes the short, frequent sentences, which drafts accept most often: acceptance
    on a held-out set is lower than on the target's own traffic. Chapter 9, section 3.
    """
    seen = set()
    for i, d in enumerate((data, *more)):
        seen.update(_sentences(d, "data" if i == 0 else f"more[{i - 1}]"))
    keep = np.array([r not in seen for r in _sentences(batch, "batch")], dtype=bool)
    return batch.select(np.flatnonzero(keep)), float(1 - keep.mean())

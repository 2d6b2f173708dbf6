r"""What a distilled language model writes, measured against an exactly known teacher.

Introduced in chapter 7 (``notebooks/07_generation_and_on_policy_distillation.ipynb``). The
teacher is the toy language (``kdbook.lm.ToyLanguage``), so every score of a sentence is
exact; only the choice of sentences is random, and every average comes with its standard error.

``quality``
    the teacher's log-likelihood per token of the student's samples, :math:`\mathbb{E}_{y\sim q}
    \log p(y) / |y|`: does the student write what the teacher would write?
``coverage``
    the student's log-likelihood per token of the teacher's samples, :math:`\mathbb{E}_{y\sim p}
    \log q(y)/|y|` (minus the teacher's entropy rate this is the per-token forward KL): can the
    student write everything the teacher writes?
``diversity``
    the entropy rate of the student's samples, :math:`-\mathbb{E}_{y\sim q}\log q(y)/|y|`, and
    distinct-n (the share of distinct n-grams among all n-grams of the samples).

Per-position KL along prefixes drawn from either model (:func:`position_kl`) measures exposure
bias (Bengio et al. 2015; Ranzato et al. 2016).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _validate as v
from .policy import check_pair, free_mask, policy_token_logprobs
from .sequences import LMBatch, check_batch
from ..losses import kl_from_logits

__all__ = ["Estimate", "per_token_loglik", "distinct_n", "position_kl", "GenerationReport", "generation_report"]


@dataclass(frozen=True)
class Estimate:
    """A Monte Carlo mean and its standard error (sample SD / √n, ddof = 1)."""

    mean: float
    se: float

    def __format__(self, spec: str) -> str:
        spec = spec or ".4f"
        return f"{self.mean:{spec}} ± {self.se:{spec}}"


def _check_batch(batch) -> LMBatch:
    return check_batch(batch, nonempty=True)


def per_token_loglik(model, batch: LMBatch) -> Estimate:
    r"""Log-likelihood per token of ``batch`` under ``model``: :math:`\sum_b \log m(y_b) / \sum_b |y_b|`.

    A ratio estimate: its standard error comes from the per-sentence terms
    :math:`\log m(y_b) - \bar\ell |y_b|` (the delta method), so long and short sentences count
    by their tokens. Positions where the end is forced (the length limit) count as tokens with
    log-probability 0 for both models. Introduced in chapter 7.
    """
    batch = _check_batch(batch)
    lp = policy_token_logprobs(model, batch).sum(axis=1)
    n_tok = batch.mask.sum(axis=1).astype(float)
    mean = lp.sum() / n_tok.sum()
    resid = lp - mean * n_tok
    se = np.sqrt(resid.var(ddof=1) / len(lp)) / n_tok.mean() if len(lp) > 1 else float("nan")
    return Estimate(float(mean), float(se))


def distinct_n(batch: LMBatch, n: int = 2) -> float:
    """Share of distinct n-grams among all n-grams of the sentences (words and ``</s>``; 0 if none).

    Introduced in chapter 7 as a diversity score: 1 when no n-gram repeats.

    Examples
    --------
    >>> from kdbook.lm import ToyLanguage
    >>> lang = ToyLanguage()
    >>> distinct_n(lang.batch(["the dog sleeps", "the dog sleeps"]), 2)  # 6 bigrams, 3 distinct
    0.5
    """
    batch = _check_batch(batch)
    n = v.check_int(n, "n", minimum=1)
    grams = []
    for tgt, m in zip(batch.targets, batch.mask):
        toks = tuple(int(t) for t in tgt[m])
        grams.extend(toks[i : i + n] for i in range(len(toks) - n + 1))
    return len(set(grams)) / len(grams) if grams else 0.0


def position_kl(teacher, student, prefixes: LMBatch, *, direction: str = "forward") -> tuple[np.ndarray, np.ndarray]:
    r"""Mean token-level KL at each position along the prefixes of ``prefixes``, and its standard error.

    .. math:: \overline{\mathrm{KL}}_t = \frac{1}{|B_t|}\sum_{b \in B_t}
              \mathrm{KL}\bigl(p(\cdot\mid y_{b,<t}) \,\|\, q(\cdot\mid y_{b,<t})\bigr)

    over the sentences B_t that reach position t (t = 0 predicts the first word). Feed it
    teacher samples to see the error on the prefixes the student was trained on, and the
    student's own samples to see the error where it generates: the gap is exposure bias.
    ``direction="reverse"`` gives KL(q‖p). Positions no sentence reaches are NaN.

    Returns
    -------
    mean, se : ndarray, shape (L,)
    """
    batch = _check_batch(prefixes)
    check_pair(teacher, student)
    direction = v.check_choice(direction, "direction", ("forward", "reverse"))
    v_t, z_s = teacher.logits(batch.inputs), student.logits(batch.inputs)
    first, second = (v_t, z_s) if direction == "forward" else (z_s, v_t)
    kl = kl_from_logits(second, first)  # KL(first ‖ second) per position, the core's log-softmax differences
    free = free_mask(batch, student.vocab.max_len)
    # position within the sentence: 0 at the first predicted token
    pos = np.cumsum(batch.mask, axis=1) - 1
    L = int(pos.max()) + 1
    mean, se = np.full(L, np.nan), np.full(L, np.nan)
    for t in range(L):
        vals = kl[free & (pos == t)]
        if vals.size:
            mean[t] = vals.mean()
            se[t] = vals.std(ddof=1) / np.sqrt(vals.size) if vals.size > 1 else np.nan
    return mean, se


@dataclass(frozen=True)
class GenerationReport:
    """Quality, coverage and diversity of one student (see the module docstring)."""

    quality: Estimate
    coverage: Estimate
    entropy_rate: Estimate
    distinct_2: float
    forward_kl_rate: Estimate  # teacher entropy rate − coverage (per token, on the teacher's samples)


def generation_report(student, teacher, *, teacher_samples: LMBatch, n_samples: int = 500,
                      seed: int | np.random.Generator = 0) -> GenerationReport:
    """Score ``student`` against ``teacher``: ``n_samples`` student sentences and the given teacher samples.

    Introduced in chapter 7. The student's sentences come from
    ``kdbook.lm.policy.sample_sentences(student, n_samples, seed=seed)``; ``teacher_samples``
    (``teacher.sample(n, seed=...)``) stay fixed across the students being compared.
    """
    from .policy import sample_sentences

    check_pair(teacher, student)
    samples = sample_sentences(student, v.check_int(n_samples, "n_samples", minimum=2), seed=seed)
    quality = per_token_loglik(teacher, samples)
    own = per_token_loglik(student, samples)
    coverage = per_token_loglik(student, _check_batch(teacher_samples))
    # forward KL per token on the same teacher samples: paired, so its SE is that of the difference
    n_tok = teacher_samples.mask.sum(axis=1).astype(float)
    diff = (policy_token_logprobs(teacher, teacher_samples) - policy_token_logprobs(student, teacher_samples)).sum(axis=1)
    rate = diff.sum() / n_tok.sum()
    se = np.sqrt((diff - rate * n_tok).var(ddof=1) / len(diff)) / n_tok.mean()
    return GenerationReport(quality, coverage, Estimate(-own.mean, own.se), distinct_n(samples, 2),
                            Estimate(float(rate), float(se)))

"""Held-out measurements of a student language model against a teacher (chapters 6-8).

Introduced in chapter 6 (``notebooks/06_distilling_a_language_model.ipynb``, section 3). All of
them take ``LMBatch`` es (``kdbook.lm.sequences``) and any models with ``logits`` (the exact toy
language, ``kdbook.lm`` students):

* :func:`token_kl` — KL(p(·|prefix) ‖ q(·|prefix)) at every position of a batch;
* :func:`sequence_kl` — the sequence-level forward KL estimated by Monte Carlo on teacher
  samples, E_{y~p}[log p(y) − log q(y)], with its standard error;
* :func:`perplexity` — exp of the mean negative log-likelihood per token;
* :func:`greedy_report` — the student's greedy continuations scored by the teacher.

By the chain rule, the sequence-level KL equals the expected *sum* of the token-level KLs along
teacher-sampled prefixes, so the mean of ``token_kl(...).sum(axis=1)`` estimates the same number
as :func:`sequence_kl` (usually with a much smaller standard error).
"""
from __future__ import annotations

import numpy as np

from .decoding import greedy, sequence_logprob
from ..losses import kl_from_logits
from .sequences import LMBatch, check_batch

__all__ = ["token_kl", "sequence_kl", "perplexity", "greedy_report"]


_batch = check_batch


def token_kl(teacher, student, batch: LMBatch, *, T: float = 1.0) -> np.ndarray:
    r"""(B, L) KL(p_T ‖ q_T) of the next-token distributions at every position, 0 where masked.

    .. math:: \mathrm{KL}_{b,t} = \mathrm{KL}\bigl(\mathrm{softmax}(v_{b,t}/T) \,\|\, \mathrm{softmax}(z_{b,t}/T)\bigr)

    The token-level KD loss of chapter 6 is T² times its mean over the real tokens
    (``kdbook.kd_loss(..., mask=batch.mask, reduction="tokenmean")``); this is the per-position
    KL itself (``kdbook.losses.kl_from_logits``), with no T² to divide back out.
    """
    batch = _batch(batch)
    v, z = teacher.logits(batch.inputs), student.logits(batch.inputs)
    return kl_from_logits(z, v, T=T, mask=batch.mask)


def sequence_kl(teacher, student, samples: LMBatch) -> tuple[float, float]:
    r"""Monte Carlo sequence-level KL(p ‖ q) from sentences sampled from the teacher, and its standard error.

    .. math:: \widehat{\mathrm{KL}} = \frac1n \sum_i \bigl[\log p(y_i) - \log q(y_i)\bigr],
              \quad \mathrm{SE} = \frac{s}{\sqrt n}

    with s the sample standard deviation (ddof = 1) of the n log-ratios. ``samples`` must come
    from the teacher for this to estimate the KL.
    """
    samples = _batch(samples)
    if len(samples) < 2:
        raise ValueError("samples must hold at least two sentences (the standard error needs two)")
    d = sequence_logprob(teacher, samples) - sequence_logprob(student, samples)
    return float(d.mean()), float(d.std(ddof=1) / np.sqrt(len(d)))


def perplexity(model, batch: LMBatch) -> float:
    r"""exp(−Σ log q(y_t | y_<t) / number of tokens) over the real tokens of ``batch``."""
    batch = _batch(batch)
    return float(np.exp(-sequence_logprob(model, batch).sum() / batch.n_tokens))


def greedy_report(teacher, student, starts, *, reference: LMBatch | None = None) -> dict[str, float]:
    """The student's greedy continuations of ``starts``, scored by the teacher.

    Returns ``teacher_logprob`` (mean log p_teacher of the whole sentences, their given first
    words included, so students compare on the same starts), ``finished`` (share ending with ``</s>`` within the length limit) and, with
    ``reference`` (for example the teacher's own beam-search continuations of the same starts),
    ``match`` (share of continuations identical to the reference).
    """
    gen = greedy(student, starts)
    out = {"teacher_logprob": float(sequence_logprob(teacher, gen.batch).mean()),
           "finished": float(gen.finished.mean())}
    if reference is not None:
        reference = _batch(reference)
        vocab = student.vocab
        if len(reference) != len(gen.batch):
            raise ValueError(f"reference must have one sentence per start row ({len(gen.batch)}), got {len(reference)}")
        mine, theirs = vocab.decode_batch(gen.batch), vocab.decode_batch(reference)
        out["match"] = float(np.mean([a == b for a, b in zip(mine, theirs)]))
    return out

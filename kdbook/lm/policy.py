"""A student language model as a policy over whole sentences: samples, log-probabilities, scores.

Introduced in chapter 7 (``notebooks/07_generation_and_on_policy_distillation.ipynb``). A
student such as ``kdbook.lm.WindowLM`` can keep writing words past the toy language's length
limit; the decoders then cut the sentence. Chapter 7 treats the student as the policy that
*must* end with ``</s>`` once a sentence has ``max_len`` words (the teacher does the same, up to
1e-9). With that one rule the student's sentence probabilities sum to exactly 1 over the
language's sentences, so sequence-level divergences are exact sums (``kdbook.lm.seqkl``) and
on-policy samples are complete sentences (``kdbook.lm.onpolicy``).

Positions where the end is forced carry no choice: :func:`free_mask` leaves them out of every
log-probability, loss and gradient.
"""
from __future__ import annotations

import numpy as np

from .. import _validate as v
from .decoding import sample
from .sequences import LMBatch, check_batch, check_language_model, pick_targets
from ..softmax import log_softmax

__all__ = ["check_language_model", "check_pair", "free_mask", "policy_token_logprobs", "policy_sequence_logprob",
           "sample_sentences", "stack_batches"]


_check_batch = check_batch


def check_pair(teacher, student) -> None:
    """Check that ``teacher`` and ``student`` are language models over one vocabulary."""
    tv, sv = check_language_model(teacher, "teacher"), check_language_model(student, "student")
    if tv.tokens != sv.tokens:
        raise ValueError(f"teacher and student must share one vocabulary; they have {tv.n_tokens} and "
                         f"{sv.n_tokens} tokens ({tv.tokens[1:4]} … vs {sv.tokens[1:4]} …)")


def free_mask(batch: LMBatch, max_len: int) -> np.ndarray:
    """(B, L) bool: the positions of ``batch.mask`` where the policy has a choice.

    A position whose prefix already has ``max_len`` words can only predict ``</s>``; it is
    left out. Introduced in chapter 7.
    """
    batch = _check_batch(batch)
    words_before = np.cumsum(batch.mask, axis=1) - batch.mask
    return batch.mask & (words_before < v.check_int(max_len, "max_len", minimum=1))


def policy_token_logprobs(model, batch: LMBatch) -> np.ndarray:
    r"""(B, L) log-probability of each target under the policy, 0 where masked or forced.

    .. math:: \ell_{b,t} = \text{free}_{b,t} \log \mathrm{softmax}(z_{b,t})_{y_{b,t}}

    ``model`` is anything with ``logits`` (a student) or the toy language itself (its logits
    are log-probabilities). Introduced in chapter 7.
    """
    batch = _check_batch(batch)
    check_language_model(model)
    lp = log_softmax(np.asarray(model.logits(batch.inputs), dtype=float))
    return pick_targets(lp, batch, free_mask(batch, model.vocab.max_len))


def policy_sequence_logprob(model, batch: LMBatch) -> np.ndarray:
    r"""(B,) log-probability of each sentence under the policy: :math:`\sum_t \ell_{b,t}`.

    For the toy language this equals ``ToyLanguage.sentence_logprob`` up to the 1e-9 its
    length cap leaves to words. Introduced in chapter 7.
    """
    return policy_token_logprobs(model, batch).sum(axis=1)


def stack_batches(*batches: LMBatch, pad: int) -> LMBatch:
    """One :class:`LMBatch` with the rows of all ``batches``, input rows padded on the right with ``pad``.

    ``pad`` is the vocabulary's ``<pad>`` id (``vocab.pad``). Rows keep their own prompts, so
    batches of different contexts stack as long as their prompts have one width.
    """
    batches = [_check_batch(b) for b in batches if b is not None and len(b)]
    if not batches:
        raise ValueError("batches must contain at least one non-empty LMBatch")
    width = max(b.inputs.shape[1] for b in batches)
    out = {"inputs": [], "targets": [], "mask": []}
    for b in batches:
        extra = ((0, 0), (0, width - b.inputs.shape[1]))
        out["inputs"].append(np.pad(b.inputs, extra, constant_values=int(pad)))
        out["targets"].append(np.pad(b.targets, extra))
        out["mask"].append(np.pad(b.mask, extra))
    return LMBatch(*(np.concatenate(out[k]) for k in ("inputs", "targets", "mask")))


def sample_sentences(model, n: int, *, seed: int | np.random.Generator = 0, context=None) -> LMBatch:
    """``n`` complete sentences sampled from the policy of ``model`` (T = 1), as an :class:`LMBatch`.

    ``kdbook.lm.decoding.sample`` draws the words; a sentence it cut at the length limit gets its
    forced ``</s>`` appended, which is exactly a draw from the policy (the forced end has
    probability 1). Seeded: the same seed gives the same sentences. Introduced in chapter 7.

    Examples
    --------
    >>> from kdbook.lm import ToyLanguage
    >>> from kdbook.lm import WindowLM
    >>> lang = ToyLanguage("tiny")
    >>> b = sample_sentences(WindowLM(lang, window=1, seed=0), 3, seed=0)
    >>> bool((b.targets[np.arange(3), b.lengths - 1] == lang.vocab.eos).all())  # every sentence ends
    True
    """
    vocab = check_language_model(model)
    n = v.check_int(n, "n", minimum=1)
    gen = sample(model, vocab.start(n, context=context), seed=seed)
    b = gen.batch
    if gen.finished.all():
        return b
    B, L = b.inputs.shape
    rows = np.full((B, L + 2), vocab.pad, dtype=np.intp)
    rows[:, :L] = b.inputs
    rows[:, 1 : L + 1][b.mask] = b.targets[b.mask]
    cut = np.flatnonzero(~gen.finished)
    last = L - 1 - np.argmax(b.mask[cut, ::-1], axis=1)  # last predicted position of each cut row
    rows[cut, last + 2] = vocab.eos
    return vocab.batch_from_rows(rows)

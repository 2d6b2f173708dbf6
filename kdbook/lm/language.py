"""A toy language whose distribution is known exactly: the teacher of chapters 6-8.

Introduced in chapter 6 (``notebooks/06_distilling_a_language_model.ipynb``). Sentences such as
"the big dog chases a cat quickly" or "two robots carry some bread and beep" come from a small
probabilistic grammar over 50 words (``kdbook.lm._grammar``): determiners, adjectives, nouns in
three topics, verbs that agree with their subject and fit its topic, objects that fit the verb,
adverbs and "and". The word that comes next can depend on a word four or more positions back
(the subject's number and topic decide the verb after "and"), so a model that sees only the last
few tokens cannot represent the language exactly. A small floor probability (0.3 % in all) on the
tokens the grammar would not emit keeps every sentence possible, so every KL against it is finite.

A prompt of instruction tokens (``<brief>``, ``<animals>``, ``<polite>``, any combination) before
``<s>`` changes the distribution: shorter sentences, animal nouns, gentle adverbs. Token rows,
batches and masks follow ``kdbook.lm.sequences``.

Because the grammar is an automaton, the exact next-token distribution after any prefix is a
table look-up, vectorised over a batch: :meth:`ToyLanguage.logits` gives the (B, L, V) teacher
log-probabilities for a batch of input rows, :meth:`ToyLanguage.sentence_logprob` the exact
log-probability of each sentence, :meth:`ToyLanguage.sample` seeded samples, and
:meth:`ToyLanguage.enumerate_sentences` every sentence of a short length (``ToyLanguage("tiny")``,
11 words and at most 4 of them per sentence, is small enough to enumerate completely).
"""
from __future__ import annotations

import itertools

import numpy as np
from numpy.typing import ArrayLike

from . import _grammar
from .. import _validate as v
from .sequences import LMBatch, Vocabulary, check_batch, pick_targets

__all__ = ["ToyLanguage", "VARIANTS", "INSTRUCTIONS", "ENUMERATION_LIMIT"]

#: The grammars :class:`ToyLanguage` offers, with their default ``max_len``.
VARIANTS = {"full": 12, "tiny": 4}
#: Instructions a prompt can combine (``<brief>``, ``<animals>``, ``<polite>``).
INSTRUCTIONS = _grammar.INSTRUCTIONS
#: Most sentences :meth:`ToyLanguage.enumerate_sentences` will list.
ENUMERATION_LIMIT = 2_000_000


def inverse_cdf(probs: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Row-wise draw from (B, V) probabilities with uniforms ``u`` (B,): the first i with CDF_i > u·CDF_V.

    The one sampling rule of kdbook's language models (the language's own sampler and
    ``kdbook.lm.decoding.sample`` draw identical tokens from identical distributions and uniforms).
    """
    cdf = np.cumsum(probs, axis=-1)
    idx = (cdf < (u * cdf[:, -1])[:, None]).sum(axis=-1)
    return np.minimum(idx, probs.shape[-1] - 1)


class ToyLanguage:
    """The exact source of chapters 6-8: a seeded-sampling, exactly-scorable toy language.

    Use it as an oracle teacher: it answers every query with the true next-token distribution.
    It follows the read-only half of the model protocol (``n_classes``, ``check_input``,
    ``logits``), so decoders and evaluations treat it like any student; it has no parameters.

    Parameters
    ----------
    variant : {"full", "tiny"}
        ``"full"``: 50 words, sentences of up to 12 words. ``"tiny"``: 11 words (big, dog(s),
        robot(s), sleep(s), beep(s), see(s)), no determiners, adverbs or "and", sentences of
        up to 4 words: small enough to enumerate exactly.
    max_len : int, optional
        Most words per sentence (default 12 for "full", 4 for "tiny"). After ``max_len`` words
        ``</s>`` has probability 1 − 1e-9.

    Examples
    --------
    >>> from kdbook.lm import ToyLanguage
    >>> lang = ToyLanguage()
    >>> lang.n_classes, lang.vocab.n_tokens
    (51, 56)
    >>> batch = lang.sample(3, seed=0)
    >>> len(lang.decode_batch(batch))
    3
    """

    def __init__(self, variant: str = "full", *, max_len: int | None = None):
        self.variant = v.check_choice(variant, "variant", tuple(VARIANTS))
        self.tables = _grammar.build(self.variant)
        limit = VARIANTS[self.variant] if max_len is None else v.check_int(max_len, "max_len", minimum=1)
        if limit > 30:
            raise ValueError(f"max_len must be at most 30 for this toy language, got {limit}")
        self.vocab = Vocabulary([w.text for w in self.tables.words], INSTRUCTIONS, limit)
        self._probs = np.exp(self.tables.logp)
        self._cap_probs = np.exp(self.tables.cap_logp)

    def __repr__(self) -> str:
        return f"ToyLanguage({self.variant!r}, max_len={self.max_len}: {self.n_classes} predictable tokens)"

    @property
    def n_classes(self) -> int:
        """V: the predictable tokens (``</s>`` and the words), the classes of every distribution."""
        return self.vocab.n_classes

    @property
    def max_len(self) -> int:
        """Most words a sentence can have."""
        return self.vocab.max_len

    @property
    def words(self) -> tuple[str, ...]:
        """The predictable tokens by id: ``words[0] == "</s>"``."""
        return self.vocab.tokens[: self.n_classes]

    def encode(self, text) -> np.ndarray:
        """Word ids of a sentence (see :meth:`kdbook.lm.Vocabulary.encode`)."""
        return self.vocab.encode(text)

    def decode(self, ids: ArrayLike) -> str:
        """The words of a row of ids (see :meth:`kdbook.lm.Vocabulary.decode`)."""
        return self.vocab.decode(ids)

    def decode_batch(self, batch: LMBatch) -> list[str]:
        """One string per sentence of a batch."""
        return self.vocab.decode_batch(_check_batch(batch))

    def batch(self, sentences, *, context=None) -> LMBatch:
        """An :class:`kdbook.lm.LMBatch` from sentences written as words or word ids."""
        return self.vocab.batch(sentences, context=context)

    def prefixes(self, texts, *, context=None) -> np.ndarray:
        """Start rows for prefixes written as words (see :meth:`kdbook.lm.Vocabulary.prefixes`)."""
        return self.vocab.prefixes(texts, context=context)

    def check_input(self, X: ArrayLike) -> np.ndarray:
        """Validate a (B, L) array of input rows (the model protocol's ``check_input``)."""
        return self.vocab.check_inputs(X, "X")

    # ------------------------------------------------------------------ exact distributions
    def _states(self, X: np.ndarray):
        """Yield (t, state, words so far, defined) for each column of validated rows ``X``."""
        tab, V = self.tables, self.n_classes
        state = np.full(X.shape[0], tab.start)
        started = np.zeros(X.shape[0], dtype=bool)
        n_words = np.zeros(X.shape[0], dtype=np.intp)
        for t in range(X.shape[1]):
            tok = X[:, t]
            pred = started & (tok < V)
            state = np.where(pred, tab.trans[state, np.minimum(tok, V - 1)], state)
            n_words += pred & (tok != self.vocab.eos)
            started |= tok == self.vocab.bos
            defined = started & (tok != self.vocab.pad) & (state != tab.ended)
            yield t, state, n_words, defined

    def logits(self, X: ArrayLike) -> np.ndarray:
        r"""Exact next-token log-probabilities at every position of a batch of input rows.

        .. math:: \text{out}[b, t, i] = \log p(i \mid X_{b,0..t})

        Introduced in chapter 6: these are the teacher logits of token-level distillation (they
        are log-probabilities, so softmax(out) is the distribution itself). At positions whose
        prefix has not reached ``<s>`` (the prompt), or is padding or already ended, there is
        nothing to predict and the row is uniform, log(1/V); a mask must exclude them.

        Parameters
        ----------
        X : array_like of int, shape (B, L)
            Input rows ``[<pad>…] [instruction…] <s> [word…] [</s>] [<pad>…]``.

        Returns
        -------
        ndarray, shape (B, L, V)
        """
        X = self.check_input(X)
        tab, V = self.tables, self.n_classes
        ctx = self.vocab.contexts_of(X)
        out = np.full((*X.shape, V), -np.log(V))
        for t, state, n_words, defined in self._states(X):
            rows = np.where((n_words >= self.max_len)[:, None], tab.cap_logp[None, :], tab.logp[ctx, state])
            out[:, t] = np.where(defined[:, None], rows, out[:, t])
        return out

    def next_logprobs(self, prefixes: ArrayLike) -> np.ndarray:
        """(B, V) exact log-probabilities of the token after each row of ``prefixes``.

        A row may end in trailing padding: the distribution is the one after its last real
        token. ``prefixes`` follow the input-row format (they must contain ``<s>``).

        Examples
        --------
        >>> from kdbook.lm import ToyLanguage
        >>> lang = ToyLanguage()
        >>> p = np.exp(lang.next_logprobs(lang.vocab.start(1)))
        >>> lang.words[int(p.argmax())], round(float(p.sum()), 6)
        ('the', 1.0)
        """
        X = self.vocab.check_inputs(prefixes, "prefixes")
        last = self.vocab.last_positions(X)
        return self.logits(X)[np.arange(X.shape[0]), last]

    def probs(self, X: ArrayLike) -> np.ndarray:
        """``exp(logits(X))``: the (B, L, V) next-token distributions."""
        return np.exp(self.logits(X))

    def sentence_logprob(self, batch: LMBatch) -> np.ndarray:
        r"""Exact log-probability of each sentence of a batch: :math:`\sum_t \text{mask}_t \log p(y_t \mid y_{<t})`.

        Introduced in chapter 6. The prompt is given, not scored: this is log p(sentence | context).
        """
        batch = _check_batch(batch, self.n_classes)
        return pick_targets(self.logits(batch.inputs), batch).sum(axis=1)

    def entropy(self, X: ArrayLike) -> np.ndarray:
        """(B, L) entropy in nats of the next-token distribution at every position (0 where undefined)."""
        X = self.check_input(X)
        lp = self.logits(X)
        h = -(np.exp(lp) * lp).sum(axis=-1)
        defined = np.stack([d for *_, d in self._states(X)], axis=1)
        return np.where(defined, h, 0.0)

    # ------------------------------------------------------------------ sampling and enumeration
    def sample(self, n: int, *, context=None, seed: int | np.random.Generator = 0) -> LMBatch:
        """``n`` sentences drawn from the language (after the prompt of ``context``), as a batch.

        ``context``: one context for every sentence (``None``, ``"brief"``, ``("animals",
        "polite")``, an id) or a list of one per sentence. Seeded: the same seed gives the same
        sentences; each step draws one uniform per row (``kdbook.lm.decoding.sample`` on this
        language with the same seed draws the very same sentences).
        """
        start = self.vocab.start(v.check_int(n, "n", minimum=1), context=context)
        rng = v.check_rng(seed)
        tab, V = self.tables, self.n_classes
        ctx = self.vocab.contexts_of(start)
        rows = np.full((start.shape[0], start.shape[1] + self.max_len + 1), self.vocab.pad, dtype=np.intp)
        rows[:, : start.shape[1]] = start
        state = np.full(start.shape[0], tab.start)
        done = np.zeros(start.shape[0], dtype=bool)
        for k in range(self.max_len + 1):
            probs = self._probs[ctx, state] if k < self.max_len else np.broadcast_to(self._cap_probs, (len(state), V))
            tok = inverse_cdf(probs, rng.random(len(state)))
            rows[:, start.shape[1] + k] = np.where(done, self.vocab.pad, tok)
            state = tab.trans[state, tok]
            done |= tok == self.vocab.eos
        return self.vocab.batch_from_rows(rows)

    def enumerate_sentences(self, max_words: int | None = None, *, context=None) -> LMBatch:
        """Every sentence of at most ``max_words`` words (each followed by ``</s>``), as one batch.

        With ``max_words = max_len`` this is the whole support: the probabilities sum to 1 up to
        1e-9, so sequence-level KLs and their gradients are exact sums (chapter 7). There are
        Σ_k (V−1)^k sentences: use ``ToyLanguage("tiny")`` (16,105 sentences) for that.
        """
        m = self.max_len if max_words is None else v.check_int(max_words, "max_words", minimum=0)
        if m > self.max_len:
            raise ValueError(f"max_words must be at most max_len={self.max_len}, got {m}")
        W = self.n_classes - 1
        count = sum(W**k for k in range(m + 1))
        if count > ENUMERATION_LIMIT:
            raise ValueError(f"max_words={m} gives {count:,} sentences (more than {ENUMERATION_LIMIT:,}); "
                             "use fewer words or ToyLanguage('tiny')")
        start = self.vocab.start(1, context=context)[0]
        rows = np.full((count, len(start) + m + 1), self.vocab.pad, dtype=np.intp)
        rows[:, : len(start)] = start
        i = 0
        for k in range(m + 1):
            block = np.array(list(itertools.product(range(1, W + 1), repeat=k)), dtype=np.intp).reshape(W**k, k)
            rows[i : i + len(block), len(start) : len(start) + k] = block
            rows[i : i + len(block), len(start) + k] = self.vocab.eos
            i += len(block)
        return self.vocab.batch_from_rows(rows)


def _check_batch(batch, n_classes: int | None = None) -> LMBatch:
    check_batch(batch)
    if not (batch.inputs.shape == batch.targets.shape == batch.mask.shape) or batch.inputs.ndim != 2:
        raise ValueError(f"batch.inputs, .targets and .mask must have one (B, L) shape; got {batch.inputs.shape}, "
                         f"{batch.targets.shape} and {batch.mask.shape}")
    if n_classes is not None and batch.targets.size and (batch.targets.min() < 0 or batch.targets.max() >= n_classes):
        raise ValueError(f"batch.targets must be token ids in [0, {n_classes - 1}]")
    return batch

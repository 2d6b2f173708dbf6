"""Context distillation: put a prompt's effect into the weights (chapter 8).

Introduced in chapter 8 (``notebooks/08_context_distillation.ipynb``). Following "Foundations of
Large Language Models" (Xiao & Zhu 2025, Ch. 3), Askell et al. (2021) and Snell, Klein & Zhong
(2022): a *teacher* reads the full context c (here a prompt of instruction tokens such as
``<brief> <polite>``) before an input z, a *student* reads a shorter context c′ (or none, or a
learned soft prompt σ) before the same z, and the student is trained with

.. math:: \\frac{1}{N} \\sum_{\\text{response positions } t} T^2\\,
          \\mathrm{KL}\\bigl(\\Pr_t(\\cdot \\mid c, z, y_{<t})_T \\,\\|\\, \\Pr_s(\\cdot \\mid c', z, y_{<t})_T\\bigr)

along responses y the teacher wrote (the token-level form), or with the log-likelihood of the
teacher's best response ŷ (the sequence-level form).

In the toy language an *input* z (a "query") is the opening of a sentence, its first few words;
the *response* is the rest of the sentence. Rows keep :data:`PROMPT_SLOTS` columns before
``<s>`` for a prompt, so that the same row can be read with any context: :func:`set_prompt`
rewrites those columns, and teacher and student logits line up position by position.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from .. import _validate as v
from . import decoding
from .. import losses
from .sequences import LMBatch, Vocabulary, check_batch, check_language_model

__all__ = [
    "PROMPT_SLOTS", "CDData", "set_prompt", "sample_queries", "respond", "response_mask",
    "distillation_data", "concat_data", "context_distillation_loss", "neutral_mask",
    "behaviour_rates", "tokens_per_query", "train_original", "prefix_rows",
]

#: Columns kept before ``<s>`` in every row of this module: room for any prompt of the toy language.
PROMPT_SLOTS = 3


@dataclass(frozen=True, eq=False)
class CDData:
    """Training rows for a student: inputs as the *student* reads them, targets and a mask.

    ``teacher_logits`` (B, L, V) for the token-level form, or ``labels`` (B, L) (the teacher's
    best response) for the sequence-level form; ``mask`` (B, L) is True at response positions.
    """

    inputs: np.ndarray
    mask: np.ndarray
    teacher_logits: np.ndarray | None = None
    labels: np.ndarray | None = None

    def __len__(self) -> int:
        return self.inputs.shape[0]

    def train_kwargs(self) -> dict:
        """Keyword arguments for ``kdbook.train.train(student, **data.train_kwargs(), ...)``."""
        out = {"X": self.inputs, "mask": self.mask}
        if self.teacher_logits is not None:
            out["teacher_logits"] = self.teacher_logits
        if self.labels is not None:
            out["labels"] = self.labels
        return out


def _vocab(obj, name: str = "model"):
    """The Vocabulary of ``obj`` (a Vocabulary, or a model or language with a ``vocab``), or a clear error."""
    vocab = obj if isinstance(obj, Vocabulary) else getattr(obj, "vocab", None)
    if not isinstance(vocab, Vocabulary):
        check_language_model(obj, name, allow_vocabulary=True)  # raises the one clear error
    return vocab


def _language(lang):
    from .language import ToyLanguage

    if not isinstance(lang, ToyLanguage):
        raise TypeError(f"lang must be a kdbook.lm.ToyLanguage, got {type(lang).__name__}")
    return lang


def train_original(lang, *, n_sentences: int = 3000, epochs: int = 4, window: int = 3, hidden: int = 48,
                   seed: int = 0):
    """The prompt-following model of chapter 8: a ``WindowLM`` with a context channel, distilled from the source.

    Trained by token-level KD (T = 1) on ``n_sentences`` sentences of the exact language, each
    under a random context (any combination of the instructions, none included), so that it
    learns what each instruction token does. It also carries a soft prompt σ, kept at 0 here
    (frozen), for prompt tuning later. Returned with every group trainable. Deterministic for a
    seed (about a second of CPU). Introduced in chapter 8.
    """
    from .window import WindowLM
    from ..train import train

    _language(lang)
    seed = v.check_int(seed, "seed")
    n = v.check_int(n_sentences, "n_sentences", minimum=1)
    rng = np.random.default_rng(seed)
    batch = lang.sample(n, context=list(rng.integers(0, 2 ** len(lang.vocab.instructions), size=n)), seed=rng)
    model = WindowLM(lang, window=window, dim=16, hidden=hidden, context=True, soft_prompt=True, seed=seed)
    model.set_trainable("embedding", "hidden", "output", "context")
    train(model, batch.inputs, teacher_logits=lang.logits(batch.inputs), mask=batch.mask, epochs=epochs,
          batch_size=100, lr=0.01, seed=seed)
    return model.set_trainable()


def set_prompt(rows: ArrayLike, vocab, context) -> np.ndarray:
    """Rows with the prompt before ``<s>`` replaced by the instruction tokens of ``context``.

    Everything before ``<s>`` becomes ``<pad>``, then the prompt's tokens sit just before
    ``<s>``; the words after ``<s>`` are untouched, so the same position holds the same word
    whatever the context. ``context=None`` removes the prompt. Introduced in chapter 8.

    Parameters
    ----------
    rows : array_like of int, shape (B, L)
        Input rows (``kdbook.lm.sequences``), each with enough columns before ``<s>``.
    vocab : kdbook.lm.Vocabulary, or a model with a ``vocab``
    context : None, str, tuple of str or int
        The new prompt (see ``Vocabulary.context_bits``).

    Examples
    --------
    >>> from kdbook.lm import ToyLanguage
    >>> lang = ToyLanguage()
    >>> row = set_prompt(lang.vocab.start(1, context=("brief", "polite")), lang, "polite")
    >>> lang.vocab.decode(row[0], keep_special=True)
    '<pad> <polite> <s>'
    """
    vocab = _vocab(vocab, "vocab")
    X = vocab.check_inputs(rows, "rows")
    prompt = vocab.prompt(context)
    bos = np.argmax(X == vocab.bos, axis=1)
    if (bos < len(prompt)).any():
        r = int(np.argmax(bos < len(prompt)))
        raise ValueError(f"rows row {r} has {int(bos[r])} columns before <s>, too few for the {len(prompt)}-token "
                         f"prompt of context {vocab.context_name(vocab.context_bits(context))!r}")
    out = X.copy()
    out[np.arange(X.shape[1])[None, :] < bos[:, None]] = vocab.pad
    for k, tok in enumerate(prompt):
        out[np.arange(X.shape[0]), bos - len(prompt) + k] = tok
    return out


def prefix_rows(lang, prefixes, *, context=None) -> np.ndarray:
    """(n, L) rows ``<pad>… prompt <s> words [<pad>…]`` for sentence prefixes written as words.

    The prompt columns of :data:`PROMPT_SLOTS` come first, so the rows can be re-read with any
    context (:func:`set_prompt`); shorter prefixes are padded on the right, which
    ``next_logprobs`` ignores. Introduced in chapter 8.

    Examples
    --------
    >>> from kdbook.lm import ToyLanguage
    >>> lang = ToyLanguage()
    >>> lang.vocab.decode(prefix_rows(lang, ["the dog"], context="polite")[0], keep_special=True)
    '<pad> <pad> <polite> <s> the dog'
    """
    _language(lang)
    if isinstance(prefixes, str) or not isinstance(prefixes, (list, tuple)) or not prefixes:
        raise TypeError("prefixes must be a non-empty list of sentence prefixes (strings of words)")
    ids = [lang.encode(p) for p in prefixes]
    if any((i == lang.vocab.eos).any() for i in ids):
        raise ValueError("prefixes must not contain </s>: they are sentences still being written")
    width = max(len(i) for i in ids)
    rows = np.full((len(ids), PROMPT_SLOTS + 1 + width), lang.vocab.pad, dtype=np.intp)
    rows[:, PROMPT_SLOTS] = lang.vocab.bos
    for r, i in enumerate(ids):
        rows[r, PROMPT_SLOTS + 1: PROMPT_SLOTS + 1 + len(i)] = i
    return set_prompt(rows, lang, context)


def sample_queries(lang, n: int, *, words: int = 2, seed: int | np.random.Generator = 0) -> np.ndarray:
    """(n, PROMPT_SLOTS + 1 + words) query rows ``<pad>… <s> w_1 … w_words`` from the unprompted language.

    The queries z of chapter 8: sentence openings drawn from the language without any prompt
    (what users ask does not depend on the system prompt). Sentences shorter than ``words``
    words are skipped. Seeded.
    """
    _language(lang)
    n = v.check_int(n, "n", minimum=1)
    words = v.check_int(words, "words", minimum=1)
    if words >= lang.max_len:
        raise ValueError(f"words must be below the language's max_len={lang.max_len}, got {words}")
    rng = v.check_rng(seed)
    rows = []
    while sum(len(r) for r in rows) < n:
        batch = lang.sample(2 * n, seed=rng)
        ok = batch.lengths > words  # at least `words` words before </s>
        rows.append(batch.targets[ok, :words])
    body = np.concatenate(rows)[:n]
    out = np.full((n, PROMPT_SLOTS + 1 + words), lang.vocab.pad, dtype=np.intp)
    out[:, PROMPT_SLOTS] = lang.vocab.bos
    out[:, PROMPT_SLOTS + 1:] = body
    return out


def respond(model, queries: ArrayLike, *, context=None, greedy: bool = False,
            seed: int | np.random.Generator = 0) -> LMBatch:
    """The model's responses to ``queries`` when it reads ``context``: sampled, or greedy (ŷ).

    Returns the whole sentences as an :class:`~kdbook.lm.LMBatch` whose rows carry the
    prompt of ``context`` (rewrite it with :func:`set_prompt` to read them with another one).
    """
    start = set_prompt(queries, _vocab(model), context)
    if greedy:
        return decoding.greedy(model, start).batch
    return decoding.sample(model, start, seed=seed).batch


def response_mask(batch: LMBatch, vocab, n_query_words: int) -> np.ndarray:
    """(B, L) mask of the positions that predict a response token (the query's words excluded).

    Position t predicts the token at column t + 1 of a row; the response starts after ``<s>``
    and the ``n_query_words`` words of the query. Introduced in chapter 8.
    """
    check_batch(batch, "batch")
    vocab = _vocab(vocab, "vocab")
    k = v.check_int(n_query_words, "n_query_words")
    bos = np.argmax(batch.inputs == vocab.bos, axis=1)
    col = np.arange(batch.inputs.shape[1])[None, :] + 1
    return batch.mask & (col > bos[:, None] + k)


def distillation_data(teacher, responses: LMBatch, *, teacher_context, student_context=None,
                      n_query_words: int, sequence_level: bool = False) -> CDData:
    """Training rows of context distillation from the teacher's responses.

    Token level (default): the teacher's logits at every response position, read with
    ``teacher_context``; sequence level: the responses' own tokens as labels (pass the teacher's
    greedy responses ŷ, :func:`respond` with ``greedy=True``). In both, the student's inputs are
    the same rows read with ``student_context`` (None: no prompt) and the mask keeps only the
    response positions (:func:`response_mask`). Introduced in chapter 8.
    """
    vocab = _vocab(teacher)
    check_batch(responses, "responses")
    mask = response_mask(responses, vocab, n_query_words)
    if not mask.any():
        raise ValueError("responses have no response positions after the query words: nothing to distil")
    inputs = set_prompt(responses.inputs, vocab, student_context)
    if sequence_level:
        return CDData(inputs, mask, labels=np.where(mask, responses.targets, 0))
    teacher_logits = np.asarray(teacher.logits(set_prompt(responses.inputs, vocab, teacher_context)), dtype=float)
    return CDData(inputs, mask, teacher_logits=teacher_logits)


def concat_data(parts, *, vocab) -> CDData:
    """One :class:`CDData` from a list of them (padded to one length); all token or all sequence level.

    Use it to mix distillation rows with rows that keep another behaviour (chapter 8's mix).
    ``vocab`` (or a model with one) gives the ``<pad>`` id for the widened inputs.
    """
    parts = list(parts) if isinstance(parts, (list, tuple)) else None
    if not parts or not all(isinstance(p, CDData) for p in parts):
        raise TypeError("parts must be a non-empty list of CDData (from distillation_data)")
    if len({p.labels is None for p in parts}) != 1:
        raise ValueError("parts must be all token level (teacher_logits) or all sequence level (labels)")
    pad = _vocab(vocab, "vocab").pad
    L = max(p.inputs.shape[1] for p in parts)

    def widen(a: np.ndarray, fill) -> np.ndarray:
        out = np.full((a.shape[0], L, *a.shape[2:]), fill, dtype=a.dtype)
        out[:, : a.shape[1]] = a
        return out

    inputs = np.concatenate([widen(p.inputs, pad) for p in parts])
    mask = np.concatenate([widen(p.mask, False) for p in parts])
    if parts[0].labels is not None:
        return CDData(inputs, mask, labels=np.concatenate([widen(p.labels, 0) for p in parts]))
    return CDData(inputs, mask, teacher_logits=np.concatenate([widen(p.teacher_logits, 0.0) for p in parts]))


def context_distillation_loss(student_logits: ArrayLike, teacher_logits: ArrayLike, mask: ArrayLike, *,
                              T: float = 1.0) -> float:
    r"""The token-level context-distillation loss: T²·KL(p_T ‖ q_T) averaged over the response positions.

    .. math:: L = \frac{1}{\sum m} \sum_{b, t} m_{b,t}\, T^2\,
              \mathrm{KL}\bigl(\mathrm{softmax}(v_{b,t}/T) \,\|\, \mathrm{softmax}(z_{b,t}/T)\bigr)

    with v the teacher's logits read with the full context c and z the student's read with c′.
    ``kdbook.kd_loss`` with ``reduction="tokenmean"`` and the mask; masked positions may hold
    anything (padding, NaN). Introduced in chapter 8.

    Examples
    --------
    >>> import numpy as np
    >>> z = np.zeros((1, 2, 2)); v = np.array([[[2.0, 0.0], [np.nan, np.nan]]])
    >>> round(context_distillation_loss(z, v, [[True, False]]), 4)
    0.3278
    """
    return float(losses.kd_loss(student_logits, teacher_logits, T=T, mask=mask, reduction="tokenmean"))


def neutral_mask(lang, batch: LMBatch, context, *, tol: float = 1e-12) -> np.ndarray:
    """(B, L) mask of the positions where the prompt of ``context`` should not matter.

    Computed from the exact language: the positions of ``batch`` (read without a prompt) where
    KL(source(· | c, prefix) ‖ source(· | prefix)) ≤ ``tol`` (for ``<brief> <polite>``: the
    choice of the verb, for example). A student that has absorbed c should leave its
    distribution there as it was: chapter 8 measures the cost of distillation on them.
    """
    _language(lang)
    check_batch(batch, "batch")
    plain = set_prompt(batch.inputs, lang, None)
    kl = losses.kd_loss(lang.logits(plain), lang.logits(set_prompt(batch.inputs, lang, context)),
                        reduction="none", mask=batch.mask)
    return batch.mask & (kl <= v.check_positive(tol, "tol"))


def behaviour_rates(lang, batch: LMBatch, *, n_query_words: int = 0, short: int = 5) -> dict[str, float]:
    """How often sentences show each instruction's behaviour: the chapter-8 behaviour measures.

    ``polite``: fraction of sentences with "gently" or "kindly"; ``brief``: fraction with at most
    ``short`` words; ``animals``: fraction of the nouns after the query that are animals;
    ``words``: mean words per sentence. Introduced in chapter 8.
    """
    _language(lang)
    check_batch(batch, "batch")
    short = v.check_int(short, "short")
    words = lang.words
    gentle = np.isin(batch.targets, [words.index(w) for w in ("gently", "kindly") if w in words])
    nouns = np.array([w.cat == "noun" for w in lang.tables.words])
    animal = np.array([w.cat == "noun" and w.topic == "animal" for w in lang.tables.words])
    resp = response_mask(batch, lang, n_query_words)
    n_words = (batch.mask & (batch.targets != lang.vocab.eos)).sum(axis=1)
    noun_pos = resp & nouns[batch.targets]
    return {
        "polite": float((gentle & batch.mask).any(axis=1).mean()),
        "brief": float((n_words <= short).mean()),
        "animals": float((noun_pos & animal[batch.targets]).sum() / max(noun_pos.sum(), 1)),
        "words": float(n_words.mean()),
    }


def tokens_per_query(batch: LMBatch, vocab) -> np.ndarray:
    """(B,) token positions a model reads per query: the prompt and every input position it processes.

    That is ``<s>`` and every word it reads: a sentence that ends is read to its last word (which
    predicts ``</s>``); a sentence cut at the maximum length writes its last word without reading
    it, so that word is not counted. The compute of a query is proportional to this count for a
    model that processes every position (a transformer, ignoring attention's quadratic term).
    Introduced in chapter 8.
    """
    vocab = _vocab(vocab, "vocab")
    X = vocab.check_inputs(batch.inputs, "batch.inputs")
    prompt = np.isin(X, vocab.instruction_ids).sum(axis=1)
    return prompt + batch.mask.sum(axis=1)  # <s> and the words are read; the mask counts the words and </s>

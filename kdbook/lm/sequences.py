"""Token sequences for the language-model chapters: the vocabulary, padded batches and masks.

Introduced in chapter 6 (``notebooks/06_distilling_a_language_model.ipynb``). A language model
reads a row of *inputs* and predicts, at every position t, the token at position t of the row of
*targets*: the targets are the inputs shifted one place to the left. One row of tokens

``[<pad>…] [instruction…] <s> w_1 … w_n </s> [<pad>…]``

(left padding, an optional prompt of instruction tokens, the sentence start, the words, the end)
gives ``inputs = row[:-1]`` and ``targets = row[1:]``. Only the positions that predict a word or
``</s>`` count: ``mask`` is True there and False on padding and on the prompt. Token ids: ``</s>``
is 0, the words are 1 … V−1 (the V *predictable* tokens, the classes of every next-token
distribution), then ``<s>``, ``<pad>`` and the instruction tokens, which a model reads but never
predicts.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["Vocabulary", "LMBatch", "check_batch", "check_language_model", "pick_targets"]


@dataclass(frozen=True, eq=False)
class LMBatch:
    """A padded batch of sentences: ``inputs``, ``targets`` (both (B, L) int) and ``mask`` ((B, L) bool).

    ``targets[b, t]`` is the token that ``inputs[b, :t+1]`` should predict; where ``mask`` is
    False (padding, prompt) ``targets`` holds 0 and must not count in any loss. Introduced in
    chapter 6.
    """

    inputs: np.ndarray
    targets: np.ndarray
    mask: np.ndarray

    def __len__(self) -> int:
        return self.inputs.shape[0]

    @property
    def lengths(self) -> np.ndarray:
        """Predicted tokens per sentence (its words plus ``</s>``)."""
        return self.mask.sum(axis=1)

    @property
    def n_tokens(self) -> int:
        """Predicted tokens in the whole batch (the denominator of a per-token mean)."""
        return int(self.mask.sum())

    def select(self, index) -> "LMBatch":
        """The rows ``index`` (an int array, slice or boolean mask) as a new batch."""
        return LMBatch(self.inputs[index], self.targets[index], self.mask[index])


def _int_array(x, name: str, ndim: int) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype == object:
        raise TypeError(f"{name} must be a rectangular array of token ids (pad rows to one length)")
    if arr.dtype.kind == "f" and arr.size and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
        raise TypeError(f"{name} must hold integer token ids, got dtype {arr.dtype}; use .astype(int)")
    if arr.dtype.kind not in "iu" and not (arr.size == 0 and arr.dtype.kind == "f"):
        raise TypeError(f"{name} must hold integer token ids, got dtype {arr.dtype}")
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {arr.shape}")
    return arr.astype(np.intp, copy=False)


class Vocabulary:
    """Token strings and ids of a toy language, and the checks and conversions on its token rows.

    Parameters
    ----------
    words : sequence of str
        The predictable tokens, ``"</s>"`` first.
    instructions : sequence of str
        Names of the instructions a prompt can contain (token ``"<name>"`` each).
    max_len : int
        Most words a sentence can have (``</s>`` not counted).
    """

    def __init__(self, words: Sequence[str], instructions: Sequence[str], max_len: int):
        if not words or words[0] != "</s>":
            raise ValueError("words must start with '</s>'")
        self.instructions = tuple(instructions)
        self.tokens = tuple(words) + ("<s>", "<pad>") + tuple(f"<{i}>" for i in self.instructions)
        self.n_classes = len(words)
        self.eos, self.bos, self.pad = 0, len(words), len(words) + 1
        self.instruction_ids = tuple(range(len(words) + 2, len(self.tokens)))
        self.max_len = int(max_len)
        self._index = {tok: i for i, tok in enumerate(self.tokens)}
        bits = np.zeros(len(self.tokens), dtype=np.intp)
        bits[list(self.instruction_ids)] = 1 << np.arange(len(self.instructions))
        self._bits = bits

    @property
    def n_tokens(self) -> int:
        """All token ids, predictable or not (the size of an input embedding table)."""
        return len(self.tokens)

    def __repr__(self) -> str:
        return f"Vocabulary({self.n_classes} predictable tokens, {self.n_tokens} in all, max_len={self.max_len})"

    # ------------------------------------------------------------------ words <-> ids
    def encode(self, text: str | Iterable[str]) -> np.ndarray:
        """Token ids of a sentence written as words (``"the dog sleeps"`` or a list of words)."""
        toks = text.split() if isinstance(text, str) else list(text)
        unknown = [t for t in toks if not isinstance(t, str) or t not in self._index]
        if unknown:
            raise ValueError(f"text contains words outside the vocabulary: {unknown[:5]}; "
                             f"known words: {' '.join(self.tokens[1:self.n_classes])}")
        return np.array([self._index[t] for t in toks], dtype=np.intp)

    def decode(self, ids: ArrayLike, *, keep_special: bool = False) -> str:
        """The words of a row of ids, read from after ``<s>`` (if any) up to ``</s>``.

        With ``keep_special`` every token is written, padding and prompt included.
        """
        row = _int_array(ids, "ids", 1)
        if row.size and (row.min() < 0 or row.max() >= self.n_tokens):
            raise ValueError(f"ids must be token ids in [0, {self.n_tokens - 1}]")
        if keep_special:
            return " ".join(self.tokens[i] for i in row)
        starts = np.flatnonzero(row == self.bos)
        row = row[starts[0] + 1:] if starts.size else row
        out = []
        for i in row:
            if i == self.eos:
                break
            if i < self.n_classes:
                out.append(self.tokens[i])
        return " ".join(out)

    def context_bits(self, context) -> int:
        """The context id (a bit per instruction) of ``None``, a name, ``"brief+polite"``, names or an id."""
        if context is None or (isinstance(context, str) and context in ("", "none")):
            return 0
        n = len(self.instructions)
        if isinstance(context, numbers.Integral) and not isinstance(context, bool):
            if not 0 <= int(context) < 2**n:
                raise ValueError(f"context id must be in [0, {2**n - 1}], got {context}")
            return int(context)
        names = context.split("+") if isinstance(context, str) else context
        if not isinstance(names, (list, tuple)) or not all(isinstance(c, str) for c in names):
            raise TypeError(f"context must be None, an instruction name, a tuple of names or an int id; got {context!r}")
        bits = 0
        for name in names:
            if name.strip("<>") not in self.instructions:
                raise ValueError(f"context has an unknown instruction {name!r}; instructions: {', '.join(self.instructions)}")
            bits |= 1 << self.instructions.index(name.strip("<>"))
        return bits

    def context_name(self, bits: int) -> str:
        """``"brief+polite"`` for a context id; ``"none"`` for 0."""
        names = [n for i, n in enumerate(self.instructions) if int(bits) >> i & 1]
        return "+".join(names) or "none"

    def prompt(self, context) -> np.ndarray:
        """The instruction tokens of a context, in the vocabulary's order."""
        bits = self.context_bits(context)
        return np.array([t for i, t in enumerate(self.instruction_ids) if bits >> i & 1], dtype=np.intp)

    def start(self, n: int, *, context=None) -> np.ndarray:
        """(n, P+1) rows ``[<pad>…] prompt <s>`` from which to generate: one context, or one per row.

        ``context`` is one context (see :meth:`context_bits`: ``None``, ``"brief"``,
        ``("brief", "polite")``, an int id) for every row, or a *list* (or array) of n of them.
        Shorter prompts are padded on the left so that every row ends with ``<s>``.
        """
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
            raise ValueError(f"n must be a positive int, got {n!r}")
        if isinstance(context, (list, np.ndarray)):
            if len(context) != n:
                raise ValueError(f"context must be one context or a list of n={n} contexts, got a list of {len(context)}")
            contexts = [int(c) if isinstance(c, np.integer) else c for c in context]
        else:
            contexts = [context] * int(n)
        prompts = [self.prompt(c) for c in contexts]
        width = max(len(p) for p in prompts) + 1
        out = np.full((int(n), width), self.pad, dtype=np.intp)
        for i, p in enumerate(prompts):
            out[i, width - 1 - len(p):width - 1] = p
        out[:, -1] = self.bos
        return out

    # ------------------------------------------------------------------ rows -> batches
    def check_inputs(self, inputs: ArrayLike, name: str = "inputs", *, allow_ended: bool = True) -> np.ndarray:
        """Validate rows ``[<pad>…] [instruction…] <s> [word…] [</s>] [<pad>…]``; return them as intp.

        Raises ``TypeError``/``ValueError`` naming ``name``, the row and the fault. With
        ``allow_ended=False`` a row may not contain ``</s>`` (a prefix to continue).
        """
        X = _int_array(inputs, name, 2)
        if X.shape[0] == 0 or X.shape[1] == 0:
            raise ValueError(f"{name} must have at least one row and one column, got shape {X.shape}")
        if X.min() < 0 or X.max() >= self.n_tokens:
            bad = int(X.min()) if X.min() < 0 else int(X.max())
            raise ValueError(f"{name} must hold token ids in [0, {self.n_tokens - 1}], found {bad}")
        is_bos = X == self.bos
        n_bos = is_bos.sum(axis=1)
        if (n_bos != 1).any():
            r = int(np.argmax(n_bos != 1))
            raise ValueError(f"{name} row {r} must contain exactly one <s> (it has {int(n_bos[r])}): "
                             f"{self.decode(X[r], keep_special=True)!r}")
        col = np.arange(X.shape[1])
        after = col[None, :] > np.argmax(is_bos, axis=1)[:, None]
        before_ok = (X == self.pad) | (X > self.pad)
        after_pred = X < self.n_classes
        is_pad = X == self.pad
        prev_pad = np.zeros_like(is_pad)
        prev_pad[:, 1:] = is_pad[:, :-1] & after[:, :-1]
        prev_eos = np.zeros_like(is_pad)
        prev_eos[:, 1:] = np.logical_or.accumulate((X == self.eos) & after, axis=1)[:, :-1]
        faults = (
            (~after & ~is_bos & ~before_ok, "has a word or </s> before <s> (only <pad> and instruction tokens may precede it)"),
            (after & ~after_pred & ~is_pad, "has <s> or an instruction token after <s>"),
            (after & prev_pad & ~is_pad, "has a token after padding (padding goes at the end of the sentence)"),
            (after & prev_eos & ~is_pad, "continues after </s>"),
        )
        if not allow_ended:
            faults += ((after & (X == self.eos), "already ended with </s> (there is nothing to continue)"),)
        for bad, fault in faults:
            if bad.any():
                r = int(np.argmax(bad.any(axis=1)))
                raise ValueError(f"{name} row {r} {fault}: {self.decode(X[r], keep_special=True)!r}")
        words = (after & after_pred & (X != self.eos)).sum(axis=1)
        if (words > self.max_len).any():
            r = int(np.argmax(words > self.max_len))
            raise ValueError(f"{name} row {r} has {int(words[r])} words after <s>; sentences of this "
                             f"language have at most max_len={self.max_len}")
        return X

    def contexts_of(self, inputs: np.ndarray) -> np.ndarray:
        """(B,) context id of each (validated) input row: the instructions in its prompt."""
        return np.bitwise_or.reduce(self._bits[inputs], axis=1)

    def last_positions(self, inputs: np.ndarray) -> np.ndarray:
        """(B,) column of the last token that is not trailing padding, in each (validated) row."""
        is_pad = inputs == self.pad
        trailing = np.logical_and.accumulate(is_pad[:, ::-1], axis=1).sum(axis=1)
        return inputs.shape[1] - 1 - trailing

    def batch_from_rows(self, rows: ArrayLike, name: str = "rows") -> LMBatch:
        """Split complete rows ``[<pad>…] prompt <s> words </s> [<pad>…]`` into an :class:`LMBatch`.

        A row that stops without ``</s>`` (cut at a length limit) keeps all its words as targets.
        """
        R = self.check_inputs(rows, name)
        if R.shape[1] < 2:
            raise ValueError(f"{name} needs at least two columns (<s> and one more token), got {R.shape[1]}")
        inputs, targets = R[:, :-1].copy(), R[:, 1:].copy()
        after = np.arange(R.shape[1])[None, :] > np.argmax(R == self.bos, axis=1)[:, None]
        mask = after[:, 1:] & (targets < self.n_classes)
        targets[~mask] = 0
        keep = max(int(mask.any(axis=0).nonzero()[0].max()) + 1, 1) if mask.any() else 1
        return LMBatch(inputs[:, :keep], targets[:, :keep], mask[:, :keep])

    def batch(self, sentences: Sequence, *, context=None) -> LMBatch:
        """An :class:`LMBatch` from sentences (strings of words, or sequences of word ids).

        ``context``: one context for all sentences, or a list of one per sentence. Each
        sentence gets ``</s>`` appended (unless it already ends with it).
        """
        if isinstance(sentences, str) or not hasattr(sentences, "__len__") or len(sentences) == 0:
            raise TypeError("sentences must be a non-empty list of sentences (strings or lists of word ids)")
        start = self.start(len(sentences), context=context)
        body = []
        for i, s in enumerate(sentences):
            ids = self.encode(s) if isinstance(s, str) or (len(s) and isinstance(s[0], str)) else _int_array(s, f"sentences[{i}]", 1)
            if ids.size and (ids.min() < 0 or ids.max() >= self.n_classes):
                raise ValueError(f"sentences[{i}] must hold word ids in [0, {self.n_classes - 1}]")
            if (ids[:-1] == self.eos).any():
                raise ValueError(f"sentences[{i}] has </s> before its end")
            body.append(ids if ids.size and ids[-1] == self.eos else np.append(ids, self.eos))
        width = max(len(b) for b in body)
        rows = np.full((len(body), start.shape[1] + width), self.pad, dtype=np.intp)
        rows[:, :start.shape[1]] = start
        for i, b in enumerate(body):
            rows[i, start.shape[1]:start.shape[1] + len(b)] = b
        return self.batch_from_rows(rows, "sentences")

    def prefix_rows(self, batch: LMBatch, n_words: int) -> np.ndarray:
        """Start rows ``[<pad>…] prompt <s> w_1 … w_k`` with the first k = min(``n_words``, n) words
        of each sentence of ``batch`` (its prompt kept), left-padded to one width, to continue
        with a decoder (sequence-level distillation conditions on them).
        """
        check_batch(batch)
        if isinstance(n_words, bool) or not isinstance(n_words, numbers.Integral) or n_words < 0:
            raise ValueError(f"n_words must be an int >= 0, got {n_words!r}")
        rows = []
        for x in batch.inputs:
            p0 = int(np.argmax(x == self.bos))
            words = x[p0 + 1:]
            words = words[(words != self.pad) & (words != self.eos)][: int(n_words)]
            rows.append(np.concatenate([x[: p0 + 1][x[: p0 + 1] != self.pad], words]))
        width = max(len(r) for r in rows)
        out = np.full((len(rows), width), self.pad, dtype=np.intp)
        for i, r in enumerate(rows):
            out[i, width - len(r):] = r
        return out

    def prefixes(self, texts: Sequence[str], *, context=None) -> np.ndarray:
        """Start rows ``[<pad>…] prompt <s> words`` for prefixes written as words (``""`` is just ``<s>``).

        Rows are left-padded to one width, so a decoder continues each after its last word and
        ``next_logprobs`` gives the distribution after it.
        """
        batch = self.batch([t if t else [] for t in texts], context=context)
        return self.prefix_rows(batch, self.max_len)

    def decode_batch(self, batch: LMBatch) -> list[str]:
        """The sentence of every row of a batch (its targets where the mask is on)."""
        out = []
        for tgt, m in zip(batch.targets, batch.mask):
            out.append(" ".join(self.tokens[i] for i in tgt[m] if i != self.eos))
        return out


# --------------------------------------------------------------------------- checks shared by kdbook.lm


def check_batch(batch, name: str = "batch", *, nonempty: bool = False) -> LMBatch:
    """Return ``batch`` after checking it is an :class:`LMBatch` (with a predicted token if ``nonempty``)."""
    if not isinstance(batch, LMBatch):
        raise TypeError(f"{name} must be a kdbook.lm.LMBatch (from a language's .sample or .batch, or a decoder), "
                        f"got {type(batch).__name__}")
    if nonempty and not batch.mask.any():
        raise ValueError(f"{name} has no predicted tokens (its mask is all False)")
    return batch


def check_language_model(model, name: str = "model", *, allow_vocabulary: bool = False,
                         need_logits: bool = True) -> Vocabulary:
    """Return the :class:`Vocabulary` of a language model (``.vocab`` and ``.logits``: a ToyLanguage or a
    ``kdbook.lm.WindowLM``), or of a Vocabulary itself where ``allow_vocabulary``; else a clear error.

    A decoder needs only the next-token distribution: with ``need_logits=False`` a model with
    ``.vocab`` and ``.next_logprobs`` (for example a wrapper counting a teacher's calls) is enough.
    """
    if allow_vocabulary and isinstance(model, Vocabulary):
        return model
    vocab = getattr(model, "vocab", None)
    scores = callable(getattr(model, "logits", None)) or (
        not need_logits and callable(getattr(model, "next_logprobs", None)))
    if not isinstance(vocab, Vocabulary) or not scores:
        also = " or a Vocabulary" if allow_vocabulary else ""
        what = ".logits" if need_logits else ".logits or .next_logprobs"
        raise TypeError(f"{name} must be a language model with .vocab and {what} (a ToyLanguage or a "
                        f"kdbook.lm.WindowLM){also}, got {type(model).__name__}")
    return vocab


def pick_targets(logprobs: np.ndarray, batch: LMBatch, where: np.ndarray | None = None) -> np.ndarray:
    r"""(B, L) log-probability of each target token, :math:`\ell_{b,t} = \log p_{b,t}(y_{b,t})`, 0 where
    ``where`` (default ``batch.mask``) is False. ``logprobs`` is (B, L, V)."""
    picked = np.take_along_axis(logprobs, batch.targets[..., None], axis=-1)[..., 0]
    return np.where(batch.mask if where is None else where, picked, 0.0)

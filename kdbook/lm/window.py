"""Small student language models in numpy, with hand-written backward passes.

Introduced in chapter 6 (``notebooks/06_distilling_a_language_model.ipynb``) and used again in
chapters 7 and 8. :class:`WindowLM` sees only the last ``window`` tokens (an n-gram neural
language model after Bengio et al. 2003): embeddings of those tokens, one tanh hidden layer,
logits over the V predictable tokens. With a short window it cannot represent the toy language
exactly (the language's next word can depend on a word further back), which is what makes it a
student. An optional *context channel* adds a learned vector per instruction found in the row's
prompt, and an optional *soft prompt* σ adds one more learned vector to every position: trained
alone, with everything else frozen (:meth:`WindowLM.set_trainable`), it is prompt tuning
(chapter 8).

The model follows ``kdbook.protocol.Model``: ``forward(X)`` takes (B, L) input rows
(``kdbook.lm.sequences``) and returns (B, L, V) logits; ``backward`` returns the gradients of the
*trainable* parameter groups, in the order of ``params``.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .. import _validate as v
from .._perturb import perturb_initial
from ..softmax import log_softmax_rows
from .sequences import Vocabulary

__all__ = ["WindowLM", "GROUPS"]

#: Parameter groups of :class:`WindowLM`, in ``params`` order.
GROUPS = ("embedding", "hidden", "output", "context", "soft_prompt")


class WindowLM:
    r"""A fixed-window neural language model: the last ``window`` tokens → tanh layer → logits.

    .. math:: a_t = [E_{x_{t-n+1}}, \dots, E_{x_t}]\,W + b + \sum_{i \in \text{prompt}} C_i + \sigma,
              \quad h_t = \tanh(a_t), \quad z_t = h_t U + c

    Positions before the start of a row read the ``<pad>`` embedding. Introduced in chapter 6.

    Parameters
    ----------
    vocab : kdbook.lm.Vocabulary or an object with a ``vocab`` (e.g. a ToyLanguage)
        Token ids, the number of predictable tokens V and the instruction tokens.
    window : int
        Tokens seen (n ≥ 1); 1 is a bigram model.
    dim, hidden : int
        Embedding size d and hidden width H.
    context : bool
        Add the context channel C (one H-vector per instruction, summed over the row's prompt).
    soft_prompt : bool
        Add a trainable soft prompt σ (an H-vector added at every position; starts at 0).
    seed : int or numpy.random.Generator
        Initial weights: E ~ N(0, 1), W ~ N(0, 1/(n·d)), U ~ N(0, 1/H), biases, C and σ at 0.

    Examples
    --------
    >>> from kdbook.lm import ToyLanguage
    >>> from kdbook.lm import WindowLM
    >>> lang = ToyLanguage()
    >>> student = WindowLM(lang, window=2, hidden=32, seed=0)
    >>> batch = lang.sample(4, seed=0)
    >>> student.forward(batch.inputs).shape == batch.inputs.shape + (lang.n_classes,)
    True
    """

    def __init__(self, vocab, *, window: int = 2, dim: int = 16, hidden: int = 32, context: bool = False,
                 soft_prompt: bool = False, seed: int | np.random.Generator = 0):
        vocab = getattr(vocab, "vocab", vocab)
        if not isinstance(vocab, Vocabulary):
            raise TypeError(f"vocab must be a kdbook.lm.Vocabulary or a ToyLanguage, got {type(vocab).__name__}")
        self.vocab = vocab
        self.window = v.check_int(window, "window", minimum=1)
        self.dim = v.check_int(dim, "dim", minimum=1)
        self.hidden = v.check_int(hidden, "hidden", minimum=1)
        for flag, name in ((context, "context"), (soft_prompt, "soft_prompt")):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be True or False, got {type(flag).__name__}")
        rng = v.check_rng(seed)
        n, d, H, V = self.window, self.dim, self.hidden, vocab.n_classes
        self.groups: dict[str, list[np.ndarray]] = {
            "embedding": [rng.normal(size=(vocab.n_tokens, d))],
            "hidden": [rng.normal(scale=np.sqrt(1.0 / (n * d)), size=(n * d, H)), np.zeros(H)],
            "output": [rng.normal(scale=np.sqrt(1.0 / H), size=(H, V)), np.zeros(V)],
        }
        perturb_initial(p for g in self.groups.values() for p in g)  # KDBOOK_PERTURB (kdbook/_perturb.py)
        if context:
            self.groups["context"] = [np.zeros((len(vocab.instructions), H))]
        if soft_prompt:
            self.groups["soft_prompt"] = [np.zeros(H)]
        self._trainable = tuple(self.groups)
        self._cache = None

    # ------------------------------------------------------------------ parameters
    @property
    def params(self) -> list[np.ndarray]:
        """The arrays of the trainable groups (what an optimiser updates), in :data:`GROUPS` order."""
        return [p for g in self._trainable for p in self.groups[g]]

    @property
    def trainable(self) -> tuple[str, ...]:
        """Names of the groups ``params`` and ``backward`` cover."""
        return self._trainable

    def set_trainable(self, *groups: str) -> "WindowLM":
        """Train only these groups (the rest frozen); no names: train every group. Returns self.

        Build the optimiser *after* this call: it is tied to the arrays in ``params``.
        """
        names = tuple(groups) or tuple(self.groups)
        for g in names:
            if g not in self.groups:
                raise ValueError(f"groups must name parameter groups of this model ({', '.join(self.groups)}); got {g!r}")
        self._trainable = tuple(g for g in GROUPS if g in names)
        return self

    @property
    def n_params(self) -> int:
        """Number of trainable numbers."""
        return int(sum(p.size for p in self.params))

    @property
    def n_classes(self) -> int:
        """V, the predictable tokens."""
        return self.vocab.n_classes

    def __repr__(self) -> str:
        extra = "".join(f", {g}=True" for g in ("context", "soft_prompt") if g in self.groups)
        return (f"WindowLM(window={self.window}, dim={self.dim}, hidden={self.hidden}{extra}, "
                f"n_params={self.n_params}, trainable={list(self._trainable)})")

    def copy(self) -> "WindowLM":
        """An independent copy (same settings, parameter values and trainable groups)."""
        new = WindowLM.__new__(WindowLM)
        new.__dict__.update(self.__dict__)
        new.groups = {g: [p.copy() for p in ps] for g, ps in self.groups.items()}
        new._cache = None
        return new

    # ------------------------------------------------------------------ computation
    def check_input(self, X: ArrayLike) -> np.ndarray:
        """Validate (B, L) input rows (see ``kdbook.lm.Vocabulary.check_inputs``)."""
        return self.vocab.check_inputs(X, "X")

    def _windows(self, X: np.ndarray) -> np.ndarray:
        """(B, L, n) ids of the last n tokens at every position (``<pad>`` before the row)."""
        n = self.window
        padded = np.concatenate([np.full((X.shape[0], n - 1), self.vocab.pad, dtype=X.dtype), X], axis=1)
        return np.stack([padded[:, j : j + X.shape[1]] for j in range(n)], axis=-1)

    def _prompt_hot(self, X: np.ndarray) -> np.ndarray:
        bits = self.vocab.contexts_of(X)
        return (bits[:, None] >> np.arange(len(self.vocab.instructions))) & 1

    def _run(self, X: np.ndarray, keep: bool) -> np.ndarray:
        E, = self.groups["embedding"]
        W, b = self.groups["hidden"]
        U, c = self.groups["output"]
        win = self._windows(X)
        x = E[win].reshape(*win.shape[:2], -1)
        a = x @ W + b
        hot = None
        if "context" in self.groups:
            hot = self._prompt_hot(X).astype(float)
            a += (hot @ self.groups["context"][0])[:, None, :]
        if "soft_prompt" in self.groups:
            a += self.groups["soft_prompt"][0]
        h = np.tanh(a)
        if keep:
            self._cache = (win, x, h, hot)
        return h @ U + c

    def forward(self, X: ArrayLike) -> np.ndarray:
        """(B, L, V) logits for input rows ``X``, keeping what :meth:`backward` needs."""
        return self._run(self.check_input(X), keep=True)

    def logits(self, X: ArrayLike) -> np.ndarray:
        """The logits of :meth:`forward` without keeping anything."""
        return self._run(self.check_input(X), keep=False)

    __call__ = logits

    def next_logprobs(self, prefixes: ArrayLike) -> np.ndarray:
        """(B, V) log-probabilities of the token after each row (after its last non-padding token)."""
        X = self.vocab.check_inputs(prefixes, "prefixes")
        last = self.vocab.last_positions(X)
        return log_softmax_rows(self._run(X, keep=False)[np.arange(X.shape[0]), last])

    def backward(self, grad_logits: ArrayLike) -> list[np.ndarray]:
        r"""Gradients of the loss w.r.t. the trainable parameters, given ∂L/∂z of the last forward.

        .. math:: \partial U = h^\top g,\ \partial c = \textstyle\sum g,\ \delta = (g U^\top) \odot (1 - h^2),\
                  \partial W = x^\top \delta,\ \partial b = \textstyle\sum \delta,\
                  \partial E_k = \textstyle\sum_{(t, j): x_{t-j} = k} (\delta W^\top)_{t, j},\
                  \partial C = \text{prompt}^\top \textstyle\sum_t \delta_t,\ \partial\sigma = \textstyle\sum \delta

        (sums over the batch and positions).
        """
        if self._cache is None:
            raise RuntimeError("call forward(X) before backward(grad_logits)")
        win, x, h, hot = self._cache
        g = v.as_float_array(grad_logits, "grad_logits")
        if g.shape != h.shape[:2] + (self.n_classes,):
            raise ValueError(f"grad_logits must have shape {h.shape[:2] + (self.n_classes,)} (as the last forward's "
                             f"logits), got {g.shape}")
        U = self.groups["output"][0]
        W = self.groups["hidden"][0]
        H = self.hidden
        grads = {"output": [h.reshape(-1, H).T @ g.reshape(-1, self.n_classes), g.sum(axis=(0, 1))]}
        delta = (g @ U.T) * (1.0 - h * h)
        grads["hidden"] = [x.reshape(-1, x.shape[-1]).T @ delta.reshape(-1, H), delta.sum(axis=(0, 1))]
        if "embedding" in self._trainable:
            dx = (delta @ W.T).reshape(-1, self.dim)
            dE = np.zeros_like(self.groups["embedding"][0])
            np.add.at(dE, win.reshape(-1), dx)
            grads["embedding"] = [dE]
        if "context" in self.groups:
            grads["context"] = [hot.T @ delta.sum(axis=1)]
        if "soft_prompt" in self.groups:
            grads["soft_prompt"] = [delta.sum(axis=(0, 1))]
        return [p for grp in self._trainable for p in grads[grp]]

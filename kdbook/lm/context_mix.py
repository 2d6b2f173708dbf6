"""Distil a long prompt into a short one while keeping the unprompted behaviour: the training mix.

Introduced in chapter 8 (``notebooks/08_context_distillation.ipynb``, section 2 and the
explorer). The student is the prompt-following model itself, trained so that, reading the short
prompt c′, it answers as the model does reading the full prompt c. Its weights are shared with
every other use of the model, so distilling moves its behaviour *without* a prompt as well. The
cure studied here is a *mix*: a fraction of the training rows carry no prompt and, as targets,
the original model's own distributions (self-distillation), which holds the unprompted behaviour
in place.

:func:`mix_data` builds the rows, :func:`mix_quality` measures both sides,
:func:`mix_sweep` precomputes training runs over mixes and steps, and :func:`mix_state` is the
plain state function behind ``kdbook.widgets.context.context_mix_explorer``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from .. import _validate as v
from . import context as cd
from .. import losses

__all__ = ["mix_data", "mix_quality", "MixSweep", "mix_sweep", "MixState", "mix_state"]


def mix_data(model, queries: ArrayLike, distil: ArrayLike, *, context, short_context, n_query_words: int,
             seed: int | np.random.Generator = 0) -> cd.CDData:
    """Token-level training rows: distillation rows where ``distil`` is True, keep rows elsewhere.

    A distillation row is the model's response to the query under the full ``context``, read by
    the student with ``short_context``, with the model's logits under ``context`` as targets. A
    keep row is the model's response without any prompt, read without a prompt, with the model's
    own unprompted logits as targets. Introduced in chapter 8.

    Parameters
    ----------
    model : WindowLM
        The prompt-following model (teacher, and the student's starting point).
    queries : array_like of int, shape (n, P)
        Query rows from :func:`kdbook.lm.context.sample_queries`.
    distil : array_like of bool, shape (n,)
        Which queries become distillation rows.
    """
    Q = model.vocab.check_inputs(queries, "queries")
    d = np.asarray(distil)
    if d.dtype != bool or d.shape != (Q.shape[0],):
        raise ValueError(f"distil must be a boolean array with one entry per query, shape ({Q.shape[0]},); "
                         f"got dtype {d.dtype} and shape {d.shape}")
    rng = v.check_rng(seed)
    parts = []
    for rows, ctx, student_ctx in ((d, context, short_context), (~d, None, None)):
        if rows.any():
            resp = cd.respond(model, Q[rows], context=ctx, seed=rng)
            parts.append(cd.distillation_data(model, resp, teacher_context=ctx, student_context=student_ctx,
                                              n_query_words=n_query_words))
    return cd.concat_data(parts, vocab=model.vocab)


def mix_quality(student, model, queries: ArrayLike, *, context, short_context, n_query_words: int,
                seed: int = 0) -> dict[str, float]:
    """The two sides of the mix on held-out ``queries``, in nats per response token.

    ``kl_to_teacher``: KL(model(· | c) ‖ student(· | c′)) along the model's responses under c;
    ``kl_unprompted``: KL(model(· | ∅) ‖ student(· | ∅)) along the model's unprompted responses
    (0 before training). Introduced in chapter 8.
    """
    out = {}
    for key, ctx, student_ctx, s in (("kl_to_teacher", context, short_context, seed),
                                     ("kl_unprompted", None, None, seed + 1)):
        resp = cd.respond(model, queries, context=ctx, seed=s)
        data = cd.distillation_data(model, resp, teacher_context=ctx, student_context=student_ctx,
                                    n_query_words=n_query_words)
        out[key] = float(losses.kd_loss(student.logits(data.inputs), data.teacher_logits, mask=data.mask,
                                        reduction="tokenmean"))
    return out


@dataclass(eq=False)
class MixSweep:
    """Precomputed training runs: one per mix, a snapshot after every epoch (epoch 0: the model itself)."""

    mixes: np.ndarray  # (m,) fraction of keep rows
    epochs: np.ndarray  # (s,) 0, 1, ..., E
    words: tuple[str, ...]  # the V token names
    prefix: str  # the prefix whose next-token distributions are stored
    teacher: np.ndarray  # (V,) the model under c after the prefix
    original: np.ndarray  # (V,) the model without a prompt after the prefix
    prompted: np.ndarray  # (m, s, V) the student under c′ after the prefix
    unprompted: np.ndarray  # (m, s, V) the student without a prompt after the prefix
    kl_to_teacher: np.ndarray  # (m, s) held-out, nats per response token
    kl_unprompted: np.ndarray  # (m, s)
    samples: list  # [m][s] -> list of sentences the student writes under c′


def _next_probs(model, row: np.ndarray) -> np.ndarray:
    return np.exp(model.next_logprobs(row[None, :]))[0]


def mix_sweep(model, lang, *, mixes=(0.0, 0.25, 0.5), epochs: int = 6, n_rows: int = 300, prefix: str = "the dog sleeps",
              context=("brief", "polite"), short_context="polite", n_query_words: int = 2, n_samples: int = 3,
              seed: int = 0) -> MixSweep:
    """Train one student per mix and keep a snapshot after every epoch, for the explorer.

    Each run: ``n_rows`` training queries, a fraction ``mix`` of them keep rows (see
    :func:`mix_data`), Adam (lr 0.01, batches of 50) for ``epochs`` epochs. Deterministic for a
    seed (about 0.3 s of CPU per run). Introduced in chapter 8.
    """
    from ..optim import Adam
    from ..train import train

    mixes = np.asarray([v.check_unit_interval(m, "mixes") for m in mixes])
    E = v.check_int(epochs, "epochs", minimum=1)
    seed = v.check_int(seed, "seed")
    queries = cd.sample_queries(lang, n_rows, words=n_query_words, seed=seed)
    held_out = cd.sample_queries(lang, 400, words=n_query_words, seed=seed + 1)
    start = cd.prefix_rows(lang, [prefix])
    V = lang.n_classes
    m, s = len(mixes), E + 1
    prompted, unprompted = np.zeros((m, s, V)), np.zeros((m, s, V))
    kl_t, kl_u = np.zeros((m, s)), np.zeros((m, s))
    samples: list = [[None] * s for _ in range(m)]
    sample_queries = held_out[:n_samples]
    for i, mix in enumerate(mixes):
        n_keep = int(round(mix * n_rows))
        distil = np.arange(n_rows) >= n_keep
        data = mix_data(model, queries, distil, context=context, short_context=short_context,
                        n_query_words=n_query_words, seed=seed + 10 + i)
        student = model.copy().set_trainable()
        opt = Adam(student.params, lr=0.01)
        order = np.random.default_rng(seed + 20 + i)
        for e in range(s):
            if e:
                train(student, **data.train_kwargs(), epochs=1, batch_size=50, optimizer=opt, seed=order)
            prompted[i, e] = _next_probs(student, cd.set_prompt(start, lang, short_context)[0])
            unprompted[i, e] = _next_probs(student, start[0])
            q = mix_quality(student, model, held_out, context=context, short_context=short_context,
                            n_query_words=n_query_words, seed=seed + 30)
            kl_t[i, e], kl_u[i, e] = q["kl_to_teacher"], q["kl_unprompted"]
            samples[i][e] = lang.decode_batch(cd.respond(student, sample_queries, context=short_context, seed=seed + 40))
    return MixSweep(mixes, np.arange(s), tuple(lang.words), prefix,
                    _next_probs(model, cd.set_prompt(start, lang, context)[0]), _next_probs(model, start[0]),
                    prompted, unprompted, kl_t, kl_u, samples)


@dataclass
class MixState:
    """What the explorer shows for one mix and one epoch."""

    mix: float
    epoch: int
    prefix: str
    shown: np.ndarray  # token ids on the bars
    labels: tuple[str, ...]
    teacher: np.ndarray  # (V,) model under c
    student_prompted: np.ndarray  # (V,) student under c′
    original: np.ndarray  # (V,) model without a prompt
    student_unprompted: np.ndarray  # (V,) student without a prompt
    kl_here_prompted: float  # KL(teacher ‖ student under c′) at the prefix
    kl_here_unprompted: float  # KL(original ‖ student without prompt) at the prefix
    epochs: np.ndarray  # (s,)
    kl_to_teacher: np.ndarray  # (s,) held-out curve of this mix
    kl_unprompted: np.ndarray  # (s,)
    samples: list  # sentences the student writes under c′


def mix_state(sweep: MixSweep, mix: float, epoch: int, *, top: int = 8) -> MixState:
    """The explorer's state at one mix (a value of ``sweep.mixes``) and epoch: a look-up, no training.

    Examples
    --------
    >>> import numpy as np
    >>> p = np.array([0.5, 0.3, 0.2]); q = np.full((1, 2, 3), 1 / 3)
    >>> sw = MixSweep(np.array([0.0]), np.arange(2), ("a", "b", "c"), "x", p, p, q, q,
    ...               np.zeros((1, 2)), np.zeros((1, 2)), [[["a"], ["b"]]])
    >>> s = mix_state(sw, 0.0, 1, top=2)
    >>> s.labels, round(s.kl_here_prompted, 4)
    (('a', 'b'), 0.069)
    """
    if not isinstance(sweep, MixSweep):
        raise TypeError(f"sweep must be a MixSweep (from mix_sweep), got {type(sweep).__name__}")
    hit = np.flatnonzero(np.isclose(sweep.mixes, float(mix)))
    if hit.size == 0:
        raise ValueError(f"mix must be one of the sweep's mixes {sweep.mixes.tolist()}, got {mix}")
    i = int(hit[0])
    e = v.check_int(epoch, "epoch")
    if e >= len(sweep.epochs):
        raise ValueError(f"epoch must be in [0, {len(sweep.epochs) - 1}], got {e}")
    k = v.check_int(top, "top", minimum=1)
    score = np.maximum(np.maximum(sweep.teacher, sweep.original), sweep.prompted[i, e])
    shown = np.argsort(-score, kind="stable")[:k]
    kl = lambda p, q: float(losses.kd_loss(np.log(q), np.log(p)))  # noqa: E731 - KL(p ‖ q) from probabilities
    return MixState(float(sweep.mixes[i]), e, sweep.prefix, shown, tuple(sweep.words[j] for j in shown),
                    sweep.teacher, sweep.prompted[i, e], sweep.original, sweep.unprompted[i, e],
                    kl(sweep.teacher, sweep.prompted[i, e]), kl(sweep.original, sweep.unprompted[i, e]),
                    sweep.epochs, sweep.kl_to_teacher[i], sweep.kl_unprompted[i], sweep.samples[i][e])

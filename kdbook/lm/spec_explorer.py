"""The state behind chapter 9's speculative-decoding explorer (plain numpy, no UI code).

Introduced in chapter 9 (``notebooks/09_speculative_decoding.ipynb``, section 5).
:func:`speculative_sweep` runs speculative sampling once per draft and γ (the expensive part);
:func:`speculative_state` reads one setting out of it for a cost ratio c, so a redraw computes
only a few closed-form numbers.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _validate as v
from .speculative import best_gamma, modelled_speedup, speculative_sample

__all__ = ["SpeculativeSweep", "SpeculativeState", "speculative_sweep", "speculative_state"]


@dataclass(frozen=True)
class SpeculativeSweep:
    """Measured runs per draft and γ: ``alpha[name]`` (acceptance), ``tokens_per_call[name]`` (one per γ),
    ``sentences[name][i]`` a (words, kinds) pair of the first sentence of the run with ``gammas[i]``."""

    names: tuple
    gammas: tuple
    alpha: dict
    tokens_per_call: dict
    sentences: dict


@dataclass(frozen=True)
class SpeculativeState:
    """What one explorer frame shows."""

    name: str
    gamma: int
    c: float
    alpha: float
    gammas: np.ndarray
    modelled: np.ndarray          # modelled speed-up for γ = 0 … max
    measured_gammas: np.ndarray
    measured: np.ndarray          # measured tokens per call / (γc + 1)
    best_gamma: int
    words: tuple
    kinds: tuple


def _marks(gen, row: int, words) -> tuple[tuple, tuple]:
    mask = gen.batch.mask[row]
    toks = gen.batch.targets[row][mask]
    kinds = tuple("accepted" if a else ("resampled" if d else "bonus")
                  for a, d in zip(gen.accepted[row][: len(toks)], gen.drafted[row][: len(toks)]))
    return tuple(words[t] for t in toks), kinds


def speculative_sweep(target, drafts: dict, gammas=(1, 2, 4, 6, 8), *, n: int = 200, seed: int = 0) -> SpeculativeSweep:
    """Run speculative sampling for every draft in ``drafts`` (name → model) and γ in ``gammas``.

    ``n`` sentences per run, seed ``seed`` for every run. Chapter 9, section 5.
    """
    if not drafts:
        raise ValueError("drafts must name at least one draft model")
    gs = tuple(v.check_int(g, "gammas", minimum=1) for g in gammas)
    n = v.check_int(n, "n", minimum=1)
    start = target.vocab.start(n)
    alpha, tpc, sents = {}, {}, {}
    for name, d in drafts.items():
        runs = [speculative_sample(target, d, start, gamma=g, seed=seed) for g in gs]
        alpha[name] = float(sum(r.accepted.sum() for r in runs) / sum(r.drafted.sum() for r in runs))
        tpc[name] = np.array([r.tokens_per_call for r in runs])
        sents[name] = [_marks(r, 0, target.words) for r in runs]
    return SpeculativeSweep(tuple(drafts), gs, alpha, tpc, sents)


def speculative_state(sweep: SpeculativeSweep, name: str, gamma: int, c: float, *, max_gamma: int = 12) -> SpeculativeState:
    """One frame: the modelled speed-up curve for the draft's α and c, the measured points, a verified sentence.

    ``gamma`` must be one of ``sweep.gammas``; ``c`` ≥ 0 is draft cost / target cost.
    """
    if not isinstance(sweep, SpeculativeSweep):
        raise TypeError(f"sweep must be a SpeculativeSweep (from speculative_sweep), got {type(sweep).__name__}")
    if name not in sweep.names:
        raise ValueError(f"name must be one of {', '.join(sweep.names)}, got {name!r}")
    if gamma not in sweep.gammas:
        raise ValueError(f"gamma must be one of {sweep.gammas}, got {gamma!r}")
    c = float(v.as_real(c, "c"))
    if c < 0:
        raise ValueError(f"c must be >= 0, got {c}")
    a = sweep.alpha[name]
    g = np.arange(max_gamma + 1)
    mg = np.array(sweep.gammas)
    words, kinds = sweep.sentences[name][sweep.gammas.index(gamma)]
    return SpeculativeState(name, int(gamma), c, a, g, modelled_speedup(a, g, c), mg,
                            sweep.tokens_per_call[name] / (mg * c + 1), best_gamma(a, c, max_gamma=max_gamma),
                            words, kinds)

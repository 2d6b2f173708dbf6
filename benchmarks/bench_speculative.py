"""Speculative sampling vs plain sampling in kdbook: real numpy time per generated token.

Run from this folder: ``python bench_speculative.py``. The target is a large ``WindowLM``
(window 4, 64-d embeddings, 1024 tanh units, 80 Adam steps) distilled from the toy language; the draft is the
chapter's small ``WindowLM`` (window 2, 16-d, 32 units) distilled from that target by forward KL
on its samples. Both samplers recompute each row's logits in full per model call (as kdbook's
``decoding.sample`` does), so the comparison is like for like. Prints the measured acceptance α,
the measured cost ratio c = draft call / target call, the time per generated token of each
sampler for several γ, the ratio, and Leviathan et al.'s modelled speed-up for the measured α, c.
"""
from __future__ import annotations

import numpy as np
from _timing import best

from kdbook.lm import ToyLanguage, WindowLM
from kdbook.lm.decoding import sample
from kdbook.lm.onpolicy import distill_on_policy
from kdbook.lm.policy import sample_sentences
from kdbook.lm.speculative import modelled_speedup, speculative_sample


def main(n: int = 100) -> None:
    lang = ToyLanguage()
    target = WindowLM(lang, window=4, dim=64, hidden=1024, seed=0)
    distill_on_policy(target, lang, lang.sample(2000, seed=1), lam=0.0, steps=80, lr=0.005, seed=0)
    draft = WindowLM(lang, window=2, dim=16, hidden=32, seed=0)
    distill_on_policy(draft, target, sample_sentences(target, 2000, seed=2), lam=0.0, steps=200, lr=0.01, seed=0)
    start = lang.vocab.start(n)
    X = sample(target, start, seed=3).batch.inputs
    c = best(lambda: draft.logits(X), 5) / best(lambda: target.logits(X), 5)
    plain = sample(target, start, seed=4)
    t_plain = best(lambda: sample(target, start, seed=4), 3) / plain.batch.mask.sum()
    print(f"measured cost ratio c = draft call / target call = {c:.3f}")
    print(f"plain sampling: {1e6 * t_plain:8.1f} µs per generated token")
    print(" γ   acceptance   tokens/call   µs/token   speed-up (measured)   modelled for α, c")
    for g in (1, 2, 3, 4, 6):
        run = speculative_sample(target, draft, start, gamma=g, seed=5)
        alpha = run.accepted.sum() / run.drafted.sum()
        t = best(lambda g=g: speculative_sample(target, draft, start, gamma=g, seed=5), 3) / run.tokens.sum()
        print(f"{g:2d}   {alpha:10.3f}   {run.tokens_per_call:11.2f}   {1e6 * t:8.1f}   {t_plain / t:19.2f}"
              f"   {float(modelled_speedup(alpha, g, c)):17.2f}")


if __name__ == "__main__":
    main()

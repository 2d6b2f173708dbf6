"""Chapter 6: the exact mode against beam search, checked by brute-force enumeration."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from kdbook.lm import ToyLanguage, decoding
from kdbook.lm.mode import exact_mode

pytestmark = [pytest.mark.claims, pytest.mark.slow]


def test_exact_mode_equals_brute_force_on_the_tiny_language():
    lang = ToyLanguage("tiny")
    V = lang.n_classes
    start = lang.vocab.start(1)
    best, best_lp = None, -np.inf
    for n in range(0, lang.max_len + 1):
        for words in itertools.product(range(1, V), repeat=n):
            b = lang.batch([list(words)])
            lp = lang.sentence_logprob(b)[0]
            if lp > best_lp:
                best, best_lp = list(words), lp
    mode = exact_mode(lang, start)
    assert lang.sentence_logprob(mode.batch)[0] == pytest.approx(best_lp, abs=1e-12)
    assert lang.decode_batch(mode.batch)[0] == lang.decode(best)


def test_beam_never_beats_the_mode_and_four_beams_miss_it_on_about_a_third():
    lang = ToyLanguage()
    starts = np.unique(lang.vocab.prefix_rows(lang.sample(20000, seed=2000), 2), axis=0)
    mode_lp = lang.sentence_logprob(exact_mode(lang, starts).batch)
    for k in (1, 4, 32):
        lp = lang.sentence_logprob(decoding.beam_search(lang, starts, beam_size=k).batch)
        assert (lp <= mode_lp + 1e-9).all()
        if k == 4:
            assert 0.55 < np.mean(np.isclose(lp, mode_lp)) < 0.72
        if k == 32:
            assert np.allclose(lp, mode_lp)

"""kdbook.lm.mode, kdbook.lm.sampled_storage, kdbook.lm.phases and kdbook.lm.capacity (chapter 6)."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from kdbook.lm import ToyLanguage, decoding
from kdbook.lm.capacity import window2_floor
from kdbook.lm.mode import exact_mode
from kdbook.lm.phases import PHASES, position_phases
from kdbook.lm.sampled_storage import sampled_bytes, sampled_targets


def test_exact_mode_is_the_best_of_every_tiny_sentence():
    lang = ToyLanguage("tiny")
    V = lang.n_classes
    sentences = [list(w) for n in range(lang.max_len + 1) for w in itertools.product(range(1, V), repeat=n)]
    lp = np.concatenate([lang.sentence_logprob(lang.batch(sentences[i:i + 4000])) for i in range(0, len(sentences), 4000)])
    mode = exact_mode(lang, lang.vocab.start(1))
    assert lang.sentence_logprob(mode.batch)[0] == pytest.approx(lp.max(), abs=1e-12)
    # logprob counts the added tokens (from <s> here: the whole sentence)
    assert mode.logprob[0] == pytest.approx(lp.max(), abs=1e-12) and mode.finished.all()


def test_large_beams_find_the_mode_and_small_ones_never_beat_it():
    lang = ToyLanguage()
    starts = lang.prefixes(["the dog", "two robots", "a tall", "some", "the big cat chases"])
    mode_lp = lang.sentence_logprob(exact_mode(lang, starts).batch)
    for k in (1, 2, 4):
        assert (lang.sentence_logprob(decoding.beam_search(lang, starts, beam_size=k).batch) <= mode_lp + 1e-9).all()
    np.testing.assert_allclose(lang.sentence_logprob(decoding.beam_search(lang, starts, beam_size=32).batch), mode_lp)


def test_exact_mode_rejects_mixed_contexts():
    lang = ToyLanguage()
    rows = lang.prefixes(["the dog", "the cat"], context=[None, "brief"])
    with pytest.raises(ValueError, match="context"):
        exact_mode(lang, rows)


def test_sampled_targets_sum_to_one_count_draws_and_validate():
    lp = np.log(np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]]))
    t = sampled_targets(lp, 5, seed=1)
    np.testing.assert_allclose(t.sum(1), 1.0)
    assert np.all(np.isclose(t * 5, np.round(t * 5)))  # counts / k
    with pytest.raises(ValueError, match="k"):
        sampled_targets(lp, 0)
    assert sampled_bytes(10, 51) == 20 and sampled_bytes(10, 51, T=2.0) == 40
    with pytest.raises(ValueError, match="id_bytes"):
        sampled_bytes(4, 200_000)


def test_phases_mark_padding_and_name_every_position():
    lang = ToyLanguage()
    b = lang.batch(["the dog sleeps and eats", "a cat"])
    ph = position_phases(lang, b.inputs)
    assert ((ph >= 0) == b.mask).all()
    names = [PHASES[i] for i in ph[0][b.mask[0]]]
    assert names[:3] == ["start", "subject", "after subject"] and "after and" in names


def test_capacity_floor_is_a_distribution_table_below_a_trained_student():
    lang = ToyLanguage()
    q, floor = window2_floor(lang)
    np.testing.assert_allclose(q.sum(-1), 1.0)
    assert 0.15 < floor < 0.25

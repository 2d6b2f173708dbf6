"""Chapter 6, section 3: the prose claims about the four students, re-checked on seeds 0-9.

Each assertion is the statement the notebook makes, with the count of seeds it states. Metrics
are recomputed in ``_ch06_runs.py`` with their own numpy (not kdbook.lm.evaluation)."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import _ch06_runs as runs  # noqa: E402

pytestmark = [pytest.mark.claims, pytest.mark.slow]


def per_seed(way: str, key: str) -> np.ndarray:
    return np.array([runs.run(s)[way][key] for s in runs.SEEDS])


def test_ten_seeds():
    assert len(runs.SEEDS) >= 10


@pytest.mark.parametrize("key", ["token_kl", "seq_kl", "ppl"])
def test_word_level_kd_matches_the_distribution_best_on_10_of_10(key):
    assert (per_seed("b", key) < per_seed("a", key)).all()
    assert (per_seed("b", key) < per_seed("d", key)).all()


def test_seq_level_token_kl_about_ten_times_and_perplexity_97_to_207():
    ratio = per_seed("c", "token_kl") / per_seed("a", "token_kl")
    assert 9.5 < ratio.min() and ratio.max() < 12.2, ratio
    ppl = per_seed("c", "ppl")
    assert 96 < ppl.min() and ppl.max() < 208, ppl


def test_seq_level_reproduces_the_beam_on_seen_starts_on_10_of_10():
    assert (per_seed("c", "beam_match_seen") >= 0.96).all()


def test_seq_level_on_unseen_starts_matches_less_and_scores_lower_on_9_of_10():
    assert (per_seed("c", "beam_match_unseen") < per_seed("a", "beam_match_unseen")).sum() >= 9
    assert (per_seed("c", "greedy_lp_tok") < per_seed("a", "greedy_lp_tok")).sum() >= 9


def test_word_level_greedy_is_worse_than_corpus():
    assert (per_seed("b", "greedy_lp_tok") < per_seed("a", "greedy_lp_tok")).sum() >= 8
    fewer = (per_seed("b", "finished") < per_seed("a", "finished")).sum()
    equal = (per_seed("b", "finished") == per_seed("a", "finished")).sum()
    assert fewer >= 6 and fewer + equal >= 8


def test_teacher_samples_and_corpus_differ_in_both_directions():
    d = per_seed("d", "token_kl") - per_seed("a", "token_kl")
    assert (d > 0).any() and (d < 0).any()


def test_identity_sequence_kl_is_mean_length_times_log_perplexity_gap():
    lang, held, *_ = runs.setting()
    lp_t = lang.logits(held.inputs)
    t_tok = np.take_along_axis(lp_t, held.targets[..., None], axis=-1)[..., 0] * held.mask
    ln_ppl_t = -t_tok.sum() / held.mask.sum()
    r = runs.run(0)
    for way in runs.WAYS:
        gap = np.log(r[way]["ppl"]) - ln_ppl_t
        assert r[way]["seq_kl"] == pytest.approx(held.mask.sum() / len(held) * gap, rel=1e-10)


def test_only_ungrammatical_starts_are_unseen():
    lang, _, starts, *_ = runs.setting()
    lp = lang.logits(starts)[:, :-1]
    tgt = starts[:, 1:]
    V = lang.n_classes
    tl = np.take_along_axis(lp, np.minimum(tgt, V - 1)[..., None], -1)[..., 0]
    grammatical = np.where(tgt < V, tl, 0).min(axis=1) > np.log(1e-3)
    for s in runs.SEEDS:
        unseen = ~runs.run(s)["seen"]
        assert (grammatical & unseen).sum() <= 2


def test_capacity_floor_is_below_every_student_and_word_level_closes_about_two_thirds():
    from kdbook.lm.capacity import window2_floor

    lang, held, *_ = runs.setting()
    _, floor = window2_floor(lang)
    for way in runs.WAYS:
        assert (per_seed(way, "token_kl") > floor).all(), way
    closed = (per_seed("a", "token_kl") - per_seed("b", "token_kl")) / (per_seed("a", "token_kl") - floor)
    assert 0.55 < closed.min() and closed.max() < 0.78, closed


def test_capacity_floor_matches_an_empirical_conditional_mean():
    """Independent estimate: average the teacher's rows by window over 20,000 samples, score 20,000 others."""
    from kdbook.lm.capacity import window2_floor

    lang = runs.setting()[0]
    _, floor = window2_floor(lang)
    T = lang.vocab.n_tokens

    def rows(seed):
        b = lang.sample(20000, seed=seed)
        lp = lang.logits(b.inputs)[b.mask]
        prev = np.concatenate([np.full((len(b), 1), lang.vocab.pad), b.inputs[:, :-1]], axis=1)[b.mask]
        return lp, prev * T + b.inputs[b.mask]

    lp_fit, w_fit = rows(11)
    sums = np.zeros((T * T, lp_fit.shape[1]))
    np.add.at(sums, w_fit, np.exp(lp_fit))
    counts = np.bincount(w_fit, minlength=T * T)
    lp_ev, w_ev = rows(12)
    ok = counts[w_ev] > 0
    q = sums[w_ev[ok]] / counts[w_ev[ok], None]
    kl = (np.exp(lp_ev[ok]) * (lp_ev[ok] - np.log(np.maximum(q, 1e-300)))).sum(-1)
    assert ok.mean() > 0.995
    assert abs(kl.mean() - floor) < 0.01

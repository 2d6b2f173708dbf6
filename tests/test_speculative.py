"""kdbook.lm.speculative: losslessness, acceptance = 1 − TV, tokens per call, the biased shortcut.

Expected values come from closed forms written here (Σ_k α^k, ½Σ|p − q|), the toy language's
exact sentence probabilities, and scipy's chi-square test; never from the module's own output.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy import stats

from kdbook.lm import ToyLanguage, WindowLM
from kdbook.lm.decoding import greedy
from kdbook.lm.speculative import (acceptance_probability, best_gamma, expected_tokens_per_call, modelled_speedup,
                                   residual, sentence_probabilities, speculative_sample, step_distribution, verify)


def _dist(rng, V, zeros=0):
    x = rng.gamma(0.5, size=V)
    x[rng.choice(V, size=zeros, replace=False)] = 0.0
    return x / x.sum()


@pytest.fixture(scope="module")
def tiny():
    lang = ToyLanguage("tiny")
    allb = lang.enumerate_sentences()
    return lang, allb, np.exp(lang.sentence_logprob(allb))


# ---------------------------------------------------------------- one step, exactly
@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), V=st.integers(2, 12))
def test_step_distribution_is_the_target_and_the_shortcut_is_not(seed, V):
    rng = np.random.default_rng(seed)
    p, q = _dist(rng, V, zeros=rng.integers(0, V - 1)), _dist(rng, V, zeros=rng.integers(0, V - 1))
    np.testing.assert_allclose(step_distribution(p, q), p, atol=1e-12)
    tv = 0.5 * np.abs(p - q).sum()
    shortcut = step_distribution(p, q, rejection="target")
    # the shortcut emits min(p,q) + TV·p: off by TV·(p − r) where r is the residual
    np.testing.assert_allclose(shortcut, np.minimum(p, q) + tv * p, atol=1e-12)
    if tv > 1e-6 and tv < 1 - 1e-6:
        assert np.abs(shortcut - p).sum() > 1e-9


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), V=st.integers(2, 12))
def test_acceptance_is_one_minus_total_variation(seed, V):
    rng = np.random.default_rng(seed)
    p, q = _dist(rng, V, zeros=1), _dist(rng, V)
    assert acceptance_probability(p, q) == pytest.approx(1 - 0.5 * np.abs(p - q).sum(), abs=1e-12)
    assert acceptance_probability(p, p) == pytest.approx(1.0)
    r = residual(p, q)
    assert r.sum() == pytest.approx(1.0) and (r[p <= q] == 0).all()


def test_verify_samples_the_target_and_the_shortcut_fails_a_chi_square_test():
    rng = np.random.default_rng(0)
    V, n = 6, 200_000
    p = np.array([0.4, 0.3, 0.15, 0.1, 0.05, 0.0])
    q = np.array([0.1, 0.1, 0.2, 0.2, 0.2, 0.2])
    P, Q = np.tile(p, (n, 2, 1)), np.tile(q, (n, 1, 1))
    drafts = rng.choice(V, size=(n, 1), p=q)
    for rejection, want_fit in (("residual", True), ("target", False)):
        n_acc, tok = verify(P, Q, drafts, seed=1, rejection=rejection)
        first = np.where(n_acc == 1, drafts[:, 0], tok)
        counts = np.bincount(first, minlength=V)[:5]
        pval = stats.chisquare(counts, n * p[:5]).pvalue
        assert (pval > 1e-3) if want_fit else (pval < 1e-12), (rejection, pval)
        assert (first != 5).all()  # p(5) = 0: never emitted
    n_acc, _ = verify(P, Q, drafts, seed=1)
    alpha = np.minimum(p, q).sum()
    assert abs(n_acc.mean() - alpha) < 4 * np.sqrt(alpha * (1 - alpha) / n)


# ---------------------------------------------------------------- whole sentences, exactly
@pytest.mark.parametrize("gamma", [1, 2, 3])
def test_speculative_sentences_have_exactly_the_target_probabilities(tiny, gamma):
    lang, allb, exact = tiny
    for seed in (0, 1):
        draft = WindowLM(lang, window=1, seed=seed)
        got = sentence_probabilities(lang, draft, allb, gamma=gamma)
        np.testing.assert_allclose(got, exact, rtol=1e-9, atol=1e-15)
        bad = sentence_probabilities(lang, draft, allb, gamma=gamma, rejection="target")
        assert 0.5 * np.abs(bad - exact).sum() > 0.05  # the shortcut is biased by a clear margin


def _gof(lang, batch, exact_by_sentence):
    texts = lang.decode_batch(batch)
    keys, counts = np.unique(texts, return_counts=True)
    expected = np.array([exact_by_sentence.get(k, 0.0) for k in keys]) * len(texts)
    big = expected >= 5
    obs = np.r_[counts[big], counts[~big].sum()]
    exp = np.r_[expected[big], len(texts) - expected[big].sum()]
    return stats.chisquare(obs, exp).pvalue


def test_speculative_sample_passes_goodness_of_fit_and_the_shortcut_does_not(tiny):
    lang, allb, exact = tiny
    table = dict(zip(lang.decode_batch(allb), exact))
    draft = WindowLM(lang, window=1, seed=0)
    start = lang.vocab.start(30_000)
    good = speculative_sample(lang, draft, start, gamma=3, seed=5)
    assert good.finished.all()
    assert _gof(lang, good.batch, table) > 1e-3
    bad = speculative_sample(lang, draft, start, gamma=3, seed=5, rejection="target")
    assert _gof(lang, bad.batch, table) < 1e-12
    # ... but the shortcut's samples do fit the shortcut's own exact sentence probabilities
    shortcut = sentence_probabilities(lang, draft, allb, gamma=3, rejection="target")
    assert _gof(lang, bad.batch, dict(zip(lang.decode_batch(allb), shortcut))) > 1e-3


@pytest.mark.parametrize("gamma", [1, 2, 4])
def test_shortcut_sentence_probabilities_are_a_distribution(tiny, gamma):
    # a block that ends in </s> emits it with min(p, q) + (1 − α)·p under the shortcut, not p: with p
    # there the "distribution" summed to 0.983; every sentence's mass must add up like the target's
    lang, allb, exact = tiny
    bad = sentence_probabilities(lang, WindowLM(lang, window=1, seed=0), allb, gamma=gamma, rejection="target")
    assert (bad >= 0).all()
    assert bad.sum() == pytest.approx(exact.sum(), abs=1e-9)
    assert 0.5 * np.abs(bad - exact).sum() > 0.05


def test_first_position_acceptance_matches_sum_of_min(tiny):
    lang, *_ = tiny
    draft = WindowLM(lang, window=1, seed=3)
    start = lang.vocab.start(40_000)
    gen = speculative_sample(lang, draft, start, gamma=2, seed=2)
    p = np.exp(lang.next_logprobs(start[:1]))[0]
    zq = draft.logits(start[:1])[0, -1]
    q = np.exp(zq - zq.max()) / np.exp(zq - zq.max()).sum()
    alpha = 1 - 0.5 * np.abs(p - q).sum()
    assert gen.drafted[:, 0].all()
    se = np.sqrt(alpha * (1 - alpha) / len(start))
    assert abs(gen.accepted[:, 0].mean() - alpha) < 4 * se


def test_greedy_speculation_reproduces_the_targets_greedy_output():
    lang = ToyLanguage()
    draft = WindowLM(lang, window=2, seed=0)
    start = lang.prefixes(["the", "a big", "two robots", ""])
    spec = speculative_sample(lang, draft, start, gamma=3, T=0)
    ref = greedy(lang, start)
    assert lang.decode_batch(spec.batch) == lang.decode_batch(ref.batch)


def test_gamma_zero_is_plain_sampling_one_token_per_call():
    lang = ToyLanguage()
    gen = speculative_sample(lang, WindowLM(lang, seed=0), lang.vocab.start(50), gamma=0, seed=0)
    assert gen.tokens_per_call == 1.0 and (gen.draft_calls == 0).all()
    assert (gen.tokens == gen.target_calls).all()


def test_word_limit_and_bookkeeping_on_the_full_language():
    lang = ToyLanguage()
    draft = WindowLM(lang, window=2, seed=1)
    gen = speculative_sample(lang, draft, lang.vocab.start(300), gamma=5, seed=0)
    words = gen.batch.mask.sum(axis=1) - gen.finished
    assert (words <= lang.max_len).all()
    assert gen.finished.mean() > 0.99
    # each round emits at least one token and at most γ + 1
    assert (gen.tokens >= gen.target_calls).all() and (gen.tokens <= 6 * gen.target_calls).all()
    assert (gen.accepted <= gen.drafted).all()
    # emitted tokens = accepted drafts + one per round, except where a drafted </s> ended the row
    n_acc = gen.accepted.sum(axis=1)
    assert (gen.tokens - n_acc <= gen.target_calls).all() and (gen.tokens - n_acc >= gen.target_calls - 1).all()


def test_seeded_and_same_seed_same_sentences():
    lang = ToyLanguage()
    draft = WindowLM(lang, seed=0)
    a = speculative_sample(lang, draft, lang.vocab.start(40), seed=9)
    b = speculative_sample(lang, draft, lang.vocab.start(40), seed=9)
    c = speculative_sample(lang, draft, lang.vocab.start(40), seed=10)
    assert lang.decode_batch(a.batch) == lang.decode_batch(b.batch) != lang.decode_batch(c.batch)


# ---------------------------------------------------------------- tokens per call and speed-up
@pytest.mark.parametrize("alpha", [0.0, 0.3, 0.6, 0.9, 1.0])
@pytest.mark.parametrize("gamma", [0, 1, 4, 7])
def test_expected_tokens_is_the_geometric_sum(alpha, gamma):
    assert expected_tokens_per_call(alpha, gamma) == pytest.approx(sum(alpha**k for k in range(gamma + 1)))


def test_expected_tokens_matches_iid_simulation():
    rng = np.random.default_rng(0)
    alpha, gamma, n = 0.7, 4, 200_000
    acc = rng.random((n, gamma)) < alpha
    n_acc = np.where(acc.all(axis=1), gamma, np.argmin(acc, axis=1))
    sim = (n_acc + 1).mean()
    assert abs(sim - expected_tokens_per_call(alpha, gamma)) < 4 * (n_acc + 1).std() / np.sqrt(n)


def test_modelled_speedup_and_best_gamma():
    # Leviathan et al.'s formula by hand: α = 0.8, γ = 4, c = 0.1: (1 − 0.8^5) / (0.2 · 1.4)
    assert modelled_speedup(0.8, 4, 0.1) == pytest.approx((1 - 0.8**5) / (0.2 * 1.4))
    assert modelled_speedup(0.5, 0, 0.3) == pytest.approx(1.0)
    for alpha, c in [(0.6, 0.2), (0.8, 0.05), (0.9, 0.01), (0.3, 0.5)]:
        brute = max(range(21), key=lambda g: sum(alpha**k for k in range(g + 1)) / (g * c + 1))
        assert best_gamma(alpha, c) == brute
    assert best_gamma(0.3, 0.5) == 0  # a poor draft that costs half a target pass: do not speculate
    assert modelled_speedup(0.6, best_gamma(0.6, 0.2), 0.2) > 1.0


# ---------------------------------------------------------------- bad input
def test_bad_input_names_the_argument():
    lang = ToyLanguage()
    draft = WindowLM(lang, seed=0)
    with pytest.raises(ValueError, match="gamma"):
        speculative_sample(lang, draft, lang.vocab.start(2), gamma=-1)
    with pytest.raises(ValueError, match="T must be >= 0"):
        speculative_sample(lang, draft, lang.vocab.start(2), T=-1.0)
    with pytest.raises(ValueError, match="rejection"):
        speculative_sample(lang, draft, lang.vocab.start(2), rejection="p")
    with pytest.raises(ValueError, match="share one vocabulary"):
        speculative_sample(lang, WindowLM(ToyLanguage("tiny"), seed=0), lang.vocab.start(2))
    with pytest.raises(ValueError, match="q must sum to 1"):
        acceptance_probability([0.5, 0.5], [0.5, 0.6])
    with pytest.raises(ValueError, match="p must have shape"):
        verify(np.ones((2, 2, 3)) / 3, np.ones((2, 2, 3)) / 3, np.zeros((2, 2), dtype=int))
    with pytest.raises(ValueError, match="drafts must be"):
        verify(np.ones((2, 3, 3)) / 3, np.ones((2, 2, 3)) / 3, np.zeros((2, 2)))
    with pytest.raises(ValueError, match="alpha must be in"):
        expected_tokens_per_call(1.5, 2)
    with pytest.raises(ValueError, match="gamma must be"):
        expected_tokens_per_call(0.5, 1.5)
    with pytest.raises(ValueError, match="c must be"):
        modelled_speedup(0.5, 2, -0.1)


def test_budget_region_speculation_is_never_slower_in_the_modelled_cost():
    # issue 27's budget: acceptance >= 0.6 and c <= 0.2 -> at the best γ, faster than plain sampling.
    # The worst corner, α = 0.6 and c = 0.2, gives (1 + 0.6 + 0.36) / 1.4 = 1.4 at γ = 2, by hand.
    for alpha in np.linspace(0.6, 1.0, 9):
        for c in np.linspace(0.0, 0.2, 9):
            g = best_gamma(alpha, c)
            assert g >= 1 and modelled_speedup(alpha, g, c) >= 1.4 - 1e-12
    assert best_gamma(0.6, 0.2) == 2


def test_verified_sentence_colours_match_its_caption():
    # the chapter's text and the figure's caption say green / red / blue: the boxes must be those colours
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.colors import to_rgb

    from kdbook.plotting.speculative import plot_verified_sentence
    plot = plot_verified_sentence(["a", "b", "c"], ["accepted", "resampled", "bonus"])
    rgb = [to_rgb(t.get_bbox_patch().get_facecolor()) for t in plot.artists["words"]]
    green, red, blue = rgb
    assert green[1] > max(green[0], green[2]) and red[0] > max(red[1], red[2]) and blue[2] > max(blue[0], blue[1])
    assert "green" in plot.axes[0].get_title() and "red" in plot.axes[0].get_title()

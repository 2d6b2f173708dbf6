"""Sequence-level reverse KL on the enumerable tiny language: exact value, exact gradient, estimators."""
import numpy as np
import pytest

from kdbook import check_gradient
from kdbook.lm import ToyLanguage
from kdbook.lm import WindowLM
from kdbook.lm.policy import free_mask, policy_sequence_logprob, sample_sentences
from kdbook.lm.seqkl import (ESTIMATORS, flatten, reverse_kl_grad_estimate, sequence_reverse_kl,
                          sequence_reverse_kl_grad)


@pytest.fixture(scope="module")
def setup():
    lang = ToyLanguage("tiny", max_len=3)  # 1,111 sentences: exact sums stay fast
    support = lang.enumerate_sentences()
    student = WindowLM(lang, window=1, dim=3, hidden=4, seed=3)
    return lang, support, student


def test_policies_sum_to_one_over_the_support(setup):
    lang, support, student = setup
    for model in (student, lang):
        assert np.exp(policy_sequence_logprob(model, support)).sum() == pytest.approx(1.0, abs=1e-8)


def test_value_is_the_definition_written_as_a_loop(setup):
    lang, support, student = setup
    lq = policy_sequence_logprob(student, support)
    lp = lang.sentence_logprob(support)
    want = sum(np.exp(a) * (a - b) for a, b in zip(lq, lp))
    assert sequence_reverse_kl(student, lang, support) == pytest.approx(want, rel=1e-7)


def test_value_is_zero_for_the_teacher_itself(setup):
    lang, support, _ = setup
    # the language scored against itself (it is a policy too): KL = 0 up to its 1e-9 length cap
    assert abs(sequence_reverse_kl(_Frozen(lang), lang, support)) < 1e-7


class _Frozen:
    """The language dressed as a student (forward = logits; no parameters)."""

    def __init__(self, lang):
        self.lang, self.vocab = lang, lang.vocab

    def forward(self, X):
        return self.lang.logits(X)

    def logits(self, X):
        return self.lang.logits(X)


@pytest.mark.parametrize("group", ["output", "hidden", "embedding"])
def test_exact_gradient_matches_finite_differences(setup, group):
    lang, support, student = setup
    student = student.copy()
    arrays = student.groups[group]
    sizes = [a.size for a in arrays]
    order = [i for i, p in enumerate(student.params) if any(p is a for a in arrays)]

    def set_x(x):
        for a, chunk in zip(arrays, np.split(x, np.cumsum(sizes)[:-1])):
            a[...] = chunk.reshape(a.shape)

    def f(x):
        set_x(x)
        value = sequence_reverse_kl(student, lang, support)
        grads = sequence_reverse_kl_grad(student, lang, support)
        return value, np.concatenate([grads[i].ravel() for i in order])

    x0 = np.concatenate([a.ravel() for a in arrays]).copy()
    err = check_gradient(f, x0, eps=1e-5)
    set_x(x0)
    assert err < 1e-6


def test_a_wrong_gradient_is_caught(setup):
    """The check above can fail: the gradient without the score-function weights' centring is still
    right (Σ q ∇log q = 0), but dropping the log p term is not."""
    lang, support, student = setup
    student = student.copy()
    U = student.groups["output"][0]

    idx = [i for i, p in enumerate(student.params) if p is U][0]

    def f2(x):
        U[...] = x.reshape(U.shape)
        return sequence_reverse_kl(student, lang, support), sequence_reverse_kl_grad(
            student, _Uniform(lang), support)[idx].ravel()

    assert check_gradient(f2, U.ravel().copy(), eps=1e-5) > 1e-2


class _Uniform:
    def __init__(self, lang):
        self.vocab = lang.vocab

    def logits(self, X):
        X = np.asarray(X)
        return np.zeros((*X.shape, self.vocab.n_classes))


def _estimates(student, lang, method, n, reps, seed0=0):
    return np.array([flatten(reverse_kl_grad_estimate(student, lang, sample_sentences(student, n, seed=seed0 + r),
                                                      method=method)) for r in range(reps)])


@pytest.mark.parametrize("method", ["reinforce", "reinforce_baseline", "per_token_plus_future"])
def test_unbiased_estimators_average_to_the_exact_gradient(setup, method):
    lang, support, student = setup
    exact = flatten(sequence_reverse_kl_grad(student, lang, support))
    est = _estimates(student, lang, method, n=8, reps=400)
    mean, se = est.mean(axis=0), est.std(axis=0, ddof=1) / np.sqrt(len(est))
    live = se > 1e-9  # coordinates the samples can move (the rest are exactly 0 in both)
    np.testing.assert_allclose(mean[~live], exact[~live], atol=1e-9)
    z = (mean[live] - exact[live]) / se[live]
    # |z| > 4.5 for any of ~100 unbiased coordinates has probability < 1e-3 (Bonferroni)
    assert np.abs(z).max() < 4.5, f"worst z-score {np.abs(z).max():.2f}"


def test_per_token_estimator_is_biased_but_less_variable(setup):
    lang, support, student = setup
    exact = flatten(sequence_reverse_kl_grad(student, lang, support))
    tok = _estimates(student, lang, "per_token", n=8, reps=200)
    rf = _estimates(student, lang, "reinforce_baseline", n=8, reps=200)
    mean, se = tok.mean(axis=0), tok.std(axis=0, ddof=1) / np.sqrt(len(tok))
    live = se > 1e-9
    assert np.abs((mean[live] - exact[live]) / se[live]).max() > 10  # the bias is many standard errors
    assert tok.var(axis=0, ddof=1).sum() < 0.5 * rf.var(axis=0, ddof=1).sum()


def test_estimators_validate(setup):
    lang, support, student = setup
    one = sample_sentences(student, 1, seed=0)
    with pytest.raises(ValueError, match="at least 2"):
        reverse_kl_grad_estimate(student, lang, one, method="reinforce_baseline")
    with pytest.raises(ValueError, match="method"):
        reverse_kl_grad_estimate(student, lang, one, method="ppo")
    with pytest.raises(TypeError, match="LMBatch"):
        sequence_reverse_kl(student, lang, np.zeros((2, 3), dtype=int))
    assert set(ESTIMATORS) == {"reinforce", "reinforce_baseline", "per_token", "per_token_plus_future"}


def test_a_partial_support_is_refused(setup):
    lang, _, student = setup
    with pytest.raises(ValueError, match="every sentence"):
        sequence_reverse_kl(student, lang, lang.enumerate_sentences(2))


def test_samples_are_complete_sentences_and_free_mask_drops_forced_ends(setup):
    lang, _, student = setup
    b = sample_sentences(student, 300, seed=1)
    last = b.targets[np.arange(len(b)), b.mask.sum(axis=1) - 1]
    assert (last == lang.vocab.eos).all()
    free = free_mask(b, lang.max_len)
    full = b.mask.sum(axis=1) == lang.max_len + 1
    assert full.any()  # an untrained student often runs to the limit
    assert (free.sum(axis=1) == np.where(full, lang.max_len, b.mask.sum(axis=1))).all()

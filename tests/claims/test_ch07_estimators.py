"""Chapter 7, section 3: the ranking of the six reverse-KL gradient estimators, on 10 sample draws.

The notebook measures one draw (seed 5) for one student; these tests re-draw the samples with
seeds 100–109 and check every comparison its prose makes. The exact gradient is recomputed
here by enumerating the support with plain numpy weights (q(y) (R(y) − J)), not taken from the
notebook.
"""
import numpy as np
import pytest

from kdbook.lm import ToyLanguage, WindowLM
from kdbook.lm.onpolicy import distill_on_policy
from kdbook.lm.policy import policy_token_logprobs, sample_sentences
from kdbook.lm.seqkl import flatten, reverse_kl_grad_estimate, sequence_reverse_kl_grad
from kdbook.lm.tokenreward import token_reward_grad_estimate

pytestmark = [pytest.mark.claims, pytest.mark.slow]

METHODS = ["reinforce", "reinforce_baseline", "sampled_token", "per_token", "per_token_plus_future", "minillm"]
NS, REPS = (4, 16, 64), 60


@pytest.fixture(scope="module")
def stats():
    tiny = ToyLanguage("tiny")
    pol = WindowLM(tiny, window=1, dim=4, hidden=8, seed=0)
    distill_on_policy(pol, tiny, tiny.sample(400, seed=1), lam=0.0, steps=40, batch_size=16, lr=0.03, seed=0)
    g = flatten(sequence_reverse_kl_grad(pol, tiny, tiny.enumerate_sentences()))

    def estimate(m, s):
        if m in ("sampled_token", "minillm"):
            return flatten(token_reward_grad_estimate(pol, tiny, s, method=m))
        return flatten(reverse_kl_grad_estimate(pol, tiny, s, method=m))

    out = []  # per draw: method -> n -> (bias², variance)
    for seed in range(100, 110):
        pool = sample_sentences(pol, REPS * max(NS), seed=seed)
        row = {}
        for m in METHODS:
            row[m] = {}
            for n in NS:
                est = np.array([estimate(m, pool.select(np.arange(r * n, (r + 1) * n))) for r in range(REPS)])
                row[m][n] = (np.sum((est.mean(0) - g) ** 2) / np.sum(g**2), est.var(0, ddof=1).sum() / np.sum(g**2))
        out.append(row)
    R = policy_token_logprobs(pol, pool).sum(1) - policy_token_logprobs(tiny, pool).sum(1)
    return out, R


def _var(stats, m, n):
    return np.array([row[m][n][1] for row in stats[0]])


def test_per_token_variance_smallest_by_far(stats):
    for n in NS:
        ratio = _var(stats, "reinforce", n) / _var(stats, "per_token", n)
        assert (ratio > 20).all() and (ratio < 60).all(), (n, ratio)
        for m in METHODS:
            if m != "per_token":
                assert (_var(stats, m, n) > _var(stats, "per_token", n)).all()


def test_two_steps_of_variance_reduction(stats):
    for n in NS:
        step1 = _var(stats, "reinforce", n) / _var(stats, "sampled_token", n)
        step2 = _var(stats, "sampled_token", n) / _var(stats, "per_token", n)
        assert (step1 > 2).all() and (step1 < 5).all(), (n, step1)
        assert (step2 > 7).all() and (step2 < 20).all(), (n, step2)


def test_baseline_lowers_variance_here(stats):
    for n in NS:
        assert (_var(stats, "reinforce_baseline", n) < _var(stats, "reinforce", n)).all()
    R = stats[1]
    assert R.mean() > 0.5 * R.std()  # the mean of R is large next to its spread


def test_bias_and_error_at_64(stats):
    for row in stats[0]:
        assert row["per_token"][64][0] > 0.8 and row["sampled_token"][64][0] > 0.8
        for m in ("reinforce", "reinforce_baseline", "per_token_plus_future", "minillm"):
            assert row[m][64][0] < 0.15
        assert sum(row["per_token"][64]) > sum(row["per_token_plus_future"][64])  # per-token no longer the best


def test_sampled_future_noisier_than_exact_future(stats):
    for n in NS:
        assert (_var(stats, "minillm", n) > _var(stats, "per_token_plus_future", n)).all()

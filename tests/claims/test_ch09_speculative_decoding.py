"""Chapter 9's prose claims, re-checked on 10 seeds (teacher = the exact language; draft seeds 0-9).

Acceptance is recomputed here from the two models' logits with plain numpy (1 − ½Σ|p − q| and
argmax agreement), not with the notebook's printing code or ``kdbook.lm.draft.acceptance``.
"""
import numpy as np
import pytest

from kdbook.lm import ToyLanguage
from kdbook.lm import speculative as sp
from kdbook.lm.decoding import sample
from kdbook.lm.draft import DRAFT_OBJECTIVES, distill_draft
from kdbook.lm.frontier import supervised_student
from kdbook.lm.policy import free_mask

pytestmark = [pytest.mark.claims, pytest.mark.slow]
SEEDS = range(10)
NAMES = tuple(DRAFT_OBJECTIVES)


def _probs(z, T):
    z = np.asarray(z, float)
    if T == 0:
        return z.argmax(-1)
    z = z / T
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _acceptance(lang, draft, batch, T):
    m = free_mask(batch, lang.max_len)
    zp, zq = lang.logits(batch.inputs), draft.logits(batch.inputs)
    if T == 0:
        return float((_probs(zp, 0) == _probs(zq, 0))[m].mean())
    return float((1 - 0.5 * np.abs(_probs(zp, T) - _probs(zq, T)).sum(-1))[m].mean())


def _held_out(batch, *training):
    """The rows of ``batch`` whose sentence occurs in no training set (plain sets, not kdbook.lm.draft)."""
    seen = {tuple(r[m]) for t in training for r, m in zip(t.targets, t.mask)}
    return batch.select(np.flatnonzero([tuple(r[m]) not in seen for r, m in zip(batch.targets, batch.mask)]))


@pytest.fixture(scope="module")
def table():
    """name → (10, 4): acceptance at T = 1, greedy, T = 0.5 on held-out sets, and at T = 1 on all samples."""
    lang = ToyLanguage()
    pool = {1.0: lang.sample(1500, seed=777),
            0.5: sample(lang, lang.vocab.start(1500), T=0.5, seed=778).batch}
    out = {}
    for seed in SEEDS:
        start = supervised_student(lang, seed)
        data = lang.sample(4000, seed=2000 + seed)
        # disjoint from the starting student's training data (seed 1000 + seed) and the fine-tuning data
        ev = {T: _held_out(b, lang.sample(4000, seed=1000 + seed), data) for T, b in pool.items()}
        drafts = {"chapter 6 student": start}
        drafts.update({n: distill_draft(start, lang, data, DRAFT_OBJECTIVES[n], seed=seed + 50) for n in NAMES})
        for n, d in drafts.items():
            out.setdefault(n, []).append([_acceptance(lang, d, ev[1.0], 1.0), _acceptance(lang, d, ev[1.0], 0.0),
                                          _acceptance(lang, d, ev[0.5], 0.5), _acceptance(lang, d, pool[1.0], 1.0)])
    return {k: np.array(v) for k, v in out.items()}


def test_tv_beats_forward_kl_at_t1_and_t05_on_every_seed(table):
    d = table["tv off"] - table["forward off"]
    assert (d[:, 0] > 0).all() and (d[:, 2] > 0).all(), d
    assert 0.02 < d[:, 0].mean() < 0.04 and d[:, 0].std(ddof=1) < 0.005  # "+0.03 (paired SD 0.002)"
    for mode in (0, 2):  # "TV (off or on) is the best row at T = 1 and at T = 0.5 on 10 of 10 seeds"
        tv = np.maximum(table["tv off"][:, mode], table["tv on"][:, mode])
        others = np.max([s[:, mode] for k, s in table.items() if not k.startswith("tv")], axis=0)
        assert (tv > others).all(), mode


def test_tv_leads_greedy_only_on_average(table):
    # "under greedy decoding TV has the highest mean too, but its lead over forward KL is inside the spread"
    means = {k: s[:, 1].mean() for k, s in table.items()}
    assert max(means, key=means.get).startswith("tv")
    d = table["tv off"][:, 1] - table["forward off"][:, 1]
    assert 0 < d.mean() < 2 * d.std(ddof=1)


def test_jsd_is_second_at_t1(table):
    d = table["jsd off"] - table["forward off"]
    assert (d[:, 0] > 0).all() and 0.01 < d[:, 0].mean() < 0.03
    assert (table["tv off"][:, 0] > table["jsd off"][:, 0]).all()
    # chapter 8's summary table: "JSD(0.5) second for sampling (T = 1 and T = 0.5)": the best objective after TV
    for mode in (0, 2):
        others = np.max([s[:, mode] for k, s in table.items() if not k.startswith(("tv", "jsd"))], axis=0)
        assert (table["jsd off"][:, mode] > others).all() and (table["tv off"][:, mode] > table["jsd off"][:, mode]).all()


def test_reverse_kl_is_the_worst_under_greedy_and_t05_not_at_t1(table):
    # "under greedy decoding and at T = 0.5, reverse KL (off or on) is below every other fine-tuned draft on
    # 10 of 10 seeds; at T = 0.5 also below the untuned starting student"
    for mode, skip in ((1, ("reverse", "chapter 6")), (2, ("reverse",))):
        rev = np.maximum(table["reverse off"][:, mode], table["reverse on"][:, mode])
        others = np.min([s[:, mode] for k, s in table.items() if not k.startswith(skip)], axis=0)
        assert (rev < others).all(), mode
    # "at T = 1 it is tied with forward KL on-policy, both 0.01-0.02 below forward KL on target samples"
    for k in ("reverse off", "forward on"):
        gap = table["forward off"][:, 0] - table[k][:, 0]
        assert (gap > 0).all() and 0.01 < gap.mean() < 0.02, k
    d = table["reverse off"][:, 0] - table["forward on"][:, 0]
    assert abs(d.mean()) < 2 * d.std(ddof=1)  # no clear difference
    gap = table["forward off"][:, 1] - table["reverse off"][:, 1]
    assert gap.mean() > table["forward off"][:, 0].mean() - table["reverse off"][:, 0].mean()  # "by more under greedy"
    assert 0.05 < gap.mean() < 0.09  # "about 0.07"


def test_greedy_spread_is_several_times_larger(table):
    d = table["tv off"] - table["forward off"]
    assert 5 * d[:, 0].std(ddof=1) < d[:, 1].std(ddof=1) < 20 * d[:, 0].std(ddof=1)  # "about ten times larger"


def test_on_policy_does_not_help_here(table):
    assert (table["forward on"][:, 0] < table["forward off"][:, 0]).all()  # "at T = 1, on 10 of 10 seeds"
    d = table["tv on"][:, 0] - table["tv off"][:, 0]
    assert abs(d.mean()) < 2 * d.std(ddof=1) + 0.002  # no clear difference


def test_chapter6_student_is_a_decent_draft_and_tv_raises_it(table):
    a = table["chapter 6 student"][:, 0]
    assert (0.825 < a).all() and (a < 0.840).all()  # "about 0.83 at T = 1: 0.825 to 0.840 on 10 of 10 seeds"
    gain = table["tv off"][:, 0] - a
    assert (gain > 0.02).all() and 0.025 < gain.mean() < 0.045  # "by about 0.03 (10 of 10)"


def test_the_held_out_filter_moves_reverse_kl_against_the_starting_student(table):
    # section 3: "below it held out on 10 of 10 seeds (by about 0.01), but by only about 0.004 on all
    # samples, where it is above it on some seeds"; section 5: on seed 0's traffic the order is real
    held = table["reverse off"][:, 0] - table["chapter 6 student"][:, 0]
    assert (held < 0).all() and -0.014 < held.mean() < -0.006
    every = table["reverse off"][:, 3] - table["chapter 6 student"][:, 3]
    assert -0.007 < every.mean() < -0.001 and (every > 0).any()
    assert every[0] > 0


def test_held_out_acceptance_is_below_acceptance_on_all_samples(table):
    # "the held-out α is about 0.02 below the α on all of the target's samples, for every draft (10 of 10)"
    for k, s in table.items():
        d = s[:, 3] - s[:, 0]
        assert (d > 0).all() and 0.012 < d.mean() < 0.03, k


def test_speculative_run_acceptance_matches_exact_and_tokens_per_call_below_iid():
    lang = ToyLanguage()
    for seed in (0, 1, 2, 3, 4, 5, 6, 7, 8, 9):
        draft = supervised_student(lang, seed)
        run = sp.speculative_sample(lang, draft, lang.vocab.start(1000), gamma=4, seed=seed)
        alpha = run.accepted.sum() / run.drafted.sum()
        # measured tokens per call are below the i.i.d. formula on every seed (sentence ends cut rounds)
        assert run.tokens_per_call < sp.expected_tokens_per_call(alpha, 4) - 0.4
        # "a sentence's last round emits about one token fewer than the other rounds, and those are below
        # the i.i.d. formula too": a round ends at a token that is not an accepted draft (or at </s>)
        n_tok = run.batch.mask.sum(axis=1)
        starts_last = np.array([max([i + 1 for i in range(n - 1) if not acc[i]], default=0)
                                for acc, n in zip(run.accepted, n_tok)])
        final = n_tok - starts_last
        others = (n_tok.sum() - final.sum()) / (run.target_calls.sum() - len(n_tok))
        assert final.mean() < others - 0.7 and others < sp.expected_tokens_per_call(alpha, 4) - 0.1, seed
        # "the sentence ends explain the gap": rounds with a constant α on these sentence lengths give
        # (within 0.1) the measured tokens per call; position-dependent acceptance raises the other rounds
        rng = np.random.default_rng(seed)
        sim = []
        for left in np.repeat(n_tok, 3):
            while left > 0:
                k = 0
                while k < 4 and rng.random() < alpha:
                    k += 1
                emit = min(k + 1, left)
                left -= emit
                sim.append((emit, left == 0))
        emit, last = np.array(sim).T
        assert abs(emit.mean() - run.tokens_per_call) < 0.1, seed
        assert emit[last == 0].mean() < others, seed

"""kdbook.lm.draft (TV loss, draft fine-tuning, acceptance) and the chapter-9 explorer state."""
import time

import numpy as np
import pytest

import kdbook
from kdbook.lm import ToyLanguage, WindowLM
from kdbook.lm.draft import DraftObjective, acceptance, distill_draft, held_out, seen_share, tv_loss_and_grad
from kdbook.lm.spec_explorer import speculative_state, speculative_sweep


def test_tv_loss_is_half_l1_and_its_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    z, t = rng.normal(size=(2, 3, 6)), rng.normal(size=(2, 3, 6))
    mask = np.array([[True, True, False], [True, False, False]])
    p = np.exp(t) / np.exp(t).sum(-1, keepdims=True)
    q = np.exp(z) / np.exp(z).sum(-1, keepdims=True)
    want = (0.5 * np.abs(p - q).sum(-1))[mask].mean()
    loss, grad = tv_loss_and_grad(z, t, mask=mask)
    assert loss == pytest.approx(want, abs=1e-12)
    assert (grad[~mask] == 0).all()
    err = kdbook.check_gradient(lambda x: (tv_loss_and_grad(x.reshape(z.shape), t, mask=mask)[0],
                                           tv_loss_and_grad(x.reshape(z.shape), t, mask=mask)[1].ravel()), z.ravel())
    assert err < 1e-6


def test_acceptance_is_one_minus_tv_and_greedy_is_argmax_agreement():
    lang = ToyLanguage()
    draft = WindowLM(lang, seed=0)
    batch = lang.sample(50, seed=0)
    lp, lq = lang.logits(batch.inputs), draft.logits(batch.inputs)
    p = np.exp(lp)
    q = np.exp(lq - lq.max(-1, keepdims=True))
    q /= q.sum(-1, keepdims=True)
    from kdbook.lm.policy import free_mask
    m = free_mask(batch, lang.max_len)
    assert acceptance(lang, draft, batch) == pytest.approx((1 - 0.5 * np.abs(p - q).sum(-1))[m].mean())
    assert acceptance(lang, draft, batch, T=0) == pytest.approx((lp.argmax(-1) == lq.argmax(-1))[m].mean())


def test_tv_fine_tuning_raises_acceptance_and_leaves_the_start_untouched():
    lang = ToyLanguage()
    start = WindowLM(lang, seed=0)
    before = [p.copy() for p in start.params]
    data = lang.sample(500, seed=1)
    ev = held_out(lang.sample(300, seed=2), data)[0]
    tuned = distill_draft(start, lang, data, DraftObjective("tv"), steps=30, lr=0.02, seed=0)
    assert all((a == b).all() for a, b in zip(before, start.params))
    assert acceptance(lang, tuned, ev) > acceptance(lang, start, ev) + 0.05


def test_held_out_removes_every_training_sentence():
    lang = ToyLanguage()
    data = lang.sample(2000, seed=0)
    ev, removed = held_out(lang.sample(500, seed=1), data)
    seen = set(lang.decode_batch(data))
    assert removed > 0 and not any(s in seen for s in lang.decode_batch(ev))
    assert len(ev) == round(500 * (1 - removed))


def test_held_out_against_several_training_sets_and_seen_share():
    lang = ToyLanguage()
    first, second, batch = lang.sample(1500, seed=3), lang.sample(1500, seed=4), lang.sample(400, seed=5)
    texts = lang.decode_batch(batch)
    in_first, in_second = set(lang.decode_batch(first)), set(lang.decode_batch(second))
    assert seen_share(batch, first) == pytest.approx(np.mean([t in in_first for t in texts]))
    ev, removed = held_out(batch, first, second)
    kept = [t for t in texts if t not in in_first and t not in in_second]
    assert lang.decode_batch(ev) == kept and removed == pytest.approx(1 - len(kept) / len(texts))
    assert seen_share(ev, first) == 0 and seen_share(ev, second) == 0
    assert len(kept) < len(lang.decode_batch(held_out(batch, first)[0]))  # the second set removes more
    with pytest.raises(TypeError, match=r"more\[0\]"):
        held_out(batch, first, "not a batch")


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="lam"):
        DraftObjective("tv", lam=1.5)
    with pytest.raises(ValueError, match="divergence"):
        DraftObjective("l2")
    with pytest.raises(ValueError, match="one shape"):
        tv_loss_and_grad(np.zeros((2, 3)), np.zeros((2, 4)))
    lang = ToyLanguage()
    with pytest.raises(TypeError, match="objective"):
        distill_draft(WindowLM(lang, seed=0), lang, lang.sample(5), "tv")


def test_explorer_state_is_fast_and_validates():
    lang = ToyLanguage()
    sweep = speculative_sweep(lang, {"a": WindowLM(lang, seed=0)}, gammas=(1, 3), n=30)
    t = time.perf_counter()
    st = speculative_state(sweep, "a", 3, 0.2)
    assert time.perf_counter() - t < 0.05
    assert st.best_gamma == int(np.argmax(st.modelled)) and len(st.words) == len(st.kinds)
    with pytest.raises(ValueError, match="gamma"):
        speculative_state(sweep, "a", 2, 0.2)
    with pytest.raises(ValueError, match="name"):
        speculative_state(sweep, "b", 3, 0.2)


def test_round_acceptance_se_is_the_exact_conditional_one():
    # given the prefixes, each verified draft is accepted with its own α_i = Σ min(p, q): the SE of the
    # accepted share is √(Σ α_i(1 − α_i))/n, recomputed here from the logits with plain numpy
    from kdbook.lm.draft import round_acceptance
    from kdbook.lm.speculative import speculative_sample
    lang = ToyLanguage("tiny")
    draft = WindowLM(lang, window=1, seed=0)
    run = speculative_sample(lang, draft, lang.vocab.start(300), gamma=2, seed=1)
    out = round_acceptance(lang, draft, run, n_positions=3)

    def soft(z):
        e = np.exp(z - z.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    alpha = np.minimum(soft(lang.logits(run.batch.inputs)), soft(draft.logits(run.batch.inputs))).sum(-1)
    first = np.argmax(run.batch.mask, axis=1)
    for t in range(3):
        rows = np.flatnonzero(run.drafted[:, t])
        a = alpha[rows, first[rows] + t]
        assert out["exact"][t] == pytest.approx(a.mean())
        assert out["se"][t] == pytest.approx(np.sqrt((a * (1 - a)).sum()) / rows.size)
        assert out["measured"][t] == pytest.approx(run.accepted[rows, t].mean())

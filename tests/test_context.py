"""kdbook.lm.context and kdbook.lm.context_mix (chapter 8): prompts rewritten, masks honoured, the loss
against an independent implementation, the soft-prompt gradient by finite differences, and the
explorer's state, figure and widget."""
from __future__ import annotations

import numpy as np
import pytest

import kdbook
from kdbook.lm import context as cd
from kdbook.lm import context_mix as cm
from kdbook.lm import ToyLanguage
from kdbook.lm import WindowLM

LANG = ToyLanguage()
C = ("brief", "polite")


def _tokens(row):
    return LANG.vocab.decode(row, keep_special=True).split()


# --------------------------------------------------------------------------- rows and prompts


def test_set_prompt_rewrites_only_the_prompt_columns():
    rows = cd.prefix_rows(LANG, ["the dog sleeps", "a cat"], context=C)
    assert _tokens(rows[0]) == ["<pad>", "<brief>", "<polite>", "<s>", "the", "dog", "sleeps"]
    short = cd.set_prompt(rows, LANG, "polite")
    assert _tokens(short[1]) == ["<pad>", "<pad>", "<polite>", "<s>", "a", "cat", "<pad>"]
    none = cd.set_prompt(rows, LANG, None)
    assert _tokens(none[0])[:4] == ["<pad>"] * 3 + ["<s>"]
    np.testing.assert_array_equal(none[:, 3:], rows[:, 3:])  # the words never move
    assert (LANG.vocab.contexts_of(none) == 0).all() and (LANG.vocab.contexts_of(short) == 4).all()


def test_set_prompt_and_prefix_rows_reject_bad_input():
    too_narrow = LANG.vocab.start(1)  # no room before <s>
    with pytest.raises(ValueError, match="too few for the 2-token prompt"):
        cd.set_prompt(too_narrow, LANG, C)
    with pytest.raises(ValueError, match="unknown instruction"):
        cd.set_prompt(cd.prefix_rows(LANG, ["the"]), LANG, "rude")
    with pytest.raises(TypeError, match="prefixes must be a non-empty list"):
        cd.prefix_rows(LANG, "the dog")
    with pytest.raises(ValueError, match="must not contain </s>"):
        cd.prefix_rows(LANG, ["the dog </s>"])


def test_sample_queries_are_seeded_unprompted_openings():
    q = cd.sample_queries(LANG, 50, words=2, seed=3)
    assert q.shape == (50, cd.PROMPT_SLOTS + 3)
    np.testing.assert_array_equal(q, cd.sample_queries(LANG, 50, words=2, seed=3))
    assert not np.array_equal(q, cd.sample_queries(LANG, 50, words=2, seed=4))
    assert (q[:, cd.PROMPT_SLOTS] == LANG.vocab.bos).all()
    words = q[:, cd.PROMPT_SLOTS + 1:]
    assert ((words > 0) & (words < LANG.n_classes)).all()  # words only: no </s>, no prompt
    assert (LANG.vocab.contexts_of(q) == 0).all()
    with pytest.raises(ValueError, match="words must be below"):
        cd.sample_queries(LANG, 5, words=12)


def test_response_mask_excludes_query_prompt_and_padding():
    batch = LANG.batch(["the dog sleeps gently", "a cat eats"], context="polite")
    rows = np.concatenate([np.full((2, 2), LANG.vocab.pad), batch.inputs], axis=1)
    batch = type(batch)(rows, np.pad(batch.targets, ((0, 0), (2, 0))), np.pad(batch.mask, ((0, 0), (2, 0))))
    m = cd.response_mask(batch, LANG, 2)
    predicted = [[LANG.words[t] for t in batch.targets[b][m[b]]] for b in range(2)]
    assert predicted == [["sleeps", "gently", "</s>"], ["eats", "</s>"]]
    assert cd.response_mask(batch, LANG, 0).sum() == batch.mask.sum()


# --------------------------------------------------------------------------- distillation data and loss


def test_distillation_data_lines_up_teacher_and_student():
    q = cd.sample_queries(LANG, 20, words=2, seed=0)
    resp = cd.respond(LANG, q, context=C, seed=1)
    data = cd.distillation_data(LANG, resp, teacher_context=C, student_context=None, n_query_words=2)
    assert (LANG.vocab.contexts_of(data.inputs) == 0).all()
    np.testing.assert_array_equal(data.inputs[:, 3:], resp.inputs[:, 3:])
    # the teacher's targets are the prompted language, position by position
    np.testing.assert_allclose(data.teacher_logits, LANG.logits(resp.inputs))
    assert not (data.mask & ~resp.mask).any() and data.mask.sum() < resp.mask.sum()
    seq = cd.distillation_data(LANG, resp, teacher_context=C, n_query_words=2, sequence_level=True)
    np.testing.assert_array_equal(seq.labels[seq.mask], resp.targets[seq.mask])
    assert seq.teacher_logits is None and (seq.labels[~seq.mask] == 0).all()


def test_concat_data_pads_and_refuses_mixed_kinds():
    q = cd.sample_queries(LANG, 6, words=2, seed=0)
    a = cd.distillation_data(LANG, cd.respond(LANG, q[:3], context=C, seed=1), teacher_context=C, n_query_words=2)
    b = cd.distillation_data(LANG, cd.respond(LANG, q[3:], context=None, seed=2), teacher_context=None, n_query_words=2)
    both = cd.concat_data([a, b], vocab=LANG)
    L = max(a.inputs.shape[1], b.inputs.shape[1])
    assert both.inputs.shape == (6, L) and both.teacher_logits.shape == (6, L, LANG.n_classes)
    assert both.mask.sum() == a.mask.sum() + b.mask.sum()
    LANG.vocab.check_inputs(both.inputs)
    seq = cd.distillation_data(LANG, cd.respond(LANG, q[:3], context=C, greedy=True), teacher_context=C,
                               n_query_words=2, sequence_level=True)
    with pytest.raises(ValueError, match="all token level"):
        cd.concat_data([a, seq], vocab=LANG)
    with pytest.raises(TypeError, match="non-empty list of CDData"):
        cd.concat_data([], vocab=LANG)


def _cd_loss_by_hand(z, v, mask, T):
    """An independent loop: T²·Σ p log(p/q) per unmasked position, averaged over them."""
    total, n = 0.0, 0
    for b, t in zip(*np.nonzero(mask)):
        p = np.exp(v[b, t] / T - np.max(v[b, t] / T))
        p /= p.sum()
        q = np.exp(z[b, t] / T - np.max(z[b, t] / T))
        q /= q.sum()
        total += T * T * float(np.sum(p * np.log(p / q)))
        n += 1
    return total / n


@pytest.mark.parametrize("T", [0.5, 1.0, 3.0])
def test_context_distillation_loss_matches_a_loop_and_ignores_masked_positions(T):
    rng = np.random.default_rng(int(T * 10))
    z, v = rng.normal(size=(4, 6, 7)), rng.normal(size=(4, 6, 7))
    mask = rng.random((4, 6)) < 0.6
    mask[0, 0] = True
    want = _cd_loss_by_hand(z, v, mask, T)
    z[~mask], v[~mask] = np.nan, np.inf
    assert cd.context_distillation_loss(z, v, mask, T=T) == pytest.approx(want, rel=1e-10)


def test_context_distillation_loss_is_zero_only_for_the_teacher_and_rejects_an_empty_mask():
    v = np.random.default_rng(0).normal(size=(2, 3, 5))
    assert cd.context_distillation_loss(v, v, np.ones((2, 3), bool)) == pytest.approx(0.0, abs=1e-12)
    assert cd.context_distillation_loss(v[:, ::-1], v, np.ones((2, 3), bool)) > 0
    with pytest.raises(ValueError, match="mask masks every position"):
        cd.context_distillation_loss(v, v, np.zeros((2, 3), bool))


def test_soft_prompt_gradient_matches_finite_differences_and_honours_the_mask():
    model = WindowLM(LANG, window=2, dim=3, hidden=5, context=True, soft_prompt=True, seed=1)
    rng = np.random.default_rng(0)
    for p in model.params:
        p += rng.normal(scale=0.3, size=p.shape)
    model.set_trainable("soft_prompt")
    assert model.n_params == 5
    q = cd.sample_queries(LANG, 6, words=2, seed=2)
    data = cd.distillation_data(LANG, cd.respond(LANG, q, context=C, seed=3), teacher_context=C, n_query_words=2)
    sigma = model.params[0]

    def loss_and_grad(x, teacher):
        old = sigma.copy()
        sigma[...] = x
        z = model.forward(data.inputs)
        loss, g = kdbook.kd_loss_and_grad(z, teacher, T=2.0, mask=data.mask, reduction="tokenmean")
        grad = model.backward(g)[0]
        sigma[...] = old
        return float(loss), grad

    x0 = rng.normal(scale=0.5, size=5)
    err = kdbook.check_gradient(lambda x: loss_and_grad(x, data.teacher_logits), x0)
    assert err < 1e-6
    # the same gradient when everything outside the mask is garbage
    garbage = np.where(data.mask[..., None], data.teacher_logits, np.nan)
    np.testing.assert_allclose(loss_and_grad(x0, garbage)[1], loss_and_grad(x0, data.teacher_logits)[1], rtol=1e-12)
    # and the grader's reference for exercise 8.3 is the same gradient, written from scratch
    from kdbook.grading.ch08 import soft_prompt_reference

    pre = rng.normal(size=(3, 4, 5))
    U = rng.normal(size=(5, 6))
    v = rng.normal(size=(3, 4, 6))
    m = rng.random((3, 4)) < 0.7
    m[0, 0] = True

    def f(s):
        z = np.tanh(pre + s) @ U
        return float(kdbook.kd_loss(z, v, T=1.5, mask=m, reduction="tokenmean"))

    assert kdbook.check_gradient(f, np.zeros(5), grad=lambda s: soft_prompt_reference(pre + s, U, v, m, 1.5)) < 1e-6


# --------------------------------------------------------------------------- behaviour, costs, neutral positions


def test_behaviour_rates_and_tokens_per_query_count_by_hand():
    batch = LANG.batch(["the dog sleeps gently", "a cat eats the big pear slowly", "two dogs sleep"], context=C)
    rates = cd.behaviour_rates(LANG, batch, short=4)
    assert rates["polite"] == pytest.approx(1 / 3)
    assert rates["brief"] == pytest.approx(2 / 3)
    assert rates["words"] == pytest.approx((4 + 7 + 3) / 3)
    assert rates["animals"] == pytest.approx(3 / 4)  # dog, cat, dogs of dog, cat, pear, dogs
    assert cd.behaviour_rates(LANG, batch, n_query_words=2)["animals"] == pytest.approx(0.0)  # only "pear" left
    np.testing.assert_array_equal(cd.tokens_per_query(batch, LANG), [2 + 1 + 4, 2 + 1 + 7, 2 + 1 + 3])


def test_neutral_mask_finds_the_verb_choice():
    batch = LANG.batch(["the dog sleeps gently"])
    rows = np.concatenate([np.full((1, 3), LANG.vocab.pad), batch.inputs], axis=1)
    batch = type(batch)(rows, np.pad(batch.targets, ((0, 0), (3, 0))), np.pad(batch.mask, ((0, 0), (3, 0))))
    neutral = cd.neutral_mask(LANG, batch, C)
    predicted = [LANG.words[t] for t in batch.targets[0][neutral[0]]]
    assert "sleeps" in predicted and "gently" not in predicted and "</s>" not in predicted


# --------------------------------------------------------------------------- the model and the mix


@pytest.fixture(scope="module")
def model():
    return cd.train_original(LANG, n_sentences=800, epochs=2, hidden=16, seed=0)


def test_the_original_model_follows_the_prompt(model):
    batch = LANG.sample(400, context=C, seed=9)
    with_c = kdbook.kd_loss(model.logits(batch.inputs), LANG.logits(batch.inputs), mask=batch.mask, reduction="tokenmean")
    without = kdbook.kd_loss(model.logits(cd.set_prompt(batch.inputs, LANG, None)), LANG.logits(batch.inputs),
                             mask=batch.mask, reduction="tokenmean")
    assert with_c < without
    assert model.groups["soft_prompt"][0].tolist() == [0.0] * 16  # σ stayed frozen at 0
    assert model.trainable == ("embedding", "hidden", "output", "context", "soft_prompt")


def test_mix_data_reads_distil_rows_with_the_short_prompt_and_keep_rows_without(model):
    q = cd.sample_queries(LANG, 10, words=2, seed=0)
    distil = np.arange(10) >= 4
    data = cm.mix_data(model, q, distil, context=C, short_context="polite", n_query_words=2, seed=1)
    ctx = LANG.vocab.contexts_of(data.inputs)
    assert sorted(ctx.tolist()) == [0] * 4 + [4] * 6
    keep = ctx == 0
    np.testing.assert_allclose(data.teacher_logits[keep][data.mask[keep]],
                               model.logits(data.inputs[keep])[data.mask[keep]])
    with pytest.raises(ValueError, match="distil must be a boolean array"):
        cm.mix_data(model, q, distil.astype(int), context=C, short_context="polite", n_query_words=2)


def test_mix_quality_is_zero_for_the_model_itself_on_the_unprompted_side(model):
    q = cd.sample_queries(LANG, 30, words=2, seed=0)
    res = cm.mix_quality(model, model, q, context=C, short_context="polite", n_query_words=2)
    assert res["kl_unprompted"] == pytest.approx(0.0, abs=1e-12) and res["kl_to_teacher"] > 0


@pytest.fixture(scope="module")
def sweep(model):
    return cm.mix_sweep(model, LANG, mixes=(0.0, 0.5), epochs=2, n_rows=60, n_samples=2, seed=0)


def test_mix_sweep_and_state_are_consistent(sweep, model):
    assert sweep.prompted.shape == (2, 3, LANG.n_classes)
    np.testing.assert_allclose(sweep.prompted.sum(axis=-1), 1.0)
    np.testing.assert_allclose(sweep.unprompted[:, 0], np.broadcast_to(sweep.original, (2, LANG.n_classes)))
    assert (sweep.kl_unprompted[:, 0] == 0).all()
    state = cm.mix_state(sweep, 0.5, 2, top=5)
    assert state.labels == tuple(LANG.words[i] for i in state.shown) and len(state.shown) == 5
    want = float(kdbook.kl_divergence(sweep.teacher, sweep.prompted[1, 2]))
    assert state.kl_here_prompted == pytest.approx(want, rel=1e-9)
    assert state.samples == sweep.samples[1][2] and len(state.samples) == 2
    with pytest.raises(ValueError, match="mix must be one of"):
        cm.mix_state(sweep, 0.3, 1)
    with pytest.raises(ValueError, match="epoch must be in"):
        cm.mix_state(sweep, 0.5, 3)
    with pytest.raises(TypeError, match="sweep must be a MixSweep"):
        cm.mix_state({}, 0.5, 1)


def test_mix_figure_and_explorer(sweep):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from kdbook.plotting.context import plot_mix_state
    from kdbook.widgets.context import context_mix_explorer

    state = cm.mix_state(sweep, 0.0, 2)
    out = plot_mix_state(state)
    heights = [b.get_height() for b in out.artists["prompted"]["student, short c′"]]
    np.testing.assert_allclose(heights, state.student_prompted[state.shown])
    np.testing.assert_allclose(out.artists["curves"]["KL unprompted"].get_ydata(), state.kl_unprompted)
    assert out.artists["marker"].get_xdata()[0] == 2
    plt.close(out.fig)
    with pytest.raises(TypeError, match="state must be a MixState"):
        plot_mix_state(sweep)
    box = context_mix_explorer(sweep, mix=0.5, epoch=1)
    mix_slider, epoch_slider = box.children[0].children
    assert mix_slider.value == 0.5 and epoch_slider.max == 2
    epoch_slider.value = 2  # a redraw from the precomputed sweep must not raise
    with pytest.raises(ValueError, match="mix must be one of"):
        context_mix_explorer(sweep, mix=0.7)


def test_bad_input_gets_a_clear_error_naming_the_argument():
    q = cd.sample_queries(LANG, 4, words=2, seed=0)
    with pytest.raises(TypeError, match="lang must be a kdbook.lm.ToyLanguage"):
        cd.sample_queries("language", 4)
    with pytest.raises(TypeError, match="model must be a language model"):
        cd.respond(object(), q)
    with pytest.raises(TypeError, match="vocab must be a language model"):
        cd.set_prompt(q, "vocab", None)
    with pytest.raises(TypeError, match="responses must be a kdbook.lm.LMBatch"):
        cd.distillation_data(LANG, q, teacher_context=C, n_query_words=2)
    with pytest.raises(ValueError, match="n_query_words"):
        cd.response_mask(LANG.batch(["the dog"]), LANG, -1)
    with pytest.raises(ValueError, match="mask must"):
        cd.context_distillation_loss(np.zeros((2, 3, 4)), np.zeros((2, 3, 4)), np.ones((3, 2), bool))
    with pytest.raises(ValueError, match="T must be"):
        cd.context_distillation_loss(np.zeros((2, 3, 4)), np.zeros((2, 3, 4)), np.ones((2, 3), bool), T=0)
    with pytest.raises(ValueError, match="rows row 0 must contain exactly one <s>"):
        cd.set_prompt(np.full((1, 4), LANG.vocab.pad), LANG, None)
    with pytest.raises(ValueError, match="mixes"):
        cm.mix_sweep(None, LANG, mixes=(1.5,))
    with pytest.raises(ValueError, match="no response positions"):
        cd.distillation_data(LANG, LANG.batch(["the dog"]), teacher_context=C, n_query_words=5)

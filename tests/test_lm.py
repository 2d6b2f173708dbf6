"""kdbook.lm and kdbook.lm.decoding: the window student's backward pass, freezing, and every decoder
on the exact language and on a student."""
from __future__ import annotations

import numpy as np
import pytest

import kdbook
from kdbook.lm import decoding as dec
from kdbook.lm import ToyLanguage
from kdbook.lm import WindowLM
from kdbook.protocol import Model

LANG = ToyLanguage()


def _masked_kl_loss(model, batch, teacher, T=2.0):
    """Σ over unmasked positions of T²·KL(p_T‖q_T), divided by the batch size, and its gradient."""
    z = model.forward(batch.inputs)
    per, g = kdbook.kd_loss_and_grad(z, teacher, T=T, reduction="none")
    m = batch.mask.astype(float)
    return float((per * m).sum() / len(batch)), g * m[..., None] / len(batch)


@pytest.mark.parametrize("kw", [dict(window=1), dict(window=3, context=True), dict(window=2, context=True, soft_prompt=True)],
                         ids=["bigram", "context", "soft_prompt"])
def test_every_parameter_gradient_matches_finite_differences(kw):
    model = WindowLM(LANG, dim=3, hidden=4, seed=2, **kw)
    rng = np.random.default_rng(0)
    for p in model.params:  # move C, σ and biases off 0 so every path is exercised
        p += rng.normal(scale=0.3, size=p.shape)
    batch = LANG.sample(5, context=["brief", None, ("animals", "polite"), "polite", None], seed=1)
    teacher = LANG.logits(batch.inputs)
    for i, p in enumerate(model.params):
        def f(x, i=i):
            old = model.params[i].copy()
            model.params[i][...] = x
            loss, g = _masked_kl_loss(model, batch, teacher)
            grad = model.backward(g)[i]
            model.params[i][...] = old
            return loss, grad
        assert kdbook.check_gradient(f, p.copy()) < 1e-6, i


def test_a_wrong_backward_is_caught():
    model = WindowLM(LANG, dim=3, hidden=4, seed=2)
    batch = LANG.sample(3, seed=1)
    teacher = LANG.logits(batch.inputs)

    def f(x):
        model.params[2][...] = x
        loss, g = _masked_kl_loss(model, batch, teacher)
        return loss, 2.0 * model.backward(g)[2]
    assert kdbook.check_gradient(f, model.params[2].copy()) > 0.1


def test_freezing_leaves_only_the_soft_prompt_trainable():
    model = WindowLM(LANG, dim=4, hidden=5, context=True, soft_prompt=True, seed=0)
    assert isinstance(model, Model) and model.trainable == ("embedding", "hidden", "output", "context", "soft_prompt")
    model.set_trainable("soft_prompt")
    assert len(model.params) == 1 and model.params[0] is model.groups["soft_prompt"][0] and model.n_params == 5
    batch = LANG.sample(4, seed=0)
    model.forward(batch.inputs)
    grads = model.backward(np.ones(batch.inputs.shape + (LANG.n_classes,)))
    assert len(grads) == 1 and grads[0].shape == (5,)
    with pytest.raises(ValueError, match="groups must name parameter groups of this model"):
        model.set_trainable("attention")
    assert model.set_trainable().trainable == model.trainable and len(model.params) == 7


def test_context_channel_sees_the_prompt_and_the_window_does_not_see_further_back():
    model = WindowLM(LANG, window=2, dim=4, hidden=6, context=True, seed=0)
    model.groups["context"][0][...] = np.random.default_rng(1).normal(size=model.groups["context"][0].shape)
    plain, brief = LANG.batch(["the dog chases a cat and sleeps"]), LANG.batch(["the dog chases a cat and sleeps"], context="brief")
    assert not np.allclose(model.logits(plain.inputs)[0, -1], model.logits(brief.inputs)[0, -1])
    a = LANG.batch(["two dogs chase a cat and sleep"])
    b = LANG.batch(["a robot sees a cat and sleep"])
    za, zb = WindowLM(LANG, window=2, seed=0).logits(a.inputs), WindowLM(LANG, window=2, seed=0).logits(b.inputs)
    np.testing.assert_allclose(za[0, -2:], zb[0, -2:])  # same last two tokens, same prediction


def test_student_errors_name_the_argument():
    with pytest.raises(TypeError, match="vocab must be a kdbook.lm.Vocabulary"):
        WindowLM("words")
    with pytest.raises(ValueError, match="window must be >= 1"):
        WindowLM(LANG, window=0)
    model = WindowLM(LANG)
    with pytest.raises(RuntimeError, match="call forward"):
        model.backward(np.zeros((1, 1, 51)))
    model.forward(LANG.sample(2, seed=0).inputs)
    with pytest.raises(ValueError, match="grad_logits must have shape"):
        model.backward(np.zeros((1, 1, 51)))
    with pytest.raises(ValueError, match="X row 0 must contain exactly one <s>"):
        model.logits([[1, 2]])


def test_sampling_the_language_through_the_decoder_reproduces_its_own_sampler():
    contexts = ["brief", None, "polite", ("animals", "brief")] * 50
    own = LANG.sample(200, context=contexts, seed=7)
    gen = dec.sample(LANG, LANG.vocab.start(200, context=contexts), seed=7)
    assert np.array_equal(own.inputs, gen.batch.inputs) and gen.finished.all()
    np.testing.assert_allclose(gen.logprob, LANG.sentence_logprob(own), rtol=1e-12)
    np.testing.assert_allclose(dec.sequence_logprob(LANG, own), LANG.sentence_logprob(own), rtol=1e-12)


def test_greedy_is_beam_one_and_wider_beams_never_score_lower():
    start = LANG.vocab.start(4, context=[None, "brief", "animals", "polite"])
    g = dec.greedy(LANG, start)
    b1 = dec.beam_search(LANG, start, beam_size=1)
    assert np.array_equal(g.batch.inputs, b1.batch.inputs)
    np.testing.assert_allclose(g.logprob, b1.logprob)
    b8 = dec.beam_search(LANG, start, beam_size=8)
    assert (b8.logprob >= g.logprob - 1e-12).all() and (b8.logprob > g.logprob + 0.5).any()
    np.testing.assert_allclose(b8.logprob, LANG.sentence_logprob(b8.batch), rtol=1e-12)


def test_exact_mode_of_the_tiny_language_is_found_by_a_wide_beam():
    tiny = ToyLanguage("tiny")
    everything = tiny.enumerate_sentences()
    lp = tiny.sentence_logprob(everything)
    found = dec.beam_search(tiny, tiny.vocab.start(1), beam_size=12)
    assert tiny.decode_batch(found.batch)[0] == tiny.decode_batch(everything)[int(lp.argmax())]
    np.testing.assert_allclose(found.logprob[0], lp.max())


def test_student_generation_log_probabilities_and_the_length_limit():
    student = WindowLM(LANG, window=2, hidden=8, seed=0)  # untrained: long, rambling sentences
    gen = dec.sample(student, LANG.vocab.start(300), seed=0)
    np.testing.assert_allclose(gen.logprob, dec.sequence_logprob(student, gen.batch), rtol=1e-10)
    np.testing.assert_allclose(gen.sample_logprob, gen.logprob)
    assert (~gen.finished).any() and (gen.batch.lengths[~gen.finished] == LANG.max_len).all()
    assert (gen.batch.lengths[gen.finished] <= LANG.max_len + 1).all()


def test_top_k_top_p_and_temperature():
    lp = np.log(np.array([[0.5, 0.3, 0.15, 0.05]]))
    np.testing.assert_allclose(dec.truncate_distribution(lp, top_k=2), [[0.625, 0.375, 0, 0]])
    np.testing.assert_allclose(dec.truncate_distribution(lp, top_p=0.8), [[0.625, 0.375, 0, 0]])
    np.testing.assert_allclose(dec.truncate_distribution(lp, top_p=0.81), [[0.5, 0.3, 0.15, 0]] / np.float64(0.95))
    hot = dec.truncate_distribution(lp, T=0.5)
    np.testing.assert_allclose(hot, [[0.25, 0.09, 0.0225, 0.0025]] / np.float64(0.365))
    gen = dec.sample(LANG, LANG.vocab.start(200), top_k=1, seed=3)
    assert np.array_equal(gen.batch.inputs, dec.greedy(LANG, LANG.vocab.start(200)).batch.inputs)
    assert (gen.sample_logprob == 0).all()
    with pytest.raises(ValueError, match="top_p must be > 0"):
        dec.truncate_distribution(lp, top_p=0.0)
    with pytest.raises(ValueError, match="top_k must be >= 1"):
        dec.sample(LANG, LANG.vocab.start(2), top_k=0)
    with pytest.raises(ValueError, match="T must be > 0"):
        dec.sample(LANG, LANG.vocab.start(2), T=0.0)


def test_decoder_errors_name_the_argument():
    with pytest.raises(ValueError, match="start rows must end with a token, not padding"):
        dec.greedy(LANG, [[LANG.vocab.bos, LANG.vocab.pad]])
    with pytest.raises(ValueError, match="start row 0 already ended with </s>"):
        dec.greedy(LANG, [[LANG.vocab.bos, 3, 0]])
    with pytest.raises(TypeError, match="model must be a language model with .vocab and .logits"):
        dec.greedy(object(), LANG.vocab.start(1))
    with pytest.raises(ValueError, match="beam_size must be >= 1"):
        dec.beam_search(LANG, LANG.vocab.start(1), beam_size=0)


def test_lm_evaluation_against_independent_computations():
    from kdbook.lm.evaluation import greedy_report, perplexity, sequence_kl, token_kl

    tiny = ToyLanguage("tiny")
    everything = tiny.enumerate_sentences()
    p = np.exp(tiny.sentence_logprob(everything))
    student = WindowLM(tiny, window=1, dim=3, hidden=4, seed=0)
    q = np.exp(dec.sequence_logprob(student, everything))
    exact = float((p * np.log(p / q)).sum())  # sequence-level KL(p‖q) by enumeration
    samples = tiny.sample(4000, seed=0)
    mc, se = sequence_kl(tiny, student, samples)
    assert abs(mc - exact) < 4 * se
    summed = token_kl(tiny, student, samples).sum(axis=1)  # chain rule: same expectation
    assert abs(summed.mean() - exact) < 4 * summed.std(ddof=1) / np.sqrt(len(summed))
    # the expected sum of token KLs under p, computed exactly over the enumeration, equals the sequence KL
    np.testing.assert_allclose((p * token_kl(tiny, student, everything).sum(axis=1)).sum(), exact, rtol=1e-6)
    assert sequence_kl(tiny, tiny, samples) == (0.0, 0.0)
    nll = -dec.sequence_logprob(student, samples).sum() / samples.n_tokens
    np.testing.assert_allclose(perplexity(student, samples), np.exp(nll))
    starts = tiny.vocab.start(5)
    report = greedy_report(tiny, tiny, starts, reference=dec.greedy(tiny, starts).batch)
    assert report["match"] == 1.0 and report["finished"] == 1.0
    with pytest.raises(ValueError, match="reference must have one sentence per start row"):
        greedy_report(tiny, student, starts, reference=samples)


def test_decoders_keep_each_rows_prompt():
    contexts = [None, "brief", ("animals", "polite"), "polite"]
    start = LANG.vocab.start(4, context=contexts)
    for gen in (dec.greedy(LANG, start), dec.sample(LANG, start, seed=1), dec.beam_search(LANG, start, beam_size=3)):
        np.testing.assert_array_equal(LANG.vocab.contexts_of(gen.batch.inputs), [0, 1, 6, 4])
        np.testing.assert_allclose(gen.logprob, LANG.sentence_logprob(gen.batch), rtol=1e-12)

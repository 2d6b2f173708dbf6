"""kdbook.lm.language and kdbook.lm.sequences: the toy language's exact distribution, its samples, its
batches and its errors. The vectorised tables are checked against a plain walk of the grammar."""
from __future__ import annotations

import numpy as np
import pytest

from kdbook.lm import _grammar
from kdbook.lm.language import INSTRUCTIONS, ToyLanguage
from kdbook.lm import LMBatch

LANG = ToyLanguage()
TINY = ToyLanguage("tiny")


def _reference_logprobs(lang, words, context_bits):
    """Next-token log-probabilities after each prefix of ``words``, by stepping the grammar in Python."""
    vocab = lang.tables.words
    state = _grammar._START
    out = []
    for k in range(len(words) + 1):
        if k >= lang.max_len:
            p = np.full(len(vocab), _grammar.CAP_FLOOR / (len(vocab) - 1))
            p[0] = 1 - _grammar.CAP_FLOOR
        else:
            p = _grammar.grammar_probs(state, vocab)
            for bit, name in enumerate(INSTRUCTIONS):
                if context_bits >> bit & 1:
                    p = p * _grammar.instruction_weights(name, state, vocab)
            p = (1 - _grammar.FLOOR) * p / p.sum() + _grammar.FLOOR / len(vocab)
        out.append(np.log(p))
        if k < len(words):
            state = _grammar.step(state, vocab[words[k]])
    return np.array(out)


@pytest.mark.parametrize("lang", [LANG, TINY], ids=["full", "tiny"])
def test_logits_match_a_plain_walk_of_the_grammar_for_samples_and_random_word_strings(lang):
    rng = np.random.default_rng(0)
    batch = lang.sample(40, context=[int(c) for c in rng.integers(0, 8, size=40)], seed=1)
    lp = lang.logits(batch.inputs)
    for b in range(len(batch)):
        words = batch.targets[b][batch.mask[b]][:-1]
        ctx = int(lang.vocab.contexts_of(batch.inputs[b : b + 1])[0])
        ref = _reference_logprobs(lang, list(words), ctx)
        np.testing.assert_allclose(lp[b][batch.mask[b]], ref, rtol=1e-12, atol=1e-12)
    # off-grammar strings (uniformly random words) go through the same tables
    sentences = [list(rng.integers(1, lang.n_classes, size=rng.integers(0, lang.max_len + 1))) for _ in range(30)]
    rand = lang.batch(sentences)
    lp = lang.logits(rand.inputs)
    for b, words in enumerate(sentences):
        np.testing.assert_allclose(lp[b][rand.mask[b]], _reference_logprobs(lang, words, 0), rtol=1e-12, atol=1e-12)


def test_every_next_token_distribution_sums_to_one_and_is_positive():
    batch = LANG.sample(200, context=list(range(8)) * 25, seed=3)
    p = LANG.probs(batch.inputs)
    np.testing.assert_allclose(p.sum(-1), 1.0, rtol=0, atol=1e-12)
    assert (p[batch.mask] > 0).all()


@pytest.mark.parametrize("context", [None, "brief", "animals", ("brief", "polite"), 7])
def test_enumerating_the_tiny_language_sums_to_one(context):
    sentences = TINY.enumerate_sentences(context=context)
    assert len(sentences) == sum(11**k for k in range(5))
    total = np.exp(TINY.sentence_logprob(sentences)).sum()
    assert abs(total - 1.0) < 1e-8  # the cap leaves 1e-9 per capped prefix for longer strings


def test_sample_frequencies_match_exact_probabilities():
    n = 20000
    sample = TINY.sample(n, seed=11)
    texts = TINY.decode_batch(sample)
    everything = TINY.enumerate_sentences()
    exact = dict(zip(TINY.decode_batch(everything), np.exp(TINY.sentence_logprob(everything))))
    values, counts = np.unique(texts, return_counts=True)
    top = np.argsort(-counts)[:15]
    for i in top:
        p = exact[values[i]]
        se = np.sqrt(p * (1 - p) / n)
        assert abs(counts[i] / n - p) < 5 * se, values[i]


def test_sampling_is_seeded():
    a, b, c = LANG.sample(50, seed=4), LANG.sample(50, seed=4), LANG.sample(50, seed=5)
    assert np.array_equal(a.inputs, b.inputs) and np.array_equal(a.mask, b.mask)
    assert not np.array_equal(a.inputs[:, :5], c.inputs[:, :5])


def _next(prefix, context=None):
    # the batch's inputs hold <s> and every word of the prefix (its targets end with </s>)
    return np.exp(LANG.next_logprobs(LANG.batch([prefix], context=context).inputs))[0]


def test_agreement_and_topic_reach_back_further_than_a_short_window():
    plural = [i for i, w in enumerate(LANG.tables.words) if w.cat == "verb" and w.number == "pl"]
    singular = [i for i, w in enumerate(LANG.tables.words) if w.cat == "verb" and w.number == "sg"]
    # the subject's number decides the verb after "and", five words later
    assert _next("two dogs chase the cat and")[plural].sum() > 0.99
    assert _next("a dog chases the cat and")[singular].sum() > 0.99
    # the same last three words, different next-word distributions (a 3-token window cannot tell)
    p1, p2 = _next("the robot sees the big"), _next("the dog eats the big")
    assert 0.5 * np.abs(p1 - p2).sum() > 0.5
    # the determiner decides the noun's number across two adjectives
    nouns_pl = [i for i, w in enumerate(LANG.tables.words) if w.cat == "noun" and w.number == "pl"]
    assert _next("two big tall")[nouns_pl].sum() > 0.99


def test_instructions_change_the_distribution():
    base = LANG.sample(3000, seed=0)
    brief = LANG.sample(3000, context="brief", seed=0)
    animals = LANG.sample(3000, context="animals", seed=0)
    assert brief.lengths.mean() < base.lengths.mean() - 1.0
    animal_ids = [i for i, w in enumerate(LANG.tables.words) if w.topic == "animal"]
    share = lambda b: np.isin(b.targets[b.mask], animal_ids).mean()
    assert share(animals) > 2 * share(base)
    p_polite, p_plain = _next("the girl sings", "polite"), _next("the girl sings")
    kindly = LANG.words.index("kindly")
    assert p_polite[kindly] > 10 * p_plain[kindly]


def test_batches_shift_targets_by_one_and_mask_padding_and_prompt():
    batch = LANG.batch(["the dog sleeps", "two robots beep today"], context=["polite", None])
    assert isinstance(batch, LMBatch) and batch.inputs.shape == batch.targets.shape == batch.mask.shape
    assert batch.lengths.tolist() == [4, 5] and batch.n_tokens == 9
    for b in range(2):
        m = batch.mask[b]
        cols = np.flatnonzero(m)
        assert np.array_equal(batch.inputs[b, cols[1:]], batch.targets[b, cols[:-1]])
        assert batch.inputs[b, cols[0]] == LANG.vocab.bos and batch.targets[b, cols[-1]] == LANG.vocab.eos
    assert LANG.decode_batch(batch) == ["the dog sleeps", "two robots beep today"]
    assert LANG.vocab.decode(batch.inputs[0], keep_special=True).startswith("<polite> <s> the dog")
    np.testing.assert_allclose(LANG.sentence_logprob(batch.select([1]))[0], LANG.sentence_logprob(batch)[1])


def test_padded_positions_do_not_change_sentence_logprob():
    batch = LANG.batch(["the dog sleeps", "a red car sees the tall farmer today and moves"])
    alone = LANG.batch(["the dog sleeps"])
    assert batch.inputs.shape[1] > alone.inputs.shape[1]
    np.testing.assert_allclose(LANG.sentence_logprob(batch)[0], LANG.sentence_logprob(alone)[0], rtol=0, atol=1e-12)


def test_encode_decode_round_trip_and_context_names():
    text = "the big dog chases a cat quickly"
    assert LANG.decode(LANG.encode(text)) == text
    assert LANG.vocab.context_name(LANG.vocab.context_bits("brief+polite")) == "brief+polite"
    assert LANG.vocab.context_bits(("polite", "brief")) == LANG.vocab.context_bits("brief+polite") == 5


BAD_INPUTS = [
    ([[3, 4, 5]], ValueError, "X row 0 must contain exactly one <s> (it has 0)"),
    ([[51, 3, 51]], ValueError, "exactly one <s> (it has 2)"),
    ([[51, 1, 0, 3]], ValueError, "X row 0 continues after </s>"),
    ([[51, 0, 52, 5]], ValueError, "has a token after padding"),
    ([[3, 51, 4]], ValueError, "has a word or </s> before <s>"),
    ([[51, 54, 4]], ValueError, "instruction token after <s>"),
    ([[51, 99]], ValueError, "token ids in [0, 55], found 99"),
    ([[51, -1]], ValueError, "found -1"),
    ([[51.0, 3.0]], TypeError, "integer token ids"),
    ([51, 3], ValueError, "X must be 2-D"),
    ([[51] + [1] * 13], ValueError, "X row 0 has 13 words after <s>; sentences of this language have at most max_len=12"),
]


@pytest.mark.parametrize("X, err, message", BAD_INPUTS)
def test_bad_inputs_get_clear_errors(X, err, message):
    with pytest.raises(err) as info:
        LANG.logits(X)
    assert message in str(info.value)


def test_other_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="context has an unknown instruction 'rude'"):
        LANG.sample(2, context="rude")
    with pytest.raises(ValueError, match="context must be one context or a list of n=3"):
        LANG.sample(3, context=["brief", None])
    with pytest.raises(ValueError, match="n must be >= 1"):
        LANG.sample(0)
    with pytest.raises(ValueError, match="variant must be one of"):
        ToyLanguage("huge")
    with pytest.raises(ValueError, match="max_words=4 gives"):
        LANG.enumerate_sentences(4)
    with pytest.raises(ValueError, match="max_words must be at most max_len=4"):
        TINY.enumerate_sentences(5)
    with pytest.raises(ValueError, match="words outside the vocabulary: \\['unicorn'\\]"):
        LANG.encode("the unicorn sleeps")
    with pytest.raises(TypeError, match="batch must be a kdbook.lm.LMBatch"):
        LANG.sentence_logprob(np.zeros((2, 3), dtype=int))
    with pytest.raises(ValueError, match="prefixes row 0"):
        LANG.next_logprobs([[3, 4]])


def test_prefix_rows_keep_the_prompt_drop_the_end_and_pad_on_the_left():
    batch = LANG.batch(["the dog sleeps", "a cat chases the girl today"], context=[None, ("brief", "polite")])
    rows = LANG.vocab.prefix_rows(batch, 3)
    assert [LANG.vocab.decode(r, keep_special=True) for r in rows] == [
        "<pad> <pad> <s> the dog sleeps", "<brief> <polite> <s> a cat chases"]
    short = LANG.vocab.prefix_rows(batch, 10)  # the whole sentence, never its </s>
    assert LANG.vocab.decode(short[0], keep_special=True).endswith("<s> the dog sleeps")
    np.testing.assert_array_equal(LANG.vocab.contexts_of(rows), [0, 5])
    np.testing.assert_array_equal(LANG.prefixes(["the dog", ""], context="animals")[:, -1],
                                  [LANG.encode("dog")[0], LANG.vocab.bos])
    with pytest.raises(ValueError, match="n_words must be an int >= 0"):
        LANG.vocab.prefix_rows(batch, -1)

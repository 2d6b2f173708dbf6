"""Chapter 6's four students on many seeds, measured with this file's own numpy (shared by the
chapter-6 claims tests). Training uses kdbook (it is what the chapter teaches); every metric is
recomputed here from the teacher's and the student's log-probabilities, not with kdbook.lm.evaluation."""
from __future__ import annotations

import functools

import numpy as np

from kdbook.lm import ToyLanguage, WindowLM, decoding
from kdbook.lm.mode import exact_mode
from kdbook.train import train

SEEDS = tuple(range(10))
WAYS = ("a", "b", "c", "d")


@functools.lru_cache(maxsize=1)
def setting():
    lang = ToyLanguage()
    held = lang.sample(2000, seed=1000)
    starts = np.unique(lang.vocab.prefix_rows(lang.sample(20000, seed=2000), 2), axis=0)
    beam = decoding.beam_search(lang, starts, beam_size=4).batch
    mode = exact_mode(lang, starts).batch
    return lang, held, starts, beam, mode


def _logsoftmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def _rows_equal(a, b):
    """Row-wise equality of two padded id arrays of possibly different widths."""
    w = max(a.shape[1], b.shape[1])
    pa = np.pad(a, ((0, 0), (0, w - a.shape[1])), constant_values=-1)
    pb = np.pad(b, ((0, 0), (0, w - b.shape[1])), constant_values=-1)
    return (pa == pb).all(axis=1)


def _ids(batch):
    return np.where(batch.mask, batch.targets, -1)


@functools.lru_cache(maxsize=None)
def run(seed: int) -> dict:
    lang, held, starts, beam, mode = setting()
    corpus = lang.sample(1000, seed=seed)
    two = lang.vocab.prefix_rows(corpus, 2)
    seen = (starts[:, None, :] == two[None, :, :]).all(axis=2).any(axis=1)
    beam_train = decoding.beam_search(lang, two, beam_size=4).batch
    samples = decoding.sample(lang, two, seed=100 + seed).batch
    data = {"a": (corpus, dict(labels=corpus.targets)),
            "b": (corpus, dict(teacher_logits=lang.logits(corpus.inputs), T=1.0)),
            "c": (beam_train, dict(labels=beam_train.targets)),
            "d": (samples, dict(labels=samples.targets))}
    lp_t = lang.logits(held.inputs)
    m = held.mask
    t_tok = np.take_along_axis(lp_t, held.targets[..., None], axis=-1)[..., 0] * m
    out = {"seen": seen}
    beam_lp = _teacher_logprob(lang, beam)
    for way, (b, targets) in data.items():
        st = WindowLM(lang, window=2, dim=16, hidden=32, seed=seed)
        train(st, b.inputs, mask=b.mask, epochs=20, batch_size=100, lr=0.01, seed=seed, **targets)
        lq = _logsoftmax(st.logits(held.inputs))
        kl_pos = (np.exp(lp_t) * (lp_t - lq)).sum(-1) * m
        s_tok = np.take_along_axis(lq, held.targets[..., None], axis=-1)[..., 0] * m
        d = t_tok.sum(1) - s_tok.sum(1)
        gen = decoding.greedy(st, starts)
        g_lp = lang.sentence_logprob(gen.batch)
        # "= beam" as the chapter counts it: the teacher's log p of the greedy sentence equals that of its 4-beam
        # output (to 1e-9), so a tied sentence counts whichever of the two the decoders pick
        same_as_beam = np.abs(_teacher_logprob(lang, gen.batch) - beam_lp) < 1e-9
        out[way] = dict(
            token_kl=kl_pos.sum() / m.sum(), seq_kl=d.mean(), seq_se=d.std(ddof=1) / np.sqrt(len(d)),
            ppl=np.exp(-s_tok.sum() / m.sum()), kl_pos=kl_pos,
            greedy_lp=g_lp[~seen].mean(), greedy_lp_tok=(g_lp / gen.batch.lengths)[~seen].mean(),
            beam_match_unseen=same_as_beam[~seen].mean(), beam_match_seen=same_as_beam[seen].mean(),
            mode_match_unseen=_rows_equal(_ids(gen.batch), _ids(mode))[~seen].mean(),
            finished=gen.finished[~seen].mean(),
        )
    return out


def _teacher_logprob(lang, batch):
    """Teacher log-probability of each sentence of ``batch``, summed here from the teacher's log-probabilities."""
    lp = lang.logits(batch.inputs)
    return (np.take_along_axis(lp, batch.targets[..., None], axis=-1)[..., 0] * batch.mask).sum(axis=1)


@functools.lru_cache(maxsize=1)
def grammatical_starts() -> np.ndarray:
    """Every two-word start whose words each have teacher probability above 0.001 (rows <s> w1 w2)."""
    lang = setting()[0]
    bos, eos = lang.vocab.bos, lang.vocab.eos
    p1 = np.exp(_logsoftmax(lang.logits(np.array([[bos]]))[:, -1]))[0]
    first = [w for w in np.flatnonzero(p1 > 1e-3) if w != eos]
    p2 = np.exp(_logsoftmax(lang.logits(np.array([[bos, w] for w in first]))[:, -1]))
    return np.array([[bos, w1, w2] for w1, row in zip(first, p2) for w2 in np.flatnonzero(row > 1e-3) if w2 != eos])


@functools.lru_cache(maxsize=None)
def held_out(seed: int) -> dict:
    """(a) and (c) trained on 1,000 sentences that begin with none of 20 held-out grammatical starts (drawn
    with rng 500 + seed, as the chapter does), decoded greedily from those 20 starts."""
    lang = setting()[0]
    gram = grammatical_starts()
    hold = gram[np.random.default_rng(500 + seed).choice(len(gram), 20, replace=False)]
    pool = lang.sample(2000, seed=seed)
    two = lang.vocab.prefix_rows(pool, 2)
    keep = np.flatnonzero(~(two[:, None, :] == hold[None, :, :]).all(axis=2).any(axis=1))[:1000]
    assert len(keep) == 1000
    corpus, two = pool.select(keep), two[keep]
    beam_train = decoding.beam_search(lang, two, beam_size=4).batch
    beam_lp = _teacher_logprob(lang, decoding.beam_search(lang, hold, beam_size=4).batch)
    mode_lp = _teacher_logprob(lang, exact_mode(lang, hold).batch)
    out = {"overlap": int((two[:, None, :] == hold[None, :, :]).all(axis=2).any())}
    for way, (b, targets) in {"a": (corpus, dict(labels=corpus.targets)),
                              "c": (beam_train, dict(labels=beam_train.targets))}.items():
        st = WindowLM(lang, window=2, dim=16, hidden=32, seed=seed)
        train(st, b.inputs, mask=b.mask, epochs=20, batch_size=100, lr=0.01, seed=seed, **targets)
        gen = decoding.greedy(st, hold).batch
        g_lp = _teacher_logprob(lang, gen)
        out[way] = dict(beam_match=(np.abs(g_lp - beam_lp) < 1e-9).mean(), lost=(mode_lp - g_lp).mean())
    return out

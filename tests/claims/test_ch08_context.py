"""Chapter 8's prose claims, re-checked on 10 teacher × student seeds (issue 19 §2, issue 22).

Five prompt-following models (teacher seeds 0–4, ``train_original``) × two student seeds (0, 1):
ten runs of every student of section 2, evaluated on held-out queries from openings disjoint
from the training queries. The measurements are recomputed here with plain numpy (log-softmax,
KL, counting adverbs in the decoded text), not with the notebook's printing code or
``cd.context_distillation_loss`` / ``cd.behaviour_rates``. Each test asserts what the prose
says, with the count of seeds it says it on.
"""
from __future__ import annotations

import functools

import numpy as np
import pytest

from kdbook.lm import ToyLanguage
from kdbook.lm import context as cd
from kdbook.lm import context_mix as cm
from kdbook.lm import context_split as cs
from kdbook.train import train

pytestmark = [pytest.mark.claims, pytest.mark.slow]

C, C_SHORT, N = ("brief", "polite"), "polite", 2
TEACHERS, STUDENTS = (0, 1, 2, 3, 4), (0, 1)
RUNS = [(t, s) for t in TEACHERS for s in STUDENTS]


def _logsoftmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def _kl(student_logits, teacher_logits, mask):
    lp, lq = _logsoftmax(teacher_logits)[mask], _logsoftmax(student_logits)[mask]
    return float((np.exp(lp) * (lp - lq)).sum(axis=-1).mean())


def _polite_share(lang, batch):
    gentle = {lang.words.index("gently"), lang.words.index("kindly")}
    return float(np.mean([any(t in gentle for t in row[m]) for row, m in zip(batch.targets, batch.mask)]))


@functools.lru_cache(maxsize=None)
def _setup(teacher_seed):
    lang = ToyLanguage()
    model = cd.train_original(lang, seed=teacher_seed)
    H = cs.split_openings(lang, words=N, held_out=0.25, seed=0)
    held_out = cs.sample_split_queries(lang, 600, held_out_openings=H, part="held_out", seed=99)
    resp = cd.respond(model, held_out, context=C, seed=5)
    mask = cd.response_mask(resp, lang, N)
    v = model.logits(resp.inputs)
    return lang, model, H, held_out, resp, mask, v


def _kl_to_teacher(teacher_seed, student, reads):
    lang, model, H, held_out, resp, mask, v = _setup(teacher_seed)
    return _kl(student.logits(cd.set_prompt(resp.inputs, lang, reads)), v, mask)


def _train(teacher_seed, seed, *, data="samples", target="distribution", T=1.0, reads=None, sigma=False, lr=0.01):
    lang, model, H, *_ = _setup(teacher_seed)
    q = cs.sample_split_queries(lang, 400, held_out_openings=H, part="train", seed=100 + seed)
    responses = cd.respond(model, q, context=C, greedy=data == "greedy", seed=100 + seed)
    rows = cd.distillation_data(model, responses, teacher_context=C, student_context=reads, n_query_words=N,
                                sequence_level=target == "one-hot")
    student = model.copy()
    if sigma:
        student.set_trainable("soft_prompt")
    train(student, **rows.train_kwargs(), T=T, epochs=8, batch_size=50, lr=lr, seed=100 + seed)
    return student


KINDS = {"T1": {}, "T2": {"T": 2.0}, "seq": {"data": "greedy", "target": "one-hot"},
         "greedy_dist": {"data": "greedy"}, "samples_onehot": {"target": "one-hot"},
         "sigma": {"sigma": True}, "short": {"reads": C_SHORT}}


@functools.lru_cache(maxsize=None)
def _measure(teacher_seed, seed, kind, lr=0.01):
    lang, model, H, held_out, *_ = _setup(teacher_seed)
    opts = KINDS[kind]
    student = _train(teacher_seed, seed, **opts, lr=lr)
    reads = opts.get("reads")
    own = cd.respond(student, held_out, context=reads, seed=7)
    words = (own.mask & (own.targets != lang.vocab.eos)).sum(axis=1)
    return {"kl": _kl_to_teacher(teacher_seed, student, reads), "polite": _polite_share(lang, own),
            "brief": float((words <= 5).mean())}


def _teacher_rates(teacher_seed):
    lang, model, H, held_out, resp, *_ = _setup(teacher_seed)
    words = (resp.mask & (resp.targets != lang.vocab.eos)).sum(axis=1)
    return _polite_share(lang, resp), float((words <= 5).mean())


def test_held_out_queries_are_disjoint_from_training():
    lang, model, H, held_out, *_ = _setup(0)
    train_q = np.concatenate([cs.sample_split_queries(lang, 400, held_out_openings=H, part="train", seed=100 + s)
                              for s in STUDENTS])
    assert cs.overlap(held_out, train_q) == 0.0
    # and the naive draw the chapter used before overlaps almost entirely
    assert cs.overlap(cd.sample_queries(lang, 1000, words=N, seed=99), cd.sample_queries(lang, 400, words=N, seed=0)) > 0.9


def test_model_follows_the_prompt_only_in_part():
    """§1: the prompt moves the model by less than the language (45 % printed); fewer polite sentences."""
    lang = ToyLanguage()
    batch = lang.sample(2000, context=C, seed=1)
    plain = cd.set_prompt(batch.inputs, lang, None)
    lang_effect = _kl(lang.logits(plain), lang.logits(batch.inputs), batch.mask)
    for t in TEACHERS:
        model = _setup(t)[1]
        effect = _kl(model.logits(plain), model.logits(batch.inputs), batch.mask)
        assert 0.3 * lang_effect < effect < 0.65 * lang_effect, (t, effect, lang_effect)
        written = cd.respond(model, cd.prefix_rows(lang, [""] * 2000), context=C, seed=2)
        assert _polite_share(lang, written) < _polite_share(lang, batch), t


def test_token_level_distillation_is_dozens_of_times_closer_than_no_prompt():
    for t, s in RUNS:
        kl_plain = _kl_to_teacher(t, _setup(t)[1], None)
        assert _measure(t, s, "T1")["kl"] * 20 < kl_plain, (t, s)


def test_sequence_level_student_collapses_on_every_run():
    for t, s in RUNS:
        m = _measure(t, s, "seq")
        assert m["kl"] > 2.5 and m["polite"] == 0.0, (t, s, m)  # §2: over 2.5 nats per token


def test_the_one_hot_target_not_the_greedy_data_causes_the_collapse():
    """The 2 × 2: greedy ŷ toward the distribution keeps polite sentences; samples with one-hot lose some."""
    for t, s in RUNS:
        gd, so, tok = (_measure(t, s, k) for k in ("greedy_dist", "samples_onehot", "T1"))
        teacher_polite = _teacher_rates(t)[0]
        assert gd["kl"] < 0.05 and so["kl"] > 0.05, (t, s, gd, so)
        assert gd["kl"] * 5 < so["kl"], (t, s)
        # §2 and the summary: with the data fixed, one-hot moves the student about a hundred times further or
        # more: 100-163 times on samples, 246-374 times on greedy ŷ over these 10 runs
        assert tok["kl"] * 95 < so["kl"] < tok["kl"] * 200, (t, s, tok, so)
        assert gd["kl"] * 200 < _measure(t, s, "seq")["kl"] < gd["kl"] * 450, (t, s, gd)
        assert gd["polite"] > 0.75 * teacher_polite, (t, s, gd, teacher_polite)
    # one-hot targets on samples: fewer polite sentences than the token-level student on 8 of 10 runs
    # (the prose says 8 of 10, by 0.02 on average), degraded, not collapsed
    lower = np.array([_measure(t, s, "samples_onehot")["polite"] - _measure(t, s, "T1")["polite"] for t, s in RUNS])
    assert (lower < 0).sum() >= 8 and -0.03 < lower.mean() < -0.015, lower


def test_T2_is_slightly_closer_than_T1_on_every_run():
    """§2 says: T = 2 slightly closer on 10 of 10 runs, by about a thousandth of a nat or less."""
    diffs = np.array([_measure(t, s, "T2")["kl"] - _measure(t, s, "T1")["kl"] for t, s in RUNS])
    assert (diffs < 0).all(), diffs
    assert np.abs(diffs).max() < 0.0015


def test_soft_prompt_ranking_depends_on_the_learning_rate():
    """At the shared lr 0.01 σ is the furthest token-level student; each at its better rate of
    (0.01, 0.05) σ is the closest."""
    others = ("T1", "T2", "short")
    for t, s in RUNS:
        sig01 = _measure(t, s, "sigma")["kl"]
        assert all(sig01 > _measure(t, s, k)["kl"] for k in others), (t, s)
        best = {k: min(_measure(t, s, k, 0.01)["kl"], _measure(t, s, k, 0.05)["kl"]) for k in others + ("sigma",)}
        assert min(best, key=best.get) == "sigma", (t, s, best)
        assert all(_measure(t, s, k, 0.01)["kl"] < _measure(t, s, k, 0.05)["kl"] for k in others), (t, s)


def test_short_prompt_student_ends_almost_as_close_as_no_prompt():
    """§2: within a thousandth of a nat per token of the no-prompt student, further on 9 of 10 runs."""
    d = np.array([_measure(t, s, "short")["kl"] - _measure(t, s, "T1")["kl"] for t, s in RUNS])
    assert np.abs(d).max() < 0.001 and (d > 0).sum() >= 9, d


def test_sequence_level_brief_share_is_not_always_right():
    """§2 says the sequence-level student's brief share is near the teacher's here but not on every
    teacher seed: several runs are off by more than 0.05."""
    gaps = np.array([abs(_measure(t, s, "seq")["brief"] - _teacher_rates(t)[1]) for t, s in RUNS])
    assert (gaps > 0.05).sum() >= 3, gaps  # measured: 4 of 10 runs off by 0.08-0.09


def test_adverbs_are_almost_never_the_teachers_top_token():
    for t in TEACHERS:
        lang, model, H, held_out, resp, mask, v = _setup(t)
        gentle = [lang.words.index("gently"), lang.words.index("kindly")]
        top = np.isin(v.argmax(axis=-1), gentle) & mask
        p = np.exp(_logsoftmax(v))[..., gentle].sum(axis=-1)
        assert top.sum() < 0.01 * mask.sum(), t
        assert 0.02 < p[mask].mean() < 0.08, t


def test_a_quarter_of_keep_rows_holds_the_drift_below_a_tenth_and_a_tenth_does_not():
    for t, s in RUNS:
        lang, model, H, held_out, *_ = _setup(t)
        q = cs.sample_split_queries(lang, 400, held_out_openings=H, part="train", seed=100 + s)
        goal = _kl_to_teacher(t, model, None) / 10
        drift = {}
        for mix in (0.1, 0.25):
            keep = np.random.default_rng(s).permutation(400) < round(mix * 400)
            data = cm.mix_data(model, q, ~keep, context=C, short_context=C_SHORT, n_query_words=N, seed=s)
            student = model.copy()
            train(student, **data.train_kwargs(), epochs=8, batch_size=50, lr=0.01, seed=s)
            drift[mix] = cm.mix_quality(student, model, held_out, context=C, short_context=C_SHORT,
                                        n_query_words=N)["kl_unprompted"]
        assert drift[0.25] < goal < drift[0.1], (t, s, drift, goal)


def test_B_beats_A_only_at_the_lowest_temperatures():
    """§3: B ranks before A below T ≈ 0.063, above it A is best (tried up to T = 1000); C passes B at
    T ≈ 1.43 (closed form, scipy roots)."""
    from scipy.optimize import brentq
    from scipy.special import rel_entr, softmax

    p = np.log([0.70, 0.20, 0.10])
    qs = {"A": np.log([0.65, 0.22, 0.13]), "B": np.log([0.70, 0.10, 0.20]), "C": np.log([0.50, 0.30, 0.20])}

    def soft(name, T):
        return T**2 * rel_entr(softmax(p / T), softmax(qs[name] / T)).sum()

    t_ab = brentq(lambda T: soft("A", T) - soft("B", T), 0.04, 0.2)
    t_bc = brentq(lambda T: soft("B", T) - soft("C", T), 1.0, 2.0)
    assert abs(t_ab - 0.063) < 0.0005 and abs(t_bc - 1.4303) < 0.0005
    for T in (0.07, 0.5, 1.0, 1.4, 2.0, 4.0, 10.0, 100.0, 1000.0):
        assert soft("A", T) < min(soft("B", T), soft("C", T)), T
    assert soft("B", 0.05) < soft("A", 0.05)
    assert soft("B", 0.05) < soft("A", 0.05) and soft("C", 2.0) < soft("B", 2.0)

"""Chapter 6's checks name the common bugs: padding counted, a mean over B·L·V, the wrong axis, an
off-by-one shift, T² forgotten, teacher and student swapped, a storage scheme over budget or too lossy."""
from __future__ import annotations

import numpy as np
import pytest

import kdbook
from kdbook.grading import registry, run_tests
from kdbook.grading.ch06 import restore_stored, storage_teachers


def _messages(exercise_id: str, answer, seed: int = 1) -> str:
    ex = registry.get(exercise_id)
    verdicts = run_tests(ex, {ex.name: answer}, hidden_seed=seed)
    return "\n".join(v.message for v in verdicts if v.status != "pass")


def _kl(z, v, T):
    log_q, log_p = kdbook.log_softmax(z / T), kdbook.log_softmax(v / T)
    return (np.exp(log_p) * (log_p - log_q)).sum(-1)


def _clean(mask, *arrays):
    return [np.where(mask[..., None], a, 0.0) for a in arrays]


def kd_padding_counted(z, v, mask, T=1.0, reduction="tokenmean"):
    z, v = _clean(mask, z, v)
    kl = T * T * np.where(mask, _kl(z, v, T), 0.0)
    return kl.sum() / (kl.size if reduction == "tokenmean" else len(kl))


def kd_mean_over_entries(z, v, mask, T=1.0, reduction="tokenmean"):
    z, v = _clean(mask, z, v)
    return T * T * np.where(mask, _kl(z, v, T), 0.0).sum() / z.size


def kd_no_t_squared(z, v, mask, T=1.0, reduction="tokenmean"):
    z, v = _clean(mask, z, v)
    kl = np.where(mask, _kl(z, v, T), 0.0)
    return kl.sum() / (mask.sum() if reduction == "tokenmean" else len(kl))


def kd_nan_unsafe(z, v, mask, T=1.0, reduction="tokenmean"):
    def log_softmax(x):  # plain numpy: NaN at a padded position flows through
        x = x - x.max(axis=-1, keepdims=True)
        return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))
    log_q, log_p = log_softmax(z / T), log_softmax(v / T)
    kl = T * T * (np.exp(log_p) * (log_p - log_q)).sum(-1) * mask  # NaN · 0 is still NaN
    return kl.sum() / (mask.sum() if reduction == "tokenmean" else len(kl))


@pytest.mark.parametrize("bug, diagnosis", [
    (kd_padding_counted, "padding counted"),
    (kd_mean_over_entries, "not a KL"),
    (kd_no_t_squared, "T² factor"),
    (kd_nan_unsafe, "must not reach the result"),
])
def test_masked_kd_loss_diagnoses(bug, diagnosis):
    assert diagnosis in _messages("06.masked_kd_loss", bug)


def _picked(z, y):
    return np.take_along_axis(kdbook.log_softmax(z), y[..., None], axis=-1)[..., 0]


@pytest.mark.parametrize("bug, diagnosis", [
    (lambda z, y, m: _picked(z, y).sum(axis=1), "padding counted"),
    (lambda z, y, m: (_picked(z, y) * m).sum(axis=0), "sum over the positions (axis 1)"),
    (lambda z, y, m: (np.take_along_axis(kdbook.log_softmax(z)[:, :-1], y[:, 1:, None], -1)[..., 0] * m[:, 1:]).sum(1),
     "off by one"),
    (lambda z, y, m: (np.take_along_axis(z, y[..., None], -1)[..., 0] * m).sum(1), "raw logits"),
])
def test_sequence_logprob_diagnoses(bug, diagnosis):
    assert diagnosis in _messages("06.sequence_logprob", bug)


def test_reduction_and_position_diagnoses():
    assert "counting the padding" in _messages("06.reductions", lambda loss, m: ((loss * m).sum() / loss.size,
                                                                                 (loss * m).sum() / len(m)))

    def by_position_over_b(t, s, m):
        t, s = _clean(m, t, s)
        return np.where(m, kdbook.kl_divergence(kdbook.softmax(t), kdbook.softmax(s)), 0).sum(0) / len(m)

    def by_position_swapped(t, s, m):
        t, s = _clean(m, t, s)
        return np.where(m, kdbook.kl_divergence(kdbook.softmax(s), kdbook.softmax(t)), 0).sum(0) / m.sum(0)

    assert "padding counted" in _messages("06.kl_by_position", by_position_over_b)
    assert "swapped" in _messages("06.kl_by_position", by_position_swapped)


def test_storage_scheme_checks_budget_and_kl():
    def fixed(k, id_dtype=np.int8):
        def store(lp):
            ids = np.argsort(-lp, axis=1)[:, :k]
            return ids.astype(id_dtype), np.take_along_axis(lp, ids, axis=1)
        return store

    assert "above the 0.08 allowed" in _messages("06.storage_scheme", fixed(6))
    assert "bytes per position on average; the budget is 18" in _messages("06.storage_scheme", fixed(7))
    assert "same token twice" in _messages("06.storage_scheme", lambda lp: (np.zeros((len(lp), 2), int), lp[:, :2]))
    assert "pair (ids, values)" in _messages("06.storage_scheme", lambda lp: lp)


def test_restore_follows_its_rule():
    lp = np.log(np.array([[0.5, 0.3, 0.15, 0.05]]))
    rebuilt = restore_stored(np.array([[0, 1, -1]]), lp[:, [0, 1, 2]], 4)
    np.testing.assert_allclose(rebuilt, [[0.5, 0.3, 0.1, 0.1]], rtol=1e-3)  # float16 values
    teachers = storage_teachers(3, n_sentences=10)
    assert teachers.ndim == 2 and teachers.shape[1] == 51
    np.testing.assert_allclose(np.exp(teachers).sum(1), 1.0)


RIGHT_CHOICES = [
    "Team A should use sequence-level KD on beam outputs: its greedy output matched the teacher's beam 99.6% of the "
    "time. Team B should use word-level KD, which had the lowest token KL of 0.239. Sequence-level costs one beam "
    "search per sentence and stores token ids; word-level needs a teacher pass per token and stores V numbers.",
    "For team B I recommend word-level KD rather than sequence-level KD, since its token KL was 0.239 against 3.55; "
    "for team A, beam-based sequence-level KD, whose greedy output equals the teacher's beam output 99.6% of the "
    "time. The cost: word-level stores V numbers per token, sequence-level only token ids after one beam search.",
]
WRONG_CHOICES = [
    ("Team A should use word-level KD, which had the lowest token KL of 0.239. Team B should use sequence-level KD "
     "on beam outputs: its greedy output matched 99.6%. Sequence-level costs one beam search per sentence and stores "
     "token ids; word-level stores V numbers per token.", "reconsider team A"),
    ("Team A should use sequence-level KD: its greedy output matched 99.6%. Team B should use sequence-level KD on "
     "the beam outputs as well, because 99.6% is convincing. Word-level KD stores V numbers per token, which costs "
     "more.", "reconsider team B"),
    ("Team A should use sequence-level KD: its greedy output matched 99.6%. For team B, word-level KD; sequence-level "
     "KD gives the lowest perplexity, 6.65, though. Word-level KD stores V numbers per token, which costs more.",
     "the beam-trained student has the highest KL and perplexity"),
]


@pytest.mark.parametrize("answer", RIGHT_CHOICES)
def test_choose_objective_accepts_right_answers_in_other_words(answer):
    assert _messages("06.choose_objective", answer) == ""


@pytest.mark.parametrize("answer, diagnosis", WRONG_CHOICES)
def test_choose_objective_rejects_swapped_recommendations(answer, diagnosis):
    assert diagnosis in _messages("06.choose_objective", answer)

"""Chapter 8's checks tell the common wrong answers apart, and the create item is graded on behaviour."""
from __future__ import annotations

import numpy as np
import pytest

import kdbook
from kdbook.grading import registry, run_tests


def _messages(ex_id: str, answer, seed: int = 3) -> list[str]:
    ex = registry.get(ex_id)
    verdicts = run_tests(ex, {ex.name: answer}, hidden_seed=seed)
    assert all(v.points == 0 for v in verdicts), [v.message for v in verdicts]
    return [v.message for v in verdicts]


def _log_softmax(x):
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def _loss(z, v, mask, T=1.0, *, t2=True, reverse=False, per_sequence=False):
    m = np.asarray(mask, bool)
    lq = _log_softmax(np.where(m[..., None], z, 0.0) / T)
    lp = _log_softmax(np.where(m[..., None], v, 0.0) / T)
    if reverse:
        lp, lq = lq, lp
    kl = (np.exp(lp) * (lp - lq)).sum(-1)
    total = (T**2 if t2 else 1.0) * kl[m].sum()
    return float(total / (len(m) if per_sequence else m.sum()))


@pytest.mark.parametrize("bug, expected", [
    (dict(t2=False), "T² factor"),
    (dict(reverse=True), "reverse KL"),
    (dict(per_sequence=True), "number of sequences B instead of the number of unmasked tokens"),
])
def test_cd_loss_diagnoses_common_bugs(bug, expected):
    messages = _messages("08.cd_loss", lambda z, v, mask, T=1.0: _loss(z, v, mask, T, **bug))
    assert any(expected in m for m in messages), messages


def test_cd_loss_correct_answer_passes_and_kdbook_loss_is_off_limits():
    ex = registry.get("08.cd_loss")
    assert all(v.status == "pass" for v in run_tests(ex, {"cd_loss": _loss}, hidden_seed=5))
    cheat = lambda z, v, mask, T=1.0: float(kdbook.kd_loss(z, v, T=T, mask=mask, reduction="tokenmean"))  # noqa: E731
    assert any("off-limits" in m for m in _messages("08.cd_loss", cheat))
    from kdbook import context as cd

    via_chapter = lambda z, v, mask, T=1.0: cd.context_distillation_loss(z, v, mask, T=T)  # noqa: E731
    assert any("off-limits" in m for m in _messages("08.cd_loss", via_chapter))


def test_soft_prompt_grad_diagnoses_a_missing_tanh_derivative():
    def no_tanh_derivative(pre, U, v, mask, T=1.0):
        h = np.tanh(pre)
        _, g = kdbook.kd_loss_and_grad(h @ U, v, T=T, mask=mask, reduction="tokenmean")
        return (g @ U.T).sum(axis=(0, 1))

    assert any("1 − tanh²" in m for m in _messages("08.soft_prompt_grad", no_tanh_derivative))


def test_rankings_and_decisions_reject_wrong_values():
    assert any("T = 3" in m for m in _messages("08.rankings", (["D", "E", "F"], ["D", "E", "F"], "E")))
    assert any("top-1 view" in m for m in _messages("08.rankings", (["D", "E", "F"], ["D", "F", "E"], "D")))
    assert any("2 of 3 decisions" in m for m in _messages("08.keep_or_distil", ["distil"] * 3))
    assert any("'distil' or 'keep'" in m for m in _messages("08.keep_or_distil", ["yes", "no", "no"]))


@pytest.mark.parametrize("share_distil, expected", [
    (1.0, "over the budget"),     # all distillation rows: the unprompted model drifts
    (0.01, "from the prompted teacher"),  # almost only keep rows: the prompt is not learned
])
def test_training_mix_is_graded_on_what_the_trained_student_does(share_distil, expected):
    def mix(n_rows, budget):
        return np.arange(n_rows) < max(1, int(round(share_distil * n_rows)))

    messages = _messages("08.training_mix", mix)
    assert all(expected in m for m in messages), messages


def test_training_mix_rejects_malformed_masks():
    assert any("boolean array of shape (300,)" in m for m in _messages("08.training_mix", lambda n, b: np.ones(n)))
    assert any("no distillation rows" in m for m in _messages("08.training_mix", lambda n, b: np.zeros(n, bool)))

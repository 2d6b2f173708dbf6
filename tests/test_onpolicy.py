"""On-policy distillation loop, generation scores and the β explorer's state (chapter 7)."""
import numpy as np
import pytest

from kdbook import check_gradient, kd_loss_and_grad
from kdbook.lm.genmetrics import distinct_n, generation_report, per_token_loglik, position_kl
from kdbook.lm import ToyLanguage
from kdbook.lm import WindowLM
from kdbook.lm.onpolicy import OBJECTIVES, Objective, distill_on_policy, gkd_batch, teacher_passes
from kdbook.lm.policy import free_mask, sample_sentences, stack_batches


@pytest.fixture(scope="module")
def lang():
    return ToyLanguage()


def _student(lang, seed=0):
    return WindowLM(lang, window=2, dim=8, hidden=16, seed=seed)


def test_lambda_zero_samples_nothing_from_the_student(lang):
    data = lang.sample(64, seed=1)
    h = distill_on_policy(_student(lang), lang, data, lam=0.0, steps=3, batch_size=8)
    assert h["student_sentences"].tolist() == [0, 0, 0]
    assert h["teacher_positions"].tolist() == [0, 0, 0]


def test_lambda_one_needs_no_data_and_counts_the_teachers_work(lang):
    h = distill_on_policy(_student(lang), lang, None, lam=1.0, steps=2, batch_size=8)
    assert h["student_sentences"].tolist() == [8, 8]
    assert (h["teacher_positions"] >= 8).all()  # at least one token per sentence
    assert teacher_passes(0, h) == 16


def test_the_on_policy_rows_are_the_students_own_samples(lang):
    student = _student(lang)
    data = lang.sample(32, seed=1)
    order = np.arange(len(data))
    batch, cursor, n_on = gkd_batch(student, data, order, 0, batch_size=8, lam=0.25, seed=5)
    assert (n_on, cursor, len(batch)) == (2, 6, 8)
    mine = sample_sentences(student, 2, seed=5)
    assert lang.decode_batch(batch)[:2] == lang.decode_batch(mine)
    assert lang.decode_batch(batch)[2:] == lang.decode_batch(data.select(np.arange(6)))


def test_a_schedule_is_called_with_step_and_total(lang):
    seen = []

    def schedule(step, n_steps):
        seen.append((step, n_steps))
        return 0.5 if step else 0.0

    h = distill_on_policy(_student(lang), lang, lang.sample(64, seed=1), lam=schedule, steps=3, batch_size=4)
    assert seen == [(0, 3), (1, 3), (2, 3)]
    assert h["student_sentences"].tolist() == [0, 2, 2]


@pytest.mark.parametrize("kwargs, err, match", [
    ({"lam": 1.5}, ValueError, "lam"),
    ({"lam": lambda s, n: 2.0}, ValueError, r"lam\(step, n_steps\)"),
    ({"lam": lambda s, n: "half"}, TypeError, r"lam\(step, n_steps\)"),
    ({"objective": "reverse"}, TypeError, "objective"),
    ({"steps": 0}, ValueError, "steps"),
    ({"lam": 0.5, "data": None}, ValueError, "data is None"),
    ({"data": np.zeros((3, 4))}, TypeError, "data"),
])
def test_bad_arguments_get_clear_errors(lang, kwargs, err, match):
    args = {"data": lang.sample(16, seed=1), "lam": 0.5, "steps": 1, "batch_size": 4}
    args.update(kwargs)
    data = args.pop("data")
    with pytest.raises(err, match=match):
        distill_on_policy(_student(lang), lang, data, **args)


def test_objectives_and_models_are_checked_up_front(lang):
    with pytest.raises(ValueError, match="beta"):
        Objective("gjsd", beta=1.0)
    with pytest.raises(ValueError, match="divergence"):
        Objective("kl")
    with pytest.raises(ValueError, match="alpha applies"):
        Objective("forward", alpha=0.1)
    tiny = ToyLanguage("tiny")
    with pytest.raises(ValueError, match="share one vocabulary"):
        distill_on_policy(WindowLM(tiny, seed=0), lang, None, lam=1.0, steps=1)
    with pytest.raises(TypeError, match="language model"):
        distill_on_policy(_student(lang), "teacher", None, lam=1.0, steps=1)
    with pytest.raises(TypeError, match="language model"):
        sample_sentences(object(), 3)
    with pytest.raises(ValueError, match="share one vocabulary"):
        position_kl(tiny, _student(lang), lang.sample(3, seed=0))


def test_training_lowers_the_on_policy_loss(lang):
    student = _student(lang)
    h = distill_on_policy(student, lang, lang.sample(800, seed=2), lam=0.5, objective=OBJECTIVES["jsd(0.5)"],
                          steps=60, batch_size=16, lr=0.02)
    assert h["loss"][-10:].mean() < 0.7 * h["loss"][:10].mean()


def test_the_update_uses_the_per_token_divergence_gradient(lang):
    """One step of the loop moves the output bias as kd_loss_and_grad's gradient (on the student's own
    samples, the forced ends masked) says, and that gradient passes check_gradient at the batch's logits."""
    student = _student(lang, seed=4)
    batch = sample_sentences(student, 3, seed=0)
    free = free_mask(batch, lang.max_len)
    t = lang.logits(batch.inputs)
    z = student.logits(batch.inputs)
    obj = Objective("skew_reverse", alpha=0.1)

    def f(x):
        return kd_loss_and_grad(x.reshape(z.shape), t, mask=free, reduction="tokenmean", **obj.kwargs())

    assert check_gradient(lambda x: (f(x)[0], f(x)[1].ravel()), z.ravel().copy()) < 1e-6
    g = f(z.ravel())[1]
    c_before = student.groups["output"][1].copy()
    distill_on_policy(student, lang, None, lam=1.0, objective=obj, steps=1, batch_size=3, lr=1e-3, seed=0)
    step = student.groups["output"][1] - c_before
    gc = g.sum(axis=(0, 1))
    big = np.abs(gc) > 1e-4  # Adam's first step is −lr·g/(|g| + eps): −lr·sign(g) where |g| ≫ eps
    assert big.sum() > 5
    np.testing.assert_allclose(step[big], -1e-3 * np.sign(gc[big]), rtol=1e-3)


def test_stack_batches_pads_and_refuses_nothing(lang):
    a, b = lang.sample(3, seed=1), lang.sample(2, seed=2)
    s = stack_batches(a, b, pad=lang.vocab.pad)
    lang.check_input(s.inputs)
    assert lang.decode_batch(s) == lang.decode_batch(a) + lang.decode_batch(b)
    with pytest.raises(ValueError, match="at least one"):
        stack_batches(pad=lang.vocab.pad)


def test_scores_of_the_teacher_against_itself(lang):
    samples = lang.sample(400, seed=3)
    ll = per_token_loglik(lang, samples)
    lp = lang.sentence_logprob(samples)
    assert ll.mean == pytest.approx(lp.sum() / samples.mask.sum(), rel=1e-9)
    assert 0 < ll.se < 0.1
    mean, se = position_kl(lang, _AsStudent(lang), samples)
    assert np.nanmax(np.abs(mean)) < 1e-9


class _AsStudent:
    def __init__(self, lang):
        self.lang, self.vocab = lang, lang.vocab

    def logits(self, X):
        return self.lang.logits(X)


def test_distinct_n_by_hand(lang):
    b = lang.batch(["the dog sleeps", "the dog sleeps", "a cat sleeps"])
    # bigrams (with </s>): the-dog, dog-sleeps, sleeps-</s> twice; a-cat, cat-sleeps, sleeps-</s>
    assert distinct_n(b, 2) == pytest.approx(5 / 9)
    assert distinct_n(b, 1) == pytest.approx(6 / 12)
    with pytest.raises(ValueError, match="n"):
        distinct_n(b, 0)


def test_exposure_bias_shows_on_the_students_own_prefixes(lang):
    student = _student(lang, seed=1)
    distill_on_policy(student, lang, lang.sample(2000, seed=5), lam=0.0, steps=150, batch_size=32, lr=0.02)
    on_teacher = position_kl(lang, student, lang.sample(600, seed=6))[0]
    on_own = position_kl(lang, student, sample_sentences(student, 600, seed=6))[0]
    n = 6
    assert np.nanmean(on_own[2:n]) > np.nanmean(on_teacher[2:n])


def test_generation_report_is_consistent(lang):
    student = _student(lang)
    ts = lang.sample(200, seed=9)
    r = generation_report(student, lang, teacher_samples=ts, n_samples=100, seed=1)
    assert r.forward_kl_rate.mean == pytest.approx(per_token_loglik(lang, ts).mean - r.coverage.mean, rel=1e-9)
    assert r.forward_kl_rate.mean > 0 and 0 < r.distinct_2 <= 1
    with pytest.raises(TypeError, match="LMBatch"):
        generation_report(student, lang, teacher_samples=None)


def test_more_bad_inputs_get_clear_errors(lang):
    from kdbook.lm.frontier import frontier_state, objective_sweep
    from kdbook.lm import LMBatch

    empty = LMBatch(np.array([[lang.vocab.bos, 0]]), np.zeros((1, 2), dtype=int), np.zeros((1, 2), dtype=bool))
    with pytest.raises(ValueError, match="no predicted tokens"):
        per_token_loglik(lang, empty)
    with pytest.raises(TypeError, match="LMBatch"):
        distinct_n([[1, 2, 3]], 2)
    with pytest.raises(TypeError, match="LMBatch"):
        stack_batches(np.zeros((2, 3)), pad=lang.vocab.pad)
    with pytest.raises(TypeError, match="SweepResult"):
        frontier_state({}, 0.5, teacher=lang, prefix="the dog")
    with pytest.raises(TypeError, match="Objective or None"):
        objective_sweep(lang, {"x": "reverse"}, [0])
    with pytest.raises(ValueError, match="non-empty dict"):
        objective_sweep(lang, {}, [0])
    with pytest.raises(ValueError, match="direction"):
        position_kl(lang, _student(lang), lang.sample(3, seed=0), direction="sideways")

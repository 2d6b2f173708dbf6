"""kdbook.train: the training loop is deterministic, learns, uses kdbook's KD loss, and rejects bad input."""
from __future__ import annotations

import numpy as np
import pytest

import kdbook
import kdbook.classify.data as kd
from kdbook.calibration import expected_calibration_error
from kdbook.classify.models import MLP, softmax_regression
from kdbook.optim import SGD
from kdbook.train import evaluate, train


@pytest.fixture(scope="module")
def blobs():
    X, y = kd.gaussian_mixture(300, n_classes=3, n_features=4, separation=4.0, seed=0)
    return kd.train_test_split(X, y, test_fraction=0.3, seed=0)


@pytest.fixture(scope="module")
def teacher(blobs):
    X_tr, _, y_tr, _ = blobs
    net = MLP([4, 32, 3], seed=0)
    train(net, X_tr, y_tr, epochs=100, lr=0.01)
    return net


def test_same_seed_gives_identical_histories_and_weights(blobs, teacher):
    X_tr, X_te, y_tr, y_te = blobs
    runs = []
    for _ in range(2):
        net = MLP([4, 8, 3], seed=3)
        hist = train(
            net, X_tr, y_tr, teacher_logits=teacher.logits(X_tr), T=2.0, hard_weight=0.5, epochs=5, batch_size=32,
            seed=11, eval_set=(X_te, y_te, teacher.logits(X_te)),
        )
        runs.append((hist, np.concatenate([p.ravel() for p in net.params])))
    (h1, w1), (h2, w2) = runs
    assert sorted(h1) == ["epoch", "eval_accuracy", "eval_ece", "eval_kl", "train_accuracy", "train_loss"]
    for key in h1:
        np.testing.assert_array_equal(h1[key], h2[key])
    np.testing.assert_array_equal(w1, w2)
    # a different batch order gives a different run
    other = MLP([4, 8, 3], seed=3)
    h3 = train(other, X_tr, y_tr, teacher_logits=teacher.logits(X_tr), T=2.0, hard_weight=0.5, epochs=5, batch_size=32, seed=12)
    assert not np.array_equal(h3["train_loss"], h1["train_loss"])


def test_loss_decreases_and_accuracy_rises_on_an_easy_problem(blobs):
    X_tr, X_te, y_tr, y_te = blobs
    net = softmax_regression(4, 3, seed=0)
    hist = train(net, X_tr, y_tr, epochs=60, lr=0.05, eval_set=(X_te, y_te))
    assert hist["train_loss"][-1] < 0.5 * hist["train_loss"][0]
    assert hist["eval_accuracy"][-1] > 0.9
    assert "eval_kl" not in hist  # no teacher given for the eval set
    np.testing.assert_array_equal(hist["epoch"], np.arange(1, 61))


def test_distillation_drives_kl_to_the_teacher_down(blobs, teacher):
    X_tr, X_te, y_tr, y_te = blobs
    net = MLP([4, 16, 3], seed=1)
    hist = train(net, X_tr, teacher_logits=teacher.logits(X_tr), T=2.0, epochs=80, lr=0.01, eval_set=(X_te, y_te, teacher.logits(X_te)))
    assert hist["eval_kl"][-1] < 0.25 * hist["eval_kl"][0]
    assert "train_accuracy" not in hist  # no labels: nothing to score training accuracy against


def test_full_batch_epoch_loss_is_kd_loss_at_the_starting_weights(blobs, teacher):
    # One full-batch epoch records the loss of the weights it started from: kdbook.kd_loss, not a re-derivation.
    X_tr, _, y_tr, _ = blobs
    v = teacher.logits(X_tr)
    for kw in [dict(hard_weight=1.0), dict(T=3.0, hard_weight=0.0, divergence="reverse"), dict(T=2.0, hard_weight=0.25)]:
        net = MLP([4, 8, 3], seed=5)
        expected = kdbook.kd_loss(net.logits(X_tr), v, labels=y_tr, **kw)
        hist = train(net, X_tr, y_tr, teacher_logits=v, epochs=1, **kw)
        assert hist["train_loss"][0] == pytest.approx(float(expected), rel=1e-12)


def test_one_sgd_step_matches_the_gradient_by_hand(blobs):
    # Full batch, plain SGD, lr 0.1: W <- W - 0.1·∂L/∂W with ∂L/∂z from kd_loss_and_grad.
    X_tr, _, y_tr, _ = blobs
    net = softmax_regression(4, 3, seed=0)
    W0, b0 = (p.copy() for p in net.params)
    _, g = kdbook.kd_loss_and_grad(X_tr @ W0 + b0, np.zeros(3), labels=y_tr, hard_weight=1.0)
    train(net, X_tr, y_tr, epochs=1, optimizer=SGD(net.params, lr=0.1, momentum=0.0))
    np.testing.assert_allclose(net.params[0], W0 - 0.1 * X_tr.T @ g, rtol=1e-12)
    np.testing.assert_allclose(net.params[1], b0 - 0.1 * g.sum(axis=0), rtol=1e-12)


def test_evaluate_matches_direct_computations(blobs, teacher):
    X_tr, X_te, y_tr, y_te = blobs
    net = MLP([4, 8, 3], seed=2)
    res = evaluate(net, X_te, y_te, teacher_logits=teacher.logits(X_te))
    z = net.logits(X_te)
    assert res["accuracy"] == pytest.approx(np.mean(z.argmax(1) == y_te))
    p, q = kdbook.softmax(teacher.logits(X_te)), kdbook.softmax(z)
    assert res["kl_to_teacher"] == pytest.approx(float(np.mean(kdbook.kl_divergence(p, q))), rel=1e-10)
    # The ECE of the model's own softmax over 15 bins (the ECE itself is checked by hand in test_calibration.py).
    assert res["ece"] == pytest.approx(expected_calibration_error(kdbook.softmax(z), y_te, n_bins=15), rel=1e-12)
    assert res["ece"] != pytest.approx(expected_calibration_error(kdbook.softmax(z, T=2.0), y_te, n_bins=15))


def test_training_prints_nothing_outside_a_notebook(blobs, capsys):
    X_tr, _, y_tr, _ = blobs
    train(softmax_regression(4, 3), X_tr, y_tr, epochs=3000, progress=None)
    train(softmax_regression(4, 3), X_tr, y_tr, epochs=2, progress=True)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


@pytest.mark.parametrize(
    "kwargs, err, msg",
    [
        (dict(labels=None), ValueError, "nothing to train on"),
        (dict(teacher=True), ValueError, "choose hard_weight"),
        (dict(hard_weight=0.5), ValueError, "needs teacher_logits"),
        (dict(labels=None, teacher=True, hard_weight=0.5), ValueError, "needs labels"),
        (dict(hard_weight=1.5), ValueError, r"hard_weight must be in \[0, 1\]"),
        (dict(teacher=True, hard_weight=0.0, T=0.0), ValueError, "T must be > 0"),
        (dict(teacher=True, hard_weight=0.0, divergence="kl"), ValueError, "divergence must be one of"),
        (dict(epochs=0), ValueError, "epochs must be >= 1"),
        (dict(batch_size=0), ValueError, "batch_size must be >= 1"),
        (dict(optimizer="rmsprop"), ValueError, "optimizer must be one of"),
        (dict(lr=-1.0), ValueError, "lr must be > 0"),
        (dict(X=np.zeros((10, 3))), ValueError, "X must have 4 features"),
        (dict(labels=np.arange(10) % 4), ValueError, r"labels must be in \[0, 2\]"),
        (dict(labels=np.zeros(9, dtype=int)), ValueError, "labels must have shape"),
        (dict(eval_set=[np.zeros((2, 4))]), TypeError, "eval_set must be a tuple"),
        (dict(progress="yes"), TypeError, "progress must be"),
        (dict(model="net"), TypeError, r"model must follow the kdbook model protocol \(kdbook.protocol.Model\): str has no params"),
        (dict(teacher_shape=(10, 4), hard_weight=0.0, labels=None), ValueError, r"teacher_logits must have shape \(10, 3\)"),
    ],
)
def test_bad_input_is_named(kwargs, err, msg):
    rng = np.random.default_rng(0)
    X = kwargs.pop("X", rng.normal(size=(10, 4)))
    labels = kwargs.pop("labels", np.arange(10) % 3)
    model = kwargs.pop("model", MLP([4, 5, 3]))
    shape = kwargs.pop("teacher_shape", (10, 3) if kwargs.pop("teacher", False) else None)
    teacher = None if shape is None else rng.normal(size=shape)
    with pytest.raises(err, match=msg):
        train(model, X, labels, teacher_logits=teacher, **kwargs)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_diverging_training_fails_loudly():
    X = np.random.default_rng(0).normal(size=(20, 2)) * 1e3
    with pytest.raises(ValueError, match="training diverged at epoch"):
        train(MLP([2, 64, 3]), X, np.arange(20) % 3, optimizer="sgd", lr=1e6, epochs=50)


def test_blas_runs_single_threaded_during_training_and_is_restored_after():
    # threadpoolctl is a declared dependency (pyproject.toml), so import it outright: a missing
    # install must fail here, not skip the only check that training pins BLAS to one thread.
    import threadpoolctl

    from kdbook.threads import one_blas_thread

    def blas_threads():
        return [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]

    before = blas_threads()
    with one_blas_thread():
        assert blas_threads() and all(n == 1 for n in blas_threads())
    assert blas_threads() == before


def test_progress_bar_fills_and_turns_green_and_is_off_outside_a_kernel(capsys):
    from kdbook.environment import in_notebook_kernel
    from kdbook.progress import TrainingProgress as _Progress

    assert not in_notebook_kernel()  # pytest is not an IPython kernel: train() stays silent
    done = _Progress(4, True)
    for epoch in range(1, 5):
        done.update(epoch)
    done.close()
    assert (done.bar.value, done.bar.max, done.bar.bar_style) == (4, 4, "success")
    stopped = _Progress(4, True)
    stopped.update(2)
    stopped.close()  # an exception mid-training leaves the bar red
    assert stopped.bar.bar_style == "danger"
    hidden = _Progress(4, False)
    hidden.update(1)
    hidden.close()
    assert hidden.bar is None
    capsys.readouterr()



def test_progress_bar_ends_with_a_summary_of_the_run_and_has_no_stale_text(monkeypatch):
    from kdbook import progress
    from kdbook.progress import TrainingProgress as _Progress

    shown = []
    monkeypatch.setattr(progress, "display", lambda obj, raw=False: shown.append((obj, raw)))
    done = _Progress(3, True)
    ((bundle, raw),) = shown
    assert raw and bundle["text/plain"] == ""  # no "IntProgress(value=0 ...)" left in saved notebooks
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == done.bar.model_id
    for epoch in range(1, 4):
        done.update(epoch)
    assert len(shown) == 1  # nothing more while training runs
    done.close()
    assert shown[-1] == ({"text/plain": "training: 3 of 3 epochs done"}, True)
    stopped = _Progress(5, True)
    stopped.update(2)
    stopped.close()
    assert shown[-1] == ({"text/plain": "training stopped after 2 of 5 epochs"}, True)


def test_progress_bar_displays_with_ipywidgets_7_which_has_no_repr_mimebundle():
    """Colab preloads ipywidgets 7.7, whose widgets have no ``_repr_mimebundle_``: the bar still shows."""
    from kdbook.progress import _view_bundle

    class OldWidget:  # what ipywidgets 7.7's IntProgress offers for display: a model id, no bundle method
        model_id = "abc123"

    assert _view_bundle(OldWidget()) == {
        "application/vnd.jupyter.widget-view+json": {"version_major": 2, "version_minor": 0, "model_id": "abc123"}}

"""train / evaluate / train_step / check_model_gradient with models that are not kdbook MLPs:
a linear classifier and a small bigram sequence model, both written here, with padding masks."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.special

import kdbook
import kdbook.classify.data as kd
from kdbook.classify.models import softmax_regression
from kdbook.optim import Adam, SGD
from kdbook.protocol import Model
from kdbook.train import evaluate, train, train_step


class Linear:
    """z = X W + b, written from scratch (not an MLP)."""

    def __init__(self, n_features, n_classes, seed=0):
        rng = np.random.default_rng(seed)
        self.params = [rng.normal(size=(n_features, n_classes)) / np.sqrt(n_features), np.zeros(n_classes)]
        self._X = None

    @property
    def n_classes(self):
        return self.params[1].size

    def check_input(self, X):
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[1] != self.params[0].shape[0]:
            raise ValueError(f"X must have shape (n, {self.params[0].shape[0]})")
        return X

    def logits(self, X):
        X = self.check_input(X)
        return X @ self.params[0] + self.params[1]

    def forward(self, X):
        self._X = self.check_input(X)
        return self.logits(X)

    def backward(self, g):
        return [self._X.T @ g, g.sum(axis=0)]


class Bigram:
    """A sequence model: the logits at position l depend on the token at l, z[n, l] = E[x[n, l]] W + b."""

    def __init__(self, vocab, dim=4, seed=0):
        rng = np.random.default_rng(seed)
        self.params = [rng.normal(size=(vocab, dim)), rng.normal(size=(dim, vocab)) / np.sqrt(dim), np.zeros(vocab)]
        self._cache = None

    @property
    def n_classes(self):
        return self.params[2].size

    def check_input(self, X):
        X = np.asarray(X)
        if X.ndim != 2 or X.dtype.kind not in "iu" or X.min() < 0 or X.max() >= self.n_classes:
            raise ValueError("X must be a 2-D array of token ids")
        return X

    def logits(self, X):
        X = self.check_input(X)
        return self.params[0][X] @ self.params[1] + self.params[2]

    def forward(self, X):
        X = self.check_input(X)
        h = self.params[0][X]
        self._cache = (X, h)
        return h @ self.params[1] + self.params[2]

    def backward(self, g):
        X, h = self._cache
        dE = np.zeros_like(self.params[0])
        np.add.at(dE, X, g @ self.params[1].T)
        return [dE, np.einsum("nld,nlv->dv", h, g), g.sum(axis=(0, 1))]


@pytest.fixture(scope="module")
def blobs():
    X, y = kd.gaussian_mixture(240, n_classes=3, n_features=4, separation=4.0, seed=1)
    return kd.train_test_split(X, y, test_fraction=0.25, seed=0)


@pytest.fixture(scope="module")
def sequences():
    """Token sequences (B, L) with right padding, a teacher bigram's logits and the mask."""
    rng = np.random.default_rng(7)
    B, L, V = 24, 9, 6
    X = rng.integers(0, V, size=(B, L))
    lengths = rng.integers(3, L + 1, size=B)
    mask = np.arange(L) < lengths[:, None]
    teacher = Bigram(V, dim=6, seed=99)
    t = 2.0 * teacher.logits(X)
    labels = t.argmax(axis=-1)
    return X, labels, t, mask


def test_the_test_models_follow_the_protocol():
    assert isinstance(Linear(2, 3), Model) and isinstance(Bigram(5), Model)
    assert not isinstance(object(), Model)


def test_a_linear_model_trains_exactly_like_the_equivalent_mlp(blobs):
    # The same maths through the same loop: a hand-written linear model initialised with the
    # weights of kdbook's softmax regression follows it step for step.
    X_tr, X_te, y_tr, y_te = blobs
    teacher = softmax_regression(4, 3, seed=5)
    train(teacher, X_tr, y_tr, epochs=40, lr=0.05)
    kw = dict(teacher_logits=teacher.logits(X_tr), T=2.0, hard_weight=0.3, epochs=30, batch_size=32, seed=3, lr=0.05,
              eval_set=(X_te, y_te, teacher.logits(X_te)))
    mlp = softmax_regression(4, 3, seed=0)
    lin = Linear(4, 3)
    lin.params[0][...], lin.params[1][...] = mlp.params
    h_mlp = train(mlp, X_tr, y_tr, **kw)
    h_lin = train(lin, X_tr, y_tr, **kw)
    assert sorted(h_lin) == sorted(h_mlp)
    for key in h_mlp:
        np.testing.assert_allclose(h_lin[key], h_mlp[key], rtol=1e-12, atol=1e-15)
    for a, b in zip(lin.params, mlp.params):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    assert h_lin["eval_accuracy"][-1] > 0.85
    assert h_lin["train_loss"][-1] < h_lin["train_loss"][0]


def test_a_sequence_model_distils_through_train_and_evaluate_with_a_mask(sequences):
    X, labels, t, mask = sequences
    t_padded = t.copy()
    t_padded[~mask] = np.nan  # the padding's teacher logits may be garbage
    labels_padded = np.where(mask, labels, -100)
    student = Bigram(6, seed=0)
    before = evaluate(student, X, labels_padded, teacher_logits=t_padded, mask=mask)
    hist = train(student, X, labels_padded, teacher_logits=t_padded, mask=mask, T=2.0, hard_weight=0.2,
                 epochs=60, batch_size=8, lr=0.05, eval_set=(X, labels_padded, t_padded, mask))
    after = evaluate(student, X, labels_padded, teacher_logits=t_padded, mask=mask)
    assert after["kl_to_teacher"] < 0.5 * before["kl_to_teacher"]
    assert after["accuracy"] > before["accuracy"]
    assert hist["eval_kl"][-1] == after["kl_to_teacher"]
    assert hist["train_accuracy"][-1] == after["accuracy"]
    assert np.all(np.isfinite(hist["train_loss"]))


def test_evaluate_on_a_sequence_model_is_the_mean_over_unmasked_tokens(sequences):
    X, labels, t, mask = sequences
    model = Bigram(6, seed=3)
    res = evaluate(model, X, labels, teacher_logits=t, mask=mask)
    z = model.logits(X)
    kls, hits = [], []
    for n, l in zip(*np.nonzero(mask)):  # an independent loop over the valid tokens
        p, q = scipy.special.softmax(t[n, l]), scipy.special.softmax(z[n, l])
        kls.append(np.sum(p * np.log(p / q)))
        hits.append(z[n, l].argmax() == labels[n, l])
    assert res["kl_to_teacher"] == pytest.approx(np.mean(kls), rel=1e-12)
    assert res["accuracy"] == pytest.approx(np.mean(hits), rel=1e-15)
    probs = scipy.special.softmax(z[mask], axis=-1)
    assert res["ece"] == pytest.approx(kdbook.calibration.expected_calibration_error(probs, labels[mask]), rel=1e-12)


def test_masked_positions_do_not_influence_training(sequences):
    X, labels, t, mask = sequences
    rng = np.random.default_rng(0)
    runs = []
    for garbage in (0.0, 1.0):
        t2, y2 = t.copy(), labels.copy()
        t2[~mask] = garbage * rng.normal(size=t2[~mask].shape) * 100
        y2[~mask] = rng.integers(0, 6, size=(~mask).sum())
        model = Bigram(6, seed=1)
        train(model, X, y2, teacher_logits=t2, mask=mask, hard_weight=0.5, epochs=3, batch_size=5)
        runs.append(model.params)
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


def test_train_step_is_one_step_of_the_token_mean_loss(sequences):
    X, labels, t, mask = sequences
    model = Bigram(6, seed=2)
    opt = SGD(model.params, lr=0.1, momentum=0.0)
    z = model.logits(X[:4])
    expected = kdbook.kd_loss(z, t[:4], T=3.0, reduction="tokenmean", mask=mask[:4])
    _, grad_z = kdbook.kd_loss_and_grad(z, t[:4], T=3.0, reduction="tokenmean", mask=mask[:4])
    model.forward(X[:4])
    expected_params = [p - 0.1 * g for p, g in zip(model.params, model.backward(grad_z))]
    loss = train_step(model, opt, X[:4], teacher_logits=t[:4], mask=mask[:4], T=3.0)
    assert loss == pytest.approx(float(expected), rel=1e-14)
    for p, e in zip(model.params, expected_params):
        np.testing.assert_allclose(p, e, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(mask=np.ones((4, 8), dtype=bool)), ValueError, r"mask must have the batch shape \(4, 9\)"),
        (dict(mask=np.ones((4, 9))), TypeError, "mask must be a boolean array"),
        (dict(mask=np.zeros((4, 9), dtype=bool)), ValueError, "mask masks every position"),
        (dict(teacher_logits=np.zeros((4, 9, 5))), ValueError, r"teacher_logits must have shape \(4, 9, 6\) \(one row of logits per position\)"),
        (dict(labels=np.zeros(4, dtype=int), hard_weight=1.0), ValueError, r"labels must have shape \(4, 9\)"),
        (dict(optimizer="adam"), TypeError, "optimizer must be a kdbook.optim.SGD or Adam"),
        (dict(optimizer=Adam([np.zeros(3)])), ValueError, "optimizer was built for other parameters"),
        (dict(model="bigram"), TypeError, "model must follow the kdbook model protocol"),
    ],
)
def test_train_step_names_bad_input(sequences, kwargs, exc, match):
    X, labels, t, mask = sequences
    model = kwargs.pop("model", Bigram(6))
    opt = kwargs.pop("optimizer", None) or (Adam(model.params) if not isinstance(model, str) else None)
    kw = dict(teacher_logits=t[:4], mask=mask[:4])
    kw.update(kwargs)
    with pytest.raises(exc, match=match):
        train_step(model, opt, X[:4], **kw)


def test_train_rejects_an_all_padding_mask(sequences):
    X, labels, t, mask = sequences
    with pytest.raises(ValueError, match="mask masks every position"):
        train(Bigram(6), X, teacher_logits=t, mask=np.zeros_like(mask))


def test_check_model_gradient_passes_right_backward_passes_and_catches_a_wrong_one(sequences):
    X = sequences[0][:3]
    assert kdbook.check_model_gradient(Bigram(6, seed=4), X, rtol=1e-6) < 1e-6
    assert kdbook.check_model_gradient(Linear(3, 4), np.random.default_rng(0).normal(size=(5, 3))) < 1e-7
    net = kdbook.classify.models.MLP([3, 5, 4], activation="tanh", seed=0)
    before = [p.copy() for p in net.params]
    assert kdbook.check_model_gradient(net, np.random.default_rng(1).normal(size=(6, 3))) < 1e-7
    for a, b in zip(net.params, before):  # the parameters are restored
        np.testing.assert_array_equal(a, b)

    class Wrong(Bigram):
        def backward(self, g):
            grads = super().backward(g)
            grads[2] = grads[2] * 0.9  # a bias gradient 10 % too small
            return grads

    with pytest.raises(AssertionError, match="gradient check failed"):
        kdbook.check_model_gradient(Wrong(6), X, rtol=1e-4)

"""Chapter 5's experiments re-run on ten teacher/student seeds, for tests/claims/test_ch05_*.py.

Built from kdbook's data, model and training functions with the notebook's settings (sizes, epochs,
learning rates, temperatures), not from the notebook's cells: seed k trains the teacher with seed k
and every student with seed k (the notebook prints seed 0's teacher with students 0-2 or 0-4).
"""
from __future__ import annotations

import functools

import numpy as np

import kdbook.classify.data as kd
from kdbook.classify.models import MLP, shift_class_bias
from kdbook.train import evaluate, train

SEEDS = tuple(range(10))


@functools.lru_cache(maxsize=1)
def spirals():
    X, y = kd.spirals(3000, n_classes=3, noise=0.08, seed=0)
    return kd.train_test_split(X, y, test_fraction=0.5, seed=0)


@functools.lru_cache(maxsize=None)
def teacher(seed: int) -> MLP:
    X_train, _, y_train, _ = spirals()
    model = MLP([2, 64, 64, 3], seed=seed)
    train(model, X_train, y_train, epochs=400, lr=0.01, progress=False)
    return model


@functools.lru_cache(maxsize=1)
def three_ways() -> dict:
    """Section 2: per seed, [accuracy, KL to teacher, ECE] of the hard-label, soft-target (T = 2),
    combined (w = 0.1, T = 2) and teacher's-argmax students (600 epochs), and the teacher's ECE."""
    X_train, X_test, y_train, y_test = spirals()
    out = {name: [] for name in ("hard labels", "soft targets", "combined", "argmax", "teacher")}
    for seed in SEEDS:
        t = teacher(seed)
        v_train, v_test = t.logits(X_train), t.logits(X_test)
        ways = {"hard labels": dict(labels=y_train), "soft targets": dict(teacher_logits=v_train, T=2.0),
                "combined": dict(labels=y_train, teacher_logits=v_train, T=2.0, hard_weight=0.1),
                "argmax": dict(labels=v_train.argmax(axis=1))}
        for name, loss in ways.items():
            student = MLP([2, 8, 8, 3], seed=seed)
            train(student, X_train, epochs=600, lr=0.01, progress=False, **loss)
            r = evaluate(student, X_test, y_test, teacher_logits=v_test)
            out[name].append([r["accuracy"], r["kl_to_teacher"], r["ece"]])
        r = evaluate(t, X_test, y_test)
        out["teacher"].append([r["accuracy"], 0.0, r["ece"]])
    return {k: np.array(v) for k, v in out.items()}


@functools.lru_cache(maxsize=1)
def tiny_transfer() -> dict:
    """Section 3: per seed, (train accuracy, test accuracy) of the hard-label and soft-target (T = 4)
    students with the teacher's architecture on a 3 % transfer set (400 epochs)."""
    X_train, X_test, y_train, y_test = spirals()
    out = {"hard labels": [], "soft targets": []}
    for seed in SEEDS:
        X_s, y_s = kd.transfer_subset(X_train, y_train, fraction=0.03, seed=seed)
        v_s = teacher(seed).logits(X_s)
        for name, loss in {"hard labels": dict(labels=y_s), "soft targets": dict(teacher_logits=v_s, T=4.0)}.items():
            student = MLP([2, 64, 64, 3], seed=seed)
            train(student, X_s, epochs=400, lr=0.01, progress=False, **loss)
            out[name].append([np.mean(student.predict(X_s) == y_s), evaluate(student, X_test, y_test)["accuracy"]])
    return {k: np.array(v) for k, v in out.items()}


@functools.lru_cache(maxsize=1)
def missing_class() -> dict:
    """Section 4: per seed, (errors, errors on class 3) before and after the validation-chosen bias
    shift, for the hard-label and soft-target (T = 8) students and the teacher (which saw class 3)."""
    omit = 3
    Xg, yg = kd.gaussian_mixture(3000, n_classes=5, n_features=8, components_per_class=2, separation=1.5, seed=0)
    Xg_train, Xg_test, yg_train, yg_test = kd.train_test_split(Xg, yg, test_fraction=0.4, seed=0)
    Xg_train, Xg_val, yg_train, yg_val = kd.train_test_split(Xg_train, yg_train, test_fraction=0.25, seed=1)
    X_t, y_t = kd.drop_class(Xg_train, yg_train, omit)
    shifts = np.arange(0.0, 15.01, 0.25)

    def errors(model):
        pred = model.predict(Xg_test)
        return int(np.sum(pred != yg_test)), int(np.sum(pred[yg_test == omit] != omit))

    def corrected(model):
        val = [np.mean(shift_class_bias(model, omit, s).predict(Xg_val) == yg_val) for s in shifts]
        return shift_class_bias(model, omit, float(shifts[int(np.argmax(val))]))

    out = {"hard labels": [], "soft targets": [], "teacher": [], "n_omit": int(np.sum(yg_test == omit))}
    for seed in SEEDS:
        g_teacher = MLP([8, 64, 64, 5], seed=seed)
        train(g_teacher, Xg_train, yg_train, epochs=300, lr=0.01, progress=False)
        v_t = g_teacher.logits(X_t)
        out["teacher"].append(errors(g_teacher))
        for name, loss in {"hard labels": dict(labels=y_t), "soft targets": dict(teacher_logits=v_t, T=8.0)}.items():
            student = MLP([8, 32, 5], seed=seed)
            train(student, X_t, epochs=400, lr=0.01, progress=False, **loss)
            out[name].append(errors(student) + errors(corrected(student)))
    return {k: (np.array(v) if isinstance(v, list) else v) for k, v in out.items()}


TEMPERATURES = (1.0, 2.0, 4.0, 8.0, 16.0)


@functools.lru_cache(maxsize=1)
def temperature_sweep() -> dict:
    """Section 5: test accuracy (temperatures × seeds) of the tiny (2-8-3) and larger (2-32-32-3)
    students distilled on a 10 % transfer set for 300 epochs."""
    X_train, X_test, y_train, y_test = spirals()
    sizes = {"tiny": [2, 8, 3], "larger": [2, 32, 32, 3]}
    acc = {name: np.zeros((len(TEMPERATURES), len(SEEDS))) for name in sizes}
    for j, seed in enumerate(SEEDS):
        X_s, _ = kd.transfer_subset(X_train, y_train, fraction=0.1, seed=seed)
        v_s = teacher(seed).logits(X_s)
        for name, layer_sizes in sizes.items():
            for i, T in enumerate(TEMPERATURES):
                student = MLP(layer_sizes, seed=seed)
                train(student, X_s, teacher_logits=v_s, T=T, epochs=300, lr=0.01, progress=False)
                acc[name][i, j] = evaluate(student, X_test, y_test)["accuracy"]
    return acc

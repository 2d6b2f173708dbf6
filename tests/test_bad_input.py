"""The bad-input catalogue: every invalid input gets a clear error naming the argument and the fault.

Each case is (call, exception type, regex the message must match). A case passes only if the call
raises exactly that type with that message: no silent NaN, no numpy error from deep inside.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import kdbook

P = np.array([[0.5, 0.3, 0.2], [0.1, 0.6, 0.3], [0.2, 0.2, 0.6]])
Q = np.array([[0.4, 0.4, 0.2], [0.3, 0.3, 0.4], [0.25, 0.25, 0.5]])
Z = np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]])
V = np.array([[0.5, 1.0, 0.0], [2.0, -1.0, 1.0]])
LABELS = np.array([2, 0])

#: Every public function that takes probabilities, as f(p, q, **kw) (entropy ignores q).
PROB_FUNCS = {
    "entropy": lambda p, q, **kw: kdbook.entropy(p, **kw),
    "cross_entropy": kdbook.cross_entropy,
    "kl_divergence": kdbook.kl_divergence,
    "reverse_kl_divergence": kdbook.reverse_kl_divergence,
    "js_divergence": kdbook.js_divergence,
    "generalized_js_divergence": lambda p, q, **kw: kdbook.generalized_js_divergence(p, q, beta=0.3, **kw),
    "skew_kl_divergence": lambda p, q, **kw: kdbook.skew_kl_divergence(p, q, alpha=0.3, **kw),
    "total_variation": kdbook.total_variation,
}
PAIR_FUNCS = {k: f for k, f in PROB_FUNCS.items() if k != "entropy"}
LOGIT_FUNCS = {"softmax": kdbook.softmax, "log_softmax": kdbook.log_softmax}


def _with(arr, index, value):
    out = np.array(arr, dtype=float)
    out[index] = value
    return out


def _kd(**overrides):
    """kd_loss and kd_loss_and_grad with valid defaults and the given arguments replaced."""
    kw = dict(student_logits=Z, teacher_logits=V, T=2.0, labels=LABELS, hard_weight=0.3)
    kw.update(overrides)
    s, t = kw.pop("student_logits"), kw.pop("teacher_logits")
    return [lambda: kdbook.kd_loss(s, t, **kw), lambda: kdbook.kd_loss_and_grad(s, t, **kw)]


def _cases():
    cases = []

    def add(name, call, exc, match):
        cases.append(pytest.param(call, exc, match, id=name))

    # ---- probabilities: non-finite, negative, not summing to 1 (row and sum named), for p and q
    for fname, fn in PROB_FUNCS.items():
        args = ["p"] if fname == "entropy" else ["p", "q"]
        for arg in args:
            for bad, what in [(np.nan, "nan"), (np.inf, "inf"), (-np.inf, "-inf")]:
                p = _with(P, (1, 2), bad) if arg == "p" else P
                q = _with(Q, (1, 2), bad) if arg == "q" else Q
                add(f"{fname}-{arg}-{what}", lambda fn=fn, p=p, q=q: fn(p, q), ValueError,
                    rf"{arg} must be finite and non-negative: {arg} \(row 1\) contains NaN or inf")
            p = _with(P, 2, [0.7, 0.5, -0.2]) if arg == "p" else P
            q = _with(Q, 2, [0.7, 0.5, -0.2]) if arg == "q" else Q
            add(f"{fname}-{arg}-negative", lambda fn=fn, p=p, q=q: fn(p, q), ValueError,
                rf"{arg} must be finite and non-negative: {arg} \(row 2\) has a negative entry \(-0\.2\)")
            p = _with(P, 1, [0.1, 0.6, 0.2]) if arg == "p" else P
            q = _with(Q, 1, [0.1, 0.6, 0.2]) if arg == "q" else Q
            add(f"{fname}-{arg}-sum", lambda fn=fn, p=p, q=q: fn(p, q), ValueError,
                rf"{arg} must sum to 1 along axis -1 \(row 1 sums to 0\.9\); tolerance 1e-06")
        add(f"{fname}-unnormalised-1d", lambda fn=fn: fn([0.5, 0.6], [0.5, 0.5]), ValueError,
            r"p must sum to 1 along axis -1 \(it sums to 1\.1\)")
        add(f"{fname}-row-of-3d-batch", lambda fn=fn: fn(np.stack([P, _with(P, 1, [0.2, 0.2, 0.2])]), Q),
            ValueError, r"p must sum to 1 along axis -1 \(row \(1, 1\) sums to 0\.6\)")
        add(f"{fname}-sum-along-axis-0", lambda fn=fn: fn(P, Q, axis=0), ValueError,
            r"p must sum to 1 along axis -2 \(row 0 sums to 0\.8\)")
        # ---- base, axis, empty class axis, dtypes, scalars, ragged lists
        for base, exc, msg in [
            (1, ValueError, r"base must not be 1"),
            (1.0, ValueError, r"base must not be 1"),
            (0, ValueError, r"base must be > 0, got 0"),
            (-2, ValueError, r"base must be > 0, got -2"),
            (np.nan, ValueError, r"base must be finite, got nan"),
            ("2", TypeError, r"base must be a real number, got str"),
            (True, TypeError, r"base must be a real number, got bool"),
        ]:
            add(f"{fname}-base-{base!r}", lambda fn=fn, base=base: fn(P, Q, base=base), exc, msg)
        for axis, exc, msg in [
            (2, ValueError, r"axis=2 is out of range for an array with 2 dimension\(s\)"),
            (-3, ValueError, r"axis=-3 is out of range"),
            (1.0, TypeError, r"axis must be an int, got float"),
            (True, TypeError, r"axis must be an int, got bool"),
            ("-1", TypeError, r"axis must be an int, got str"),
            (None, TypeError, r"axis must be an int, got NoneType"),
        ]:
            add(f"{fname}-axis-{axis!r}", lambda fn=fn, axis=axis: fn(P, Q, axis=axis), exc, msg)
        add(f"{fname}-empty-classes", lambda fn=fn: fn(np.empty((3, 0)), np.empty((3, 0))), ValueError,
            r"p has no classes: axis -1 has length 0")
        add(f"{fname}-complex", lambda fn=fn: fn(P.astype(complex), Q), TypeError,
            r"p must be real-valued, got complex dtype complex128")
        add(f"{fname}-object", lambda fn=fn: fn(P.astype(object), Q), TypeError,
            r"p must be an array of numbers, got a ragged or object array")
        add(f"{fname}-strings", lambda fn=fn: fn(["0.5", "0.5"], [0.5, 0.5]), TypeError,
            r"p must be an array of numbers, got dtype <U3")
        add(f"{fname}-scalar", lambda fn=fn: fn(1.0, 1.0), ValueError,
            r"p must have at least one dimension \(the class axis\), got a scalar")
        add(f"{fname}-ragged", lambda fn=fn: fn([[0.5, 0.5], [1.0]], [0.5, 0.5]), ValueError,
            r"p must be a rectangular array of numbers")
    for fname, fn in PAIR_FUNCS.items():
        add(f"{fname}-q-complex", lambda fn=fn: fn(P, Q.astype(complex)), TypeError, r"q must be real-valued")
        add(f"{fname}-q-strings", lambda fn=fn: fn([0.5, 0.5], ["a", "b"]), TypeError,
            r"q must be an array of numbers, got dtype <U1")
        add(f"{fname}-shapes", lambda fn=fn: fn(P, Q[:, :2]), ValueError,
            r"p and q must broadcast together; got shapes \(3, 3\) and \(3, 2\)")
        add(f"{fname}-batch-shapes", lambda fn=fn: fn(P, Q[:2]), ValueError,
            r"p and q must broadcast together; got shapes \(3, 3\) and \(2, 3\)")

    # ---- alpha and beta
    for name, fn in [("beta", kdbook.generalized_js_divergence), ("alpha", kdbook.skew_kl_divergence)]:
        for value, exc, msg in [
            (-0.1, ValueError, rf"{name} must be in \[0, 1\], got -0\.1"),
            (1.5, ValueError, rf"{name} must be in \[0, 1\], got 1\.5"),
            (np.nan, ValueError, rf"{name} must be finite, got nan"),
            (np.inf, ValueError, rf"{name} must be finite, got inf"),
            (True, TypeError, rf"{name} must be a real number, got bool"),
            ("0.5", TypeError, rf"{name} must be a real number, got str"),
            (None, TypeError, rf"{name} must be a real number, got NoneType"),
        ]:
            add(f"{name}-{value!r}", lambda fn=fn, name=name, value=value: fn(P, Q, **{name: value}), exc, msg)

    # ---- temperature and logits for softmax / log_softmax
    T_CASES = [
        (0, ValueError, r"T must be > 0, got 0"),
        (-1.5, ValueError, r"T must be > 0, got -1\.5"),
        (np.nan, ValueError, r"T must be finite, got nan"),
        (np.inf, ValueError, r"T must be finite, got inf"),
        (True, TypeError, r"T must be a real number, got bool"),
        ("2", TypeError, r"T must be a real number, got str"),
        (None, TypeError, r"T must be a real number, got NoneType"),
    ]
    for fname, fn in LOGIT_FUNCS.items():
        for T, exc, msg in T_CASES:
            add(f"{fname}-T-{T!r}", lambda fn=fn, T=T: fn(Z, T=T), exc, msg)
        for bad in (np.nan, np.inf, -np.inf):
            add(f"{fname}-logit-{bad}", lambda fn=fn, bad=bad: fn(_with(Z, (1, 2), bad)), ValueError,
                rf"z must be finite: z\[1, 2\] is {bad}")
        add(f"{fname}-empty", lambda fn=fn: fn(np.empty((2, 0))), ValueError, r"z has no classes")
        add(f"{fname}-axis", lambda fn=fn: fn(Z, axis=2), ValueError, r"axis=2 is out of range")
        add(f"{fname}-axis-type", lambda fn=fn: fn(Z, axis=0.0), TypeError, r"axis must be an int, got float")
        add(f"{fname}-complex", lambda fn=fn: fn(Z.astype(complex)), TypeError, r"z must be real-valued")
        add(f"{fname}-object", lambda fn=fn: fn(Z.astype(object)), TypeError, r"z must be an array of numbers")
        add(f"{fname}-strings", lambda fn=fn: fn(["1", "2"]), TypeError, r"z must be an array of numbers, got dtype")
        add(f"{fname}-scalar", lambda fn=fn: fn(3.0), ValueError, r"z must have at least one dimension")

    # ---- kd_loss and kd_loss_and_grad
    kd_cases = []
    for T, exc, msg in T_CASES:
        kd_cases.append((f"T-{T!r}", {"T": T}, exc, msg))
    for value, exc, msg in [
        (-0.01, ValueError, r"hard_weight must be in \[0, 1\], got -0\.01"),
        (1.01, ValueError, r"hard_weight must be in \[0, 1\], got 1\.01"),
        (np.nan, ValueError, r"hard_weight must be finite, got nan"),
        (False, TypeError, r"hard_weight must be a real number, got bool"),
        ("0.5", TypeError, r"hard_weight must be a real number, got str"),
    ]:
        kd_cases.append((f"hard_weight-{value!r}", {"hard_weight": value}, exc, msg))
    kd_cases += [
        ("labels-missing", {"labels": None}, ValueError, r"labels are required when hard_weight > 0 \(hard_weight=0\.3\)"),
        ("labels-whole-floats", {"labels": np.array([2.0, 0.0])}, TypeError,
         r"labels must be integers, got dtype float64; use labels\.astype\(int\)"),
        ("labels-fractional", {"labels": np.array([0.5, 1.0])}, TypeError,
         r"labels must be an integer array of class indices, got dtype float64"),
        ("labels-bool", {"labels": np.array([True, False])}, TypeError, r"labels must be an integer array .* bool"),
        ("labels-strings", {"labels": ["a", "b"]}, TypeError, r"labels must be an integer array .* <U1"),
        ("labels-too-large", {"labels": np.array([3, 0])}, ValueError,
         r"labels must be in \[0, 2\] for 3 classes, found 3"),
        ("labels-negative", {"labels": np.array([0, -1])}, ValueError, r"labels must be in \[0, 2\] .* found -1"),
        ("labels-too-many", {"labels": np.array([0, 1, 2])}, ValueError,
         r"labels must have shape \(2,\) \(one class index per example\), got \(3,\)"),
        ("labels-2d", {"labels": np.array([[0], [1]])}, ValueError, r"labels must have shape \(2,\)"),
        ("labels-scalar-for-batch", {"labels": 1}, ValueError, r"labels must have shape \(2,\) .* got \(\)"),
        ("labels-checked-even-when-unused", {"labels": np.array([5, 0]), "hard_weight": 0.0}, ValueError,
         r"labels must be in \[0, 2\]"),
        ("divergence-unknown", {"divergence": "kl"}, ValueError,
         r"divergence must be one of 'forward', 'reverse', 'jsd', 'gjsd', 'skew_forward', 'skew_reverse'; got 'kl'"),
        ("divergence-case", {"divergence": "Forward"}, ValueError, r"divergence must be one of .* got 'Forward'"),
        ("divergence-none", {"divergence": None}, ValueError, r"divergence must be one of .* got None"),
        ("reduction-mean", {"reduction": "mean"}, ValueError,
         r"reduction must be one of 'batchmean', 'tokenmean', 'sum', 'none'; got 'mean'"),
        ("reduction-none-object", {"reduction": None}, ValueError, r"reduction must be one of .* got None"),
        ("teacher-shape", {"teacher_logits": V[:, :2]}, ValueError,
         r"teacher_logits must broadcast to the shape of student_logits \(2, 3\); got \(2, 2\)"),
        ("student-smaller-than-teacher", {"student_logits": Z[0], "labels": 0}, ValueError,
         r"teacher_logits must broadcast to the shape of student_logits \(3,\); got \(2, 3\)"),
        ("empty-classes", {"student_logits": np.empty((2, 0)), "teacher_logits": np.empty((2, 0))}, ValueError,
         r"student_logits has no classes"),
        ("student-nan", {"student_logits": _with(Z, (0, 1), np.nan)}, ValueError,
         r"student_logits must be finite: student_logits\[0, 1\] is nan"),
        ("student-inf", {"student_logits": _with(Z, (1, 0), np.inf)}, ValueError,
         r"student_logits must be finite: student_logits\[1, 0\] is inf"),
        ("teacher-minus-inf", {"teacher_logits": _with(V, (1, 2), -np.inf)}, ValueError,
         r"teacher_logits must be finite: teacher_logits\[1, 2\] is -inf"),
        ("teacher-nan-with-only-hard-term", {"teacher_logits": _with(V, (0, 0), np.nan), "hard_weight": 1.0},
         ValueError, r"teacher_logits must be finite"),
        ("student-complex", {"student_logits": Z.astype(complex)}, TypeError, r"student_logits must be real-valued"),
        ("teacher-object", {"teacher_logits": V.astype(object)}, TypeError,
         r"teacher_logits must be an array of numbers, got a ragged or object array"),
        ("teacher-strings", {"teacher_logits": "abc"}, TypeError, r"teacher_logits must be an array of numbers"),
        ("student-scalar", {"student_logits": 1.0}, ValueError, r"student_logits must have at least one dimension"),
        ("student-ragged", {"student_logits": [[1.0, 2.0], [3.0]]}, ValueError,
         r"student_logits must be a rectangular array"),
    ]
    for name, overrides, exc, msg in kd_cases:
        for fn_name, call in zip(("kd_loss", "kd_loss_and_grad"), _kd(**overrides)):
            add(f"{fn_name}-{name}", call, exc, msg)

    # ---- gradient checking
    def quad(x):
        return (x**2).sum(), 2 * x

    add("check_gradient-f-not-callable", lambda: kdbook.check_gradient(3, np.zeros(2)), TypeError,
        r"f must be callable, got int")
    add("check_gradient-grad-not-callable", lambda: kdbook.check_gradient(quad, np.zeros(2), grad=np.ones(2)),
        TypeError, r"grad must be callable or None, got ndarray")
    add("check_gradient-f-returns-loss-only", lambda: kdbook.check_gradient(lambda x: x.sum(), np.zeros(2)),
        TypeError, r"f must return \(loss, gradient\) when grad is not given")
    add("check_gradient-grad-shape", lambda: kdbook.check_gradient(lambda x: (x.sum(), np.ones(3)), np.zeros(2)),
        ValueError, r"the analytic gradient has shape \(3,\), but x has shape \(2,\)")
    add("check_gradient-vector-loss", lambda: kdbook.check_gradient(lambda x: (x, x), np.zeros(2)), ValueError,
        r"f must return a scalar loss, got an array of shape \(2,\)")
    add("check_gradient-nan", lambda: kdbook.check_gradient(lambda x: (x.sum(), np.full(2, np.nan)), np.zeros(2)),
        ValueError, r"non-finite error: f or its gradient returned NaN or inf")
    add("check_gradient-rtol", lambda: kdbook.check_gradient(quad, np.ones(2), rtol=0), ValueError,
        r"rtol must be > 0, got 0")
    add("check_gradient-eps", lambda: kdbook.check_gradient(quad, np.ones(2), eps=-1e-6), ValueError,
        r"eps must be > 0")
    add("check_gradient-x-strings", lambda: kdbook.check_gradient(quad, ["a"]), TypeError,
        r"x must be an array of numbers")
    add("numerical_gradient-eps", lambda: kdbook.numerical_gradient(lambda x: x.sum(), np.ones(2), eps=0),
        ValueError, r"eps must be > 0, got 0")
    return cases


@pytest.mark.parametrize("call, exc, match", _cases())
def test_bad_input_raises_a_clear_error(call, exc, match):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a numpy RuntimeWarning on the way would mean work on bad data
        with pytest.raises(exc, match=match) as info:
            call()
    assert type(info.value) is exc  # not a subclass from deeper down (e.g. numpy's AxisError)


def test_shared_probability_check_accepts_a_negative_axis():
    # Callers outside divergences.py (calibration, plotting) pass axis=-1; the message must say -1.
    from kdbook import _validate

    with pytest.raises(ValueError, match=r"probs must sum to 1 along axis -1 \(row 0 sums to 1\.1\)"):
        _validate.check_probabilities(np.array([[0.5, 0.6]]), "probs", -1)


def test_valid_versions_of_the_catalogue_inputs_pass():
    # The counterpart of the catalogue: the same calls with the faults removed return numbers.
    for fn in PROB_FUNCS.values():
        assert np.all(np.isfinite(fn(P, Q))) and np.all(np.isfinite(fn(P, Q, base=2)))
    for fn in LOGIT_FUNCS.values():
        assert np.all(np.isfinite(fn(Z, T=2.0)))
    loss = _kd()[0]()
    loss2, grad = _kd()[1]()
    assert np.isfinite(loss) and loss == loss2 and np.all(np.isfinite(grad))
    assert kdbook.check_gradient(lambda x: ((x**2).sum(), 2 * x), np.ones(2), rtol=1e-6) < 1e-6

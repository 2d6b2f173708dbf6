"""Chapter 3's wrong-answer catalogue (format: tests/wrong_answers/__init__.py)."""

WRONG = {
    "03.softmax_t": {
        "naive: no maximum subtracted (overflows)": '''
import numpy as np
def softmax_T(z, T=1.0):
    e = np.exp(np.asarray(z, dtype=float) / T)
    return e / e.sum(axis=-1, keepdims=True)
''',
        "maximum over the whole array, not per row": '''
import numpy as np
def softmax_T(z, T=1.0):
    u = np.asarray(z, dtype=float) / T
    e = np.exp(u - u.max())
    return e / e.sum(axis=-1, keepdims=True)
''',
        "multiplied by T": '''
import numpy as np
def softmax_T(z, T=1.0):
    u = np.asarray(z, dtype=float) * T
    e = np.exp(u - u.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)
''',
        "normalised over axis 0": '''
import numpy as np
def softmax_T(z, T=1.0):
    u = np.asarray(z, dtype=float) / T
    e = np.exp(u - u.max(axis=-1, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)
''',
        "T ignored": '''
import numpy as np
def softmax_T(z, T=1.0):
    u = np.asarray(z, dtype=float)
    e = np.exp(u - u.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)
''',
    },
    "03.temperature_for_entropy": {
        "entropy in nats": '''
import numpy as np, kdbook
def temperature_for_entropy(z, bits):
    lo, hi = np.log(1e-3), np.log(1e3)
    for _ in range(100):
        mid = (lo + hi) / 2
        if kdbook.entropy(kdbook.softmax(z, T=np.exp(mid))) < bits:
            lo = mid
        else:
            hi = mid
    return float(np.exp((lo + hi) / 2))
''',
        "bisection branches inverted": '''
import numpy as np, kdbook
def temperature_for_entropy(z, bits):
    lo, hi = np.log(1e-3), np.log(1e3)
    for _ in range(100):
        mid = (lo + hi) / 2
        if kdbook.entropy(kdbook.softmax(z, T=np.exp(mid)), base=2) < bits:
            hi = mid
        else:
            lo = mid
    return float(np.exp((lo + hi) / 2))
''',
        "a grid of ten temperatures": '''
import numpy as np, kdbook
def temperature_for_entropy(z, bits):
    grid = np.geomspace(0.1, 10, 10)
    h = [kdbook.entropy(kdbook.softmax(z, T=T), base=2) for T in grid]
    return float(grid[int(np.argmin(np.abs(np.array(h) - bits)))])
''',
        "returns log T": '''
import numpy as np, kdbook
def temperature_for_entropy(z, bits):
    lo, hi = np.log(1e-3), np.log(1e3)
    for _ in range(100):
        mid = (lo + hi) / 2
        if kdbook.entropy(kdbook.softmax(z, T=np.exp(mid)), base=2) < bits:
            lo = mid
        else:
            hi = mid
    return float((lo + hi) / 2)
''',
    },
    "03.grad_norms": {
        "no 1/T of the chain rule": '''
import numpy as np, kdbook
from kdbook.grading.ch03 import TEACHER_LOGITS as v, STUDENT_LOGITS as z, TEMPERATURES as Ts
grad_norms = np.array([[np.linalg.norm(kdbook.softmax(z, T=T) - kdbook.softmax(v, T=T)) * T**k for T in Ts]
                       for k in (0, 2)])
''',
        "row 1 times T, not T²": '''
import numpy as np, kdbook
from kdbook.grading.ch03 import TEACHER_LOGITS as v, STUDENT_LOGITS as z, TEMPERATURES as Ts
grad_norms = np.array([[np.linalg.norm((kdbook.softmax(z, T=T) - kdbook.softmax(v, T=T)) / T) * T**k for T in Ts]
                       for k in (0, 1)])
''',
        "rows swapped": '''
import numpy as np, kdbook
from kdbook.grading.ch03 import TEACHER_LOGITS as v, STUDENT_LOGITS as z, TEMPERATURES as Ts
grad_norms = np.array([[np.linalg.norm((kdbook.softmax(z, T=T) - kdbook.softmax(v, T=T)) / T) * T**k for T in Ts]
                       for k in (2, 0)])
''',
    },
    "03.why_t_squared": {
        "the gradient grows with T": 'why_t_squared_claims = {"b", "d"}',
        "the true ones plus 'no longer sums to 1'": 'why_t_squared_claims = {"a", "c", "e", "f"}',
        "two of the true ones": 'why_t_squared_claims = {"a", "c"}',
    },
    "03.predict_doubled": {
        "a": 'predict_doubled = "a"',
        "c": 'predict_doubled = "c"',
        "d": 'predict_doubled = "d"',
    },
    "03.soft_targets": {
        "baseline: label smoothing to the entropy": '''
from kdbook.grading.ch03 import smoothed_to_entropy
import kdbook
def soft_targets(v, bits):
    p = kdbook.softmax(v)
    if kdbook.entropy(p, base=2) <= bits:
        return smoothed_to_entropy(p, bits)
    return kdbook.softmax(v, T=1.0)
''',
        "constant: the teacher unchanged": '''
import kdbook
def soft_targets(v, bits):
    return kdbook.softmax(v)
''',
        "temperature found for nats, not bits": '''
import numpy as np, kdbook
def soft_targets(v, bits):
    lo, hi = np.log(1e-3), np.log(1e3)
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if kdbook.entropy(kdbook.softmax(v, T=np.exp(mid))) < bits else (lo, mid)
    return kdbook.softmax(v, T=np.exp(lo))
''',
        "label smoothing for every target (cannot sharpen)": '''
import numpy as np, kdbook
def soft_targets(v, bits):
    p = kdbook.softmax(v)
    lo, hi = 0.0, 1.0
    for _ in range(100):
        eps = (lo + hi) / 2
        q = (1 - eps) * p + eps / p.size
        lo, hi = (eps, hi) if kdbook.entropy(q, base=2) < bits else (lo, eps)
    return (1 - lo) * p + lo / p.size
''',
    },
}

VALID = {
    "03.softmax_t": {
        "log-sum-exp by hand": '''
import numpy as np
def softmax_T(z, T=1.0):
    u = np.asarray(z, dtype=float) / T
    m = u.max(axis=-1, keepdims=True)
    return np.exp(u - m - np.log(np.exp(u - m).sum(axis=-1, keepdims=True)))
''',
        "float32": '''
import numpy as np
def softmax_T(z, T=1.0):
    u = np.asarray(z, dtype=np.float32) / np.float32(T)
    e = np.exp(u - u.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)
''',
    },
    "03.temperature_for_entropy": {
        "scipy.optimize.brentq on log T": '''
import numpy as np, scipy.optimize, scipy.special, scipy.stats
def temperature_for_entropy(z, bits):
    f = lambda t: scipy.stats.entropy(scipy.special.softmax(np.asarray(z) / np.exp(t)), base=2) - bits
    return float(np.exp(scipy.optimize.brentq(f, np.log(1e-3), np.log(1e3), xtol=1e-12)))
''',
    },
    "03.grad_norms": {
        "row 1 from kdbook.kd_loss_and_grad (batch of one)": '''
import numpy as np, kdbook
from kdbook.grading.ch03 import TEACHER_LOGITS as v, STUDENT_LOGITS as z, TEMPERATURES as Ts
with_t2 = np.array([np.linalg.norm(kdbook.kd_loss_and_grad(z[None], v[None], T=T)[1]) for T in Ts])
grad_norms = np.stack([with_t2 / Ts**2, with_t2]).astype(np.float32)
''',
    },
    "03.why_t_squared": {"a string": 'why_t_squared_claims = "a c e"'},
    "03.predict_doubled": {"upper case": 'predict_doubled = "B"'},
    "03.soft_targets": {
        "scipy: brentq on the temperature": '''
import numpy as np, scipy.optimize, scipy.special, scipy.stats
def soft_targets(v, bits):
    v = np.asarray(v, dtype=float)
    f = lambda t: scipy.stats.entropy(scipy.special.softmax(v / np.exp(t)), base=2) - bits
    return scipy.special.softmax(v / np.exp(scipy.optimize.brentq(f, np.log(1e-4), np.log(1e4), xtol=1e-12)))
''',
        "a power of the teacher, q ∝ p**β": '''
import numpy as np, kdbook
def soft_targets(v, bits):
    logp = kdbook.log_softmax(v)
    lo, hi = -10.0, 10.0
    for _ in range(80):
        mid = (lo + hi) / 2
        q = kdbook.softmax(np.exp(mid) * logp)
        lo, hi = (lo, mid) if kdbook.entropy(q, base=2) < bits else (mid, hi)
    return kdbook.softmax(np.exp((lo + hi) / 2) * logp)
''',
    },
}

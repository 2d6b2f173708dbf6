"""Chapter 2's wrong-answer catalogue (format: tests/wrong_answers/__init__.py)."""

WRONG = {
    "02.kl_scratch": {
        "log2 instead of ln": '''
import numpy as np
def kl_scratch(p, q):
    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(p > 0, p * (np.log2(p) - np.log2(q)), 0.0).sum(axis=-1)
''',
        "p and q swapped": '''
import numpy as np
def kl_scratch(p, q):
    p, q = np.asarray(q, dtype=float), np.asarray(p, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(p > 0, p * (np.log(p) - np.log(q)), 0.0).sum(axis=-1)
''',
        "mean over the classes": '''
import numpy as np
def kl_scratch(p, q):
    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(p > 0, p * (np.log(p) - np.log(q)), 0.0).mean(axis=-1)
''',
        "no 0·log 0 = 0 (nan where p_i = 0)": '''
import numpy as np
def kl_scratch(p, q):
    with np.errstate(divide="ignore", invalid="ignore"):
        return (p * np.log(p / q)).sum(axis=-1)
''',
        "q clipped to 1e-12 (finite where inf is due)": '''
import numpy as np
def kl_scratch(p, q):
    p, q = np.asarray(p, dtype=float), np.clip(np.asarray(q, dtype=float), 1e-12, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(p > 0, p * (np.log(p) - np.log(q)), 0.0).sum(axis=-1)
''',
        "sum over the whole array": '''
import numpy as np
def kl_scratch(p, q):
    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(p > 0, p * (np.log(p) - np.log(q)), 0.0).sum()
''',
    },
    "02.js_scratch": {
        "log2 instead of ln": '''
import numpy as np
def js_scratch(p, q):
    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kl = lambda a: np.where(a > 0, a * np.log2(a / m), 0.0).sum(axis=-1)
    return 0.5 * kl(p) + 0.5 * kl(q)
''',
        "no halves: KL(p‖m) + KL(q‖m)": '''
import numpy as np, kdbook
def js_scratch(p, q):
    m = (np.asarray(p, dtype=float) + np.asarray(q, dtype=float)) / 2
    return kdbook.kl_divergence(p, m) + kdbook.kl_divergence(q, m)
''',
        "the square root (a distance)": '''
import numpy as np, kdbook
def js_scratch(p, q):
    m = (np.asarray(p, dtype=float) + np.asarray(q, dtype=float)) / 2
    return np.sqrt(0.5 * kdbook.kl_divergence(p, m) + 0.5 * kdbook.kl_divergence(q, m))
''',
        "mixture against q: ½KL(p‖m) + ½KL(q‖p)": '''
import numpy as np, kdbook
def js_scratch(p, q):
    m = (np.asarray(p, dtype=float) + np.asarray(q, dtype=float)) / 2
    return 0.5 * kdbook.kl_divergence(p, m) + 0.5 * kdbook.kl_divergence(m, q)
''',
    },
    "02.asymmetry": {
        "directions swapped": '''
import kdbook
from kdbook.grading.ch02 import P_ASYM, Q_ASYM
kl_both = (float(kdbook.kl_divergence(Q_ASYM, P_ASYM)), float(kdbook.kl_divergence(P_ASYM, Q_ASYM)))
''',
        "in bits": '''
import kdbook
from kdbook.grading.ch02 import P_ASYM, Q_ASYM
kl_both = (float(kdbook.kl_divergence(P_ASYM, Q_ASYM, base=2)), float(kdbook.kl_divergence(Q_ASYM, P_ASYM, base=2)))
''',
        "q clipped: a large finite number for the infinite direction": '''
import numpy as np, kdbook
from kdbook.grading.ch02 import P_ASYM, Q_ASYM
kl_both = (float(kdbook.kl_divergence(P_ASYM, Q_ASYM)),
           float(np.sum(Q_ASYM * np.log(Q_ASYM / np.clip(P_ASYM, 1e-12, None)))))
''',
    },
    "02.asymmetry_why": {
        "the infinite direction swapped": 'why_infinite_claims = {"a", "d"}',
        "half of the true ones": 'why_infinite_claims = {"b", "c"}',
        "the true ones plus 'both finite'": 'why_infinite_claims = {"b", "c", "e", "f", "g"}',
    },
    "02.pick_divergence": {
        "forward KL": 'monitor = "KL(p‖q)"',
        "reverse KL": 'monitor = "KL(q || p)"',
        "not a divergence name": 'monitor = "TV"',
    },
    "02.pinsker": {
        "log2 instead of ln": '''
import numpy as np, kdbook
def pinsker_slack(p, q):
    return np.sqrt(kdbook.kl_divergence(p, q, base=2) / 2) - kdbook.total_variation(p, q)
''',
        "KL not halved": '''
import numpy as np, kdbook
def pinsker_slack(p, q):
    return np.sqrt(kdbook.kl_divergence(p, q)) - kdbook.total_variation(p, q)
''',
        "TV without the ½ (the L1 distance)": '''
import numpy as np, kdbook
def pinsker_slack(p, q):
    return np.sqrt(kdbook.kl_divergence(p, q) / 2) - np.abs(np.asarray(p) - np.asarray(q)).sum(axis=-1)
''',
        "KL(q‖p) under the root": '''
import numpy as np, kdbook
def pinsker_slack(p, q):
    return np.sqrt(kdbook.kl_divergence(q, p) / 2) - kdbook.total_variation(p, q)
''',
    },
    "02.predict_direction": {
        "a": 'predict_direction = "a"',
        "b": 'predict_direction = "b"',
        "d": 'predict_direction = "d"',
    },
    "02.flag_collapse": {
        "the solution's rule inverted": '''
import kdbook
def flag_collapse(p, q):
    return bool(kdbook.kl_divergence(p, q) < kdbook.kl_divergence(q, p))
''',
        "constant: always True": 'flag_collapse = lambda p, q: True',
        "constant: always False": 'flag_collapse = lambda p, q: False',
        "threshold on KL(p‖q) alone": '''
import kdbook
def flag_collapse(p, q):
    return bool(kdbook.kl_divergence(p, q) > 0.3)
''',
        "threshold on KL(q‖p) alone": '''
import kdbook
def flag_collapse(p, q):
    return bool(kdbook.kl_divergence(q, p) < 0.2)
''',
        "student's top class differs from the teacher's": '''
import numpy as np
def flag_collapse(p, q):
    return bool(np.argmax(p) != np.argmax(q))
''',
    },
}

VALID = {
    "02.kl_scratch": {
        "np.nansum of the raw terms": '''
import numpy as np
def kl_scratch(p, q):
    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.nansum(p * np.log(p / q), axis=-1)
''',
        "float32": '''
import numpy as np
def kl_scratch(p, q):
    p, q = np.asarray(p, dtype=np.float32), np.asarray(q, dtype=np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(p > 0, p * (np.log(p) - np.log(q)), np.float32(0)).sum(axis=-1)
''',
    },
    "02.js_scratch": {
        "entropy of the mixture minus the mean entropy": '''
import numpy as np
def js_scratch(p, q):
    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    def h(a):
        with np.errstate(divide="ignore", invalid="ignore"):
            return -np.where(a > 0, a * np.log(a), 0.0).sum(axis=-1)
    return h((p + q) / 2) - (h(p) + h(q)) / 2
''',
        "kdbook.kl_divergence to the mixture": '''
import numpy as np, kdbook
def js_scratch(p, q):
    m = (np.asarray(p, dtype=float) + np.asarray(q, dtype=float)) / 2
    return 0.5 * kdbook.kl_divergence(p, m) + 0.5 * kdbook.kl_divergence(q, m)
''',
    },
    "02.asymmetry": {
        "scipy.stats.entropy, as an array": '''
import numpy as np, scipy.stats
from kdbook.grading.ch02 import P_ASYM, Q_ASYM
kl_both = np.array([scipy.stats.entropy(P_ASYM, Q_ASYM), scipy.stats.entropy(Q_ASYM, P_ASYM)])
''',
    },
    "02.asymmetry_why": {"a list of letters": 'why_infinite_claims = ["f", "e", "c", "b"]'},
    "02.pick_divergence": {"Jensen-Shannon spelled out": 'monitor = "Jensen-Shannon"', "JSD": 'monitor = "JSD"'},
    "02.pinsker": {
        "scipy: rel_entr and the L1 norm": '''
import numpy as np, scipy.special
def pinsker_slack(p, q):
    kl = scipy.special.rel_entr(p, q).sum(axis=-1)
    return np.sqrt(kl / 2) - 0.5 * np.abs(np.asarray(p) - np.asarray(q)).sum(axis=-1)
''',
    },
    "02.predict_direction": {"in brackets": 'predict_direction = "(c)"'},
    "02.flag_collapse": {
        "scipy.stats.entropy in both directions": '''
import scipy.stats
def flag_collapse(p, q):
    return scipy.stats.entropy(p, q) > scipy.stats.entropy(q, p)
''',
        "a main class kept at under half, the other given more": '''
import numpy as np
def flag_collapse(p, q):
    top = np.argsort(p)[-2:]
    ratio = q[top] / p[top]
    return int(ratio.min() < 0.5 and ratio.max() > 1.0)
''',
    },
}

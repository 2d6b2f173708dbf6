"""Chapter 6: typical wrong answers and valid alternatives for every graded item (issue 19).

Each source is exec'd in a fresh namespace and must define the item's answer name. Every WRONG
entry must lose points on every grading seed (public and hidden tests); every VALID entry must
get full points on every seed. Run by tests/test_wrong_answers_ch06.py (and by the generic
tests/test_wrong_answers.py once it exists)."""

WRONG = {
    "06.reductions": {
        "unmasked sums (padding counted)": '''
import numpy as np
def reductions(per_position, mask):
    x = np.asarray(per_position, dtype=float)
    return x.sum() / np.asarray(mask).sum(), x.sum() / x.shape[0]
''',
        "divided by B·L": '''
import numpy as np
def reductions(per_position, mask):
    x = np.where(mask, per_position, 0.0)
    return x.sum() / x.size, x.sum() / x.shape[0]
''',
        "the two reductions swapped": '''
import numpy as np
def reductions(per_position, mask):
    x = np.where(mask, per_position, 0.0)
    return x.sum() / x.shape[0], x.sum() / np.sum(mask)
''',
        "multiplied by the mask (NaN·0 is NaN)": '''
import numpy as np
def reductions(per_position, mask):
    total = (np.asarray(per_position, float) * np.asarray(mask)).sum()
    return total / np.sum(mask), total / len(mask)
''',
        "counts the nonzero positions as the real tokens": '''
import numpy as np
def reductions(per_position, mask):
    x = np.where(mask, per_position, 0.0)
    return x.sum() / np.count_nonzero(x), x.sum() / x.shape[0]
''',
        "NaN removed but huge padding kept": '''
import numpy as np
def reductions(per_position, mask):
    total = np.nansum(np.where(np.isinf(per_position), 0.0, per_position))
    return total / np.sum(mask), total / len(mask)
''',
    },
    "06.masked_kd_loss": {
        "padding counted": '''
import numpy as np
def masked_kd_loss(student_logits, teacher_logits, mask, T=1.0, reduction="tokenmean"):
    z, v = np.asarray(student_logits, float) / T, np.asarray(teacher_logits, float) / T
    lq = z - z.max(-1, keepdims=True); lq -= np.log(np.exp(lq).sum(-1, keepdims=True))
    lp = v - v.max(-1, keepdims=True); lp -= np.log(np.exp(lp).sum(-1, keepdims=True))
    kl = np.nan_to_num((np.exp(lp) * (lp - lq)).sum(-1))
    return T * T * kl.sum() / (np.sum(mask) if reduction == "tokenmean" else kl.shape[0])
''',
        "no T squared": '''
import numpy as np
def masked_kd_loss(student_logits, teacher_logits, mask, T=1.0, reduction="tokenmean"):
    m = np.asarray(mask, bool)
    z = np.where(m[..., None], np.asarray(student_logits, float), 0.0) / T
    v = np.where(m[..., None], np.asarray(teacher_logits, float), 0.0) / T
    lq = z - z.max(-1, keepdims=True); lq -= np.log(np.exp(lq).sum(-1, keepdims=True))
    lp = v - v.max(-1, keepdims=True); lp -= np.log(np.exp(lp).sum(-1, keepdims=True))
    kl = np.where(m, (np.exp(lp) * (lp - lq)).sum(-1), 0.0)
    return kl.sum() / (m.sum() if reduction == "tokenmean" else m.shape[0])
''',
        "KL direction reversed": '''
import numpy as np
def masked_kd_loss(student_logits, teacher_logits, mask, T=1.0, reduction="tokenmean"):
    m = np.asarray(mask, bool)
    z = np.where(m[..., None], np.asarray(student_logits, float), 0.0) / T
    v = np.where(m[..., None], np.asarray(teacher_logits, float), 0.0) / T
    lq = z - z.max(-1, keepdims=True); lq -= np.log(np.exp(lq).sum(-1, keepdims=True))
    lp = v - v.max(-1, keepdims=True); lp -= np.log(np.exp(lp).sum(-1, keepdims=True))
    kl = np.where(m, (np.exp(lq) * (lq - lp)).sum(-1), 0.0)
    return T * T * kl.sum() / (m.sum() if reduction == "tokenmean" else m.shape[0])
''',
    },
    "06.sequence_logprob": {
        "off-by-one shift": '''
import numpy as np
def sequence_logprob(logits, targets, mask):
    z = np.asarray(logits, float); z = z - z.max(-1, keepdims=True)
    lq = z - np.log(np.exp(z).sum(-1, keepdims=True))
    y, m = np.asarray(targets), np.asarray(mask, bool)
    picked = np.take_along_axis(lq[:, :-1], y[:, 1:, None], -1)[..., 0]
    return np.where(m[:, 1:], picked, 0.0).sum(1)
''',
        "mean per token instead of the sum": '''
import numpy as np
def sequence_logprob(logits, targets, mask):
    z = np.asarray(logits, float); z = z - z.max(-1, keepdims=True)
    lq = z - np.log(np.exp(z).sum(-1, keepdims=True))
    m = np.asarray(mask, bool)
    picked = np.take_along_axis(lq, np.asarray(targets)[..., None], -1)[..., 0]
    return np.where(m, picked, 0.0).sum(1) / m.sum(1)
''',
        "padding counted": '''
import numpy as np
def sequence_logprob(logits, targets, mask):
    z = np.asarray(logits, float); z = z - z.max(-1, keepdims=True)
    lq = z - np.log(np.exp(z).sum(-1, keepdims=True))
    return np.take_along_axis(lq, np.asarray(targets)[..., None], -1)[..., 0].sum(1)
''',
    },
    "06.kl_by_position": {
        "divided by B (padding counted)": '''
import numpy as np
import kdbook
def kl_by_position(teacher_logits, student_logits, mask):
    m = np.asarray(mask, bool)
    t = np.where(m[..., None], teacher_logits, 0.0); s = np.where(m[..., None], student_logits, 0.0)
    kl = np.where(m, kdbook.kl_divergence(kdbook.softmax(t), kdbook.softmax(s)), 0.0)
    return kl.sum(0) / m.shape[0]
''',
        "teacher and student swapped": '''
import numpy as np
import kdbook
def kl_by_position(teacher_logits, student_logits, mask):
    m = np.asarray(mask, bool)
    t = np.where(m[..., None], teacher_logits, 0.0); s = np.where(m[..., None], student_logits, 0.0)
    kl = np.where(m, kdbook.kl_divergence(kdbook.softmax(s), kdbook.softmax(t)), 0.0)
    return kl.sum(0) / m.sum(0)
''',
        "mean over positions per sentence (wrong axis)": '''
import numpy as np
import kdbook
def kl_by_position(teacher_logits, student_logits, mask):
    m = np.asarray(mask, bool)
    t = np.where(m[..., None], teacher_logits, 0.0); s = np.where(m[..., None], student_logits, 0.0)
    kl = np.where(m, kdbook.kl_divergence(kdbook.softmax(t), kdbook.softmax(s)), 0.0)
    return kl.sum(1) / m.sum(1)
''',
    },
    "06.where_it_loses": {
        "the KL follows the teacher's entropy": 'where_claims = {"a", "b", "c", "e"}',
        "position 13 is noise": 'where_claims = {"a", "c", "d"}',
        "the student is only undertrained": 'where_claims = {"a", "c", "e", "f"}',
        "position 3 not seen as the window's blind spot": 'where_claims = {"a", "e"}',
    },
    "06.sequence_kl": {
        "sign reversed": """
import numpy as np
def sequence_kl(teacher_logprob, student_logprob):
    d = np.asarray(student_logprob) - np.asarray(teacher_logprob)
    return d.mean(), d.std(ddof=1) / np.sqrt(len(d))
""",
        "standard deviation instead of standard error": """
import numpy as np
def sequence_kl(teacher_logprob, student_logprob):
    d = np.asarray(teacher_logprob) - np.asarray(student_logprob)
    return d.mean(), d.std(ddof=1)
""",
        "SD divided by n instead of √n": """
import numpy as np
def sequence_kl(teacher_logprob, student_logprob):
    d = np.asarray(teacher_logprob) - np.asarray(student_logprob)
    return d.mean(), d.std(ddof=1) / len(d)
""",
        "a sum, not a mean": """
import numpy as np
def sequence_kl(teacher_logprob, student_logprob):
    d = np.asarray(teacher_logprob) - np.asarray(student_logprob)
    return d.sum(), d.std(ddof=1) / np.sqrt(len(d))
""",
    },
    "06.choose_objective": {
        "right for both teams, misses the cost statement": 'objective_claims = {"a", "c"}\nobjective_choice = "x"',
        "trusts the seen-start match and the lowest KL for greedy": 'objective_claims = {"a", "b", "c", "f"}\n'
                                                                    'objective_choice = "x"',
        "renormalised top-5 is fine": 'objective_claims = {"a", "c", "f", "g"}\nobjective_choice = "x"',
        "samples as good as word-level KD": 'objective_claims = {"a", "c", "e", "f"}\nobjective_choice = "x"',
    },
    "06.predict_stored_kl": {
        "both finite": 'predict_stored_kl = "a"',
        "only the student's finite": 'predict_stored_kl = "c"',
    },
    "06.storage_scheme": {
        "fixed top-6": '''
import numpy as np
def store_teacher(lp):
    ids = np.argsort(-lp, axis=1)[:, :6]
    return ids.astype(np.int8), np.take_along_axis(lp, ids, axis=1)
''',
        "keep until 99 % of the mass (no budget)": '''
import numpy as np
def store_teacher(lp):
    order = np.argsort(-lp, axis=1)
    p = np.exp(np.take_along_axis(lp, order, axis=1))
    k = 1 + (np.cumsum(p, axis=1) < 0.99).sum(1)
    w = int(k.max())
    ids = np.where(np.arange(w) < k[:, None], order[:, :w], -1)
    return ids, np.take_along_axis(lp, order[:, :w], axis=1)
''',
        "a constant (top-1 everywhere)": '''
import numpy as np
def store_teacher(lp):
    ids = np.argmax(lp, axis=1)[:, None]
    return ids, np.take_along_axis(lp, ids, axis=1)
''',
    },
    "06.remember": {
        "beam search finds the mode": 'remember_facts = {"a", "b", "c", "e"}',
        "top-k is unbiased": 'remember_facts = {"a", "c", "e", "f"}',
        "misses the free rest mass": 'remember_facts = {"a", "c"}',
    },
}

VALID = {
    "06.reductions": {
        "boolean indexing of the real positions": '''
import numpy as np
def reductions(per_position, mask):
    m = np.asarray(mask, bool)
    total = np.asarray(per_position, float)[m].sum()
    return total / m.sum(), total / m.shape[0]
''',
        "numpy masked array, float32": '''
import numpy as np
def reductions(per_position, mask):
    x = np.ma.masked_array(np.asarray(per_position, np.float32), mask=~np.asarray(mask, bool))
    return float(x.sum()) / float(np.sum(mask)), float(x.sum()) / len(mask)
''',
    },
    "06.masked_kd_loss": {
        "scipy log_softmax, select the real positions": '''
import numpy as np
from scipy.special import log_softmax
def masked_kd_loss(student_logits, teacher_logits, mask, T=1.0, reduction="tokenmean"):
    m = np.asarray(mask, bool)
    z, v = np.asarray(student_logits, float)[m] / T, np.asarray(teacher_logits, float)[m] / T
    lq, lp = log_softmax(z, axis=-1), log_softmax(v, axis=-1)
    total = T * T * (np.exp(lp) * (lp - lq)).sum()
    return total / (m.sum() if reduction == "tokenmean" else m.shape[0])
''',
    },
    "06.sequence_logprob": {
        "scipy logsumexp": '''
import numpy as np
from scipy.special import logsumexp
def sequence_logprob(logits, targets, mask):
    z = np.asarray(logits, float)
    picked = np.take_along_axis(z, np.asarray(targets)[..., None], -1)[..., 0] - logsumexp(z, axis=-1)
    return (picked * np.asarray(mask, bool)).sum(axis=1)
''',
    },
    "06.kl_by_position": {
        "scipy, real positions only": '''
import numpy as np
from scipy.special import log_softmax
def kl_by_position(teacher_logits, student_logits, mask):
    m = np.asarray(mask, bool)
    out = np.zeros(m.shape[1])
    for t in range(m.shape[1]):
        lp = log_softmax(np.asarray(teacher_logits, float)[m[:, t], t], axis=-1)
        lq = log_softmax(np.asarray(student_logits, float)[m[:, t], t], axis=-1)
        out[t] = (np.exp(lp) * (lp - lq)).sum(-1).mean()
    return out
''',
    },
    "06.where_it_loses": {
        "upper-case letters in a string": 'where_claims = "E, A, C"',
    },
    "06.sequence_kl": {
        "scipy.stats.sem": """
import numpy as np
from scipy import stats
def sequence_kl(teacher_logprob, student_logprob):
    d = np.subtract(teacher_logprob, student_logprob, dtype=np.float32)
    return float(np.mean(d, dtype=np.float64)), float(stats.sem(d.astype(np.float64)))
""",
    },
    "06.choose_objective": {
        "the true statements, as a list": 'objective_claims = ["f", "c", "a"]\nobjective_choice = "x"',
    },
    "06.predict_stored_kl": {
        "upper case": 'predict_stored_kl = "B"',
    },
    "06.storage_scheme": {
        "greedy mass target per call, exact budget": '''
import numpy as np
def store_teacher(lp):
    lp = np.asarray(lp, float)
    N, V = lp.shape
    order = np.argsort(-lp, axis=1, kind="stable")
    p = np.exp(np.take_along_axis(lp, order, axis=1))
    # marginal value of keeping the j-th token: its probability (largest first), one token per row always
    score = np.where(np.arange(V) == 0, np.inf, p)
    chosen = np.argsort(-score, axis=None, kind="stable")[: 6 * N]
    k = np.bincount(np.unravel_index(chosen, score.shape)[0], minlength=N)
    w = int(k.max())
    ids = np.where(np.arange(w) < k[:, None], order[:, :w], -1)
    return ids, np.take_along_axis(lp, order[:, :w], axis=1)
''',
    },
    "06.remember": {
        "a list of upper-case letters": 'remember_facts = ["E", "C", "A"]',
    },
}

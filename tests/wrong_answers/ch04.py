"""Chapter 4's wrong-answer catalogue (format: tests/wrong_answers/__init__.py)."""

_LSE = '''
import numpy as np
def _log_softmax(x, T=1.0):
    u = np.asarray(x, dtype=float) / T
    u = u - u.max(axis=-1, keepdims=True)
    return u - np.log(np.exp(u).sum(axis=-1, keepdims=True))
'''

WRONG = {
    "04.soft_losses": {
        "T² factor missing": '''
import numpy as np, kdbook
from kdbook.grading.ch04 import STUDENT_LOGITS as z, TEACHER_LOGITS as v, TEMPERATURES as Ts
soft_losses = np.array([kdbook.kd_loss(z, v, T=T) / T**2 for T in Ts])
''',
        "student and teacher swapped": '''
import numpy as np, kdbook
from kdbook.grading.ch04 import STUDENT_LOGITS as z, TEACHER_LOGITS as v, TEMPERATURES as Ts
soft_losses = np.array([kdbook.kd_loss(v, z, T=T) for T in Ts])
''',
        "the loss at T = 1 four times": '''
import numpy as np, kdbook
from kdbook.grading.ch04 import STUDENT_LOGITS as z, TEACHER_LOGITS as v, TEMPERATURES as Ts
soft_losses = np.array([kdbook.kd_loss(z, v, T=1.0) for T in Ts])
''',
    },
    "04.kd_grad": {
        "no 1/T of the chain rule": _LSE + '''
def kd_soft_grad(z, v, T):
    q, p = np.exp(_log_softmax(z, T)), np.exp(_log_softmax(v, T))
    return T**2 * (q - p) / len(q)
''',
        "sign flipped: teacher minus student": _LSE + '''
def kd_soft_grad(z, v, T):
    q, p = np.exp(_log_softmax(z, T)), np.exp(_log_softmax(v, T))
    return T * (p - q) / len(q)
''',
        "no batch mean": _LSE + '''
def kd_soft_grad(z, v, T):
    q, p = np.exp(_log_softmax(z, T)), np.exp(_log_softmax(v, T))
    return T * (q - p)
''',
        "T² factor missing": _LSE + '''
def kd_soft_grad(z, v, T):
    q, p = np.exp(_log_softmax(z, T)), np.exp(_log_softmax(v, T))
    return (q - p) / T / len(q)
''',
    },
    "04.fix_the_bug": {
        "still the reverse KL(q_T‖p_T)": _LSE + '''
def kd_loss_fixed(student_logits, teacher_logits, T):
    lq, lp = _log_softmax(student_logits, T), _log_softmax(teacher_logits, T)
    return T**2 * np.mean((np.exp(lq) * (lq - lp)).sum(axis=-1))
''',
        "np.mean over all B·K entries": _LSE + '''
def kd_loss_fixed(student_logits, teacher_logits, T):
    lq, lp = _log_softmax(student_logits, T), _log_softmax(teacher_logits, T)
    return T**2 * np.mean(np.exp(lp) * (lp - lq))
''',
        "T² factor missing": _LSE + '''
def kd_loss_fixed(student_logits, teacher_logits, T):
    lq, lp = _log_softmax(student_logits, T), _log_softmax(teacher_logits, T)
    return np.mean((np.exp(lp) * (lp - lq)).sum(axis=-1))
''',
        "sum over the batch": _LSE + '''
def kd_loss_fixed(student_logits, teacher_logits, T):
    lq, lp = _log_softmax(student_logits, T), _log_softmax(teacher_logits, T)
    return T**2 * np.sum(np.exp(lp) * (lp - lq))
''',
    },
    "04.bug_report": {
        "two of the three bugs": 'bug_claims = {"a", "c"}',
        "the three bugs plus 'sum over the batch'": 'bug_claims = {"a", "b", "c", "f"}',
        "the distractors": 'bug_claims = {"d", "e"}',
    },
    "04.combined": {
        "T² factor missing": _LSE + '''
def combined_kd_loss(z, v, labels, T=1.0, hard_weight=0.0):
    hard = -np.mean(_log_softmax(z)[np.arange(len(z)), labels])
    lp, lq = _log_softmax(v, T), _log_softmax(z, T)
    soft = np.mean((np.exp(lp) * (lp - lq)).sum(axis=-1))
    return hard_weight * hard + (1 - hard_weight) * soft
''',
        "weights swapped": _LSE + '''
def combined_kd_loss(z, v, labels, T=1.0, hard_weight=0.0):
    hard = -np.mean(_log_softmax(z)[np.arange(len(z)), labels])
    lp, lq = _log_softmax(v, T), _log_softmax(z, T)
    soft = T**2 * np.mean((np.exp(lp) * (lp - lq)).sum(axis=-1))
    return (1 - hard_weight) * hard + hard_weight * soft
''',
        "hard term at temperature T": _LSE + '''
def combined_kd_loss(z, v, labels, T=1.0, hard_weight=0.0):
    hard = -np.mean(_log_softmax(z, T)[np.arange(len(z)), labels])
    lp, lq = _log_softmax(v, T), _log_softmax(z, T)
    soft = T**2 * np.mean((np.exp(lp) * (lp - lq)).sum(axis=-1))
    return hard_weight * hard + (1 - hard_weight) * soft
''',
        "hard term averaged over all B·K log-probabilities": _LSE + '''
def combined_kd_loss(z, v, labels, T=1.0, hard_weight=0.0):
    onehot = np.eye(np.shape(z)[-1])[labels]
    hard = -np.mean(onehot * _log_softmax(z))
    lp, lq = _log_softmax(v, T), _log_softmax(z, T)
    soft = T**2 * np.mean((np.exp(lp) * (lp - lq)).sum(axis=-1))
    return hard_weight * hard + (1 - hard_weight) * soft
''',
    },
    "04.predict_grad_sum": {
        "b": 'predict_grad_sum = "b"',
        "c": 'predict_grad_sum = "c"',
        "d": 'predict_grad_sum = "d"',
    },
    "04.symmetric_kd": {
        "baseline: the standard T²·KL(p_T‖q_T), not symmetric": '''
import kdbook
def symmetric_kd(z, v, T):
    return kdbook.kd_loss_and_grad(z, v, T=T)
''',
        "Jensen–Shannon without the factor 4 (wrong scale)": '''
import numpy as np, kdbook
def symmetric_kd(z, v, T):
    z = np.asarray(z, dtype=float)
    p, q = kdbook.softmax(v, T=T), kdbook.softmax(z, T=T)
    g = 0.5 * (np.log(q) - np.log((p + q) / 2))
    grad_u = q * (g - (q * g).sum(axis=-1, keepdims=True))
    return T**2 * kdbook.js_divergence(p, q).mean(), T * grad_u / len(z)
''',
        "symmetric loss, but the gradient of the forward KL": '''
import numpy as np, kdbook
def symmetric_kd(z, v, T):
    p, q = kdbook.softmax(v, T=T), kdbook.softmax(z, T=T)
    loss = 4 * T**2 * kdbook.js_divergence(p, q).mean()
    return loss, kdbook.kd_loss_and_grad(z, v, T=T)[1]
''',
        "constant: zero loss, zero gradient": '''
import numpy as np
def symmetric_kd(z, v, T):
    return 0.0, np.zeros(np.shape(z))
''',
    },
}

VALID = {
    "04.soft_losses": {
        "own formula in float32": '''
import numpy as np, kdbook
from kdbook.grading.ch04 import STUDENT_LOGITS as z, TEACHER_LOGITS as v, TEMPERATURES as Ts
soft_losses = np.array([T**2 * kdbook.kl_divergence(kdbook.softmax(v, T=T), kdbook.softmax(z, T=T)).mean()
                        for T in Ts], dtype=np.float32)
''',
    },
    "04.kd_grad": {
        "through the softmax Jacobian": _LSE + '''
def kd_soft_grad(z, v, T):
    q, p = np.exp(_log_softmax(z, T)), np.exp(_log_softmax(v, T))
    jac = q[:, :, None] * (np.eye(q.shape[1]) - q[:, None, :])  # dq_i/du_j
    grad_u = np.einsum("bi,bij->bj", -p / q, jac)  # gradient of −Σ p log q
    return T * grad_u / len(q)
''',
        "float32": '''
import numpy as np
def kd_soft_grad(z, v, T):
    def sm(x):
        u = np.asarray(x, dtype=np.float32) / np.float32(T)
        e = np.exp(u - u.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    return np.float32(T) * (sm(z) - sm(v)) / np.float32(len(z))
''',
    },
    "04.fix_the_bug": {
        "log-softmax differences": _LSE + '''
def kd_loss_fixed(student_logits, teacher_logits, T):
    lq, lp = _log_softmax(student_logits, T), _log_softmax(teacher_logits, T)
    return T**2 * (np.exp(lp) * (lp - lq)).sum() / len(lp)
''',
    },
    "04.bug_report": {"a list": 'bug_claims = ["c", "b", "a"]'},
    "04.combined": {
        "own log-sum-exp, one-hot cross-entropy": _LSE + '''
def combined_kd_loss(z, v, labels, T=1.0, hard_weight=0.0):
    onehot = np.eye(np.shape(z)[-1])[labels]
    hard = -(onehot * _log_softmax(z)).sum(axis=-1).mean()
    lp, lq = _log_softmax(v, T), _log_softmax(z, T)
    soft = T**2 * (np.exp(lp) * (lp - lq)).sum(axis=-1).mean()
    return hard_weight * hard + (1 - hard_weight) * soft
''',
    },
    "04.predict_grad_sum": {"in brackets": 'predict_grad_sum = "(a)"'},
    "04.symmetric_kd": {
        "the mean of the two KL directions": '''
import numpy as np, kdbook
def symmetric_kd(z, v, T):
    z = np.asarray(z, dtype=float)
    lp, lq = kdbook.log_softmax(v, T=T), kdbook.log_softmax(z, T=T)
    p, q = np.exp(lp), np.exp(lq)
    r = lq - lp
    loss = 0.5 * ((p * -r).sum(axis=-1) + (q * r).sum(axis=-1))
    grad_u = 0.5 * ((q - p) + q * (r - (q * r).sum(axis=-1, keepdims=True)))
    return T**2 * loss.mean(), T * grad_u / len(z)
''',
    },
}

"""Chapter 7's wrong-answer catalogue (issue 19): typical wrong answers and valid alternatives, as source.

Each source is exec'd in a fresh namespace and must define the exercise's answer name. Every
WRONG entry must lose points on every one of >= 20 grading seeds (public + hidden tests); every
VALID entry must get full points on all of them. 07.recipe is catalogued at the end (each grading
run trains a student; see the chapter-7 report).
"""

WRONG = {
    "07.conventions": {
        "β convention reversed": "conventions = (1.0, 0.0, 'beta', 0.0)",
        "λ read as the off-policy fraction": "conventions = (0.0, 1.0, 'beta', 1.0)",
        "teacher weighted by 1 − β in M": "conventions = (0.0, 1.0, '1-beta', 0.0)",
    },
    "07.jsd_beta": {
        "naive softmax (overflows for large logits)": '''
import numpy as np
def jsd_beta(student_logits, teacher_logits, beta):
    q = np.exp(student_logits) / np.exp(student_logits).sum(-1, keepdims=True)
    p = np.exp(teacher_logits) / np.exp(teacher_logits).sum(-1, keepdims=True)
    m = beta * p + (1 - beta) * q
    loss = beta * (p * np.log(p / m)).sum(-1) + (1 - beta) * (q * np.log(q / m)).sum(-1)
    g = (1 - beta) * np.log(q / m)
    return loss, q * (g - (q * g).sum(-1, keepdims=True))
''',
        "β convention reversed (teacher weighted by 1 − β)": '''
import numpy as np
def _lsm(z):
    z = np.asarray(z, float); z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))
def jsd_beta(student_logits, teacher_logits, beta):
    lq, lp = _lsm(student_logits), _lsm(teacher_logits)
    b = 1 - beta
    lm = np.logaddexp(np.log(b) + lp, np.log1p(-b) + lq)
    p, q = np.exp(lp), np.exp(lq)
    loss = b * (p * (lp - lm)).sum(-1) + (1 - b) * (q * (lq - lm)).sum(-1)
    g = (1 - b) * (lq - lm)
    return loss, q * (g - (q * g).sum(-1, keepdims=True))
''',
        "gradient with respect to the probabilities": '''
import numpy as np
def _lsm(z):
    z = np.asarray(z, float); z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))
def jsd_beta(student_logits, teacher_logits, beta):
    lq, lp = _lsm(student_logits), _lsm(teacher_logits)
    lm = np.logaddexp(np.log(beta) + lp, np.log1p(-beta) + lq)
    p, q = np.exp(lp), np.exp(lq)
    loss = beta * (p * (lp - lm)).sum(-1) + (1 - beta) * (q * (lq - lm)).sum(-1)
    return loss, (1 - beta) * (lq - lm)
''',
    },
    "07.reinforce": {
        "no baseline": '''
import numpy as np
def reinforce_grad(theta, samples, log_p):
    lq = theta - np.log(np.exp(theta - theta.max()).sum()) - theta.max()
    R = lq[samples] - np.asarray(log_p)[samples]
    return (R[:, None] * (np.eye(theta.size)[samples] - np.exp(lq))).mean(0)
''',
        "baseline includes the sample itself": '''
import numpy as np
def reinforce_grad(theta, samples, log_p):
    lq = theta - np.log(np.exp(theta - theta.max()).sum()) - theta.max()
    R = lq[samples] - np.asarray(log_p)[samples]
    return ((R - R.mean())[:, None] * (np.eye(theta.size)[samples] - np.exp(lq))).mean(0)
''',
        "log-ratio of the forward KL (sign flipped)": '''
import numpy as np
def reinforce_grad(theta, samples, log_p):
    lq = theta - np.log(np.exp(theta - theta.max()).sum()) - theta.max()
    R = np.asarray(log_p)[samples] - lq[samples]
    b = (R.sum() - R) / (len(R) - 1)
    return ((R - b)[:, None] * (np.eye(theta.size)[samples] - np.exp(lq))).mean(0)
''',
    },
    "07.predict_baseline": {
        "a (a baseline always lowers the variance)": "predict_baseline = 'a'",
        "c (only the near teacher)": "predict_baseline = 'c'",
        "d (a baseline changes only the mean)": "predict_baseline = 'd'",
    },
    "07.diagnose": {
        "B and D swapped": "diagnosis = ('beta_reversed', 'lambda_reversed', 'missing_baseline', "
                           "'sampled_from_teacher', 'correct')",
        "everything correct": "diagnosis = ('correct',) * 5",
        "A read as correct, E as reversed": "diagnosis = ('correct', 'sampled_from_teacher', 'missing_baseline', "
                                            "'lambda_reversed', 'beta_reversed')",
    },
    "07.pick_beta": {
        "best quality, ignoring the floor": "choice = (0.9, 0.077)\nchoice_reasons = 'best quality'",
        "best coverage": "choice = (0.1, 0.127)\nchoice_reasons = 'best coverage'",
        "lead with the wrong sign": "choice = (0.5, -0.107)\nchoice_reasons = 'x'",
    },
}

VALID = {
    "07.conventions": {"numpy numbers": "import numpy as np\nconventions = (np.float32(0), np.int64(1), 'beta', 0)"},
    "07.jsd_beta": {
        "scipy-based": '''
import numpy as np
from scipy.special import log_softmax, logsumexp
def jsd_beta(student_logits, teacher_logits, beta):
    lq, lp = log_softmax(student_logits, axis=-1), log_softmax(teacher_logits, axis=-1)
    lm = logsumexp(np.stack([lp + np.log(beta), lq + np.log1p(-beta)]), axis=0)
    p, q = np.exp(lp), np.exp(lq)
    loss = beta * np.sum(p * (lp - lm), axis=-1) + (1 - beta) * np.sum(q * (lq - lm), axis=-1)
    g = (1 - beta) * (lq - lm)
    return loss, q * g - q * np.sum(q * g, axis=-1, keepdims=True)
''',
    },
    "07.reinforce": {
        "a loop over samples": '''
import numpy as np
def reinforce_grad(theta, samples, log_p):
    theta = np.asarray(theta, float)
    lq = theta - theta.max(); lq = lq - np.log(np.exp(lq).sum())
    R = [lq[y] - log_p[y] for y in samples]
    n, total = len(R), np.zeros_like(theta)
    for i, y in enumerate(samples):
        b = (sum(R) - R[i]) / (n - 1)
        s = -np.exp(lq); s[y] += 1.0
        total += (R[i] - b) * s
    return total / n
''',
        # Passes, and must: with the leave-one-out baseline the weights R_i - b_i sum to exactly 0, so the
        # -q term of the score (onehot - q) adds nothing. The item cannot tell whether a learner knows that
        # term; the solution's comment says so (review of chapter 7, finding 13).
        "the score without its -q term": '''
import numpy as np
def reinforce_grad(theta, samples, log_p):
    theta = np.asarray(theta, float)
    lq = theta - theta.max(); lq = lq - np.log(np.exp(lq).sum())
    R = lq[samples] - np.asarray(log_p)[samples]
    b = (R.sum() - R) / (len(R) - 1)
    return ((R - b)[:, None] * np.eye(theta.size)[samples]).mean(axis=0)
''',
    },
    "07.predict_baseline": {"b, upper case": "predict_baseline = 'B'"},
    "07.diagnose": {"a list": "diagnosis = ['beta_reversed', 'sampled_from_teacher', 'missing_baseline', "
                              "'lambda_reversed', 'correct']"},
    "07.pick_beta": {"from the table": "from kdbook.grading.ch07 import FRONTIER\n"
                                       "choice = (0.5, FRONTIER[0.5]['quality'][0] - FRONTIER[0.1]['quality'][0])\n"
                                       "choice_reasons = 'floor rules out 0.9 and 1'"},
}

# 07.recipe (create): gkd_recipe(min_quality, min_coverage) -> (objective, weight, lam); each test trains the
# recipes for a coverage-first (-3.00, -1.882) and a quality-first (-2.625, -2.30) spec on two secret students
# and judges their means. Forward KL at λ = 1 misses the quality floors, reverse KL at λ = 1 the coverage floor
# of the coverage-first spec on every seed ("constant:" entries must score 0); so does JSD(0.5) at λ = 0. The
# constants between the two ends, JSD(0.25) and skew forward KL (α = 0.1) at λ = 0, come nearest to meeting both
# specs (each test passes with a probability under 1 %: docs/grading.md), so they only have to lose points on
# every seed.
WRONG["07.recipe"] = {
    "constant: forward KL, fully on-policy": "def gkd_recipe(min_quality, min_coverage):\n"
                                             "    return ('forward', None, 1.0)\n",
    "constant: reverse KL, fully on-policy": "def gkd_recipe(min_quality, min_coverage):\n"
                                             "    return ('reverse', None, 1.0)\n",
    "constant: the chapter's JSD(0.5) for every spec": "def gkd_recipe(min_quality, min_coverage):\n"
                                                       "    return ('gjsd', 0.5, 0.0)\n",
    "a tuned JSD(0.25), λ = 0, for every spec": "def gkd_recipe(min_quality, min_coverage):\n"
                                                "    return ('gjsd', 0.25, 0.0)\n",
    "skew forward KL (α = 0.1), λ = 0, for every spec": "def gkd_recipe(min_quality, min_coverage):\n"
                                                        "    return ('skew_forward', 0.1, 0.0)\n",
    "the floors read the wrong way round": "def gkd_recipe(min_quality, min_coverage):\n"
                                           "    return ('gjsd', 0.9, 0.0) if min_coverage > -2 else ('forward', None, 0.0)\n",
}
VALID["07.recipe"] = {
    "a threshold on the coverage floor, λ as a list": "def gkd_recipe(min_quality, min_coverage):\n"
                                                     "    if min_coverage > -2.0:\n"
                                                     "        return ['forward', None, [0.0] * 60]\n"
                                                     "    return ('reverse', None, 0.0)\n",
}

# 07.exposure_gap: per-token KL(p‖q) on the student's own prefixes minus on the teacher's (masked, stable).
_EXPOSURE_HEAD = '''
import numpy as np
def _lsm(z):
    z = np.asarray(z, float); z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))
'''
WRONG["07.exposure_gap"] = {
    "reverse KL(q‖p)": _EXPOSURE_HEAD + '''
def _mean(t, s, m):
    lp, lq = _lsm(t), _lsm(s)
    return ((np.exp(lq) * (lq - lp)).sum(-1) * m).sum() / m.sum()
def exposure_gap(teacher_on_own, student_on_own, own_mask, teacher_on_ref, student_on_ref, ref_mask):
    return _mean(teacher_on_own, student_on_own, own_mask) - _mean(teacher_on_ref, student_on_ref, ref_mask)
''',
    "padding counted (mask ignored)": _EXPOSURE_HEAD + '''
def _mean(t, s, m):
    lp, lq = _lsm(t), _lsm(s)
    return (np.exp(lp) * (lp - lq)).sum(-1).mean()
def exposure_gap(teacher_on_own, student_on_own, own_mask, teacher_on_ref, student_on_ref, ref_mask):
    return _mean(teacher_on_own, student_on_own, own_mask) - _mean(teacher_on_ref, student_on_ref, ref_mask)
''',
    "per sentence, not per token": _EXPOSURE_HEAD + '''
def _mean(t, s, m):
    lp, lq = _lsm(t), _lsm(s)
    return ((np.exp(lp) * (lp - lq)).sum(-1) * m).sum() / m.shape[0]
def exposure_gap(teacher_on_own, student_on_own, own_mask, teacher_on_ref, student_on_ref, ref_mask):
    return _mean(teacher_on_own, student_on_own, own_mask) - _mean(teacher_on_ref, student_on_ref, ref_mask)
''',
    "mean of per-sentence means": _EXPOSURE_HEAD + '''
def _mean(t, s, m):
    lp, lq = _lsm(t), _lsm(s)
    return (((np.exp(lp) * (lp - lq)).sum(-1) * m).sum(-1) / m.sum(-1)).mean()
def exposure_gap(teacher_on_own, student_on_own, own_mask, teacher_on_ref, student_on_ref, ref_mask):
    return _mean(teacher_on_own, student_on_own, own_mask) - _mean(teacher_on_ref, student_on_ref, ref_mask)
''',
    "naive softmax (overflows near 800)": '''
import numpy as np
def _mean(t, s, m):
    p = np.exp(t) / np.exp(t).sum(-1, keepdims=True)
    q = np.exp(s) / np.exp(s).sum(-1, keepdims=True)
    kl = (p * np.log(p / q)).sum(-1)
    return kl[m].mean()
def exposure_gap(teacher_on_own, student_on_own, own_mask, teacher_on_ref, student_on_ref, ref_mask):
    return _mean(teacher_on_own, student_on_own, own_mask) - _mean(teacher_on_ref, student_on_ref, ref_mask)
''',
    "teacher's prefixes minus own": _EXPOSURE_HEAD + '''
def _mean(t, s, m):
    lp, lq = _lsm(t), _lsm(s)
    return (np.exp(lp) * (lp - lq)).sum(-1)[m].mean()
def exposure_gap(teacher_on_own, student_on_own, own_mask, teacher_on_ref, student_on_ref, ref_mask):
    return _mean(teacher_on_ref, student_on_ref, ref_mask) - _mean(teacher_on_own, student_on_own, own_mask)
''',
}
VALID["07.exposure_gap"] = {
    "scipy, boolean indexing": '''
import numpy as np
from scipy.special import log_softmax
def _mean(t, s, m):
    lp, lq = log_softmax(t, axis=-1), log_softmax(s, axis=-1)
    return np.sum(np.exp(lp) * (lp - lq), axis=-1)[np.asarray(m, bool)].mean()
def exposure_gap(teacher_on_own, student_on_own, own_mask, teacher_on_ref, student_on_ref, ref_mask):
    return float(_mean(teacher_on_own, student_on_own, own_mask) - _mean(teacher_on_ref, student_on_ref, ref_mask))
''',
    "a loop over valid positions": '''
import numpy as np
def _kl(v, z):
    v = v - v.max(); z = z - z.max()
    lp = v - np.log(np.exp(v).sum()); lq = z - np.log(np.exp(z).sum())
    return float((np.exp(lp) * (lp - lq)).sum())
def _mean(t, s, m):
    vals = [_kl(t[b, i].astype(np.float64), s[b, i].astype(np.float64))
            for b in range(m.shape[0]) for i in range(m.shape[1]) if m[b, i]]
    return sum(vals) / len(vals)
def exposure_gap(teacher_on_own, student_on_own, own_mask, teacher_on_ref, student_on_ref, ref_mask):
    return _mean(teacher_on_own, student_on_own, own_mask) - _mean(teacher_on_ref, student_on_ref, ref_mask)
''',
}

# 07.gkd_cost: (teacher decoding steps, teacher scoring passes, student decoding steps) per update.
WRONG["07.gkd_cost"] = {
    "sequential rounds (one sentence's length) instead of the work": '''
def gkd_cost(lam, batch_size, ell_teacher, ell_student, stored):
    n_on = round(lam * batch_size)
    return (0.0 if stored else ell_teacher, n_on, ell_student if n_on else 0.0)
''',
    "λ read as the off-policy fraction": '''
def gkd_cost(lam, batch_size, ell_teacher, ell_student, stored):
    n_on = round((1 - lam) * batch_size)
    return (0 if stored else (batch_size - n_on) * ell_teacher, n_on, n_on * ell_student)
''',
    "one scoring pass per token": '''
def gkd_cost(lam, batch_size, ell_teacher, ell_student, stored):
    n_on = round(lam * batch_size)
    return (0 if stored else (batch_size - n_on) * ell_teacher, n_on * ell_student, n_on * ell_student)
''',
    "stored data still decoded by the teacher": '''
def gkd_cost(lam, batch_size, ell_teacher, ell_student, stored):
    n_on = round(lam * batch_size)
    return ((batch_size - n_on) * ell_teacher, n_on, n_on * ell_student)
''',
    "λB rounded down": '''
def gkd_cost(lam, batch_size, ell_teacher, ell_student, stored):
    n_on = int(lam * batch_size)
    return (0 if stored else (batch_size - n_on) * ell_teacher, n_on, n_on * ell_student)
''',
    "the teacher decodes every sentence of the batch": '''
def gkd_cost(lam, batch_size, ell_teacher, ell_student, stored):
    n_on = round(lam * batch_size)
    return (0 if stored else batch_size * ell_teacher, n_on, n_on * ell_student)
''',
}
VALID["07.gkd_cost"] = {
    "numpy, as a list": '''
import numpy as np
def gkd_cost(lam, batch_size, ell_teacher, ell_student, stored):
    n_on = int(np.rint(lam * batch_size))
    fresh = batch_size - n_on
    return [0.0 if stored else float(fresh * ell_teacher), int(n_on), float(n_on * ell_student)]
''',
}

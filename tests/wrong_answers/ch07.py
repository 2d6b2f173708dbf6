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
    },
    "07.predict_baseline": {"b, upper case": "predict_baseline = 'B'"},
    "07.diagnose": {"a list": "diagnosis = ['beta_reversed', 'sampled_from_teacher', 'missing_baseline', "
                              "'lambda_reversed', 'correct']"},
    "07.pick_beta": {"from the table": "from kdbook.grading.ch07 import FRONTIER\n"
                                       "choice = (0.5, FRONTIER[0.5]['quality'][0] - FRONTIER[0.1]['quality'][0])\n"
                                       "choice_reasons = 'floor rules out 0.9 and 1'"},
}

# 07.recipe (create): the spec (quality >= -2.72 and coverage >= -2.00 nats per token) on a hidden seed.
# Plain forward KL on the student's own samples misses the quality floor, plain reverse KL the coverage
# floor (the chapter's frontier, FRONTIER in kdbook/grading/ch07.py); the reference is the solution's
# JSD(0.5) on teacher samples, here also written as a list.
WRONG["07.recipe"] = {
    "plain forward KL, fully on-policy (misses quality)": "def gkd_recipe(n_steps, seed):\n"
                                                          "    return ('forward', None, 1.0)\n",
    "plain reverse KL, fully on-policy (misses coverage)": "def gkd_recipe(n_steps, seed):\n"
                                                           "    return ('reverse', None, 1.0)\n",
}
VALID["07.recipe"] = {
    "JSD(0.5) on teacher samples, as a list": "def gkd_recipe(n_steps, seed):\n"
                                              "    return ['gjsd', 0.5, 0.0]\n",
}

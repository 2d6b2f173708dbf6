"""Typical wrong answers and valid alternatives for chapter 8's graded exercises (issue 19 §3).

Plain data: each source is exec'd in a fresh namespace and must define the exercise's answer name.
Every WRONG entry must lose points on every one of >= 20 grading seeds (public and hidden tests);
every VALID entry must get full points on every one of them (``tests/test_wrong_answers.py -k ch08``).
"""

_LOSS = '''
import numpy as np

def _ls(x):
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))

def cd_loss(student_logits, teacher_logits, mask, T=1.0):
    m = np.asarray(mask, bool)
    lq = _ls(np.where(m[..., None], np.asarray(student_logits, float), 0.0) / T)
    lp = _ls(np.where(m[..., None], np.asarray(teacher_logits, float), 0.0) / T)
    {body}
'''

_GRAD = '''
import numpy as np
import kdbook

def soft_prompt_grad(pre, U, teacher_logits, mask, T=1.0):
    h = np.tanh(pre)
    _, g = kdbook.kd_loss_and_grad(h @ U, teacher_logits, T=T, mask=mask, reduction="tokenmean")
    {body}
'''

_PAIR = '''
from kdbook.lm.context import set_prompt

def teacher_and_student(model, rows, context):
    {body}
'''

_MIX = '''
import numpy as np

def training_mix(n_rows, budget):
    keep_share = {share}
    return np.arange(n_rows) >= int(round(keep_share * n_rows))
'''

WRONG = {
    "08.rankings": {
        "reverse KL(q‖p) at both temperatures": 'rankings = (["F", "D", "E"], ["D", "F", "E"], "E")',
        "the T = 1 ranking for both temperatures": 'rankings = (["D", "F", "E"], ["D", "F", "E"], "E")',
        "top-1 view read as the smallest KL": 'rankings = (["D", "F", "E"], ["D", "E", "F"], "D")',
        "softmax of the probabilities, not of their logarithms": 'rankings = (["F", "D", "E"], ["F", "D", "E"], "E")',
        "worst first": 'rankings = (["E", "F", "D"], ["F", "E", "D"], "E")',
    },
    "08.cd_loss": {
        "T² factor missing": _LOSS.format(body="return float((np.exp(lp) * (lp - lq)).sum(-1)[m].sum() / m.sum())"),
        "reverse KL(q‖p)": _LOSS.format(body="return float(T**2 * (np.exp(lq) * (lq - lp)).sum(-1)[m].sum() / m.sum())"),
        "mean over sequences, not tokens": _LOSS.format(
            body="return float(T**2 * (np.exp(lp) * (lp - lq)).sum(-1)[m].sum() / len(m))"),
        "mean over every position, padding included": _LOSS.format(
            body="return float(T**2 * np.where(m, (np.exp(lp) * (lp - lq)).sum(-1), 0.0).mean())"),
        "naive softmax (overflows on large logits)": '''
import numpy as np

def cd_loss(student_logits, teacher_logits, mask, T=1.0):
    m = np.asarray(mask, bool)
    z = np.where(m[..., None], np.asarray(student_logits, float), 0.0) / T
    v = np.where(m[..., None], np.asarray(teacher_logits, float), 0.0) / T
    p = np.exp(v) / np.exp(v).sum(-1, keepdims=True)
    q = np.exp(z) / np.exp(z).sum(-1, keepdims=True)
    return float(T**2 * (p * np.log(p / q)).sum(-1)[m].sum() / m.sum())
''',
    },
    "08.soft_prompt_grad": {
        "tanh derivative missing": _GRAD.format(body="return (g @ U.T).sum(axis=(0, 1))"),
        "wrong sign": _GRAD.format(body="return -((g @ U.T) * (1 - h * h)).sum(axis=(0, 1))"),
        "gradient of the summed loss": _GRAD.format(
            body="return ((g @ U.T) * (1 - h * h)).sum(axis=(0, 1)) * np.asarray(mask).sum()"),
    },
    "08.keep_or_distil": {
        "cost ignored (quality bar only)": 'decisions = ["distil", "distil", "keep"]',
        "quality bar ignored (cost only)": 'decisions = ["distil", "keep", "distil"]',
        "always distil": 'decisions = ["distil", "distil", "distil"]',
    },
    "08.recipe_claims": {
        "the mix statement missed": 'recipe_claims = {"a", "c"}',
        "σ's number taken as a general law": 'recipe_claims = {"a", "c", "d", "e"}',
        "ŷ's brief share taken as the behaviour": 'recipe_claims = {"a", "b", "c", "e"}',
    },
    "08.teacher_student": {
        "teacher reads the stored rows (the silent failure: loss 0)": _PAIR.format(
            body="return model.logits(rows), model.logits(rows)"),
        "student reads the prompt too": _PAIR.format(
            body="x = set_prompt(rows, model, context)\n    return model.logits(x), model.logits(x)"),
        "swapped": _PAIR.format(body="return model.logits(rows), model.logits(set_prompt(rows, model, context))"),
        "teacher reads only the first instruction": _PAIR.format(
            body="return model.logits(set_prompt(rows, model, context[0])), model.logits(rows)"),
        "teacher always reads the chapter's prompt": _PAIR.format(
            body='return model.logits(set_prompt(rows, model, ("brief", "polite"))), model.logits(rows)'),
    },
    "08.collapse_cause": {
        "blames the data": 'collapse_cause = {"b", "e"}',
        "data make no difference": 'collapse_cause = {"a", "c", "d", "e"}',
        "one true statement missed": 'collapse_cause = {"a", "c"}',
    },
    "08.predict_neutral": {
        "as in the exact language": 'predict_neutral = "a"',
        "larger than where the prompt matters": 'predict_neutral = "c"',
    },
    "08.training_mix": {
        "a constant share (30 % keep rows)": _MIX.format(share="0.3"),
        "the inverted rule (more keep rows for a looser budget)": _MIX.format(share="min(1.0, 20 * budget)"),
        "no keep rows (the baseline)": _MIX.format(share="0.0"),
        "the chapter's 3-seed table read literally (25 % or 10 %)": _MIX.format(share="0.25 if budget < 0.01 else 0.1"),
    },
}

VALID = {
    "08.rankings": {"lower case, lists as tuples": 'rankings = (("d", "f", "e"), ("d", "e", "f"), "e")'},
    "08.cd_loss": {
        "float32": '''
import numpy as np

def cd_loss(student_logits, teacher_logits, mask, T=1.0):
    m = np.asarray(mask, bool)
    z = np.where(m[..., None], student_logits, 0.0)[m].astype(np.float32) / np.float32(T)
    v = np.where(m[..., None], teacher_logits, 0.0)[m].astype(np.float32) / np.float32(T)
    z = z - z.max(-1, keepdims=True); v = v - v.max(-1, keepdims=True)
    lq = z - np.log(np.exp(z).sum(-1, keepdims=True)); lp = v - np.log(np.exp(v).sum(-1, keepdims=True))
    return np.float32(T**2) * (np.exp(lp) * (lp - lq)).sum(-1).astype(np.float64).mean()
''',
        "cross-entropy minus entropy, on the unmasked rows only": '''
import numpy as np

def cd_loss(student_logits, teacher_logits, mask, T=1.0):
    m = np.asarray(mask, bool)
    z, v = np.asarray(student_logits, float)[m] / T, np.asarray(teacher_logits, float)[m] / T
    lse = lambda x: x.max(-1) + np.log(np.exp(x - x.max(-1, keepdims=True)).sum(-1))
    p = np.exp(v - lse(v)[:, None])
    ce = -(p * (z - lse(z)[:, None])).sum(-1)
    h = -(p * (v - lse(v)[:, None])).sum(-1)
    return float(T**2 * (ce - h).mean())
''',
    },
    "08.soft_prompt_grad": {
        "by hand, no kdbook": '''
import numpy as np

def soft_prompt_grad(pre, U, teacher_logits, mask, T=1.0):
    m = np.asarray(mask, bool)
    h = np.tanh(pre)
    z = (h @ U) / T
    v = np.where(m[..., None], teacher_logits, 0.0) / T
    sm = lambda x: np.exp(x - x.max(-1, keepdims=True)) / np.exp(x - x.max(-1, keepdims=True)).sum(-1, keepdims=True)
    g = T * (sm(z) - sm(v)) * m[..., None] / m.sum()
    return ((g @ U.T) * (1 - h * h)).sum(axis=(0, 1))
''',
    },
    "08.keep_or_distil": {"a tuple in capitals": 'decisions = ("DISTIL", "KEEP", "KEEP")'},
    "08.recipe_claims": {"a list of capitals": 'recipe_claims = ["A", "C", "E"]'},
    "08.teacher_student": {
        "log-probabilities instead of logits": _PAIR.format(
            body="import kdbook\n    return (kdbook.log_softmax(model.logits(set_prompt(rows, model, context))),\n"
                 "            kdbook.log_softmax(model.logits(rows)))"),
        "a copy as the student, its prompt removed explicitly": _PAIR.format(
            body="student = model.copy()\n    return (model.logits(set_prompt(rows, model, context)),\n"
                 "            student.logits(set_prompt(rows, model, None)))"),
    },
    "08.collapse_cause": {"a string of letters": 'collapse_cause = "a, c, e"'},
    "08.predict_neutral": {"the right letter": 'predict_neutral = "b"'},
    "08.training_mix": {
        # (min(1, 0.0045 / budget) is NOT valid: at budget 0.005 it keeps 90 % of the rows and the student
        # misses the quality bar on some seeds; keep rows trade the drift against the prompted side)
        "more margin, capped at three quarters": _MIX.format(share="min(0.75, 0.004 / budget)"),
        "a measured table, interpolated": '''
import numpy as np

def training_mix(n_rows, budget):
    # worst-seed drift measured at these shares of keep rows, with a margin
    shares, drift = [0.1, 0.2, 0.3, 0.5, 0.7, 1.0], [0.0264, 0.0133, 0.0084, 0.0050, 0.0034, 0.0]
    ok = [s for s, d in zip(shares, drift) if d <= 0.75 * budget]
    keep_share = min(ok)
    return np.arange(n_rows) >= int(round(keep_share * n_rows))
''',
    },
}

"""Chapter 1's wrong-answer catalogue (format: tests/wrong_answers/__init__.py)."""

WRONG = {
    "01.kl_contributions": {
        "p and q swapped": '''
import numpy as np
def kl_contributions(p, q):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(q > 0, q * (np.log(q) - np.log(p)), 0.0)
''',
        "no 0·log 0 = 0 (nan where p_i = 0)": '''
import numpy as np
def kl_contributions(p, q):
    with np.errstate(divide="ignore", invalid="ignore"):
        return p * np.log(p / q)
''',
        "masked on q > 0 instead of p > 0 (0 where inf is due)": '''
import numpy as np
def kl_contributions(p, q):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((p > 0) & (q > 0), p * np.log(p / q), 0.0)
''',
        "log(q/p): every sign flipped": '''
import numpy as np
def kl_contributions(p, q):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(p > 0, p * (np.log(q) - np.log(p)), 0.0)
''',
    },
    "01.rank_students": {
        "largest divergence first": '''
import numpy as np, kdbook
def rank_students(p, students):
    return np.argsort(-kdbook.kl_divergence(p, students))
''',
        "ranks of each student instead of the order (argsort twice)": '''
import numpy as np, kdbook
def rank_students(p, students):
    return np.argsort(np.argsort(kdbook.kl_divergence(p, students)))
''',
        "by KL(q‖p), the other direction": '''
import numpy as np, kdbook
def rank_students(p, students):
    return np.argsort(kdbook.kl_divergence(students, p))
''',
        "by the probability of the teacher's top class": '''
import numpy as np
def rank_students(p, students):
    top = int(np.argmax(p))
    return np.argsort(np.abs(students[:, top] - p[top]))
''',
    },
    "01.worst_class": {
        "largest |p − q| (class 0)": '''
import numpy as np
from kdbook.grading.ch01 import TEACHER, STUDENT_A
worst_class = int(np.argmax(np.abs(TEACHER - STUDENT_A)))
''',
        "terms of KL(A‖teacher), the other direction": '''
import numpy as np
from kdbook.grading.ch01 import TEACHER, STUDENT_A
worst_class = int(np.argmax(STUDENT_A * np.log(STUDENT_A / TEACHER)))
''',
        "counted from 1 (off by one)": '''
import numpy as np
from kdbook.grading.ch01 import TEACHER, STUDENT_A
worst_class = int(np.argmax(TEACHER * np.log(TEACHER / STUDENT_A))) + 1
''',
        "smallest term": '''
import numpy as np
from kdbook.grading.ch01 import TEACHER, STUDENT_A
worst_class = int(np.argmin(TEACHER * np.log(TEACHER / STUDENT_A)))
''',
    },
    "01.closer": {
        "A (more confident on the top class)": 'closer = "A"',
        "A, by KL(student‖teacher)": '''
import kdbook
from kdbook.grading.ch01 import TEACHER, STUDENT_A, STUDENT_B
a, b = kdbook.kl_divergence(STUDENT_A, TEACHER), kdbook.kl_divergence(STUDENT_B, TEACHER)
closer = "A" if a > b else "B"  # larger means closer: the comparison inverted
''',
    },
    "01.justify": {
        "A is closer (b, d)": 'justify_claims = {"b", "d"}',
        "the right two plus class 0's blame": 'justify_claims = {"a", "c", "e"}',
        "only the accuracy statement": 'justify_claims = {"a"}',
    },
    "01.predict_shuffled": {
        "a": 'predict_shuffled = "a"',
        "b": 'predict_shuffled = "b"',
        "two letters": 'predict_shuffled = {"a", "c"}',
    },
    "01.capped_student": {
        "baseline: clip and spread the excess evenly": '''
from kdbook.grading.ch01 import spread_evenly as capped_student
''',
        "constant: uniform over the classes": '''
import numpy as np
def capped_student(p, cap):
    return np.full(len(p), 1.0 / len(p))
''',
        "clip at the cap, then renormalise (breaks the cap)": '''
import numpy as np
def capped_student(p, cap):
    q = np.minimum(p, cap)
    return q / q.sum()
''',
        "clip and give the excess to the next class": '''
import numpy as np
def capped_student(p, cap):
    q = np.asarray(p, dtype=float).copy()
    order = np.argsort(-q)
    for i, j in zip(order[:-1], order[1:]):
        if q[i] > cap:
            q[j] += q[i] - cap
            q[i] = cap
    return q
''',
    },
}

VALID = {
    "01.kl_contributions": {
        "scipy.special.rel_entr": '''
import numpy as np, scipy.special
def kl_contributions(p, q):
    return scipy.special.rel_entr(np.asarray(p, dtype=float), np.asarray(q, dtype=float))
''',
        "xlogy differences": '''
from scipy.special import xlogy
def kl_contributions(p, q):
    return xlogy(p, p) - xlogy(p, q)
''',
    },
    "01.rank_students": {
        "sorted by scipy.stats.entropy": '''
import numpy as np, scipy.stats
def rank_students(p, students):
    return sorted(range(len(students)), key=lambda i: scipy.stats.entropy(p, students[i]))
''',
    },
    "01.worst_class": {
        "a numpy integer from rel_entr": '''
import numpy as np, scipy.special
from kdbook.grading.ch01 import TEACHER, STUDENT_A
worst_class = np.argmax(scipy.special.rel_entr(TEACHER, STUDENT_A))
''',
    },
    "01.closer": {
        "'Student B' from the divergences": '''
import kdbook
from kdbook.grading.ch01 import TEACHER, STUDENT_A, STUDENT_B
a, b = kdbook.kl_divergence(TEACHER, STUDENT_A), kdbook.kl_divergence(TEACHER, STUDENT_B)
closer = "Student B" if b < a else "Student A"
''',
    },
    "01.justify": {"a string of letters": 'justify_claims = "c, a"'},
    "01.predict_shuffled": {"upper case": 'predict_shuffled = "C"'},
    "01.capped_student": {
        "fixed point: pin the capped classes, rescale the rest": '''
import numpy as np
def capped_student(p, cap):
    p = np.asarray(p, dtype=float)
    pinned = np.zeros(p.size, dtype=bool)
    while True:
        free = ~pinned
        q = np.where(pinned, cap, p * (1 - cap * pinned.sum()) / p[free].sum())
        over = free & (q > cap)
        if not over.any():
            return q
        pinned |= over
''',
        "scipy.optimize.brentq on the constant": '''
import numpy as np
from scipy.optimize import brentq
def capped_student(p, cap):
    p = np.asarray(p, dtype=float)
    c = brentq(lambda c: np.minimum(cap, c * p).sum() - 1.0, 0.0, 1.0 / (cap * p.min()), xtol=1e-15)
    q = np.minimum(cap, c * p)
    return q / q.sum()
''',
    },
}

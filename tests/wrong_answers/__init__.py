"""The wrong-answer catalogue: typical wrong answers and valid alternatives for every graded exercise.

One data module per chapter, ``chNN.py``, holds two dicts keyed by exercise id::

    WRONG = {"02.kl_scratch": {"log2 instead of ln": '''
    import numpy as np

    def kl_scratch(p, q):
        ...
    ''', ...}, ...}
    VALID = {"02.kl_scratch": {"float32": '''...'''}, ...}

Each source is executed in a fresh namespace (it imports what it needs) and must define the
exercise's answer name (``Exercise.name``: a function, a value, a set of letters or one letter).
``tests/test_wrong_answers.py`` runs every entry through the grading engine, public and hidden
tests, on 20 grading seeds:

* a WRONG entry must lose points on every seed (the bugs learners really make: direction swapped,
  mask ignored with non-zero padding, mean over the wrong axis, naive softmax on extreme logits,
  convention reversed, off-by-one, a factor missing or doubled, log2 instead of ln, the baseline
  the task names, the solution's rule inverted, constants; for select and prediction items, wrong
  sets and wrong letters);
* a create item's WRONG entry labelled ``"baseline: ..."`` (the baseline the task names) or
  ``"constant: ..."`` (a design that ignores the task's inputs) must score 0 points on every seed;
* a VALID entry (another correct method, float32, a scipy-based one where scipy is allowed) must
  get full points on every seed, with every test passing, so no message diagnoses a bug it does
  not have.

Every graded exercise of every chapter in ``kdbook.grading.registry`` needs at least two WRONG
and one VALID entries (text items, which earn no automatic points, are exempt): a new chapter's
exercises fail the coverage test until its ``chNN.py`` exists. Sources must be deterministic
(seed any generator they use) and cheap: a create item's entries are run 20 times.
"""

"""What kind of word a student writes where the toy grammar would not: counting the slips.

Introduced in chapter 7 (``notebooks/07_generation_and_on_policy_distillation.ipynb``). A token
is *off the grammar* when the teacher (``kdbook.lm.ToyLanguage``) gives it a log-probability
below ``floor`` after its prefix (the language gives such tokens only its small floor
probability). Each off-grammar token is sorted by its word class and context into one of
:data:`SLIP_KINDS`:

``"noun that does not fit"``
    a noun whose number or topic clashes with what precedes it ("the small robots see");
``"second verb after a complete clause"``
    a verb after a clause that already has its verb, with no "and" in between;
``"verb that does not fit its subject"``
    any other off-grammar verb (number or topic mismatch, a verb with no subject);
``"early end"``
    ``</s>`` before the sentence is complete (a subject with no verb, a verb with no object);
``"other"``
    adverbs, "and", determiners or adjectives in the wrong place.
"""
from __future__ import annotations

import numpy as np

from .policy import policy_token_logprobs
from .sequences import LMBatch

__all__ = ["SLIP_KINDS", "count_slips"]

SLIP_KINDS = ("noun that does not fit", "second verb after a complete clause", "verb that does not fit its subject",
              "early end", "other")


def count_slips(teacher, batch: LMBatch, *, floor: float = float(np.log(0.003))) -> dict[str, int]:
    """Count the off-grammar tokens of ``batch`` by kind (:data:`SLIP_KINDS`), scored by ``teacher``.

    ``teacher`` must be a ``kdbook.lm.ToyLanguage`` (its grammar tables name each word's class).
    Introduced in chapter 7.

    Examples
    --------
    >>> from kdbook.lm import ToyLanguage
    >>> lang = ToyLanguage()
    >>> count_slips(lang, lang.batch(["the dog", "the dog sleeps sleeps"]))["early end"]
    1
    """
    if not isinstance(batch, LMBatch):
        raise TypeError(f"batch must be a kdbook.lm.LMBatch, got {type(batch).__name__}")
    if not hasattr(teacher, "tables"):
        raise TypeError(f"teacher must be a kdbook.lm.ToyLanguage (it names word classes), got {type(teacher).__name__}")
    cats = [w.cat for w in teacher.tables.words]
    lp = policy_token_logprobs(teacher, batch)
    counts = dict.fromkeys(SLIP_KINDS, 0)
    for tgt, m, row in zip(batch.targets, batch.mask, lp):
        has_verb = False
        for tok, ok, l in zip(tgt[m], m[m], row[m]):
            cat = cats[int(tok)]
            if l < floor:
                if cat == "noun":
                    kind = SLIP_KINDS[0]
                elif cat == "verb":
                    kind = SLIP_KINDS[1] if has_verb else SLIP_KINDS[2]
                elif cat == "end":
                    kind = SLIP_KINDS[3]
                else:
                    kind = SLIP_KINDS[4]
                counts[kind] += 1
            if cat == "verb":
                has_verb = True
            elif cat == "and":
                has_verb = False
    return counts

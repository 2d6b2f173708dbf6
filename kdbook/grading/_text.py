"""Checks of written answers (private, deprecated): required facts, claims that contradict them.

Deprecated for points: pattern matching on free text gave full marks to negations, keyword lists
and wrong claims in the right words. Grade claims as a ``select`` exercise (``spec.select_tests``)
and collect the sentences as the exercise's ``reasoning`` for the instructor (docs/grading.md,
*Written answers*). Kept so that chapter modules written against the older API still import; a
judge built on it should award no points (use it at most for a nudge in a 0-point test).

A written answer passes when it states every required fact and makes none of the known wrong
claims. Facts and claims are regular expressions matched on a normalised copy of the answer
(``KL(p || q)``, ``KL(p‖q)`` and ``D_KL(p, q)`` all read ``KL(p‖q)``; ``T^2``, ``T**2`` and
``T squared`` read ``T²``). The messages say what is missing in general terms and never quote the
expected answer.

>>> normalise("D_KL( q || p ) is inf; multiply by T^2")
'KL(q‖p) is inf; multiply by T²'
>>> import re
>>> bool(re.search(says("KL\\\\(p‖q\\\\)", "infinit"), normalise("KL(p||q) is infinite")))
True
>>> bool(re.search(says("KL\\\\(p‖q\\\\)", "infinit"), normalise("KL(p||q) is not infinite")))
False
"""
from __future__ import annotations

import re
from typing import Any

from .spec import Fail

__all__ = ["normalise", "says", "key_facts"]

#: Words that end the clause a claim is read in: a new sentence, a contrast, another divergence.
_CLAUSE = r"(?:(?![.;:]\s|[.;:]$|\bbut\b|\bwhile\b|\bwhereas\b|\bthough\b|\bunlike\b|KL\()[^;])"


def normalise(text: str) -> str:
    """One spelling for divergences and T², single spaces."""
    t = re.sub(r"\s+", " ", text)
    t = re.sub(r"\s*(\|\||∥|\|)\s*", "‖", t)
    t = re.sub(r"\b(?:D_?KL|D|KL)\s*\(\s*(\w+)\s*(?:‖|,)\s*(\w+)\s*\)", r"KL(\1‖\2)", t)
    t = re.sub(r"\bT\s*(?:\^\s*\(?2\)?|\*\*\s*2|²)|\bT[ -]squared", "T²", t)
    return t


def says(subject: str, predicate: str, *, stop: str | None = None) -> str:
    """A pattern for "``subject`` … ``predicate``" within one clause, the predicate not negated.

    ``stop`` (a pattern, such as another subject) also ends the clause.
    """
    clause = _CLAUSE if stop is None else rf"(?:(?!{stop}){_CLAUSE})"
    return rf"(?:{subject}){clause}*?(?<!not )(?<!n't )(?<!never )(?<!no longer )(?:{predicate})"


def key_facts(answer: Any, facts: list[tuple[str, str]], *, wrong: tuple = (), min_words: int = 8,
              tally: str | None = None) -> None:
    """Fail unless a written answer states every fact and none of the wrong claims.

    ``facts`` and ``wrong`` hold ``(message, pattern)`` pairs; a fact's message says in general
    terms what the answer does not yet say, a wrong claim's message what to reconsider. With
    ``tally`` ("bugs"), a missing fact is reported only as a count: "2 of 3 bugs identified".
    """
    if not isinstance(answer, str):
        raise Fail(f"the answer should be a string of one or two sentences, got {type(answer).__name__}")
    words = len(answer.split())
    if words < min_words:
        raise Fail(f"write a full sentence or two (at least {min_words} words); got {words}")
    text = normalise(answer)
    for message, pattern in wrong:
        if re.search(pattern, text, re.IGNORECASE):
            raise Fail(message)
    missing = [message for message, pattern in facts if not re.search(pattern, text, re.IGNORECASE)]
    if missing and tally:
        raise Fail(f"{len(facts) - len(missing)} of {len(facts)} {tally} identified")
    if missing:
        raise Fail("; and ".join(missing))

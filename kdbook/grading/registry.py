"""The exercise registry: every exercise of every chapter, by id.

Adding a chapter's exercises is routine: write ``kdbook/grading/chNN.py`` with an ``EXERCISES``
tuple and add its module name to :data:`CHAPTERS`.

>>> from kdbook.grading import registry
>>> registry.get("02.kl_scratch").name
'kl_scratch'
"""
from __future__ import annotations

import importlib

from ._core import Exercise

__all__ = ["CHAPTERS", "chapter_exercises", "all_exercises", "get"]

#: Chapter number → module holding that chapter's ``EXERCISES``.
CHAPTERS = {"01": "ch01", "02": "ch02", "03": "ch03", "04": "ch04", "05": "ch05", "06": "ch06", "07": "ch07", "08": "ch08",
            "09": "ch09"}


def chapter_exercises(chapter: str) -> tuple[Exercise, ...]:
    """The exercises of one chapter ("01" … "05"), in notebook order."""
    if chapter not in CHAPTERS:
        raise KeyError(f"no exercises for chapter {chapter!r}; chapters: {', '.join(CHAPTERS)}")
    return importlib.import_module(f".{CHAPTERS[chapter]}", __package__).EXERCISES


def all_exercises() -> tuple[Exercise, ...]:
    """Every exercise of every chapter."""
    return tuple(ex for ch in CHAPTERS for ex in chapter_exercises(ch))


def get(exercise_id: str) -> Exercise:
    """The exercise with this id, or ``KeyError`` naming the known ids of its chapter."""
    chapter = str(exercise_id)[:2]
    if chapter in CHAPTERS:
        for ex in chapter_exercises(chapter):
            if ex.id == exercise_id:
                return ex
        known = ", ".join(ex.id for ex in chapter_exercises(chapter))
        raise KeyError(f"no exercise {exercise_id!r}; chapter {chapter} has {known}")
    raise KeyError(f"no exercise {exercise_id!r}; ids look like '02.kl_scratch'")

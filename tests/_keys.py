"""The instructor's answer keys for the tests: read from this repository's solution notebooks (private).

``run_all(ex, namespace, seed=s)`` scores every test of an exercise, hidden and keyed ones included,
as the batch grader does: :func:`kdbook.grading.engine.score` with the exercise's key.
"""
from __future__ import annotations

from pathlib import Path

from kdbook.grading import engine, keys

ROOT = Path(__file__).resolve().parents[1]
KEYS = keys.solution_keys(ROOT / "solutions")


def run_all(exercise, namespace: dict, *, seed: int, public_seed: int | None = None, timeout: float | None = 10.0):
    """Every verdict of ``exercise`` on ``namespace`` in the grading run with ``seed``."""
    return engine.score(exercise, namespace, seed=seed, key=KEYS.get(exercise.id), public_seed=public_seed,
                        timeout=timeout)


def truth(exercise_id: str) -> list[bool | None]:
    """Per statement of a select item, in order: True, False, or None (either is accepted), from its key."""
    from kdbook.grading import registry

    key = KEYS[exercise_id]
    either, answer = set(key.get("either", ())), set(key["answer"])
    letters = [chr(97 + i) for i in range(len(registry.get(exercise_id).statements))]
    return [None if x in either else x in answer for x in letters]


def scenario_decision(s) -> str:
    """08.keep_or_distil, worked out independently of the key: distil when the distilled student meets
    the quality bar and the positions saved over all queries exceed the one-off cost of distilling."""
    return "distil" if s.distilled_kl <= s.max_kl and s.queries * s.prompt_tokens > s.training_passes else "keep"

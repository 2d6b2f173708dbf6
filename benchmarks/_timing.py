"""Shared timing helper for the benchmark scripts (run from this folder, so importable by name)."""
from __future__ import annotations

import time
from typing import Callable


def best(fn: Callable[[], object], repeat: int = 7, *, warm_up: bool = True) -> float:
    """The fastest of ``repeat`` timed calls of ``fn`` in seconds (after one untimed call)."""
    if warm_up:
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)

"""Row-chunked, multi-threaded evaluation (private).

Divergences and losses reduce over the class axis only, so every row is independent. Working on
a few rows at a time keeps temporaries in cache and peak extra memory to a few MB whatever the
batch size; numpy's ufuncs release the GIL, so chunks run on all cores in threads. Where threads
cannot start (Pyodide in the browser, WASI) the chunks run one after another in the calling thread.
"""
from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Callable

import numpy as np

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

#: Target bytes of one input per chunk (keeps a chunk's temporaries in a core's L2 cache).
CHUNK_BYTES = 1 << 18
#: Inputs smaller than this run in the calling thread (thread hand-off costs more than it saves).
PARALLEL_MIN_BYTES = 1 << 22

_executor: ThreadPoolExecutor | None = None


def threads_available() -> bool:
    """False on platforms without threads: Pyodide/Emscripten (the JupyterLite site) and WASI."""
    return sys.platform not in ("emscripten", "wasi")


def _workers() -> int:
    if not threads_available():
        return 1
    return max(1, min(8, os.cpu_count() or 1))


def _pool() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        # Imported on first use: concurrent.futures pulls in logging, which `import kdbook` skips.
        from concurrent.futures import ThreadPoolExecutor

        _executor = ThreadPoolExecutor(max_workers=_workers(), thread_name_prefix="kdbook")
    return _executor


def for_row_chunks(n_rows: int, row_bytes: int, work: Callable[[int, int], None]) -> None:
    """Call ``work(lo, hi)`` on consecutive row ranges covering ``range(n_rows)``.

    ``work`` must write only to rows ``lo:hi`` of its outputs. Exceptions propagate.
    """
    if n_rows == 0:
        return
    rows = max(1, CHUNK_BYTES // max(row_bytes, 1))
    bounds = [(lo, min(lo + rows, n_rows)) for lo in range(0, n_rows, rows)]
    if len(bounds) == 1 or n_rows * row_bytes < PARALLEL_MIN_BYTES or _workers() == 1:
        for lo, hi in bounds:
            work(lo, hi)
        return
    # Group ranges so each worker gets a few large tasks (less scheduling overhead).
    n_tasks = _workers() * 4
    step = -(-len(bounds) // n_tasks)
    groups = [bounds[i : i + step] for i in range(0, len(bounds), step)]

    def run(group: list[tuple[int, int]]) -> None:
        for lo, hi in group:
            work(lo, hi)

    for future in [_pool().submit(run, g) for g in groups]:
        future.result()


def as_rows(x: np.ndarray, axis: int) -> np.ndarray:
    """View (or, if unavoidable, copy) ``x`` as a 2-D (rows, classes) array with classes last."""
    x = np.moveaxis(x, axis, -1)
    return x.reshape(-1, x.shape[-1])

"""Grading time of the create items (issue 15: about 3 s or less per item and hidden seed).

Run from the repository root::

    .venv/bin/python benchmarks/bench_grading.py            # 5 hidden seeds
    .venv/bin/python benchmarks/bench_grading.py --seeds 20

For every create item it runs all tests (public and hidden) of the reference design from the
solution notebook, in this process, and prints the best and the median wall-clock time over the
seeds, and the ratio of the median to the 3 s budget. Other load on the machine shows in the
times; compare the ratios of one run.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kdbook.grading import engine, registry  # noqa: E402

BUDGET = 3.0


def _solution(chapter: str) -> dict:
    path = next((ROOT / "solutions").glob(f"{chapter}_*.ipynb"))
    ns: dict = {"__name__": "__main__"}
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "code" and "check" not in cell.metadata.get("tags", []):
            with contextlib.redirect_stdout(io.StringIO()):  # the notebook's own prints
                exec(compile(cell.source, str(path), "exec"), ns)
    return ns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    print(f"{'exercise':<22} {'points':>6} {'best s':>8} {'median s':>9} {'median/budget':>14}")
    for ex in (ex for ex in registry.all_exercises() if ex.level == "create"):
        ns = _solution(ex.chapter)
        times, points = [], set()
        for seed in range(1, args.seeds + 1):
            start = time.perf_counter()
            verdicts = engine.score(ex, ns, seed=seed, timeout=None)  # create items need no key
            times.append(time.perf_counter() - start)
            points.add(sum(v.points for v in verdicts))
        shown = "/".join(f"{p:g}" for p in sorted(points))
        median = statistics.median(times)
        print(f"{ex.id:<22} {shown:>6} {min(times):>8.3f} {median:>9.3f} {median / BUDGET:>14.2f}")


if __name__ == "__main__":
    main()

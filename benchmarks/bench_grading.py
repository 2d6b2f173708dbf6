"""Grading time of the create items (issue 15: about 3 s or less per item and hidden seed).

Run from the repository root::

    .venv/bin/python benchmarks/bench_grading.py            # 5 hidden seeds
    .venv/bin/python benchmarks/bench_grading.py --seeds 20
    .venv/bin/python benchmarks/bench_grading.py --class-zip 300   # a whole class from a Canvas zip

For every create item it runs all tests (public and hidden) of the reference design from the
solution notebook, in this process, and prints the best and the median wall-clock time over the
seeds, and the ratio of the median to the 3 s budget. Other load on the machine shows in the
times; compare the ratios of one run.

``--class-zip N`` instead builds a Canvas "Download Submissions" zip of N chapter-1 notebooks
(the solution, with every fourth learner handing in the blank exercise notebook), grades it with
``python -m kdbook.grade`` (the command line: one child process per submission, forked from the
fork server, ``--jobs`` = cores), checks every score, and prints the wall-clock time, the load
average before and after, and the CPU time (issue 25 budget: 300 submissions in 3 minutes on 2
cores). ``KDBOOK_GRADE_FORK_SERVER=0`` measures the fallback (a fresh ``python -I`` per child).
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


def class_zip(n: int, chapter: str = "01") -> None:
    """Grade ``n`` submissions of ``chapter`` from a Canvas-shaped zip and print the time."""
    import json
    import os
    import resource
    import subprocess
    import tempfile
    import zipfile

    name = next((ROOT / "solutions").glob(f"{chapter}_*.ipynb")).name
    solution = (ROOT / "solutions" / name).read_bytes()
    blank = (ROOT / "exercises" / name).read_bytes()
    with tempfile.TemporaryDirectory() as tmp:
        z = Path(tmp) / "submissions.zip"
        with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
            for k in range(n):
                zf.writestr(f"learner{k:04d}_{1000 + k}_{50000 + k}_{name}",
                            blank if k % 4 == 3 else solution)
        load = os.getloadavg()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "kdbook.grade", str(z), "--out", str(Path(tmp) / "report.json")],
                       check=True, capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        report = json.loads((Path(tmp) / "report.json").read_text())
    scores = [(s["score"], s["max_score"]) for s in report["submissions"]]
    full, zero = sum(a == b > 0 for a, b in scores), sum(a == 0 for a, _ in scores)
    expected_zero = sum(k % 4 == 3 for k in range(n))
    print(f"scores: {full} full marks, {zero} zero (expected {n - expected_zero} and {expected_zero}); "
          f"isolation: {report['isolation']}")
    if (full, zero) != (n - expected_zero, expected_zero):
        from collections import Counter

        print("scores (score, max) and how many:", dict(Counter(scores)))
        print("messages:", {m for sub in report["submissions"] for ex in sub["exercises"] for m in ex["messages"]
                            if m.startswith("✗")})
        raise SystemExit("the grader did not grade the class right: the time above means nothing")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    cores = os.cpu_count() or 1
    print(f"graded {n} submissions of chapter {chapter} from a Canvas zip in {wall:.1f} s on {cores} cores "
          f"({wall / n:.2f} s each; load average {load[0]:.2f} before, {os.getloadavg()[0]:.2f} after)")
    # CPU seconds do not grow with other work on the machine the way wall time does: divided by the
    # cores they give the wall time this class would take on an otherwise idle machine.
    print(f"CPU time of the grader and its children: {cpu:.1f} s; on an idle machine about {cpu / cores:.1f} s "
          f"({cpu / cores / 180:.2f} of the 180 s budget)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--class-zip", type=int, metavar="N", help="grade N submissions from a zip instead")
    parser.add_argument("--chapter", default="01", help="the chapter of --class-zip (default 01)")
    args = parser.parse_args()
    if args.class_zip:
        class_zip(args.class_zip, args.chapter)
        return
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

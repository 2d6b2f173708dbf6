"""Command line of the batch grader: ``python -m kdbook.grade SUBMISSION.ipynb [...] --out report.json``.

SIGINT and SIGTERM stop grading cleanly: running submissions are killed and a complete, valid
report (marked ``"interrupted": true``) is still written; the exit status is then 130.
"""
from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from . import NOT_IN_BROWSER, Limits, grade, merge_manual, roundtrip


def _on_term(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    if sys.platform == "emscripten":
        print(NOT_IN_BROWSER, file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(prog="python -m kdbook.grade", description=__doc__)
    parser.add_argument("submissions", nargs="+", type=Path,
                        help="submitted notebooks, folders of them, or an LMS's download zip (never modified)")
    parser.add_argument("--out", type=Path, default=Path("report.json"), help="JSON report (default report.json)")
    parser.add_argument("--csv", type=Path, help="also write one CSV row per submission")
    parser.add_argument("--md", type=Path, help="also write a Markdown report (with the written reasoning to read)")
    parser.add_argument("--manual", type=Path,
                        help="merge the instructor's points for written reasoning from this CSV "
                             "(columns submission,exercise,points[,comment]; see docs/grading.md)")
    parser.add_argument("--chapter", help="grade every submission as this chapter (01..05) instead of detecting it")
    parser.add_argument("--seed", type=int, help="seed of the tests' inputs (default: fresh, recorded)")
    parser.add_argument("--jobs", type=int, help="submissions graded at once (default: the number of cores)")
    parser.add_argument("--step-timeout", type=float, default=Limits.step_timeout,
                        help="seconds for one code cell or one test (default %(default)s)")
    parser.add_argument("--submission-timeout", type=float, default=Limits.submission_timeout,
                        help="seconds for a whole submission (default %(default)s)")
    parser.add_argument("--memory-mb", type=int, default=Limits.memory_mb,
                        help="memory cap of a submission's process in MB (default %(default)s)")
    roundtrip.add_arguments(parser)
    args = parser.parse_args(argv)
    missing = [str(p) for p in args.submissions if not p.exists()]
    if missing:
        parser.error(f"no such file: {', '.join(missing)}")
    outputs = [p.resolve() for p in (args.out, args.csv, args.md, args.canvas_csv, args.moodle_worksheet) if p]
    if any(p.resolve() in outputs for p in args.submissions):
        parser.error("a report path is one of the submissions; submissions are never overwritten")
    try:
        manual, skipped = roundtrip.read_manual_lenient(args.manual) if args.manual else (None, [])
    except (OSError, ValueError) as err:
        parser.error(f"--manual: {err}")
    for note in skipped:
        print(f"--manual: {note}", file=sys.stderr)
    trip = roundtrip.prepare(args, parser)
    limits = Limits(args.step_timeout, args.submission_timeout, args.memory_mb)
    try:
        previous = signal.signal(signal.SIGTERM, _on_term)
        try:
            report = grade(trip.paths, chapter=args.chapter, seed=args.seed, limits=limits, jobs=args.jobs)
        finally:
            signal.signal(signal.SIGTERM, previous)
        trip.annotate(report)
        if manual is not None:
            for problem in merge_manual(report, trip.manual_keys(manual)):
                print(f"--manual: {problem}", file=sys.stderr)
        report = trip.finish(report, manual and trip.manual_keys(manual))  # as written: pseudonyms if asked
    finally:
        trip.collected.cleanup()
    for entry in report["submissions"]:
        print(f"{entry['score']:g}/{entry['max_score']:g}  {entry.get('status', '')}  {entry['submission']}")
    print(f"wrote {args.out}" + "".join(f", {p}" for p in (args.csv, args.md, args.canvas_csv, args.moodle_worksheet,
                                                           args.feedback) if p))
    return 130 if report.get("interrupted") else 0


if __name__ == "__main__":
    sys.exit(main())

"""Command line of the batch grader: ``python -m kdbook.grade SUBMISSION.ipynb [...] --out report.json``."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import NOT_IN_BROWSER, Limits, grade, write_csv, write_json, write_markdown


def main(argv: list[str] | None = None) -> int:
    if sys.platform == "emscripten":
        print(NOT_IN_BROWSER, file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(prog="python -m kdbook.grade", description=__doc__)
    parser.add_argument("submissions", nargs="+", type=Path, help="submitted exercise notebooks (never modified)")
    parser.add_argument("--out", type=Path, default=Path("report.json"), help="JSON report (default report.json)")
    parser.add_argument("--csv", type=Path, help="also write one CSV row per submission")
    parser.add_argument("--md", type=Path, help="also write a Markdown report")
    parser.add_argument("--chapter", help="grade every submission as this chapter (01..05) instead of detecting it")
    parser.add_argument("--seed", type=int, help="seed of the hidden tests' inputs (default: fresh, recorded)")
    parser.add_argument("--jobs", type=int, help="submissions graded at once (default: the number of cores)")
    parser.add_argument("--step-timeout", type=float, default=Limits.step_timeout,
                        help="seconds for one code cell or one test (default %(default)s)")
    parser.add_argument("--submission-timeout", type=float, default=Limits.submission_timeout,
                        help="seconds for a whole submission (default %(default)s)")
    parser.add_argument("--memory-mb", type=int, default=Limits.memory_mb,
                        help="memory cap of a submission's process in MB (default %(default)s)")
    args = parser.parse_args(argv)
    missing = [str(p) for p in args.submissions if not p.is_file()]
    if missing:
        parser.error(f"no such file: {', '.join(missing)}")
    outputs = [p.resolve() for p in (args.out, args.csv, args.md) if p]
    if any(p.resolve() in outputs for p in args.submissions):
        parser.error("a report path is one of the submissions; submissions are never overwritten")
    limits = Limits(args.step_timeout, args.submission_timeout, args.memory_mb)
    report = grade(args.submissions, chapter=args.chapter, seed=args.seed, limits=limits, jobs=args.jobs)
    write_json(report, args.out)
    if args.csv:
        write_csv(report, args.csv)
    if args.md:
        write_markdown(report, args.md)
    for entry in report["submissions"]:
        print(f"{entry['score']:g}/{entry['max_score']:g}  {entry['submission']}")
    print(f"wrote {args.out}" + "".join(f", {p}" for p in (args.csv, args.md) if p))
    return 0


if __name__ == "__main__":
    sys.exit(main())

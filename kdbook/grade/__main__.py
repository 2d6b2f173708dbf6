"""Command line of the batch grader: ``python -m kdbook.grade SUBMISSION.ipynb [...] --out report.json``.

SIGINT and SIGTERM stop grading cleanly: running submissions are killed and a complete, valid
report (marked ``"interrupted": true``) is still written; the exit status is then 130.
"""
from __future__ import annotations

import argparse
import math
import signal
import sys
from pathlib import Path

from ..grading import registry
from ..grading.keys import MissingKeyError, default_solutions
from . import NOT_IN_BROWSER, Limits, _isolation, grade, merge_manual, roundtrip
from ._escape import one_line


def _on_term(signum, frame):
    raise KeyboardInterrupt


def _positive(kind: type, what: str, *, upper: float):
    """An argparse type: a finite number of ``kind`` in (0, upper], else an error naming the option."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be a number, got {text!r}") from None
        if not math.isfinite(value) or not 0 < value <= upper:
            raise argparse.ArgumentTypeError(f"{what} must be a finite number above 0 and at most {upper:g}, got {text!r}")
        return value
    return parse


def _seed(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seed must be a whole number (as recorded in a report), got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"--seed must not be negative, got {text!r}")
    return value


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
    parser.add_argument("--chapter", choices=sorted(registry.CHAPTERS),
                        help="grade every submission as this chapter instead of detecting it")
    parser.add_argument("--seed", type=_seed, help="secret seed of the tests' inputs (default: a fresh 128-bit "
                                                   "secret, recorded in the report; pass it to replay a grading)")
    parser.add_argument("--solutions", type=Path,
                        help="folder of the instructor's solution notebooks, where the answer keys of select and "
                             "prediction items are read (default: the repository's solutions/)")
    parser.add_argument("--jobs", type=_positive(int, "--jobs", upper=256),
                        help="submissions graded at once (default: the number of cores)")
    parser.add_argument("--step-timeout", type=_positive(float, "--step-timeout", upper=86_400),
                        default=Limits.step_timeout, help="seconds for one code cell or one test (default %(default)s)")
    parser.add_argument("--submission-timeout", type=_positive(float, "--submission-timeout", upper=7 * 86_400),
                        default=Limits.submission_timeout, help="seconds for a whole submission (default %(default)s)")
    parser.add_argument("--memory-mb", type=_positive(int, "--memory-mb", upper=2**20), default=Limits.memory_mb,
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
    if args.memory_mb < 64:
        parser.error(f"argument --memory-mb: at least 64 MB are needed to start Python and numpy, got {args.memory_mb}")
    if args.solutions is not None and not args.solutions.is_dir():
        parser.error(f"argument --solutions: no such folder: {args.solutions}")
    trip = roundtrip.prepare(args, parser)
    limits = Limits(args.step_timeout, args.submission_timeout, args.memory_mb)
    if _isolation.isolation() == "users" and _isolation.python_readable_by_others():
        print(f"warning: {_isolation.python_readable_by_others()}", file=sys.stderr)
    if _isolation.isolation() == "users":
        folder = args.solutions or default_solutions()
        problem = _isolation.keys_readable_by_others(Path(folder)) if folder else None
        if problem:
            print(f"warning: {problem}", file=sys.stderr)
    try:
        previous = signal.signal(signal.SIGTERM, _on_term)
        try:
            report = grade(trip.paths, chapter=args.chapter, seed=args.seed, limits=limits, jobs=args.jobs,
                           solutions=args.solutions)
        except MissingKeyError as err:
            parser.error(f"answer keys: {err}")
        except _isolation.IsolationError as err:
            parser.error(str(err))
        except Exception as err:  # noqa: BLE001 - still leave a report saying what happened
            report = {"crashed": f"the grader itself failed ({type(err).__name__}: {err})", "submissions": [],
                      "seed": args.seed}
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
        print(f"{entry['score']:g}/{entry['max_score']:g}  {entry.get('status', '')}  {one_line(entry['submission'])}")
    print(f"wrote {args.out}" + "".join(f", {p}" for p in (args.csv, args.md, args.canvas_csv, args.moodle_worksheet,
                                                           args.feedback) if p))
    if report.get("crashed"):
        print(f"error: {report['crashed']}", file=sys.stderr)
        return 3
    return 130 if report.get("interrupted") else 0


if __name__ == "__main__":
    from ._child import not_dumpable

    not_dumpable()  # the grader holds the answer keys: no process of the same user may read its memory
    sys.exit(main())

"""Write the grader's report as JSON, CSV and Markdown, and merge an instructor's manual points (private).

Every file is written atomically: to a temporary file beside the target, then renamed over it,
so a reader (or an interrupted grader) never sees half a report. Text that cannot be encoded
(a lone surrogate a submission sent back) is written with a replacement character. Everything a
submission controls (its file name, messages built from its errors, its reasoning) is escaped for
the medium (``_escape``): a submission cannot forge a heading, a row, a comment or a formula.
"""
from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from ..grading.spec import EXERCISE_ID
from ._escape import csv_cell, from_csv_cell, md_block, md_inline

__all__ = ["write_json", "write_csv", "write_markdown", "read_manual", "merge_manual", "atomic_write"]


def atomic_write(path: Path, text: str) -> Path:
    """Write ``text`` as UTF-8 to ``path``: into a fresh 0700 folder beside it, then renamed over it.

    Nobody else can open or replace the file while it is written, and whatever was planted at
    ``path`` (a link, a file) is replaced, never written through. If ``path`` cannot be replaced (a
    folder was planted there), the report goes to ``path`` plus a timestamp and that path is
    returned; otherwise ``path``.
    """
    path = Path(path)
    data = text.encode("utf-8", errors="replace")
    private = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    tmp = private / "report"
    try:
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600), "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        try:
            os.replace(tmp, path)
        except (IsADirectoryError, PermissionError, OSError):
            path = path.with_name(f"{path.name}.{time.strftime('%Y%m%dT%H%M%S')}")
            os.replace(tmp, path)
        return path
    finally:
        shutil.rmtree(private, ignore_errors=True)


def write_json(report: dict, path: Path) -> Path:
    """The full report: per submission ``submission``, ``score``, ``max_score`` and ``exercises``
    (each with ``id``, ``points``, ``max_points``, ``messages``, and ``reasoning`` where the
    exercise collects written reasoning)."""
    return atomic_write(path, json.dumps(report, indent=2, ensure_ascii=False) + "\n")


def _ids(report: dict) -> list[str]:
    ids: list[str] = []
    for entry in report["submissions"]:
        ids += [e["id"] for e in entry["exercises"] if e["id"] not in ids]
    return ids


def write_csv(report: dict, path: Path) -> Path:
    """One row per submission: its score, maximum and points per exercise id."""
    ids = _ids(report)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["submission", "score", "max_score", *map(csv_cell, ids)])
    for entry in report["submissions"]:
        points = {e["id"]: e["points"] for e in entry["exercises"]}
        writer.writerow([csv_cell(entry["submission"]), f"{entry['score']:g}", f"{entry['max_score']:g}",
                         *[f"{points[i]:g}" if i in points else "" for i in ids]])
    return atomic_write(path, out.getvalue())


def write_markdown(report: dict, path: Path) -> Path:
    """A readable report: a summary table, every message per submission and exercise, and the
    written reasoning to read (quoted), with room for the instructor's points."""
    lines = [f"# Grading report\n\nTest seed: `{report['seed']}` (re-run with `--seed {report['seed']}`)\n",
             "| submission | score | max |", "| --- | ---: | ---: |"]
    if report.get("interrupted"):
        lines.insert(1, "**Grading was interrupted: some submissions were not graded.**\n")
    if report.get("crashed"):
        lines.insert(1, f"**{md_inline(report['crashed'])}**\n")
    for entry in report["submissions"]:
        lines.append(f"| {md_inline(entry['submission'])} | {entry['score']:g} | {entry['max_score']:g} |")
    for entry in report["submissions"]:
        lines.append(f"\n## {md_inline(entry['submission'])}: {entry['score']:g} / {entry['max_score']:g}\n")
        lines += [f"- {md_inline(m)}" for m in entry.get("messages", [])]
        if entry.get("stderr_tail"):  # the instructor's report only; never in a learner's feedback
            lines += ["", "Last error output of the grading process:", "", *md_block(entry["stderr_tail"]), ""]
        for ex in entry["exercises"]:
            shown = ex["id"] if EXERCISE_ID.fullmatch(str(ex["id"])) else md_inline(ex["id"])  # ids: plain
            lines.append(f"\n### {shown}: {ex['points']:g} / {ex['max_points']:g}\n")
            lines += [f"- {md_inline(m)}" for m in ex["messages"]]
            reasoning = ex.get("reasoning")
            if reasoning:
                given = reasoning.get("manual_points")
                name = f"`{reasoning['name']}`" if str(reasoning["name"]).isidentifier() else md_inline(reasoning["name"])
                lines.append(f"\nWritten reasoning ({name}, manual points: "
                             f"{'not yet given' if given is None else f'{given:g}'} / {reasoning['manual_max']:g}):\n")
                lines += md_block(reasoning["text"]) if reasoning.get("text") else ["(nothing written)"]
    return atomic_write(path, "\n".join(lines) + "\n")


def read_manual(path: Path) -> dict[tuple[str, str], tuple[float, str]]:
    """Read an instructor's manual points: a CSV with the header ``submission,exercise,points``
    (and optionally ``comment``), one row per submission and exercise.

    ``submission`` is the path as the report prints it, or just the file name when no other
    submission has that name (an ambiguous name is refused by :func:`merge_manual`). Raises
    ``ValueError`` naming the row and the problem.
    """
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = {"submission", "exercise", "points"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{path}: the header must have the columns submission,exercise,points[,comment]; "
                             f"missing {', '.join(sorted(missing))}")
        out: dict[tuple[str, str], tuple[float, str]] = {}
        for row_number, row in enumerate(reader, start=2):
            try:
                points = float(row["points"])
            except (TypeError, ValueError):
                raise ValueError(f"{path}, row {row_number}: points should be a number, got {row['points']!r}") from None
            # the template neutralised names that start like a formula ('-dash/...): read them back as they were
            key = (from_csv_cell(row["submission"].strip()), from_csv_cell(row["exercise"].strip()))
            if key in out:
                raise ValueError(f"{path}, row {row_number}: a second row for {key[0]} / {key[1]}")
            out[key] = (points, from_csv_cell((row.get("comment") or "").strip()))
    return out


def merge_manual(report: dict, manual: dict[tuple[str, str], tuple[float, str]]) -> list[str]:
    """Add the instructor's points for written reasoning to the report; return problems found.

    Every exercise that collects reasoning then counts its manual points in ``max_points`` and
    ``max_score``; a submission without a row for it gets 0 with a message. Points outside
    0..manual maximum, and rows that match nothing, are reported and not used.
    """
    problems, used = [], set()
    names = [Path(e["submission"]).name for e in report["submissions"]]
    ambiguous = {n for n in names if names.count(n) > 1}
    for s, e in manual:
        if s in ambiguous and s not in {entry["submission"] for entry in report["submissions"]}:
            problems.append(f"{s} / {e}: several submissions are named {s}; name the submission by its path as the "
                            "report prints it. Not used")
            used.add((s, e))
    for entry in report["submissions"]:
        name = Path(entry["submission"]).name
        name = None if name in ambiguous else name
        for ex in entry["exercises"]:
            reasoning = ex.get("reasoning")
            if not reasoning or not reasoning["manual_max"]:
                continue
            key = next((k for k in ((entry["submission"], ex["id"]), (name, ex["id"])) if k in manual), None)
            points, comment = manual.get(key, (0.0, "")) if key else (0.0, "")
            if key:
                used.add(key)
            if not 0 <= points <= reasoning["manual_max"]:
                problems.append(f"{key[0]} / {key[1]}: {points:g} manual points is outside 0..{reasoning['manual_max']:g}; "
                                "not used")
                points = 0.0
            reasoning["manual_points"] = points
            ex["points"] += points
            ex["max_points"] += reasoning["manual_max"]
            entry["score"] += points
            entry["max_score"] += reasoning["manual_max"]
            ex["messages"].append(f"manual points for the written reasoning: {points:g}/{reasoning['manual_max']:g}"
                                  + (f" ({comment})" if comment else "" if key else " (no row in the instructor's CSV)"))
    problems += [f"{s} / {e}: no such submission and exercise with written reasoning in this report"
                 for s, e in manual if (s, e) not in used]
    report["manual_problems"] = problems
    return problems

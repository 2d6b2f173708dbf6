"""Gradebook files an LMS imports as they are: Canvas's gradebook CSV and Moodle's grading worksheet.

* ``write_canvas_csv``: the columns ``Student, ID, SIS Login ID, Section`` and one
  ``Assignment name (id)`` column (only the one being graded, so no other grade is touched), a
  ``Points Possible`` row second, then one row per learner of the roster. Canvas matches rows
  by ``ID`` (Grades → Import). A learner's total is scaled to the assignment's points possible
  when the roster's differ from the grader's maximum, and the report says so.
* ``write_moodle_worksheet``: the worksheet exactly as downloaded, with ``Grade`` and
  ``Feedback comments`` filled (the column is added when the worksheet has none); Moodle
  matches rows by ``Identifier`` and needs ``Last modified (grade)`` kept as it was
  (Assignment → View all submissions → Grading action "Upload grading worksheet").

Every cell is neutralised against spreadsheet formulas (``_escape.csv_cell``).
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

from ._escape import csv_cell
from ._report import atomic_write
from .roster import Roster

__all__ = ["pick_assignment", "write_canvas_csv", "write_moodle_worksheet", "scaled"]


def pick_assignment(roster: Roster, wanted: str | None) -> str:
    """The roster's ``Assignment name (id)`` column to fill: the one whose name or id contains
    ``wanted``, or the only one; ``ValueError`` lists the candidates otherwise."""
    columns = roster.assignments()
    if wanted:
        hits = [c for c in columns if wanted.lower() in c.lower()]
        if len(hits) == 1:
            return hits[0]
        raise ValueError(f"--assignment {wanted!r} matches {len(hits)} of the roster's assignment columns: "
                         + "; ".join(columns[:20]))
    if len(columns) == 1:
        return columns[0]
    raise ValueError("the roster has several assignment columns; name one with --assignment: " + "; ".join(columns[:20]))


def _number(text: str) -> float | None:
    try:
        return float(str(text).replace(",", "."))
    except ValueError:
        return None


def scaled(total: float, maximum: float, possible: float | None) -> float:
    """``total`` out of ``maximum`` expressed out of ``possible`` (unchanged when not known), 2 decimals."""
    if possible is None or possible <= 0 or maximum <= 0 or abs(possible - maximum) < 1e-9:
        return round(total, 2)
    return round(total / maximum * possible, 2)


def _fmt(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".")


def write_canvas_csv(path: Path, roster: Roster, column: str, totals: dict[str, tuple[float, float]]) -> list[str]:
    """Write the import file; ``totals`` maps a Canvas user id to (total, maximum). Returns notes."""
    possible = _number(roster.points_possible.get(column, ""))
    notes = []
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["Student", "ID", "SIS Login ID", "Section", csv_cell(column)])
    maxima = {m for _, m in totals.values()}
    first_max = next(iter(maxima), 0.0)
    w.writerow(["    Points Possible", "", "", "", _fmt(possible if possible is not None else first_max)])
    if possible is not None and any(abs(m - possible) > 1e-9 for m in maxima):
        notes.append(f"Canvas CSV: scores scaled from the grader's maximum ({', '.join(_fmt(m) for m in sorted(maxima))}) "
                     f"to the assignment's {_fmt(possible)} points possible")
    for learner in roster.learners:  # a learner not in totals was not graded: an empty cell changes nothing
        total, maximum = totals.get(learner["id"], (None, first_max))
        w.writerow([csv_cell(learner["name"]), csv_cell(learner["id"]), csv_cell(learner["login"]),
                    csv_cell(learner["section"]), "" if total is None else _fmt(scaled(total, maximum, possible))])
    atomic_write(path, out.getvalue())
    return notes


def write_moodle_worksheet(path: Path, roster: Roster, totals: dict[str, tuple[float, float]],
                           comments: dict[str, str]) -> list[str]:
    """Write the worksheet back with ``Grade`` and ``Feedback comments`` filled for every learner
    in ``totals`` (participant number -> (total, maximum)); other rows are left as downloaded."""
    header = list(roster.header)
    if "Feedback comments" not in header:
        header.append("Feedback comments")
    col = {h: i for i, h in enumerate(header)}
    notes = []
    rows = [list(r) + [""] * (len(header) - len(r)) for r in roster.rows]
    for learner in roster.learners:
        if learner["id"] not in totals:
            continue
        total, maximum = totals[learner["id"]]
        row = rows[learner["row"]]
        possible = _number(row[col["Maximum Grade"]]) if "Maximum Grade" in col else None
        if possible is not None and abs(possible - maximum) > 1e-9:
            notes.append(f"Moodle worksheet: {learner['name'] or learner['id']}: scaled from {_fmt(maximum)} to the "
                         f"maximum grade {_fmt(possible)}")
        row[col["Grade"]] = _fmt(scaled(total, maximum, possible))
        row[col["Feedback comments"]] = comments.get(learner["id"], "")
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow([csv_cell(h) for h in header])
    for row in rows:
        w.writerow([csv_cell(c) for c in row])
    atomic_write(path, out.getvalue())
    return notes

"""Rosters (a Canvas gradebook export or a Moodle grading worksheet), due dates and late penalties.

``read_roster(path)`` reads either file as downloaded and says which it is:

* **Canvas** (Grades → Export → Export Entire Gradebook): the header ``Student, ID, SIS User ID,
  SIS Login ID, Section, <Assignment name (id)>, …``, a ``Points Possible`` row (and, in newer
  exports, a row without an ``ID``), then one row per learner. ``ID`` is the Canvas user id that
  the submission zip's names carry.
* **Moodle** (Assignment → View all submissions → Grading action "Download grading
  worksheet", which needs "Offline grading worksheet" enabled in the assignment's Feedback
  types): the header ``Identifier, Full name, Email address, Status, Grade, Maximum Grade,
  Grade can be changed, Last modified (submission), …, Last modified (grade), Feedback
  comments``; ``Identifier`` is ``Participant N``, the ``N`` of the download's folder names.

Late penalty rules (``--late-penalty``), parts separated by commas::

    10%            10 % of the maximum, once, when late
    10%/day        10 % of the maximum per started day late (needs how late: see below)
    2pt/hour       2 points per started hour late
    max=50%        never more than 50 % of the maximum (or max=5pt)

The penalty is taken from the total (automatic + manual points) and never below 0. How late a
submission is comes from the due date (``--due``, with per-learner extensions) and the
submission time: Moodle's ``Last modified (submission)`` in the worksheet, or a plain file's
time. Canvas's ``LATE`` says only *that* it is late: a per-day rule is then not applied, and the
report says so.
"""
from __future__ import annotations

import csv
import dataclasses
import datetime as _dt
import math
import re
from pathlib import Path

__all__ = ["Roster", "read_roster", "Penalty", "parse_penalty", "read_extensions", "parse_time"]

_CANVAS_COLUMNS = {"Student", "ID", "Section"}
_MOODLE_COLUMNS = {"Identifier", "Grade"}
_ASSIGNMENT = re.compile(r"^(?P<name>.*\S)\s*\((?P<id>\d+)\)$")


@dataclasses.dataclass
class Roster:
    """A roster as read: ``kind`` ("canvas" or "moodle"), the header and rows as downloaded, and
    per learner ``id``, ``name`` and the row's index."""

    kind: str
    path: Path
    header: list[str]
    rows: list[list[str]]  # every row after the header, as downloaded
    learners: list[dict]
    points_possible: dict[str, str]  # Canvas: column -> the Points Possible row's value

    def assignments(self) -> list[str]:
        """Canvas: the ``Assignment name (id)`` columns."""
        return [c for c in self.header if _ASSIGNMENT.match(c)]


def read_roster(path: Path) -> Roster:
    """Read a Canvas gradebook export or a Moodle grading worksheet; ``ValueError`` names the problem."""
    path = Path(path)
    with open(path, newline="", encoding="utf-8-sig") as f:
        table = [row for row in csv.reader(f)]
    if not table:
        raise ValueError(f"{path}: empty file")
    header = [h.strip() for h in table[0]]
    rows = table[1:]
    col = {h: i for i, h in enumerate(header)}

    def cell(row: list[str], name: str) -> str:
        i = col.get(name)
        return row[i].strip() if i is not None and i < len(row) else ""

    learners: list[dict] = []
    points: dict[str, str] = {}
    if _CANVAS_COLUMNS <= set(header):
        for r, row in enumerate(rows):
            student = cell(row, "Student")
            if student == "Points Possible":
                points = {h: row[i].strip() for h, i in col.items() if i < len(row)}
                continue
            if not cell(row, "ID") or student == "Student, Test":
                continue
            learners.append({"id": cell(row, "ID"), "name": student, "login": cell(row, "SIS Login ID"),
                             "sis": cell(row, "SIS User ID"), "section": cell(row, "Section"), "row": r})
        return Roster("canvas", path, header, rows, learners, points)
    if _MOODLE_COLUMNS <= set(header):
        for r, row in enumerate(rows):
            ident = cell(row, "Identifier")
            m = re.search(r"(\d+)\s*$", ident)
            if not m:
                continue
            learners.append({"id": m.group(1), "name": cell(row, "Full name"), "login": cell(row, "Email address"),
                             "sis": "", "section": "", "row": r, "status": cell(row, "Status"),
                             "submitted": cell(row, "Last modified (submission)")})
        return Roster("moodle", path, header, rows, learners, {})
    raise ValueError(f"{path}: neither a Canvas gradebook export (columns Student, ID, Section) nor a Moodle "
                     f"grading worksheet (columns Identifier, Grade); its columns: {', '.join(header[:8])}. Moodle names "
                     "the columns in the language of its interface: download the worksheet with English chosen "
                     "(your user menu → Language → English)")


_TIME_FORMATS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d",
                 "%A, %d %B %Y, %I:%M %p", "%A, %d %B %Y, %H:%M", "%d %B %Y, %I:%M %p")


def parse_time(text: str) -> _dt.datetime | None:
    """A date-time as ISO 8601 (``2026-12-07 17:00``) or as Moodle prints it (``Monday, 7 December
    2026, 5:00 PM``); None when it is empty or ``-``. Naive (local) times."""
    text = " ".join(str(text).split())
    if text in ("", "-"):
        return None
    try:
        t = _dt.datetime.fromisoformat(text)
        return t.replace(tzinfo=None) if t.tzinfo is None else t.astimezone().replace(tzinfo=None)
    except ValueError:
        pass
    for fmt in _TIME_FORMATS:
        try:
            return _dt.datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def read_extensions(path: Path) -> dict[str, _dt.datetime]:
    """Per-learner due dates: a CSV ``learner,due`` (``learner`` is the LMS id, login or e-mail as
    in the roster; ``due`` an ISO date-time). ``ValueError`` names the row."""
    out: dict[str, _dt.datetime] = {}
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        if not {"learner", "due"} <= set(reader.fieldnames or []):
            raise ValueError(f"{path}: the header must be learner,due")
        for n, row in enumerate(reader, start=2):
            due = parse_time(row["due"] or "")
            if due is None:
                raise ValueError(f"{path}, row {n}: due should be a date-time such as 2026-12-09 17:00, got {row['due']!r}")
            out[(row["learner"] or "").strip()] = due
    return out


@dataclasses.dataclass(frozen=True)
class Penalty:
    """A parsed ``--late-penalty`` rule (see the module docstring)."""

    rule: str
    amount: float
    unit: str  # "%" or "pt"
    per: str | None  # None (once), "day" or "hour"
    cap: float | None = None
    cap_unit: str = "%"

    def apply(self, total: float, maximum: float, late_by: _dt.timedelta | None) -> tuple[float, str]:
        """(points taken off, how it was computed); (0, why not) when it cannot be computed."""
        if self.per is not None and late_by is None:
            return 0.0, (f"late penalty {self.rule!r} not applied: it is per {self.per} and the submission time "
                         "or due date is not known (Canvas's LATE does not say how late)")
        each = self.amount / 100 * maximum if self.unit == "%" else self.amount
        if self.per is None:
            count, how = 1, "once"
        else:
            size = 86400.0 if self.per == "day" else 3600.0
            count = max(1, math.ceil(late_by.total_seconds() / size))
            how = f"{count} started {self.per}(s) late"
        points = each * count
        if self.cap is not None:
            points = min(points, self.cap / 100 * maximum if self.cap_unit == "%" else self.cap)
        points = round(min(points, max(total, 0.0)), 4)
        return points, f"late penalty {self.rule!r}: {how}, {points:g} point(s) taken off"


_PART = re.compile(r"^(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>%|pt|pts|points?)\s*(?:/\s*(?P<per>day|hour|d|h))?$")


def parse_penalty(rule: str) -> Penalty:
    """Parse ``10%/day,max=50%``; ``ValueError`` says what is wrong."""
    amount = unit = per = cap = None
    cap_unit = "%"
    for part in (p.strip().lower() for p in str(rule).split(",")):
        if part.startswith("max="):
            m = _PART.match(part[4:].strip())
            if not m or m["per"]:
                raise ValueError(f"late penalty {rule!r}: max should look like max=50% or max=5pt, got {part!r}")
            cap, cap_unit = float(m["n"]), "%" if m["unit"] == "%" else "pt"
            continue
        m = _PART.match(part)
        if not m or amount is not None:
            raise ValueError(f"late penalty {rule!r}: expected one amount such as 10%, 10%/day or 2pt/hour "
                             f"and optionally max=50%; cannot read {part!r}")
        amount, unit = float(m["n"]), "%" if m["unit"] == "%" else "pt"
        per = {"d": "day", "h": "hour"}.get(m["per"], m["per"])
    if amount is None:
        raise ValueError(f"late penalty {rule!r}: no amount (such as 10% or 10%/day)")
    return Penalty(str(rule), amount, unit, per, cap, cap_unit)

"""The instructor's round trip: an LMS download in; report, gradebook file and feedback out.

``python -m kdbook.grade`` calls :func:`add_arguments` for its options, :func:`prepare` before
grading (read zips and folders, the roster, the rules), :meth:`RoundTrip.annotate` right after
grading (who each submission belongs to, its status, missing learners), merges ``--manual``,
and :meth:`RoundTrip.finish` to apply late penalties and write every file. Guarantees and the
LMS steps: ``docs/grading.md`` ("From the LMS download to the LMS upload").
"""
from __future__ import annotations

import argparse
import copy
import csv
import datetime as _dt
import sys
from collections import Counter
from pathlib import Path

from ..grading import registry
from . import classview, feedback, gradebook, regrade
from ._escape import csv_cell
from ._report import atomic_write, write_json, write_markdown
from .anonymise import Pseudonyms
from .lms import FORMATS, Collected, collect
from .roster import Roster, parse_penalty, parse_time, read_extensions, read_roster

__all__ = ["add_arguments", "prepare", "RoundTrip", "read_manual_lenient"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The round trip's options (names fixed: instructors' scripts depend on them)."""
    g = parser.add_argument_group("LMS round trip (docs/grading.md)")
    g.add_argument("--lms", choices=FORMATS, default="auto", help="format of the download (default: detect it)")
    g.add_argument("--roster", type=Path, help="Canvas gradebook export or Moodle grading worksheet, as downloaded")
    g.add_argument("--assignment", help="Canvas: the roster's assignment column to fill (a part of its name or id)")
    g.add_argument("--canvas-csv", type=Path, help="write a Canvas gradebook import file (needs --roster)")
    g.add_argument("--moodle-worksheet", type=Path, help="write the Moodle grading worksheet, filled (needs --roster)")
    g.add_argument("--feedback", type=Path, help="write one HTML and Markdown feedback file per learner into DIR")
    g.add_argument("--with-solutions", action="store_true", help="put the reference answers in the feedback")
    g.add_argument("--anonymise", action="store_true",
                   help="pseudonyms in every report; the key goes to anonymise_key.csv beside --out")
    g.add_argument("--previous", type=Path, help="an earlier report.json: print who gains or loses points and why")
    g.add_argument("--late-penalty", help="rule such as 10%%/day,max=50%% (see docs/grading.md); never applied silently")
    g.add_argument("--due", help="due date-time (2026-12-07 17:00), to tell late submissions from their time")
    g.add_argument("--extensions", type=Path, help="CSV learner,due: per-learner due dates")


def read_manual_lenient(path: Path) -> tuple[dict, list[str]]:
    """``--manual`` as ``_report.read_manual`` reads it, but rows whose points are still empty (a
    template not filled in yet) are skipped and listed instead of stopping the run."""
    from ._report import read_manual

    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    header = rows[0] if rows else []
    if "points" not in header:
        return read_manual(path), []
    k = header.index("points")
    blank = [r for r in rows[1:] if len(r) > k and not r[k].strip()]
    if not blank:
        return read_manual(path), []
    import io
    import tempfile

    kept = io.StringIO()
    csv.writer(kept).writerows([header] + [r for r in rows[1:] if not (len(r) > k and not r[k].strip())])
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=True, encoding="utf-8") as tmp:
        tmp.write(kept.getvalue())
        tmp.flush()
        manual = read_manual(Path(tmp.name))
    return manual, [f"{len(blank)} row(s) without points (not marked yet) were skipped"]


def _fail(parser, option: str, err: Exception):
    parser.error(f"{option}: {err}")


def prepare(args: argparse.Namespace, parser: argparse.ArgumentParser) -> "RoundTrip":
    """Read the inputs and the options' files; errors name the option."""
    for option, value in (("--canvas-csv", args.canvas_csv), ("--moodle-worksheet", args.moodle_worksheet)):
        if value and not args.roster:
            parser.error(f"{option} needs --roster (the LMS's own export gives the learners' ids)")
    try:
        roster = read_roster(args.roster) if args.roster else None
    except (OSError, ValueError) as err:
        _fail(parser, "--roster", err)
    if args.moodle_worksheet and roster.kind != "moodle":
        parser.error("--moodle-worksheet needs a Moodle grading worksheet as --roster")
    column = None
    if args.canvas_csv:
        if roster.kind != "canvas":
            parser.error("--canvas-csv needs a Canvas gradebook export as --roster")
        try:
            column = gradebook.pick_assignment(roster, args.assignment)
        except ValueError as err:
            _fail(parser, "--assignment", err)
    try:
        penalty = parse_penalty(args.late_penalty) if args.late_penalty else None
    except ValueError as err:
        _fail(parser, "--late-penalty", err)
    due = parse_time(args.due) if args.due else None
    if args.due and due is None:
        parser.error(f"--due: not a date-time such as 2026-12-07 17:00: {args.due!r}")
    try:
        extensions = read_extensions(args.extensions) if args.extensions else {}
    except (OSError, ValueError) as err:
        _fail(parser, "--extensions", err)
    try:
        previous = regrade.load(args.previous) if args.previous else None
    except (OSError, ValueError) as err:
        _fail(parser, "--previous", err)
    try:
        collected = collect(args.submissions, lms=args.lms)
    except ValueError as err:
        _fail(parser, "submissions", err)
    if roster is not None and roster.kind == "canvas" and any(
            i.learner["lms"] == "canvas" and i.learner["anonymous"] for i in collected.items):
        collected.cleanup()
        parser.error("--roster: the download is anonymous (anon_ names) and Canvas's gradebook export has no "
                     "anonymous ids, so no grade could be joined to a learner; grade without --roster, or download "
                     "again once Canvas lifts the anonymity")
    return RoundTrip(args, collected, roster, column, penalty, due, extensions, previous)


class RoundTrip:
    """State between reading the download and writing the files."""

    def __init__(self, args, collected: Collected, roster: Roster | None, column: str | None, penalty, due,
                 extensions: dict, previous: dict | None):
        self.args, self.collected, self.roster, self.column = args, collected, roster, column
        self.penalty, self.due, self.extensions, self.previous = penalty, due, extensions, previous
        self.paths = [item.path for item in collected.items]
        self.notes: list[str] = []
        self.chapter: str | None = None  # the assignment's chapter (set by ``annotate``)
        self.chapter_tie = False
        key = Path(args.out).resolve().parent / "anonymise_key.csv"
        self.pseudonyms = Pseudonyms(key) if args.anonymise else None

    # ------------------------------------------------------------------ after grading
    def _roster_learner(self, learner: dict) -> dict | None:
        if self.roster is None:
            return None
        for r in self.roster.learners:
            if learner["lms"] in ("canvas", "moodle"):
                if r["id"] == learner["id"]:
                    return r
            elif learner["id"] and learner["id"] in (r["id"], r["login"], r["sis"]):
                return r
        return None

    def annotate(self, report: dict) -> None:
        """Give every entry ``learner``, ``status`` and ``source``; add refused and missing learners."""
        by_path = {str(item.path): item for item in self.collected.items}
        entries = []
        seen: set[tuple] = set()
        joined_rows: set[int] = set()  # roster rows that some submission (graded or refused) belongs to
        for entry in report["submissions"]:
            item = by_path[entry["submission"]]
            learner = dict(item.learner)
            joined = self._roster_learner(learner)
            if joined:
                learner.update(roster_id=joined["id"], roster_name=joined["name"], login=joined["login"],
                               section=joined["section"])
                joined_rows.add(joined["row"])
            elif self.roster is not None:
                entry["messages"].append("not on the roster: no row in the gradebook files")
            entry.update(submission=item.source, source=item.source, learner=learner)
            seen.add((learner["lms"], learner["id"]))
            if item.source in self.collected.unmatched:
                entry["messages"].append(f"the file name matches no {self.collected.format} pattern: graded, but not "
                                         "joined to an LMS learner")
            older = [s["source"] for s in self.collected.superseded if s["kept"] == item.source]
            if older:
                entry["superseded"] = older
                entry["messages"].append(f"{len(older)} older notebook(s) of this learner not graded: {'; '.join(older)}")
            entry["status"] = "graded"
            if classview.is_blank(item.path, entry.get("chapter")):
                entry["status"] = "blank"
            else:
                late, late_by, note = self._lateness(item, joined)
                if note:
                    entry["messages"].append(note)
                if late:
                    entry["status"], entry["_late_by"] = "late", late_by
            entry["_path"] = str(item.path)
            entry["_file"] = item.filename
            entries.append(entry)
        counts = Counter(e["chapter"] for e in entries if e.get("chapter")).most_common()
        chapter = getattr(self.args, "chapter", None) or (counts[0][0] if counts else None)
        # The gradebook's column is the assignment's chapter: --chapter, else the one most notebooks are.
        self.chapter = chapter
        self.chapter_tie = (not getattr(self.args, "chapter", None) and len(counts) > 1
                            and counts[0][1] == counts[1][1])
        for e in entries:
            if e.get("chapter") and chapter and e["chapter"] != chapter:
                e["messages"].append(f"a chapter-{e['chapter']} notebook, not the assignment's chapter {chapter}: "
                                     "graded, with feedback, but no gradebook value from it")
        maximum = float(sum(ex.points for ex in registry.chapter_exercises(chapter))) if chapter else 0.0
        by_learner = {(e["learner"]["lms"], e["learner"]["id"]): e for e in entries}
        for r in self.collected.refused:
            learner = r.get("learner")
            if not learner or learner["lms"] == "unmatched":
                continue
            if (learner["lms"], learner["id"]) in seen:
                if (learner["lms"], learner["id"]) in by_learner:
                    by_learner[(learner["lms"], learner["id"])]["messages"].append(
                        f"also in the download, not graded: {r['source']} ({r['reason']})")
                continue
            seen.add((learner["lms"], learner["id"]))
            joined = self._roster_learner(learner)
            if joined:
                joined_rows.add(joined["row"])
            learner = {**learner, **({"roster_id": joined["id"], "roster_name": joined["name"], "login": joined["login"],
                                      "section": joined["section"]} if joined else {})}
            entries.append(self._empty(learner, "refused", chapter, maximum, r["source"],
                                       f"nothing graded: {r['source']} was refused ({r['reason']})"))
        for r in self.roster.learners if self.roster else []:
            lms = self.roster.kind
            if r["row"] not in joined_rows:
                learner = {"lms": lms, "id": r["id"], "name": r["name"], "anonymous": False, "roster_id": r["id"],
                           "roster_name": r["name"], "login": r["login"], "section": r["section"]}
                entries.append(self._empty(learner, "missing", chapter, maximum, None, "no submission"))
        report["submissions"] = entries
        if self.pseudonyms is not None:
            self.pseudonyms.assign(entries)
        report["lms"] = {"format": self.collected.format, "refused": self.collected.refused,
                         "unmatched": self.collected.unmatched, "superseded": self.collected.superseded}

    @staticmethod
    def _empty(learner, status, chapter, maximum, source, message) -> dict:
        return {"submission": source or f"{status}:{learner['id']}", "source": source, "chapter": chapter,
                "score": 0.0, "max_score": maximum,
                "exercises": [], "messages": [message], "learner": learner, "status": status}

    def _lateness(self, item, joined) -> tuple[bool, _dt.timedelta | None, str]:
        """(late, by how much when known, a note for the learner's messages)."""
        keys = [item.learner["id"]] + ([joined["id"], joined["login"], joined["sis"]] if joined else [])
        extension = next((self.extensions[k] for k in keys if k and k in self.extensions), None)
        due = extension or self.due
        when = None
        if joined and joined.get("submitted"):
            when = parse_time(joined["submitted"])
        elif item.learner["lms"] in ("files", "unmatched"):
            when = item.mtime
        if due is not None and when is not None:
            return when > due, (when - due if when > due else None), ""
        if item.late and extension is not None:  # Canvas's LATE knows nothing of the extension, nor when it was
            return False, None, (f"the LMS marked it late, but an extension until {extension:%Y-%m-%d %H:%M} is on "
                                 "file and the submission time is unknown: not treated as late")
        return item.late, None, ""

    def manual_keys(self, manual: dict) -> dict:
        """Translate ``--manual`` rows written against an anonymised report back to real submissions."""
        if self.pseudonyms is None:
            return manual
        return self.pseudonyms.translate_manual(manual)

    # ------------------------------------------------------------------ writing
    def finish(self, report: dict, manual: dict | None) -> dict:
        """Apply penalties and write every file; return the report as written (pseudonymised with
        ``--anonymise``; the gradebook files and feedback use the real one)."""
        args = self.args
        tops: dict = {}
        for e in report["submissions"]:
            tops[e.get("chapter")] = max(tops.get(e.get("chapter"), 0.0), e["max_score"])
        for e in report["submissions"]:
            if e.get("status") in ("missing", "refused"):
                e["max_score"] = tops.get(e.get("chapter"), e["max_score"])
        self._penalties(report)
        for entry in report["submissions"]:
            for ex in entry["exercises"]:
                r = ex.get("reasoning")
                if r and manual:
                    hit = manual.get((entry["submission"], ex["id"])) or manual.get((Path(str(entry["submission"])).name,
                                                                                     ex["id"]))
                    r["comment"] = hit[1] if hit else ""
        def rid(e: dict) -> str:  # the roster's id of the learner (the LMS's id for Canvas and Moodle)
            return e["learner"].get("roster_id") or e["learner"]["id"]

        # A refused submission (a link, a nested zip, an online text instead of a file...) is the instructor's
        # to judge: its cell is left empty, so the import keeps whatever grade the LMS holds.
        # Only the assignment's chapter writes a grade: a solved notebook of another chapter must not stand in
        # for the assignment (nor the last of two entries of one learner win by chance).
        totals = {rid(e): (e["score"], e["max_score"]) for e in report["submissions"]
                  if e["max_score"] > 0 and e.get("status") != "refused" and e.get("chapter") == self.chapter}
        other = sorted(f"{e['learner']['id']} (chapter {e['chapter']})" for e in report["submissions"]
                       if e.get("chapter") and e.get("chapter") != self.chapter)
        ungraded = sorted(str(e["learner"]["id"]) for e in report["submissions"] if e["max_score"] <= 0)
        refused = sorted(str(e["learner"]["id"]) for e in report["submissions"]
                         if e.get("status") == "refused" and e["max_score"] > 0)
        if ungraded and (args.canvas_csv or args.moodle_worksheet):
            self.notes.append(f"gradebook: no grade written for {', '.join(ungraded)} (not graded: see their messages)")
        if refused and (args.canvas_csv or args.moodle_worksheet):
            self.notes.append(f"gradebook: no grade written for {', '.join(refused)} (their files were refused: see "
                              "their messages; the LMS keeps its grade until you enter one)")
        if other and (args.canvas_csv or args.moodle_worksheet):
            self.notes.append(f"gradebook: the column is chapter {self.chapter}'s; notebooks of other chapters write no "
                              f"grade: {', '.join(other)}")
        if self.chapter_tie and (args.canvas_csv or args.moodle_worksheet):
            self.notes.append("gradebook: no file written: as many notebooks are of one chapter as of another, so "
                              "which one the assignment is cannot be told; pass --chapter")
            args = argparse.Namespace(**{**vars(args), "canvas_csv": None, "moodle_worksheet": None})
        if report.get("interrupted") and (args.canvas_csv or args.moodle_worksheet or args.feedback):
            self.notes.append("grading was interrupted: no gradebook file and no feedback written")
            args = argparse.Namespace(**{**vars(args), "canvas_csv": None, "moodle_worksheet": None, "feedback": None})
        if args.canvas_csv:
            self.notes += gradebook.write_canvas_csv(args.canvas_csv, self.roster, self.column, totals)
        if args.moodle_worksheet:
            comments = {rid(e): feedback.comment(e) for e in report["submissions"]}
            self.notes += gradebook.write_moodle_worksheet(args.moodle_worksheet, self.roster, totals, comments)
        if args.feedback:
            written = feedback.write_all(report, args.feedback, with_solutions=args.with_solutions)
            self.notes.append(f"feedback: {written} learner(s) in {args.feedback} (upload {args.feedback}/upload.zip)")
        public = self.pseudonyms.apply(copy.deepcopy(report)) if self.pseudonyms else report
        if self.pseudonyms:
            self.pseudonyms.save()
            self.notes.append(f"pseudonyms: the key is in {self.pseudonyms.path} (keep it apart from the reports)")
        public["class"] = classview.summary(public)
        for e in public["submissions"] + report["submissions"]:
            e.pop("_path", None), e.pop("_file", None)
        if self.previous is not None:
            public["regrade"] = regrade.diff(self.previous, public)
            for line in regrade.lines(public["regrade"]):
                print(line)
        public["notes"] = self.notes
        write_json(public, args.out)
        out_dir = Path(args.out).resolve().parent
        template = out_dir / "manual_template.csv"
        if _has_marks(template) and not (args.manual and Path(args.manual).resolve() == template.resolve()):
            template = out_dir / f"manual_template.{_dt.datetime.now():%Y%m%d-%H%M%S}.csv"
            self.notes.append(f"manual_template.csv holds marks not merged in this run (no --manual of it): "
                              f"kept it, wrote {template.name}")
        classview.write_manual_template(public, template)
        classview.write_written_pages(public, out_dir / "written_answers")
        if args.csv:
            write_scores_csv(public, args.csv)
        if args.md:
            write_markdown(public, args.md)
            text = Path(args.md).read_text(encoding="utf-8", errors="replace")
            extra = "\n".join(regrade.lines(public["regrade"])) if "regrade" in public else ""
            atomic_write(args.md, text + "\n" + classview.markdown(public)
                         + (f"\n## Regrade\n\n```\n{extra}\n```\n" if extra else ""))
            atomic_write(Path(args.md).with_suffix(".html"), classview.html_page(public))
        for note in self.notes:
            print(note, file=sys.stderr)
        self.collected.cleanup()
        return public

    def _penalties(self, report: dict) -> None:
        for entry in report["submissions"]:
            late_by = entry.pop("_late_by", None)
            if entry.get("status") != "late":
                continue
            if late_by is not None:
                entry["late_by_hours"] = round(late_by.total_seconds() / 3600, 2)
            if self.penalty is None:
                entry["messages"].append("submitted late; no --late-penalty rule given, so no penalty was applied")
                continue
            points, why = self.penalty.apply(entry["score"], entry["max_score"], late_by)
            entry["score"] = round(entry["score"] - points, 4)
            entry["late_penalty"] = {"rule": self.penalty.rule, "points": points, "how": why}
            entry["messages"].append(why)


def _has_marks(path: Path) -> bool:
    """True when ``path`` is a manual template in which someone entered points."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            return any((row.get("points") or "").strip() for row in csv.DictReader(f))
    except (OSError, ValueError, csv.Error):
        return False


def manual_points(entry: dict) -> float:
    """The instructor's points of one entry (0 before --manual is merged)."""
    return float(sum((ex.get("reasoning") or {}).get("manual_points") or 0.0 for ex in entry["exercises"]))


def write_scores_csv(report: dict, path: Path) -> None:
    """``--csv``: one row per learner; per-exercise columns hold the automatic points only, the
    instructor's points and the late penalty have their own columns; every cell neutralised."""
    ids: list[str] = []
    for entry in report["submissions"]:
        ids += [e["id"] for e in entry["exercises"] if e["id"] not in ids]
    rows = [["submission", "score", "max_score", *ids, "manual", "late_penalty", "learner_id", "learner", "status",
             "source"]]
    for entry in report["submissions"]:
        auto = {e["id"]: e["points"] - ((e.get("reasoning") or {}).get("manual_points") or 0.0) for e in entry["exercises"]}
        learner = entry.get("learner") or {}
        rows.append([entry["submission"] or "", f"{entry['score']:g}", f"{entry['max_score']:g}",
                     *[f"{auto[i]:g}" if i in auto else "" for i in ids], f"{manual_points(entry):g}",
                     f"{(entry.get('late_penalty') or {}).get('points', 0):g}", learner.get("id") or "",
                     learner.get("roster_name") or learner.get("name") or "", entry.get("status", ""),
                     entry.get("source") or ""])
    import io

    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([[csv_cell(c) for c in r] for r in rows])
    atomic_write(path, out.getvalue())

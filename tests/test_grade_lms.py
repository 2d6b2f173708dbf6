"""The instructor's round trip (issue 25): Canvas and Moodle downloads in, gradebook files and
feedback out. Zips are built here in the LMSs' own naming (checked against their source: Canvas's
``lib/content_zipper.rb``, Moodle's ``mod/assign`` download and import code; see docs/grading.md),
graded once per LMS through the command line, and every output file's layout is checked."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from kdbook.grade import _escape, lms, regrade
from kdbook.grade.anonymise import Pseudonyms
from kdbook.grade.roster import parse_penalty
from kdbook.grading import registry

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = json.loads((ROOT / "solutions/01_teacher_and_student.ipynb").read_text(encoding="utf-8"))
BLANK = (ROOT / "exercises/01_teacher_and_student.ipynb").read_bytes()
NB = "01_teacher_and_student.ipynb"
#: Half of every KL term: loses the public "matches" test and the hidden ones of 01.kl_contributions.
HALF_KL = ("def kl_contributions(p, q):\n    p, q = np.asarray(p, float), np.asarray(q, float)\n"
           "    with np.errstate(all='ignore'):\n        return np.where(p > 0, p * np.log(p / q), 0.0) / 2\n")
INJECT = '=HYPERLINK("http://x") <img src=x onerror="alert(1)"><script>alert(2)</script> | [a](javascript:x)'


def notebook(kl: str | None = None, reasoning: str | None = None) -> bytes:
    nb = json.loads(json.dumps(SOLUTION))
    for cell in nb["cells"]:
        tags = cell.get("metadata", {}).get("tags", [])
        if kl and "01.kl_contributions" in tags:
            cell["source"] = kl
        if reasoning and "01.justify" in tags:
            cell["source"] = f'justify_claims = {{"a", "c"}}\njustify_ranking = {reasoning!r}\n'
    return json.dumps(nb).encode()


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    out = subprocess.run([sys.executable, "-m", "kdbook.grade", *args, "--seed", "11", "--jobs", "2"], cwd=cwd,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    return out


def rows(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))


# ---------------------------------------------------------------------------------------- reading


def test_canvas_names_late_anonymous_and_resubmissions(tmp_path):
    z = tmp_path / "c.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr(f"smithjohn_123_456_{NB}", BLANK)
        zf.writestr(f"smithjohn_123_457_{NB[:-6]}-1.ipynb", BLANK)
        zf.writestr(f"müllerjosé_LATE_124_460_{NB}", BLANK)
        zf.writestr(f"LATE_anon_aB3dE_470_{NB}", BLANK)
        zf.writestr(f"anon_Zz9_471_{NB}", BLANK)
    c = lms.collect([z])
    got = {i.source: (i.learner["id"], i.learner.get("name"), i.late, i.filename, i.learner["prefix"]) for i in c.items}
    assert c.format == "canvas" and got == {
        f"smithjohn_123_457_{NB[:-6]}-1.ipynb": ("123", "smithjohn", False, NB, "smithjohn_123_457"),
        f"müllerjosé_LATE_124_460_{NB}": ("124", "müllerjosé", True, NB, "müllerjosé_LATE_124_460"),
        f"LATE_anon_aB3dE_470_{NB}": ("anon_aB3dE", None, True, NB, "LATE_anon_aB3dE_470"),
        f"anon_Zz9_471_{NB}": ("anon_Zz9", None, False, NB, "anon_Zz9_471")}
    assert c.superseded == [{"source": f"smithjohn_123_456_{NB}", "learner": "123",
                             "kept": f"smithjohn_123_457_{NB[:-6]}-1.ipynb"}]
    assert all(i.path.parent.parent == c.folder for i in c.items)
    c.cleanup()


def test_moodle_folders_flat_names_with_spaces_and_blind_marking(tmp_path):
    z = tmp_path / "m.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr(f"José Müller_201_assignsubmission_file/{NB}", BLANK)
        zf.writestr(f"Ann O Neil_202_assignsubmission_file_{NB}", BLANK)
        zf.writestr("Ann O Neil_202_assignsubmission_onlinetext_onlinetext.html", b"<p>hi</p>")
        zf.writestr(f"Participant_203_assignsubmission_file/sub/{NB}", BLANK)
    c = lms.collect([z])
    got = {i.learner["id"]: (i.learner["name"], i.learner["folder"], i.filename) for i in c.items}
    assert c.format == "moodle" and got == {
        "201": ("José Müller", "José Müller_201_assignsubmission_file", NB),
        "202": ("Ann O Neil", "Ann O Neil_202_assignsubmission_file", NB),
        "203": (None, "Participant_203_assignsubmission_file", NB)}
    assert [(r["source"], r["reason"]) for r in c.refused] == [
        ("Ann O Neil_202_assignsubmission_onlinetext_onlinetext.html", "not a notebook (.ipynb)")]
    forced = lms.collect([z], lms="canvas")  # forcing the wrong format: every notebook is reported unmatched
    assert sorted(forced.unmatched) == sorted(i.source for i in c.items) and forced.format == "canvas"
    c.cleanup(), forced.cleanup()


def test_hostile_entries_are_refused_with_a_reason_and_nothing_lands_outside(tmp_path):
    z = tmp_path / "inner" / "h.zip"
    z.parent.mkdir()
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"../{NB}", BLANK)
        zf.writestr(f"/tmp/{NB}", BLANK)
        zf.writestr(f"a\\..\\..\\{NB}", BLANK)
        link = zipfile.ZipInfo(f"linky_1_2_{NB}")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
        zf.writestr(f"bomb_3_4_{NB}", b" " * (5 * 2**20))  # compresses about 1000 times
        zf.writestr(f"nest_5_6_{NB[:-6]}.zip", b"PK\x03\x04")
        zf.writestr(f"fake_7_8_{NB}", b"PK\x03\x04rest")
        zf.writestr(f"ok_9_10_{NB}", BLANK)
        with pytest.warns(UserWarning, match="Duplicate name"):
            zf.writestr(f"ok_9_10_{NB}", b"{}")
    before = set(tmp_path.rglob("*"))
    c = lms.collect([z])
    reasons = {r["source"]: r["reason"] for r in c.refused}
    assert reasons == {
        f"../{NB}": "a path that leaves the folder ('..'; never extracted)",
        f"/tmp/{NB}": "an absolute path (never extracted)",
        f"a\\..\\..\\{NB}": "a backslash in the path (never extracted)",
        f"linky_1_2_{NB}": "a symbolic link (never followed)",
        f"bomb_3_4_{NB}": f"compressed more than {lms.MAX_RATIO} times (a zip bomb?)",
        f"nest_5_6_{NB[:-6]}.zip": "a nested zip (not opened)",
        f"fake_7_8_{NB}": "a zip file named .ipynb (not opened)"} | {
        f"ok_9_10_{NB}": "a duplicate name (an earlier entry has the same name)"}
    assert [i.source for i in c.items] == [f"ok_9_10_{NB}"] and c.items[0].path.read_bytes() == BLANK
    assert stat.S_IMODE(os.stat(c.folder).st_mode) == 0o700 and stat.S_IMODE(os.stat(c.items[0].path).st_mode) == 0o600
    assert set(tmp_path.rglob("*")) == before and not Path(f"/tmp/{NB}").exists()
    c.cleanup()
    assert not c.items[0].path.exists()


def test_folders_never_follow_symlinks(tmp_path):
    (tmp_path / "alice").mkdir()
    (tmp_path / "alice" / NB).write_bytes(BLANK)
    (tmp_path / "bob").symlink_to(tmp_path / "alice")
    (tmp_path / f"eve_{NB}").symlink_to(tmp_path / "alice" / NB)
    c = lms.collect([tmp_path])
    assert c.format == "files" and [(i.learner["id"], i.filename) for i in c.items] == [("alice", NB)]
    assert sorted(r["source"] for r in c.refused) == ["bob", f"eve_{NB}"]
    c.cleanup()


def test_escaping_helpers():
    assert [_escape.csv_cell(s) for s in ("=1+2", "+x", "-cmd", "@sum", "\tx", "\rx", "-3.5", "-", "Ann")] == [
        "'=1+2", "'+x", "'-cmd", "'@sum", "'\tx", "'\rx", "-3.5", "-", "Ann"]
    assert _escape.html('<a href="x">&\'') == "&lt;a href=&quot;x&quot;&gt;&amp;&#x27;"
    assert _escape.md("a|b [c](d)\n<e>") == r"a\|b \[c\]\(d\) &lt;e\>"
    assert _escape.filename("../x/é y?.html") == "_x_é y_.html" and _escape.filename("..") == "unnamed"


def test_late_penalty_rules():
    day = parse_penalty("10%/day,max=50%")
    assert day.apply(15.0, 15.0, dt.timedelta(hours=25))[0] == pytest.approx(3.0)  # 2 started days × 1.5
    assert day.apply(15.0, 15.0, dt.timedelta(days=9))[0] == pytest.approx(7.5)  # capped at 50 %
    assert day.apply(15.0, 15.0, None) == (0.0, day.apply(15.0, 15.0, None)[1]) and "not applied" in day.apply(
        15.0, 15.0, None)[1]
    assert parse_penalty("2pt/hour").apply(1.0, 15.0, dt.timedelta(hours=3))[0] == 1.0  # never below 0
    for bad in ("", "ten%", "10%,20%", "max=5%/day"):
        with pytest.raises(ValueError, match="late penalty"):
            parse_penalty(bad)


def test_pseudonyms_are_stable_across_runs(tmp_path):
    entries = [{"learner": {"lms": "canvas", "id": str(i), "name": f"n{i}"}, "submission": f"n{i}_x.ipynb",
                "source": f"n{i}_x.ipynb"} for i in range(5)]
    first = Pseudonyms(tmp_path / "key.csv")
    first.assign(entries)
    first.save()
    names = {e["learner"]["id"]: e["_pseudonym"] for e in entries}
    assert sorted(names.values()) == [f"learner-{k:03d}" for k in range(1, 6)]
    again = Pseudonyms(tmp_path / "key.csv")
    again.assign(entries[::-1] + [{"learner": {"lms": "canvas", "id": "9"}, "submission": "z", "source": "z"}])
    assert {e["learner"]["id"]: e["_pseudonym"] for e in entries} == names
    assert stat.S_IMODE(os.stat(tmp_path / "key.csv").st_mode) == 0o600


# ------------------------------------------------------------------------------------ round trips


@pytest.fixture(scope="module")
def canvas(tmp_path_factory):
    d = tmp_path_factory.mktemp("canvas")
    with zipfile.ZipFile(d / "submissions.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"smithjohn_123_456_{NB}", BLANK)
        zf.writestr(f"smithjohn_123_457_{NB[:-6]}-1.ipynb", notebook())
        zf.writestr(f"müllerjosé_LATE_124_460_{NB}", notebook(HALF_KL, INJECT))
        zf.writestr(f"blankbob_125_470_{NB}", BLANK)
        zf.writestr("evileve_126_480_notes.txt", b"x")
        zf.writestr(f"../{NB}", BLANK)
        zf.writestr(f"stray_{NB}", notebook())
    (d / "roster.csv").write_text(
        "Student,ID,SIS User ID,SIS Login ID,Section,Chapter 1 (9876),Chapter 2 (9877)\n"
        "    Points Possible,,,,,15.00,20.00\n"
        '"Smith, John",123,s1,jsmith,Sec A,,\n"Müller, José",124,s2,jmuller,Sec A,,\n'
        '"Blank, Bob",125,s3,bblank,Sec B,,\n"=Evil, Eve",126,s4,eevil,Sec B,,\n'
        '"Absent, Ann",127,s5,aabsent,Sec B,,\n"Student, Test",999,,,Sec A,,\n', encoding="utf-8")
    out = run("submissions.zip", "--roster", "roster.csv", "--assignment", "9876", "--canvas-csv", "import.csv",
              "--feedback", "feedback", "--md", "report.md", "--csv", "scores.csv", "--late-penalty", "10%", cwd=d)
    return d, json.loads((d / "report.json").read_text(encoding="utf-8")), out


def _by_id(report):
    return {(e["learner"] or {}).get("id"): e for e in report["submissions"]}


def test_canvas_report_has_learner_status_and_source(canvas):
    d, report, out = canvas
    e = _by_id(report)
    assert {k: e[k]["status"] for k in e} == {"123": "graded", "124": "late", "125": "blank", "126": "refused",
                                             "127": "missing", "stray": "graded"}
    assert e["123"]["source"] == f"smithjohn_123_457_{NB[:-6]}-1.ipynb" and e["123"]["score"] == 15
    assert {"lms": "canvas", "id": "123", "name": "smithjohn", "roster_name": "Smith, John"}.items() <= e["123"][
        "learner"].items()
    assert e["123"]["superseded"] == [f"smithjohn_123_456_{NB}"]
    assert e["stray"]["learner"]["lms"] == "unmatched" and report["lms"]["unmatched"] == [f"stray_{NB}"]
    assert e["125"]["score"] == e["126"]["score"] == e["127"]["score"] == 0 and e["127"]["max_score"] == 15
    auto = sum(x["points"] for x in e["124"]["exercises"])
    assert 0 < auto < 15 and e["124"]["late_penalty"]["points"] == 1.5 and e["124"]["score"] == auto - 1.5
    assert {r["source"]: r["reason"] for r in report["lms"]["refused"]} == {
        f"../{NB}": "a path that leaves the folder ('..'; never extracted)",
        "evileve_126_480_notes.txt": "not a notebook (.ipynb)"}


def test_canvas_gradebook_csv_has_the_import_layout(canvas):
    d, report, _ = canvas
    e = _by_id(report)
    assert rows(d / "import.csv") == [
        ["Student", "ID", "SIS Login ID", "Section", "Chapter 1 (9876)"],
        ["    Points Possible", "", "", "", "15"],
        ["Smith, John", "123", "jsmith", "Sec A", "15"],
        ["Müller, José", "124", "jmuller", "Sec A", f"{e['124']['score']:g}"],
        ["Blank, Bob", "125", "bblank", "Sec B", "0"],
        ["'=Evil, Eve", "126", "eevil", "Sec B", "0"],
        ["Absent, Ann", "127", "aabsent", "Sec B", "0"]]


def test_canvas_feedback_names_match_canvas_reupload_rule(canvas):
    d, report, _ = canvas
    with zipfile.ZipFile(d / "feedback/upload.zip") as zf:
        names = sorted(zf.namelist())
    assert names == sorted(["smithjohn_123_457_kdbook-feedback.html", "müllerjosé_LATE_124_460_kdbook-feedback.html",
                            "blankbob_125_470_kdbook-feedback.html", "evileve_126_480_kdbook-feedback.html",
                            "stray_kdbook-feedback.html"])
    for name in (n for n in names if not n.startswith("stray")):
        user, attachment = [p for p in name.split("_") if re.fullmatch(r"\d+", p)][:2]  # Canvas's own rule
        assert _by_id(report)[user]["learner"]["attachment"] == attachment
    assert all((d / "feedback" / n).with_suffix(".md").exists() for n in names)


def test_canvas_feedback_shows_public_messages_never_hidden_ones(canvas):
    d, report, _ = canvas
    entry = _by_id(report)["124"]
    page = (d / "feedback/müllerjosé_LATE_124_460_kdbook-feedback.html").read_text(encoding="utf-8")
    hidden = [m for ex in entry["exercises"] for m in ex["messages"] if m[2:10] == "[hidden]"]
    public = [m for ex in entry["exercises"] for m in ex["messages"] if m[2:10] == "[public]"]
    assert any(m.startswith("✗") for m in hidden) and any(m.startswith("✗") for m in public)
    for m in hidden:
        assert m.split(" (")[0][2:] not in page and (": " not in m or m.split(": ", 1)[1] not in page)
    assert all(_escape.html(m) in page for m in public)
    assert "hidden tests: 0 of 1 point(s) earned (1 lost)" in page
    assert "<script>" not in page and "<img" not in page and _escape.html(INJECT) in page
    assert "late penalty &#x27;10%&#x27;: once, 1.5 point(s) taken off" in page


def test_canvas_report_md_csv_manual_template_and_written_pages(canvas):
    d, report, _ = canvas
    md = (d / "report.md").read_text(encoding="utf-8")
    for heading in ("## Class at a glance", "### Pass rates", "### Most frequent diagnosed bugs", "### Flagged",
                    "### Near-identical answers"):
        assert heading in md
    glance = md[md.index("## Class at a glance"):]  # the part above is _report.write_markdown's (issue 24 escapes it)
    assert "- missing: missing:127" in glance and "<script>" not in glance
    assert (r"- 2 submissions (pairwise index ≥ 1.00 along the links): smithjohn\_123\_457\_01\_teacher\_and\_student"
            r"\-1\.ipynb, stray\_01\_teacher\_and\_student\.ipynb") in md
    assert report["class"]["histogram"][9] == 2
    assert report["class"]["exercise_pass_rate"]["01.kl_contributions"] == pytest.approx(2 / 3, abs=1e-3)
    header, *body = rows(d / "scores.csv")
    ids = [ex.id for ex in registry.chapter_exercises("01")]
    assert header == ["submission", "score", "max_score", *ids, "manual", "late_penalty", "learner_id", "learner",
                      "status", "source"]
    assert [r[header.index("status")] for r in body] == [_by_id(report)[k]["status"] for k in
                                                        [(e["learner"] or {}).get("id") for e in report["submissions"]]]
    template = rows(d / "manual_template.csv")
    assert template[0] == ["submission", "exercise", "points", "comment", "manual_max", "learner", "reasoning"]
    assert [(r[1], r[2], r[4]) for r in template[1:]] == [("01.justify", "", "1")] * 4
    assert any(r[6] == "'" + INJECT for r in template[1:])
    page = (d / "written_answers/01.justify.md").read_text(encoding="utf-8")
    assert page.count("## ") == 4 and "<script>" not in page


def test_canvas_regrade_with_manual_points_prints_the_diff(canvas, tmp_path):
    d, report, _ = canvas
    template = rows(d / "manual_template.csv")
    for r in template[1:]:
        r[2], r[3] = ("1", "=well argued") if "smithjohn" in r[0] else ("", "")
    with open(tmp_path / "manual.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(template)
    out = run(str(d / "submissions.zip"), "--roster", str(d / "roster.csv"), "--assignment", "Chapter 1",
              "--canvas-csv", "import.csv", "--feedback", "fb", "--csv", "scores.csv", "--late-penalty", "10%",
              "--manual", "manual.csv", "--previous", str(d / "report.json"), "--with-solutions", cwd=tmp_path)
    assert f"regrade: smithjohn_123_457_{NB[:-6]}-1.ipynb 15.0 → 16.0 (gains): 01.justify 2 → 3 (instructor's points " \
           "0 → 1)" in out.stdout
    assert "3 row(s) without points (not marked yet) were skipped" in out.stderr
    header, *body = rows(tmp_path / "scores.csv")
    smith = next(r for r in body if r[header.index("learner_id")] == "123")
    assert (smith[header.index("manual")], smith[header.index("01.justify")], smith[1], smith[2]) == ("1", "2", "16", "16")
    assert rows(tmp_path / "import.csv")[2] == ["Smith, John", "123", "jsmith", "Sec A", "15"]  # 16/16 as 15 possible
    page = (tmp_path / "fb/smithjohn_123_457_kdbook-feedback.html").read_text(encoding="utf-8")
    assert "Your instructor: =well argued" in page and "+ 1 / 1 from your instructor" in page
    assert "Reference answer:" in page and _escape.html("np.where(p > 0, p * (np.log(p) - np.log(q)), 0.0)") in page
    (tmp_path / "manual_template.csv").write_text((tmp_path / "manual.csv").read_text(encoding="utf-8"), encoding="utf-8")
    run(str(d / "submissions.zip"), "--lms", "canvas", cwd=tmp_path)  # a filled template is never overwritten
    assert rows(tmp_path / "manual_template.csv") == template
    assert len(list(tmp_path.glob("manual_template.*.csv"))) == 1


@pytest.fixture(scope="module")
def moodle(tmp_path_factory):
    d = tmp_path_factory.mktemp("moodle")
    with zipfile.ZipFile(d / "download.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"José Müller_201_assignsubmission_file/{NB}", notebook())
        zf.writestr(f"Ann O Neil_202_assignsubmission_file_{NB}", BLANK)
        zf.writestr("Ann O Neil_202_assignsubmission_onlinetext_onlinetext.html", b"<p>see file</p>")
    header = ["Identifier", "Full name", "Email address", "Status", "Grade", "Maximum Grade", "Grade can be changed",
              "Last modified (submission)", "Last modified (grade)", "Feedback comments"]
    sheet = [header,
             ["Participant 201", "José Müller", "jm@x.org", "Submitted for grading", "", "15.00", "Yes",
              "Monday, 7 December 2026, 6:00 PM", "-", ""],
             ["Participant 202", "Ann O Neil", "an@x.org", "Submitted for grading", "", "15.00", "Yes",
              "Monday, 7 December 2026, 4:00 PM", "-", ""],
             ["Participant 203", "+Zoe Absent", "za@x.org", "No submission", "", "15.00", "Yes", "-", "-", ""]]
    with open(d / "worksheet.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(sheet)
    run("download.zip", "--roster", "worksheet.csv", "--moodle-worksheet", "filled.csv", "--feedback", "fb",
        "--due", "2026-12-07 17:00", "--late-penalty", "10%/day,max=50%", "--md", "report.md", cwd=d)
    return d, json.loads((d / "report.json").read_text(encoding="utf-8")), sheet


def test_moodle_worksheet_is_filled_and_keeps_its_layout(moodle):
    d, report, sheet = moodle
    got = rows(d / "filled.csv")
    assert got[0] == sheet[0] and len(got) == 4
    assert [r[:4] + r[5:9] for r in got[1:]] == [r[:4] + r[5:9] for r in sheet[1:3]] + [
        ["Participant 203", "'+Zoe Absent"] + sheet[3][2:4] + sheet[3][5:9]]
    assert [r[4] for r in got[1:]] == ["13.5", "0", "0"]  # one started day late: 10 % of 15 off
    assert got[1][9].startswith("kdbook: 13.5/15 (automatic 15, instructor 0, late penalty 1.5)")
    assert got[3][9] == "kdbook: no submission."
    e = _by_id(report)
    assert (e["201"]["status"], e["202"]["status"], e["203"]["status"]) == ("late", "blank", "missing")
    assert e["201"]["late_by_hours"] == 1.0
    assert "also in the download, not graded: Ann O Neil_202_assignsubmission_onlinetext_onlinetext.html (not a " \
           "notebook (.ipynb))" in e["202"]["messages"]


def test_moodle_feedback_names_match_moodle_import_rule(moodle):
    d, report, _ = moodle
    with zipfile.ZipFile(d / "fb/upload.zip") as zf:
        names = sorted(zf.namelist())
    assert names == ["Ann O Neil_202_assignsubmission_file/kdbook-feedback.html",
                     "José Müller_201_assignsubmission_file/kdbook-feedback.html"]
    for name in names:  # Moodle: explode('_', part, 5); part 1 is the participant id, parts 2-3 a plugin
        info = name.split("/")[0].split("_", 4)
        assert info[1].isdigit() and info[2:4] == ["assignsubmission", "file"]
        assert _by_id(report)[info[1]]["learner"]["name"] == info[0]


def test_anonymised_reports_carry_no_names(moodle, tmp_path):
    d, *_ = moodle
    (tmp_path / "extensions.csv").write_text("learner,due\n201,2026-12-08 12:00\n", encoding="utf-8")
    out = run(str(d / "download.zip"), "--roster", str(d / "worksheet.csv"), "--anonymise", "--md", "report.md",
              "--csv", "scores.csv", "--due", "2026-12-07 17:00", "--extensions", "extensions.csv", cwd=tmp_path)
    assert "learner-00" in out.stdout and "Müller" not in out.stdout + out.stderr
    key = rows(tmp_path / "anonymise_key.csv")
    assert key[0] == ["pseudonym", "lms", "id", "name"] and {r[3] for r in key[1:]} == {"José Müller", "Ann O Neil",
                                                                                       "'+Zoe Absent"}
    for f in [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "anonymise_key.csv"]:
        text = f.read_text(encoding="utf-8")
        for name in ("Müller", "José", "O Neil", "Zoe", "assignsubmission"):
            assert name not in text, (f.name, name)
    written = json.loads((tmp_path / "report.json").read_text())["submissions"]
    assert {e["learner"]["id"] for e in written} == {r[0] for r in key[1:]}
    assert sorted(e["status"] for e in written) == ["blank", "graded", "missing"]  # 201's extension: on time


def test_regrade_diff_names_flipped_tests():
    old = {"submissions": [{"submission": "a", "learner": {"lms": "files", "id": "a"}, "score": 1.0, "exercises": [
        {"id": "01.x", "points": 1.0, "messages": ["✓ [public] one (1/1)", "✗ [hidden] two (0/1): no"]}]}]}
    new = json.loads(json.dumps(old))
    new["submissions"][0]["score"] = 2.0
    new["submissions"][0]["exercises"][0].update(points=2.0, messages=["✓ [public] one (1/1)", "✓ [hidden] two (1/1)"])
    assert regrade.lines(regrade.diff(old, new)) == [
        "regrade: a 1.0 → 2.0 (gains): 01.x 1 → 2 ([hidden] two: ✗ → ✓)"]


@pytest.mark.browser
def test_feedback_html_opens_in_chromium_without_errors(canvas, playwright_instance):
    d, report, _ = canvas
    args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"]
    if not Path("/usr/bin/chromium").exists():
        pytest.fail("/usr/bin/chromium is missing: install Debian's chromium (apt-get install chromium)")
    browser = playwright_instance.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=args)
    try:
        for page_path in sorted((d / "feedback").glob("*.html")):
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda err: errors.append(str(err)))
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            page.on("dialog", lambda dialog: errors.append("dialog: " + dialog.message))
            page.goto(page_path.as_uri())
            assert page.evaluate("document.scripts.length + document.images.length") == 0
            assert page.locator("h1").inner_text().startswith("Feedback for")
            text = page.locator("body").inner_text()
            assert not errors, (page_path.name, errors)
            if "124" in page_path.name:
                assert INJECT.split(" <")[0] in text and "hidden tests: 0 of 1" in text
            page.close()
    finally:
        browser.close()


def test_class_summary_counts_diagnosed_bugs_and_pass_rates():
    from kdbook.grade import classview

    def entry(name, ok):
        line = ("✓ [public] loss (2/2)" if ok else
                "✗ [public] loss (0/2): kd_loss(z, v, T=2) should be 3.5318, got 0.8830: your loss is exactly T² = 4 "
                "times too small: did you forget the T² factor?")
        return {"submission": name, "status": "graded", "score": 2.0 if ok else 0.0, "max_score": 2.0,
                "chapter": "04", "exercises": [{"id": "04.kd", "points": 2.0 if ok else 0.0, "messages": [line]}]}

    report = {"seed": 1, "submissions": [entry("a", True), entry("b", False), entry("c", False), entry("<d>", False)]}
    c = classview.summary(report)
    assert c["histogram"] == [3, 0, 0, 0, 0, 0, 0, 0, 0, 1] and c["exercise_pass_rate"] == {"04.kd": 0.25}
    assert c["bugs"] == {"04.kd": [{"bug": "did you forget the T² factor?", "count": 3, "share": 0.75}]}
    report["class"] = c
    assert "- 04\\.kd: 75% did you forget the T² factor?" in classview.markdown(report)
    assert "&lt;d&gt;" in classview.html_page(report) and "<d>" not in classview.html_page(report)


def test_bad_options_are_refused_naming_the_option(tmp_path):
    (tmp_path / "s.zip").write_bytes(b"not a zip")
    (tmp_path / "roster.csv").write_text("Name,Mark\nx,1\n", encoding="utf-8")
    (tmp_path / NB).write_bytes(BLANK)
    with zipfile.ZipFile(tmp_path / "anon.zip", "w") as zf:
        zf.writestr(f"anon_Ab1_5_{NB}", BLANK)
    (tmp_path / "canvas.csv").write_text("Student,ID,SIS Login ID,Section,Ch (1)\nA,1,a,S,\n", encoding="utf-8")
    cases = [(["anon.zip", "--roster", "canvas.csv"], "--roster: the download is anonymous"),
             ([NB, "--canvas-csv", "x.csv"], "--canvas-csv needs --roster"),
             ([NB, "--late-penalty", "10 percent"], "--late-penalty: late penalty '10 percent'"),
             ([NB, "--roster", "roster.csv"], "--roster: roster.csv: neither a Canvas gradebook export"),
             (["s.zip"], "submissions: s.zip: not a readable zip"),
             ([NB, "--due", "tomorrow"], "--due: not a date-time"),
             ([NB, "--lms", "blackboard"], "argument --lms: invalid choice")]
    for args, message in cases:
        out = subprocess.run([sys.executable, "-m", "kdbook.grade", *args], cwd=tmp_path, capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 2 and message in out.stderr, (args, out.stderr)
    assert not (tmp_path / "report.json").exists()


def test_a_learner_not_graded_gets_an_empty_cell_not_a_zero(tmp_path):
    from kdbook.grade import gradebook
    from kdbook.grade.roster import read_roster

    (tmp_path / "r.csv").write_text("Student,ID,SIS User ID,SIS Login ID,Section,Ch 1 (5)\n    Points Possible,,,,,30\n"
                                    '"A, B",1,,ab,S,\n"C, D",2,,cd,S,\n', encoding="utf-8")
    roster = read_roster(tmp_path / "r.csv")
    notes = gradebook.write_canvas_csv(tmp_path / "o.csv", roster, "Ch 1 (5)", {"1": (7.5, 15.0)})
    assert rows(tmp_path / "o.csv")[2:] == [["A, B", "1", "ab", "S", "15"], ["C, D", "2", "cd", "S", ""]]
    assert notes == ["Canvas CSV: scores scaled from the grader's maximum (15) to the assignment's 30 points possible"]

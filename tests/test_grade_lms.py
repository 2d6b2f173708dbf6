"""Reading LMS downloads (issue 25): Canvas and Moodle names as the LMSs write them (checked
against their source: Canvas's ``lib/content_zipper.rb``, Moodle's ``mod/assign``; see
docs/grading.md), hostile zip entries, escaping, rosters, late rules, pseudonyms, the regrade
diff and the class summary. The whole round trip is in test_grade_roundtrip.py."""
from __future__ import annotations

import datetime as dt
import json
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from _lms_zips import BLANK, NB, rows

from kdbook.grade import _escape, lms, regrade
from kdbook.grade.anonymise import Pseudonyms
from kdbook.grade.roster import parse_penalty


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
        f"a\\..\\..\\{NB}": "a path that leaves the folder ('..'; never extracted)",
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
        "'=1+2", "'+x", "'-cmd", "'@sum", "'\tx", "⏎x", "-3.5", "-", "Ann"]
    assert _escape.html('<a href="x">&\'') == "&lt;a href=&quot;x&quot;&gt;&amp;&#x27;"
    assert _escape.md_inline("a|b [c](d)\n<e>") == r"a\|b \[c\](d)⏎&lt;e&gt;"
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


def test_regrade_diff_names_flipped_tests():
    old = {"submissions": [{"submission": "a", "learner": {"lms": "files", "id": "a"}, "score": 1.0, "exercises": [
        {"id": "01.x", "points": 1.0, "messages": ["✓ [public] one (1/1)", "✗ [hidden] two (0/1): no"]}]}]}
    new = json.loads(json.dumps(old))
    new["submissions"][0]["score"] = 2.0
    new["submissions"][0]["exercises"][0].update(points=2.0, messages=["✓ [public] one (1/1)", "✓ [hidden] two (1/1)"])
    assert regrade.lines(regrade.diff(old, new)) == [
        "regrade: a 1.0 → 2.0 (gains): 01.x 1 → 2 ([hidden] two: ✗ → ✓)"]


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
    assert "- 04.kd: 75% did you forget the T² factor?" in classview.markdown(report)
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


def test_a_corrupted_entry_is_refused_not_a_crash(tmp_path):
    z = tmp_path / "crc.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(f"bad_1_2_{NB}", BLANK)
        zf.writestr(f"good_3_4_{NB}", BLANK)
    with zipfile.ZipFile(z) as zf:
        info = zf.getinfo(f"bad_1_2_{NB}")
    data = bytearray(z.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start + 100] ^= 0xFF  # one byte of the stored notebook: its CRC no longer matches
    z.write_bytes(bytes(data))
    c = lms.collect([z])
    assert [i.source for i in c.items] == [f"good_3_4_{NB}"]
    assert [(r["source"], r["reason"].split(" (")[0]) for r in c.refused] == [(f"bad_1_2_{NB}", "unreadable")]
    assert "Bad CRC-32" in c.refused[0]["reason"]
    c.cleanup()


def test_moodle_worksheet_scales_to_its_maximum_grade_and_keeps_other_rows(tmp_path):
    from kdbook.grade import gradebook
    from kdbook.grade.roster import read_roster

    (tmp_path / "w.csv").write_text(
        "Identifier,Full name,Status,Grade,Maximum Grade,Last modified (grade)\n"
        "Participant 7,A B,Submitted,,100.00,-\nParticipant 8,@C D,Submitted,55.00,100.00,\n", encoding="utf-8")
    roster = read_roster(tmp_path / "w.csv")
    assert roster.kind == "moodle" and [r["id"] for r in roster.learners] == ["7", "8"]
    notes = gradebook.write_moodle_worksheet(tmp_path / "o.csv", roster, {"7": (12.0, 16.0)}, {"7": "=fine"})
    assert rows(tmp_path / "o.csv") == [
        ["Identifier", "Full name", "Status", "Grade", "Maximum Grade", "Last modified (grade)", "Feedback comments"],
        ["Participant 7", "A B", "Submitted", "75", "100.00", "-", "'=fine"],
        ["Participant 8", "'@C D", "Submitted", "55.00", "100.00", "", ""]]
    assert notes == ["Moodle worksheet: A B: scaled from 16 to the maximum grade 100"]


def test_windows_separators_are_read_and_refused_entries_name_their_learner(tmp_path):
    """A zip re-packed on Windows (backslashes) is graded; an entry refused for its path or kind still
    says whose it was, so that learner is `refused` with the reason, never `missing`."""
    z = tmp_path / "canvas.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr(f"submissions\\wongal_109_9011_{NB}", BLANK)
        link = zipfile.ZipInfo(f"parkmin_107_9012_{NB}")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
        zf.writestr(f"..\\..\\leeann_108_9013_{NB}", BLANK)
        zf.writestr(f"C:\\kimjo_110_9014_{NB}", BLANK)
        zf.writestr(f"ngmai_111_9015_{NB[:-6]}.zip", b"PK\x03\x04")
    c = lms.collect([z])
    assert c.format == "canvas"
    assert [(i.learner["id"], i.filename, i.source) for i in c.items] == [("109", NB, f"submissions\\wongal_109_9011_{NB}")]
    assert {r["learner"]["id"]: r["reason"] for r in c.refused} == {
        "107": "a symbolic link (never followed)",
        "108": "a path that leaves the folder ('..'; never extracted)",
        "110": "an absolute path (never extracted)",
        "111": "a nested zip (not opened)"}
    c.cleanup()


def test_a_canvas_name_that_holds_ids_cannot_pass_for_another_learner(tmp_path):
    """Canvas keeps letters, digits and "_" of a name: "Evil_103_9999" must not make a file learner 103's."""
    z = tmp_path / "canvas.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr(f"smithjo_103_9004_{NB}", BLANK)  # the real learner 103
        zf.writestr(f"evil_103_9999_104_9005_{NB}", BLANK)  # learner 104, whose name holds 103's ids
        zf.writestr(f"evil_104_9006_103_9999_{NB}", BLANK)  # the same trick through the file name
        zf.writestr(f"leeann_LATE_105_9007_{NB[:-6]}-1.ipynb", BLANK)  # ordinary: LATE, a resubmission
        zf.writestr(f"kimjo_106_9008_2024_12_final.ipynb", BLANK)  # digits in an ordinary file name
    c = lms.collect([z])
    got = {(i.learner["id"], i.learner["name"], i.late) for i in c.items}
    assert got == {("103", "smithjo", False), ("105", "leeann", True), ("106", "kimjo", False)}
    reasons = {r["source"]: r["reason"] for r in c.refused}
    assert reasons == {f"evil_103_9999_104_9005_{NB}": "the name could be learner 103, 104 or 9999's (the learner's "
                                                        "own name holds ids): check it by hand",
                       f"evil_104_9006_103_9999_{NB}": "the name could be learner 103, 104 or 9006's (the learner's "
                                                        "own name holds ids): check it by hand"}
    c.cleanup()

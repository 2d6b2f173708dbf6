"""Meta-tests of the batch grader: one parallel grading run over every solution, every generated
exercise notebook and the hostile catalogue (tests/hostile/hostile_cases.py): no crash, no hang,
no changed grade of another submission, no false pass, right answers at full marks."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kdbook.grade import Limits, grade, write_json
from kdbook.grade._isolation import USER_PREFIX, _pids_of, isolation
from kdbook.grading import registry

sys.path.insert(0, str(Path(__file__).parent / "hostile"))
from hostile_cases import CASES, FULL, PWNED, ROOT_CASES  # noqa: E402

ISOLATED = isolation() == "users"
#: The root-only attacks (siblings, daemons) join the batch only where users isolate submissions:
#: without root they would, as docs/grading.md says, succeed, and change other submissions' grades.
ALL_CASES = CASES + (ROOT_CASES if ISOLATED else ())

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
EXERCISES = sorted((ROOT / "exercises").glob("[0-9][0-9]_*.ipynb"))
LIMITS = Limits(step_timeout=5.0, submission_timeout=120.0, memory_mb=1024)  # generous for a loaded CI machine
GRACE = 2.0 + 1.0 + 10.0  # the grader's kill grace, the wait after a closed pipe, start-up of a loaded machine


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade everything in ONE parallel run; return (report entries by path, digests before)."""
    tmp = tmp_path_factory.mktemp("submissions")
    paths = []
    for src in SOLUTIONS + EXERCISES:
        dst = tmp / src.parent.name / src.name
        dst.parent.mkdir(exist_ok=True)
        shutil.copy(src, dst)
        paths.append(dst)
    bases = {"solution": json.loads((ROOT / "solutions/02_divergences.ipynb").read_text()),
             "exercise": json.loads((ROOT / "exercises/02_divergences.ipynb").read_text())}
    report_dir = tmp / "public"  # writable by anyone, as /tmp is: only isolation keeps a daemon out
    report_dir.mkdir(mode=0o777)
    os.chmod(report_dir, 0o777)
    report_path = report_dir / "report.json"
    for i, case in enumerate(ALL_CASES):
        out = case.mutate(bases[case.base])
        dst = tmp / "hostile" / f"02_hostile_{i:02d}.ipynb"
        dst.parent.mkdir(exist_ok=True)
        data = out if isinstance(out, bytes) else json.dumps(out).encode()
        dst.write_bytes(data.replace(b"@REPORT@", str(report_path).encode()))
        paths.append(dst)
    before = {p: _digest(p) for p in paths}
    start = time.monotonic()
    report = grade(paths, seed=12345, limits=LIMITS, jobs=2)
    wall = time.monotonic() - start
    print(f"graded {len(paths)} submissions in {wall:.1f} s with 2 jobs")
    write_json(report, report_path)
    entries = {Path(e["submission"]): e for e in report["submissions"]}
    return tmp, entries, before, report, report_path


def _points(entry: dict) -> dict:
    return {e["id"]: e["points"] for e in entry["exercises"]}


def test_every_solution_scores_full_marks(graded):
    tmp, entries, *_ = graded
    assert len(SOLUTIONS) >= 4
    for src in SOLUTIONS:
        entry = entries[tmp / "solutions" / src.name]
        chapter = src.name[:2]
        want = sum(ex.points for ex in registry.chapter_exercises(chapter))
        assert entry["max_score"] == want > 0
        assert entry["score"] == want, json.dumps(entry, indent=1, ensure_ascii=False)


def test_every_generated_exercise_notebook_scores_zero(graded):
    tmp, entries, *_ = graded
    assert [p.name for p in EXERCISES] == [p.name for p in SOLUTIONS]
    for src in EXERCISES:
        entry = entries[tmp / "exercises" / src.name]
        assert entry["max_score"] > 0 and entry["score"] == 0, json.dumps(entry, indent=1, ensure_ascii=False)
        for ex in entry["exercises"]:
            assert any("not attempted" in m or "still `...`" in m for m in ex["messages"]), ex


@pytest.mark.parametrize("i", range(len(ALL_CASES)), ids=[c.name for c in ALL_CASES])
def test_hostile_submission(graded, i):
    tmp, entries, *_ = graded
    case = ALL_CASES[i]
    entry = entries[tmp / "hostile" / f"02_hostile_{i:02d}.ipynb"]
    dump = json.dumps(entry, indent=1, ensure_ascii=False)
    assert entry["max_score"] == sum(FULL.values()) == 18, dump
    assert _points(entry) == {k: float(v) for k, v in case.points.items()}, dump
    messages = entry["messages"] if not case.where else next(
        e["messages"] for e in entry["exercises"] if e["id"] == case.where)
    assert any(case.message in m for m in messages), dump
    everything = json.dumps(entry, ensure_ascii=False)
    assert not case.absent or case.absent not in everything, dump
    assert entry["seconds"] <= (case.max_seconds or LIMITS.submission_timeout + GRACE), dump


def test_report_has_the_documented_fields_and_submissions_are_untouched(graded):
    _, entries, before, report, _ = graded
    assert isinstance(report["seed"], int)
    for path, entry in entries.items():
        assert _digest(path) == before[path], f"{path} was modified"
        assert {"submission", "score", "max_score", "exercises"} <= set(entry)
        assert entry["score"] == sum(e["points"] for e in entry["exercises"])
        for ex in entry["exercises"]:
            assert {"id", "points", "max_points", "messages"} <= set(ex) <= {"id", "points", "max_points", "messages",
                                                                           "reasoning"}
            assert 0 <= ex["points"] <= ex["max_points"]
            assert ("reasoning" in ex) == bool(registry.get(ex["id"]).reasoning)


def test_command_line_writes_json_csv_and_markdown(tmp_path):
    sub = tmp_path / "alice_01.ipynb"
    shutil.copy(ROOT / "solutions/01_teacher_and_student.ipynb", sub)
    out = subprocess.run(
        [sys.executable, "-m", "kdbook.grade", str(sub), "--chapter", "01", "--out", str(tmp_path / "r.json"),
         "--csv", str(tmp_path / "r.csv"), "--md", str(tmp_path / "r.md"), "--seed", "7", "--jobs", "1"],
        capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    full = sum(ex.points for ex in registry.chapter_exercises("01"))
    assert report["seed"] == 7 and report["submissions"][0]["score"] == full == 15
    rows = (tmp_path / "r.csv").read_text().splitlines()
    assert rows[0].startswith("submission,score,max_score,01.kl_contributions") and f",{full:g},{full:g}," in rows[1]
    assert "01.rank_students: 3 / 3" in (tmp_path / "r.md").read_text()


def test_the_report_stays_as_written_and_no_submission_process_survives(graded):
    *_, report, report_path = graded
    written = report_path.read_bytes()
    time.sleep(3.0)  # the daemon case tries to rewrite the report for 10 s after its submission
    assert report_path.read_bytes() == written
    assert json.loads(written)["submissions"] and json.loads(written)["isolation"] == isolation()
    if ISOLATED:
        import pwd

        assert not Path(PWNED).exists(), "a submission made the grader write through its link"
        users = [u for u in pwd.getpwall() if u.pw_name.startswith(USER_PREFIX)]
        assert users and not [u.pw_name for u in users if _pids_of(u.pw_uid)]


def test_unencodable_text_still_gives_valid_json(tmp_path):
    report = {"seed": 1, "submissions": [{"submission": "x", "score": 0.0, "max_score": 1.0, "messages": ["bad \ud800"],
                                          "exercises": []}]}
    write_json(report, tmp_path / "r.json")
    assert json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["submissions"][0]["messages"][0].startswith("bad")
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # the temporary file was renamed, not left behind


@pytest.mark.skipif(not ISOLATED, reason="submissions run as their own users only when the grader is root")
def test_as_root_a_submission_runs_as_its_own_user_in_a_private_folder(tmp_path):
    nb = json.loads((ROOT / "solutions/02_divergences.ipynb").read_text())
    probe = {"cell_type": "code", "metadata": {"tags": []}, "outputs": [], "execution_count": None,
             "source": "import os, stat, tempfile\nst = os.stat(os.getcwd())\n"
                       "assert os.getuid() != 0 and os.getgroups() == [] and os.getsid(0) == os.getpid()\n"
                       "assert st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) == 0o700\n"
                       "with tempfile.NamedTemporaryFile() as f:\n    assert f.name.startswith(os.getcwd())\n"
                       "for private in ('../job.pickle', '../stderr.txt'):\n"
                       "    try:\n        open(private, 'rb')\n    except OSError:\n        pass\n"
                       "    else:\n        raise AssertionError(private + ' is readable')\n"
                       "try:\n    os.listdir('..')\nexcept OSError:\n    pass\n"
                       "else:\n    raise AssertionError('the grader folder is listable')\n"}
    nb["cells"].insert(1, probe)
    sub = tmp_path / "02_probe.ipynb"
    sub.write_text(json.dumps(nb))
    entry = grade([sub], seed=1, limits=LIMITS, jobs=1)["submissions"][0]
    assert entry["score"] == entry["max_score"] and not entry["messages"], json.dumps(entry, indent=1)


def test_sigterm_ends_grading_quickly_with_a_valid_report(tmp_path):
    nb = json.loads((ROOT / "solutions/02_divergences.ipynb").read_text())
    nb["cells"].insert(1, {"cell_type": "code", "metadata": {"tags": []}, "outputs": [], "execution_count": None,
                           "source": "import time\nwhile True:\n    time.sleep(0.1)"})
    for name in ("02_a.ipynb", "02_b.ipynb", "02_c.ipynb"):
        (tmp_path / name).write_text(json.dumps(nb))
    out = tmp_path / "r.json"
    proc = subprocess.Popen([sys.executable, "-m", "kdbook.grade", *sorted(map(str, tmp_path.glob("02_*.ipynb"))),
                             "--out", str(out), "--jobs", "1", "--step-timeout", "60"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    time.sleep(4.0)
    start = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert time.monotonic() - start < 20, "the grader took too long to stop"
    assert proc.returncode == 130, err.decode()
    report = json.loads(out.read_text())
    assert report["interrupted"] is True and len(report["submissions"]) == 3
    assert any("interrupted" in m for e in report["submissions"] for m in e["messages"])


def test_manual_points_from_the_instructors_csv_are_merged(tmp_path):
    sub = tmp_path / "bob_02.ipynb"
    shutil.copy(ROOT / "solutions/02_divergences.ipynb", sub)
    manual = tmp_path / "manual.csv"
    manual.write_text("submission,exercise,points,comment\nbob_02.ipynb,02.asymmetry_why,0.5,direction right; "
                      "cause vague\n")
    out = subprocess.run([sys.executable, "-m", "kdbook.grade", str(sub), "--out", str(tmp_path / "r.json"),
                          "--md", str(tmp_path / "r.md"), "--manual", str(manual), "--seed", "3", "--jobs", "1"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    entry = json.loads((tmp_path / "r.json").read_text())["submissions"][0]
    auto = sum(ex.points for ex in registry.chapter_exercises("02"))
    manual_max = sum(ex.manual_points for ex in registry.chapter_exercises("02"))
    assert entry["max_score"] == auto + manual_max and entry["score"] == auto + 0.5
    why = next(e for e in entry["exercises"] if e["id"] == "02.asymmetry_why")
    assert why["reasoning"]["manual_points"] == 0.5 and "KL(q‖p) is infinite" in why["reasoning"]["text"]
    md = (tmp_path / "r.md").read_text()
    assert "Written reasoning (`why_infinite`, manual points: 0.5 / 1)" in md and "\nKL(q‖p) is infinite" in md  # verbatim, fenced
    bad = tmp_path / "bad.csv"
    bad.write_text("student,points\nx,1\n")
    out = subprocess.run([sys.executable, "-m", "kdbook.grade", str(sub), "--manual", str(bad)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "submission,exercise,points" in out.stderr

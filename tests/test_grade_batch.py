"""Meta-tests of the batch grader: one parallel grading run over every solution, every generated
exercise notebook and the hostile catalogue (tests/hostile/hostile_cases.py)."""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kdbook.grade import Limits, grade
from kdbook.grading import registry

sys.path.insert(0, str(Path(__file__).parent / "hostile"))
from hostile_cases import CASES, FULL  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
EXERCISES = sorted((ROOT / "exercises").glob("[0-9][0-9]_*.ipynb"))
LIMITS = Limits(step_timeout=5.0, submission_timeout=120.0, memory_mb=1024)  # generous for a loaded CI machine


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
    for i, case in enumerate(CASES):
        out = case.mutate(bases[case.base])
        dst = tmp / "hostile" / f"02_hostile_{i:02d}.ipynb"
        dst.parent.mkdir(exist_ok=True)
        dst.write_bytes(out if isinstance(out, bytes) else json.dumps(out).encode())
        paths.append(dst)
    before = {p: _digest(p) for p in paths}
    report = grade(paths, seed=12345, limits=LIMITS, jobs=2)
    entries = {Path(e["submission"]): e for e in report["submissions"]}
    return tmp, entries, before, report


def _points(entry: dict) -> dict:
    return {e["id"]: e["points"] for e in entry["exercises"]}


def test_every_solution_scores_full_marks(graded):
    tmp, entries, _, _ = graded
    assert len(SOLUTIONS) >= 4
    for src in SOLUTIONS:
        entry = entries[tmp / "solutions" / src.name]
        chapter = src.name[:2]
        want = sum(ex.points for ex in registry.chapter_exercises(chapter))
        assert entry["max_score"] == want > 0
        assert entry["score"] == want, json.dumps(entry, indent=1, ensure_ascii=False)


def test_every_generated_exercise_notebook_scores_zero(graded):
    tmp, entries, _, _ = graded
    assert [p.name for p in EXERCISES] == [p.name for p in SOLUTIONS]
    for src in EXERCISES:
        entry = entries[tmp / "exercises" / src.name]
        assert entry["max_score"] > 0 and entry["score"] == 0, json.dumps(entry, indent=1, ensure_ascii=False)
        for ex in entry["exercises"]:
            assert any("not attempted" in m or "still `...`" in m for m in ex["messages"]), ex


@pytest.mark.parametrize("i", range(len(CASES)), ids=[c.name for c in CASES])
def test_hostile_submission(graded, i):
    tmp, entries, _, _ = graded
    case = CASES[i]
    entry = entries[tmp / "hostile" / f"02_hostile_{i:02d}.ipynb"]
    dump = json.dumps(entry, indent=1, ensure_ascii=False)
    assert entry["max_score"] == sum(FULL.values()) == 13, dump
    assert _points(entry) == {k: float(v) for k, v in case.points.items()}, dump
    messages = entry["messages"] if not case.where else next(
        e["messages"] for e in entry["exercises"] if e["id"] == case.where)
    assert any(case.message in m for m in messages), dump


def test_report_has_the_documented_fields_and_submissions_are_untouched(graded):
    _, entries, before, report = graded
    assert isinstance(report["seed"], int)
    for path, entry in entries.items():
        assert _digest(path) == before[path], f"{path} was modified"
        assert {"submission", "score", "max_score", "exercises"} <= set(entry)
        assert entry["score"] == sum(e["points"] for e in entry["exercises"])
        for ex in entry["exercises"]:
            assert set(ex) == {"id", "points", "max_points", "messages"}
            assert 0 <= ex["points"] <= ex["max_points"]


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
    assert report["seed"] == 7 and report["submissions"][0]["score"] == full == 10
    rows = (tmp_path / "r.csv").read_text().splitlines()
    assert rows[0].startswith("submission,score,max_score,01.kl_contributions") and f",{full:g},{full:g}," in rows[1]
    assert "01.rank_students: 3 / 3" in (tmp_path / "r.md").read_text()

"""What nbgitpuller does to a learner's edited exercise notebook when the course pushes a fix (issue 26).

A JupyterHub hands the workbook out with an nbgitpuller link; every later click of the link pulls
the course's changes into the learner's clone. This test runs nbgitpuller's own puller
(``nbgitpuller.pull.GitPuller``, the code behind the link) on real copies of this repository's
chapter-1 notebook and exercise notebook, with a local git remote:

1. the learner clones, answers an exercise (the tagged answer cell, saved with its output as
   JupyterLab saves it);
2. the course fixes a typo in the chapter and in the exercise notebook's instructions, elsewhere
   in the file, and commits;
3. the learner follows the link again.

What holds (and what docs/jupyterhub.md tells instructors): the learner's answer is kept; the
chapter fix arrives; the fix to the *same* exercise notebook arrives too where it touches other
lines (git merges the JSON line by line; where both changed the same lines, nbgitpuller's
``-Xours`` keeps the learner's); the merged notebook is still valid JSON; a notebook the learner
deleted comes back. Group ``system``.
"""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

pull = pytest.importorskip("nbgitpuller.pull", reason="nbgitpuller is a test dependency (pip install nbgitpuller)")

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = "notebooks/01_teacher_and_student.ipynb"
EXERCISE = "exercises/01_teacher_and_student.ipynb"
GIT = ["git", "-c", "user.name=course", "-c", "user.email=course@example.invalid", "-c", "init.defaultBranch=main"]


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run([*GIT, *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def _puller(remote: Path, home: Path):
    return pull.GitPuller(remote.as_uri(), str(home / "kdbook"), branch="main")


def _run(puller) -> None:
    for _ in puller.pull():
        pass


def _answer_cell(nb: dict) -> dict:
    from kdbook.grading.spec import EXERCISE_ID, cell_tags

    return next(c for c in nb["cells"] if c["cell_type"] == "code" and any(EXERCISE_ID.fullmatch(t) for t in cell_tags(c)))


def _edit(path: Path, change) -> None:
    nb = json.loads(path.read_text(encoding="utf-8"))
    change(nb)
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


@pytest.fixture
def course(tmp_path) -> Path:
    remote = tmp_path / "course"
    for rel in (CHAPTER, EXERCISE):
        (remote / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, remote / rel)
    _git(remote, "init", "-q")
    _git(remote, "add", ".")
    _git(remote, "commit", "-qm", "the workbook")
    return remote


def test_a_course_fix_reaches_the_learner_and_the_learners_answer_is_kept(course, tmp_path):
    home = tmp_path / "learner"
    home.mkdir()
    _run(_puller(course, home))
    mine = home / "kdbook"
    assert (mine / EXERCISE).is_file() and (mine / CHAPTER).is_file()

    answer = "def spread_evenly(p):\n    return p  # the learner's own answer\n"

    def answer_it(nb):
        cell = _answer_cell(nb)
        cell["source"] = answer.splitlines(keepends=True)
        cell["execution_count"] = 7
        cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["ran\n"]}]

    _edit(mine / EXERCISE, answer_it)

    def fix_title(nb):  # the course fixes a typo in the first Markdown cell (far from any answer cell)
        first = next(c for c in nb["cells"] if c["cell_type"] == "markdown")
        first["source"] = ["".join(first["source"]) + "\n\n(typo fixed by the course)\n"]

    _edit(course / CHAPTER, fix_title)
    _edit(course / EXERCISE, fix_title)
    _git(course, "commit", "-qam", "fix a typo")

    _run(_puller(course, home))
    merged = json.loads((mine / EXERCISE).read_text(encoding="utf-8"))  # still valid JSON
    assert "".join(_answer_cell(merged)["source"]) == answer
    assert "(typo fixed by the course)" in "".join(
        next(c for c in merged["cells"] if c["cell_type"] == "markdown")["source"])
    chapter = json.loads((mine / CHAPTER).read_text(encoding="utf-8"))
    assert "(typo fixed by the course)" in json.dumps(chapter)


def test_where_course_and_learner_changed_the_same_lines_the_learners_version_is_kept(course, tmp_path):
    home = tmp_path / "learner"
    home.mkdir()
    _run(_puller(course, home))
    mine = home / "kdbook"

    def write_answer(text):
        def change(nb):
            _answer_cell(nb)["source"] = text.splitlines(keepends=True)
        return change

    _edit(mine / EXERCISE, write_answer("def spread_evenly(p):\n    return p * 0 + 1 / len(p)\n"))
    _edit(course / EXERCISE, write_answer("def spread_evenly(p):\n    raise NotImplementedError('a clearer stub')\n"))
    _git(course, "commit", "-qam", "reword the stub")

    _run(_puller(course, home))
    merged = json.loads((mine / EXERCISE).read_text(encoding="utf-8"))
    assert "".join(_answer_cell(merged)["source"]) == "def spread_evenly(p):\n    return p * 0 + 1 / len(p)\n"


def test_a_notebook_the_learner_deleted_comes_back(course, tmp_path):
    home = tmp_path / "learner"
    home.mkdir()
    _run(_puller(course, home))
    (home / "kdbook" / EXERCISE).unlink()
    _run(_puller(course, home))
    assert json.loads((home / "kdbook" / EXERCISE).read_text(encoding="utf-8"))["cells"]


def test_a_learners_file_with_the_name_of_a_new_course_file_is_renamed_not_overwritten(course, tmp_path):
    home = tmp_path / "learner"
    home.mkdir()
    _run(_puller(course, home))
    (home / "kdbook" / "notes.md").write_text("my notes\n", encoding="utf-8")
    (course / "notes.md").write_text("the course's notes\n", encoding="utf-8")
    _git(course, "add", "notes.md")
    _git(course, "commit", "-qm", "add notes")
    _run(_puller(course, home))
    assert (home / "kdbook" / "notes.md").read_text(encoding="utf-8") == "the course's notes\n"
    kept = [p for p in (home / "kdbook").glob("notes_*.md")]
    assert len(kept) == 1 and kept[0].read_text(encoding="utf-8") == "my notes\n"

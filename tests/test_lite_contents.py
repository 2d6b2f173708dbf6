"""The JupyterLite site publishes committed notebooks only, refuses exercise notebooks edited in
place, and never solutions (issue 28, item 7). No browser, no build: the content selection alone."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import lite_contents  # noqa: E402

EXERCISE = "exercises/03_temperature_and_soft_targets.ipynb"


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args], check=True,
                   capture_output=True)


@pytest.fixture
def repo(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    for rel in ("notebooks/00_start_here.ipynb", EXERCISE, "solutions/03_temperature_and_soft_targets.ipynb"):
        (tmp_path / rel).parent.mkdir(exist_ok=True)
        shutil.copy(ROOT / rel, tmp_path / rel)
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-qm", "start")
    return tmp_path


def _answer(path: Path, text: str) -> None:
    nb = json.loads(path.read_text())
    cell = next(c for c in nb["cells"] if "03.grad_norms" in c["metadata"].get("tags", []))
    cell["source"] = text
    path.write_text(json.dumps(nb, indent=1))


def test_the_committed_repository_publishes_chapters_and_exercises_but_no_solutions(repo):
    files = lite_contents.notebooks_to_publish(repo, log=lambda m: None)
    assert set(files) == {"notebooks/00_start_here.ipynb", EXERCISE}


def test_answers_typed_into_an_exercise_are_not_published(repo):
    committed = (repo / EXERCISE).read_bytes()
    _answer(repo / EXERCISE, "grad_norms = [1.0, 2.0, 3.0, 4.0]  # the instructor's test answer")
    said = []
    files = lite_contents.notebooks_to_publish(repo, log=said.append)
    assert files[EXERCISE] == committed
    assert b"test answer" not in b"".join(files.values())
    assert EXERCISE in said[0]


def test_committed_answers_in_an_exercise_are_refused(repo):
    _answer(repo / EXERCISE, "grad_norms = [1.0]")
    _git(repo, "commit", "-qam", "oops")
    with pytest.raises(lite_contents.EditedExerciseError, match="03.grad_norms"):
        lite_contents.notebooks_to_publish(repo, log=lambda m: None)


def test_without_git_the_files_on_disk_are_checked(repo):
    shutil.rmtree(repo / ".git")
    assert set(lite_contents.notebooks_to_publish(repo, log=lambda m: None)) == {
        "notebooks/00_start_here.ipynb", EXERCISE}
    _answer(repo / EXERCISE, "grad_norms = [1.0]")
    with pytest.raises(lite_contents.EditedExerciseError):
        lite_contents.notebooks_to_publish(repo, log=lambda m: None)


def test_every_committed_exercise_notebook_matches_its_digest():
    # the same digest as kdbook.exercises.answer_digest, computed independently here
    from kdbook.exercises import answer_digest
    import nbformat

    for path in sorted((ROOT / "exercises").glob("*.ipynb")):
        nb = json.loads(path.read_text())
        assert lite_contents.answers_edited(nb) == [], path.name
        recorded = nb["metadata"]["kdbook"]["answer_digest"]
        assert answer_digest(nbformat.reads(path.read_text(), 4), path.name[:2], list(recorded)) == recorded

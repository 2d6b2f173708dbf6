"""The grader's command line refuses bad instructor input with an error naming the option, and
refuses to grade keyed exercises without the instructor's solutions (issue 24 §1, §5). Fast: no
submission runs."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kdbook.grade import grade
from kdbook.grading.keys import MissingKeyError

ROOT = Path(__file__).resolve().parents[1]
EXERCISE = ROOT / "exercises/01_teacher_and_student.ipynb"


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "kdbook.grade", str(EXERCISE), *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd)


@pytest.mark.parametrize("option, value", [
    ("--step-timeout", "inf"), ("--step-timeout", "0"), ("--step-timeout", "-1"), ("--step-timeout", "nan"),
    ("--step-timeout", "ten"), ("--submission-timeout", "inf"), ("--submission-timeout", "0"),
    ("--submission-timeout", "-5"), ("--submission-timeout", "nan"), ("--memory-mb", "0"), ("--memory-mb", "-1"),
    ("--memory-mb", "12"), ("--memory-mb", "1.5"), ("--jobs", "0"), ("--jobs", "-2"), ("--seed", "-1"),
    ("--seed", "abc"), ("--chapter", "99"), ("--solutions", "/no/such/folder"),
])
def test_a_bad_option_is_an_error_naming_it_and_nothing_is_graded(tmp_path, option, value):
    out = _cli("--out", str(tmp_path / "r.json"), option, value, cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    assert option in out.stderr
    assert not (tmp_path / "r.json").exists()


def test_keyed_exercises_without_solutions_are_a_clear_error(tmp_path, monkeypatch):
    import kdbook.grade as grade_module

    monkeypatch.setattr(grade_module, "default_solutions", lambda: None)
    with pytest.raises(MissingKeyError, match="--solutions"):
        grade([EXERCISE])
    (tmp_path / "solutions").mkdir()
    with pytest.raises(MissingKeyError, match="no answer key for 01.justify"):
        grade([EXERCISE], solutions=tmp_path / "solutions")


def test_a_report_seed_replays_with_the_seed_option(tmp_path):
    # The default seed is a 128-bit secret; the report records it as a number --seed accepts.
    from kdbook.grade.__main__ import _seed

    big = 2**127 + 12345
    assert _seed(str(big)) == big and _seed(hex(big)) == big

"""Shared by the LMS round-trip tests: chapter-1 notebooks to put in zips, and running the grader."""
from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = json.loads((ROOT / "solutions/01_teacher_and_student.ipynb").read_text(encoding="utf-8"))
BLANK = (ROOT / "exercises/01_teacher_and_student.ipynb").read_bytes()
NB = "01_teacher_and_student.ipynb"
#: Half of every KL term: loses the public "matches" test and the hidden ones of 01.kl_contributions.
HALF_KL = ("def kl_contributions(p, q):\n    p, q = np.asarray(p, float), np.asarray(q, float)\n"
           "    with np.errstate(all='ignore'):\n        return np.where(p > 0, p * np.log(p / q), 0.0) / 2\n")
INJECT = '=HYPERLINK("http://x") <img src=x onerror="alert(1)"><script>alert(2)</script> | [a](javascript:x)'


def notebook(kl: str | None = None, reasoning: str | None = None) -> bytes:
    """The chapter-1 solution, with another answer to 01.kl_contributions or another reasoning."""
    nb = json.loads(json.dumps(SOLUTION))
    for cell in nb["cells"]:
        tags = cell.get("metadata", {}).get("tags", [])
        if kl and "01.kl_contributions" in tags:
            cell["source"] = kl
        if reasoning and "01.justify" in tags:
            cell["source"] = f'justify_claims = {{"a", "c"}}\njustify_ranking = {reasoning!r}\n'
    return json.dumps(nb).encode()


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``python -m kdbook.grade ARGS --seed 11 --jobs 2`` in ``cwd``; it must succeed."""
    out = subprocess.run([sys.executable, "-m", "kdbook.grade", *args, "--seed", "11", "--jobs", "2"], cwd=cwd,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    return out


def rows(path: Path) -> list[list[str]]:
    """A CSV file's rows."""
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))

"""A catalogue of hostile and damaged submissions for the batch grader's meta-tests.

Each case turns the chapter-2 solution (or exercise) notebook into a submission that misbehaves,
and says what a trustworthy grader must award: the points per exercise after the damage. The
notebooks are built in a temporary folder at test time (stored here as code, not as .ipynb files,
so that nbval never runs them).
"""
from __future__ import annotations

import copy
import dataclasses
from typing import Callable

from kdbook.grading import registry

__all__ = ["CASES", "FULL", "HostileCase"]

#: Full marks per exercise of chapter 2, the chapter the hostile cases are built on (from the grader's registry).
FULL = {ex.id: ex.points for ex in registry.chapter_exercises("02")}


@dataclasses.dataclass(frozen=True)
class HostileCase:
    name: str
    base: str  # "solution" or "exercise"
    mutate: Callable[[dict], dict | bytes]
    points: dict  # expected points per exercise id
    message: str  # a fragment the affected exercise's (or the submission's) messages must contain
    where: str = ""  # exercise id whose messages hold ``message``; "" = submission-level messages


def _cells(nb: dict) -> list[dict]:
    return nb["cells"]


def _answer(nb: dict, exercise_id: str) -> dict:
    return next(c for c in _cells(nb) if exercise_id in c.get("metadata", {}).get("tags", []))


def _src(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _append(exercise_id: str, code: str, *, prepend: bool = False) -> Callable[[dict], dict]:
    def mutate(nb: dict) -> dict:
        nb = copy.deepcopy(nb)
        cell = _answer(nb, exercise_id)
        cell["source"] = code + "\n" + _src(cell) if prepend else _src(cell) + "\n" + code
        return nb
    return mutate


def _code_cell(source: str, tags: list | None = None) -> dict:
    return {"cell_type": "code", "metadata": {"tags": tags or []}, "source": source, "outputs": [],
            "execution_count": None}


def _insert(source: str, *, at_end: bool = False) -> Callable[[dict], dict]:
    """Insert a new untagged code cell after the setup cell (or at the end)."""
    def mutate(nb: dict) -> dict:
        nb = copy.deepcopy(nb)
        first = next(i for i, c in enumerate(_cells(nb)) if c["cell_type"] == "code")
        _cells(nb).insert(len(_cells(nb)) if at_end else first + 1, _code_cell(source))
        return nb
    return mutate


def _delete(exercise_id: str) -> Callable[[dict], dict]:
    def mutate(nb: dict) -> dict:
        nb = copy.deepcopy(nb)
        nb["cells"].remove(_answer(nb, exercise_id))
        return nb
    return mutate


def _untag(exercise_id: str) -> Callable[[dict], dict]:
    def mutate(nb: dict) -> dict:
        nb = copy.deepcopy(nb)
        _answer(nb, exercise_id)["metadata"]["tags"] = ["my-answer"]
        return nb
    return mutate


def _rename_function(nb: dict) -> dict:
    nb = copy.deepcopy(nb)
    cell = _answer(nb, "02.pinsker")
    cell["source"] = _src(cell).replace("def pinsker_slack", "def pinsker")
    cell["metadata"]["tags"] = []
    return nb


def _move_split_reorder(nb: dict) -> dict:
    """Move the KL and JS answers to the end in reverse order; split the asymmetry cell, halves swapped."""
    nb = copy.deepcopy(nb)
    kl, js, asym = (_answer(nb, i) for i in ("02.kl_scratch", "02.js_scratch", "02.asymmetry"))
    for cell in (kl, js):
        nb["cells"].remove(cell)
    nb["cells"] += [js, kl]
    lines = _src(asym).splitlines()
    assign = [ln for ln in lines if ln.startswith("kl_both")]
    rest = [ln for ln in lines if not ln.startswith("kl_both")]
    asym["source"] = "\n".join(rest)  # uses kl_both before it exists: NameError, retried later
    i = nb["cells"].index(asym)
    nb["cells"].insert(i + 1, _code_cell("\n".join(assign), ["02.asymmetry"]))
    return nb


FORGE = '''
import os, sys, json
line = json.dumps({"done": True, "score": 12, "end": "t:02.kl_scratch:0", "outputs": [{"ok": 0.5}]})
for fd in range(0, 64):
    for prefix in ("", "0" * 32 + " "):
        try:
            os.write(fd, (prefix + line + "\\n").encode())
        except OSError:
            pass
print('{"submission": "me", "score": 12, "max_score": 12}', file=sys.__stdout__, flush=True)
os._exit(0)
'''

MONKEYPATCH = '''
import builtins
import numpy
import kdbook.grading, kdbook.grading._core as core, kdbook.grading._text as text
kdbook.grading.check = lambda *a, **k: print("all tests passed")
core.judge = lambda ex, test, calls, outs: core.Verdict(test, test.points, "pass", "passed")
core.expect_close = lambda *a, **k: None
text.key_facts = lambda *a, **k: None
core.probe = lambda ns, ex, calls: [{"ok": 1.0} for _ in calls]
numpy.allclose = numpy.isclose = numpy.array_equal = lambda *a, **k: True
builtins.abs = lambda x: 0.0
def kl_scratch(p, q): return 0.0
def js_scratch(p, q): return 0.0
def pinsker_slack(p, q): return 0.0
'''

LIAR = '''
class Liar(float):
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __lt__(self, other): return False
    def __gt__(self, other): return False
    __hash__ = float.__hash__
def kl_scratch(p, q):
    return Liar(0.0)
'''

_NO_PINSKER = {**FULL, "02.pinsker": 0}
_ZERO = {k: 0 for k in FULL}

CASES = (
    HostileCase("infinite loop in a cell", "solution", _append("02.js_scratch", "while True:\n    pass"),
                {**FULL, "02.js_scratch": 0}, "did not finish", "02.js_scratch"),
    HostileCase("infinite loop in a function", "solution",
                _append("02.pinsker", "def pinsker_slack(p, q):\n    while True:\n        pass"),
                _NO_PINSKER, "did not finish", "02.pinsker"),
    HostileCase("hang that ignores the alarm", "solution",
                _append("02.asymmetry", "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
                        "while True:\n    pass"),
                {**FULL, "02.asymmetry": 0}, "did not finish", "02.asymmetry"),
    HostileCase("exception at import", "solution", _append("02.js_scratch", "import kdbook_no_such_module",
                                                           prepend=True),
                {**FULL, "02.js_scratch": 0}, "ModuleNotFoundError", "02.js_scratch"),
    HostileCase("memory hog", "solution",
                _append("02.pinsker", "hog = [bytearray(2**30) for _ in range(10**3)]"),
                _NO_PINSKER, "MemoryError", "02.pinsker"),
    HostileCase("memory hog in a function", "solution",
                _append("02.pinsker", "def pinsker_slack(p, q):\n    return np.ones((10**6, 10**6))"),
                _NO_PINSKER, "MemoryError", "02.pinsker"),
    HostileCase("sys.exit in an answer", "solution", _append("02.asymmetry_why", "import sys\nsys.exit(0)"),
                {**FULL, "02.asymmetry_why": 0}, "sys.exit", "02.asymmetry_why"),
    HostileCase("os._exit in an answer", "solution", _append("02.asymmetry", "import os\nos._exit(0)"),
                {**FULL, "02.asymmetry": 0}, "process ended", "02.asymmetry"),
    HostileCase("forged output on every file descriptor", "exercise", _insert(FORGE), _ZERO,
                "did not carry this run's key"),
    HostileCase("object that equals everything", "solution", _append("02.kl_scratch", LIAR),
                {**FULL, "02.kl_scratch": 0, "02.js_scratch": 0}, "should be", "02.kl_scratch"),
    HostileCase("monkeypatching the checker", "exercise", _insert(MONKEYPATCH, at_end=True), _ZERO, "should",
                "02.kl_scratch"),
    HostileCase("deleted answer cell", "solution", _delete("02.pinsker"), _NO_PINSKER, "no answer cell found",
                "02.pinsker"),
    HostileCase("answer cell with its tag renamed", "solution", _untag("02.kl_scratch"), FULL,
                "no cell is tagged 02.kl_scratch", "02.kl_scratch"),
    HostileCase("answer function renamed", "solution", _rename_function, _NO_PINSKER, "is not defined",
                "02.pinsker"),
    HostileCase("moved, split and reordered cells", "solution", _move_split_reorder, FULL, "✓", "02.asymmetry"),
    HostileCase("setup cell raises", "solution", lambda nb: _append_setup(nb, "raise RuntimeError('boom')"), FULL,
                "RuntimeError: boom"),
    HostileCase("IPython magics and shell lines", "solution",
                lambda nb: _append_setup(nb, "%matplotlib inline\n!echo hello\n%time x = 1"), FULL, "✓",
                "02.kl_scratch"),
    HostileCase("not a notebook", "solution", lambda nb: b"\x00\xffthis is not json", _ZERO,
                "not a readable notebook"),
)


def _append_setup(nb: dict, code: str) -> dict:
    nb = copy.deepcopy(nb)
    cell = next(c for c in _cells(nb) if c["cell_type"] == "code")
    cell["source"] = _src(cell) + "\n" + code
    return nb

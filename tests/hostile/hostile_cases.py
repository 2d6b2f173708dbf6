"""A catalogue of hostile and damaged submissions for the batch grader's meta-tests.

Each case turns the chapter-2 solution (or exercise) notebook into a submission that misbehaves,
and says what a trustworthy grader must award: the points per exercise after the damage. The
notebooks are built in a temporary folder at test time (stored here as code, not as .ipynb files,
so that nbval never runs them). ``@REPORT@`` in a case's source is replaced by the path the test
writes the report to (the daemon case tries to rewrite it).

``CASES`` hold everywhere; ``ROOT_CASES`` (siblings killed, folders listed, a daemon that outlives
the grader) hold only when the grader runs as root and can give each submission its own user.
"""
from __future__ import annotations

import copy
import dataclasses
from typing import Callable

from kdbook.grading import registry

__all__ = ["CASES", "ROOT_CASES", "FULL", "HostileCase", "WRITTEN_ATTACKS"]

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
    absent: str = ""  # a fragment no message of the submission may contain
    max_seconds: float = 0.0  # when set: the submission must be graded within this time (no hang)


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
import kdbook.grading, kdbook.grading._core as core, kdbook.grading.spec as spec
kdbook.grading.check = lambda *a, **k: print("all tests passed")
core.judge = lambda ex, test, calls, outs: core.Verdict(test, test.points, "pass", "passed")
core.expect_close = lambda *a, **k: None
spec.select_tests = lambda *a, **k: ()
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


def _replace(exercise_id: str, code: str) -> Callable[[dict], dict]:
    def mutate(nb: dict) -> dict:
        nb = copy.deepcopy(nb)
        _answer(nb, exercise_id)["source"] = code
        return nb
    return mutate


def _set_metadata(nb: dict) -> dict:
    nb = copy.deepcopy(nb)
    nb["metadata"] = []
    next(c for c in _cells(nb) if c["cell_type"] == "code")["metadata"] = "odd"
    return nb


STEAL_KEY = '''
import inspect
f = inspect.currentframe()
while f is not None and "write" not in f.f_locals:
    f = f.f_back
deep = "[" * 100000 + "]" * 100000
f.f_locals["write"](f.f_locals["key"] + " " + deep + "\\n")
f.f_locals["write"](f.f_locals["key"] + ' {"end": "t:02.kl_scratch:0", "outputs": ' + deep + "}\\n")
f.f_locals["flush"]()
'''

DEEP_ANSWER = """
import sys
sys.setrecursionlimit(100000)
deep = []
for _ in range(3000):
    deep = [deep]
kl_both = deep
"""

CLOSE_PIPE_AND_SLEEP = """
import os, signal, time
os.closerange(3, 4096)  # the result pipe is one of them, whichever its number
signal.signal(signal.SIGALRM, signal.SIG_IGN)
time.sleep(45)
"""

FLOAT32_KL = '''
def kl_scratch(p, q):
    p, q = np.asarray(p, dtype=np.float32), np.asarray(q, dtype=np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * (np.log(p) - np.log(q)), np.float32(0))
    return terms.sum(axis=-1)
'''

GETATTR_TRICK = '''
import kdbook as _k
def kl_scratch(p, q):
    return getattr(_k, "kl_" + "divergence")(p, q)
'''


def _replayed_public_answer() -> str:
    """kl_scratch hard-coding what the notebook's first public test expects for one in-notebook draw."""
    from kdbook.divergences import kl_divergence
    from kdbook.grading.spec import draw_calls

    ex = registry.get("02.kl_scratch")
    (call,) = draw_calls(ex, ex.tests[0], 7)
    values = [float(v) for v in kl_divergence(*call.args)]
    return f"def kl_scratch(p, q):\n    return np.array({values!r})\n"


SIBLING_KILLER = '''
import glob, os, signal, time
seen, found, me, end = [], set(), os.getpid(), time.time() + 3
while time.time() < end:
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == me:
            continue
        try:
            cmd = open(f"/proc/{pid}/cmdline", "rb").read()
        except OSError:
            continue
        if b"kdbook.grade" in cmd or b"pytest" in cmd:
            found.add(pid)
            try:
                os.kill(int(pid), signal.SIGKILL)
                seen.append(("killed", pid))
            except OSError:
                pass
    seen += [p for p in glob.glob("/tmp/kdbook-grade-*/*") if not p.startswith(os.getcwd())]
    time.sleep(0.05)
# It must have found the grader at least (else this attack tested nothing), and harmed nothing.
assert found and not seen, f"LEAKED: found {len(found)} grading processes, harmed or read {seen[:3]}"
'''

DAEMON = '''
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        for _ in range(200):
            time.sleep(0.05)
            try:
                with open("@REPORT@", "w") as f:
                    f.write('{"submissions": [{"submission": "me", "score": 13, "max_score": 13}]}')
            except OSError:
                pass
        os._exit(0)
    os._exit(0)
'''

#: Where the link-planting case points the grader's files (the test checks nothing was written there).
PWNED = "/etc/kdbook-grade-pwned"
PLANT_LINKS = f"""
import os
for name in ("job.pickle", "stderr.txt"):
    for where in (".", ".."):
        try:
            os.symlink({PWNED!r}, os.path.join(where, name))
        except OSError:
            pass
os._exit(1)
"""

FORK_BOMB = """
import os, time
while True:
    try:
        os.fork()
    except OSError:
        time.sleep(0.5)
"""
#: Looks for the answer key of 02.asymmetry_why through every public route: statement flags in the
#: installed modules, hidden tests through run_tests, the engine without a key. None may find it.
KEY_HUNT = """
import itertools
from kdbook.grading import ch02, engine, registry, run_tests
ex = registry.get("02.asymmetry_why")
found = {chr(97 + i) for i, s in enumerate(ch02.ASYMMETRY_STATEMENTS) if getattr(s, "true", None) is True}
for k in range(1, 8):
    for chosen in itertools.combinations("abcdefg", k):
        for attempt in (lambda: run_tests(ex, {ex.name: set(chosen)}, hidden_seed=1),
                        lambda: engine.score(ex, {ex.name: set(chosen)}, seed=1)):
            try:
                if sum(v.points for v in attempt()) > 0:
                    found = set(chosen)
            except Exception:
                pass
why_infinite_claims = found or {"a"}
"""

#: Written-answer attacks on 02.asymmetry_why, through the grader: none may earn a point.
WRITTEN_ATTACKS = (
    ("every statement ticked", 'why_infinite_claims = set("abcdefg")'),
    ("no statement ticked", "why_infinite_claims = set()"),
    ("one true statement only", 'why_infinite_claims = {"b"}'),
    ("the true ones and a tempting wrong one", 'why_infinite_claims = {"b", "c", "e", "f", "a"}'),
    ("the mirror image", 'why_infinite_claims = {"a", "d", "e", "f"}'),
    ("a sentence instead of letters", 'why_infinite_claims = "KL(q||p) is infinite because p is zero where q is not"'),
    ("keywords", 'why_infinite_claims = "reverse KL infinite zero support log divide"'),
    ("negations", 'why_infinite_claims = "It is false that KL(q||p) is infinite; no zero, no support issue"'),
    ("number stuffing", "why_infinite_claims = [0.1, 0.5, 2, 0.0, 1e9]"),
    ("claims missing, brilliant prose", 'del why_infinite_claims\nwhy_infinite = "KL(q‖p) is infinite: p is 0 on class 2."'),
)

CASES += tuple(
    HostileCase(f"written attack: {name}", "solution", _append("02.asymmetry_why", code),
                {**FULL, "02.asymmetry_why": 0}, "✗ [hidden] exactly the true statements", "02.asymmetry_why")
    for name, code in WRITTEN_ATTACKS
) + (
    HostileCase("hunts for the answer key in kdbook's modules and engine", "solution", _append("02.asymmetry_why", KEY_HUNT),
                {**FULL, "02.asymmetry_why": 0}, "✗ [hidden] exactly the true statements", "02.asymmetry_why"),
    HostileCase("result line of 10^5 nested brackets with the stolen key", "solution", _append("02.pinsker", STEAL_KEY),
                FULL, "did not carry this run's key"),
    HostileCase("answer nested 3,000 deep", "solution", _append("02.asymmetry", DEEP_ANSWER),
                {**FULL, "02.asymmetry": 0}, "should be a pair", "02.asymmetry"),
    HostileCase("notebook of 10^5 nested brackets", "solution", lambda nb: b"[" * 100000 + b"]" * 100000, _ZERO,
                "not a readable notebook (JSON nested too deeply)"),
    HostileCase("metadata that is a list", "solution", _set_metadata, FULL, "✓", "02.kl_scratch"),
    HostileCase("a cell of 200,000 minus signs", "solution", _insert("x = " + "-" * 200000 + "1"), FULL,
                "a cell that answers no exercise failed"),
    HostileCase("error text that cannot be encoded", "solution",
                _append("02.pinsker", 'def pinsker_slack(p, q):\n    raise ValueError("bad \\ud800 value")'),
                _NO_PINSKER, "ValueError: bad", "02.pinsker"),
    HostileCase("a real-time signal", "solution",
                _append("02.asymmetry", "import os, signal\nos.kill(os.getpid(), signal.SIGRTMIN + 3)"),
                {**FULL, "02.asymmetry": 0}, "process ended", "02.asymmetry"),
    HostileCase("closes the result pipe, ignores the alarm, sleeps 45 s", "solution",
                _append("02.js_scratch", CLOSE_PIPE_AND_SLEEP), {**FULL, "02.js_scratch": 0},
                "closed the result channel", "02.js_scratch", max_seconds=30.0),
    HostileCase("stops itself with SIGSTOP", "solution",
                _append("02.asymmetry", "import os, signal\nos.kill(os.getpid(), signal.SIGSTOP)"),
                {**FULL, "02.asymmetry": 0}, "did not finish", "02.asymmetry", max_seconds=40.0),
    HostileCase("float32 answer", "solution", _replace("02.kl_scratch", FLOAT32_KL), FULL, "✓", "02.kl_scratch"),
    HostileCase("pair given as a numpy array, and display()", "solution",
                _append("02.asymmetry", "kl_both = np.array(kl_both)\ndisplay(kl_both)"), FULL, "✓", "02.asymmetry"),
    HostileCase("continuation line starting with %", "solution",
                _append("02.asymmetry", "leftover = (10\n% 3)\nassert leftover == 1"), FULL, "✓", "02.asymmetry"),
    HostileCase("replays the public message's expected output", "solution",
                lambda nb: _replace("02.kl_scratch", _replayed_public_answer())(nb),
                {**FULL, "02.kl_scratch": 0, "02.js_scratch": 0}, "should be", "02.kl_scratch"),
    HostileCase("forbidden function through getattr", "solution", _replace("02.kl_scratch", GETATTR_TRICK),
                {**FULL, "02.kl_scratch": 0}, "forbids", "02.kl_scratch"),
)

ROOT_CASES = (
    HostileCase("kills its siblings and the grader, lists their folders", "solution", _insert(SIBLING_KILLER), FULL,
                "✓", "02.kl_scratch", absent="LEAKED"),
    HostileCase("a double-forked setsid daemon rewrites the report", "solution", _insert(DAEMON), FULL, "✓",
                "02.kl_scratch"),
    HostileCase("plants links where the grader writes, then dies", "solution", _append("02.pinsker", PLANT_LINKS),
                _NO_PINSKER, "process ended", "02.pinsker"),
    HostileCase("a fork bomb in an answer cell", "solution", _append("02.pinsker", FORK_BOMB), _NO_PINSKER,
                "did not finish", "02.pinsker", max_seconds=60.0),
)

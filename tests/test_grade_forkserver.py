"""The grader's fork server (kdbook/grade/_forkserver.py): children forked from one preloaded
process are as separate as freshly started ones, the server never sees a run's key, and grading
goes on when the server dies or is switched off."""
from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from kdbook.grading.keys import solution_keys
from kdbook.grade import Limits, _forkserver, _isolation, _runner, grade, grade_submission

pytestmark = pytest.mark.skipif(not _forkserver.available(), reason="the fork server needs Linux pidfds")

ROOT = Path(__file__).resolve().parents[1]
LIMITS = Limits(step_timeout=20.0, submission_timeout=120.0, memory_mb=1024)
AS_ROOT = _isolation.isolation() == "users"

#: Appended to the chapter-1 solution: the written reasoning reports what the child saw.
PROBE = '''
import ctypes, json, os, random, tempfile, matplotlib
justify_ranking = json.dumps({"dumpable": ctypes.CDLL(None).prctl(3, 0, 0, 0, 0),
                              "no_new_privs": ctypes.CDLL(None).prctl(39, 0, 0, 0, 0),
                              "mplcfg": matplotlib.get_configdir(), "np": float(np.random.rand()), "random": random.random(), "home": os.environ["HOME"],
                              "tmp": tempfile.gettempdir(), "cwd": os.getcwd(), "uid": os.getuid(),
                              "mpl": os.environ["MPLCONFIGDIR"], "fds": sorted(int(f) for f in os.listdir("/proc/self/fd"))})
'''

#: Appended to the chapter-2 solution: patches what the server preloaded, for every later child to inherit.
VANDAL = '''
import numpy, kdbook, kdbook.divergences, builtins
numpy.log = lambda x: 0 * x
numpy.sum = lambda *a, **k: 42.0
kdbook.divergences.kl_divergence = lambda *a, **k: 42.0
builtins.abs = lambda x: 42
'''


def _notebook(tmp: Path, source: str, name: str, extra: str) -> Path:
    nb = json.loads((ROOT / "solutions" / source).read_text())
    nb["cells"].append({"cell_type": "code", "metadata": {}, "source": extra, "outputs": [], "execution_count": None})
    path = tmp / name
    path.write_text(json.dumps(nb))
    return path


def _full(entry: dict) -> bool:
    return entry["max_score"] > 0 and entry["score"] == entry["max_score"]


def _seen(entry: dict) -> dict:
    ex = next(e for e in entry["exercises"] if e.get("reasoning"))
    return json.loads(ex["reasoning"]["text"])


@pytest.mark.parametrize("server", ["forked", "fresh python -I"])
def test_each_child_has_its_own_folder_environment_random_state_and_descriptors(tmp_path, monkeypatch, server):
    if server != "forked":
        monkeypatch.setenv("KDBOOK_GRADE_FORK_SERVER", "0")
    paths = [_notebook(tmp_path, "01_teacher_and_student.ipynb", f"{k}_01_teacher_and_student.ipynb", PROBE)
             for k in range(2)]
    report = grade(paths, seed=7, limits=LIMITS, jobs=1)
    seen = [_seen(e) for e in report["submissions"]]
    assert all(_full(e) for e in report["submissions"]), report
    for s in seen:
        assert s["dumpable"] == 0, s  # no other process of its user can read its memory or descriptors
        assert s["no_new_privs"] == 1, s  # a setuid program gains nothing
        assert s["mplcfg"] == s["home"], s  # matplotlib's folders are the submission's, not the server's
        assert s["home"] == s["tmp"] == s["cwd"] == s["mpl"], s  # the submission's private folder
        assert Path(s["home"]).name == "work" and "forkserver" not in s["home"], s
        assert s["fds"][:3] == [0, 1, 2] and len(s["fds"]) <= 5, s  # stdio, the result pipe (+ the listing)
        assert server != "forked" or s["fds"][3] == 3, s
        if AS_ROOT:
            assert s["uid"] != 0 and _isolation.pwd.getpwuid(s["uid"]).pw_name.startswith(_isolation.USER_PREFIX)
    assert seen[0]["home"] != seen[1]["home"]
    assert seen[0]["np"] != seen[1]["np"] and seen[0]["random"] != seen[1]["random"]  # reseeded after the fork


def test_a_submission_that_patches_preloaded_modules_does_not_reach_the_next(tmp_path):
    vandal = _notebook(tmp_path, "02_divergences.ipynb", "a_02_divergences.ipynb", VANDAL)
    honest = tmp_path / "b_02_divergences.ipynb"
    honest.write_bytes((ROOT / "solutions/02_divergences.ipynb").read_bytes())
    report = grade([vandal, honest, vandal, honest], seed=3, limits=LIMITS, jobs=1)  # one server, in turn
    first, second, third, fourth = report["submissions"]
    assert _full(second) and _full(fourth), json.dumps(report, indent=1)[:3000]
    assert first["score"] == third["score"]


@pytest.mark.parametrize("how", ["killed", "stopped"])
def test_grading_goes_on_when_the_server_dies_or_stops(tmp_path, how):
    """Without dedicated users a submission can kill or stop the server (it runs as the same user)."""
    path = tmp_path / "01_teacher_and_student.ipynb"
    path.write_bytes((ROOT / "solutions/01_teacher_and_student.ipynb").read_bytes())
    keys = solution_keys(ROOT / "solutions")
    assert _full(grade_submission(path, seed=1, limits=LIMITS, keys=keys))
    server = _forkserver._SERVER
    assert server is not None and server.alive
    if how == "killed":
        os.killpg(server.proc.pid, signal.SIGKILL)
        server.proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while server.alive and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not server.alive
    else:
        os.kill(server.proc.pid, signal.SIGSTOP)
    start = time.monotonic()
    assert _full(grade_submission(path, seed=2, limits=LIMITS, keys=keys))
    assert not server.alive and server.proc.wait(timeout=10) is not None  # a stopped one was killed
    assert _full(grade_submission(path, seed=3, limits=LIMITS, keys=keys))
    assert _forkserver._SERVER is not None and _forkserver._SERVER is not server and _forkserver._SERVER.alive
    print(f"{how}: the next two submissions took {time.monotonic() - start:.1f} s")
    _forkserver.shutdown()


def test_the_server_never_sees_a_key_or_a_job(tmp_path, monkeypatch):
    sent: list[bytes] = []
    real = _forkserver.socket.send_fds

    def spy(sock, buffers, fds, *args):
        sent.extend(buffers)
        return real(sock, buffers, fds, *args)

    keys: list[str] = []
    real_token = _runner.secrets.token_hex

    def token(n):
        keys.append(real_token(n))
        return keys[-1]

    monkeypatch.setattr(_forkserver.socket, "send_fds", spy)
    monkeypatch.setattr(_runner.secrets, "token_hex", token)
    path = tmp_path / "01_teacher_and_student.ipynb"
    path.write_bytes((ROOT / "solutions/01_teacher_and_student.ipynb").read_bytes())
    report = grade([path], seed=5, limits=LIMITS, jobs=1)
    assert _full(report["submissions"][0]) and keys and sent
    for data in sent:
        request = json.loads(data)
        assert set(request) == {"id", "job", "memory_mb", "cpu", "uid", "gid", "cwd", "env"}
        assert not any(k in data.decode() for k in keys)
        assert set(request["env"]) <= {"PATH", "LANG", "LC_ALL", "SYSTEMROOT", "HOME", "MPLBACKEND", "MPLCONFIGDIR",
                                       "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "TMPDIR"}


def test_a_run_stops_its_server_and_without_one_grades_the_same(tmp_path, monkeypatch):
    paths = []
    for folder in ("solutions", "exercises"):
        dst = tmp_path / folder / "02_divergences.ipynb"
        dst.parent.mkdir()
        dst.write_bytes((ROOT / folder / "02_divergences.ipynb").read_bytes())
        paths.append(dst)
    forked = grade(paths, seed=11, limits=LIMITS, jobs=2)
    assert _forkserver._SERVER is None  # the run's server stopped with the run
    monkeypatch.setenv("KDBOOK_GRADE_FORK_SERVER", "0")
    assert not _forkserver.available()
    started = grade(paths, seed=11, limits=LIMITS, jobs=2)
    assert _forkserver._SERVER is None

    def verdicts(report):
        return [[(e["id"], e["points"], e["messages"]) for e in s["exercises"]] for s in report["submissions"]]

    assert verdicts(forked) == verdicts(started)
    assert _full(forked["submissions"][0]) and forked["submissions"][1]["score"] == 0


def test_an_interrupt_while_the_server_starts_ends_grading_at_once(tmp_path, monkeypatch):
    """On a loaded machine the preload takes seconds: SIGINT/SIGTERM then must not wait for it."""
    import threading

    from kdbook.grade import _runner

    monkeypatch.setattr(_forkserver, "_BOOT", "import time; time.sleep(120)")  # a server that never gets ready
    path = tmp_path / "01_teacher_and_student.ipynb"
    path.write_bytes((ROOT / "solutions/01_teacher_and_student.ipynb").read_bytes())
    box = {}
    worker = threading.Thread(target=lambda: box.update(report=grade([path], seed=1, limits=LIMITS, jobs=1)))
    worker.start()
    time.sleep(2.0)
    start = time.monotonic()
    try:
        _runner.stop_all()
        worker.join(timeout=30)
    finally:  # leave no interrupt behind for the tests that call grade_submission directly
        _runner.STOP.clear()
        _forkserver.STOPPING.clear()
    assert not worker.is_alive() and time.monotonic() - start < 10
    entry = box["report"]["submissions"][0]
    assert entry["score"] == 0 and any("interrupted" in m for m in entry["messages"]), entry
    assert _forkserver._SERVER is None

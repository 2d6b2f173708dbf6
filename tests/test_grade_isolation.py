"""Isolation between submissions and gradings (issue 24 §3, §4, §6): leftovers in shared places are
removed, gradings with different TMPDIRs share no user, symlinked submissions are refused, every
submission is graded from a private copy, a grader crash still leaves a report. Fast: at most a
few tiny submissions run."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kdbook.grade import _isolation, grade
from kdbook.grade._stage import staged

ROOT = Path(__file__).resolve().parents[1]
AS_ROOT = _isolation.isolation() == "users"


@pytest.mark.skipif(not AS_ROOT, reason="needs root (per-submission users)")
def test_what_a_grading_user_leaves_in_shared_places_is_removed(tmp_path):
    extra = Path("/srv/kdbook-test-public/deeper")  # world-writable, on no list: found by the scan
    extra.mkdir(parents=True, exist_ok=True)
    os.chmod(extra, 0o1777)
    places = [d for d in ("/dev/shm", "/tmp", "/var/tmp", "/run/lock") if os.path.isdir(d)] + [str(extra)]
    assert str(extra) in _isolation.shared_dirs(refresh=True)
    code = ("import os, ctypes\n"
            f"for d in {tuple(places)!r}:\n"
            "    open(os.path.join(d, 'kdbook-leftover-%d' % os.getuid()), 'w').write('x')\n"
            "    os.makedirs(os.path.join(d, 'kdbook-leftover-dir-%d/sub' % os.getuid()), exist_ok=True)\n"
            "libc = ctypes.CDLL(None)\n"
            "print(libc.shmget(0, 4096, 0o1600))\n")  # IPC_PRIVATE, IPC_CREAT | 0600
    with _isolation.account() as user:
        out = subprocess.run([sys.executable, "-I", "-c", f"import os, ctypes; os.setgroups([]); os.setgid({user.gid}); "
                              f"os.setuid({user.uid}); exec({code!r})"], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert int(out.stdout) >= 0 and _isolation._sysv_ids(user.uid)
        left = [p for d in places for p in Path(d).glob(f"kdbook-leftover*-{user.uid}")]
        assert len(left) == 2 * len(places)
    try:
        assert [p for d in places for p in Path(d).glob(f"kdbook-leftover*-{user.uid}")] == []
        assert _isolation._sysv_ids(user.uid) == []
    finally:
        shutil.rmtree("/srv/kdbook-test-public", ignore_errors=True)
        _isolation.shared_dirs(refresh=True)


@pytest.mark.skipif(not AS_ROOT, reason="needs root (per-submission users)")
def test_two_gradings_with_different_tmpdirs_never_share_a_user(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path / "a"))
    (tmp_path / "a").mkdir()
    import tempfile

    tempfile.tempdir = None
    try:
        with _isolation.account() as first:
            monkeypatch.setenv("TMPDIR", str(tmp_path / "b"))
            (tmp_path / "b").mkdir()
            tempfile.tempdir = None
            script = ("import sys; sys.path.insert(0, %r); from kdbook.grade import _isolation\n"
                      "with _isolation.account() as u: print(u.name)" % str(ROOT))
            other = subprocess.run([sys.executable, "-I", "-c", script], capture_output=True, text=True, timeout=60,
                                   env={**os.environ, "TMPDIR": str(tmp_path / "b")})
            assert other.returncode == 0, other.stderr
            assert other.stdout.strip() != first.name
    finally:
        tempfile.tempdir = None


def test_python_that_other_users_cannot_read_is_detected(monkeypatch):
    import shutil
    import sysconfig
    import tempfile

    base = Path(tempfile.mkdtemp(dir="/var/tmp"))  # /var/tmp: every user may enter it
    try:
        os.chmod(base, 0o755)
        locked = base / "root"
        for sub in ("lib", "site"):
            (locked / sub).mkdir(parents=True)
        os.chmod(locked, 0o700)
        paths = {"stdlib": str(locked / "lib"), "purelib": str(locked / "site"), "platlib": str(locked / "site")}
        monkeypatch.setattr(sysconfig, "get_paths", lambda: paths)
        problem = _isolation.python_readable_by_others()
        assert problem and str(locked) in problem and "chmod o+rx" in problem
        os.chmod(locked, 0o755)
        assert _isolation.python_readable_by_others() is None
    finally:
        shutil.rmtree(base)


def test_symlinks_and_non_files_are_refused_and_copies_are_private(tmp_path):
    real = tmp_path / "06_real.ipynb"
    real.write_text(json.dumps({"cells": []}))
    link = tmp_path / "06_link.ipynb"
    link.symlink_to(ROOT / "solutions/06_distilling_a_language_model.ipynb")
    fifo = tmp_path / "06_fifo.ipynb"
    os.mkfifo(fifo)
    with staged([real, link, fifo, tmp_path / "missing.ipynb"]) as copies:
        (copy, why), *refused = copies
        assert why is None and copy.read_bytes() == real.read_bytes() and copy != real
        assert oct(copy.stat().st_mode & 0o777) == "0o600" and oct(copy.parent.parent.stat().st_mode & 0o777) == "0o700"
        real.write_text("rewritten by an earlier submission")
        assert json.loads(copy.read_text()) == {"cells": []}  # graded from the copy
        assert [c for c, _ in refused] == [None, None, None]
        assert "symbolic link" in refused[0][1] and "not a regular file" in refused[1][1]
    report = grade([link], chapter="06", jobs=1)
    assert report["submissions"][0]["score"] == 0 and "symbolic link" in report["submissions"][0]["messages"][0]


def test_a_crash_of_the_grader_leaves_a_partial_report_and_a_nonzero_exit(tmp_path):
    nb = tmp_path / "01_x.ipynb"
    nb.write_text(json.dumps({"cells": []}))
    script = ("import sys, runpy; import kdbook.grade as g; import kdbook.grade._runner as r\n"
              "def boom(*a, **k): raise MemoryError('grader out of memory')\n"
              "g.grade_submission = boom\n"
              "sys.argv = ['kdbook.grade', %r, '--out', %r, '--md', %r]\n"
              "runpy.run_module('kdbook.grade', run_name='__main__')" % (str(nb), str(tmp_path / "r.json"),
                                                                        str(tmp_path / "r.md")))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 3, out.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert "MemoryError" in report["crashed"] and len(report["submissions"]) == 1
    assert "the grader itself failed" in (tmp_path / "r.md").read_text()


def _with_first_cell(source: str, path: Path) -> Path:
    nb = json.loads((ROOT / "exercises/01_teacher_and_student.ipynb").read_text())
    nb["cells"].insert(0, {"cell_type": "code", "metadata": {}, "source": source, "outputs": [],
                           "execution_count": None})
    path.write_text(json.dumps(nb))
    return path


def test_busy_helper_processes_and_a_full_disk_cost_only_their_own_submission(tmp_path):
    from kdbook.grade import Limits
    from kdbook.grade._budget import Budget

    busy = _with_first_cell("import os, time\nfor _ in range(6):\n    if os.fork() == 0:\n        while True:\n"
                            "            pass\ntime.sleep(40)\n", tmp_path / "01_busy.ipynb")
    disk = _with_first_cell("import time\nfor i in range(8):\n    open(f'f{i}', 'wb').write(b'x' * 8_000_000)\n"
                            "time.sleep(40)\n", tmp_path / "01_disk.ipynb")
    # As root, files in a shared folder count too: /run/lock is world-writable like /tmp, and lies outside
    # the submission's folder (it is also cleaned up afterwards: the test above).
    shared = [_with_first_cell("import os, time\nd = f'/run/lock/kdbook-test-{os.getuid()}'\nos.makedirs(d)\n"
                               "for i in range(8):\n    open(f'{d}/f{i}', 'wb').write(b'x' * 8_000_000)\n"
                               "time.sleep(40)\n", tmp_path / "01_shared.ipynb")] if AS_ROOT else []
    solution = tmp_path / "01_solution.ipynb"
    solution.write_bytes((ROOT / "solutions/01_teacher_and_student.ipynb").read_bytes())
    limits = Limits(step_timeout=50.0, submission_timeout=90.0, memory_mb=1024, budget=Budget(disk_mb=40.0))
    report = grade([busy, disk, solution, *shared], limits=limits, jobs=3)
    by_name = {Path(s["submission"]).name: s for s in report["submissions"]}
    text = {name: json.dumps(s) for name, s in by_name.items()}
    assert "processes it started used" in text["01_busy.ipynb"] and "budget" in text["01_busy.ipynb"]
    assert "grew beyond 40 MB" in text["01_disk.ipynb"]
    if AS_ROOT:
        assert "grew beyond 40 MB" in text["01_shared.ipynb"]
        assert not list(Path("/run/lock").glob("kdbook-test-*"))
    assert by_name["01_solution.ipynb"]["score"] == by_name["01_solution.ipynb"]["max_score"] > 0
    assert all(s["seconds"] < 45 for s in report["submissions"])


@pytest.mark.skipif(not AS_ROOT, reason="needs root (per-submission users)")
def test_innocent_imports_are_graded_as_root_and_results_have_a_budget(tmp_path):
    from kdbook.grade import Limits
    from kdbook.grade._budget import Budget

    solution = json.loads((ROOT / "solutions/01_teacher_and_student.ipynb").read_text())
    first = next(c for c in solution["cells"] if c["cell_type"] == "code")
    first["source"] = "import glob, fnmatch, shutil\nimport scipy.special, scipy.stats\n" + "".join(first["source"])
    innocent = tmp_path / "01_imports.ipynb"
    innocent.write_text(json.dumps(solution))
    big = _with_first_cell("big = list(range(1_500_000))\n", tmp_path / "01_big.ipynb")
    nb = json.loads(big.read_text())
    answer = next(c for c in nb["cells"] if "01.worst_class" in c["metadata"].get("tags", []))
    answer["source"] = "worst_class = big"
    big.write_text(json.dumps(nb))
    limits = Limits(step_timeout=30.0, submission_timeout=90.0, memory_mb=1024, budget=Budget(results_mb=4.0))
    report = grade([innocent, big], limits=limits, jobs=2)
    by_name = {Path(s["submission"]).name: s for s in report["submissions"]}
    assert by_name["01_imports.ipynb"]["score"] == by_name["01_imports.ipynb"]["max_score"], by_name["01_imports.ipynb"]
    assert "result budget" in json.dumps(by_name["01_big.ipynb"])


@pytest.mark.skipif(not AS_ROOT, reason="needs root (per-submission users)")
def test_as_root_a_submission_never_runs_as_root_when_no_user_can_be_made(tmp_path, monkeypatch):
    from kdbook.grade import grade_submission

    marker = tmp_path / "ran-as-root"
    nb = json.loads((ROOT / "solutions/01_teacher_and_student.ipynb").read_text())
    nb["cells"].insert(0, {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
                           "source": f"open({str(marker)!r}, 'w').write('x')"})
    path = tmp_path / "01_teacher_and_student.ipynb"
    path.write_text(json.dumps(nb))
    monkeypatch.setattr(_isolation, "_FALLBACK", [])

    def no_useradd(name):
        raise OSError("useradd failed (simulated)")

    monkeypatch.setattr(_isolation, "_ensure_user", no_useradd)
    entry = grade_submission(path, seed=1)
    assert entry["score"] == 0 and "never runs a learner's code as root" in entry["messages"][0], entry
    assert "useradd failed (simulated)" in entry["messages"][0]
    with pytest.raises(_isolation.IsolationError, match="useradd failed"):  # and a whole run stops before any child
        grade([path], seed=1)
    assert not marker.exists()
    monkeypatch.setattr(_isolation, "_FALLBACK", [])
    monkeypatch.setattr(_isolation, "isolation", lambda: "none")  # no useradd on the machine at all
    with pytest.raises(_isolation.IsolationError, match="useradd is not installed"):
        grade([path], seed=1)
    assert not marker.exists()


@pytest.mark.skipif(not AS_ROOT, reason="needs root (makes a folder others can pass)")
def test_answer_keys_readable_by_the_grading_users_are_reported():
    folder = Path("/srv/kdbook-test-keys/solutions")
    folder.mkdir(parents=True, exist_ok=True)
    try:
        os.chmod(folder.parent, 0o755)
        os.chmod(folder, 0o755)
        (folder / "01_teacher_and_student.ipynb").write_bytes((ROOT / "solutions/01_teacher_and_student.ipynb").read_bytes())
        os.chmod(folder / "01_teacher_and_student.ipynb", 0o644)
        assert "chmod o-rx" in _isolation.keys_readable_by_others(folder)
        os.chmod(folder, 0o750)  # others cannot pass: the keys are safe whatever the files' own modes
        assert _isolation.keys_readable_by_others(folder) is None
        os.chmod(folder, 0o755)
        os.chmod(folder / "01_teacher_and_student.ipynb", 0o600)
        assert _isolation.keys_readable_by_others(folder) is None
    finally:
        shutil.rmtree(folder.parent, ignore_errors=True)

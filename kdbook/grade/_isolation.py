"""Keep submissions apart from each other and from the grader (private).

When the grader runs as root (a container, CI), every submission runs as a dedicated
unprivileged user, ``kdbook-grade-N`` (created with ``useradd`` the first time, then reused):

* a lock file per user makes sure that two gradings at once, in this process or another,
  never share a user;
* the child process starts in its own session, drops to that user (no supplementary groups)
  before any submission code runs, and works in a private 0700 temporary folder it owns;
* when the submission ends, every process of that user is killed (:func:`sweep`), also a
  daemon that left the session, before the submission's report entry is written.

Different users cannot signal each other, read each other's folders or write files owned by
root, so siblings cannot interfere and nothing a submission started can touch the report.
Without root none of this is possible; :func:`isolation` says which mode is in force and
docs/grading.md lists what each mode guarantees.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterator

try:
    import fcntl
    import pwd
except ImportError:  # the browser's Python (Pyodide) has neither; kdbook.grade refuses to run there
    fcntl = pwd = None  # type: ignore[assignment]

__all__ = ["Account", "isolation", "account", "private_folder", "private_file", "sweep", "USER_PREFIX"]

USER_PREFIX = "kdbook-grade-"
_MAX_USERS = 64
_create_lock = threading.Lock()
_FALLBACK: list[str] = []  # why users could not isolate submissions in this process, if they could not


@dataclasses.dataclass(frozen=True)
class Account:
    """The user a submission runs as (``uid`` None: the grader's own user, not isolated)."""

    uid: int | None
    gid: int | None
    name: str


def isolation() -> str:
    """``"users"`` when submissions can run as dedicated users (root with useradd), else ``"none"``
    (also after a grading user could not be created; the reason is in :data:`_FALLBACK`)."""
    if os.name != "posix" or os.geteuid() != 0 or _FALLBACK:
        return "none"
    return "users" if shutil.which("useradd") or _existing(f"{USER_PREFIX}0") else "none"


def _existing(name: str) -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return None


def _lock_dir() -> Path:
    path = Path(tempfile.gettempdir()) / "kdbook-grade-locks"
    path.mkdir(mode=0o700, exist_ok=True)
    if path.stat().st_uid != 0 or path.is_symlink():
        raise RuntimeError(f"{path} is not owned by root; remove it and grade again")
    return path


def _ensure_user(name: str) -> pwd.struct_passwd:
    with _create_lock:
        entry = _existing(name)
        if entry is None:
            subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
                            "--shell", "/usr/sbin/nologin", name], check=True, capture_output=True, timeout=60)
            entry = pwd.getpwnam(name)
    if entry.pw_uid == 0 or entry.pw_gid == 0:
        raise RuntimeError(f"user {name} has uid or gid 0; it cannot be used to isolate submissions")
    return entry


@contextlib.contextmanager
def account() -> Iterator[Account]:
    """A user no other grading uses until this one ends (the grader's own when not root).

    The user's processes are swept before it is handed out and after it is given back.
    """
    if isolation() != "users":
        yield Account(None, None, pwd.getpwuid(os.geteuid()).pw_name if os.name == "posix" else "")
        return
    locks = _lock_dir()
    while True:
        for n in range(_MAX_USERS):
            handle = open(locks / f"{USER_PREFIX}{n}.lock", "a+")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                continue
            try:
                try:
                    entry = _ensure_user(f"{USER_PREFIX}{n}")
                except (OSError, subprocess.SubprocessError, RuntimeError) as err:
                    _FALLBACK.append(f"could not create the grading user {USER_PREFIX}{n}: {err}")
                    yield Account(None, None, pwd.getpwuid(os.geteuid()).pw_name)
                    return
                user = Account(entry.pw_uid, entry.pw_gid, entry.pw_name)
                sweep(user)
                try:
                    yield user
                finally:
                    sweep(user)
                return
            finally:
                handle.close()  # releases the lock
        time.sleep(0.2)  # every user busy: wait for one


@contextlib.contextmanager
def private_folder(user: Account) -> Iterator[Path]:
    """A fresh temporary folder of the grader's, removed afterwards, holding ``work``: the
    submission's own 0700 folder (owned by ``user``), its working directory and ``HOME``.

    The grader's files (the job, the captured stderr, both 0600) stay outside ``work``, in a folder
    the submission can pass through but not list or write, so it cannot plant a link that makes
    the grader write elsewhere.
    """
    path = Path(tempfile.mkdtemp(prefix="kdbook-grade-"))
    try:
        work = path / "work"
        work.mkdir(mode=0o700)
        if user.uid is not None:
            os.chown(work, user.uid, user.gid)
            os.chmod(path, 0o711)  # the user may pass through (absolute paths to ``work``), not list or write
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def private_file(path: Path):
    """Open ``path`` for writing as a new 0600 file, never through a link (binary mode)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600), "wb")


def _pids_of(uid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", "rb") as f:
                for line in f:
                    if line.startswith(b"Uid:"):
                        if uid in {int(x) for x in line.split()[1:]}:
                            pids.append(int(entry))
                        break
        except OSError:
            continue
    return pids


def sweep(user: Account, timeout: float = 10.0) -> bool:
    """Kill every process of ``user`` (a no-op for the grader's own user). True when none is left."""
    if user.uid is None:
        return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = _pids_of(user.uid)
        if not pids:
            return True
        # kill(-1) as that user reaches every process it owns in one call, forks in flight included.
        subprocess.run([sys.executable, "-I", "-S", "-c",
                        f"import os; os.setgroups([]); os.setgid({user.gid}); os.setuid({user.uid}); "
                        "os.kill(-1, 9)"], capture_output=True, timeout=30)
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.02)
    return not _pids_of(user.uid)

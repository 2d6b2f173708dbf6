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
import stat
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

__all__ = ["Account", "IsolationError", "keys_readable_by_others", "refuse_root_without_users", "isolation", "account", "private_folder", "private_file", "sweep", "remove_leftovers",
           "python_readable_by_others", "USER_PREFIX", "SHARED_DIRS", "shared_dirs"]

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


def _lock_dirs() -> list[Path]:
    """Where the per-user locks live: one place for every grading on this machine, whatever its
    TMPDIR (two gradings at once must see each other's locks, or they would share and sweep one
    user), and the TMPDIR folder earlier versions used, so that they are respected too."""
    base = next((Path(p) for p in ("/run/lock", "/run", "/var/lock") if os.path.isdir(p)), Path("/tmp"))
    paths = []
    for path in dict.fromkeys((base / "kdbook-grade-locks", Path(tempfile.gettempdir()) / "kdbook-grade-locks")):
        path.mkdir(mode=0o700, exist_ok=True)
        if path.stat().st_uid != 0 or path.is_symlink():
            raise RuntimeError(f"{path} is not owned by root; remove it and grade again")
        paths.append(path)
    return paths


def _lock(folders: list[Path], name: str) -> list | None:
    """Hold the lock file ``name`` in every folder, or none of them (None when one is taken)."""
    handles = []
    for folder in folders:
        handle = open(folder / name, "a+")
        handles.append(handle)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            for h in handles:
                h.close()
            return None
    return handles


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


class IsolationError(RuntimeError):
    """The grader runs as root but cannot give a submission a user of its own: it never runs a
    learner's code as root instead."""


def _as_root() -> bool:
    return os.name == "posix" and os.geteuid() == 0


def refuse_root_without_users() -> None:
    """Raise :class:`IsolationError` when the grader is root and submissions cannot get their own users."""
    if _as_root() and isolation() != "users":
        why = _FALLBACK[0] if _FALLBACK else "useradd is not installed and no kdbook-grade-N user exists"
        raise IsolationError(f"the grader runs as root but cannot give submissions users of their own ({why}); "
                             "it never runs a learner's code as root: install useradd (Debian: the passwd "
                             "package), or grade as an ordinary user")


@contextlib.contextmanager
def account() -> Iterator[Account]:
    """A user no other grading uses until this one ends (the grader's own when not root).

    The user's processes are swept before it is handed out and after it is given back. As root
    without dedicated users, :class:`IsolationError` (never the grader's own user: root).
    """
    if isolation() != "users":
        refuse_root_without_users()
        yield Account(None, None, pwd.getpwuid(os.geteuid()).pw_name if os.name == "posix" else "")
        return
    locks = _lock_dirs()
    while True:
        for n in range(_MAX_USERS):
            handles = _lock(locks, f"{USER_PREFIX}{n}.lock")
            if handles is None:
                continue
            try:
                try:
                    entry = _ensure_user(f"{USER_PREFIX}{n}")
                except (OSError, subprocess.SubprocessError, RuntimeError) as err:
                    _FALLBACK.append(f"could not create the grading user {USER_PREFIX}{n}: {err}")
                    refuse_root_without_users()  # as root: never run the submission as root instead
                    yield Account(None, None, pwd.getpwuid(os.geteuid()).pw_name)
                    return
                user = Account(entry.pw_uid, entry.pw_gid, entry.pw_name)
                sweep(user)
                remove_leftovers(user)
                try:
                    yield user
                finally:
                    sweep(user)
                    remove_leftovers(user)
                return
            finally:
                for handle in handles:
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


#: Shared places where a submission's user can leave files for the next submission (the usual ones;
#: :func:`shared_dirs` adds every other world-writable folder it finds).
SHARED_DIRS = ("/dev/shm", "/tmp", "/var/tmp", "/run/lock", "/dev/mqueue")
_SCAN_DEPTH = 4  # /var/lib/php/sessions, say; deeper world-writable folders are not looked for
_SKIP_SCAN = ("/proc", "/sys")
_SHARED: list[str] = []


def _world_writable(folder: str, depth: int) -> Iterator[str]:
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        if entry.path in _SKIP_SCAN:
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISDIR(st.st_mode):
            continue
        if st.st_mode & stat.S_IWOTH:
            yield entry.path  # searched as a whole by the sweep: no need to look inside
        elif depth > 1 and st.st_mode & stat.S_IXOTH:
            yield from _world_writable(entry.path, depth - 1)


def shared_dirs(refresh: bool = False) -> tuple[str, ...]:
    """Every folder where any user may create files, so where a submission's user can leave some:
    :data:`SHARED_DIRS` that exist, and every world-writable folder within four levels of ``/`` that
    others can reach (found once per process, or again with ``refresh``)."""
    if refresh or not _SHARED:
        found = dict.fromkeys(os.path.realpath(d) for d in SHARED_DIRS if os.path.isdir(d))
        found.update(dict.fromkeys(os.path.realpath(d) for d in _world_writable("/", _SCAN_DEPTH)))
        # a folder inside another one on the list is searched with it
        kept = [d for d in found if not any(d != o and d.startswith(o.rstrip("/") + "/") for o in found)]
        _SHARED[:] = kept
    return tuple(_SHARED)


def _owned_by(uid: int, folder: str) -> Iterator[str]:
    """Entries of ``folder`` (recursively) owned by ``uid``; a folder of its is yielded after its content.

    Folders ``uid`` cannot enter (another user's, closed to others: a test run's 0700 folders under
    /tmp, say) are not searched: nothing in them can be the submission's.
    """
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if stat.S_ISDIR(st.st_mode) and (st.st_uid == uid or st.st_mode & stat.S_IXOTH):
            yield from _owned_by(uid, entry.path)
        if st.st_uid == uid:
            yield entry.path


def _sysv_ids(uid: int) -> list[tuple[str, str]]:
    """(ipcrm option, id) of the SysV shared memory, semaphores and queues that ``uid`` owns."""
    out = []
    for kind, flag, id_col in (("shm", "-m", 1), ("sem", "-s", 1), ("msg", "-q", 1)):
        try:
            rows = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()
        except OSError:
            continue
        head = rows[0].split() if rows else []
        if "uid" not in head:
            continue
        for row in rows[1:]:
            cols = row.split()
            if len(cols) == len(head) and cols[head.index("uid")] == str(uid):
                out.append((flag, cols[id_col]))
    return out


def remove_leftovers(user: Account) -> list[str]:
    """Remove what ``user`` left in the shared folders (:func:`shared_dirs`: /dev/shm, /tmp, /var/tmp,
    /run/lock, …) and SysV IPC; return what was removed.

    Only for a dedicated grading user (its files are all a submission's); a no-op otherwise.
    """
    if user.uid is None or user.uid == 0:
        return []
    removed = []
    for folder in shared_dirs():
        for path in list(_owned_by(user.uid, folder)):
            with contextlib.suppress(OSError):
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    os.unlink(path)
                removed.append(path)
    ipcrm = shutil.which("ipcrm")
    for flag, ident in _sysv_ids(user.uid):
        if ipcrm:
            subprocess.run([ipcrm, flag, ident], capture_output=True, timeout=30)
            removed.append(f"SysV {flag} {ident}")
    return removed


def _others_can_read(path: Path) -> bool:
    """Whether a user with no relation to ``path``'s owners can reach and read it."""
    path = path.resolve()
    if not path.stat().st_mode & stat.S_IROTH:
        return False
    return all(part.stat().st_mode & stat.S_IXOTH for part in path.parents)  # every folder on the way passable


def keys_readable_by_others(folder: Path) -> str | None:
    """None unless the grading users can read the answer keys (the solution notebooks in ``folder``);
    else what to do. A submission could read them and answer the select and prediction items."""
    folder = Path(folder)
    files = sorted(folder.glob("[0-9][0-9]_*.ipynb")) if folder.is_dir() else []
    readable = [f for f in files if _others_can_read(f)]
    if not readable:
        return None
    return (f"the solution notebooks in {folder} (the answer keys) can be read by every user, the grading users "
            f"too, so a submission could read them: run `chmod o-rx {folder}` (the grader, as root, still reads them)")


def python_readable_by_others() -> str | None:
    """None when a grading user can read this Python's standard library and site-packages; else what
    to do (the installation lives under a folder such as /root that other users cannot enter)."""
    import sysconfig

    for key in ("stdlib", "purelib", "platlib"):
        path = Path(sysconfig.get_paths()[key]).resolve()
        for part in [path, *path.parents]:
            mode = part.stat().st_mode if part.exists() else 0o755
            if not mode & stat.S_IXOTH or (part == path and not mode & stat.S_IROTH):
                return (f"{part} is not readable by other users, so a submission that imports a module kdbook did "
                        f"not preload (glob, scipy, ...) would fail: install Python and its packages outside it "
                        f"(for example a virtual environment under /opt), or run `chmod o+rx {part}`")
    return None


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

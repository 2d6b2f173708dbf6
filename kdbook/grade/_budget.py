"""Per-submission budgets the grader measures while a submission runs (private).

Limits of one process (``setrlimit``) do not bound what a submission does with many processes or
many files, so the grader measures, about every half second, what the submission as a whole uses
and stops it when it is over budget; the submission then loses the steps not yet done, and nobody
else loses anything:

* **CPU of helper processes**: the CPU time of its other processes (its session, and as root every
  process of its user, but not the process that runs its cells) may reach a few seconds in all: an
  answer needs no helper processes, and dozens of busy ones would slow down the submissions graded
  beside it (the process running the cells has its own CPU limit and the step time limits);
* **disk and shared memory**: the bytes of its files (its folder, and as root what its user owns in
  the shared folders, ``/dev/shm``, ``/tmp``, ``/var/tmp``, ``/run/lock`` and any other world-writable
  one (``_isolation.shared_dirs``), and in SysV shared memory);
* **results**: the bytes it sends back in all (``_runner`` counts them).

The CPU time of a process that ended and was never waited for is not counted (a limitation).
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

__all__ = ["Budget", "cpu_seconds", "disk_bytes"]

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclasses.dataclass(frozen=True)
class Budget:
    """What one submission may use in all (see the module's docstring)."""

    helper_cpu: float = 3.0  # seconds
    disk_mb: float = 512.0
    results_mb: float = 32.0


def _stat(pid: str) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rfind(")") + 2:].split()  # fields from the state on (the name may hold spaces)


def cpu_seconds(session: int, uid: int | None) -> float:
    """CPU seconds (user + system, children waited for included) of the processes in ``session``
    and of every process of ``uid`` when it is a grading user, except the time the session's leader
    (the process that runs the cells) spent itself."""
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        fields = _stat(pid)
        if fields is None or len(fields) < 15:
            continue
        mine = int(fields[3]) == session
        if not mine and uid is not None:
            try:
                mine = os.stat(f"/proc/{pid}").st_uid == uid
            except OSError:
                mine = False
        if mine:  # utime, stime, cutime, cstime; the leader's own utime and stime are not extra
            ticks = [int(f) for f in fields[11:15]]
            total += sum(ticks[2:]) if pid == str(session) else sum(ticks)
    return total / _TICK


def _tree_bytes(folder: str, uid: int | None) -> int:
    """Bytes of the files under ``folder`` (only those owned by ``uid``, when given)."""
    total = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if uid is not None and st.st_uid != uid:
            continue  # another user's files and folders are not this submission's
        if entry.is_dir(follow_symlinks=False):
            total += _tree_bytes(entry.path, uid)
        total += st.st_blocks * 512
    return total


def disk_bytes(work: Path, uid: int | None) -> int:
    """Bytes a submission holds on disk and in shared memory (see the module's docstring)."""
    total = _tree_bytes(str(work), None)
    if uid is not None:
        from ._isolation import _sysv_ids, shared_dirs

        total += sum(_tree_bytes(d, uid) for d in shared_dirs())
        if _sysv_ids(uid):
            try:
                rows = Path("/proc/sysvipc/shm").read_text().splitlines()
                head = rows[0].split()
                total += sum(int(r.split()[head.index("size")]) for r in rows[1:]
                             if r.split()[head.index("uid")] == str(uid))
            except (OSError, ValueError, IndexError):
                pass
    return total

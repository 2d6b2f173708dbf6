"""A fork server: load the modules submissions use once, fork a child per submission (private).

Starting ``python -I`` per submission and importing numpy, matplotlib, scipy and kdbook in it
costs about 1.5 s of CPU, most of a chapter's grading. Instead the grader starts one server
process (``python -I``, its own session, a private folder as ``HOME``) that imports them once and
then waits on a Unix socket. For each submission the grader sends the request (the job's path, the
limits, the user, the working folder and environment) and three descriptors (the key's pipe, the
result pipe, the stderr file); the server forks, and the child takes its own session, descriptors,
folder and environment, caps itself, reads and deletes the job and drops to the submission's user
(:func:`kdbook.grade._child.forked`) exactly as a freshly started child does. The server reaps
its children and sends each exit status back; the grader watches each child through a pidfd, so a
child that ends is seen even if the server is gone.

The server holds nothing secret: it never sees a key, a job's content or an answer key (they pass
from the grader to the child through files and pipes the server only forwards), and as it started
from a clean interpreter its memory, which each child inherits, holds only public modules. If the
server dies (a submission graded without dedicated users can kill it), the next submission starts a
new one; where the platform lacks what it needs (Linux's pidfds, ``SOCK_SEQPACKET``), or it fails
to start, the grader starts one ``python -I`` per submission instead (``_runner``).
"""
from __future__ import annotations

import atexit
import contextlib
import itertools
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterator

__all__ = ["Forked", "spawn", "available", "session", "shutdown", "serve"]

_ROOT = str(Path(__file__).resolve().parents[2])
_BOOT = f"import sys; sys.path.insert(0, {_ROOT!r}); from kdbook.grade._forkserver import serve; serve(int(sys.argv[1]))"
_READY_TIMEOUT = 180.0  # seconds the preload may take on a loaded machine
_REPLY_TIMEOUT = 10.0  # a fork answers in milliseconds; this allows for a machine under heavy load
_MAX_MSG = 1 << 16


def available() -> bool:
    """Whether this platform has what the fork server needs."""
    return (sys.platform.startswith("linux") and hasattr(os, "pidfd_open") and hasattr(socket, "send_fds")
            and hasattr(socket, "SOCK_SEQPACKET") and os.environ.get("KDBOOK_GRADE_FORK_SERVER", "1") != "0")


# ----------------------------------------------------------------------------------------------- server side

def serve(fd: int) -> None:
    """The server's main loop (in its own process): preload, then fork one child per request."""
    from . import _child

    _child.not_dumpable()  # no submission of the same user may read or rewrite what its children inherit
    sock = socket.socket(fileno=fd)
    _child._preload()
    import gc

    gc.collect()
    gc.freeze()  # the children inherit these objects; the collector then leaves their pages shared
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.set_wakeup_fd(wake_w)
    mine: set[int] = set()  # a child may make others the server's children (clone(CLONE_PARENT)): not reported
    sock.send(json.dumps({"ready": os.getpid()}).encode())
    while True:
        ready, _, _ = select.select([sock, wake_r], [], [])
        if wake_r in ready:
            with contextlib.suppress(BlockingIOError):
                while os.read(wake_r, 512):
                    pass
            _reap(sock, mine)
        if sock not in ready:
            continue
        try:
            data, fds, _, _ = socket.recv_fds(sock, _MAX_MSG, 3)
        except OSError:
            data, fds = b"", []
        if not data:  # the grader is gone: children left behind are its to kill
            os._exit(0)
        try:
            request = json.loads(data)
            if len(fds) != 3:
                raise ValueError(f"expected 3 descriptors, got {len(fds)}")
        except ValueError as err:
            for f in fds:
                os.close(f)
            sock.send(json.dumps({"id": None, "error": str(err)}).encode())
            continue
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            os.close(sock.detach())
            os.close(wake_r)
            os.close(wake_w)
            _child.forked(request, fds)  # never returns
        mine.add(pid)
        pidfd = os.pidfd_open(pid)  # before any reaping: it cannot name another process
        for f in fds:
            os.close(f)
        try:
            socket.send_fds(sock, [json.dumps({"id": request.get("id"), "pid": pid}).encode()], [pidfd])
        finally:
            os.close(pidfd)


def _reap(sock: socket.socket, mine: set[int]) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        if pid not in mine:
            continue
        mine.discard(pid)
        with contextlib.suppress(OSError):
            sock.send(json.dumps({"exit": pid, "code": os.waitstatus_to_exitcode(status)}).encode())


# ----------------------------------------------------------------------------------------------- grader side

class Forked:
    """A child forked by the server, with the part of ``subprocess.Popen`` the runner uses."""

    def __init__(self, server: "_Server", pid: int, pidfd: int):
        self.server, self.pid, self._pidfd = server, pid, pidfd
        self.returncode: int | None = None
        self._over = False  # it ended (its code may still be unknown: None)
        self._lock = threading.Lock()  # the grader's thread and stop_all may wait at once

    def _ended(self, timeout: float | None) -> bool:
        if self._pidfd < 0:
            return True
        ready, _, _ = select.select([self._pidfd], [], [], timeout)
        return bool(ready)

    def wait(self, timeout: float | None = None) -> int | None:
        """The exit code (negative: the signal), None if it ended but the server could not say how;
        raises ``subprocess.TimeoutExpired`` if it is still running after ``timeout`` seconds."""
        with self._lock:
            if not self._over:
                if not self._ended(timeout):
                    raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout or 0.0)
                self.returncode = self.server.exit_code(self.pid)
                self._over = True
                self.close()
            return self.returncode

    def poll(self) -> int | None:
        """The exit code, or None while it runs (or when it ended with an unknown code: see ``ended``)."""
        try:
            return self.wait(0)
        except subprocess.TimeoutExpired:
            return None

    @property
    def ended(self) -> bool:
        return self._over

    def kill(self) -> None:
        """SIGKILL the child itself (through its pidfd: never another process that reused its pid)."""
        if self._pidfd >= 0:
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)

    def close(self) -> None:
        if self._pidfd >= 0:
            os.close(self._pidfd)
            self._pidfd = -1

    def __del__(self):
        with contextlib.suppress(Exception):
            self.close()


class _Server:
    """The grader's handle on one running server."""

    def __init__(self, env: dict):
        self.folder = Path(tempfile.mkdtemp(prefix="kdbook-forkserver-"))
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = {**env, "HOME": str(self.folder), "MPLCONFIGDIR": str(self.folder), "TMPDIR": str(self.folder)}
        with open(self.folder / "stderr.txt", "wb") as err:
            self.proc = subprocess.Popen([sys.executable, "-I", "-c", _BOOT, str(theirs.fileno())],
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                         cwd=self.folder, env=env, pass_fds=(theirs.fileno(),),
                                         start_new_session=True)
        theirs.close()
        self.alive = True
        self.codes: dict[int, int] = {}
        self.replies: dict[int, tuple[dict, list[int]]] = {}
        self.abandoned: set[int] = set()  # requests given up on (no answer in time)
        self.cond = threading.Condition()
        self.send_lock = threading.Lock()
        self.ids = itertools.count()
        ready, deadline = None, time.monotonic() + _READY_TIMEOUT
        while ready is None and time.monotonic() < deadline and self.proc.poll() is None:
            if STOPPING.is_set():  # grading is being interrupted: do not wait for the preload
                self._abandon()
                self.stop()
                raise RuntimeError("grading was interrupted while the fork server started")
            ready = self._receive(0.2)
        if not ready or "ready" not in ready[0]:
            tail = (self.folder / "stderr.txt").read_bytes()[-800:].decode(errors="replace")
            self._abandon()
            self.stop()
            raise RuntimeError(f"the fork server did not start: {tail.strip() or 'no error output'}")
        self.sock.settimeout(_REPLY_TIMEOUT)  # a send never blocks for longer
        threading.Thread(target=self._read, name="kdbook-forkserver", daemon=True).start()

    def _receive(self, timeout: float | None) -> tuple[dict, list[int]] | None:
        ready, _, _ = select.select([self.sock], [], [], timeout)
        if not ready:
            return None
        try:
            data, fds, _, _ = socket.recv_fds(self.sock, _MAX_MSG, 1)
        except OSError:
            return None
        try:
            msg = json.loads(data) if data else None
        except ValueError:
            msg = None
        if not isinstance(msg, dict):  # the server ended (or is not ours to trust any more)
            for f in fds:
                os.close(f)
            return None
        return msg, fds

    def _read(self) -> None:
        while True:
            got = self._receive(None)
            with self.cond:
                if got is None:
                    self.alive = False
                    self.cond.notify_all()
                    return
                msg, fds = got
                if "exit" in msg:
                    self.codes[int(msg["exit"])] = int(msg.get("code", 0))
                elif msg.get("id") in self.abandoned:  # the grader started that job another way: stop this one
                    for f in fds:
                        with contextlib.suppress(OSError):
                            signal.pidfd_send_signal(f, signal.SIGKILL)
                        os.close(f)
                else:
                    self.replies[msg.get("id")] = (msg, fds)
                self.cond.notify_all()

    def spawn(self, request: dict, fds: list[int]) -> Forked:
        ident = next(self.ids)
        try:
            with self.send_lock:
                socket.send_fds(self.sock, [json.dumps({**request, "id": ident}).encode()], fds)
        except OSError as err:  # full (the server is not reading: stopped?) or closed
            self._abandon()
            raise RuntimeError(f"the fork server did not take the request ({err})") from None
        with self.cond:
            self.cond.wait_for(lambda: ident in self.replies or None in self.replies or not self.alive,
                               _REPLY_TIMEOUT)
            msg, got = self.replies.pop(ident, None) or self.replies.pop(None, None) or ({}, [])
            if not msg:
                self.abandoned.add(ident)
        if "pid" not in msg or len(got) != 1:
            for f in got:
                os.close(f)
            if not msg:  # no answer in time (stopped or stuck): replace it, so later submissions do not wait too
                self._abandon()
            raise RuntimeError(f"the fork server did not start the child ({msg.get('error', 'no answer')})")
        return Forked(self, int(msg["pid"]), got[0])

    def _abandon(self) -> None:
        """Give up on this server: kill it; the next :func:`spawn` starts a new one."""
        self.alive = False
        with contextlib.suppress(OSError):
            os.killpg(self.proc.pid, signal.SIGKILL)

    def exit_code(self, pid: int) -> int | None:
        """The child's exit code once the server reaped it (None if the server is gone)."""
        with self.cond:
            self.cond.wait_for(lambda: pid in self.codes or not self.alive, 5.0)
            return self.codes.pop(pid, None)

    def stop(self) -> None:
        self.alive = False
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(OSError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        shutil.rmtree(self.folder, ignore_errors=True)


_SERVER: _Server | None = None
_LOCK = threading.Lock()
#: Set while grading is interrupted (``_runner.stop_all``): a server being started stops waiting.
STOPPING = threading.Event()
_FAILED: list[str] = []
_RUNS = 0


def spawn(request: dict, fds: list[int], env: dict) -> Forked | None:
    """Fork a child for ``request`` (see :func:`kdbook.grade._child.forked`), starting the server
    (with ``env``) if none runs; None when there is no working server (start a process instead)."""
    global _SERVER
    if _FAILED or not available() or STOPPING.is_set():
        return None
    with _LOCK:
        if _SERVER is not None and not _SERVER.alive:
            _SERVER.stop()
            _SERVER = None
        if _SERVER is None:
            try:
                _SERVER = _Server(env)
            except (OSError, RuntimeError, ValueError) as err:
                _FAILED.append(str(err))
                return None
        server = _SERVER
    try:
        return server.spawn(request, fds)
    except (OSError, RuntimeError):
        return None


@contextlib.contextmanager
def session() -> Iterator[None]:
    """A grading run: when the last one running ends, the server stops (the next run then loads
    kdbook afresh, with any change made to it in between)."""
    global _RUNS
    STOPPING.clear()
    with _LOCK:
        _RUNS += 1
    try:
        yield
    finally:
        with _LOCK:
            _RUNS -= 1
            last = _RUNS == 0
        if last:
            shutdown()


def shutdown() -> None:
    """Stop the server (it also ends by itself when the grader's end of its socket closes)."""
    global _SERVER
    with _LOCK:
        if _SERVER is not None:
            _SERVER.stop()
            _SERVER = None


atexit.register(shutdown)

"""The process that runs one submission's code (private).

The fork server (``_forkserver``) forks it from a process that has loaded the modules notebooks
use (:func:`forked`); where there is no fork server the grader starts it with ``python -I``
(:func:`main`) and, as root, it loads them itself. It caps its own memory, CPU time, file size and
(as a dedicated user) process count, reads the job the grader left in its temporary folder and
deletes it, and, when the grader runs as root, drops to the submission's own unprivileged user. Only then
does it run the notebook's code cells in one namespace (each under a time limit; a cell that
fails with NameError is retried once after the others, so reordered cells still work), call the
learner's objects on the grader's inputs and read the written reasoning. Every step is announced
on a pipe the grader passed in, each line prefixed with the run's random key; the grader judges
the outputs itself. Nothing here decides a score.
"""
from __future__ import annotations

import importlib
import json
import os
import pickle
import pkgutil
import resource
import signal
import sys
import traceback

from ..grading import registry
from ..grading.engine import TimeLimitExceeded, encode, probe, time_limit
from ..grading.spec import describe_error
from ._extract import to_python

PREAMBLE = "import numpy as np\nimport kdbook\n"

#: Loaded before the process drops to the submission's user, who may not be able to read the
#: Python installation (for example one under /root).
_PRELOAD = ("math", "cmath", "json", "re", "itertools", "functools", "collections", "random", "statistics", "time",
            "copy", "typing", "dataclasses", "warnings", "string", "fractions", "decimal", "operator", "textwrap",
            "pathlib", "io", "contextlib", "heapq", "bisect", "pprint", "numbers", "enum", "abc", "datetime",
            "traceback", "inspect", "csv", "numpy", "numpy.random", "numpy.linalg", "numpy.fft", "numpy.testing",
            "numpy.polynomial", "matplotlib", "matplotlib.pyplot", "IPython.core.inputtransformer2")
#: Loaded too when the grading users cannot read the Python installation (it lives under /root, say):
#: the standard-library and scipy modules answers commonly import.
_PRELOAD_LOCKED = ("glob", "fnmatch", "shutil", "struct", "hashlib", "base64", "array", "unicodedata", "queue",
                   "threading", "tempfile", "pickle", "zlib", "ctypes", "random", "scipy", "scipy.special",
                   "scipy.stats", "scipy.optimize", "scipy.linalg", "scipy.spatial.distance")
_SKIP = ("kdbook.widgets", "kdbook.grade", "kdbook.exercises", "kdbook._notebooks")


def _limit(memory_mb: int, cpu_seconds: int, isolated: bool) -> None:
    mem = memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))
    resource.setrlimit(resource.RLIMIT_FSIZE, (16 * 2**20, 16 * 2**20))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if isolated:  # counted per user: only a dedicated user makes this a per-submission cap
        resource.setrlimit(resource.RLIMIT_NPROC, (64, 64))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def _preload(package: str = "kdbook") -> None:
    """Import the common modules, and every module of ``package`` but the widgets and the tools."""
    names = _PRELOAD
    if package == "kdbook":
        from ._isolation import python_readable_by_others

        names += _PRELOAD_LOCKED if python_readable_by_others() else ()
    for name in names if package == "kdbook" else ():
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - an optional module that is not installed
            pass
    for info in pkgutil.iter_modules(importlib.import_module(package).__path__, f"{package}."):
        if info.name.startswith(_SKIP):
            continue
        try:
            importlib.import_module(info.name)
        except Exception:  # noqa: BLE001
            continue
        if info.ispkg:
            _preload(info.name)


def not_dumpable() -> None:
    """Make this process (and the children it forks) non-dumpable, so that no other process of the
    same user can read or write its memory, descriptors or environment (``/proc/PID/mem``,
    ``/proc/PID/fd``, ptrace): without dedicated users a sibling could otherwise steal its key and
    forge its results, or rewrite the fork server's modules. Signals are not stopped by this."""
    _prctl(4, 0)  # PR_SET_DUMPABLE, 0


def _prctl(option: int, value: int) -> None:
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)


def _child_lockdown() -> None:
    """Non-dumpable, and no new privileges: a setuid program (su, passwd, mount...) the submission
    runs gains none (``PR_SET_NO_NEW_PRIVS``, kept across fork and exec, never undone)."""
    not_dumpable()
    _prctl(38, 1)  # PR_SET_NO_NEW_PRIVS, 1


def _drop_to(uid: int, gid: int) -> None:
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)  # as root this sets the real, effective and saved ids: no way back
    if os.getuid() != uid or os.geteuid() != uid:
        raise SystemExit("could not drop privileges")


def _describe(err: BaseException, filename: str) -> str:
    """The error's first line, and the line of the cell it came from."""
    msg = describe_error(err)
    if isinstance(err, SystemExit):
        msg = f"SystemExit (the code called sys.exit({str(err.code)[:40]!r}))"
    lines = [f.lineno for f in traceback.extract_tb(err.__traceback__) if f.filename == filename]
    if isinstance(err, SyntaxError) and err.lineno:
        lines = [err.lineno]
    return f"{msg} (line {lines[-1]})" if lines else msg


class _Shell:
    """What ``get_ipython()`` returns at grading: magics and shell lines do nothing."""

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def _display(*objs, **kwargs) -> None:
    """IPython's ``display`` at grading: prints the objects (the grader discards the output)."""
    print(*objs)


def main(argv: list[str]) -> None:
    """Entry point of a child started with ``python -I`` (when there is no fork server)."""
    _child_lockdown()
    job_path, fd, memory_mb, cpu_seconds = argv[0], int(argv[1]), int(argv[2]), int(argv[3])
    uid, gid = (int(argv[4]), int(argv[5])) if len(argv) > 5 else (None, None)
    key = sys.stdin.readline().strip()
    _limit(memory_mb, cpu_seconds, uid is not None)
    if uid is not None:
        _preload()
    run(job_path, fd, key, uid, gid)


def forked(request: dict, fds: list[int]) -> None:
    """Entry point of a child forked by the fork server (``_forkserver``), which preloaded the modules.

    ``fds`` are the key's pipe (becomes stdin), the result pipe and the stderr file. The child takes
    its own session, working folder and environment, closes every other descriptor (the server's),
    reseeds the random generators it shares with its siblings, caps itself and runs :func:`run`.
    Never returns.
    """
    try:
        _child_lockdown()  # non-dumpable is inherited from the server already; said again, as it matters
        signal.set_wakeup_fd(-1)  # the server's; its descriptor is closed below
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        key_fd, result_fd, err_fd = fds
        os.setsid()
        null = os.open(os.devnull, os.O_RDWR)
        for src, dst in ((key_fd, 0), (null, 1), (err_fd, 2), (result_fd, 3)):
            os.dup2(src, dst)
        os.closerange(4, os.sysconf("SC_OPEN_MAX"))
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        import tempfile

        tempfile.tempdir = None  # TMPDIR is the submission's now
        mpl = sys.modules.get("matplotlib")
        for name in ("get_configdir", "get_cachedir"):  # cached in the server: read MPLCONFIGDIR again
            f = getattr(mpl, name, None)
            if hasattr(f, "__wrapped__"):
                setattr(mpl, name, f.__wrapped__)
        if "numpy" in sys.modules:  # (the random module reseeds itself after a fork)
            sys.modules["numpy"].random.seed()
        uid, gid = request.get("uid"), request.get("gid")
        _limit(int(request["memory_mb"]), int(request["cpu"]), uid is not None)
        key = sys.stdin.readline().strip()
        run(request["job"], 3, key, uid, gid)
    except BaseException:  # noqa: BLE001 - say why on stderr, which the grader reports
        traceback.print_exc()
    finally:
        os._exit(70)


def run(job_path: str, fd: int, key: str, uid: int | None, gid: int | None) -> None:
    """Read and delete the job, drop to ``uid`` (when given), run the cells and the tests; announce
    each step on ``fd``, each line prefixed with ``key``. Ends the process."""
    with open(job_path, "rb") as f:
        job = pickle.load(f)
    os.remove(job_path)
    if uid is not None:
        _drop_to(uid, gid)
    channel = os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace")
    dumps, write, flush = json.dumps, channel.write, channel.flush

    def send(msg: dict) -> None:
        write(key + " " + dumps(msg, ensure_ascii=True) + "\n")
        flush()

    timeout = float(job["step_timeout"])
    ns: dict = {"__name__": "__main__", "display": _display, "get_ipython": _Shell}
    exec(PREAMBLE, ns)

    def run_cell(cell: dict) -> bool:
        """Run one cell; return True if it failed with NameError (worth a retry)."""
        send({"start": cell["id"]})
        filename = f"<cell {cell['index']}>"
        result: dict = {"end": cell["id"]}
        try:
            with time_limit(timeout):
                source = to_python(cell["source"]) if cell.get("transform") else cell["source"]
                exec(compile(source, filename, "exec"), ns)
        except TimeLimitExceeded:
            result.update(error=f"did not finish within {timeout:g} s", timeout=True)
        except BaseException as err:  # noqa: BLE001 - a submission can raise anything, SystemExit too
            result.update(error=_describe(err, filename), name_error=isinstance(err, NameError))
        send(result)
        return bool(result.get("name_error"))

    retry = [cell for cell in job["cells"] if run_cell(cell)]
    for cell in retry:
        run_cell(cell)
    for step in job["probes"]:
        send({"start": step["id"]})
        exercise = registry.get(step["exercise"])
        try:
            with time_limit(timeout):
                if step.get("reasoning"):
                    text = ns.get(exercise.reasoning)
                    result = {"end": step["id"], "text": encode(text if isinstance(text, str) else None)}
                else:
                    result = {"end": step["id"], "outputs": probe(ns, exercise, step["calls"])}
        except TimeLimitExceeded:
            result = {"end": step["id"], "timeout": True}
        send(result)
    send({"done": True})
    os._exit(0)  # skip the submission's atexit hooks


if __name__ == "__main__":
    main(sys.argv[1:])

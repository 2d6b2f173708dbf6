"""The process that runs one submission's code (private; the grader starts it with ``python -I``).

It caps its own memory and CPU time, reads the job the grader left in its temporary folder and
deletes it, runs the notebook's code cells in one namespace (each under a time limit; a cell
that fails with NameError is retried once after the others, so reordered cells still work),
then calls the learner's objects on the grader's inputs. Every step is announced on a pipe the
grader passed in, each line prefixed with the run's random key; the grader judges the outputs
itself. Nothing here decides a score.
"""
from __future__ import annotations

import json
import os
import pickle
import resource
import signal
import sys
import traceback

from ..grading import registry
from ..grading._core import TimeLimitExceeded, probe, time_limit

PREAMBLE = "import numpy as np\nimport kdbook\n"


def _limit(memory_mb: int, cpu_seconds: int) -> None:
    mem = memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))
    resource.setrlimit(resource.RLIMIT_FSIZE, (16 * 2**20, 16 * 2**20))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def _describe(err: BaseException, filename: str) -> str:
    text = str(err).strip().splitlines()
    msg = f"{type(err).__name__}: {text[0][:300]}" if text else type(err).__name__
    if isinstance(err, SystemExit):
        msg = f"SystemExit (the code called sys.exit({err.code!r}))"
    lines = [f.lineno for f in traceback.extract_tb(err.__traceback__) if f.filename == filename]
    if isinstance(err, SyntaxError) and err.lineno:
        lines = [err.lineno]
    return f"{msg} (line {lines[-1]})" if lines else msg


def main(argv: list[str]) -> None:
    job_path, fd, memory_mb, cpu_seconds = argv[0], int(argv[1]), int(argv[2]), int(argv[3])
    key = sys.stdin.readline().strip()
    _limit(memory_mb, cpu_seconds)
    with open(job_path, "rb") as f:
        job = pickle.load(f)
    os.remove(job_path)
    channel = os.fdopen(fd, "w", encoding="utf-8")
    dumps, write, flush = json.dumps, channel.write, channel.flush

    def send(msg: dict) -> None:
        write(key + " " + dumps(msg) + "\n")
        flush()

    timeout = float(job["step_timeout"])
    ns: dict = {"__name__": "__main__"}
    exec(PREAMBLE, ns)

    def run_cell(cell: dict) -> bool:
        """Run one cell; return True if it failed with NameError (worth a retry)."""
        send({"start": cell["id"]})
        filename = f"<cell {cell['index']}>"
        result: dict = {"end": cell["id"]}
        try:
            with time_limit(timeout):
                exec(compile(cell["source"], filename, "exec"), ns)
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
                result = {"end": step["id"], "outputs": probe(ns, exercise, step["calls"])}
        except TimeLimitExceeded:
            result = {"end": step["id"], "timeout": True}
        send(result)
    send({"done": True})
    os._exit(0)  # skip the submission's atexit hooks


if __name__ == "__main__":
    main(sys.argv[1:])

"""Run one submission in an isolated child process and judge what it sends back (private).

The grader draws every test input, starts ``python -I`` on ``kdbook.grade._child`` in a fresh
temporary folder, and reads step announcements from a private pipe, keeping only lines that
carry this run's random key. A step (a code cell or one test) that runs past its time limit, or
during which the process dies (``os._exit``, a crash, a signal), is recorded and the child is
restarted without it, so one bad cell costs only what depends on it. Judging happens here, in
the grader's process, out of the submission's reach.
"""
from __future__ import annotations

import dataclasses
import json
import os
import pickle
import secrets
import select
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ..grading import registry
from ..grading._core import Call, Verdict, case_seed, judge
from ._extract import Submission, read_submission

__all__ = ["Limits", "grade_submission"]

_MAX_LINE = 64 * 2**20
_GRACE = 2.0  # seconds the grader waits past a step's limit before killing the child
# The child imports the same kdbook as the grader, even when kdbook is not installed (-I drops cwd and
# PYTHONPATH from sys.path).
_BOOT = ("import sys; sys.path.insert(0, {!r}); from kdbook.grade._child import main; main(sys.argv[1:])"
         .format(str(Path(__file__).resolve().parents[2])))


@dataclasses.dataclass(frozen=True)
class Limits:
    """Time and memory limits for one submission."""

    step_timeout: float = 20.0  # one code cell or one test
    submission_timeout: float = 600.0  # everything of one submission
    memory_mb: int = 2048  # address-space cap of the child process


@dataclasses.dataclass
class _Run:
    """What the child reported, and which steps killed it."""

    results: dict = dataclasses.field(default_factory=dict)  # step id -> end message
    killers: dict = dataclasses.field(default_factory=dict)  # step id -> why it was excluded
    forged: int = 0
    stderr_tail: str = ""


def _child_env(tmp: Path) -> dict:
    env = {k: os.environ[k] for k in ("PATH", "LANG", "LC_ALL", "SYSTEMROOT") if k in os.environ}
    env.update(HOME=str(tmp), MPLBACKEND="Agg", MPLCONFIGDIR=str(tmp), OPENBLAS_NUM_THREADS="1",
               OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", TMPDIR=str(tmp))
    return env


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def _run_child(job: dict, tmp: Path, limits: Limits, deadline: float, run: _Run) -> tuple[str | None, str]:
    """Run the child once. Return (id of the step in progress when it stopped, why) or (None, "")."""
    key = secrets.token_hex(16)
    job_path = tmp / "job.pickle"
    job_path.write_bytes(pickle.dumps(job))
    read_fd, write_fd = os.pipe()
    cpu = int(max(10, min(limits.submission_timeout, deadline - time.monotonic()) + 5))
    with open(tmp / "stderr.txt", "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-I", "-c", _BOOT, str(job_path), str(write_fd), str(limits.memory_mb), str(cpu)],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err, cwd=tmp, env=_child_env(tmp),
            pass_fds=(write_fd,), start_new_session=True,
        )
    os.close(write_fd)
    try:
        proc.stdin.write((key + "\n").encode())
        proc.stdin.close()
    except OSError:
        pass
    current, started, buf, why = None, time.monotonic(), b"", ""
    try:
        while True:
            now = time.monotonic()
            step_deadline = started + limits.step_timeout + (_GRACE if current else 30.0)
            wait = min(step_deadline, deadline) - now
            if wait <= 0:
                why = ("the whole-submission time limit was reached" if deadline <= step_deadline
                       else f"did not finish within {limits.step_timeout:g} s (the process was stopped)")
                _kill(proc)
                return current, why
            ready, _, _ = select.select([read_fd], [], [], wait)
            if not ready:
                continue
            chunk = os.read(read_fd, 1 << 20)
            if not chunk:  # the child closed the pipe: it exited or died
                proc.wait()
                code = proc.returncode
                how = (f"killed by signal {-code} ({signal.Signals(-code).name})" if code < 0
                       else f"exited with status {code}")
                return current, f"the process ended while running this ({how}: os._exit, a crash or a resource limit)"
            buf += chunk
            if len(buf) > _MAX_LINE:
                _kill(proc)
                return current, "sent back more than 64 MB of output"
            *lines, buf = buf.split(b"\n")
            for line in lines:
                prefix, _, payload = line.partition(b" ")
                if prefix.decode(errors="replace") != key:
                    run.forged += 1
                    continue
                try:
                    msg = json.loads(payload)
                except ValueError:
                    run.forged += 1
                    continue
                if not isinstance(msg, dict):
                    run.forged += 1
                elif "start" in msg:
                    current, started = str(msg["start"]), time.monotonic()
                elif "end" in msg:
                    run.results[str(msg["end"])] = msg
                    current, started = None, time.monotonic()
                elif msg.get("done"):
                    _kill(proc)
                    return None, ""
    finally:
        os.close(read_fd)
        if proc.poll() is None:
            _kill(proc)
        run.stderr_tail = (tmp / "stderr.txt").read_bytes()[-1500:].decode(errors="replace")


def _calls_for(sub: Submission, seed: int) -> list[dict]:
    probes = []
    for ex in registry.chapter_exercises(sub.chapter):
        for k, test in enumerate(ex.tests):
            rng = np.random.default_rng(case_seed(ex.id, test.name, seed if test.hidden else 0))
            calls = test.cases(rng) if ex.kind == "function" else [Call()]
            probes.append({"id": f"t:{ex.id}:{k}", "exercise": ex.id, "calls": calls})
    return probes


def _execute(sub: Submission, seed: int, limits: Limits) -> tuple[_Run, list[dict]]:
    cells = [{"id": f"c:{c.index}", "index": c.index, "source": c.source} for c in sub.cells]
    probes = _calls_for(sub, seed)
    run = _Run()
    deadline = time.monotonic() + limits.submission_timeout
    with tempfile.TemporaryDirectory(prefix="kdbook-grade-") as tmpdir:
        tmp = Path(tmpdir)
        while True:
            todo = [p for p in probes if p["id"] not in run.results and p["id"] not in run.killers]
            job = {"step_timeout": limits.step_timeout,
                   "cells": [c for c in cells if c["id"] not in run.killers],
                   "probes": [{k: p[k] for k in ("id", "exercise", "calls")} for p in todo]}
            before = len(run.results)
            if time.monotonic() >= deadline:
                for p in todo:
                    run.killers[p["id"]] = "not run: the whole-submission time limit was reached"
                break
            step, why = _run_child(job, tmp, limits, deadline, run)
            if step is None and not why:
                break
            if step is None:  # stopped between steps: blame the first step that has no result
                pending = [s["id"] for s in job["cells"] + job["probes"] if s["id"] not in run.results]
                if not pending or len(run.results) == before:
                    for p in todo:
                        run.killers.setdefault(p["id"], f"not run: {why}")
                    break
                step = pending[0]
            run.killers[step] = why
    return run, probes


def _cell_failures(sub: Submission, run: _Run) -> dict[str, list[str]]:
    """Per exercise id: why its answer cells failed (messages)."""
    out: dict[str, list[str]] = {}
    for cell in sub.cells:
        cid = f"c:{cell.index}"
        err = run.killers.get(cid) or run.results.get(cid, {}).get("error")
        if err:
            first = next((ln.strip() for ln in cell.source.splitlines() if ln.strip()), "")
            first = first if len(first) <= 40 else first[:39] + "…"
            out.setdefault(cell.exercise or "", []).append(f"cell {cell.index + 1} ({first!r}): {err}")
    return out


def grade_submission(path: Path, *, chapter: str | None = None, seed: int = 0,
                     limits: Limits = Limits()) -> dict:
    """Grade one notebook; return its report entry (never raises for a bad submission)."""
    sub = read_submission(Path(path), chapter)
    entry = {"submission": str(path), "chapter": sub.chapter, "score": 0.0, "max_score": 0.0,
             "messages": list(sub.messages), "exercises": []}
    if sub.chapter is None:
        return entry
    exercises = registry.chapter_exercises(sub.chapter)
    entry["max_score"] = float(sum(ex.points for ex in exercises))
    if sub.cells:
        run, probes = _execute(sub, seed, limits)
    else:
        run, probes = _Run(), _calls_for(sub, seed)
        for p in probes:
            run.killers[p["id"]] = "not run: the notebook has no code to run"
    failures = _cell_failures(sub, run)
    for cell_msg in failures.get("", []):
        entry["messages"].append(f"a cell that answers no exercise failed: {cell_msg}")
    if any(why.startswith("not run:") for why in run.killers.values()) and run.stderr_tail.strip():
        entry["messages"].append(f"the grading process stopped early; its last error output: {run.stderr_tail[-600:]}")
    if run.forged:
        entry["messages"].append(f"ignored {run.forged} line(s) on the result channel that did not carry this "
                                 "run's key (forged or corrupted output)")
    by_id = {p["id"]: p for p in probes}
    for ex in exercises:
        messages = list(sub.notes.get(ex.id, []))
        broken = failures.get(ex.id, [])
        if broken:
            messages += [f"the answer cell failed, so its tests score 0: {m}" for m in broken]
        points = 0.0
        for k, test in enumerate(ex.tests):
            sid = f"t:{ex.id}:{k}"
            label = f"[{'hidden' if test.hidden else 'public'}] {test.name}"
            if broken:
                verdict = Verdict(test, 0.0, "fail", "not scored: the answer cell failed")
            elif sid in run.killers:
                verdict = Verdict(test, 0.0, "fail", run.killers[sid])
            elif run.results.get(sid, {}).get("timeout"):
                verdict = Verdict(test, 0.0, "fail", f"did not finish within {limits.step_timeout:g} s")
            elif sid in run.results:
                verdict = judge(ex, test, by_id[sid]["calls"], run.results[sid].get("outputs"))
            else:
                verdict = Verdict(test, 0.0, "fail", "not run (the submission stopped before this test)")
            points += verdict.points
            mark = "✓" if verdict.status == "pass" else "✗"
            messages.append(f"{mark} {label} ({verdict.points:g}/{test.points:g})"
                            + ("" if verdict.status == "pass" else f": {verdict.message}"))
        entry["exercises"].append({"id": ex.id, "points": points, "max_points": float(ex.points),
                                   "messages": messages})
        entry["score"] += points
    return entry

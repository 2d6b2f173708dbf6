"""Run one submission in an isolated child process and judge what it sends back (private).

The grader draws every test input, starts a child (forked by the fork server, ``_forkserver``, or
else ``python -I`` on ``kdbook.grade._child``) in a fresh private temporary folder (as a dedicated
user when the grader is root: see ``_isolation``), and
reads step announcements from a private pipe, keeping only lines that carry this run's random
key. A step (a code cell or one test) that runs past its time limit, or during which the process
dies or closes the pipe (``os._exit``, a crash, a signal), is recorded and the child is restarted
without it, so one bad cell costs only what depends on it. Every wait has a deadline. Judging
happens here, in the grader's process, out of the submission's reach.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import pickle
import secrets
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from ..grading import registry
from ..grading.engine import Verdict, decode, draw_calls, judge, static_violations
from ..grading.spec import describe_error, verdict_line
from . import _forkserver
from ._budget import Budget, cpu_seconds, disk_bytes
from ._extract import Submission, read_submission
from ._isolation import Account, IsolationError, account, private_file, private_folder

__all__ = ["Limits", "grade_submission", "STOP", "stop_all"]

#: Set when grading is interrupted: running children are killed and nothing new starts.
STOP = threading.Event()
_ACTIVE: set = set()
_ACTIVE_LOCK = threading.Lock()

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
    budget: Budget = Budget()  # CPU of all its processes, disk and shared memory, results (``_budget``)


@dataclasses.dataclass
class _Run:
    """What the child reported, and which steps killed it."""

    results: dict = dataclasses.field(default_factory=dict)  # step id -> end message
    killers: dict = dataclasses.field(default_factory=dict)  # step id -> why it was excluded
    forged: int = 0
    stderr_tail: str = ""
    result_bytes: int = 0


def _child_env(work: Path) -> dict:
    env = {k: os.environ[k] for k in ("PATH", "LANG", "LC_ALL", "SYSTEMROOT") if k in os.environ}
    env.update(HOME=str(work), MPLBACKEND="Agg", MPLCONFIGDIR=str(work), OPENBLAS_NUM_THREADS="1",
               OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", TMPDIR=str(work))
    return env


def _start(job_path: Path, write_fd: int, key: str, tmp: Path, memory_mb: int, cpu: int, user: Account):
    """Start the child that runs the job: forked by the fork server, or else a fresh ``python -I``.
    The key goes down a pipe of its own (never through the server); stderr to ``tmp/stderr.txt``."""
    env = _child_env(tmp / "work")
    key_r, key_w = os.pipe()
    try:
        with private_file(tmp / "stderr.txt") as err:
            request = {"job": str(job_path), "memory_mb": memory_mb, "cpu": cpu, "uid": user.uid, "gid": user.gid,
                       "cwd": str(tmp / "work"), "env": env}
            proc = _forkserver.spawn(request, [key_r, write_fd, err.fileno()], env)
            if proc is None:
                argv = [sys.executable, "-I", "-c", _BOOT, str(job_path), str(write_fd), str(memory_mb), str(cpu)]
                if user.uid is not None:
                    argv += [str(user.uid), str(user.gid)]
                proc = subprocess.Popen(argv, stdin=key_r, stdout=subprocess.DEVNULL, stderr=err, cwd=tmp / "work",
                                        env=env, pass_fds=(write_fd,), start_new_session=True)
    finally:
        os.close(key_r)
    with contextlib.suppress(OSError):
        os.write(key_w, (key + "\n").encode())
    os.close(key_w)
    return proc


def _kill(proc) -> None:
    """SIGKILL the child's session (its process group) and the child itself (which may not have
    taken its own session yet)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    with contextlib.suppress(OSError):
        proc.kill()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:  # stuck in the kernel; the user sweep and the OS finish it
        pass


def stop_all() -> None:
    """Interrupt grading: kill every running child; running gradings end with "interrupted"."""
    STOP.set()
    _forkserver.STOPPING.set()
    with _ACTIVE_LOCK:
        procs = list(_ACTIVE)
    for proc in procs:
        _kill(proc)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:  # real-time signals have no name
        return f"signal {number}"


def _parse(payload: bytes):
    try:
        msg = json.loads(payload)
    except (ValueError, RecursionError, MemoryError):
        return None
    return msg if isinstance(msg, dict) else None


def _run_child(job: dict, tmp: Path, limits: Limits, deadline: float, run: _Run,
               user: Account) -> tuple[str | None, str]:
    """Run the child once. Return (id of the step in progress when it stopped, why) or (None, "")."""
    key = secrets.token_hex(16)
    job_path = tmp / "job.pickle"
    with private_file(job_path) as f:
        f.write(pickle.dumps(job))
    read_fd, write_fd = os.pipe()
    cpu = int(max(10, min(limits.submission_timeout, deadline - time.monotonic()) + 5))
    proc = _start(job_path, write_fd, key, tmp, limits.memory_mb, cpu, user)
    with _ACTIVE_LOCK:
        _ACTIVE.add(proc)
    os.close(write_fd)
    current, started, buf = None, time.monotonic(), b""
    born, next_check = started, started + 0.5
    try:
        while True:
            if STOP.is_set():
                _kill(proc)
                return current, "not run: grading was interrupted"
            now = time.monotonic()
            if now >= next_check:
                next_check = now + 0.5
                over = _over_budget(limits.budget, proc, user, tmp / "work", now - born, run)
                if over:
                    _kill(proc)
                    return current, f"not run: {over} (the submission's budget)"
            step_deadline = started + limits.step_timeout + (_GRACE if current else 30.0)
            wait = min(step_deadline, deadline) - now
            if wait <= 0:
                why = ("the whole-submission time limit was reached" if deadline <= step_deadline
                       else f"did not finish within {limits.step_timeout:g} s (the process was stopped)")
                _kill(proc)
                return current, why
            ready, _, _ = select.select([read_fd], [], [], min(wait, 0.5))
            if not ready:
                continue
            chunk = os.read(read_fd, 1 << 20)
            if not chunk:  # the child closed the pipe: it exited, died, or closed it on purpose
                try:
                    code = proc.wait(timeout=1.0)
                    how = ("it ended" if code is None else f"killed by {_signal_name(-code)}" if code < 0
                           else f"exited with status {code}")
                except subprocess.TimeoutExpired:
                    how = "it closed the result channel and kept running"
                _kill(proc)
                return current, f"the process ended while running this ({how}: os._exit, a crash or a resource limit)"
            buf += chunk
            if len(buf) > min(_MAX_LINE, limits.budget.results_mb * 2**20):
                _kill(proc)
                return current, f"sent back more than {limits.budget.results_mb:g} MB in one step (the submission's result budget)"
            *lines, buf = buf.split(b"\n")
            run.result_bytes += sum(len(line) for line in lines)
            for line in lines:
                prefix, _, payload = line.partition(b" ")
                msg = _parse(payload) if prefix == key.encode() else None
                if msg is None:
                    run.forged += 1
                elif "start" in msg:
                    current, started = str(msg["start"])[:100], time.monotonic()
                elif "end" in msg:
                    run.results[str(msg["end"])[:100]] = msg
                    current, started = None, time.monotonic()
                elif msg.get("done"):
                    _kill(proc)
                    return None, ""
    finally:
        os.close(read_fd)
        if proc.poll() is None and not getattr(proc, "ended", False):
            _kill(proc)
        with _ACTIVE_LOCK:
            _ACTIVE.discard(proc)
        try:
            run.stderr_tail = (tmp / "stderr.txt").read_bytes()[-1500:].decode(errors="replace")
        except OSError:
            run.stderr_tail = ""


def _over_budget(budget: Budget, proc, user: Account, work: Path, wall: float, run: _Run) -> str | None:
    """Why the submission is over its budget, or None (see ``_budget``)."""
    if run.result_bytes > budget.results_mb * 2**20:
        return f"it sent back more than {budget.results_mb:g} MB of results in all"
    cpu = cpu_seconds(proc.pid, user.uid)
    if cpu > budget.helper_cpu:
        return (f"the processes it started used {cpu:.1f} s of CPU, more than the {budget.helper_cpu:g} s allowed "
                "(an answer needs no helper processes)")
    if int(wall * 2) % 4 == 0 and disk_bytes(work, user.uid) > budget.disk_mb * 2**20:
        return f"its files (disk and shared memory) grew beyond {budget.disk_mb:g} MB"
    return None


def _calls_for(sub: Submission, seed: int) -> list[dict]:
    """Every test's inputs for this run (public tests too, so a copied public message cannot be
    replayed), and one step per written reasoning to collect."""
    probes = []
    for ex in registry.chapter_exercises(sub.chapter):
        for k, test in enumerate(ex.tests):
            probes.append({"id": f"t:{ex.id}:{k}", "exercise": ex.id, "calls": draw_calls(ex, test, seed),
                           "keyed": test.keyed})
        if ex.reasoning:
            probes.append({"id": f"w:{ex.id}", "exercise": ex.id, "calls": [], "reasoning": True})
    return probes


def _execute(sub: Submission, seed: int, limits: Limits) -> tuple[_Run, list[dict]]:
    cells = [{"id": f"c:{c.index}", "index": c.index, "source": c.source, "transform": c.transform} for c in sub.cells]
    probes = _calls_for(sub, seed)
    run = _Run()
    deadline = time.monotonic() + limits.submission_timeout
    with account() as user, private_folder(user) as tmp:
        while True:
            todo = [p for p in probes if p["id"] not in run.results and p["id"] not in run.killers]
            job = {"step_timeout": limits.step_timeout,
                   "cells": [c for c in cells if c["id"] not in run.killers],
                   "probes": [{"id": p["id"], "exercise": p["exercise"], "calls": [c.public() for c in p["calls"]],
                               **({"reasoning": True} if p.get("reasoning") else {})} for p in todo]}
            before = len(run.results)
            if time.monotonic() >= deadline or STOP.is_set():
                why = "grading was interrupted" if STOP.is_set() else "the whole-submission time limit was reached"
                for p in todo:
                    run.killers[p["id"]] = f"not run: {why}"
                break
            step, why = _run_child(job, tmp, limits, deadline, run, user)
            if step is None and not why:
                break
            if step is None or why.startswith("not run:"):  # stopped between steps: blame the first without a result
                pending = [s["id"] for s in job["cells"] + job["probes"] if s["id"] not in run.results]
                if not pending or len(run.results) == before or why.startswith("not run:"):
                    for p in todo:
                        run.killers.setdefault(p["id"], why if why.startswith("not run:") else f"not run: {why}")
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
                     limits: Limits = Limits(), keys: dict | None = None, shown: Path | None = None) -> dict:
    """Grade one notebook; return its report entry (never raises: a failure is the entry's message).

    ``keys`` maps exercise ids to the instructor's answer keys (:mod:`kdbook.grading.keys`); a keyed
    test without its key scores 0 and says so. ``path`` is the grader's private copy (``_stage``);
    ``shown`` the submission's own path, which the report prints.
    """
    start = time.monotonic()
    try:
        entry = _grade(Path(path), chapter, seed, limits, keys or {})
    except IsolationError as err:  # a grading user could not be made: never run it as root instead
        entry = {"submission": str(shown or path), "chapter": chapter, "score": 0.0, "max_score": 0.0,
                 "exercises": [], "messages": [f"not graded: {err}"]}
    except Exception as err:  # noqa: BLE001 - whatever happens, the batch goes on
        entry = {"submission": str(shown or path), "chapter": chapter, "score": 0.0, "max_score": 0.0, "exercises": [],
                 "messages": [f"the grader could not grade this submission ({describe_error(err)}); please report "
                              "this as a kdbook bug, with the submission"]}
    entry["submission"] = str(shown or path)
    entry["seconds"] = round(time.monotonic() - start, 2)
    return entry


def _grade(path: Path, chapter: str | None, seed: int, limits: Limits, keys: dict) -> dict:
    sub = read_submission(path, chapter)
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
        # For the instructor only (report.json, report.md): a submission can print anything there, its hidden
        # test inputs too, and the messages go into the learner's feedback.
        entry["stderr_tail"] = run.stderr_tail[-600:]
        entry["messages"].append("the grading process stopped early (its last error output is in the instructor's "
                                 "report)")
    if run.forged:
        entry["messages"].append(f"ignored {run.forged} line(s) on the result channel that did not carry this "
                                 "run's key (forged or corrupted output)")
    if any(why == "not run: grading was interrupted" for why in run.killers.values()):
        entry["messages"].append("grading was interrupted before this submission was finished")
    by_id = {p["id"]: p for p in probes}
    for ex in exercises:
        entry["exercises"].append(_exercise_entry(ex, sub, run, by_id, failures.get(ex.id, []), limits,
                                                  keys.get(ex.id)))
        entry["score"] += entry["exercises"][-1]["points"]
    return entry


def _exercise_entry(ex, sub: Submission, run: _Run, by_id: dict, broken: list[str], limits: Limits,
                    key: dict | None) -> dict:
    messages = list(sub.notes.get(ex.id, []))
    if broken:
        messages += [f"the answer cell failed, so its tests score 0: {m}" for m in broken]
    source = "\n".join(c.source for c in sub.cells if c.exercise == ex.id)
    banned = static_violations(source, ex) if source else []
    if banned:
        messages.append(f"the answer uses {', '.join(banned)}, which this exercise forbids, so its tests score 0")
    points = 0.0
    for k, test in enumerate(ex.tests):
        sid = f"t:{ex.id}:{k}"
        label = f"[{'hidden' if test.hidden else 'public'}] {test.name}"
        if broken:
            verdict = Verdict(test, 0.0, "fail", "not scored: the answer cell failed")
        elif banned:
            verdict = Verdict(test, 0.0, "fail", "not scored: the answer uses what this exercise forbids")
        elif sid in run.killers:
            verdict = Verdict(test, 0.0, "fail", run.killers[sid])
        elif run.results.get(sid, {}).get("timeout"):
            verdict = Verdict(test, 0.0, "fail", f"did not finish within {limits.step_timeout:g} s")
        elif sid in run.results:
            verdict = judge(ex, test, by_id[sid]["calls"], run.results[sid].get("outputs"), key)
        else:
            verdict = Verdict(test, 0.0, "fail", "not run (the submission stopped before this test)")
        points += verdict.points
        messages.append(verdict_line(verdict, label))
    out = {"id": ex.id, "points": points, "max_points": float(ex.points), "messages": messages}
    if ex.reasoning:
        text = decode(run.results.get(f"w:{ex.id}", {}).get("text"))
        out["reasoning"] = {"name": ex.reasoning, "text": text if isinstance(text, str) else None,
                            "manual_max": float(ex.manual_points), "manual_points": None}
        messages.append(f"written reasoning `{ex.reasoning}` collected for the instructor"
                        + (f" (up to {ex.manual_points:g} manual points; merge them with --manual)"
                           if ex.manual_points else "")
                        if isinstance(text, str) and text.strip() else f"no written reasoning in `{ex.reasoning}`")
    return out

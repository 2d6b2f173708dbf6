"""Exercises, grader-drawn test cases and judges (private).

One test definition serves both the in-notebook check and the batch grader. A test is split in
two halves so that the batch grader can keep the verdict out of a submission's reach:

* ``cases(rng)`` draws the inputs (in the grader's process) and a *probe* calls the learner's
  object on them (in the submission's process) and returns the outputs as plain data;
* ``judge(calls, outputs)`` decides (in the grader's process) and raises :class:`Fail` with a
  specific message when the answer is wrong.

Probe outputs cross the process boundary as JSON (:func:`encode` / :func:`decode`), so a
submission's object with a lying ``__eq__`` arrives as the plain numbers it represents.
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
import re
import sys
import zlib
from typing import Any, Callable, Iterator

import numpy as np

__all__ = [
    "Fail", "TimeLimitExceeded", "Call", "Test", "Exercise", "Opaque", "Verdict", "LEVELS",
    "encode", "decode", "probe", "time_limit", "judge", "case_seed", "as_array", "expect_close",
    "factor_suspects",
]

#: Bloom levels an exercise can have, from remembering a formula to defending a choice.
LEVELS = ("compute", "implement", "analyse", "evaluate", "remember", "understand", "apply", "create")
_MAX_ITEMS = 2_000_000  # numbers a probe may send back for one call
_MAX_TEXT = 20_000


class TimeLimitExceeded(BaseException):
    """Raised in a submission's process when a step runs past its time limit."""


class Fail(Exception):
    """A test's verdict that the answer is wrong; the message says what and by how much."""


@dataclasses.dataclass(frozen=True)
class Call:
    """Positional and keyword arguments of one call of the learner's function."""

    args: tuple = ()
    kwargs: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Test:
    """One graded check: ``points`` for passing every call it draws."""

    name: str
    points: float
    judge: Callable[[list, list], None]
    cases: Callable[[np.random.Generator], list] = lambda rng: [Call()]
    hidden: bool = False


@dataclasses.dataclass(frozen=True)
class Exercise:
    """An exercise: the learner defines ``name`` (a function, a value or a text answer)."""

    id: str
    title: str
    name: str
    kind: str  # "function", "value" or "text"
    level: str
    hint: str
    tests: tuple[Test, ...]
    forbid: tuple[str, ...] = ()  # kdbook functions the answer must not call (implement-exercises)

    def __post_init__(self) -> None:
        if self.kind not in ("function", "value", "text"):
            raise ValueError(f"{self.id}: kind must be function, value or text, got {self.kind!r}")
        if self.level not in LEVELS:
            raise ValueError(f"{self.id}: level must be one of {LEVELS}, got {self.level!r}")
        if not re.fullmatch(r"\d\d\.[a-z0-9_]+", self.id):
            raise ValueError(f"exercise id {self.id!r} must look like '02.kl_scratch'")

    @property
    def chapter(self) -> str:
        return self.id[:2]

    @property
    def points(self) -> float:
        return sum(t.points for t in self.tests)

    @property
    def public_points(self) -> float:
        return sum(t.points for t in self.tests if not t.hidden)

    @property
    def hidden_points(self) -> float:
        return self.points - self.public_points


@dataclasses.dataclass(frozen=True)
class Opaque:
    """Stands for a returned object that is not a number, array, string or sequence."""

    type_name: str


@dataclasses.dataclass
class Verdict:
    """The result of one test: points awarded, a status and a message for the learner."""

    test: Test
    points: float
    status: str  # "pass", "fail", "not attempted", "missing"
    message: str


def case_seed(exercise_id: str, test_name: str, run_seed: int = 0) -> int:
    """Seed of a test's inputs: fixed for public tests (run_seed 0), per grading run for hidden ones."""
    return (zlib.crc32(f"{exercise_id}/{test_name}".encode()) ^ (run_seed & 0xFFFFFFFFFFFF)) & 0xFFFFFFFFFFFF


# --------------------------------------------------------------------------- probe side


def encode(x: Any, _budget: list | None = None) -> Any:
    """Turn a returned object into JSON-safe plain data (runs in the submission's process)."""
    budget = [_MAX_ITEMS] if _budget is None else _budget
    if x is None or type(x) is bool or type(x) is str:
        return x[:_MAX_TEXT] if type(x) is str else x
    if x is Ellipsis:
        return {"__ellipsis__": True}
    if type(x) is int:
        return float(x) if abs(x) > 2**53 else x
    if type(x) is float:
        return x
    if isinstance(x, str):
        return str.__str__(x)[:_MAX_TEXT]
    if type(x) in (list, tuple):
        budget[0] -= len(x)
        if budget[0] < 0:
            return {"__opaque__": "sequence too long"}
        return {"__seq__": type(x).__name__, "items": [encode(i, budget) for i in x]}
    try:
        arr = np.array(x, copy=True)
    except Exception:
        return {"__opaque__": type(x).__name__}
    if arr.dtype.kind not in "biuf" or arr.size > budget[0]:
        return {"__opaque__": type(x).__name__ if arr.dtype.kind not in "biuf" else "array too large"}
    budget[0] -= arr.size
    kind = "bool" if arr.dtype.kind == "b" else ("int" if arr.dtype.kind in "iu" else "float")
    data = arr.astype({"bool": bool, "int": np.int64, "float": np.float64}[kind]).ravel().tolist()
    return {"__nd__": data, "shape": list(arr.shape), "kind": kind, "dtype": str(arr.dtype)}


def decode(x: Any) -> Any:
    """Rebuild numbers, arrays and sequences from :func:`encode`'s plain data (grader side)."""
    if isinstance(x, dict):
        if "__nd__" in x:
            dtype = {"bool": bool, "int": np.int64}.get(x.get("kind"), np.float64)
            return np.asarray(x["__nd__"], dtype=dtype).reshape([int(s) for s in x["shape"]])
        if "__seq__" in x:
            items = [decode(i) for i in x["items"]]
            return tuple(items) if x["__seq__"] == "tuple" else items
        if "__ellipsis__" in x:
            return Ellipsis
        return Opaque(str(x.get("__opaque__", "object")))
    if isinstance(x, list):
        return [decode(i) for i in x]
    return x


def _describe_error(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    first = text[0][:300] if text else ""
    return f"{type(err).__name__}: {first}" if first else type(err).__name__


@contextlib.contextmanager
def _forbidden(names: tuple[str, ...], exercise_id: str) -> Iterator[None]:
    """Temporarily replace kdbook functions an implement-exercise must not call."""
    saved: list[tuple[object, str, object]] = []

    def blocker(fname: str) -> Callable:
        def blocked(*args, **kwargs):
            raise RuntimeError(
                f"exercise {exercise_id} asks you to implement this yourself: kdbook.{fname} is off-limits here"
            )
        return blocked

    modules = [sys.modules[m] for m in ("kdbook", "kdbook.divergences", "kdbook.softmax", "kdbook.losses",
                                         "kdbook.calibration")
               if m in sys.modules]
    for fname in names:
        for mod in modules:
            if callable(getattr(mod, fname, None)):
                saved.append((mod, fname, getattr(mod, fname)))
                setattr(mod, fname, blocker(fname))
    try:
        yield
    finally:
        for mod, fname, original in reversed(saved):
            setattr(mod, fname, original)


@contextlib.contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise :class:`TimeLimitExceeded` after ``seconds`` (main thread with SIGALRM only; else no limit).

    An outer timer (for example the grader's own) is restored afterwards.
    """
    import signal
    import threading
    import time

    if seconds is None or not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_alarm(signum, frame):
        raise TimeLimitExceeded()

    start = time.monotonic()
    old_handler = signal.signal(signal.SIGALRM, on_alarm)
    old_delay, _ = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_handler)
        if old_delay > 0:
            signal.setitimer(signal.ITIMER_REAL, max(old_delay - (time.monotonic() - start), 1e-3))


def probe(namespace: dict, exercise: Exercise, calls: list) -> list[dict]:
    """Call (or read) the learner's object on each grader-drawn input; return encoded outcomes."""
    import copy

    if exercise.name not in namespace:
        return [{"missing": True}]
    obj = namespace[exercise.name]
    if exercise.kind != "function":
        try:
            return [{"ok": encode(obj)}]
        except BaseException as err:  # noqa: BLE001 - hostile objects raise anything
            return [{"error": _describe_error(err)}]
    if not callable(obj):
        return [{"error": f"TypeError: {exercise.name} should be a function, got {type(obj).__name__}"}]
    out: list[dict] = []
    with _forbidden(exercise.forbid, exercise.id):
        for call in calls:
            try:
                value = obj(*copy.deepcopy(call.args), **copy.deepcopy(call.kwargs))
                out.append({"ok": encode(value)})
            except NotImplementedError:
                out.append({"not_implemented": True})
                break
            except TimeLimitExceeded:
                raise
            except BaseException as err:  # noqa: BLE001 - SystemExit too: the call failed
                out.append({"error": _describe_error(err)})
    return out


# --------------------------------------------------------------------------- judge side


def judge(exercise: Exercise, test: Test, calls: list, outcomes: list) -> Verdict:
    """Decide one test from the encoded outcomes of its calls (never raises)."""
    try:
        if not isinstance(outcomes, list) or not outcomes or not all(isinstance(o, dict) for o in outcomes):
            return Verdict(test, 0.0, "fail", "the submission sent back a malformed result")
        if any(o.get("missing") for o in outcomes):
            return Verdict(test, 0.0, "missing", f"`{exercise.name}` is not defined: run (or restore) its answer cell")
        if any(o.get("not_implemented") for o in outcomes):
            return Verdict(test, 0.0, "not attempted", "not attempted (the stub still raises NotImplementedError)")
        errors = [o["error"] for o in outcomes if "error" in o]
        if errors:
            return Verdict(test, 0.0, "fail", f"{exercise.name}(...) raised {errors[0]}")
        if exercise.kind == "function" and len(outcomes) != len(calls):
            return Verdict(test, 0.0, "fail", "the submission sent back a malformed result")
        values = [decode(o.get("ok")) for o in outcomes]
        if exercise.kind != "function" and values[0] is Ellipsis:
            return Verdict(test, 0.0, "not attempted", f"not attempted (`{exercise.name}` is still `...`)")
        test.judge(calls, values)
    except Fail as verdict:
        return Verdict(test, 0.0, "fail", str(verdict))
    except Exception as err:  # a judge tripping over a strange answer still means: wrong answer
        return Verdict(test, 0.0, "fail", f"the answer could not be checked ({_describe_error(err)})")
    return Verdict(test, float(test.points), "pass", "passed")


def _fmt(x: float) -> str:
    if math.isnan(x) or math.isinf(x):
        return str(x)
    return f"{x:.4f}" if 1e-4 <= abs(x) < 1e6 or x == 0 else f"{x:.4g}"


def as_array(got: Any, what: str, shape: tuple | None = None) -> np.ndarray:
    """The answer as a float64 array, or :class:`Fail` saying what came back instead."""
    if got is None:
        raise Fail(f"{what} returned None (did you forget `return`?)")
    if isinstance(got, Opaque):
        raise Fail(f"{what} should be a number or an array, got a {got.type_name}")
    if isinstance(got, str):
        raise Fail(f"{what} should be a number or an array, got the string {got[:40]!r}")
    try:
        arr = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        raise Fail(f"{what} should be a number or an array of numbers, got {type(got).__name__}") from None
    if shape is not None and arr.shape != tuple(shape):
        raise Fail(f"{what} should have shape {tuple(shape)}, got shape {arr.shape}")
    return arr


def expect_close(got: Any, want: Any, what: str, *, rtol: float = 1e-6, atol: float = 1e-9,
                 suspects: tuple = ()) -> None:
    """Fail unless ``got`` matches ``want`` in shape and value (inf must match inf).

    ``suspects`` are ``(value, diagnosis)`` pairs: the values a common bug produces. When a wrong
    answer matches one of them everywhere, the diagnosis is added to the message.
    """
    want = np.asarray(want, dtype=np.float64)
    arr = as_array(got, what, want.shape)
    ok = _close(arr, want, rtol, atol)
    if not ok.all():
        idx = tuple(int(i) for i in np.argwhere(~ok)[0])
        where = f"{what}[{', '.join(map(str, idx))}]" if idx else what
        message = f"{where} should be {_fmt(float(want[idx]))}, got {_fmt(float(arr[idx]))}"
        for value, diagnosis in suspects:
            alt = np.broadcast_to(np.asarray(value, dtype=np.float64), want.shape)
            if _close(arr, alt, rtol, atol).all() and not _close(want, alt, rtol, atol).all():
                message += f": {diagnosis}"
                break
        raise Fail(message)


def _close(arr: np.ndarray, want: np.ndarray, rtol: float, atol: float) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        ok = np.where(np.isinf(want), arr == want, np.isclose(arr, want, rtol=rtol, atol=atol))
    return ok & ~np.isnan(arr)


def factor_suspects(want: Any, what: str, factors: tuple) -> tuple:
    """Suspect values for answers off by a known factor, for :func:`expect_close`.

    ``factors`` holds ``(name, value, if_too_small, if_too_large)``: ``name`` is how the message
    writes the factor ("T²"), ``if_too_small`` the likely cause when the answer is that factor
    too small (``None``: not a likely bug), ``if_too_large`` likewise.

    >>> [d for _, d in factor_suspects(1.0, "your loss", (("T²", 4.0, "did you forget the T² factor?", None),))]
    ['your loss is exactly T² = 4 times too small: did you forget the T² factor?']
    """
    want = np.asarray(want, dtype=np.float64)
    out = []
    for name, value, if_small, if_large in factors:
        value = float(value)
        if value in (0.0, 1.0) or not math.isfinite(value):
            continue
        label = name if name == f"{value:g}" else f"{name} = {value:g}"
        if if_small:
            out.append((want / value, f"{what} is exactly {label} times too small: {if_small}"))
        if if_large:
            out.append((want * value, f"{what} is exactly {label} times too large: {if_large}"))
    return tuple(out)

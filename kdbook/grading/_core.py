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
import math
import re
import sys
from typing import Any, Callable, Iterator

import numpy as np

from ._diagnose import diagnose, shape_diagnosis
from ._wire import Opaque, decode, encode  # noqa: F401 - re-exported: the engine and chapters import them here
from .spec import (  # noqa: F401 - re-exported: chapter modules import these names from here
    EXERCISE_ID, KINDS, LEVELS, Call, Exercise, Fail, Statement, Test, Verdict, case_seed, describe_error,
    draw_calls, select_tests, selected_letters,
)

__all__ = [
    "Fail", "TimeLimitExceeded", "Call", "Test", "Exercise", "Statement", "Opaque", "Verdict", "LEVELS",
    "encode", "decode", "probe", "time_limit", "judge", "case_seed", "as_array", "as_scalar", "expect_close",
    "factor_suspects", "select_tests", "selected_letters", "static_violations", "time_limit_available",
]

class TimeLimitExceeded(BaseException):
    """Raised in a submission's process when a step runs past its time limit."""


_describe_error = describe_error  # the old private name


_TRICKS = (("scipy", r"\bscipy\b"), ("importlib", r"\bimportlib\b"), ("gc", r"\bimport\s+gc\b|\bgc\s*\."),
           ("sys.modules", r"\bmodules\b"), ("getattr", r"\bgetattr\s*\("), ("exec", r"\bexec\s*\("),
           ("eval", r"\beval\s*\("), ("__import__", r"__import__"), ("globals()", r"\bglobals\s*\("),
           ("vars()", r"\bvars\s*\("), ("__dict__", r"__dict__"), ("inspect", r"\binspect\b"))


def static_violations(source: str, exercise: Exercise) -> list[str]:
    """What an answer's source uses that its exercise forbids (for exercises with ``forbid`` only).

    Comments and strings are ignored. Flags the forbidden kdbook functions by name and the usual
    ways round a name check (scipy, importlib, gc, sys.modules, getattr, exec, eval, __import__,
    globals, vars, __dict__, inspect). A reminder, not a security boundary: see docs/grading.md.
    """
    if not exercise.forbid:
        return []
    import io
    import tokenize

    try:
        tokens = tokenize.generate_tokens(io.StringIO(source).readline)
        code = " ".join(t.string for t in tokens if t.type not in (tokenize.COMMENT, tokenize.STRING))
    except (tokenize.TokenError, SyntaxError, IndentationError, ValueError):
        code = source
    found = [f"kdbook.{name}" for name in exercise.forbid if re.search(_use_of(name, code), code)]
    return found + [what for what, pattern in _TRICKS if re.search(pattern, code)]


def _use_of(name: str, code: str) -> str:
    """How a use of the forbidden ``name`` looks: any mention, or only ``kdbook.name`` and imports of it
    when the answer defines a helper of that name itself (``def log_softmax``)."""
    own = re.search(rf"\bdef\s+{name}\b|(^|[;\n])\s*{name}\s*=[^=]", code)
    return rf"\.\s*{name}\b|\bimport\b[^\n]*\b{name}\b" if own else rf"\b{name}\b"


def _blocker(fname: str, exercise_id: str) -> Callable:
    def blocked(*args, **kwargs):
        raise RuntimeError(
            f"exercise {exercise_id} asks you to implement this yourself: kdbook.{fname} is off-limits here")
    return blocked


@contextlib.contextmanager
def _forbidden(names: tuple[str, ...], exercise_id: str) -> Iterator[None]:
    """Temporarily replace kdbook functions an implement-exercise must not call.

    On exit every replaced function is put back, and so is any copy of a blocker that a module
    imported meanwhile bound to its own namespace (``from kdbook.losses import kd_loss_and_grad``
    in a module first imported under the guard), so nothing leaks into later code.
    """
    saved: list[tuple[object, str, object]] = []
    originals: dict[int, object] = {}
    modules = [sys.modules[m] for m in ("kdbook", "kdbook.divergences", "kdbook.softmax", "kdbook.losses",
                                         "kdbook.calibration") if m in sys.modules]
    for fname in names:
        for mod in modules:
            original = getattr(mod, fname, None)
            if callable(original):
                blocker = _blocker(fname, exercise_id)
                saved.append((mod, fname, original))
                originals[id(blocker)] = (blocker, original)
                setattr(mod, fname, blocker)
    try:
        yield
    finally:
        for mod, fname, original in reversed(saved):
            setattr(mod, fname, original)
        if originals:
            _unleak(originals)


def _unleak(originals: dict) -> None:
    """Replace every module-level reference to a blocker by the function it stood for."""
    for mod in list(sys.modules.values()):
        namespace = getattr(mod, "__dict__", None)
        if not isinstance(namespace, dict):
            continue
        for key, value in list(namespace.items()):
            hit = originals.get(id(value))
            if hit is not None and hit[0] is value:
                namespace[key] = hit[1]


def time_limit_available() -> bool:
    """Whether :func:`time_limit` can interrupt code here (SIGALRM in the main thread; not Pyodide)."""
    import signal
    import threading

    return (sys.platform != "emscripten" and hasattr(signal, "setitimer") and hasattr(signal, "SIGALRM")
            and threading.current_thread() is threading.main_thread())


@contextlib.contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise :class:`TimeLimitExceeded` after ``seconds``.

    Where no interval timer can interrupt the code (Pyodide/JupyterLite, a thread other than the
    main one, no SIGALRM) this runs the code without a limit (see :func:`time_limit_available`).
    An outer timer (for example the grader's own) is restored afterwards.
    """
    import signal
    import time

    if seconds is None or not time_limit_available():
        yield
        return

    def on_alarm(signum, frame):
        raise TimeLimitExceeded()

    start = time.monotonic()
    try:
        old_handler = signal.signal(signal.SIGALRM, on_alarm)
        old_delay, _ = signal.setitimer(signal.ITIMER_REAL, seconds)
    except (ValueError, OSError, AttributeError):  # a platform that refuses timers after all
        yield
        return
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
            return [{"error": describe_error(err)}]
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
                out.append({"error": describe_error(err)})
    return out


# --------------------------------------------------------------------------- judge side


def judge(exercise: Exercise, test: Test, calls: list, outcomes: list, key: dict | None = None) -> Verdict:
    """Decide one test from the encoded outcomes of its calls (never raises).

    A keyed test needs the exercise's ``key`` (see :mod:`kdbook.grading.keys`); without it the
    test scores 0 with a message saying so.
    """
    if test.keyed and not isinstance(key, dict):
        return Verdict(test, 0.0, "fail", f"not scored: no answer key for {exercise.id} (the grader reads keys from "
                                          "the instructor's solution notebooks)")
    try:
        if not isinstance(outcomes, list) or not outcomes or not all(isinstance(o, dict) for o in outcomes):
            return Verdict(test, 0.0, "fail", "the submission sent back a malformed result")
        if any(o.get("missing") for o in outcomes):
            return Verdict(test, 0.0, "missing", f"`{exercise.name}` is not defined: run (or restore) its answer cell")
        if any(o.get("not_implemented") for o in outcomes):
            return Verdict(test, 0.0, "not attempted", "not attempted (the stub still raises NotImplementedError)")
        errors = [o["error"] for o in outcomes if "error" in o]
        if errors:
            return Verdict(test, 0.0, "fail", f"{exercise.name}(...) raised {str(errors[0])[:400]}")
        if exercise.kind == "function" and len(outcomes) != len(calls):
            return Verdict(test, 0.0, "fail", "the submission sent back a malformed result")
        values = [decode(o.get("ok")) for o in outcomes]
        if exercise.kind != "function" and values[0] is Ellipsis:
            return Verdict(test, 0.0, "not attempted", f"not attempted (`{exercise.name}` is still `...`)")
        test.judge(calls, values, key) if test.keyed else test.judge(calls, values)
    except Fail as verdict:
        return Verdict(test, 0.0, "fail", str(verdict))
    except Exception as err:  # noqa: BLE001 - a judge tripping over a strange answer still means: wrong answer
        return Verdict(test, 0.0, "fail", f"the answer could not be checked ({describe_error(err)})")
    return Verdict(test, float(test.points), "pass", "passed")


def _fmt(x: float, digits: int = 4) -> str:
    if math.isnan(x) or math.isinf(x):
        return str(x)
    return f"{x:.{digits}f}" if 1e-4 <= abs(x) < 1e6 or x == 0 else f"{x:.{digits}g}"


def _fmt_pair(want: float, got: float) -> tuple[str, str]:
    """Both numbers with just enough digits to show that they differ."""
    for digits in range(4, 17):
        a, b = _fmt(want, digits), _fmt(got, digits)
        if a != b:
            return a, b
    return _fmt(want, 17), _fmt(got, 17)


#: Least relative and absolute tolerance for a float32 (float16) answer: a few units in the last place
#: of its precision, so a right answer computed in single precision is not failed for rounding.
_LOW_PRECISION = {"float32": (2e-5, 1e-6), "float16": (4e-3, 1e-3)}


def as_array(got: Any, what: str, shape: tuple | None = None) -> np.ndarray:
    """The answer as a float64 array (float32 and float16 answers keep their dtype, so that
    :func:`expect_close` can judge them with tolerances that suit it), or :class:`Fail` saying what
    came back instead."""
    if got is None:
        raise Fail(f"{what} returned None (did you forget `return`?)")
    if isinstance(got, Opaque):
        raise Fail(f"{what} should be a number or an array, got a {got.type_name}")
    if isinstance(got, str):
        raise Fail(f"{what} should be a number or an array, got the string {got[:40]!r}")
    low = str(getattr(got, "dtype", "")) in _LOW_PRECISION
    try:
        arr = np.asarray(got) if low else np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        raise Fail(f"{what} should be a number or an array of numbers, got {type(got).__name__}") from None
    if shape is not None and arr.shape != tuple(shape):
        why = shape_diagnosis(arr.shape, tuple(shape))
        raise Fail(f"{what} should have shape {tuple(shape)}, got shape {arr.shape}" + (f": {why}" if why else ""))
    return arr


def as_scalar(got: Any) -> Any:
    """A returned numpy scalar (``np.int64(3)``, ``np.float64(0.5)``, ``np.True_``) arrives as a 0-d array
    (:func:`encode`): give back its Python value (int, float or bool); anything else unchanged. Judges
    that check a scalar part with ``isinstance(x, int)`` call this first, so ``np.argmax(...)`` passes."""
    if isinstance(got, np.ndarray) and got.shape == () and got.dtype.kind in "biuf":
        return got.item()
    return got


def expect_close(got: Any, want: Any, what: str, *, rtol: float = 1e-6, atol: float = 1e-9,
                 suspects: tuple = ()) -> None:
    """Fail unless ``got`` matches ``want`` in shape and value (inf must match inf).

    A float32 or float16 answer is compared with tolerances that suit its precision (at least
    ``2e-5``/``1e-6`` for float32). The message prints both numbers with enough digits to differ.
    ``suspects`` are ``(value, diagnosis)`` pairs: the values a common bug produces. When a wrong
    answer matches one of them everywhere, the diagnosis is added to the message.
    """
    low = _LOW_PRECISION.get(str(getattr(got, "dtype", "")))
    if low:
        rtol, atol = max(rtol, low[0]), max(atol, low[1])
    want = np.asarray(want, dtype=np.float64)
    arr = np.asarray(as_array(got, what, want.shape), dtype=np.float64)
    ok = _close(arr, want, rtol, atol)
    if not ok.all():
        idx = tuple(int(i) for i in np.argwhere(~ok)[0])
        where = f"{what}[{', '.join(map(str, idx))}]" if idx else what
        w, g = _fmt_pair(float(want[idx]), float(arr[idx]))
        message = f"{where} should be {w}, got {g}"
        for value, diagnosis in suspects:
            alt = np.broadcast_to(np.asarray(value, dtype=np.float64), want.shape)
            if _close(arr, alt, rtol, atol).all() and not _close(want, alt, rtol, atol).all():
                message += f": {diagnosis}"
                break
        else:  # no exercise-specific suspect: the error's own shape may still name the mistake
            why = diagnose(arr, want, rtol=rtol, atol=atol)
            if why:
                message += f": {why}"
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


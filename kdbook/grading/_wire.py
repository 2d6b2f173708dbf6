"""What a probe sends from the submission's process to the grader, and back into values (private).

A probe's outputs cross the process boundary as JSON: :func:`encode` turns what the learner's
object returned into plain data (in the submission's process), :func:`decode` rebuilds numbers,
arrays and sequences from it (in the grader's), so an object with a lying ``__eq__`` arrives as
the plain numbers it represents, and anything else as an :class:`Opaque` stand-in.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

__all__ = ["Opaque", "encode", "decode"]

_MAX_ITEMS = 2_000_000  # numbers a probe may send back for one call
_MAX_TEXT = 20_000
_MAX_DEPTH = 32  # nesting a probe sends back; deeper structures arrive as opaque


@dataclasses.dataclass(frozen=True)
class Opaque:
    """Stands for a returned object that is not a number, array, string or sequence."""

    type_name: str


def encode(x: Any, _budget: list | None = None, _depth: int = 0) -> Any:
    """Turn a returned object into JSON-safe plain data (runs in the submission's process).

    Strings are capped at 20,000 characters, containers at 32 levels of nesting and 2·10⁶ numbers
    in all; what does not fit arrives as an opaque stand-in, never as an error in the grader. A
    one-dimensional array of strings arrives as a list of strings.
    """
    budget = [_MAX_ITEMS] if _budget is None else _budget
    if x is None or type(x) is bool:
        return x
    if x is Ellipsis:
        return {"__ellipsis__": True}
    if type(x) is int:
        return float(x) if abs(x) > 2**53 else x
    if type(x) is float:
        return x
    if isinstance(x, str):
        return str.__str__(x)[:_MAX_TEXT]
    if type(x) in (list, tuple, set, frozenset):
        budget[0] -= len(x)
        if budget[0] < 0 or _depth >= _MAX_DEPTH:
            return {"__opaque__": "sequence too long" if budget[0] < 0 else "sequence nested too deeply"}
        items = list(x) if type(x) in (list, tuple) else sorted(x, key=repr)
        kind = "list" if type(x) is list else ("tuple" if type(x) is tuple else "set")
        return {"__seq__": kind, "items": [encode(i, budget, _depth + 1) for i in items]}
    try:
        arr = np.array(x, copy=True)
    except Exception:  # noqa: BLE001 - a hostile object may raise anything on conversion
        return {"__opaque__": type(x).__name__}
    if arr.dtype.kind == "U" and arr.ndim == 1 and arr.size <= budget[0]:  # choices as an array of strings
        budget[0] -= arr.size
        return {"__seq__": "list", "items": [str(i)[:_MAX_TEXT] for i in arr.tolist()]}
    if arr.dtype.kind not in "biuf" or arr.size > budget[0]:
        return {"__opaque__": type(x).__name__ if arr.dtype.kind not in "biuf" else "array too large"}
    budget[0] -= arr.size
    kind = "bool" if arr.dtype.kind == "b" else ("int" if arr.dtype.kind in "iu" else "float")
    data = arr.astype({"bool": bool, "int": np.int64, "float": np.float64}[kind]).ravel().tolist()
    return {"__nd__": data, "shape": list(arr.shape), "kind": kind, "dtype": str(arr.dtype)}


def decode(x: Any, _depth: int = 0) -> Any:
    """Rebuild numbers, arrays and sequences from :func:`encode`'s plain data (grader side).

    float16 and float32 arrays keep their precision, so judges can use tolerances that suit it.
    Anything malformed or nested too deeply becomes :class:`Opaque`.
    """
    if _depth > _MAX_DEPTH + 1:
        return Opaque("sequence nested too deeply")
    if isinstance(x, dict):
        if "__nd__" in x:
            try:
                dtype = {"bool": bool, "int": np.int64}.get(x.get("kind"), np.float64)
                arr = np.asarray(x["__nd__"], dtype=dtype).reshape([int(s) for s in x["shape"]])
            except (TypeError, ValueError, OverflowError):
                return Opaque("malformed array")
            return arr.astype(x["dtype"]) if x.get("dtype") in ("float16", "float32") else arr
        if "__seq__" in x and isinstance(x.get("items"), list):
            items = [decode(i, _depth + 1) for i in x["items"]]
            return tuple(items) if x["__seq__"] == "tuple" else items
        if "__ellipsis__" in x:
            return Ellipsis
        return Opaque(str(x.get("__opaque__", "object"))[:80])
    if isinstance(x, list):
        return [decode(i, _depth + 1) for i in x]
    return x if x is None or isinstance(x, (bool, int, float, str)) else Opaque(type(x).__name__)

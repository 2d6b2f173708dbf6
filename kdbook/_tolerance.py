"""Compare a notebook cell's fresh outputs with its stored ones, strictly or within a tolerance (private).

Closed-form results are compared exactly. A cell whose printed numbers come out of training,
sampling or other rounding-sensitive computation may declare a tolerance in its metadata::

    "metadata": {"kdbook": {"tolerance": {"atol": 0.0015, "rtol": 0}}}

Its text must then still match exactly *apart from the numbers*: the same words, spacing and
line breaks, the same count of numbers, each printed with the same number of decimals, and
each within ``atol + rtol * |stored|`` of its stored value. Images and ipywidgets' view JSON are
never compared (they are not in nbval's comparison either).

Used by the repository's ``conftest.py`` (which hands tolerant cells to this comparison inside
nbval) and by the portability test (``tests/test_portability.py``), so both apply one rule.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

__all__ = ["Tolerance", "cell_tolerance", "compare_text", "compare_outputs", "SKIPPED_MIME_TYPES"]

METADATA_KEY = "kdbook"
#: Output data never compared: images (rendering differs by library version), widget views
#: (their model ids are random). The same set nbval skips without ``--nbdime``.
SKIPPED_MIME_TYPES = ("image/png", "image/jpeg", "image/svg+xml", "application/vnd.jupyter.widget-view+json")

# A printed number: optional sign, digits (optionally grouped by thousands with commas), an
# optional fraction and exponent; not glued to a word ("X86_V4", "3s") or to another number.
_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?(?!\w|\.\d)")


@dataclass(frozen=True)
class Tolerance:
    """How far a printed number may move: ``|new - stored| <= atol + rtol * |stored|``."""

    atol: float = 0.0
    rtol: float = 0.0

    def allowed(self, stored: float) -> float:
        return self.atol + self.rtol * abs(stored)

    def __str__(self) -> str:
        parts = [f"atol {self.atol:g}"] + ([f"rtol {self.rtol:g}"] if self.rtol else [])
        return " + ".join(parts)


def cell_tolerance(cell: Mapping, where: str = "cell") -> Tolerance | None:
    """The tolerance a cell declares in ``metadata["kdbook"]["tolerance"]``, or None (strict)."""
    meta = (cell.get("metadata") or {}).get(METADATA_KEY) or {}
    if not isinstance(meta, Mapping):
        raise ValueError(f"{where}: metadata[{METADATA_KEY!r}] must be a mapping, got {type(meta).__name__}")
    stray = sorted(set(meta) - {"tolerance"})
    if stray:  # e.g. {"kdbook": {"atol": ...}}: a misplaced tolerance must not silently mean "strict"
        raise ValueError(f"{where}: unknown keys {stray} in metadata[{METADATA_KEY!r}]; declare a tolerance "
                         f"as {{{METADATA_KEY!r}: {{'tolerance': {{'atol': ..., 'rtol': ...}}}}}}")
    if "tolerance" not in meta:
        return None
    tol = meta["tolerance"]
    if not isinstance(tol, Mapping) or not tol:
        raise ValueError(f"{where}: metadata[{METADATA_KEY!r}]['tolerance'] must be a mapping like "
                         f"{{'atol': 0.001}}, got {tol!r}")
    unknown = sorted(set(tol) - {"atol", "rtol"})
    if unknown:
        raise ValueError(f"{where}: unknown tolerance keys {unknown}; use 'atol' and/or 'rtol'")
    values = {}
    for key in ("atol", "rtol"):
        value = tol.get(key, 0.0)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise ValueError(f"{where}: tolerance {key} must be a finite number >= 0, got {value!r}")
        values[key] = float(value)
    if values["atol"] == 0 and values["rtol"] == 0:
        raise ValueError(f"{where}: a tolerance of zero is the strict comparison; remove it instead")
    return Tolerance(**values)


def _split(text: str) -> tuple[list[str], list[str]]:
    """The text between numbers (one more piece than numbers) and the numbers as printed."""
    pieces, numbers, last = [], [], 0
    for m in _NUMBER.finditer(text):
        pieces.append(text[last:m.start()])
        numbers.append(m.group())
        last = m.end()
    pieces.append(text[last:])
    return pieces, numbers


def _value(token: str) -> float:
    return float(token.replace(",", ""))


def _decimals(token: str) -> int:
    mantissa = re.split(r"[eE]", token)[0]
    return len(mantissa.split(".")[1]) if "." in mantissa else 0


def _line_of(text: str, pos: int) -> str:
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    return text[start:end if end >= 0 else len(text)].strip()


def _first_difference(ref: str, new: str) -> str:
    ref_lines, new_lines = ref.splitlines(), new.splitlines()
    for i, (a, b) in enumerate(zip(ref_lines, new_lines)):
        if a != b:
            return f"line {i + 1}: stored {a!r}, new {b!r}"
    return f"stored text has {len(ref_lines)} lines, new text {len(new_lines)}"


def compare_text(ref: str, new: str, tol: Tolerance | None, where: str) -> list[str]:
    """Why ``new`` does not match ``ref`` (an empty list when it does).

    Without a tolerance the texts must be equal. With one, everything but the numbers must be
    equal, and each number must be within ``tol`` of its stored value.
    """
    if ref == new:
        return []
    if tol is None:
        return [f"{where}: output differs (strict comparison; {_first_difference(ref, new)})"]
    ref_pieces, ref_nums = _split(ref)
    new_pieces, new_nums = _split(new)
    if len(ref_nums) != len(new_nums):
        return [f"{where}: the stored output has {len(ref_nums)} numbers, the new one {len(new_nums)} "
                f"(a number is missing or added; {_first_difference(ref, new)})"]
    if ref_pieces != new_pieces:
        return [f"{where}: the text around the numbers differs ({_first_difference(ref, new)})"]
    failures = []
    pos = 0
    for k, (a, b) in enumerate(zip(ref_nums, new_nums)):
        pos = ref.find(a, pos)
        line = _line_of(ref, pos)
        pos += len(a)
        if _decimals(a) != _decimals(b):
            failures.append(f"{where}: number {k + 1} in {line!r} is printed as {b} but stored as {a} "
                            f"(different number of decimals)")
            continue
        stored, value = _value(a), _value(b)
        if abs(value - stored) > tol.allowed(stored) * (1 + 1e-9) + 1e-300:
            failures.append(f"{where}: number {k + 1} in {line!r}: stored {a}, new {b}, differs by "
                            f"{abs(value - stored):.3g}, more than the tolerance ({tol})")
    return failures


def _flatten(outputs: Iterable[Mapping], sanitize: Callable[[str], str]) -> dict[str, list]:
    """Outputs as key -> values in order: stream text per stream name, data per MIME type, errors."""
    flat: dict[str, list] = {}
    streams: dict[str, int] = {}
    for out in outputs:
        kind = out.get("output_type")
        if kind == "stream":
            key = f"stream {out.get('name', 'stdout')}"
            text = "".join(out.get("text", ""))
            if key in streams:  # all chunks of one stream form one text, as nbval joins them
                flat[key][streams[key]] += text
            else:
                streams[key] = len(flat.setdefault(key, []))
                flat[key].append(text)
        elif kind in ("display_data", "execute_result"):
            for mime, value in (out.get("data") or {}).items():
                if mime not in SKIPPED_MIME_TYPES:
                    flat.setdefault(mime, []).append("".join(value) if isinstance(value, list) else value)
        elif kind == "error":
            flat.setdefault("error", []).append(f"{out.get('ename')}: {out.get('evalue')}")
    return {k: [sanitize(v) if isinstance(v, str) else v for v in vs] for k, vs in flat.items()}


def compare_outputs(
    ref_outputs: Iterable[Mapping],
    new_outputs: Iterable[Mapping],
    tol: Tolerance | None,
    where: str,
    sanitize: Callable[[str], str] = lambda s: s,
) -> list[str]:
    """Why a cell's new outputs do not match its stored ones (an empty list when they do)."""
    ref, new = _flatten(ref_outputs, sanitize), _flatten(new_outputs, sanitize)
    if set(ref) != set(new):
        missing, extra = sorted(set(ref) - set(new)), sorted(set(new) - set(ref))
        return [f"{where}: outputs differ in kind (missing {missing}, unexpected {extra})"]
    failures = []
    for key in ref:
        if len(ref[key]) != len(new[key]):
            failures.append(f"{where}: {len(ref[key])} stored {key} outputs, {len(new[key])} new ones")
            continue
        for a, b in zip(ref[key], new[key]):
            if isinstance(a, str) and isinstance(b, str):
                failures += compare_text(a, b, tol, f"{where} [{key}]")
            elif a != b:
                failures.append(f"{where} [{key}]: stored {a!r}, new {b!r}")
    return failures

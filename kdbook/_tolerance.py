"""Compare a notebook cell's fresh outputs with its stored ones, strictly or within a tolerance (private).

Closed-form results are compared exactly. A cell whose printed numbers come out of training,
sampling or other rounding-sensitive computation may declare a tolerance in its metadata::

    "metadata": {"kdbook": {"tolerance": {"atol": 0.0015, "rtol": 0}}}

and may give single numbers their own allowance (numbers counted from 1 over the cell's
compared outputs, in order; an entry replaces the cell's ``atol`` and ``rtol`` for that number)::

    "metadata": {"kdbook": {"tolerance": {"atol": 0.0003, "per_number": {"6": {"atol": 0.004}}}}}

Its text must then still match exactly *apart from the numbers*: the same words, spacing and
line breaks, the same count of numbers, each printed with the same number of decimals, and
each within ``atol + rtol * |stored|`` of its stored value. Images and ipywidgets' view JSON are
never compared (they are not in nbval's comparison either).

Used by the repository's ``conftest.py`` (which hands tolerant cells to this comparison inside
nbval) and by the portability test (``tests/test_portability.py``), so both apply one rule.
``python3 workbook.py spread`` (``kdbook._spread``) measures how far each number moves and
writes the tightest allowances the README's rule permits.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Tolerance", "cell_tolerance", "compare_text", "compare_outputs", "paired_numbers", "printed_numbers",
           "unit", "allowance", "repo_sanitizer", "SKIPPED_MIME_TYPES"]

METADATA_KEY = "kdbook"
#: Output data never compared: images (rendering differs by library version), widget views
#: (their model ids are random). The same set nbval skips without ``--nbdime``.
SKIPPED_MIME_TYPES = ("image/png", "image/jpeg", "image/svg+xml", "application/vnd.jupyter.widget-view+json")

# A printed number: optional sign, digits (optionally grouped by thousands with commas), an
# optional fraction and exponent; not glued to a word ("X86_V4", "3s") or to another number.
_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?(?!\w|\.\d)")


@dataclass(frozen=True)
class Tolerance:
    """How far a printed number may move: ``|new - stored| <= atol + rtol * |stored|``.

    ``per_number`` maps a number's position in the cell (from 1) to its own ``(atol, rtol)``.
    """

    atol: float = 0.0
    rtol: float = 0.0
    per_number: tuple[tuple[int, float, float], ...] = field(default=())

    def _for(self, number: int | None) -> tuple[float, float]:
        for n, atol, rtol in self.per_number:
            if n == number:
                return atol, rtol
        return self.atol, self.rtol

    def allowed(self, stored: float, number: int | None = None) -> float:
        """The allowance of the ``number``-th number (from 1) of the cell, stored as ``stored``."""
        atol, rtol = self._for(number)
        return atol + rtol * abs(stored)

    def describe(self, number: int | None = None) -> str:
        atol, rtol = self._for(number)
        own = " for this number" if any(n == number for n, _, _ in self.per_number) else ""
        return " + ".join([f"atol {atol:g}"] + ([f"rtol {rtol:g}"] if rtol else [])) + own

    def __str__(self) -> str:
        text = self.describe()
        if self.per_number:
            text += "; " + ", ".join(f"number {n}: atol {a:g}" + (f" + rtol {r:g}" if r else "")
                                     for n, a, r in self.per_number)
        return text


def _atol_rtol(tol: Mapping, where: str) -> tuple[float, float]:
    values = []
    for key in ("atol", "rtol"):
        value = tol.get(key, 0.0)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise ValueError(f"{where}: tolerance {key} must be a finite number >= 0, got {value!r}")
        values.append(float(value))
    return values[0], values[1]


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
    unknown = sorted(set(tol) - {"atol", "rtol", "per_number"})
    if unknown:
        raise ValueError(f"{where}: unknown tolerance keys {unknown}; use 'atol', 'rtol' and/or 'per_number'")
    atol, rtol = _atol_rtol(tol, where)
    per = tol.get("per_number", {})
    if not isinstance(per, Mapping):
        raise ValueError(f"{where}: tolerance per_number must map a number's position (from 1) to "
                         f"{{'atol': ...}}, got {per!r}")
    entries = []
    for key, value in per.items():
        if not (isinstance(key, str) and key.isdigit() and int(key) >= 1):
            raise ValueError(f"{where}: tolerance per_number keys are positions from 1 as strings ('6'), got {key!r}")
        if not isinstance(value, Mapping) or not value or set(value) - {"atol", "rtol"}:
            raise ValueError(f"{where}: tolerance per_number[{key!r}] must be a mapping like {{'atol': 0.004}}, "
                             f"got {value!r}")
        entries.append((int(key), *_atol_rtol(value, f"{where}, per_number[{key!r}]")))
    if atol == 0 and rtol == 0 and not entries:
        raise ValueError(f"{where}: a tolerance of zero is the strict comparison; remove it instead")
    return Tolerance(atol, rtol, tuple(sorted(entries)))


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


def unit(token: str) -> float:
    """One unit of the last printed digit of ``token``: 0.0001 for "0.7600", 1e-07 for "1.5e-06"."""
    parts = re.split(r"[eE]", token)
    exponent = int(parts[1]) if len(parts) > 1 else 0
    return 10.0 ** (exponent - _decimals(token))


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


def compare_text(ref: str, new: str, tol: Tolerance | None, where: str, first: int = 1) -> list[str]:
    """Why ``new`` does not match ``ref`` (an empty list when it does).

    Without a tolerance the texts must be equal. With one, everything but the numbers must be
    equal, and each number must be within ``tol`` of its stored value. ``first`` is the position
    (in its cell, from 1) of the text's first number.
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
    for k, (a, b) in enumerate(zip(ref_nums, new_nums), first):
        pos = ref.find(a, pos)
        line = _line_of(ref, pos)
        pos += len(a)
        if _decimals(a) != _decimals(b):
            failures.append(f"{where}: number {k} in {line!r} is printed as {b} but stored as {a} "
                            f"(different number of decimals)")
            continue
        stored, value = _value(a), _value(b)
        if abs(value - stored) > tol.allowed(stored, k) * (1 + 1e-9) + 1e-300:
            failures.append(f"{where}: number {k} in {line!r}: stored {a}, new {b}, differs by "
                            f"{abs(value - stored):.3g}, more than its allowance {tol.allowed(stored, k):.3g} "
                            f"({tol.describe(k)})")
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
    first = 1
    for key in ref:
        if len(ref[key]) != len(new[key]):
            failures.append(f"{where}: {len(ref[key])} stored {key} outputs, {len(new[key])} new ones")
            continue
        for a, b in zip(ref[key], new[key]):
            if isinstance(a, str) and isinstance(b, str):
                failures += compare_text(a, b, tol, f"{where} [{key}]", first)
            elif a != b:
                failures.append(f"{where} [{key}]: stored {a!r}, new {b!r}")
            if isinstance(a, str):
                first += len(_split(a)[1])
    return failures


def _texts(flat: Mapping[str, list]) -> Iterator[tuple[str, str]]:
    """(key, text) of a flattened cell's compared texts, in the order numbers are counted."""
    for key, values in flat.items():
        for value in values:
            if isinstance(value, str):
                yield key, value


def printed_numbers(outputs: Iterable[Mapping], sanitize: Callable[[str], str] = lambda s: s) -> list[str]:
    """The numbers a cell's outputs print, as printed, in the order the comparison counts them
    (``per_number`` position n is element n - 1)."""
    return [num for _, text in _texts(_flatten(outputs, sanitize)) for num in _split(text)[1]]


def paired_numbers(ref_outputs: Iterable[Mapping], new_outputs: Iterable[Mapping], where: str,
                   sanitize: Callable[[str], str] = lambda s: s) -> list[tuple[str, str]]:
    """(stored, new) for every number of a cell whose new outputs differ from the stored ones at
    most in their numbers; a ValueError naming ``where`` when anything else differs."""
    failures = compare_outputs(ref_outputs, new_outputs, Tolerance(atol=math.inf), where, sanitize)
    if failures:
        raise ValueError("\n".join(failures))
    return list(zip(printed_numbers(ref_outputs, sanitize), printed_numbers(new_outputs, sanitize)))


def repo_sanitizer(root: str | Path) -> Callable[[str], str]:
    """The sanitizer nbval applies in this repository (``tests/nbval_sanitize.cfg``), as a function."""
    from nbval.plugin import get_sanitize_patterns

    patterns = get_sanitize_patterns((Path(root) / "tests" / "nbval_sanitize.cfg").read_text())

    def apply(text: str) -> str:
        for regex, replace in patterns:
            text = re.sub(regex, replace, text)
        return text

    return apply


def allowance(notebook: str | Path, cell: int | str, number: int) -> float:
    """How far the ``number``-th printed number (from 1) of a notebook cell may move under the
    cell's declared tolerance (0.0 for a strict cell). ``cell`` is the cell's index or its id.

    For claims tests: an effect the prose relies on must exceed twice the allowance of every
    number it is computed from (README, "For contributors").
    """
    import nbformat

    path = Path(notebook)
    nb = nbformat.read(path, as_version=4)
    if isinstance(cell, str):
        found = [i for i, c in enumerate(nb.cells) if c.get("id") == cell]
        if not found:
            raise ValueError(f"cell: {path} has no cell with id {cell!r}")
        cell = found[0]
    if isinstance(cell, bool) or not isinstance(cell, int) or not 0 <= cell < len(nb.cells):
        raise ValueError(f"cell must be a cell index in 0..{len(nb.cells) - 1} or a cell id, got {cell!r}")
    where = f"{path}, cell {cell}"
    numbers = printed_numbers(nb.cells[cell].get("outputs", []), repo_sanitizer(path.resolve().parents[1]))
    if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= len(numbers):
        raise ValueError(f"number must be a position from 1 to {len(numbers)} in {where}, got {number!r}")
    tol = cell_tolerance(nb.cells[cell], where)
    return 0.0 if tol is None else tol.allowed(_value(numbers[number - 1]), number)

"""Read a submitted notebook and find its answer cells (private).

Nothing here writes to the submission. Answer cells are found by their tag (the exercise id);
a cell that lost its tag is found by the name it defines; a missing answer is a message, never
a crash. Check cells (tagged ``check``) are not run at grading. Whatever the file holds
(malformed or deeply nested JSON, metadata of the wrong type, giant cells), reading it ends in a
:class:`Submission`, at worst one with a message and nothing to run.
"""
from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

from ..grading import registry
from ..grading.spec import CHECK_TAG, EXERCISE_ID, Exercise, cell_tags, chapter_from_filename, describe_error

__all__ = ["CodeCell", "Submission", "read_submission", "to_python"]

_MAX_BYTES = 20 * 1024 * 1024
_MAX_PARSE = 200_000  # characters of a cell that are parsed to find the names it defines
#: Larger cells are not transformed by IPython in the grader (whose cost grows faster than the cell):
#: the submission's own process transforms them, under its time limit.
_MAX_TRANSFORM = (20_000, 400)  # characters, lines


@dataclasses.dataclass
class CodeCell:
    """One code cell to run: its position in the notebook and the exercise it answers (if any)."""

    index: int
    source: str
    exercise: str | None = None
    transform: bool = False  # still IPython source: the child transforms it under its limits


@dataclasses.dataclass
class Submission:
    """What the grader knows about one submitted notebook before running anything."""

    path: Path
    chapter: str | None
    cells: list[CodeCell]
    notes: dict[str, list[str]]  # per exercise id: how its answer was found, or that it was not
    messages: list[str]  # submission-level problems


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    if isinstance(src, list):
        src = "".join(s for s in src if isinstance(s, str))
    return src if isinstance(src, str) else ""


def to_python(src: str) -> str:
    """The cell as plain Python, transformed as IPython would (magics, ``!shell``, ``?help``).

    Falls back to turning magic and shell lines into ``pass`` when IPython is not installed.
    """
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell(src)
    except ImportError:
        return "\n".join(f"{ln[:len(ln) - len(ln.lstrip())]}pass  # {ln.lstrip()}"
                         if ln.lstrip().startswith(("%", "!")) else ln for ln in src.splitlines())
    except Exception:  # noqa: BLE001 - a cell IPython cannot transform runs as it is (and fails there)
        return src


def _code_cell(index: int, src: str) -> CodeCell:
    """The cell to run: transformed here when small, else left to the child (under its limits)."""
    if len(src) > _MAX_TRANSFORM[0] or src.count("\n") > _MAX_TRANSFORM[1]:
        return CodeCell(index, src, transform=True)
    return CodeCell(index, to_python(src))


def _defined_names(src: str) -> set[str]:
    if len(src) > _MAX_PARSE:
        return set()
    try:
        tree = ast.parse(src)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return set()
    names: set[str] = set()
    for stmt in tree.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(stmt.name)
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def _chapter(nb: dict, path: Path, tags: set[str]) -> str | None:
    meta = nb.get("metadata") if isinstance(nb, dict) else None
    kd = meta.get("kdbook") if isinstance(meta, dict) else None
    chapter = kd.get("chapter") if isinstance(kd, dict) else None
    if isinstance(chapter, str) and chapter in registry.CHAPTERS:
        return chapter
    by_name = chapter_from_filename(path.name, registry.CHAPTERS)
    if by_name:
        return by_name
    found = {t[:2] for t in tags if EXERCISE_ID.fullmatch(t) and t[:2] in registry.CHAPTERS}
    return found.pop() if len(found) == 1 else None


def _unreadable(path: Path, chapter: str | None, why: str) -> Submission:
    guess = chapter or chapter_from_filename(path.name, registry.CHAPTERS)
    return Submission(path, guess, [], {}, [f"not a readable notebook ({why}); nothing was run"])


def read_submission(path: Path, chapter: str | None = None) -> Submission:
    """Parse ``path`` (read-only) and attribute its code cells to the chapter's exercises. Never raises."""
    path = Path(path)
    try:
        if path.stat().st_size > _MAX_BYTES:
            raise ValueError(f"larger than {_MAX_BYTES // 2**20} MB")
        nb = json.loads(path.read_text(encoding="utf-8", errors="replace"))
        if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
            raise ValueError("no list of cells")
    except RecursionError:
        return _unreadable(path, chapter, "JSON nested too deeply")
    except (OSError, ValueError, MemoryError) as err:
        return _unreadable(path, chapter, describe_error(err, 120))
    try:
        return _attribute_cells(nb, path, chapter)
    except Exception as err:  # noqa: BLE001 - a notebook shaped in a way nobody foresaw is that submission's problem
        return _unreadable(path, chapter, f"unexpected structure: {describe_error(err, 120)}")


def _attribute_cells(nb: dict, path: Path, chapter: str | None) -> Submission:
    raw = [c for c in nb["cells"] if isinstance(c, dict)]
    tags_of = {i: set(cell_tags(c)) for i, c in enumerate(raw)}
    all_tags = set().union(*tags_of.values()) if raw else set()
    chapter = chapter or _chapter(nb, path, all_tags)
    cells = [
        _code_cell(i, _source(c))
        for i, c in enumerate(raw)
        if c.get("cell_type") == "code" and _source(c).strip() and CHECK_TAG not in tags_of[i]
    ]
    messages: list[str] = []
    notes: dict[str, list[str]] = {}
    if chapter is None:
        messages.append("could not tell which chapter this notebook belongs to (no kdbook metadata, no NN_ "
                        "file-name prefix, no exercise tags); grade it with --chapter NN")
        return Submission(path, None, cells, notes, messages)
    for ex in registry.chapter_exercises(chapter):
        notes[ex.id] = _attribute(ex, cells, tags_of)
    return Submission(path, chapter, cells, notes, messages)


def _attribute(ex: Exercise, cells: list[CodeCell], tags_of: dict[int, set[str]]) -> list[str]:
    tagged = [c for c in cells if ex.id in tags_of[c.index] and c.exercise is None]
    if tagged:
        for c in tagged:
            c.exercise = ex.id
        return []
    by_name = [c for c in cells if c.exercise is None and set(ex.names) & _defined_names(c.source)]
    if by_name:
        for c in by_name:
            c.exercise = ex.id
        where = ", ".join(str(c.index) for c in by_name)
        return [f"no cell is tagged {ex.id}; graded the cell(s) that define `{ex.name}` instead (cell {where})"]
    return [f"no answer cell found: no cell is tagged {ex.id} and none defines `{ex.name}` (deleted or renamed?)"]

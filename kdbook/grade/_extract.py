"""Read a submitted notebook and find its answer cells (private).

Nothing here writes to the submission. Answer cells are found by their tag (the exercise id);
a cell that lost its tag is found by the name it defines; a missing answer is a message, never
a crash. Check cells (calls into ``kdbook.grading``) are not run at grading.
"""
from __future__ import annotations

import ast
import dataclasses
import json
import re
from pathlib import Path

from ..grading import registry
from ..grading._core import Exercise

__all__ = ["CodeCell", "Submission", "read_submission"]

_MAX_BYTES = 20 * 1024 * 1024


@dataclasses.dataclass
class CodeCell:
    """One code cell to run: its position in the notebook and the exercise it answers (if any)."""

    index: int
    source: str
    exercise: str | None = None


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


def _tags(cell: dict) -> set[str]:
    meta = cell.get("metadata")
    tags = meta.get("tags", []) if isinstance(meta, dict) else []
    return {t for t in tags if isinstance(t, str)} if isinstance(tags, list) else set()


def _without_magics(src: str) -> str:
    """Comment out IPython-only lines (``%magic``, ``!shell``) so the cell is plain Python."""
    return "\n".join(re.sub(r"^(\s*)([%!].*)$", r"\1pass  # \2", line) for line in src.splitlines())


def _is_check_cell(src: str) -> bool:
    try:
        tree = ast.parse(src)
    except SyntaxError:
        return False
    if not tree.body:
        return True
    for stmt in tree.body:
        if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)):
            return False
        if "grading" not in ast.unparse(stmt.value.func):
            return False
    return True


def _defined_names(src: str) -> set[str]:
    try:
        tree = ast.parse(src)
    except SyntaxError:
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
    meta = nb.get("metadata", {})
    chapter = meta.get("kdbook", {}).get("chapter") if isinstance(meta.get("kdbook"), dict) else None
    if isinstance(chapter, str) and chapter in registry.CHAPTERS:
        return chapter
    m = re.match(r"(\d\d)_", path.name)
    if m and m.group(1) in registry.CHAPTERS:
        return m.group(1)
    found = {t[:2] for t in tags if re.fullmatch(r"\d\d\.[a-z0-9_]+", t) and t[:2] in registry.CHAPTERS}
    return found.pop() if len(found) == 1 else None


def read_submission(path: Path, chapter: str | None = None) -> Submission:
    """Parse ``path`` (read-only) and attribute its code cells to the chapter's exercises."""
    path = Path(path)
    try:
        if path.stat().st_size > _MAX_BYTES:
            raise ValueError(f"larger than {_MAX_BYTES // 2**20} MB")
        nb = json.loads(path.read_text(encoding="utf-8", errors="replace"))
        if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
            raise ValueError("no list of cells")
    except (OSError, ValueError) as err:
        guess = chapter or _chapter({}, path, set())
        return Submission(path, guess, [], {}, [f"not a readable notebook ({err}); nothing was run"])
    raw = [c for c in nb["cells"] if isinstance(c, dict)]
    all_tags = set().union(*(_tags(c) for c in raw)) if raw else set()
    chapter = chapter or _chapter(nb, path, all_tags)
    cells = [
        CodeCell(i, _without_magics(_source(c)))
        for i, c in enumerate(raw)
        if c.get("cell_type") == "code" and _source(c).strip() and not _is_check_cell(_source(c))
    ]
    tags_of = {i: _tags(c) for i, c in enumerate(raw)}
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
    by_name = [c for c in cells if c.exercise is None and ex.name in _defined_names(c.source)]
    if by_name:
        for c in by_name:
            c.exercise = ex.id
        where = ", ".join(str(c.index) for c in by_name)
        return [f"no cell is tagged {ex.id}; graded the cell(s) that define `{ex.name}` instead (cell {where})"]
    return [f"no answer cell found: no cell is tagged {ex.id} and none defines `{ex.name}` (deleted or renamed?)"]

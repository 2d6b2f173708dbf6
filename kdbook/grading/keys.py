"""The instructor's answer keys, read from the solution notebooks at grading time.

The learner's kdbook holds no key: which statements of a select item are true, the letter of a
prediction, the expected answer of any other *keyed* test (``Test(..., keyed=True)``) live only
in ``solutions/NN_topic.ipynb``, which the instructor has and learners do not get. The key of an
exercise is read from the solution cell tagged with its id:

* ``answer``: the value the cell assigns to the exercise's name, read with
  :func:`ast.literal_eval` (never executed), e.g. ``my_claims = {"b", "d"}`` or
  ``my_prediction = "a"``; or, for an answer the cell computes, the ``answer`` that the cell's
  metadata states (``"kdbook_key": {"answer": [...]}``; a test checks it against the cell's
  printed output);
* ``either`` (select items only, in the cell's metadata ``"kdbook_key": {"either": [...]}``):
  letters of statements either of which is accepted; the answer must hold at least one of them.
  The true statements are then the solution's letters minus these.

The generator (``python -m kdbook.exercises``) drops this metadata from the exercise notebooks.
``python -m kdbook.grade --solutions DIR`` names the folder (default: the repository's
``solutions/`` next to kdbook, when there is one).

>>> literal_answer('### BEGIN SOLUTION\\nclaims = {"c", "a"}\\n### END SOLUTION', "claims")
['a', 'c']
"""
from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

from . import registry
from .spec import Exercise, cell_tags, chapter_from_filename

__all__ = ["MissingKeyError", "keyed", "literal_answer", "solution_keys", "default_solutions",
           "KEY_METADATA"]

#: Where a solution cell's metadata holds key facts the cell's source does not state.
KEY_METADATA = ("kdbook_key",)


class MissingKeyError(LookupError):
    """An exercise needs the instructor's key and none could be read."""


def keyed(exercise: Exercise) -> bool:
    """Whether grading ``exercise`` needs its answer key."""
    return any(t.keyed for t in exercise.tests)


def _plain(value: Any) -> Any:
    """Sets as sorted lists, tuples as lists: the key as plain JSON data."""
    if isinstance(value, (set, frozenset)):
        return sorted(_plain(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def literal_answer(source: str, name: str) -> Any:
    """The literal the cell's last top-level assignment gives ``name`` (``LookupError`` if none)."""
    value, tree = None, ast.parse(source)
    uses = sum(isinstance(node, ast.Name) and node.id == name for node in ast.walk(tree))
    for stmt in tree.body:
        targets = stmt.targets if isinstance(stmt, ast.Assign) else (
            [stmt.target] if isinstance(stmt, ast.AnnAssign) and stmt.value is not None else [])
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            value = stmt.value
    if value is None:
        raise LookupError(f"the cell assigns no value to `{name}`")
    try:
        if uses > 1:  # built up or changed after the assignment
            raise ValueError
        return _plain(ast.literal_eval(value))
    except ValueError:
        raise LookupError(f"`{name}` is computed, not written as a literal: state the answer in the cell's metadata "
                          f"{{\"kdbook_key\": {{\"answer\": ...}}}}") from None


def _cell_key(cell: dict, ex: Exercise, where: str) -> dict:
    meta = cell.get("metadata", {})
    for part in KEY_METADATA:
        meta = meta.get(part, {}) if isinstance(meta, dict) else {}
    key = dict(meta) if isinstance(meta, dict) else {}
    if "answer" not in key:
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        try:
            key["answer"] = literal_answer(source, ex.name)
        except (LookupError, SyntaxError) as err:
            raise MissingKeyError(f"{where}: no key for {ex.id}: {err}") from None
    key["answer"] = _plain(key["answer"])
    return key


def solution_keys(solutions: Path | str) -> dict[str, dict]:
    """Every keyed exercise's key, from the solution notebooks ``solutions/NN_topic.ipynb``.

    Raises :class:`MissingKeyError` when the folder does not exist, or when a solution notebook of a
    chapter has no readable key for one of that chapter's keyed exercises.
    """
    folder = Path(solutions)
    if not folder.is_dir():
        raise MissingKeyError(f"no solutions folder at {folder}: the answer keys are read from the instructor's "
                              "solution notebooks (python -m kdbook.grade --solutions DIR)")
    keys: dict[str, dict] = {}
    for path in sorted(folder.glob("[0-9][0-9]_*.ipynb")):
        chapter = chapter_from_filename(path.name, registry.CHAPTERS)
        if chapter is None or path.name.endswith(".bak.ipynb"):
            continue
        cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
        for ex in registry.chapter_exercises(chapter):
            if not keyed(ex):
                continue
            tagged = [c for c in cells if ex.id in cell_tags(c)]
            if not tagged:
                raise MissingKeyError(f"{path}: no cell is tagged {ex.id}, so its answer key cannot be read")
            keys[ex.id] = _cell_key(tagged[-1], ex, str(path))
    return keys


def default_solutions() -> Path | None:
    """The repository's ``solutions/`` folder beside the kdbook package, or in the working folder."""
    for folder in (Path(__file__).resolve().parents[2] / "solutions", Path.cwd() / "solutions"):
        if folder.is_dir():
            return folder
    return None

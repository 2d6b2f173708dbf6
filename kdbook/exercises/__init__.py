"""Generate the exercise notebooks from the solution notebooks, and check they are up to date.

``python -m kdbook.exercises generate`` writes ``exercises/NN_x.ipynb`` from ``solutions/NN_x.ipynb``:
code between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` becomes a stub (inside a function,
``raise NotImplementedError``; at top level, ``name = ...`` for each name the block assigns),
cells tagged ``solution-only`` are dropped, and the result is executed so it stores outputs.
``python -m kdbook.exercises check`` fails when a committed exercise notebook is stale.

Generation never destroys a learner's work: each generated notebook records a digest of all its
cells (type, source, tags); if the file no longer matches it (a cell added, removed or edited in
place: answers, notes, helper cells), generation stops with a message, unless ``force=True``, which
first saves a backup beside it (``NN_x.<time>.bak.ipynb``, ignored by git). Running the notebook
(outputs, execution counts) is not an edit. Answer-key metadata of solution cells
(``kdbook.grading.keys``) is never copied into an exercise notebook. The first Markdown cell of every
exercise notebook ends with :data:`SUBMIT_NOTE` (how to save and download the notebook to hand in).

>>> print(stub_source("def f(x):\\n    ### BEGIN SOLUTION\\n    return 2 * x\\n    ### END SOLUTION"))
def f(x):
    # YOUR CODE HERE
    raise NotImplementedError("replace this line with your code")
>>> print(stub_source("### BEGIN SOLUTION\\nanswer = 42\\n### END SOLUTION"))
answer = ...  # YOUR ANSWER HERE
>>> print(stub_source("### BEGIN SOLUTION\\nacc = [t for t in ts]\\nfor T, a in zip(ts, acc):\\n    print(T, a)\\n### END SOLUTION"))
acc = ...  # YOUR ANSWER HERE
"""
from __future__ import annotations

import ast
import copy
import hashlib
import json
import textwrap
import time
from pathlib import Path

from ..grading import registry
from ..grading.keys import KEY_METADATA
from ..grading.spec import SOLUTION_ONLY, cell_tags, chapter_from_filename

__all__ = ["SUBMIT_NOTE", "stub_source", "make_exercise_notebook", "answer_digest", "cells_digest", "generate", "check",
           "LearnerEditsError"]

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"

#: Added to the first Markdown cell of every exercise notebook (true in JupyterLab and in the browser
#: site; README "Run in your browser" and tests/test_lite_site.py back the site's part).
SUBMIT_NOTE = (
    "**To hand in.** Save (*File ▸ Save Notebook*, Ctrl+S), then download this notebook (*File ▸ Download*)\n"
    "and submit the `.ipynb` file. In the browser site your work lives only in this browser's storage for\n"
    "the site's address: download it before you leave. On Colab or Kaggle, see the start notebook. A cell that\n"
    "never ends: *Kernel ▸ Restart Kernel…* (in the browser site Interrupt does nothing), then re-run from the top."
)


class LearnerEditsError(RuntimeError):
    """An exercise notebook's answer cells differ from the last generated copy."""


def stub_source(src: str, answers: frozenset[str] = frozenset()) -> str:
    """Replace every ``### BEGIN SOLUTION`` … ``### END SOLUTION`` block of a cell with a stub.

    At top level, a block that assigns one of the ``answers`` (the names the cell's exercises
    define) is stubbed as just those names; helper variables of the solution are not.
    """
    lines, out, i = src.split("\n"), [], 0
    while i < len(lines):
        if lines[i].strip() != BEGIN:
            out.append(lines[i])
            i += 1
            continue
        indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
        try:
            j = next(k for k in range(i + 1, len(lines)) if lines[k].strip() == END)
        except StopIteration:
            raise ValueError(f"{BEGIN!r} on line {i + 1} has no matching {END!r}") from None
        block = lines[i + 1 : j]
        if indent:
            out += [f"{indent}# YOUR CODE HERE", f'{indent}raise NotImplementedError("replace this line with your code")']
        else:
            names = _answer_names(block)
            names = [n for n in names if n in answers] or names
            if not names:
                raise ValueError("a top-level solution block must assign the answer's name(s)")
            out += [f"{name} = ...  # YOUR ANSWER HERE" for name in names]
        i = j + 1
    return "\n".join(out)


def _answer_names(block: list[str]) -> list[str]:
    """Names a top-level solution block assigns as answers: targets of its top-level assignments.

    Names bound only by a ``for`` loop, a ``with``, a comprehension or inside a nested block (the
    loop variables of a print loop, say) are not answers and get no stub.
    """
    names: list[str] = []
    for stmt in ast.parse(textwrap.dedent("\n".join(block))).body:
        if isinstance(stmt, ast.Assign):
            targets = stmt.targets
        elif isinstance(stmt, (ast.AnnAssign, ast.AugAssign)):
            targets = [stmt.target]
        else:
            continue
        for t in targets:
            for node in t.elts if isinstance(t, (ast.Tuple, ast.List)) else [t]:
                if isinstance(node, ast.Name) and node.id not in names:
                    names.append(node.id)
    return names


_tags = cell_tags


def answer_digest(nb, chapter: str, ids=None) -> dict[str, str]:
    """SHA-256 of the answer cells of each exercise of ``chapter`` (or of ``ids``): cells tagged with its id."""
    out = {}
    for ex_id in ids if ids is not None else [ex.id for ex in registry.chapter_exercises(chapter)]:
        text = "\n\x00".join(c.source for c in nb.cells if ex_id in _tags(c))
        out[ex_id] = hashlib.sha256(text.encode()).hexdigest()
    return out


def cells_digest(nb) -> str:
    """SHA-256 of every cell's type, source and tags, in order (outputs and counts left out)."""
    shape = [(c.get("cell_type"), c.get("source"), sorted(_tags(c))) for c in nb.cells]
    return hashlib.sha256(json.dumps(shape, ensure_ascii=True).encode()).hexdigest()


def _edited(old, chapter: str) -> bool:
    """Whether an exercise notebook differs from the copy generated last: any cell added, removed or
    edited. A file generated before whole-notebook digests falls back to its answer cells' digest.
    """
    kd = old.metadata.get("kdbook", {})
    if isinstance(kd, dict) and isinstance(kd.get("cells_digest"), str):
        return cells_digest(old) != kd["cells_digest"]
    recorded = kd.get("answer_digest") if isinstance(kd, dict) else None
    if not isinstance(recorded, dict):
        return True
    new_ids = [ex.id for ex in registry.chapter_exercises(chapter) if ex.id not in recorded]
    return (answer_digest(old, chapter, list(recorded)) != recorded
            or any(ex_id in _tags(c) for c in old.cells for ex_id in new_ids))


def make_exercise_notebook(solution_nb, chapter: str, source_name: str):
    """The exercise notebook for a solution notebook (not executed, outputs cleared)."""
    nb = copy.deepcopy(solution_nb)
    nb.cells = [c for c in nb.cells if SOLUTION_ONLY not in _tags(c)]
    names = {ex.id: ex.names for ex in registry.chapter_exercises(chapter)}
    header = next((c for c in nb.cells if c.cell_type == "markdown"), None)
    if header is None:
        raise ValueError(f"{source_name}: a solution notebook starts with a Markdown header cell")
    if SUBMIT_NOTE not in header.source:
        header.source = header.source.rstrip("\n") + "\n\n" + SUBMIT_NOTE
    for cell in nb.cells:
        cell.metadata.pop(KEY_METADATA[0], None)
        if cell.cell_type == "code":
            cell.source = stub_source(cell.source, frozenset(n for t in _tags(cell) if t in names for n in names[t]))
            cell.outputs, cell.execution_count = [], None
        elif BEGIN in cell.source:
            raise ValueError(f"{source_name}: solution markers in a markdown cell; tag it {SOLUTION_ONLY!r} instead")
    nb.metadata["kdbook"] = {"chapter": chapter, "generated_from": f"solutions/{source_name}",
                             "answer_digest": answer_digest(nb, chapter), "cells_digest": cells_digest(nb)}
    return nb


def _chapter_of(path: Path) -> str:
    chapter = chapter_from_filename(path.name, registry.CHAPTERS)
    if chapter is None:
        raise ValueError(f"{path}: solution notebooks are named NN_topic.ipynb with NN a chapter in the registry")
    return chapter


def _solutions(root: Path, chapters: list[str] | None) -> list[Path]:
    paths = sorted(p for p in (root / "solutions").glob("[0-9][0-9]_*.ipynb") if not p.name.endswith(".bak.ipynb"))
    return [p for p in paths if chapters is None or p.name[:2] in chapters]


def _same(a, b) -> bool:
    def shape(nb):
        return ([(c.cell_type, c.source, sorted(_tags(c))) for c in nb.cells], nb.metadata.get("kdbook"))
    return shape(a) == shape(b)


def generate(root: Path, *, chapters: list[str] | None = None, force: bool = False, execute: bool = True,
             timeout: int = 600) -> list[str]:
    """Write the exercise notebooks of ``root``; return one line per notebook saying what happened."""
    import nbformat

    from .._notebooks import execute_notebook

    report = []
    for sol in _solutions(root, chapters):
        chapter = _chapter_of(sol)
        target = root / "exercises" / sol.name
        fresh = make_exercise_notebook(nbformat.read(sol, as_version=4), chapter, sol.name)
        if target.exists():
            old = nbformat.read(target, as_version=4)
            if _edited(old, chapter):
                if not force:
                    raise LearnerEditsError(
                        f"{target} has cells that differ from the last generated copy (someone edited it "
                        "in place: answers, notes or added cells, perhaps a learner working in the repository). "
                        "Nothing was overwritten. Move "
                        "the file away, or run `python -m kdbook.exercises generate --force`, which saves a "
                        "backup beside it first.")
                backup = target.with_name(f"{target.stem}.{time.strftime('%Y%m%dT%H%M%S')}.bak.ipynb")
                backup.write_bytes(target.read_bytes())
                report.append(f"saved a backup of the edited {target} as {backup}")
            elif _same(old, fresh) and not execute:
                report.append(f"{target} is up to date")
                continue
        if execute:
            execute_notebook(fresh, target.parent.resolve(), timeout)
        target.parent.mkdir(exist_ok=True)
        nbformat.write(fresh, target)
        report.append(f"wrote {target}" + (" (executed)" if execute else ""))
    return report


def check(root: Path) -> list[str]:
    """Problems that make the committed exercise notebooks stale (empty when all is well)."""
    import nbformat

    problems = []
    sols = _solutions(root, None)
    for sol in sols:
        target = root / "exercises" / sol.name
        if not target.exists():
            problems.append(f"{target} is missing")
            continue
        fresh = make_exercise_notebook(nbformat.read(sol, as_version=4), _chapter_of(sol), sol.name)
        old = nbformat.read(target, as_version=4)
        if not _same(old, fresh):
            problems.append(f"{target} is stale: it no longer matches {sol}")
        elif not all(c.execution_count for c in old.cells if c.cell_type == "code" and c.source.strip()):
            problems.append(f"{target} was not executed (it has code cells without outputs)")
    names = {s.name for s in sols}
    for ex in sorted((root / "exercises").glob("[0-9][0-9]_*.ipynb")):
        if ex.name not in names and not ex.name.endswith(".bak.ipynb"):
            problems.append(f"{ex} has no solution notebook solutions/{ex.name}")
    return problems

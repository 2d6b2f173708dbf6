"""The exercise generator: stubs, the staleness check, and never destroying a learner's work."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from kdbook.exercises import LearnerEditsError, check, generate, make_exercise_notebook, stub_source

ROOT = Path(__file__).resolve().parents[1]


def test_committed_exercise_notebooks_are_up_to_date():
    assert check(ROOT) == []
    out = subprocess.run([sys.executable, "-m", "kdbook.exercises", "--root", str(ROOT), "check"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr


def test_function_body_becomes_a_raising_stub_and_keeps_its_signature():
    src = 'def f(x):\n    """Doc."""\n    ### BEGIN SOLUTION\n    y = 2 * x\n    return y\n    ### END SOLUTION\n'
    stub = stub_source(src)
    assert stub.startswith('def f(x):\n    """Doc."""\n') and "2 * x" not in stub
    ns: dict = {}
    exec(stub, ns)
    with pytest.raises(NotImplementedError):
        ns["f"](1)


def test_top_level_block_becomes_ellipsis_per_assigned_name():
    src = "x = 1\n### BEGIN SOLUTION\na, b = 1, 2\nanswer = (\n    'long text'\n)\nprint(answer)\n### END SOLUTION\n"
    stub = stub_source(src)
    assert stub.split("\n") == ["x = 1", "a = ...  # YOUR ANSWER HERE", "b = ...  # YOUR ANSWER HERE",
                               "answer = ...  # YOUR ANSWER HERE", ""]
    with pytest.raises(ValueError, match="no matching"):
        stub_source("### BEGIN SOLUTION\nx = 1\n")
    with pytest.raises(ValueError, match="must assign"):
        stub_source("### BEGIN SOLUTION\nprint(1)\n### END SOLUTION")


def test_solution_only_cells_are_dropped_and_metadata_records_the_chapter():
    sol = nbformat.read(ROOT / "solutions/02_divergences.ipynb", as_version=4)
    ex = make_exercise_notebook(sol, "02", "02_divergences.ipynb")
    assert not any("solution-only" in c.metadata.get("tags", []) for c in ex.cells)
    assert not any("BEGIN SOLUTION" in c.source for c in ex.cells)
    assert ex.metadata["kdbook"]["chapter"] == "02" and set(ex.metadata["kdbook"]["answer_digest"]) >= {"02.kl_scratch"}


def test_every_exercise_notebook_first_cell_says_how_to_hand_it_in():
    """Issue 26: the first cell tells the learner to save and download the notebook to submit it
    (the browser site keeps work only in the browser), and what to do about a cell that never ends
    (README "Run in your browser"; tests/test_lite_site.py checks both in the site)."""
    paths = sorted(p for p in (ROOT / "exercises").glob("[0-9][0-9]_*.ipynb") if not p.name.endswith(".bak.ipynb"))
    assert len(paths) == len(list((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))) >= 8
    for path in paths:
        first = nbformat.read(path, as_version=4).cells[0]
        assert first.cell_type == "markdown", path
        text = " ".join(first.source.split())
        for phrase in ("*File ▸ Save Notebook*, Ctrl+S", "*File ▸ Download*", "submit the `.ipynb` file",
                       "browser's storage", "Colab or Kaggle, see the start notebook", "*Kernel ▸ Restart Kernel…*"):
            assert phrase in text, f"{path.name}: the first cell lacks {phrase!r}"
        assert text.count("**To hand in.**") == 1, path.name
        assert len(first.source.split("**To hand in.**")[1].strip().splitlines()) <= 4, path.name


def test_the_hand_in_note_is_added_once_and_only_to_the_exercise_notebook():
    sol = nbformat.read(ROOT / "solutions/02_divergences.ipynb", as_version=4)
    assert "**To hand in.**" not in sol.cells[0].source
    ex = make_exercise_notebook(sol, "02", "02_divergences.ipynb")
    assert ex.cells[0].source.startswith(sol.cells[0].source.rstrip("\n") + "\n\n**To hand in.**")
    again = make_exercise_notebook(ex, "02", "02_divergences.ipynb")  # a header that has it already
    assert again.cells[0].source == ex.cells[0].source


@pytest.fixture
def tiny_repo(tmp_path):
    (tmp_path / "solutions").mkdir()
    shutil.copy(ROOT / "solutions/02_divergences.ipynb", tmp_path / "solutions")
    return tmp_path


def _answer_cell(nb, exercise_id):
    return next(c for c in nb.cells if exercise_id in c.metadata.get("tags", []))


def test_generation_refuses_to_overwrite_a_learners_edits_and_force_keeps_a_backup(tiny_repo):
    target = tiny_repo / "exercises/02_divergences.ipynb"
    assert generate(tiny_repo, execute=False) == [f"wrote {target}"]
    assert generate(tiny_repo, execute=False) == [f"{target} is up to date"]
    assert check(tiny_repo) == [f"{target} was not executed (it has code cells without outputs)"]

    nb = nbformat.read(target, as_version=4)
    _answer_cell(nb, "02.kl_scratch").source = "def kl_scratch(p, q):\n    return 42  # my work"
    nbformat.write(nb, target)
    edited = target.read_bytes()
    with pytest.raises(LearnerEditsError, match="differ from the last generated copy"):
        generate(tiny_repo, execute=False)
    assert target.read_bytes() == edited  # nothing overwritten

    lines = generate(tiny_repo, execute=False, force=True)
    backups = list(target.parent.glob("*.bak.ipynb"))
    assert len(backups) == 1 and backups[0].read_bytes() == edited and "saved a backup" in lines[0]
    assert "NotImplementedError" in _answer_cell(nbformat.read(target, as_version=4), "02.kl_scratch").source


def test_check_reports_a_stale_exercise_notebook(tiny_repo):
    generate(tiny_repo, execute=False)
    sol_path = tiny_repo / "solutions/02_divergences.ipynb"
    sol = nbformat.read(sol_path, as_version=4)
    sol.cells[0].source += "\n\nA new sentence."
    nbformat.write(sol, sol_path)
    assert check(tiny_repo) == [f"{tiny_repo / 'exercises/02_divergences.ipynb'} is stale: it no longer matches "
                                f"{sol_path}"]
    shutil.copy(tiny_repo / "exercises/02_divergences.ipynb", tiny_repo / "exercises/07_orphan.ipynb")
    assert any("has no solution notebook" in p for p in check(tiny_repo))


def test_cli_stops_with_a_clear_message_on_learner_edits(tiny_repo):
    generate(tiny_repo, execute=False)
    target = tiny_repo / "exercises/02_divergences.ipynb"
    nb = nbformat.read(target, as_version=4)
    _answer_cell(nb, "02.pinsker").source += "\n# my notes"
    nbformat.write(nb, target)
    out = subprocess.run([sys.executable, "-m", "kdbook.exercises", "--root", str(tiny_repo), "generate",
                          "--no-execute"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "stopped:" in out.stderr and "--force" in out.stderr


def test_loop_and_comprehension_variables_of_a_solution_block_get_no_stub():
    src = ("### BEGIN SOLUTION\nacc = np.zeros(3)\nfor i, T in enumerate(ts):\n    acc[i] = T\n"
           "total = sum(x for x in acc)\nwith open('f') as fh:\n    pass\nfor T, a in zip(ts, acc):\n"
           "    print(T, a)\n### END SOLUTION")
    assert stub_source(src).split("\n") == ["acc = ...  # YOUR ANSWER HERE", "total = ...  # YOUR ANSWER HERE"]
    # Given the cell's answer names, helper variables of the solution get no stub either.
    helper = "### BEGIN SOLUTION\norder = [1, 0]\ngap = order[0] - order[1]\n### END SOLUTION"
    assert stub_source(helper, frozenset({"gap"})) == "gap = ...  # YOUR ANSWER HERE"


def test_every_stub_in_the_committed_exercise_notebooks_is_an_exercise_answer():
    from kdbook.grading import registry

    seen = 0
    for path in sorted((ROOT / "exercises").glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        names = {n for ex in registry.chapter_exercises(path.name[:2]) for n in ex.names}
        for cell in nb.cells:
            for line in cell.source.split("\n"):
                if line.endswith("# YOUR ANSWER HERE"):
                    seen += 1
                    name = line.split(" = ...")[0]
                    assert name in names and name in [n for t in cell.metadata["tags"] for n in registry.get(t).names], (
                        f"{path.name}: stub {line!r} is not the answer of its cell")
    # Every value (non-function) exercise has exactly one stub, and one more for its reasoning variable,
    # so the loop above checked them all.
    assert seen == sum((ex.kind != "function") + bool(ex.reasoning) for ex in registry.all_exercises()) > 0


def test_a_changed_solution_is_not_mistaken_for_a_learners_edit(tiny_repo):
    target = tiny_repo / "exercises/02_divergences.ipynb"
    generate(tiny_repo, execute=False)
    # The instructor adds a cell (a new exercise, say) to the solution: the untouched exercise file is rewritten.
    sol_path = tiny_repo / "solutions/02_divergences.ipynb"
    sol = nbformat.read(sol_path, as_version=4)
    sol.cells.append(nbformat.v4.new_markdown_cell("A new closing remark."))
    nbformat.write(sol, sol_path)
    assert generate(tiny_repo, execute=False) == [f"wrote {target}"]
    # Running the notebook (outputs, execution counts) is not an edit either.
    nb = nbformat.read(target, as_version=4)
    code = next(c for c in nb.cells if c.cell_type == "code")
    code.outputs, code.execution_count = [nbformat.v4.new_output("stream", text="ran\n")], 7
    nbformat.write(nb, target)
    assert generate(tiny_repo, execute=False) == [f"{target} is up to date"]


def _add_cell(nb):
    nb.cells.insert(3, nbformat.v4.new_code_cell("def helper(x):\n    return x  # my own helper"))


def _add_note(nb):
    nb.cells.append(nbformat.v4.new_markdown_cell("My notes: KL is not symmetric."))


def _remove_cell(nb):
    del nb.cells[-1]


def _edit_prose(nb):
    nb.cells[0].source += " (my annotation)"


def _edit_check_cell(nb):
    check = next(c for c in nb.cells if "check" in c.metadata.get("tags", []))
    check.source += "\nprint('done')"


def _untag(nb):
    _answer_cell(nb, "02.pinsker").metadata["tags"] = []


@pytest.mark.parametrize("edit", [_add_cell, _add_note, _remove_cell, _edit_prose, _edit_check_cell, _untag],
                         ids=lambda f: f.__name__.strip("_"))
def test_any_change_to_an_exercise_notebook_stops_generation_and_force_keeps_a_backup(tiny_repo, edit):
    target = tiny_repo / "exercises/02_divergences.ipynb"
    generate(tiny_repo, execute=False)
    nb = nbformat.read(target, as_version=4)
    edit(nb)
    nbformat.write(nb, target)
    edited = target.read_bytes()
    with pytest.raises(LearnerEditsError, match="differ from the last generated copy"):
        generate(tiny_repo, execute=False)
    assert target.read_bytes() == edited
    generate(tiny_repo, execute=False, force=True)
    assert [b.read_bytes() for b in target.parent.glob("*.bak.ipynb")] == [edited]


def test_answer_key_metadata_never_reaches_an_exercise_notebook():
    for sol in sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(sol, as_version=4)
        fresh = make_exercise_notebook(nb, sol.name[:2], sol.name)
        assert not any("kdbook_key" in c.metadata for c in fresh.cells), sol.name
        committed = nbformat.read(ROOT / "exercises" / sol.name, as_version=4)
        assert not any("kdbook_key" in c.metadata for c in committed.cells), sol.name

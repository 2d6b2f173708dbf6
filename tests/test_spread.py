"""Tolerances from measurement: every tolerant cell's allowances are earned by a recorded spread.

``python3 workbook.py spread`` (``kdbook._spread``) records in ``tests/output_spread.json`` how
far each printed number of every tolerant cell moved on the emulated CPU paths and with the
initial weights perturbed (``KDBOOK_PERTURB`` 1e-12 and 1e-9). The rule checked here, with the
unit of the last printed digit computed independently (``decimal``):

    atol + rtol·|stored|  <=  max(3 units of the last printed digit, 4 × recorded spread)

for every number of every tolerant cell, a count (a whole number) that never moved may not move
at all, and every tolerant cell is covered by the file. Also:
a tightened tolerance still catches a hand edit, the staleness check the portability run applies,
the per-number metadata, and ``kdbook._tolerance.allowance`` as claims tests use it.
"""
from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import nbformat
import pytest

from kdbook._spread import SPREAD_FILE, apply, stale, tightest
from kdbook._tolerance import (Tolerance, allowance, cell_tolerance, compare_outputs, compare_text,
                               printed_numbers, repo_sanitizer)

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for d in ("notebooks", "solutions", "exercises") for p in (ROOT / d).glob("*.ipynb"))
SANITIZE = repo_sanitizer(ROOT)
RECORDED = json.loads((ROOT / SPREAD_FILE).read_text())["notebooks"] if (ROOT / SPREAD_FILE).exists() else {}
#: Notebooks being rewritten by other branches this round: the integrator runs
#: ``python3 workbook.py spread --apply`` on them at merge and then removes them from this set
#: (strict xfail: the test fails once they pass, so the entry cannot be forgotten).
AWAITING_MEASUREMENT: set[str] = set()  # notebooks whose tolerant cells await `workbook.py spread` (none)


def _tolerant(nb):
    return [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code" and cell_tolerance(c) is not None]


def _unit(token: str) -> Decimal:
    """One unit of the last printed digit: 10 ** (exponent of the printed decimal)."""
    return Decimal(1).scaleb(Decimal(token.replace(",", "")).as_tuple().exponent)


def _params():
    for path in NOTEBOOKS:
        rel = path.relative_to(ROOT).as_posix()
        if not _tolerant(nbformat.read(path, as_version=4)):
            continue
        marks = [pytest.mark.xfail(strict=True, reason="re-measured at merge")] if rel in AWAITING_MEASUREMENT else []
        yield pytest.param(path, id=rel, marks=marks)


def test_unit_of_the_last_digit():
    assert _unit("0.7600") == Decimal("0.0001") and _unit("4,547") == 1 and _unit("-0.5") == Decimal("0.1")
    assert _unit("1.5e-06") == Decimal("1e-7")


@pytest.mark.parametrize("path", list(_params()))
def test_every_tolerance_is_earned_by_a_recorded_spread(path):
    rel = path.relative_to(ROOT).as_posix()
    nb = nbformat.read(path, as_version=4)
    record = RECORDED.get(rel, {})
    hint = f"run `python3 workbook.py spread {rel}` (add --apply to tighten)"
    failures = []
    for i, cell in _tolerant(nb):
        where = f"{rel}, cell {i} (id {cell.get('id')})"
        entry = record.get(cell.get("id"))
        if entry is None:
            failures.append(f"{where} is tolerant but not covered by {SPREAD_FILE}; {hint}")
            continue
        printed = printed_numbers(cell.outputs, SANITIZE)
        if [n["stored"] for n in entry["numbers"]] != printed or entry["index"] != i:
            failures.append(f"{where}: the spread was measured on other stored outputs; {hint}")
            continue
        tol = cell_tolerance(cell, where)
        for k, (token, num) in enumerate(zip(printed, entry["numbers"]), 1):
            unit = _unit(token)
            bound = max(3 * unit, 4 * Decimal(repr(num["spread"])))
            allowed = Decimal(repr(tol.allowed(float(token.replace(",", "")), k)))
            if num["spread"] == 0 and unit == 1 and allowed >= 1:
                failures.append(f"{where}, number {k} (stored {token}) is a count that never moved, but its "
                                f"allowance {allowed:.3g} ({tol.describe(k)}) lets it move; {hint}")
            elif allowed > bound * (1 + Decimal("1e-9")):
                failures.append(f"{where}, number {k} (stored {token}, spread {num['spread']:g}): allowance "
                                f"{allowed:.3g} ({tol.describe(k)}) is more than max(3 units, 4 x spread) = "
                                f"{bound:.3g}; {hint}")
    assert not failures, "\n".join(failures)


def test_the_spread_file_has_no_entry_for_a_cell_that_is_gone():
    for rel, record in RECORDED.items():
        assert (ROOT / rel).exists(), f"{SPREAD_FILE} lists {rel}, which does not exist"
        nb = nbformat.read(ROOT / rel, as_version=4)
        ids = {c.get("id") for _, c in _tolerant(nb)}
        assert set(record) <= ids, f"{SPREAD_FILE}: {rel} cells {sorted(set(record) - ids)} are not tolerant cells"


def test_chapter_5_is_measured():
    assert "notebooks/05_training_a_toy_student.ipynb" in RECORDED


# ---------------------------------------------------------------- tightening catches hand edits
def _out(text):
    return [nbformat.v4.new_output("stream", name="stdout", text=text)]


def _record(stored_text, spreads=None):
    tokens = printed_numbers(_out(stored_text))
    spreads = spreads or {}
    return [{"n": n, "stored": t, "decimals": max(0, -Decimal(t.replace(",", "")).as_tuple().exponent),
             "unit": float(_unit(t)), "spread": spreads.get(n, 0.0)} for n, t in enumerate(tokens, 1)]


def test_tightened_tolerance_catches_a_hand_edit_the_old_one_let_through():
    stored = "top-1 agreement 0.996 ± 0.001\n"
    edited = "top-1 agreement 0.991 ± 0.006\n"
    old = Tolerance(atol=0.005, rtol=0.005)  # chapter 6's declared tolerance before measurement
    assert compare_text(stored, edited, old, "c") == []
    tol = cell_tolerance({"metadata": {"kdbook": {"tolerance": tightest(_record(stored))}}})
    assert tol == Tolerance(atol=0.003)  # 3 units of the last printed digit: never moved
    failures = compare_text(stored, edited, tol, "notebooks/06_x.ipynb, cell 9")
    assert len(failures) == 2 and all("notebooks/06_x.ipynb, cell 9" in f for f in failures)
    assert "stored 0.996, new 0.991" in failures[0] and "allowance 0.003" in failures[0]
    # while last-digit noise still passes
    assert compare_text(stored, "top-1 agreement 0.994 ± 0.002\n", tol, "c") == []


def test_tightest_gives_a_number_that_moved_its_own_allowance():
    stored = "acc 0.9393 ECE 0.0261 KL 0.05 n 400\n"
    meta = tightest(_record(stored, {1: 0.0007, 3: 0.01}))
    # number 1 moved 7 units -> 4 x 0.0007; number 3 moved 1 unit -> max(3 units, 4 x 0.01) = 0.04;
    # the others never moved and keep the cell's 3 units of 0.0001
    assert meta == {"atol": 0.0003, "per_number": {"1": {"atol": 0.0028}, "3": {"atol": 0.04}}}
    tol = cell_tolerance({"metadata": {"kdbook": {"tolerance": meta}}})
    assert compare_text(stored, "acc 0.9421 ECE 0.0263 KL 0.09 n 400\n", tol, "c") == []
    [msg] = compare_text(stored, "acc 0.9393 ECE 0.0265 KL 0.05 n 400\n", tol, "nb, cell 4")
    assert "number 2" in msg and "stored 0.0261, new 0.0265" in msg and "atol 0.0003" in msg
    [msg] = compare_text(stored, "acc 0.9422 ECE 0.0261 KL 0.05 n 400\n", tol, "nb, cell 4")
    assert "number 1" in msg and "allowance 0.0028" in msg and "for this number" in msg


def test_counts_that_never_moved_may_not_move():
    assert tightest(_record("on 3 of 3 seeds, 10 runs\n")) is None  # nothing may move: strict
    stored = "loss 12.5 after 400 steps\n"
    meta = tightest(_record(stored, {1: 0.3}))  # the loss moved by 3 units: 4 x 0.3 = 1.2 >= 1 unit of the count
    assert meta == {"atol": 1.2, "per_number": {"2": {"atol": 0}}}
    tol = cell_tolerance({"metadata": {"kdbook": {"tolerance": meta}}})
    assert compare_text(stored, "loss 13.6 after 400 steps\n", tol, "c") == []
    [msg] = compare_text(stored, "loss 12.5 after 401 steps\n", tol, "c")
    assert "number 2" in msg and "allowance 0" in msg


def test_apply_rewrites_measured_cells_and_makes_count_only_cells_strict(tmp_path):
    nb = nbformat.v4.new_notebook()
    texts = ["acc 0.9393 after 400 epochs\n", "on 3 of 3 seeds\n"]
    for k, text in enumerate(texts):
        cell = nbformat.v4.new_code_cell("x", metadata={"kdbook": {"tolerance": {"atol": 0.005, "rtol": 0.005}}})
        cell.id, cell.outputs, cell.execution_count = f"c{k}", _out(text), k + 1
        nb.cells.append(cell)
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    record = {f"c{k}": {"index": k, "numbers": _record(text)} for k, text in enumerate(texts)}
    record["c0"]["numbers"][0]["spread"] = 0.0002
    changes = apply(path, record)
    cells = nbformat.read(path, as_version=4).cells
    assert cells[0].metadata == {"kdbook": {"tolerance": {"atol": 0.0008}}}  # 4 x 0.0002; the count is strict
    assert cells[1].metadata == {} and list(record) == ["c0"] and len(changes) == 2
    assert cells[0].outputs == nb.cells[0].outputs  # outputs untouched


def test_numbers_are_counted_over_the_whole_cell():
    ref = _out("a 0.10\n") + [nbformat.v4.new_output("display_data", data={"text/plain": "b 0.20 c 0.30"})]
    new = _out("a 0.10\n") + [nbformat.v4.new_output("display_data", data={"text/plain": "b 0.20 c 0.35"})]
    tol = Tolerance(atol=0.001, per_number=((3, 0.1, 0.0),))
    assert compare_outputs(ref, new, tol, "c") == []
    [msg] = compare_outputs(ref, new, Tolerance(atol=0.001, per_number=((2, 0.1, 0.0),)), "c")
    assert "number 3" in msg
    assert printed_numbers(ref) == ["0.10", "0.20", "0.30"]


def test_per_number_metadata_is_validated():
    def tol(t):
        return cell_tolerance({"metadata": {"kdbook": {"tolerance": t}}}, "nb, cell 2")

    assert tol({"atol": 0.001}) == Tolerance(atol=0.001)  # old metadata keeps working
    assert tol({"atol": 0.001, "per_number": {"2": {"atol": 0.01}}}).allowed(0.5, 2) == 0.01
    for bad in ({"atol": 0.001, "per_number": {"0": {"atol": 0.1}}}, {"atol": 0.001, "per_number": {2: {"atol": 0.1}}},
                {"atol": 0.001, "per_number": {"2": {"abs": 0.1}}}, {"atol": 0.001, "per_number": {"2": {"atol": -1}}},
                {"atol": 0.001, "per_number": [0.1]}):
        with pytest.raises(ValueError, match="nb, cell 2"):
            tol(bad)


# ---------------------------------------------------------------- the portability run's staleness check
def _nb(text, meta=True):
    cell = nbformat.v4.new_code_cell("x", metadata={"kdbook": {"tolerance": {"atol": 0.0003}}} if meta else {})
    cell.id, cell.outputs, cell.execution_count = "abc", _out(text), 1
    nb = nbformat.v4.new_notebook()
    nb.cells = [cell]
    return nb


def test_stale_spread_fails_the_portability_check_and_says_what_to_run():
    stored = _nb("acc 0.9393 ECE 0.0261\n")
    record = {"abc": {"index": 0, "numbers": _record("acc 0.9393 ECE 0.0261\n", {1: 0.0002})}}
    assert stale("nb.ipynb", stored, _nb("acc 0.9395 ECE 0.0261\n"), record, str, "CPU path p") == []
    [msg] = stale("nb.ipynb", stored, _nb("acc 0.9396 ECE 0.0261\n"), record, str, "CPU path p")
    assert "nb.ipynb, cell 0, number 1" in msg and "0.9396" in msg and "recorded spread 0.0002" in msg
    assert "python3 workbook.py spread nb.ipynb" in msg
    [msg] = stale("nb.ipynb", stored, _nb("acc 0.9393 ECE 0.0262\n"), record, str, "CPU path p")
    assert "number 2" in msg and "python3 workbook.py spread nb.ipynb" in msg
    [msg] = stale("nb.ipynb", stored, stored, {}, str, "CPU path p")
    assert "no recorded spread" in msg and "python3 workbook.py spread nb.ipynb" in msg
    # a strict cell is not the spread file's business
    assert stale("nb.ipynb", _nb("a 1\n", meta=False), _nb("a 2\n", meta=False), {}, str, "p") == []


# ---------------------------------------------------------------- allowance() for claims tests
CH05 = ROOT / "notebooks" / "05_training_a_toy_student.ipynb"
TRANSFER_CELL = "d0bae53f"  # section 3: a 45-point transfer set, five seeds


def test_allowance_reads_the_cells_declared_tolerance():
    nb = nbformat.read(CH05, as_version=4)
    i = next(k for k, c in enumerate(nb.cells) if c.get("id") == TRANSFER_CELL)
    tol = cell_tolerance(nb.cells[i])
    numbers = printed_numbers(nb.cells[i].outputs, SANITIZE)
    for n in (1, len(numbers)):
        assert allowance(CH05, TRANSFER_CELL, n) == allowance(CH05, i, n) == tol.allowed(float(numbers[n - 1]), n)
    strict = next(k for k, c in enumerate(nb.cells) if c.cell_type == "code" and cell_tolerance(c) is None
                  and printed_numbers(c.outputs, SANITIZE))
    assert allowance(CH05, strict, 1) == 0.0
    for bad in ((TRANSFER_CELL, 0), (TRANSFER_CELL, len(numbers) + 1), ("no-such-id", 1), (10_000, 1)):
        with pytest.raises(ValueError, match="number|cell"):
            allowance(CH05, *bad)


#: Chapter 5's per-seed claims: (cell id, the printed line's start, how many per-seed numbers end it,
#: the prose that relies on their sign). Each per-seed effect must exceed twice its number's allowance.
LOWEST_ECE = "The hard-label student has the\n  lowest ECE on every seed"
CH05_CLAIMS = [
    ("97ecb542", "soft targets minus hard labels, ECE", 3, LOWEST_ECE),
    ("97ecb542", "combined minus hard labels,     ECE", 3, LOWEST_ECE),
    ("97ecb542", "hard labels                  ", 3, "below the\n  teacher's 0.0261"),
    ("97ecb542", "soft targets                 ", 3,
     "ECE is above the teacher's on every seed"),
    ("07c1e864", "KL to teacher, argmax minus soft-target student", 3, "on each of these three seeds"),
    (TRANSFER_CELL, "soft minus hard test accuracy", 5,
     "it generalises worse than the soft-target student on all five seeds"),
    ("66d43a26", "8 hidden units, T = 2 below T = 1", 3, "T = 2 is below T = 1 on all three seeds"),
    ("66d43a26", "8 hidden units, T = 16 below T = 2", 3, "T = 16 is below T = 2 on all three seeds"),
]
def _claim_numbers(cell_id, prefix, count):
    """Positions (from 1) and tokens of the last ``count`` numbers on the cell's line starting with ``prefix``."""
    nb = nbformat.read(CH05, as_version=4)
    cell = next(c for c in nb.cells if c.get("id") == cell_id)
    [text] = [o.text for o in cell.outputs if o.output_type == "stream"]
    lines = text.splitlines(keepends=True)
    k = next(i for i, ln in enumerate(lines) if ln.startswith(prefix))
    before = len(printed_numbers(_out("".join(lines[:k])), SANITIZE))
    on_line = printed_numbers(_out(lines[k]), SANITIZE)
    first = before + len(on_line) - count + 1
    return list(zip(range(first, first + count), on_line[-count:]))


@pytest.mark.parametrize("cell_id,prefix,count,prose", CH05_CLAIMS,
                         ids=[c[1].split(",")[0][:40].strip() + f"-{c[0]}" for c in CH05_CLAIMS])
def test_ch05_prose_relies_on_these_lines(cell_id, prefix, count, prose):
    markdown = "".join(c.source for c in nbformat.read(CH05, as_version=4).cells if c.cell_type == "markdown")
    assert prose in markdown, f"the claim {prose!r} is gone from chapter 5: update CH05_CLAIMS"
    numbers = _claim_numbers(cell_id, prefix, count)
    assert len({float(t) > 0 for _, t in numbers}) == 1, f"{prefix}: per-seed signs differ: {numbers}"


@pytest.mark.parametrize("cell_id,prefix,count", [c[:3] for c in CH05_CLAIMS],
                         ids=[c[1].split(",")[0][:40].strip() + f"-{c[0]}" for c in CH05_CLAIMS])
def test_ch05_claimed_effects_cannot_flip_in_a_passing_run(cell_id, prefix, count):
    """Every per-seed effect a chapter-5 claim rests on is larger than the allowance of the number that
    prints it (``kdbook._tolerance.allowance``, at most 4 x the largest movement measured on other CPU
    paths and under a 1e-9 change of the initial weights): a re-run that nbval accepts keeps its sign,
    so the prose cannot be contradicted by an output the suite passes. A claim too close for that
    (the combined student's ECE against the teacher's, +0.0004 on seed 0) is not made per seed."""
    for n, token in _claim_numbers(cell_id, prefix, count):
        limit = allowance(CH05, cell_id, n)
        assert abs(float(token)) > limit, f"{prefix!r}: number {n} = {token}, allowance {limit:g}"


# ---------------------------------------------------------------- the command end to end
PROBE_SOURCE = '''from kdbook.classify.models import MLP
net = MLP([2, 4, 3], seed=0)
print(f"weight {net.params[0][0, 0]:.15f}, rounded {net.params[0][0, 0]:.4f}, 400 epochs")'''


@pytest.mark.slow
def test_spread_command_measures_records_and_applies(tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "nbval_sanitize.cfg").write_text((ROOT / "tests" / "nbval_sanitize.cfg").read_text())
    (tmp_path / "notebooks").mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(PROBE_SOURCE, metadata={"kdbook": {"tolerance": {"atol": 0.01}}}),
                nbformat.v4.new_code_cell("print(1 + 1)")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "notebooks" / "probe.ipynb"
    nbformat.write(nb, path)
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    run = dict(cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert subprocess.run([sys.executable, "-m", "kdbook._notebooks", "notebooks/probe.ipynb"], **run).returncode == 0
    done = subprocess.run([sys.executable, "-m", "kdbook._spread", "--apply"], **run)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "notebooks/probe.ipynb" in done.stdout and "KDBOOK_PERTURB=1e-9" in done.stdout
    record = json.loads((tmp_path / SPREAD_FILE).read_text())["notebooks"]["notebooks/probe.ipynb"]
    [entry] = record.values()
    assert entry["index"] == 0 and [n["n"] for n in entry["numbers"]] == [1, 2, 3]
    w = entry["numbers"][0]
    # a 1e-9 relative perturbation of a weight of about 0.1 moves its 15th decimal, but not its 4th
    assert 1e-13 < w["spread"] < 1e-8 and entry["numbers"][1]["spread"] == 0 == entry["numbers"][2]["spread"]
    tol = nbformat.read(path, as_version=4).cells[0].metadata["kdbook"]["tolerance"]
    assert tol["atol"] == pytest.approx(4 * w["spread"]) and "per_number" not in tol


def test_workbook_spread_runs_the_spread_module_with_its_arguments(monkeypatch):
    import importlib.util

    spec = importlib.util.spec_from_file_location("_workbook_under_test", ROOT / "workbook.py")
    wb = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(wb)
    calls = []
    monkeypatch.setattr(wb, "ensure_venv", lambda extra: Path("/venv/bin/python"))
    monkeypatch.setattr(wb.subprocess, "call", lambda cmd, **kw: calls.append((cmd, kw)) or 0)
    assert wb.main(["spread", "notebooks/05_training_a_toy_student.ipynb", "--apply"]) == 0
    assert calls == [(["/venv/bin/python", "-m", "kdbook._spread", "notebooks/05_training_a_toy_student.ipynb",
                       "--apply"], {"cwd": wb.ROOT})]
    assert "workbook.py spread" in wb.__doc__

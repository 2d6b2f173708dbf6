"""The tolerant output comparison (kdbook._tolerance) still catches wrong numbers and wrong text.

Unit tests of the comparison itself, a check of every tolerance the committed notebooks declare,
and an end-to-end run of nbval (with the repository's conftest.py) on a small notebook whose
stored outputs are off in each of the ways the comparison must catch.
"""
from __future__ import annotations

import re

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from kdbook._tolerance import Tolerance, cell_tolerance, compare_outputs, compare_text

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for d in ("notebooks", "solutions", "exercises") for p in (ROOT / d).glob("*.ipynb"))
TOL = Tolerance(atol=0.001)
STORED = "hard labels      0.9273 ± 0.0022\nseed by seed: +0.0080  +0.0053  -0.0007\n"


def test_identical_text_passes_strict_and_tolerant():
    assert compare_text(STORED, STORED, None, "c") == []
    assert compare_text(STORED, STORED, TOL, "c") == []


def test_numbers_within_tolerance_pass():
    new = STORED.replace("0.9273", "0.9280").replace("-0.0007", "+0.0002")
    assert compare_text(STORED, new, TOL, "c") == []


def test_strict_comparison_fails_on_any_digit():
    new = STORED.replace("0.9273", "0.9274")
    [msg] = compare_text(STORED, new, None, "nb.ipynb, cell 8")
    assert "nb.ipynb, cell 8" in msg and "strict" in msg and "0.9274" in msg


def test_number_beyond_tolerance_fails_and_says_which():
    new = STORED.replace("0.9273", "0.9300")
    [msg] = compare_text(STORED, new, TOL, "nb.ipynb, cell 8")
    for part in ("nb.ipynb, cell 8", "number 1", "stored 0.9273", "new 0.9300", "atol 0.001", "hard labels"):
        assert part in msg, (part, msg)


def test_every_number_is_checked_not_only_the_first():
    new = STORED.replace("-0.0007", "-0.0030")
    [msg] = compare_text(STORED, new, TOL, "c")
    assert "number 5" in msg and "stored -0.0007" in msg and "new -0.0030" in msg


def test_relative_tolerance():
    tol = Tolerance(rtol=0.01)
    assert compare_text("loss 200.0", "loss 201.9", tol, "c") == []
    assert compare_text("loss 200.0", "loss 202.1", tol, "c") != []
    assert compare_text("loss 2.000", "loss 2.030", tol, "c") != []


def test_missing_or_added_number_fails():
    missing = STORED.replace("  -0.0007", "")
    added = STORED.replace("-0.0007", "-0.0007  +0.0001")
    for new in (missing, added):
        [msg] = compare_text(STORED, new, TOL, "c")
        assert "5 numbers" in msg or "6 numbers" in msg or "4 numbers" in msg
        assert "missing or added" in msg


def test_non_numeric_text_difference_fails():
    for new in (STORED.replace("hard labels", "soft targets"), STORED.replace("±", "+/-"),
                STORED.replace("  +0.0053", " +0.0053"), STORED + "extra line\n"):
        [msg] = compare_text(STORED, new, TOL, "c")
        assert "text around the numbers differs" in msg, msg


def test_number_of_decimals_is_text():
    [msg] = compare_text("acc 0.7600", "acc 0.76", TOL, "c")
    assert "decimals" in msg


def test_thousands_separators_and_exponents_are_numbers():
    assert compare_text("n = 1,500, eps 1e-12", "n = 1,500, eps 1e-12", TOL, "c") == []
    assert compare_text("n = 1,500", "n = 1,501", Tolerance(atol=0.5), "c") != []
    assert compare_text("n = 1,500", "n = 1,500", Tolerance(atol=0.5), "c") == []


def test_words_with_digits_are_text():
    # "X86_V4" and "3s" are words: a change in them is a text change, never a number within tolerance
    assert compare_text("X86_V4", "X86_V3", Tolerance(atol=5), "c") != []
    assert compare_text("240 3s", "240 4s", Tolerance(atol=5), "c") != []


def _stream(text, name="stdout"):
    return nbformat.v4.new_output("stream", name=name, text=text)


def _display(text, **extra):
    return nbformat.v4.new_output("display_data", data={"text/plain": text, **extra})


def test_outputs_images_and_widget_views_are_not_compared():
    ref = [_display("<Figure size 640x480 with 1 Axes>", **{"image/png": "AAAA"})]
    new = [_display("<Figure size 640x480 with 1 Axes>", **{"image/png": "BBBB"})]
    assert compare_outputs(ref, new, None, "c") == []


def test_outputs_stream_chunks_are_joined():
    ref = [_stream("acc 0.7600\n")]
    new = [_stream("acc "), _stream("0.7607\n")]
    assert compare_outputs(ref, new, TOL, "c") == []
    assert compare_outputs(ref, new, None, "c") != []


def test_outputs_kinds_and_counts_must_match():
    assert "missing" in compare_outputs([_stream("a 1\n")], [], TOL, "c")[0]
    assert "unexpected" in compare_outputs([], [_stream("a 1\n", "stderr")], TOL, "c")[0]
    two = [_display("x 1"), _display("y 2")]
    assert "2 stored" in compare_outputs(two, two[:1], TOL, "c")[0]


def test_outputs_sanitizer_applies_before_comparing():
    ref, new = [_stream("at 0x7f00aa\n")], [_stream("at 0x7f00bb\n")]
    import re

    assert compare_outputs(ref, new, None, "c", sanitize=lambda s: re.sub(r"0x[0-9a-f]+", "ADDR", s)) == []


def test_cell_tolerance_reads_and_validates_metadata():
    cell = nbformat.v4.new_code_cell("x", metadata={"kdbook": {"tolerance": {"atol": 0.002}}})
    assert cell_tolerance(cell) == Tolerance(atol=0.002)
    assert cell_tolerance(nbformat.v4.new_code_cell("x")) is None
    for bad in ({"atol": -1}, {"atol": 0}, {"abs": 0.1}, {"atol": "0.1"}, {"atol": float("nan")}, 0.1, {}):
        cell = nbformat.v4.new_code_cell("x", metadata={"kdbook": {"tolerance": bad}})
        with pytest.raises(ValueError, match="nb, cell 3"):
            cell_tolerance(cell, "nb, cell 3")
    # A tolerance declared at the wrong level must fail loudly, not fall back to strict silently.
    misplaced = nbformat.v4.new_code_cell("x", metadata={"kdbook": {"atol": 0.01, "rtol": 0.02}})
    with pytest.raises(ValueError, match="unknown keys"):
        cell_tolerance(misplaced, "nb, cell 4")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[str(p.relative_to(ROOT)) for p in NOTEBOOKS])
def test_declared_tolerances_are_valid_and_guard_printed_numbers(path):
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        tol = cell_tolerance(cell, f"{path.name}, cell {i}")
        if tol is None:
            continue
        assert cell.cell_type == "code", f"{path.name}, cell {i}: only code cells have outputs to compare"
        printed = "".join("".join(o.get("text", "")) for o in cell.outputs)
        assert any(ch.isdigit() for ch in printed), f"{path.name}, cell {i} declares a tolerance but prints no number"
        # A tolerance is for last-digit noise, not for hiding a different result: at most 0.01, or three units
        # of the coarsest printed digit where numbers are printed with fewer decimals (a cost of "224.9" moves
        # in tenths). How tight each number's allowance must be is tests/test_spread.py's rule (measured).
        units = [10.0 ** -len(m.group(1) or "") for m in re.finditer(r"\d+(?:\.(\d+))?", printed)]
        cap = max(0.01, 3 * max(units, default=0.0))
        assert tol.atol <= cap and tol.rtol <= 0.01, f"{path.name}, cell {i}: tolerance {tol} is too loose"
        assert all(a <= cap and r <= 0.01 for _, a, r in tol.per_number), f"{path.name}, cell {i}: {tol} is too loose"


def _cell(source, stored, tol=None):
    meta = {"kdbook": {"tolerance": tol}} if tol else {}
    cell = nbformat.v4.new_code_cell(source, metadata=meta)
    cell.outputs = [_stream(stored)]
    cell.execution_count = 1
    return cell


@pytest.mark.slow
def test_nbval_uses_the_tolerant_comparison_and_still_fails_wrong_numbers(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        _cell('print("acc 0.7607")', "acc 0.7600\n", {"atol": 0.001}),   # 0: within tolerance
        _cell('print("acc 0.7620")', "acc 0.7600\n", {"atol": 0.001}),   # 1: beyond it
        _cell('print("acc 0.7607")', "acc 0.7600\n"),                    # 2: strict cell
        _cell('print("acc 0.7600 0.1")', "acc 0.7600\n", {"atol": 0.001}),  # 3: number added
        _cell('print("ECE 0.7600")', "acc 0.7600\n", {"atol": 0.001}),   # 4: text differs
        _cell('print("acc 0.7600")', "acc 0.7600\n"),                    # 5: identical
    ]
    for n, cell in enumerate(nb.cells, 1):
        cell.execution_count = n
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "probe.ipynb"
    nbformat.write(nb, path)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "conftest", "--nbval", "--nbval-current-env", "-p", "no:cacheprovider",
         "-o", "addopts=", "--rootdir", str(tmp_path), "-rA", "-q", "-p", "no:randomly", str(path)],
        cwd=tmp_path, env={**_env(), "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=300,
    )
    out = result.stdout
    outcome = {n: ("PASSED" if f"PASSED probe.ipynb::Cell {n}" in out else
                   "FAILED" if f"FAILED probe.ipynb::Cell {n}" in out else "?") for n in range(6)}
    assert outcome == {0: "PASSED", 1: "FAILED", 2: "FAILED", 3: "FAILED", 4: "FAILED", 5: "PASSED"}, out[-4000:]
    assert "stored 0.7600, new 0.7620" in out and "atol 0.001" in out and "probe.ipynb, cell 1" in out, out[-4000:]
    assert "missing or added" in out and "text around the numbers differs" in out, out[-4000:]


def _env():
    import os

    return {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}


def test_readme_tells_authors_how_to_declare_a_tolerance():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    example = json.dumps({"kdbook": {"tolerance": {"atol": 0.0015}}})
    assert example in readme, f"README's contributor section should show the metadata {example}"

"""kdbook.grading.check and scoreboard notice a failed or re-broken answer cell (issue 28, item 1).

Runs cells in a real IPython shell (InteractiveShell), the way a notebook kernel does.
"""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("IPython")

# Each scenario runs in a fresh interpreter: InteractiveShell is a process-wide singleton.
_DRIVER = r'''
import contextlib, io, json, sys
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
outs = []
for cell in json.loads(sys.argv[1]):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(io.StringIO()):
        shell.run_cell(cell, store_history=True)
    outs.append(buf.getvalue())
print(json.dumps(outs))
'''

GOOD = '''def kl_scratch(p, q):
    import numpy as np
    p, q = np.asarray(p, float), np.asarray(q, float)
    terms = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0) / q), 0.0)
    return terms.sum(axis=-1)
'''
SYNTAX = "def kl_scratch(p, q):\n    import numpy as np\n    return float(np.sum(p * np.log(p / q))\n"
RAISES = GOOD + "\nprint(1 / 0)\n"
CHECK = 'kdbook.grading.check("02.kl_scratch")'


def _run(cells, setup="import kdbook, kdbook.grading"):
    import json

    cells = [setup, *cells] if setup else cells
    out = subprocess.run([sys.executable, "-c", _DRIVER, json.dumps(cells)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    return [" ".join(o.split()) for o in json.loads(out.stdout.strip().splitlines()[-1])]  # wrapping aside


def test_a_good_answer_is_checked():
    outs = _run([GOOD, CHECK])
    assert "All public tests pass" in outs[-1]
    assert "did not check" not in outs[-1]


def test_a_syntax_error_after_a_good_run_is_named_with_its_line():
    outs = _run([GOOD, SYNTAX, CHECK])
    assert "raised SyntaxError at line 3" in outs[-1]
    assert "did not check the older definition" in outs[-1]
    assert "All public tests pass" not in outs[-1]


def test_an_exception_in_the_answer_cell_is_named_with_its_line():
    outs = _run([GOOD, RAISES, CHECK])
    assert "raised ZeroDivisionError at line 7" in outs[-1]


def test_fixing_the_cell_clears_the_message():
    outs = _run([GOOD, SYNTAX, CHECK, GOOD, CHECK])
    assert "SyntaxError" in outs[2]
    assert "All public tests pass" in outs[-1] and "did not check" not in outs[-1]


def test_an_error_in_another_cell_does_not_count():
    outs = _run([GOOD, "undefined_name + 1", CHECK])
    assert "All public tests pass" in outs[-1]


def test_scoreboard_marks_the_failed_answer_and_gives_it_no_points():
    outs = _run([GOOD, SYNTAX, 'kdbook.grading.scoreboard("02")'])
    assert "02.kl_scratch apply 0/3 1 last run failed" in outs[-1]


def test_errors_before_kdbook_was_imported_are_seen_through_the_history():
    # No recorder yet when the cells ran: sys.last_value and In tell which cell failed last.
    outs = _run([GOOD, SYNTAX, "import kdbook, kdbook.grading", CHECK], setup=None)
    assert "raised SyntaxError at line 3" in outs[-1]


def test_plain_python_has_no_history_and_checks_as_before():
    code = textwrap.dedent(f'''
        import kdbook.grading
        from kdbook.grading import _stale
        assert _stale.install() is False
        assert _stale.stale_message("kl_scratch") is None
        exec({GOOD!r})
        kdbook.grading.check("02.kl_scratch")
        ''')
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "All public tests pass" in " ".join(out.stdout.split())

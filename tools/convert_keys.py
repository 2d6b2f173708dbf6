"""Move answer keys out of chapter modules written in the old style (issue 24).

    python tools/convert_keys.py kdbook/grading/ch09.py [...]

In each module, ``Statement("...", True|False|None)`` becomes ``Statement("...")`` and
``prediction_tests(n, "b")`` becomes ``prediction_tests(n)``. For every select and prediction
item it prints the key it removed, which the solution notebook must hold (docs/grading.md, "How
to declare a select or prediction item"): the answer cell assigns the true letters (plus one of
the "either" letters) or the predicted letter, and statements that were ``None`` go into the
cell's metadata ``{"kdbook_key": {"either": [...]}}``. Check with
``python -c "from kdbook.grading import keys; print(keys.solution_keys('solutions'))"``.
Standard library only; edits files in place.
"""
from __future__ import annotations

import ast
import re
import sys
from pathlib import Path


def convert(source: str) -> tuple[str, list[str]]:
    """The module's source without keys, and one line per removed key."""
    notes = [f"prediction_tests({m.group(1)}): answer {m.group(2)!r}"
             for m in re.finditer(r'prediction_tests\((\d+),\s*"([a-h])"\)', source)]
    source = re.sub(r'prediction_tests\((\d+),\s*"[a-h]"\)', r"prediction_tests(\1)", source)
    data = source.encode()
    starts = [0]
    for line in data.split(b"\n"):
        starts.append(starts[-1] + len(line) + 1)
    cuts, truth = [], {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Tuple):
            flags = [ast.literal_eval(c.args[1]) for c in node.value.elts
                     if isinstance(c, ast.Call) and getattr(c.func, "id", "") == "Statement" and len(c.args) == 2]
            if flags and isinstance(node.targets[0], ast.Name):
                truth[node.targets[0].id] = flags
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Statement" and len(node.args) == 2:
            a, b = node.args
            cuts.append((starts[a.end_lineno - 1] + a.end_col_offset, starts[b.end_lineno - 1] + b.end_col_offset))
    for start, end in sorted(cuts, reverse=True):
        data = data[:start] + data[end:]
    for name, flags in truth.items():
        letters = lambda want: sorted(chr(97 + i) for i, f in enumerate(flags) if f is want)  # noqa: E731
        notes.append(f"{name}: true {letters(True)}, either {letters(None)}")
    return data.decode(), notes


def main(paths: list[str]) -> int:
    for path in map(Path, paths):
        new, notes = convert(path.read_text(encoding="utf-8"))
        path.write_text(new, encoding="utf-8")
        print(f"{path}:" + "".join(f"\n  {n}" for n in notes) if notes else f"{path}: no keys")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

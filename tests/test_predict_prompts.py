"""Every chapter asks the learner to commit to a prediction before their key cells.

A prompt is a markdown cell starting with "> **Predict, then run.**". It must be followed by at
least one code cell (the cell whose result is predicted) and then by a markdown cell starting
with "**Answer.**", before the next prompt. Each chapter has at least two.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
PROMPT, ANSWER = "> **Predict, then run.**", "**Answer.**"


def test_chapters_found():
    assert len(CHAPTERS) >= 9, [p.name for p in CHAPTERS]


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.name for p in CHAPTERS])
def test_every_prompt_is_followed_by_a_code_cell_and_then_its_answer(path: Path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    kinds = [(c["cell_type"], "".join(c["source"]).lstrip()) for c in cells]
    prompts = [i for i, (kind, text) in enumerate(kinds) if kind == "markdown" and text.startswith(PROMPT)]
    assert len(prompts) >= 2, f"{path.name} has {len(prompts)} predict-then-run prompts; want at least 2"
    for i in prompts:
        j = i + 1
        while j < len(kinds) and kinds[j][0] == "markdown" and not kinds[j][1].startswith(PROMPT):
            j += 1  # setup prose between the prompt and its cell is fine
        assert j < len(kinds) and kinds[j][0] == "code", f"cell {i}: the prompt is not followed by a code cell"
        while j < len(kinds) and kinds[j][0] == "code":
            j += 1
        assert j < len(kinds) and kinds[j][0] == "markdown" and kinds[j][1].startswith(ANSWER), (
            f"cell {i}: the markdown cell after the predicted code cell(s) should start with {ANSWER!r}"
        )

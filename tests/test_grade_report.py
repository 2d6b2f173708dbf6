"""The report writers under hostile text (issue 24 §2, §4): a submission cannot forge a heading, a
row, a comment, a formula or another learner's section, and manual rows name one submission."""
from __future__ import annotations

import csv
import html.parser
import io
import json
import re

import pytest

from kdbook.grade import merge_manual, write_csv, write_json, write_markdown

# What submissions control, in the forms the red team used.
HOSTILE_NAMES = [
    "a.ipynb\n## b.ipynb: 21 / 21\n<!--",
    "=HYPERLINK(\"http://x\",\"21\").ipynb",
    "+1+1.ipynb",
    "-2.ipynb",
    "@SUM(A1).ipynb",
    "\tTAB.ipynb",
    "\rCR.ipynb",
    "| x | 99 | 99 |.ipynb",
    "<script>alert(1)</script>.ipynb",
    "plain.ipynb",
]
HOSTILE_MESSAGE = ("ValueError: ok\n\n## evil.ipynb: 21 / 21\n\n<!-- hides everything below\n"
                   "| forged | 21 | 21 |\n[link](javascript:alert(1)) ![img](x) `code` **bold** \u2028 ~~x~~")
HOSTILE_REASONING = ("```\n## evil heading\n</pre><!--\n~~~\n| a | b |\n````` still inside\n\x00\x1b[31m end")


def _report():
    subs = []
    for k, name in enumerate(HOSTILE_NAMES):
        subs.append({"submission": f"sub/{name}", "chapter": "06", "score": float(k), "max_score": 21.0,
                     "seconds": 0.1, "messages": [HOSTILE_MESSAGE],
                     "exercises": [{"id": "06.choose_objective", "points": 0.0, "max_points": 2.0,
                                    "messages": [f"✗ [public] x (0/1): {HOSTILE_MESSAGE}"],
                                    "reasoning": {"name": "objective_choice", "text": HOSTILE_REASONING,
                                                  "manual_max": 1.0, "manual_points": None}},
                                   {"id": "06.reductions", "points": 1.0, "max_points": 3.0,
                                    "messages": ["✓ [public] ok (1/1)"]}]})
    return {"seed": 12345, "limits": {}, "isolation": "none", "submissions": subs}


class _Structure(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.text: dict[str, list[str]] = {}
        self.comments = 0
        self._open: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self._open.append(tag)
        self.text.setdefault(tag, []).append("")

    def handle_endtag(self, tag):
        if self._open and self._open[-1] == tag:
            self._open.pop()

    def handle_data(self, data):
        for tag in self._open:
            self.text[tag][-1] += data

    def handle_comment(self, data):
        self.comments += 1


def _render(path) -> _Structure:
    import mistune

    page = mistune.create_markdown(plugins=["table"], escape=False)(path.read_text(encoding="utf-8"))
    parsed = _Structure()
    parsed.feed(page)
    return parsed


def test_every_learners_section_survives_hostile_names_messages_and_reasoning(tmp_path):
    report = _report()
    write_markdown(report, tmp_path / "report.md")
    page = _render(tmp_path / "report.md")
    n = len(HOSTILE_NAMES)
    # One h2 per submission, in order, each holding its own name and score; two h3 per submission.
    assert page.text["h2"] == [f"sub/{name}: {k:g} / 21".replace("\n", "⏎").replace("\r", "⏎").replace("\t", " ")
                               for k, name in enumerate(HOSTILE_NAMES)]
    assert len(page.text["h3"]) == 2 * n and page.tags.count("h1") == 1
    # The summary table: one row per submission, three cells each.
    assert page.tags.count("tr") == n + 1 and page.tags.count("td") == 3 * n
    # No comment, script, link, image or emphasis came from the submissions' text.
    assert page.comments == 0
    assert not {"script", "a", "img", "strong", "em", "del", "hr"} & set(page.tags)
    # The reasoning is shown verbatim, once per submission, in a code block of its own.
    assert page.tags.count("pre") == n
    assert all(HOSTILE_REASONING.split("\n")[1] in text for text in page.text["pre"])


def test_csv_cells_are_never_formulas_and_file_names_cannot_forge_rows(tmp_path):
    write_csv(_report(), tmp_path / "scores.csv")
    rows = list(csv.reader(io.StringIO((tmp_path / "scores.csv").read_text(encoding="utf-8"), newline="")))
    assert len(rows) == len(HOSTILE_NAMES) + 1
    for k, row in enumerate(rows[1:]):
        assert len(row) == 5 and row[1] == f"{k:g}"
        assert "\n" not in row[0] and "\r" not in row[0]
    # The file names are under sub/, so try the first cell bare as well: nothing may start a formula.
    from kdbook.grade._escape import csv_cell

    for name in HOSTILE_NAMES:
        assert csv_cell(name)[:1] not in ("=", "+", "-", "@", "\t", "\r")
        assert csv_cell(name).lstrip("'").replace("⏎", "\n") in (name, name.replace("\r", "\n"))


def test_json_report_keeps_the_exact_text(tmp_path):
    report = _report()
    write_json(report, tmp_path / "report.json")
    back = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert [s["submission"] for s in back["submissions"]] == [f"sub/{n}" for n in HOSTILE_NAMES]


def test_a_manual_row_naming_two_submissions_by_file_name_is_refused():
    def entry(path):
        return {"submission": path, "score": 0.0, "max_score": 2.0, "exercises": [
            {"id": "06.choose_objective", "points": 0.0, "max_points": 2.0, "messages": [],
             "reasoning": {"name": "objective_choice", "text": "x", "manual_max": 1.0, "manual_points": None}}]}

    report = {"submissions": [entry("a/06.ipynb"), entry("b/06.ipynb"), entry("c/other.ipynb")]}
    manual = {("06.ipynb", "06.choose_objective"): (1.0, ""), ("b/06.ipynb", "06.choose_objective"): (0.5, ""),
              ("other.ipynb", "06.choose_objective"): (1.0, "")}
    problems = merge_manual(report, manual)
    assert [e["score"] for e in report["submissions"]] == [0.0, 0.5, 1.0]
    assert any(re.search(r"several submissions are named 06\.ipynb", p) for p in problems)


@pytest.mark.parametrize("text", ["# h", "a\nb", "<b>x</b>", "x | y", "[a](b)", "`c`", "*e*", "<!-- c -->"])
def test_inline_escaping_renders_back_to_the_same_text(text):
    import mistune

    from kdbook.grade._escape import md_inline

    rendered = mistune.create_markdown(escape=False)(md_inline(text))
    inner = re.fullmatch(r"<p>(.*)</p>\n", rendered, re.S)
    assert inner, rendered
    import html

    assert html.unescape(inner.group(1)) == text.replace("\n", "⏎")


def test_reports_replace_what_was_planted_at_their_paths_and_never_write_through_it(tmp_path):
    target = tmp_path / "outside.txt"
    target.write_text("do not touch")
    (tmp_path / "report.json").symlink_to(target)
    (tmp_path / "report.md").mkdir()  # a folder planted where the report goes
    json_path = write_json(_report(), tmp_path / "report.json")
    md_path = write_markdown(_report(), tmp_path / "report.md")
    assert target.read_text() == "do not touch"
    assert json_path == tmp_path / "report.json" and not json_path.is_symlink()
    assert json.loads(json_path.read_text())["seed"] == 12345
    assert md_path != tmp_path / "report.md" and md_path.read_text().startswith("# Grading report")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no private folder left

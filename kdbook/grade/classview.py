"""The class at a glance, near-identical submissions, written answers to mark, the manual template.

``summary(report)`` adds to the report: the score histogram (ten bins of the percentage), each
exercise's and each test's pass rate over the submissions that were graded (statuses
``graded`` and ``late``), the most frequent diagnosed bugs per exercise (the question a failed
test's message ends with: "did you forget the T² factor?"), the learners flagged blank, missing,
late or refused, and pairs of submissions whose answers are near-identical.

Similarity is local (nothing leaves the machine): each submission's answer cells are turned
into Python tokens with comments, spacing and string contents dropped and every identifier
that is not a keyword or builtin renamed to one placeholder; its written reasoning into lower-
case words. Shingles (runs of 5 tokens, 3 words) the blank exercise notebook already contains
are removed; two submissions with at least 30 shingles each and a Jaccard index of at least
``SIMILAR`` are a pair; pairs are joined into groups (report.md lists the groups; report.json
also the first 200 pairs and their number). A high index is a reason to read both, not evidence of copying: short
answers to the same formula converge.
"""
from __future__ import annotations

import builtins
import csv
import functools
import io
import json
import keyword
import re
import tokenize
from collections import Counter, defaultdict
from pathlib import Path

from ..grading.spec import EXERCISE_ID, cell_tags
from . import _escape
from ._report import atomic_write

__all__ = ["is_blank", "answer_cells", "summary", "markdown", "html_page", "write_manual_template",
           "write_written_pages", "SIMILAR"]

SIMILAR = 0.85
_ROOT = Path(__file__).resolve().parents[2]
_KNOWN = set(keyword.kwlist) | set(dir(builtins)) | {"np", "numpy", "kdbook", "math", "scipy"}
_TEST = re.compile(r"^(?P<mark>[✓✗]) \[(?P<kind>public|hidden)\] (?P<name>.+?) "
                   r"\((?P<got>[\d.]+)/(?P<of>[\d.]+)\)(?:: (?P<why>.*))?$",
                   re.S)
_BUG = re.compile(r"([^:.;?]*\?)\s*$")


def answer_cells(path: Path) -> dict[str, str]:
    """Per exercise id, the source of the cells tagged with it (empty when unreadable)."""
    try:
        nb = json.loads(Path(path).read_text(encoding="utf-8", errors="replace"))
        out: dict[str, str] = {}
        for cell in nb.get("cells", []):
            if isinstance(cell, dict) and cell.get("cell_type") == "code":
                src = cell.get("source", "")
                src = "".join(s for s in src if isinstance(s, str)) if isinstance(src, list) else str(src)
                for tag in cell_tags(cell):
                    if EXERCISE_ID.fullmatch(tag):
                        out[tag] = out.get(tag, "") + src + "\n"
        return out
    except (OSError, ValueError, AttributeError, RecursionError, TypeError):
        return {}


def _squash(src: str) -> str:
    return "\n".join(line.rstrip() for line in src.splitlines() if line.strip())


@functools.lru_cache(maxsize=None)
def _blank(chapter: str) -> dict[str, str] | None:
    found = sorted((_ROOT / "exercises").glob(f"{chapter}_*.ipynb"))
    return {k: _squash(v) for k, v in answer_cells(found[0]).items()} if found else None


def is_blank(path: Path, chapter: str | None) -> bool:
    """True when every answer cell is exactly (up to blank lines and trailing spaces) the one in the
    chapter's exercise notebook, as handed out."""
    blank = _blank(chapter) if chapter else None
    if not blank:
        return False
    mine = answer_cells(path)
    return all(_squash(mine.get(k, "")) == v for k, v in blank.items())


def _code_tokens(src: str) -> list[str]:
    out: list[str] = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(src).readline):
            if tok.type in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
                            tokenize.ENDMARKER):
                continue
            if tok.type == tokenize.NAME and tok.string not in _KNOWN:
                out.append("$")
            elif tok.type == tokenize.STRING:
                out.append("'s'")
            else:
                out.append(tok.string)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        out = src.split()
    return out


def _shingles(items: list[str], n: int, tag: str) -> set[str]:
    return {tag + " ".join(items[i:i + n]) for i in range(max(len(items) - n + 1, 0))}


def fingerprint(path: Path | None, entry: dict) -> set[str]:
    cells = answer_cells(path) if path else {}
    prints: set[str] = set()
    for src in cells.values():
        prints |= _shingles(_code_tokens(src), 5, "c:")
    for ex in entry.get("exercises", []):
        text = (ex.get("reasoning") or {}).get("text") or ""
        prints |= _shingles(re.findall(r"\w+", text.lower()), 3, "w:")
    chapter = entry.get("chapter")
    blank = _blank(chapter) if chapter else None
    for src in (blank or {}).values():
        prints -= _shingles(_code_tokens(src), 5, "c:")
    return prints


def _similar(entries: list[dict]) -> list[dict]:
    prints = [(e, fingerprint(Path(e["_path"]) if e.get("_path") else None, e)) for e in entries]
    prints = [(e, p) for e, p in prints if len(p) >= 30]
    pairs = []
    for i in range(len(prints)):
        a, pa = prints[i]
        for b, pb in prints[i + 1:]:
            if a.get("chapter") != b.get("chapter"):
                continue
            j = len(pa & pb) / len(pa | pb)
            if j >= SIMILAR:
                pairs.append({"a": a["submission"], "b": b["submission"], "jaccard": round(j, 3)})
    return sorted(pairs, key=lambda p: -p["jaccard"])


def _groups(pairs: list[dict]) -> list[dict]:
    """Submissions linked by near-identical pairs, as groups (largest first) with their lowest index."""
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for p in pairs:
        parent[root(p["a"])] = root(p["b"])
    members: dict[str, list[str]] = defaultdict(list)
    for x in parent:
        members[root(x)].append(x)
    lowest: dict[str, float] = {}
    for p in pairs:
        r = root(p["a"])
        lowest[r] = min(lowest.get(r, 1.0), p["jaccard"])
    return sorted(({"members": sorted(m), "lowest": lowest[r]} for r, m in members.items()),
                  key=lambda g: (-len(g["members"]), g["members"]))


def summary(report: dict) -> dict:
    """The class at a glance (see the module docstring); entries may carry ``_path``."""
    entries = report["submissions"]
    graded = [e for e in entries if e.get("status", "graded") in ("graded", "late")]
    hist = [0] * 10
    for e in entries:
        if e.get("status") in ("missing", "refused") or not e["max_score"]:
            continue
        hist[min(int(10 * max(e["score"], 0) / e["max_score"]), 9)] += 1
    tests: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    exercises: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    bugs: dict[str, Counter] = defaultdict(Counter)
    for e in graded:
        for ex in e["exercises"]:
            ok = True
            for line in ex["messages"]:
                m = _TEST.match(line)
                if not m:
                    continue
                key = f"{ex['id']} [{m['kind']}] {m['name']}"
                tests[key][1] += 1
                tests[key][0] += m["mark"] == "✓"
                ok &= m["mark"] == "✓"
                bug = _BUG.search(m["why"] or "")
                if m["mark"] == "✗" and bug and "?" in bug.group(1):
                    bugs[ex["id"]][bug.group(1).strip()] += 1
            exercises[ex["id"]][1] += 1
            exercises[ex["id"]][0] += ok
    flags = {s: [e["submission"] for e in entries if e.get("status") == s] for s in ("blank", "missing", "late", "refused")}
    n = max(len(graded), 1)
    return {"histogram": hist, "graded": len(graded),
            "exercise_pass_rate": {k: round(v[0] / v[1], 3) for k, v in exercises.items()},
            "test_pass_rate": {k: round(v[0] / v[1], 3) for k, v in tests.items()},
            "bugs": {k: [{"bug": b, "count": c, "share": round(c / n, 3)} for b, c in v.most_common(3)]
                     for k, v in bugs.items()},
            "flagged": flags, **_similarity(graded)}


_MAX_PAIRS = 200


def _similarity(graded: list[dict]) -> dict:
    pairs = _similar(graded)
    return {"similar": pairs[:_MAX_PAIRS], "similar_pairs": len(pairs), "similar_groups": _groups(pairs)}


def _bar(k: int, top: int) -> str:
    return "█" * round(20 * k / top) if top else ""


def markdown(report: dict) -> str:
    """The class-at-a-glance section of report.md (names escaped)."""
    c = report["class"]
    top = max(c["histogram"]) or 1
    out = ["## Class at a glance\n", f"{c['graded']} submission(s) graded.\n", "| score | learners | |",
           "| --- | ---: | --- |"]
    out += [f"| {10 * k}–{10 * k + 10} % | {n} | {_bar(n, top)} |" for k, n in enumerate(c["histogram"])]
    out += ["\n### Pass rates\n", "| exercise | passed |", "| --- | ---: |"]
    out += [f"| {_escape.md_inline(k)} | {v:.0%} |" for k, v in c["exercise_pass_rate"].items()]
    out += ["\n| test | passed |", "| --- | ---: |"]
    out += [f"| {_escape.md_inline(k)} | {v:.0%} |" for k, v in c["test_pass_rate"].items()]
    out.append("\n### Most frequent diagnosed bugs\n")
    out += [f"- {_escape.md_inline(k)}: {b['share']:.0%} {_escape.md_inline(b['bug'])}"
            for k, v in c["bugs"].items() for b in v] or ["- none"]
    out.append("\n### Flagged\n")
    out += [f"- {s}: {', '.join(_escape.md_inline(x) for x in v) or 'none'}" for s, v in c["flagged"].items()]
    out.append(f"\n### Near-identical answers (Jaccard ≥ {SIMILAR})\n")
    out += [f"- {len(g['members'])} submissions (pairwise index ≥ {g['lowest']:.2f} along the links): "
            + ", ".join(_escape.md_inline(m) for m in g["members"]) for g in c["similar_groups"]] or ["- none"]
    return "\n".join(out) + "\n"


_CSS = ("body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.45}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2rem .5rem;text-align:left}"
        ".bar{background:#4a7;height:.8rem;display:inline-block}pre{white-space:pre-wrap;background:#f6f6f6;"
        "padding:.5rem}")


def html_page(report: dict) -> str:
    """report.html: the summary table and the class at a glance, self-contained (no script)."""
    h = _escape.html
    c = report["class"]
    top = max(c["histogram"]) or 1
    def who(e: dict) -> str:
        learner = e.get("learner") or {}
        return str(learner.get("roster_name") or learner.get("name") or learner.get("id") or "")

    rows = "".join(f"<tr><td>{h(who(e))}</td><td>{h(e['submission'])}</td><td>{h(e.get('status', ''))}</td>"
                   f"<td>{e['score']:g}</td><td>{e['max_score']:g}</td></tr>" for e in report["submissions"])
    hist = "".join(f"<tr><td>{10 * k}–{10 * k + 10} %</td><td>{n}</td><td><span class=bar style=\"width:"
                   f"{12 * n / top:.1f}rem\"></span></td></tr>" for k, n in enumerate(c["histogram"]))
    rates = "".join(f"<tr><td>{h(k)}</td><td>{v:.0%}</td></tr>" for k, v in
                    list(c["exercise_pass_rate"].items()) + list(c["test_pass_rate"].items()))
    bugs = "".join(f"<li>{h(k)}: {b['share']:.0%} {h(b['bug'])}</li>" for k, v in c["bugs"].items() for b in v)
    flags = "".join(f"<li>{h(s)}: {h(', '.join(v)) or 'none'}</li>" for s, v in c["flagged"].items())
    similar = "".join(f"<li>{len(g['members'])} submissions (index ≥ {g['lowest']:.2f}): {h(', '.join(g['members']))}</li>"
                      for g in c["similar_groups"])
    return (f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>Grading report</title>"
            f"<meta http-equiv=Content-Security-Policy content=\"default-src 'none'; style-src 'unsafe-inline'\">"
            f"<style>{_CSS}</style></head><body><h1>Grading report</h1><p>Test seed {h(report.get('seed'))}</p>"
            f"<table><tr><th>learner</th><th>submission</th><th>status</th><th>score</th><th>max</th></tr>{rows}</table>"
            f"<h2>Class at a glance</h2><table>{hist}</table><h3>Pass rates</h3><table>{rates}</table>"
            f"<h3>Most frequent diagnosed bugs</h3><ul>{bugs or '<li>none</li>'}</ul><h3>Flagged</h3><ul>{flags}</ul>"
            f"<h3>Near-identical answers</h3><ul>{similar or '<li>none</li>'}</ul></body></html>\n")


def write_manual_template(report: dict, path: Path) -> int:
    """manual_template.csv: one row per learner and exercise with written reasoning worth manual
    points, ``points`` left empty to fill in; pass it back with ``--manual``. Returns the rows."""
    rows = [["submission", "exercise", "points", "comment", "manual_max", "learner", "reasoning"]]
    for e in report["submissions"]:
        for ex in e["exercises"]:
            r = ex.get("reasoning")
            if r and r.get("manual_max"):
                given = r.get("manual_points")
                learner = e.get("learner") or {}
                rows.append([e["submission"], ex["id"], "" if given is None else f"{given:g}", r.get("comment", ""),
                             f"{r['manual_max']:g}", learner.get("roster_name") or learner.get("name") or "",
                             (r.get("text") or "")[:2000]])
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([[_escape.csv_cell(c) for c in r] for r in rows])
    atomic_write(path, out.getvalue())
    return len(rows) - 1


def write_written_pages(report: dict, folder: Path) -> list[Path]:
    """One Markdown page per exercise with written reasoning: every learner's text, side by side."""
    pages: dict[str, list[str]] = defaultdict(list)
    for e in report["submissions"]:
        for ex in e["exercises"]:
            r = ex.get("reasoning")
            if not r:
                continue
            text = r.get("text") or ""
            quoted = "\n".join("> " + _escape.md_inline(line) for line in text.splitlines()) or "> (nothing written)"
            given = r.get("manual_points")
            shown = "not yet given" if given is None else f"{given:g}"
            pages[ex["id"]].append(f"## {_escape.md_inline(e['submission'])}\n\nmanual points: {shown} / "
                                   f"{r['manual_max']:g}\n\n{quoted}\n")
    written = []
    if pages:
        folder.mkdir(parents=True, exist_ok=True)
    for ex_id, parts in pages.items():
        path = folder / f"{_escape.filename(ex_id)}.md"
        atomic_write(path, f"# Written answers: {ex_id}\n\n" + "\n".join(parts))
        written.append(path)
    return written

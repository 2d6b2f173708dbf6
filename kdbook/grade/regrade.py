"""Regrade with a diff (``--previous report.json``): who gains or loses points, and why.

Learners are matched by LMS and id (the pseudonym under ``--anonymise``, which the key file keeps
stable), else by submission name. For each learner whose total changed the diff lists the
exercises whose points changed, the tests whose verdict flipped (✗ → ✓ after a fixed test, or
the reverse), the instructor's points that changed and a late penalty that changed. Learners
present in only one report are listed as added or removed.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Callable

__all__ = ["load", "diff", "lines"]

_TEST = re.compile(r"^(?P<mark>[✓✗]) (?P<label>\[(?:public|hidden)\] .+?) \([\d.]+/[\d.]+\)")


def load(path: Path) -> dict:
    """An earlier report.json; ``ValueError`` when it is not one."""
    report = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(report, dict) or not isinstance(report.get("submissions"), list):
        raise ValueError(f"{path}: not a kdbook report.json (no list of submissions)")
    return report


def _default_key(entry: dict) -> str:
    learner = entry.get("learner") or {}
    return f"{learner.get('lms')}:{learner.get('id')}" if learner.get("id") else str(entry.get("submission"))


def _tests(ex: dict) -> dict[str, str]:
    return {m["label"]: m["mark"] for m in map(_TEST.match, ex.get("messages", [])) if m}


def _manual(ex: dict) -> float:
    return float((ex.get("reasoning") or {}).get("manual_points") or 0.0)


def diff(previous: dict, current: dict, key: Callable[[dict], str] = _default_key) -> list[dict]:
    """One record per learner whose score changed (or who appeared or disappeared)."""
    before = {key(e): e for e in previous["submissions"]}
    after = {key(e): e for e in current["submissions"]}
    out = []
    for k in sorted(set(before) | set(after)):
        a, b = before.get(k), after.get(k)
        if a is None or b is None:
            e = a or b
            out.append({"learner": e["submission"], "change": "added" if a is None else "removed",
                        "before": a and a["score"], "after": b and b["score"], "why": []})
            continue
        why = []
        old_ex = {ex["id"]: ex for ex in a.get("exercises", [])}
        for ex in b.get("exercises", []):
            o = old_ex.get(ex["id"])
            if o is None or abs(o["points"] - ex["points"]) < 1e-9:
                continue
            flips = [f"{label}: {o_mark} → {mark}" for label, mark in _tests(ex).items()
                     if (o_mark := _tests(o).get(label)) and o_mark != mark]
            if abs(_manual(o) - _manual(ex)) > 1e-9:
                flips.append(f"instructor's points {_manual(o):g} → {_manual(ex):g}")
            why.append(f"{ex['id']} {o['points']:g} → {ex['points']:g}" + (f" ({'; '.join(flips)})" if flips else ""))
        pa = float((a.get("late_penalty") or {}).get("points", 0.0))
        pb = float((b.get("late_penalty") or {}).get("points", 0.0))
        if abs(pa - pb) > 1e-9:
            why.append(f"late penalty {pa:g} → {pb:g}")
        if abs(a["score"] - b["score"]) > 1e-9 or why:
            out.append({"learner": b["submission"], "change": "gains" if b["score"] > a["score"] else
                        "loses" if b["score"] < a["score"] else "same total", "before": a["score"],
                        "after": b["score"], "why": why})
    return out


def lines(records: list[dict]) -> list[str]:
    """The diff as printed lines (``regrade: alice 11 → 13 (gains): 01.kl … ✗ → ✓``)."""
    if not records:
        return ["regrade: no learner's score changed"]
    return [f"regrade: {r['learner']} {r['before'] if r['before'] is not None else '-'} → "
            f"{r['after'] if r['after'] is not None else '-'} ({r['change']})"
            + (": " + "; ".join(r["why"]) if r["why"] else "")
            for r in records]

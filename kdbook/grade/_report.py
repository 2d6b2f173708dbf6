"""Write the grader's report as JSON, CSV (one row per submission) and Markdown (private)."""
from __future__ import annotations

import csv
import json
from pathlib import Path

__all__ = ["write_json", "write_csv", "write_markdown"]


def write_json(report: dict, path: Path) -> None:
    """The full report: per submission ``submission``, ``score``, ``max_score`` and ``exercises``
    (each with ``id``, ``points``, ``max_points``, ``messages``)."""
    Path(path).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_csv(report: dict, path: Path) -> None:
    """One row per submission: its score, maximum and points per exercise id."""
    ids: list[str] = []
    for entry in report["submissions"]:
        ids += [e["id"] for e in entry["exercises"] if e["id"] not in ids]
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["submission", "score", "max_score", *ids])
        for entry in report["submissions"]:
            points = {e["id"]: e["points"] for e in entry["exercises"]}
            writer.writerow([entry["submission"], f"{entry['score']:g}", f"{entry['max_score']:g}",
                             *[f"{points[i]:g}" if i in points else "" for i in ids]])


def write_markdown(report: dict, path: Path) -> None:
    """A readable report: a summary table, then every message per submission and exercise."""
    lines = [f"# Grading report\n\nHidden-test seed: `{report['seed']}` (re-run with `--seed {report['seed']}`)\n",
             "| submission | score | max |", "| --- | ---: | ---: |"]
    for entry in report["submissions"]:
        lines.append(f"| {entry['submission']} | {entry['score']:g} | {entry['max_score']:g} |")
    for entry in report["submissions"]:
        lines.append(f"\n## {entry['submission']}: {entry['score']:g} / {entry['max_score']:g}\n")
        lines += [f"- {m}" for m in entry.get("messages", [])]
        for ex in entry["exercises"]:
            lines.append(f"\n### {ex['id']}: {ex['points']:g} / {ex['max_points']:g}\n")
            lines += [f"- {m}" for m in ex["messages"]]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")

"""Pseudonyms for anonymised grading (``--anonymise``).

Every learner gets a pseudonym ``learner-NNN``, numbered in a random order (so the numbers do not
follow the alphabet or the roster). The key (pseudonym, LMS, id, name) is written to its own
file, ``anonymise_key.csv`` beside the report, and read again on the next run, so a learner
keeps their pseudonym across regrades and a ``manual.csv`` filled against pseudonyms merges.
Reports, the Markdown and HTML pages, the written-answer pages, the manual template and the
scores CSV carry only pseudonyms; the gradebook files and the feedback files keep the LMS's
ids and names, because the LMS needs them to match each file to its learner.
"""
from __future__ import annotations

import csv
import io
import re
import secrets
from pathlib import Path, PurePosixPath

from ._escape import csv_cell
from ._report import atomic_write

__all__ = ["Pseudonyms"]


class Pseudonyms:
    """The pseudonym key, read from ``path`` when it exists."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.by_learner: dict[tuple[str, str], str] = {}
        self.rows: dict[str, dict] = {}
        self.real: dict[str, str] = {}  # pseudonymous submission -> real submission
        if self.path.exists():
            with open(self.path, newline="", encoding="utf-8") as f:
                for row in csv.DictReader(f):
                    self.by_learner[(row["lms"], row["id"])] = row["pseudonym"]
                    self.rows[row["pseudonym"]] = row

    def assign(self, entries: list[dict]) -> None:
        """Give every entry's learner a pseudonym (new learners: fresh numbers in random order)."""
        new = [e for e in entries if (e["learner"]["lms"], str(e["learner"]["id"])) not in self.by_learner]
        secrets.SystemRandom().shuffle(new)
        used = {int(m.group(1)) for p in self.by_learner.values() if (m := re.fullmatch(r"learner-(\d+)", p))}
        n = max(used, default=0)
        for e in new:
            key = (e["learner"]["lms"], str(e["learner"]["id"]))
            if key in self.by_learner:
                continue
            n += 1
            self.by_learner[key] = f"learner-{n:03d}"
        for e in entries:
            learner = e["learner"]
            p = self.by_learner[(learner["lms"], str(learner["id"]))]
            self.rows[p] = {"pseudonym": p, "lms": learner["lms"], "id": str(learner["id"]),
                            "name": learner.get("roster_name") or learner.get("name") or ""}
            e["_pseudonym"] = p
            self.real[self._submission(e)] = e["submission"]

    @staticmethod
    def _submission(entry: dict) -> str:
        source = entry.get("source")
        tail = entry.get("_file") or (PurePosixPath(str(source)).name if source else entry.get("status", ""))
        return f"{entry['_pseudonym']}/{tail}"

    def apply(self, report: dict) -> dict:
        """The report with names, ids and file names replaced by pseudonyms (a copy is expected)."""
        names: dict[str, str] = {}
        for k, r in enumerate(report.get("lms", {}).get("refused", [])):
            learner = r.get("learner") or {}
            p = self.by_learner.get((learner.get("lms"), str(learner.get("id"))))
            names[r["source"]] = f"{p}/(file {k + 1} not graded)" if p else f"(entry {k + 1})"
        for e in report["submissions"]:
            p = e.pop("_pseudonym")
            for old in (e.get("source"), e.get("submission")):
                if old:
                    names[str(old)] = self._submission({**e, "_pseudonym": p})
            e["submission"] = self._submission({**e, "_pseudonym": p})
            e["source"] = e["submission"] if e.get("source") else None
            e["superseded"] = [f"{p}/(older notebook {k + 1})" for k in range(len(e.get("superseded", [])))]
            if not e["superseded"]:
                e.pop("superseded")
            e["learner"] = {"lms": e["learner"]["lms"], "id": p, "name": p, "anonymous": True}
            e["messages"] = [self._scrub(m, names) for m in e["messages"]]
        lms = report.get("lms", {})
        lms["refused"] = [{"source": names[r["source"]], "reason": r["reason"]}
                          for k, r in enumerate(lms.get("refused", []))]
        lms["unmatched"] = [names.get(s, f"(entry {k + 1})") for k, s in enumerate(lms.get("unmatched", []))]
        lms["superseded"] = [{"source": "(older notebook)", "kept": names.get(s["kept"], "")}
                             for s in lms.get("superseded", [])]
        report["anonymised"] = True
        return report

    @staticmethod
    def _scrub(message: str, names: dict[str, str]) -> str:
        for old, new in sorted(names.items(), key=lambda kv: -len(kv[0])):
            message = message.replace(old, new)
        return message

    def translate_manual(self, manual: dict) -> dict:
        """``--manual`` rows keyed by pseudonymous submissions, keyed by the real ones."""
        return {(self.real.get(s, s), ex): v for (s, ex), v in manual.items()}

    def save(self) -> None:
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(["pseudonym", "lms", "id", "name"])
        for p in sorted(self.rows):
            row = self.rows[p]
            w.writerow([csv_cell(row[k]) for k in ("pseudonym", "lms", "id", "name")])
        atomic_write(self.path, out.getvalue())
        self.path.chmod(0o600)

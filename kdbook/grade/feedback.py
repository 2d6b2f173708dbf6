"""Feedback per learner: one self-contained HTML file (and a Markdown twin) named for the LMS upload.

Each file shows the learner's points per exercise (automatic and the instructor's apart), every
public test's line with its message, how many points the hidden tests gave and took (never
their names, inputs, expected outputs or messages), the written reasoning as submitted and
the instructor's comment from ``--manual``, and, with ``--with-solutions``, the reference
answer. Everything a submission or the LMS controls is escaped; the HTML has no script and
forbids any (Content-Security-Policy), so it opens the same everywhere.

File names let the LMS match each file to its learner:

* **Canvas** (Assignment → "Re-Upload Submissions"): Canvas takes the first two ``_``-separated
  all-digit parts of a name as the user id and the attachment id of the submission
  (``Assignment#infer_comment_context_from_filename``), so the file is
  ``{sortablename}[_LATE]_{userid}_{attachmentid}_kdbook-feedback.html``, the prefix of the
  graded file. Anonymous (``anon_``) names carry no user id: Canvas cannot match them.
* **Moodle** (View all submissions → Grading action "Upload multiple feedback files in a zip"):
  Moodle reads the participant number from ``{Full Name}_{participantid}_{plugintype}_{plugin}``
  path parts (``assignfeedback_file_zip_importer::is_valid_filename_for_import``), so the file
  goes into the download's own folder, ``{Full Name}_{id}_assignsubmission_file/kdbook-feedback.html``.
* plain files: ``{learner}_kdbook-feedback.html``.

``DIR/upload.zip`` holds the HTML files with those names, ready to upload; the Markdown files
sit beside them in DIR for reading or e-mail.
"""
from __future__ import annotations

import re
import zipfile
from pathlib import Path, PurePosixPath

from ..grading import registry
from . import _escape
from ._report import atomic_write
from .classview import _ROOT, answer_cells

__all__ = ["write_all", "render_html", "render_markdown", "comment", "feedback_name"]

_TEST = re.compile(r"^[✓✗] \[(?P<kind>public|hidden)\] .+? \((?P<got>[\d.]+)/(?P<of>[\d.]+)\)")
NAME = "kdbook-feedback"


_MAX_BYTES = 240  # a file name component: most file systems allow 255 bytes


def _fit(name: str, rest: str) -> str:
    """``name + rest`` within :data:`_MAX_BYTES` bytes, shortening only ``name`` (the learner's name:
    the LMS matches files by the ids and plugin in ``rest``, which must stay whole)."""
    while len(name) > 1 and len((name + rest).encode()) > _MAX_BYTES:
        name = name[:-1]
    return name + rest


def feedback_name(entry: dict) -> str:
    """The upload path of the learner's HTML feedback (see the module docstring)."""
    learner = entry.get("learner") or {}
    if learner.get("lms") == "canvas" and learner.get("prefix"):
        prefix = _escape.filename(learner["prefix"], limit=10_000)
        m = re.match(r"^(?P<name>.*?)(?P<ids>(_LATE)?_\d+_\d+)$", prefix)  # anonymous prefixes are short
        return _fit(m["name"], m["ids"] + f"_{NAME}.html") if m else _fit("", prefix + f"_{NAME}.html")
    if learner.get("lms") == "moodle" and learner.get("folder"):
        folder = _escape.lms_folder(learner["folder"], limit=10_000)
        name = folder.split("_", 1)[0]
        return f"{_fit(name, folder[len(name):])}/{NAME}.html"
    return _escape.filename(f"{learner.get('id') or entry.get('submission')}", limit=120) + f"_{NAME}.html"


def _split(ex: dict) -> tuple[list[str], float, float, list[str]]:
    """(public test lines, hidden points earned, hidden points possible, other messages)."""
    public, other = [], []
    got = of = 0.0
    for line in ex["messages"]:
        m = _TEST.match(line)
        if m and m["kind"] == "hidden":
            got += float(m["got"])
            of += float(m["of"])
        elif m:
            public.append(line)
        elif not line.startswith(("manual points for the written reasoning", "written reasoning `")):
            other.append(line)
    return public, got, of, other


def _manual(ex: dict) -> tuple[float, float]:
    r = ex.get("reasoning") or {}
    given = r.get("manual_points")
    return (float(given or 0.0), float(r.get("manual_max") or 0.0) if given is not None else 0.0)


def _solutions(chapter: str | None) -> dict[str, str]:
    found = sorted((_ROOT / "solutions").glob(f"{chapter}_*.ipynb")) if chapter else []
    return answer_cells(found[0]) if found else {}


def _totals(entry: dict) -> tuple[float, float, float]:
    manual = sum(_manual(ex)[0] for ex in entry["exercises"])
    penalty = float((entry.get("late_penalty") or {}).get("points", 0.0))
    return entry["score"] + penalty - manual, manual, penalty


def comment(entry: dict) -> str:
    """A one-paragraph summary for the LMS's feedback comment (Moodle's ``Feedback comments``)."""
    auto, manual, penalty = _totals(entry)
    if entry.get("status") == "missing":
        return "kdbook: no submission."
    parts = [f"{ex['id']} {ex['points']:g}/{ex['max_points']:g}" for ex in entry["exercises"]]
    return (f"kdbook: {entry['score']:g}/{entry['max_score']:g} (automatic {auto:g}, instructor {manual:g}, "
            f"late penalty {penalty:g}). " + "; ".join(parts) + (". Details in the feedback file." if parts else ""))


def _who(entry: dict) -> str:
    learner = entry.get("learner") or {}
    return learner.get("roster_name") or learner.get("name") or str(learner.get("id") or entry.get("submission"))


def render_markdown(entry: dict, solutions: dict[str, str] | None = None) -> str:
    md_inline = _escape.md_inline
    auto, manual, penalty = _totals(entry)
    out = [f"# Feedback for {md_inline(_who(entry))}\n", f"Chapter {md_inline(entry.get('chapter') or '?')}: **{entry['score']:g} / "
           f"{entry['max_score']:g}** (automatic {auto:g}, from your instructor {manual:g}, late penalty {penalty:g}); "
           f"status: {md_inline(entry.get('status', 'graded'))}.\n"]
    out += [f"- {md_inline(m)}" for m in entry.get("messages", [])]
    for ex in entry["exercises"]:
        public, got, of, other = _split(ex)
        given, most = _manual(ex)
        out.append(f"\n## {md_inline(ex['id'])}: {ex['points'] - given:g} / {ex['max_points'] - most:g} automatic point(s)"
                   + (f" + {given:g} / {most:g} from your instructor" if most else "") + "\n")
        out += [f"- {md_inline(m)}" for m in public + other]
        if of:
            out.append(f"- hidden tests: {got:g} of {of:g} point(s) earned ({of - got:g} lost)")
        r = ex.get("reasoning")
        if r:
            out.append(f"\nYour written reasoning (`{md_inline(r['name'])}`):\n")
            out += ["> " + md_inline(line) for line in (r.get("text") or "(nothing written)").splitlines()] or [">"]
            if r.get("comment"):
                out.append(f"\nYour instructor: {md_inline(r['comment'])}")
        if solutions and solutions.get(ex["id"]):
            out += ["\nReference answer:\n", "```python", solutions[ex["id"]].replace("```", "ʼʼʼ").rstrip(), "```"]
    return "\n".join(out) + "\n"


_CSS = ("body{font-family:system-ui,sans-serif;max-width:50rem;margin:2rem auto;padding:0 1rem;line-height:1.45}"
        "h1{font-size:1.6rem}h2{font-size:1.15rem;margin-top:1.6rem}"
        "pre{white-space:pre-wrap;background:#f6f6f6;padding:.5rem;border-radius:4px}.ok{color:#176b2c}"
        ".no{color:#a3161a}blockquote{border-left:3px solid #ccc;margin:0;padding-left:1rem;white-space:pre-wrap}")


def render_html(entry: dict, solutions: dict[str, str] | None = None) -> str:
    h = _escape.html
    auto, manual, penalty = _totals(entry)
    body = [f"<h1>Feedback for {h(_who(entry))}</h1>",
            f"<p>Chapter {h(entry.get('chapter') or '?')}: <strong>{entry['score']:g} / {entry['max_score']:g}</strong> "
            f"(automatic {auto:g}, from your instructor {manual:g}, late penalty {penalty:g}); status: "
            f"{h(entry.get('status', 'graded'))}.</p>"]
    if entry.get("messages"):
        body.append("<ul>" + "".join(f"<li>{h(m)}</li>" for m in entry["messages"]) + "</ul>")
    for ex in entry["exercises"]:
        public, got, of, other = _split(ex)
        given, most = _manual(ex)
        title = registry.get(ex["id"]).title if _known(ex["id"]) else ""
        body.append(f"<section><h2>{h(ex['id'])} {h(title)}: {ex['points'] - given:g} / {ex['max_points'] - most:g} "
                    "automatic point(s)" + (f" + {given:g} / {most:g} from your instructor" if most else "") + "</h2><ul>")
        body += [f"<li class={'ok' if m.startswith('✓') else 'no'}>{h(m)}</li>" for m in public]
        body += [f"<li>{h(m)}</li>" for m in other]
        if of:
            body.append(f"<li>hidden tests: {got:g} of {of:g} point(s) earned ({of - got:g} lost)</li>")
        body.append("</ul>")
        r = ex.get("reasoning")
        if r:
            body.append(f"<p>Your written reasoning (<code>{h(r['name'])}</code>):</p>"
                        f"<blockquote>{h(r.get('text') or '(nothing written)')}</blockquote>")
            if r.get("comment"):
                body.append(f"<p>Your instructor: {h(r['comment'])}</p>")
        if solutions and solutions.get(ex["id"]):
            body.append(f"<p>Reference answer:</p><pre>{h(solutions[ex['id']].rstrip())}</pre>")
        body.append("</section>")
    return ("<!DOCTYPE html><html lang=en><head><meta charset=utf-8><meta name=viewport "
            "content=\"width=device-width\"><meta http-equiv=Content-Security-Policy content=\"default-src 'none'; "
            f"style-src 'unsafe-inline'\"><title>Feedback</title><style>{_CSS}</style></head><body>"
            + "\n".join(body) + "</body></html>\n")


def _known(ex_id: str) -> bool:
    try:
        registry.get(ex_id)
        return True
    except KeyError:
        return False


def write_all(report: dict, folder: Path, *, with_solutions: bool = False) -> int:
    """Write every learner's feedback (not for learners without a submission) and ``upload.zip``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[str, str] = {}
    for entry in report["submissions"]:
        if entry.get("status") == "missing":
            continue
        solutions = _solutions(entry.get("chapter")) if with_solutions else None
        name = feedback_name(entry)
        while name in written:  # two entries of one learner (two chapters): keep both
            name = str(PurePosixPath(name).with_stem(PurePosixPath(name).stem + "-" + str(entry.get("chapter"))))
        page = render_html(entry, solutions)
        written[name] = page
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(target, page)
        atomic_write(target.with_suffix(".md"), render_markdown(entry, solutions))
    tmp = folder / ".upload.zip.tmp"
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, page in sorted(written.items()):
            zf.writestr(name, page)
    tmp.replace(folder / "upload.zip")
    return len(written)

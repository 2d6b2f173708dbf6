"""Read a class's submissions as an LMS hands them out: a zip, a folder, or notebooks.

``collect(["submissions.zip"])`` recognises

* **Canvas** "Download Submissions" (a flat zip): ``{sortablename}[_LATE]_{userid}_{attachmentid}_{filename}``,
  ``[LATE_]anon_{anonymousid}_{attachmentid}_{filename}`` for anonymous grading, and the ``-N``
  that Canvas adds before the extension of a file name uploaded again (``01_x-1.ipynb``);
  Canvas lower-cases the sortable name and drops every character that is not a letter, digit
  or ``_`` (``lib/content_zipper.rb``, ``get_filename``/``sanitize_user_name``);
* **Moodle** "Download all submissions": ``{Full Name}_{participantid}_assignsubmission_file/{filename}``
  (one folder per learner, the default since Moodle 3.1) and the flat
  ``{Full Name}_{participantid}_assignsubmission_file_{filename}``; ``Participant`` instead of the
  name under blind marking; Moodle replaces ``_`` in names by spaces;
* **plain files**: ``learner/NN_topic.ipynb``, ``learner_NN_topic.ipynb`` or ``NN_topic.ipynb``.

The format is detected from the names (the one most entries match) or forced (``lms=``). Every
entry ends in exactly one list: graded (``items``), ``superseded`` (an older notebook of the same
learner and chapter), ``refused`` (with the reason) or, for a notebook whose name matches no
pattern of the format, graded *and* listed in ``unmatched``. Entries are copied, never
extracted in place, into a private 0700 temporary folder, as new 0600 files, under names the
grader makes; the zip's own paths are only read. Refused: absolute paths and ``..``, symlinks,
encrypted entries, nested zips, non-notebooks, duplicate names, more than ``MAX_ENTRIES``
entries, an entry over ``MAX_FILE`` bytes, an entry compressed more than ``MAX_RATIO`` times,
and everything after ``MAX_TOTAL`` uncompressed bytes (a zip bomb).
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import os
import re
import stat
import tempfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from ..grading import registry
from ..grading.spec import chapter_from_filename
from . import _escape

__all__ = ["Item", "Collected", "collect", "FORMATS", "MAX_FILE", "MAX_TOTAL", "MAX_RATIO", "MAX_ENTRIES"]

FORMATS = ("auto", "canvas", "moodle", "files")
MAX_FILE = 20 * 2**20  # the grader reads no notebook larger than this either
MAX_TOTAL = 2 * 2**30
MAX_RATIO = 200  # a notebook (JSON text) compresses about 3-10 times
MAX_ENTRIES = 20_000

_IDS_AT = re.compile(r"(?=(?P<late>_LATE)?_(?P<uid>\d+)_(?P<att>\d+)_)", re.I)
_CHAPTER_FILE = re.compile(r"^\d\d_[A-Za-z0-9_]+(-\d+)?\.ipynb$", re.I)
_CANVAS_ANON = re.compile(r"^(?P<late>LATE_)?anon_(?P<anon>[A-Za-z0-9]+)_(?P<att>\d+)_(?P<file>[^/]+)$", re.I)
_MOODLE = re.compile(r"^(?P<name>[^_/]+)_(?P<uid>\d+)_assignsubmission_(?P<plugin>[a-z0-9]+)(?:_(?P<file>.*))?$")
_PLAIN = re.compile(r"^(?P<who>.+?)_(?P<file>\d\d_[^/]+)$")
_RESUBMIT = re.compile(r"^(?P<stem>.+?)-(?P<n>\d+)(?P<ext>\.[^.]+)$")


@dataclasses.dataclass
class Item:
    """One notebook to grade, and who it belongs to."""

    source: str  # the zip entry (or path) it came from, as the LMS named it
    path: Path  # the private copy that is graded
    filename: str  # the learner's own file name (``-N`` removed)
    learner: dict  # lms, id, name, anonymous, prefix/folder (for feedback file names), attachment
    late: bool = False
    mtime: _dt.datetime | None = None
    chapter: str | None = None
    order: tuple = ()


@dataclasses.dataclass
class Collected:
    """Everything read from the inputs."""

    format: str
    items: list[Item]
    refused: list[dict]  # source, reason (and learner when the name told who)
    unmatched: list[str]
    superseded: list[dict]  # source, learner id, kept (the source that counts)
    folder: Path | None  # the private temporary folder: remove it when done (see ``cleanup``)

    def cleanup(self) -> None:
        if self.folder is not None:
            import shutil

            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None


@dataclasses.dataclass
class _Entry:
    source: str  # the entry's name as the zip or folder gives it
    read: object  # () -> bytes (at most MAX_FILE + 1 bytes)
    size: int
    mtime: _dt.datetime | None

    @property
    def path(self) -> str:
        """The name with ``/`` separators, for reading who it is (:func:`_normalised`)."""
        return _normalised(self.source)


def _normalised(name: str) -> str:
    """A zip entry's name with Windows separators read as ``/`` (PowerShell's Compress-Archive writes
    ``\\``): names are only read, never extracted, so a backslash is no danger."""
    return name.replace("\\", "/")


def _zip_name(info: zipfile.ZipInfo) -> str:
    name = info.filename
    if not info.flag_bits & 0x800:  # no UTF-8 flag: zipfile decoded cp437; most tools wrote UTF-8 anyway
        try:
            name = name.encode("cp437").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
    return name


def _unsafe(name: str) -> str | None:
    if "\x00" in name:
        return "a NUL character in the name"
    name = _normalised(name)
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "an absolute path (never extracted)"
    if ".." in PurePosixPath(name).parts:
        return "a path that leaves the folder ('..'; never extracted)"
    return None


def _zip_entries(path: Path, refused: list[dict]) -> list[_Entry]:
    out: list[_Entry] = []
    seen: set[str] = set()
    total = 0
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        for k, info in enumerate(infos):
            name = _zip_name(info)
            source = name
            if k >= MAX_ENTRIES:
                refused.append({"source": source, "reason": f"the zip has more than {MAX_ENTRIES} entries"})
                continue
            if info.is_dir():
                continue
            why = _unsafe(name)
            mode = info.external_attr >> 16
            if why is None and stat.S_ISLNK(mode):
                why = "a symbolic link (never followed)"
            if why is None and info.flag_bits & 0x1:
                why = "an encrypted entry"
            if why is None and _normalised(name) in seen:
                why = "a duplicate name (an earlier entry has the same name)"
            if why is None and info.file_size > MAX_FILE:
                why = f"larger than {MAX_FILE // 2**20} MB uncompressed"
            if why is None and info.file_size > 2**20 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
                why = f"compressed more than {MAX_RATIO} times (a zip bomb?)"
            if why is None and total + info.file_size > MAX_TOTAL:
                why = f"the zip holds more than {MAX_TOTAL // 2**30} GB uncompressed; this and later entries not read"
            seen.add(_normalised(name))
            if why:
                refused.append({"source": source, "reason": why})
                continue
            total += info.file_size

            def read(info=info, zf_path=path) -> bytes:
                with zipfile.ZipFile(zf_path) as z, z.open(info) as f:  # the header's size may lie: cap the read
                    return f.read(MAX_FILE + 1)

            try:
                mtime = _dt.datetime(*info.date_time)
            except ValueError:
                mtime = None
            out.append(_Entry(source, read, info.file_size, mtime))
    return out


def _folder_entries(root: Path, refused: list[dict]) -> list[_Entry]:
    out: list[_Entry] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for d in list(dirnames):
            if os.path.islink(os.path.join(dirpath, d)):
                refused.append({"source": os.path.relpath(os.path.join(dirpath, d), root),
                                "reason": "a symbolic link (never followed)"})
                dirnames.remove(d)
        dirnames.sort()
        for f in sorted(filenames):
            full = Path(dirpath) / f
            rel = full.relative_to(root).as_posix()
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                refused.append({"source": rel, "reason": "a symbolic link (never followed)"})
            elif not stat.S_ISREG(st.st_mode):
                refused.append({"source": rel, "reason": "not a regular file"})
            elif st.st_size > MAX_FILE:
                refused.append({"source": rel, "reason": f"larger than {MAX_FILE // 2**20} MB"})
            else:
                out.append(_Entry(rel, lambda full=full: full.read_bytes()[: MAX_FILE + 1], st.st_size,
                                  _dt.datetime.fromtimestamp(st.st_mtime)))
    return out


def _canvas(source: str) -> dict | None:
    base = PurePosixPath(source).name
    m = _CANVAS_ANON.match(base)
    if m:
        prefix = base[: m.start("file") - 1]
        return {"lms": "canvas", "id": f"anon_{m['anon']}", "name": None, "anonymous": True, "late": bool(m["late"]),
                "attachment": m["att"], "prefix": prefix, "file": m["file"]}
    # {sortablename}[_LATE]_{userid}_{attachmentid}_{filename}: a name or a file name may hold "_<digits>_" too,
    # so every place the ids could start is a candidate. The one whose file name is a chapter's notebook
    # counts; a candidate left of it means the learner's own name holds ids ("evil_103_9999"), which could
    # pass one learner's file off as another's: refused, to be checked by hand.
    cands = [m for m in _IDS_AT.finditer(base) if m.start() > 0 and base[m.end("att") + 1:]]
    if not cands:
        return None
    files = [base[m.end("att") + 1:] for m in cands]
    chapter = [k for k, f in enumerate(files) if _CHAPTER_FILE.match(f) and f[:2] in registry.CHAPTERS]
    k = chapter[0] if chapter else 0
    m = cands[k]
    if any(c.start() < m.start() and c["uid"] != m["uid"] for c in cands[:k]):
        ids = sorted({c["uid"] for c in cands[: k + 1]}, key=int)
        return {"lms": "canvas", "ambiguous": ids, "file": files[k], "late": False}
    prefix = base[: m.end("att")]
    return {"lms": "canvas", "id": m["uid"], "name": base[: m.start()], "anonymous": False, "late": bool(m["late"]),
            "attachment": m["att"], "prefix": prefix, "file": files[k]}


def _moodle(source: str) -> dict | None:
    parts = PurePosixPath(source).parts
    m = _MOODLE.match(parts[0]) if parts else None
    if not m or (len(parts) == 1 and not m["file"]):
        return None
    anonymous = m["name"] == "Participant"
    folder = f"{m['name']}_{m['uid']}_assignsubmission_{m['plugin']}"
    file = "/".join(([m["file"]] if m["file"] else []) + list(parts[1:]))
    return {"lms": "moodle", "id": m["uid"], "name": None if anonymous else m["name"], "anonymous": anonymous,
            "late": False, "plugin": m["plugin"], "folder": folder, "flat": len(parts) == 1, "file": file}


def _plain(source: str, default: str) -> dict:
    parts = PurePosixPath(source).parts
    base = parts[-1]
    if default:  # a notebook named on the command line: its own name, else its folder's, tells who
        m = _PLAIN.match(base)
        who = m["who"] if m else parts[-2] if len(parts) > 1 and parts[-2] not in ("/", ".", "..") else default
        return {"lms": "files", "id": who, "name": who, "anonymous": False, "late": False, "file": base,
                "direct": True}
    if len(parts) > 1:
        who, file = parts[0], base
    else:
        m = _PLAIN.match(base)
        who, file = (m["who"], m["file"]) if m else (default or PurePosixPath(base).stem, base)
    return {"lms": "files", "id": who, "name": who, "anonymous": False, "late": False, "file": file}


def detect(sources: list[str]) -> str:
    """The format most of ``sources`` match: ``"canvas"``, ``"moodle"`` or ``"files"``."""
    canvas = sum(_canvas(s) is not None for s in sources)
    moodle = sum(_moodle(s) is not None for s in sources)
    if max(canvas, moodle) == 0:
        return "files"
    return "canvas" if canvas > moodle else "moodle"


def _resubmission(file: str) -> tuple[str, int]:
    m = _RESUBMIT.match(file)
    if m and m["ext"].lower() == ".ipynb":
        return m["stem"] + m["ext"], int(m["n"])
    return file, 0


def _chapter(filename: str, data: bytes) -> str | None:
    found = chapter_from_filename(filename, registry.CHAPTERS)
    if found:
        return found
    try:
        meta = json.loads(data.decode("utf-8", errors="replace")).get("metadata", {})
        chapter = meta.get("kdbook", {}).get("chapter")
    except (ValueError, AttributeError, RecursionError):
        return None
    return chapter if isinstance(chapter, str) and chapter in registry.CHAPTERS else None


def _write_private(folder: Path, k: int, filename: str, data: bytes) -> Path:
    sub = folder / f"{k:05d}"
    sub.mkdir(mode=0o700)
    path = sub / _escape.filename(filename)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return path


def collect(inputs: list[Path], *, lms: str = "auto") -> Collected:
    """Read zips, folders and notebooks; return what to grade and what was left out, and why.

    Raises ``ValueError`` naming the input when a zip cannot be opened or ``lms`` is unknown.
    """
    if lms not in FORMATS:
        raise ValueError(f"lms must be one of {', '.join(FORMATS)}; got {lms!r}")
    refused: list[dict] = []
    entries: list[tuple[_Entry, str]] = []  # entry, default learner for a lone top-level file
    for given in map(Path, inputs):
        if given.is_dir():
            entries += [(e, "") for e in _folder_entries(given, refused)]
        elif given.suffix.lower() == ".zip":
            if not zipfile.is_zipfile(given):
                raise ValueError(f"{given}: not a readable zip")
            try:
                entries += [(e, "") for e in _zip_entries(given, refused)]
            except (zipfile.BadZipFile, OSError, ValueError) as err:
                raise ValueError(f"{given}: not a readable zip ({err})") from None
        elif given.is_file():
            st = given.stat()
            entries.append((_Entry(str(given), lambda g=given: g.read_bytes()[: MAX_FILE + 1], st.st_size,
                                   _dt.datetime.fromtimestamp(st.st_mtime)), given.stem))
        else:
            raise ValueError(f"{given}: no such file or folder")
    fmt = detect([e.path for e, _ in entries]) if lms == "auto" else lms
    folder = Path(tempfile.mkdtemp(prefix="kdbook-lms-"))  # 0700
    try:
        return _read_all(entries, fmt, folder, refused)
    except BaseException:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
        raise


def _learner_of(path: str, fmt: str, default: str = "") -> tuple[dict, bool]:
    """Who an entry's name says it is, and whether the name matched the format."""
    learner = _canvas(path) if fmt == "canvas" else _moodle(path) if fmt == "moodle" else None
    matched = learner is not None or fmt == "files"
    if learner is None:
        learner = _plain(path, default)
        if not matched:
            learner["lms"] = "unmatched"
    return learner, matched


def _attribute(refused: list[dict], fmt: str) -> None:
    """Name the learner of entries refused for their path or kind before the format was known (a
    symbolic link, ``..``, an absolute path, a zip bomb...), so that the learner is reported as
    ``refused`` with the reason, not as ``missing``."""
    for r in refused:
        if "learner" in r:
            continue
        parts = [p for p in PurePosixPath(_normalised(r["source"]).lstrip("/")).parts if p not in ("..", ".")]
        if parts and re.match(r"^[A-Za-z]:$", parts[0]):
            parts = parts[1:]
        if not parts:
            continue
        learner, matched = _learner_of("/".join(parts), fmt)
        if matched and not learner.get("ambiguous"):
            learner.pop("file", None)
            learner.pop("late", None)
            r["learner"] = learner


def _read_all(entries: list, fmt: str, folder: Path, refused: list[dict]) -> Collected:
    items: list[Item] = []
    unmatched: list[str] = []
    _attribute(refused, fmt)
    for k, (entry, default) in enumerate(entries):
        learner, matched = _learner_of(entry.path, fmt, default)
        if learner.get("ambiguous"):
            ids = learner["ambiguous"]
            who = ", ".join(ids[:-1]) + " or " + ids[-1]
            refused.append({"source": entry.source, "reason": f"the name could be learner {who}'s (the learner's own "
                            "name holds ids): check it by hand"})
            continue
        file, attempt = _resubmission(learner.pop("file"))
        base = PurePosixPath(file).name
        late = learner.pop("late")
        if not base.lower().endswith(".ipynb"):
            what = "a nested zip (not opened)" if base.lower().endswith(".zip") else "not a notebook (.ipynb)"
            refused.append({"source": entry.source, "reason": what, "learner": learner})
            continue
        try:
            data = entry.read()
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError, RuntimeError) as err:
            refused.append({"source": entry.source, "reason": f"unreadable ({type(err).__name__}: {str(err)[:80]})",
                            "learner": learner})
            continue
        if len(data) > MAX_FILE:
            refused.append({"source": entry.source, "reason": f"larger than {MAX_FILE // 2**20} MB", "learner": learner})
            continue
        if data[:4] == b"PK\x03\x04":
            refused.append({"source": entry.source, "reason": "a zip file named .ipynb (not opened)", "learner": learner})
            continue
        if not matched:
            unmatched.append(entry.source)
        path = _write_private(folder, k, base, data)
        order = (int(learner.get("attachment") or 0), attempt, entry.mtime or _dt.datetime.min, entry.source)
        items.append(Item(entry.source, path, base, learner, late, entry.mtime, _chapter(base, data), order))
    kept, superseded = _latest(items)
    return Collected(fmt, kept, refused, unmatched, superseded, folder)


def _latest(items: list[Item]) -> tuple[list[Item], list[dict]]:
    """The latest notebook per learner and chapter (highest Canvas attachment id, then ``-N``, then
    the entry's time); the others are listed, not graded."""
    best: dict[tuple, Item] = {}

    def key_of(item: Item) -> tuple:  # notebooks named one by one on the command line all count
        return (item.learner["lms"], item.learner["id"], item.chapter or item.filename,
                item.source if item.learner.get("direct") else "")

    for item in items:
        key = key_of(item)
        if key not in best or item.order > best[key].order:
            best[key] = item
    winners = {id(i) for i in best.values()}
    kept = [i for i in items if id(i) in winners]
    superseded = [{"source": i.source, "learner": i.learner["id"],
                   "kept": best[key_of(i)].source}
                  for i in items if id(i) not in winners]
    return kept, superseded

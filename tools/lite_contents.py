"""Which notebooks go into the JupyterLite site, and in which version (issue 28, item 7).

The site publishes the COMMITTED notebooks of ``notebooks/`` and ``exercises/`` (``git show
HEAD:path``), never the files on disk: an instructor's test answers typed into an exercise
notebook, or a half-edited chapter, stay local, and the build names what it left out. Without a
git checkout (a source tarball) the files on disk are used. Either way an exercise notebook whose
answer cells differ from those it was generated with (its ``metadata.kdbook.answer_digest``) is
refused, and ``solutions/`` is never read.

Standard library only (runs in the site's build environment, which has no numpy and no kdbook).
"""
from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

#: Folders published (every ``*.ipynb`` in them); solutions are left out on purpose.
CONTENT_DIRS = ("notebooks", "exercises")


class EditedExerciseError(RuntimeError):
    """An exercise notebook's answer cells were edited in place."""


def _tags(cell: dict) -> list[str]:
    return cell.get("metadata", {}).get("tags", []) or []


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return src if isinstance(src, str) else "".join(src)


def answers_edited(nb: dict) -> list[str]:
    """Exercise ids whose answer cells differ from the digest the notebook was generated with.

    The digest is kdbook.exercises.answer_digest's: SHA-256 of the sources of the cells tagged with
    the id, joined by ``"\\n\\x00"``. A notebook without a digest counts as edited.
    """
    recorded = nb.get("metadata", {}).get("kdbook", {}).get("answer_digest")
    if not isinstance(recorded, dict):
        return ["(no answer digest)"]
    edited = []
    for ex_id, digest in recorded.items():
        text = "\n\x00".join(_source(c) for c in nb.get("cells", []) if ex_id in _tags(c))
        if hashlib.sha256(text.encode()).hexdigest() != digest:
            edited.append(ex_id)
    return edited


def _git(root: Path, *args: str) -> bytes | None:
    try:
        out = subprocess.run(["git", "-C", str(root), *args], capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout


def notebooks_to_publish(root: Path, log=print) -> dict[str, bytes]:
    """``{"notebooks/00_start_here.ipynb": bytes, ...}``: what the site serves.

    Raises EditedExerciseError for an exercise notebook with edited answer cells.
    """
    listing = _git(root, "ls-tree", "-r", "--name-only", "HEAD", "--", *CONTENT_DIRS)
    files: dict[str, bytes] = {}
    if listing is not None:
        for rel in listing.decode().splitlines():
            if rel.endswith(".ipynb") and not rel.endswith(".bak.ipynb") and rel.count("/") == 1:
                files[rel] = _git(root, "show", f"HEAD:{rel}")
        local = sorted(rel for rel, data in files.items()
                       if not (root / rel).exists() or (root / rel).read_bytes() != data)
        if local:
            log(f"building from the committed notebooks (git HEAD); not published, edited locally: {', '.join(local)}")
    else:
        log("not a git checkout: publishing the notebooks as they are on disk")
        for folder in CONTENT_DIRS:
            for nb in sorted((root / folder).glob("*.ipynb")):
                if not nb.name.endswith(".bak.ipynb"):
                    files[f"{folder}/{nb.name}"] = nb.read_bytes()
    for rel, data in files.items():
        if rel.startswith("exercises/"):
            edited = answers_edited(json.loads(data))
            if edited:
                raise EditedExerciseError(
                    f"{rel} has answer cells edited in place ({', '.join(edited)}): the site would publish them. "
                    "Regenerate it (python -m kdbook.exercises generate) or restore it (git checkout -- "
                    f"{rel}), then build again")
    assert not any(rel.startswith("solutions/") for rel in files)
    return files

"""Copy the submissions into the grader's private folder before anything runs (private).

Every submission is read once, without following a symbolic link, into a 0700 folder of the
grader's, and graded from that copy: a submission that runs first cannot rewrite a later one on
disk, and the instructor's files are never graded in place. A submission that is a symbolic link
(to ``solutions/`` or anywhere) or not a regular file is refused with a message.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Iterator

__all__ = ["staged", "MAX_BYTES"]

MAX_BYTES = 20 * 2**20  # the reader's limit (``_extract``); a larger file is copied only that far


def _copy(src: Path, dst: Path) -> str | None:
    """Copy ``src`` to ``dst``; return why it was refused, or None."""
    try:
        if src.is_symlink():
            return "refused: the submission is a symbolic link; submit the notebook file itself"
        fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except OSError as err:
        return f"refused: the submission could not be opened ({err.strerror or err})"
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            return "refused: the submission is not a regular file"
        data = f.read(MAX_BYTES + 1)
    dst.parent.mkdir(mode=0o700)
    with open(os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600), "wb") as out:
        out.write(data)
    return None


@contextlib.contextmanager
def staged(paths: list[Path]) -> Iterator[list[tuple[Path | None, str | None]]]:
    """Per submission: (path of its private copy, None) or (None, why it was refused)."""
    folder = Path(tempfile.mkdtemp(prefix="kdbook-grade-stage-"))
    try:
        out = []
        for i, path in enumerate(paths):
            dst = folder / f"{i:05d}" / (Path(path).name or "submission.ipynb")
            why = _copy(Path(path), dst)
            out.append((None, why) if why else (dst, None))
        yield out
    finally:
        shutil.rmtree(folder, ignore_errors=True)

"""Escaping of text a submission or an LMS download controls (private).

Learner names, file names, written reasoning and messages reach HTML pages, Markdown reports,
CSV files that a spreadsheet opens and file names on disk. Each has its own hazard:

* HTML: markup and script (``<script>``, ``onerror=``): :func:`html` escapes ``& < > " '``;
* Markdown: tables broken by ``|``, links and images injected by ``[..](..)``, raw HTML:
  :func:`md` escapes Markdown's punctuation and HTML, and puts everything on one line;
* CSV: a cell beginning with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is run as a
  formula by Excel, LibreOffice and Google Sheets ("CSV injection", OWASP): :func:`csv_cell`
  prefixes it with ``'`` (numbers such as ``-3.5`` and a lone ``-`` stay as they are);
* file names: :func:`filename` keeps letters (accents too), digits, ``.``, ``-``, ``_`` and
  spaces, and never yields ``.``, ``..`` or an empty name.
"""
from __future__ import annotations

import html as _html
import re
import unicodedata

__all__ = ["html", "md", "csv_cell", "filename"]

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def html(text: object) -> str:
    """``text`` as HTML text or attribute value: ``&``, ``<``, ``>``, ``"`` and ``'`` escaped."""
    return _html.escape(str(text), quote=True)


def md(text: object, *, limit: int | None = None) -> str:
    """``text`` as literal Markdown on one line (table cells, list items, headings).

    Markdown punctuation is backslash-escaped, ``<`` and ``&`` become entities, and line breaks
    become spaces. ``limit`` truncates (with an ellipsis) before escaping.
    """
    s = " ".join(str(text).split())
    if limit is not None and len(s) > limit:
        s = s[: limit - 1] + "…"
    s = s.replace("&", "&amp;").replace("<", "&lt;")
    return _MD_SPECIAL.sub(r"\\\1", s)


def csv_cell(value: object) -> str:
    """A CSV cell a spreadsheet will not run as a formula: ``'`` before ``= + - @``, tab or CR."""
    s = "" if value is None else str(value)
    if s.startswith(_FORMULA_START) and s != "-" and not _NUMBER.fullmatch(s):
        return "'" + s
    return s


def filename(name: object, *, limit: int = 150) -> str:
    """A safe file-name component: letters, digits, ``. - _`` and spaces; other characters ``_``."""
    s = unicodedata.normalize("NFC", str(name))
    s = "".join(c if (c.isalnum() or c in "._- ") else "_" for c in s).strip(" .")
    s = s[:limit].strip(" .")
    return s if s and s not in {".", ".."} else "unnamed"

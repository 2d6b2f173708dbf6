"""Escape what a submission controls for the medium it is written to (private).

A submission controls its file name, the messages built from its errors (exception names and
messages, the first line of a failing cell), its stderr and its written reasoning. None of it may
change the structure of a report:

* :func:`md_inline`: one line of Markdown text (a table cell, a heading, a list item): control
  characters and line breaks become visible ``⏎``, every character Markdown or HTML could read as
  markup is backslash-escaped or written as an entity;
* :func:`md_block`: a multi-line text shown verbatim, as a fenced code block whose fence is longer
  than any run of backticks in the text;
* :func:`csv_cell`: a spreadsheet cell that is never a formula (``=``, ``+``, ``-``, ``@``, tab, CR
  at its start get a leading apostrophe; "CSV injection", OWASP) and holds no line break; a plain
  number such as ``-3.5`` stays a number;
* :func:`html`: HTML text or attribute value (``& < > " '`` escaped), for the feedback pages;
* :func:`filename`: a safe file-name component (letters, accents too, digits, ``. - _`` and
  spaces), never ``.``, ``..`` or empty — for the files written per learner;
* :func:`lms_folder`: an LMS's own folder name kept as it is (an LMS matches files by the
  ``_``-separated parts of it), but for the characters no file name may hold, which become spaces.

>>> md_inline("21 / 21\\n## forged | <!-- x")
'21 / 21⏎\\\\#\\\\# forged \\\\| &lt;!-- x'
>>> csv_cell("=HYPERLINK(1)"), csv_cell("-1.5", number=True)
("'=HYPERLINK(1)", '-1.5')
"""
from __future__ import annotations

import html as _html
import re
import unicodedata

__all__ = ["one_line", "md_inline", "md_block", "csv_cell", "from_csv_cell", "html", "filename", "lms_folder"]

# C0/C1 controls, DEL, and the Unicode line and paragraph separators.
_BREAKS = re.compile(r"\r\n|[\r\n\x0b\x0c\x85\u2028\u2029]")
_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")
#: Characters that can start markup inside a line (emphasis, code, links, tables, strike-through, a
#: heading's closing sequence); ``<`` and ``&`` become entities, and nothing here is at a line's start.
_MARKUP = re.compile(r"([\\`*_{}\[\]#|~])")


def _plain(text: object) -> str:
    text = str(text)
    return text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates


def one_line(text: object, limit: int = 2000) -> str:
    """``text`` on one line (for a terminal): line breaks shown as ``⏎``, control characters replaced."""
    return _CONTROLS.sub("�", _BREAKS.sub("⏎", _plain(text)[:limit].replace("\t", " ")))


def md_inline(text: object, limit: int = 2000) -> str:
    """``text`` as one line of literal Markdown (never a heading, table break, link, comment or HTML)."""
    return _MARKUP.sub(r"\\\1", _html.escape(one_line(text, limit), quote=False))


def md_block(text: object) -> list[str]:
    """``text`` as a fenced code block (lines of Markdown): shown verbatim, never interpreted."""
    text = _CONTROLS.sub("�", _BREAKS.sub("\n", _plain(text)))
    runs = [len(r) for r in re.findall(r"`+", text)]
    fence = "`" * max(3, max(runs, default=0) + 1)
    return [f"{fence}text", *text.split("\n"), fence]


_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def csv_cell(text: object, *, number: bool = False) -> str:
    """A CSV cell a spreadsheet shows as text: no formula, no line break (numbers stay numbers)."""
    text = "" if text is None else _plain(text)
    if number or text == "-" or _NUMBER.fullmatch(text):
        return text
    text = _CONTROLS.sub("�", _BREAKS.sub("⏎", text))
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r", "'") else text


def from_csv_cell(text: str) -> str:
    """Undo :func:`csv_cell`'s leading apostrophe (for a key column read back: ``'-x`` is ``-x``).

    >>> from_csv_cell(csv_cell("-dash/02.ipynb")), from_csv_cell(csv_cell("'quoted")), from_csv_cell("'plain")
    ('-dash/02.ipynb', "'quoted", "'plain")
    """
    return text[1:] if text[:1] == "'" and text[1:2] in ("=", "+", "-", "@", "\t", "\r", "'") else text


def html(text: object) -> str:
    """``text`` as HTML text or attribute value: ``&``, ``<``, ``>``, ``"`` and ``'`` escaped."""
    return _html.escape(str(text), quote=True)


def filename(name: object, *, limit: int = 150) -> str:
    """A safe file-name component: letters, digits, ``. - _`` and spaces; other characters ``_``."""
    s = unicodedata.normalize("NFC", str(name))
    s = "".join(c if (c.isalnum() or c in "._- ") else "_" for c in s).strip(" .")
    s = s[:limit].strip(" .")
    return s if s and s not in {".", ".."} else "unnamed"


_NOT_IN_NAMES = re.compile(r'[\x00-\x1f\x7f-\x9f/\\:*?"<>|\u2028\u2029]')


def lms_folder(name: object, *, limit: int = 200) -> str:
    r"""An LMS's folder name as it is (apostrophes, parentheses, accents kept), but for control
    characters and ``/ \ : * ? " < > |``, which become spaces; never ``_`` (Moodle splits the name
    on ``_`` to find the participant), never empty, ``.`` or ``..``.

    >>> lms_folder("Seán O'Brien (SO)_201_assignsubmission_file")
    "Seán O'Brien (SO)_201_assignsubmission_file"
    >>> lms_folder("a/b\\c_7_assignsubmission_file")
    'a b c_7_assignsubmission_file'
    """
    s = _NOT_IN_NAMES.sub(" ", unicodedata.normalize("NFC", _plain(name)))[:limit].strip(" .")
    return s if s and s not in {".", ".."} else "unnamed"

"""Two fixes the JupyterLite site needs on top of jupyterlite-core 0.6.4 (used by ``lite_site.py``).

Keyboard on widgets (issue 28)
    JupyterLab starts its application with ``bubblingKeydown: true``: its keyboard shortcuts see a
    key press only after the focused element (a slider handle, a dropdown) has handled it, and a
    handled key (``preventDefault``) is then left alone. JupyterLite 0.6.4's apps call
    ``app.start()`` without it, so the shortcuts run first, in the capture phase: with a slider's
    handle focused, ArrowRight/ArrowLeft match the notebook's command-mode shortcuts
    ``notebook:move-cursor-heading-below-or-expand`` / ``...-above-or-collapse`` (selector
    ``.jp-Notebook.jp-mod-commandMode:not(.jp-mod-readWrite) :focus``), which call
    ``preventDefault`` and ``stopPropagation``: the handle never gets the key and focus jumps to a
    cell. Upstream fixed it with a one-line change, ``await app.start({ bubblingKeydown: true })``
    in ``app/index.template.js`` (jupyterlite PR #1702, in 0.7.0; its 0.6.x backport was never
    released). :func:`bubble_keydown` makes the same change in the built apps.

Matplotlib's font list
    Pyodide 0.27.7's matplotlib 3.8.4 is patched to read its font list from
    ``matplotlib/fontlist.json`` inside the package, but the wheel ships a list in the format of
    matplotlib 3.9 (``_version`` 390, with the build machine's fonts), which 3.8.4 (``_version``
    330) rejects: every new kernel rebuilt the list on first import (about 5 s) and printed
    "Matplotlib is building the font cache; this may take a moment." on stderr, a red box. The
    list depends only on the fonts inside matplotlib (Pyodide has no system fonts), stored with
    paths relative to its data folder. ``lite_fontlist-v330.json`` (beside this file) is that
    list, written by matplotlib 3.8.4 in the site's kernel
    (``json.dumps(font_manager.fontManager, cls=font_manager._JSONEncoder, indent=1)``).
    :func:`fontlist_wheel` packs it as ``matplotlib/fontlist.json`` into a small wheel whose lock
    entry depends on matplotlib (Pyodide installs a package only after its dependencies, so the
    file replaces the wrong one) and claims the import name ``matplotlib`` (so ``import
    matplotlib`` loads it; the lock maps an import name to the last package listing it, hence
    :func:`check_lock_order`). The official matplotlib wheel itself is shipped unchanged.
"""
from __future__ import annotations

import base64
import hashlib
import re
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: The matplotlib the font list was written by (its format is versioned, v330 = matplotlib 3.8).
FONTLIST_MATPLOTLIB = "3.8.4"
FONTLIST = HERE / "lite_fontlist-v330.json"
#: The lock's name of the font-list package (sorts after "matplotlib": see check_lock_order).
FONTLIST_PACKAGE = "matplotlib-fontlist"
FONTLIST_VERSION = "1.0"

# `window.jupyterapp = app` (only with exposeAppInBrowser), then `await app.start()`, minified.
_START = re.compile(r"(window\.jupyterapp=([A-Za-z_$][\w$]*)\),await \2\.start\()\)")
_STARTED_BUBBLING = re.compile(r"await [A-Za-z_$][\w$]*\.start\(\{bubblingKeydown:!0\}\)")


class FixError(RuntimeError):
    """A fix cannot be applied to this build (the built files are not what it expects)."""


def bubble_keydown(site: Path) -> int:
    """Start every JupyterLite app of the built ``site`` with ``bubblingKeydown: true``; return how many.

    Fails if no app start is found (a different jupyterlite-core), so the fix cannot silently lapse.
    """
    patched = already = 0
    for path in sorted((site / "build").glob("*.js")):
        text = path.read_text(encoding="utf-8")
        new, n = _START.subn(r"\1{bubblingKeydown:!0})", text)
        if n:
            path.write_text(new, encoding="utf-8")
            patched += n
        already += len(_STARTED_BUBBLING.findall(text))
    if not patched and not already:
        raise FixError("found no `await app.start()` in the built JupyterLite apps: the keyboard fix for "
                       "widgets (tools/lite_fixes.py) does not fit this jupyterlite-core")
    return patched


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def fontlist_wheel(out: Path, matplotlib_version: str) -> Path:
    """Write the wheel carrying matplotlib's font list into ``out``; return its path.

    ``matplotlib_version`` is the site's (from the Pyodide lock): the list was written by
    FONTLIST_MATPLOTLIB and must not be shipped with another matplotlib.
    """
    if matplotlib_version != FONTLIST_MATPLOTLIB:
        raise FixError(f"{FONTLIST.name} was written by matplotlib {FONTLIST_MATPLOTLIB}, the site has "
                       f"{matplotlib_version}: write it again in the site's kernel (see tools/lite_fixes.py)")
    project = FONTLIST_PACKAGE.replace("-", "_")
    dist = f"{project}-{FONTLIST_VERSION}.dist-info"
    files = {
        "matplotlib/fontlist.json": FONTLIST.read_bytes(),
        f"{dist}/METADATA": (f"Metadata-Version: 2.1\nName: {FONTLIST_PACKAGE}\nVersion: {FONTLIST_VERSION}\n"
                             "Summary: matplotlib's font list for the kdbook JupyterLite site\n").encode(),
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: kdbook tools/lite_fixes.py\nRoot-Is-Purelib: true\n"
                         b"Tag: py3-none-any\n",
    }
    record = "".join(f"{name},{_record_hash(data)},{len(data)}\n" for name, data in files.items())
    files[f"{dist}/RECORD"] = (record + f"{dist}/RECORD,,\n").encode()
    wheel = out / f"{project}-{FONTLIST_VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():  # fixed timestamps: the wheel's sha256 depends on its content only
            zf.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data, zipfile.ZIP_DEFLATED)
    return wheel


def fontlist_lock_entry(wheel: Path, sha256: str) -> dict:
    """The lock entry of the font-list wheel: installed after matplotlib, loaded by ``import matplotlib``."""
    return {"name": FONTLIST_PACKAGE, "version": FONTLIST_VERSION, "file_name": wheel.name,
            "install_dir": "site", "sha256": sha256, "package_type": "package", "imports": ["matplotlib"],
            "depends": ["matplotlib"], "unvendored_tests": False, "shared_library": False}


def check_lock_order(lock_text: str) -> None:
    """Pyodide maps an import name to the last lock package (in file order) that lists it:
    the font-list package must come after matplotlib, else ``import matplotlib`` skips it."""
    import json

    order = list(json.loads(lock_text)["packages"])
    if order.index(FONTLIST_PACKAGE) < order.index("matplotlib"):
        raise FixError(f"{FONTLIST_PACKAGE} comes before matplotlib in pyodide-lock.json: "
                       "`import matplotlib` would not load the font list")

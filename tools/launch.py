#!/usr/bin/env python3
"""Launch links (Colab, Kaggle, Binder) and the Colab/Kaggle setup block, from one place.

    python3 tools/launch.py --write     # update README's chapter map, every chapter's badges and setup cells
    python3 tools/launch.py --check     # exit 1 if anything is out of date (tests/test_launch.py runs it)

* The README chapter map gets an "Open" column with Colab, Kaggle and Binder badges per chapter.
* The first Markdown cell of every chapter (notebooks/) gets one line of the same badges (between
  ``<!-- launch -->`` markers); exercise notebooks get theirs from their solution notebook (the
  generator copies it), whose first Markdown cell carries the badges of the *exercise* notebook.
* The first code cell of every chapter and solution notebook (exercise notebooks are generated from
  the solutions) starts with :data:`SETUP_BLOCK`: on Colab or Kaggle it installs kdbook from the
  repository at the workbook's release tag, with ``--no-deps`` so that the numpy, matplotlib and
  ipywidgets the platform preloaded stay as they are; everywhere else (JupyterLab, Binder, the
  JupyterLite site) it does nothing and prints nothing. It is plain Python, no magic.

Standard library only. The repository and release tag are :data:`REPO` and :func:`release_tag`.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPO = "kdbook/kdbook"  # owner/name on GitHub: change it in a fork
START, END = "# >>> kdbook setup for Colab and Kaggle", "# <<< kdbook setup"
BADGE_START, BADGE_END = "<!-- launch -->", "<!-- /launch -->"


def release_tag() -> str:
    """The tag the notebooks and the install point at: ``v`` + the version in pyproject.toml."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    return "v" + re.search(r'^version = "([^"]+)"', text, flags=re.M).group(1)


def colab_url(path: str) -> str:
    return f"https://colab.research.google.com/github/{REPO}/blob/{release_tag()}/{path}"


def kaggle_url(path: str) -> str:
    return f"https://kaggle.com/kernels/welcome?src=https://github.com/{REPO}/blob/{release_tag()}/{path}"


def binder_url(path: str) -> str:
    return f"https://mybinder.org/v2/gh/{REPO}/{release_tag()}?urlpath=lab/tree/{path}"


def badges(path: str) -> str:
    """Markdown badges opening ``path`` (relative to the repository root) on Colab, Kaggle and Binder."""
    return (f"[![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(path)}) "
            f"[![Open in Kaggle](https://kaggle.com/static/images/open-in-kaggle.svg)]({kaggle_url(path)}) "
            f"[![Launch on Binder](https://mybinder.org/badge_logo.svg)]({binder_url(path)})")


def setup_block() -> str:
    """Plain Python (no ``%pip`` magic), so the cell also runs where a notebook is executed as a script
    (the grader's tests, nbconvert): on Colab and Kaggle ``sys.executable -m pip`` is the kernel's pip."""
    return (f"{START} (elsewhere this does nothing)\n"
            "import os, subprocess, sys\n"
            "if \"google.colab\" in sys.modules or \"KAGGLE_KERNEL_RUN_TYPE\" in os.environ:\n"
            "    subprocess.check_call([sys.executable, \"-m\", \"pip\", \"install\", \"--quiet\", \"--no-deps\",\n"
            f"                           \"kdbook @ git+https://github.com/{REPO}@{release_tag()}\"])\n"
            "    if \"google.colab\" in sys.modules:  # Colab draws ipywidgets 8 only with its custom widget manager\n"
            "        from google.colab import output\n"
            "        output.enable_custom_widget_manager()\n"
            f"{END}\n")


def chapter_notebooks() -> list[Path]:
    return sorted(p for d in ("notebooks", "exercises", "solutions") for p in (ROOT / d).glob("[0-9][0-9]_*.ipynb")
                  if not p.name.endswith(".bak.ipynb"))


def _with_badges(text: str, path: str) -> str:
    line = f"{BADGE_START} {badges(path)} {BADGE_END}"
    if BADGE_START in text:
        return re.sub(re.escape(BADGE_START) + r".*?" + re.escape(BADGE_END), lambda _: line, text, flags=re.S)
    head, _, rest = text.partition("\n")
    return f"{head}\n\n{line}\n{rest}" if rest else f"{head}\n\n{line}\n"


def _with_setup(text: str) -> str:
    if START in text:
        text = re.sub(re.escape(START) + r".*?" + re.escape(END) + r"\n", "", text, flags=re.S)
    return setup_block() + "\n" + text.lstrip("\n")


def update_notebook(path: Path) -> bool:
    """Badges in the first Markdown cell (chapters, exercises), the setup block in the first code cell
    (chapters, solutions). Returns whether the file changed."""
    raw = path.read_text(encoding="utf-8")
    nb = json.loads(raw)
    rel = path.relative_to(ROOT).as_posix()
    folder = path.parent.name
    if folder == "exercises":  # generated from solutions/: nothing to write here (the test checks the result)
        return False
    if folder == "solutions":
        rel = f"exercises/{path.name}"
    for kind, wanted, edit in (("markdown", folder in ("notebooks", "solutions"), lambda t: _with_badges(t, rel)),
                               ("code", folder in ("notebooks", "solutions"), _with_setup)):
        if not wanted:
            continue
        cell = next((c for c in nb["cells"] if c["cell_type"] == kind), None)
        if cell is None:
            continue
        cell["source"] = edit("".join(cell["source"])).splitlines(keepends=True)
    out = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
    if out != raw:
        path.write_text(out, encoding="utf-8")
        return True
    return False


def update_readme(text: str) -> str:
    """Give every chapter-map row an "Open" column (third) with the chapter's badges."""
    lines = text.splitlines(keepends=True)
    out = []
    for line in lines:
        if line.startswith("| # | Notebook |") and "| Open |" not in line:
            line = line.replace("| # | Notebook |", "| # | Notebook | Open |", 1)
        elif line.startswith("|---|---|") and out and "| Open |" in out[-1] and line.count("|") < out[-1].count("|"):
            line = "|---" + line
        else:
            m = re.match(r"\| *\d+ *\| *\[[^\]]*\]\((notebooks/\d\d_[^)]+\.ipynb)\) *\|", line)
            if m:
                cells = line.rstrip("\n").split("|")
                open_cell = f" {badges(m.group(1))} "
                if len(cells) >= 4 and "colab-badge" in cells[3]:
                    cells[3] = open_cell
                else:
                    cells.insert(3, open_cell)
                line = "|".join(cells) + "\n"
        out.append(line)
    return "".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="update README and the notebooks")
    mode.add_argument("--check", action="store_true", help="exit 1 when anything is out of date")
    args = parser.parse_args(argv)
    stale = []
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    new = update_readme(text)
    if new != text:
        stale.append("README.md")
        if args.write:
            readme.write_text(new, encoding="utf-8")
    for path in chapter_notebooks():
        before = path.read_text(encoding="utf-8")
        if update_notebook(path):
            stale.append(path.relative_to(ROOT).as_posix())
            if args.check:
                path.write_text(before, encoding="utf-8")
    for name in stale:
        print(("updated " if args.write else "out of date: ") + name)
    return 1 if (stale and args.check) else 0


if __name__ == "__main__":
    sys.exit(main())

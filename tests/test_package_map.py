"""docs/package_map.md names every module of kdbook (issue 23), so the map stays true."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from kdbook._moved import MOVED


ROOT = Path(__file__).resolve().parents[1]
MAP = (ROOT / "docs" / "package_map.md").read_text(encoding="utf-8")


def _modules() -> list[str]:
    out = []
    for path in sorted((ROOT / "kdbook").rglob("*.py")):
        rel = path.relative_to(ROOT / "kdbook").with_suffix("")
        parts = rel.parts
        if parts[-1] in ("__init__", "__main__") or (len(parts) == 1 and parts[0] in MOVED):
            continue
        out.append(".".join(parts))
    return out


@pytest.mark.parametrize("module", _modules())
def test_every_module_is_in_the_package_map(module):
    *package, name = module.split(".")
    if package and package[0] in ("plotting", "widgets", "grading", "grade", "exercises"):
        # these packages are described as a whole; their folder must be on the map
        assert f"`{package[0]}/`" in MAP, f"docs/package_map.md does not mention the package {package[0]}/"
        return
    shown = ".".join(package + [name]) if package else name
    assert re.search(rf"`{re.escape(shown)}`|`{re.escape(name)}`", MAP), (
        f"kdbook.{module} is not on docs/package_map.md: add a line saying what it holds")

"""``workbook.py lab`` turns JupyterLab's news pop-up off without overriding a learner's own choice
(issue 28, item 8)."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("workbook", ROOT / "workbook.py")
workbook = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(workbook)

NOTIFY = "@jupyterlab/apputils-extension:notification"


def _overrides(prefix: Path) -> dict:
    """What JupyterLab itself reads as overrides from this environment."""
    su = pytest.importorskip("jupyterlab_server.settings_utils")
    return su._get_overrides(str(prefix / "share" / "jupyter" / "lab" / "settings"))[0]


def test_lab_writes_the_news_off_default_where_jupyterlab_reads_it(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(workbook, "ensure_venv", lambda extra: tmp_path / "bin" / "python")
    monkeypatch.setattr(workbook, "venv_dir", lambda: tmp_path)
    monkeypatch.setattr(workbook.subprocess, "call", lambda cmd, **kw: calls.append(cmd) or 0)
    monkeypatch.chdir(tmp_path)
    assert workbook.main(["lab"]) == 0
    assert calls and calls[0][1:4] == ["-m", "jupyter", "lab"]
    assert _overrides(tmp_path)[NOTIFY] == {"fetchNews": "false", "checkForUpdates": False}


def test_a_learners_own_settings_are_kept(tmp_path):
    path = tmp_path / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    path.parent.mkdir(parents=True)
    mine = {NOTIFY: {"fetchNews": "true"}, "@jupyterlab/apputils-extension:themes": {"theme": "JupyterLab Dark"}}
    path.write_text(json.dumps(mine))
    workbook.quiet_lab_defaults(tmp_path)
    got = _overrides(tmp_path)
    assert got[NOTIFY] == {"fetchNews": "true", "checkForUpdates": False}
    assert got["@jupyterlab/apputils-extension:themes"] == {"theme": "JupyterLab Dark"}
    before = path.read_text()
    workbook.quiet_lab_defaults(tmp_path)
    assert path.read_text() == before


def test_a_broken_overrides_file_is_left_alone(tmp_path, capsys):
    path = tmp_path / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    workbook.quiet_lab_defaults(tmp_path)
    assert path.read_text() == "{not json"
    assert "not valid JSON" in capsys.readouterr().out



def test_install_builds_the_font_cache_so_the_first_figure_shows_no_note(tmp_path):
    """Issue 28 (8): after installing, a learner's first figure does not rebuild matplotlib's font cache.

    Matplotlib prints "Matplotlib is building the font cache; this may take a moment." (a red
    stderr box in a notebook) when that rebuild takes over 5 s, as it does on a slow or busy
    machine; with the cache built at install time the first import only reads it.
    """
    import os
    import subprocess
    import sys

    cache = tmp_path / "mpl"
    env = {**os.environ, "MPLCONFIGDIR": str(cache)}
    workbook.warm_caches(sys.executable, env=env)
    built = sorted(cache.glob("fontlist-*.json"))
    assert len(built) == 1, f"no font cache in {cache}: {list(cache.iterdir()) if cache.exists() else 'missing'}"
    stamp = built[0].stat().st_mtime_ns
    code = "import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt; plt.figure()"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0 and "font cache" not in done.stderr, done.stderr
    assert built[0].stat().st_mtime_ns == stamp  # read, not rebuilt

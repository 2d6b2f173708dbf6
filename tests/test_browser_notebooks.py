"""Run the workbook in real JupyterLab, in headless Chromium, the way a learner does.

One JupyterLab server per test session serves a temporary copy of the repository's notebook
folders (so nothing the browser does can touch the committed notebooks). For every notebook in
``notebooks/`` plus one solution and one exercise notebook, the test opens it, clears the outputs,
runs all cells, waits until every cell has run, and checks what the learner sees: no error or
traceback, every figure drawn, the math typeset, every widget rendered, and (in each chapter) a
widget that answers a key press with new output. A screenshot of each notebook goes to
``build/screenshots/`` and the seconds per notebook to ``build/browser_timings.json``.

Select these tests alone with ``pytest -m browser``; skip them with ``-m "not browser"``.
"""
from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import sys
import time
from pathlib import Path

import nbformat
import pytest

from _labpage import VIEWPORT, check_outputs, open_notebook, read_cells, run_all, screenshot, settle, widget_responds
from _labserver import LAB_FLAGS, LabServer, free_port, write_lab_settings

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT_DIR = ROOT / "build" / "screenshots"
TIMINGS_FILE = ROOT / "build" / "browser_timings.json"
SERVED_DIRS = ("notebooks", "solutions", "exercises")

pytestmark = pytest.mark.browser


def _notebooks_to_check() -> list[str]:
    """Every chapter notebook, plus the first solution and first exercise notebook (if any)."""
    chosen = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "notebooks").glob("*.ipynb"))
    for folder in ("solutions", "exercises"):
        found = sorted((ROOT / folder).glob("*.ipynb"))
        if found:
            chosen.append(found[0].relative_to(ROOT).as_posix())
    return chosen


NOTEBOOKS = _notebooks_to_check()


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def lab(tmp_path_factory, request):
    """A fresh JupyterLab server on 127.0.0.1 serving a temporary copy of the notebooks."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    base = tmp_path_factory.mktemp("lab")
    served = base / "root"
    for folder in SERVED_DIRS:  # same layout as the repository, so relative links resolve
        if (ROOT / folder).is_dir():
            shutil.copytree(ROOT / folder, served / folder, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    write_lab_settings(base / "settings")
    env = dict(
        os.environ,
        JUPYTERLAB_SETTINGS_DIR=str(base / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(base / "workspaces"),
        JUPYTER_RUNTIME_DIR=str(base / "runtime"),
        PYTHONHASHSEED="0",
    )
    port, token = free_port(), secrets.token_hex(16)
    cmd = [sys.executable, "-m", "jupyter", "lab", f"--port={port}", f"--ServerApp.token={token}",
           f"--ServerApp.root_dir={served}", *LAB_FLAGS]
    server = LabServer(cmd, port=port, token=token, cwd=served, env=env, log_path=base / "server.log")
    server.served = served
    server.timings = {}
    try:
        server.wait_until_ready(timeout=90)
        yield server
    finally:
        server.stop()
        _report_timings(server.timings, request.config)


def _report_timings(timings: dict, config) -> None:
    if not timings:
        return
    TIMINGS_FILE.parent.mkdir(parents=True, exist_ok=True)
    TIMINGS_FILE.write_text(json.dumps(timings, indent=2) + "\n")
    lines = ["", "JupyterLab in headless Chromium, seconds per notebook (open + run all + checks):"]
    for path, t in timings.items():
        run = "did not finish" if t["run_all_s"] is None else f"{t['run_all_s']:5.1f} s"
        lines.append(f"  {path:<45} {t['total_s']:6.1f} s   (run all cells {run})")
    lines.append(f"  {'total':<45} {sum(t['total_s'] for t in timings.values()):6.1f} s")
    capture = config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        print("\n".join(lines), flush=True)


@pytest.fixture(scope="session")
def browser(playwright_instance):
    chromium = playwright_instance.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    try:
        yield chromium
    finally:
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        yield page
    finally:
        context.close()


# --------------------------------------------------------------------------- tests


def test_start_notebook_is_covered():
    """The notebook the README and Binder open is among the notebooks checked in the browser."""
    assert "notebooks/00_start_here.ipynb" in NOTEBOOKS


@pytest.mark.parametrize("rel", NOTEBOOKS)
def test_notebook_runs_in_jupyterlab(lab, page, rel):
    start = time.perf_counter()
    committed = nbformat.read(lab.served / rel, as_version=4)  # the copy the server serves
    panel = None
    run_all_s = None
    try:
        panel = page.locator(f"#{open_notebook(page, lab, rel)}")
        run_start = time.perf_counter()
        run_all(page, rel)
        run_all_s = time.perf_counter() - run_start
        settle(page, panel)
        check_outputs(page, panel, rel, read_cells(page, rel), committed)
        is_chapter = rel.startswith("notebooks/")
        if is_chapter or panel.locator(".jupyter-widgets").count():
            responded = widget_responds(page, panel)
            if is_chapter:
                assert responded, f"{rel}: no widget answered a key press with new output"
            # A callback error shows up only after the interaction: check the outputs again.
            check_outputs(page, panel, rel, read_cells(page, rel), committed)
    finally:
        if panel is not None:
            screenshot(page, panel, rel, SCREENSHOT_DIR)
        for session in lab.api("/api/sessions"):
            if session["path"] == rel:
                lab.api(f"/api/sessions/{session['id']}", "DELETE")
        lab.timings[rel] = {"total_s": round(time.perf_counter() - start, 1), "run_all_s": run_all_s and round(run_all_s, 1)}

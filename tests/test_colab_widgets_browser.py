"""A chapter-3 slider answers a key press under ipywidgets 7.7.1, Colab's version (issue 26).

``test_colab_env.py`` runs every chapter with Colab's packages but has no browser front end, and
the JupyterLab test (``test_browser_notebooks.py``) presses slider keys on ipywidgets 8. Colab's
own front end cannot be run here (no network but the package registries), so this is the closest
environment that can be built: Python 3.12 with Colab's pins (numpy 2.0.2, matplotlib 3.10.0,
ipywidgets 7.7.1) and the JupyterLab that ipywidgets 7's front end is built for, JupyterLab 3.6
with jupyterlab_widgets 1.x, in ``build/venv-colab-lab3``; kdbook installed with ``--no-deps`` as
the setup cell installs it. In headless Chromium, chapter 3 runs top to bottom without an error
output or "Error displaying widget", every widget view renders, and pressing ArrowRight (or
ArrowLeft) on a slider handle changes a widget's output. Group ``browser`` (slow); skipped, with the
reason, only when there is no Python 3.12 or the registry cannot supply the pins.
"""
from __future__ import annotations

import os
import secrets
import shutil
import time
from pathlib import Path

import nbformat
import pytest

from _labpage import _WIDGET_MIME, _WIDGET_VIEWS, VIEWPORT, open_notebook, read_cells, run_all, settle, widget_responds
from _labserver import LAB_FLAGS, LabServer, free_port, write_lab_settings
from test_colab_env import COLAB_PINS, _run, pinned_venv

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / "build" / "venv-colab-lab3"
#: ipywidgets 7's JupyterLab front end (jupyterlab_widgets 1.x) is a JupyterLab 3 extension.
LAB3 = ("jupyterlab==3.6.8", "jupyterlab_widgets~=1.1", "ipykernel", "threadpoolctl")
CHAPTER = "notebooks/03_temperature_and_soft_targets.ipynb"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def lab3_python() -> Path:
    return pinned_venv(VENV, (*COLAB_PINS, *LAB3), ".kdbook-colab-lab3", "Colab's pins with JupyterLab 3")


@pytest.fixture(scope="module")
def lab3(lab3_python, tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    base = tmp_path_factory.mktemp("lab3")
    served = base / "root"
    shutil.copytree(ROOT / "notebooks", served / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    write_lab_settings(base / "settings")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # kdbook as installed, not this checkout
    env.update(JUPYTERLAB_SETTINGS_DIR=str(base / "settings"), JUPYTERLAB_WORKSPACES_DIR=str(base / "workspaces"),
               JUPYTER_RUNTIME_DIR=str(base / "runtime"), PYTHONHASHSEED="0")
    port, token = free_port(), secrets.token_hex(16)
    cmd = [lab3_python, "-m", "jupyter", "lab", f"--port={port}", f"--ServerApp.token={token}",
           f"--ServerApp.root_dir={served}", *LAB_FLAGS]
    server = LabServer([str(c) for c in cmd], port=port, token=token, cwd=served, env=env,
                       log_path=base / "server.log")
    try:
        server.wait_until_ready(timeout=120)
        yield server
    finally:
        server.stop()


def test_the_environment_has_ipywidgets_7_and_jupyterlab_3(lab3_python):
    code = ("import sys, numpy, ipywidgets, jupyterlab, jupyterlab_widgets; print(sys.version_info[:2], "
            "numpy.__version__, ipywidgets.__version__, jupyterlab.__version__, jupyterlab_widgets.__version__)")
    done = _run([lab3_python, "-c", code])
    got = done.stdout.split()
    assert done.returncode == 0 and got[:3] == ["(3,", "12)", "2.0.2"] and got[3] == "7.7.1", done.stdout + done.stderr
    assert got[4].startswith("3.6.") and got[5].startswith("1."), done.stdout


def test_a_chapter_3_slider_answers_a_key_press_under_ipywidgets_7(lab3, playwright_instance):
    chromium = playwright_instance.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    try:
        page = chromium.new_context(viewport=VIEWPORT).new_page()
        page.set_default_timeout(30_000)
        start = time.perf_counter()
        panel = page.locator(f"#{open_notebook(page, lab3, CHAPTER)}")
        run_all(page, CHAPTER)  # fails on any error output
        settle(page, panel)
        cells = read_cells(page, CHAPTER)
        text = panel.locator(".jp-Cell-outputArea").all_text_contents()
        assert not [t for t in text if "Error displaying widget" in t or "Traceback" in t], text
        views = sum(1 for c in cells for o in c["outputs"] if _WIDGET_MIME in o["mimes"])
        committed = nbformat.read(ROOT / CHAPTER, as_version=4)
        assert views == sum(1 for c in committed.cells for o in c.get("outputs", []) if _WIDGET_MIME in o.get("data", {}))
        assert views and panel.locator(_WIDGET_VIEWS).count() == views, "not every widget view rendered"
        responded = widget_responds(page, panel)
        assert responded, "no slider of chapter 3 answered ArrowRight/ArrowLeft with new output under ipywidgets 7.7.1"
        print(f"\nipywidgets 7.7.1 + JupyterLab 3.6: {CHAPTER} ran and {responded} answered "
              f"in {time.perf_counter() - start:.1f} s")
    finally:
        chromium.close()

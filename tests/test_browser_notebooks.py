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
import re
import secrets
import shutil
import sys
import time
from pathlib import Path

import nbformat
import pytest

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
RUN_TIMEOUT_S = 300  # all cells of one notebook
KERNEL_READY_TIMEOUT_S = 90
SHOT_MAX_HEIGHT = 12000  # px per screenshot; taller notebooks are shot in several parts
VIEWPORT = {"width": 1280, "height": 900}

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
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
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


# --------------------------------------------------------------------------- page helpers

# Finds the open notebook panel for a path (window.jupyterapp exists thanks to expose_app_in_browser).
_JS_PANEL = """
(path) => {
  const app = window.jupyterapp;
  if (!app || !app.shell) return null;
  for (const w of app.shell.widgets('main')) {
    if (w.context && w.context.path === path && w.content && w.content.widgets) return w;
  }
  return null;
}
"""

_JS_PANEL_ID = f"(path) => {{ const p = ({_JS_PANEL})(path); return p && p.isAttached && p.context.isReady ? p.id : null; }}"

# What the notebook model holds after the run: per cell its type, source, prompt and outputs.
_JS_CELLS = f"""
(path) => {{
  const panel = ({_JS_PANEL})(path);
  return panel.content.widgets.map((cell) => {{
    const m = cell.model;
    const entry = {{type: m.type, source: m.sharedModel.getSource(), prompt: null, outputs: [],
                   typeset: cell.node.querySelectorAll('mjx-container').length}};
    if (m.type === 'code') {{
      const prompt = cell.node.querySelector('.jp-InputPrompt');
      entry.prompt = prompt ? prompt.textContent.trim() : null;  // innerText is '' off screen
      entry.executionCount = m.executionCount;
      entry.outputs = m.outputs.toJSON().map((o) => ({{
        output_type: o.output_type, name: o.name || null,
        mimes: o.data ? Object.keys(o.data) : [],
        text: o.output_type === 'error' ? `${{o.ename}}: ${{o.evalue}}` : (typeof o.text === 'string' ? o.text : (o.text || []).join('')),
      }}));
    }}
    return entry;
  }});
}}
"""

_JS_KERNEL_STATUS = """
() => [...document.querySelectorAll('.jp-StatusBar-TextItem')].map((e) => e.textContent.trim())
"""

_JS_COMMAND = "([cmd]) => window.jupyterapp.commands.execute(cmd)"

# What a widget shows: images, Output-widget text and HTML widget text (not the controls and
# their readouts, which change on a key press whether or not the callback ran).
_JS_WIDGET_SIGNATURE = """
(root) => {
  const parts = [];
  for (const img of root.querySelectorAll('img')) parts.push('img:' + img.src);
  for (const el of root.querySelectorAll('.widget-output, .widget-html-content, .widget-label-basic')) {
    parts.push('txt:' + el.textContent);
  }
  return parts.join('|');
}
"""

# Text of all output areas (textContent: innerText is empty for cells the browser skips off screen).
_JS_OUTPUT_TEXT = """
(root) => [...root.querySelectorAll('.jp-Cell-outputArea')].map((e) => e.textContent).join('\\n')
"""

_JS_IMAGES = """
(root) => [...root.querySelectorAll('.jp-OutputArea-output img')].map(
  (img) => ({complete: img.complete, width: img.naturalWidth, height: img.naturalHeight}))
"""

_WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
# A cell's own outputs (not those inside an Output widget) whose content is a rendered widget.
_WIDGET_VIEWS = ".jp-Cell-outputArea > .jp-OutputArea-child > .jp-OutputArea-output:has(> .jupyter-widgets)"
# Height of the cells (scrollHeight also counts the blank "scroll past the end" padding, which
# grows with the viewport).
_JS_CONTENT_HEIGHT = """
(e) => {
  const cells = e.querySelectorAll('.jp-Cell');
  if (!cells.length) return e.clientHeight;
  const bottom = cells[cells.length - 1].getBoundingClientRect().bottom;
  return Math.ceil(bottom - e.getBoundingClientRect().top + e.scrollTop + 24);
}
"""
_PROMPT_DONE = re.compile(r"^\[\d+\]:?$")
_PROMPT_BUSY_OR_DONE = re.compile(r"^\[(\*|\d+)\]:?$")
_KERNEL_IDLE = re.compile(r"^(?!No Kernel).*\| Idle$")
_MATH = re.compile(r"(?<![\\$])\$\$?[^$\n]+?\$\$?")
_CODE = re.compile(r"```.*?```|`[^`\n]*`", re.S)


def _poll(fn, timeout: float, interval: float = 0.25, what: str = "condition"):
    """Call ``fn`` until it returns something truthy; return that, or fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def _output_text(page, panel) -> str:
    return page.evaluate(_JS_OUTPUT_TEXT, panel.element_handle())


def _kernel_idle(page) -> bool:
    return any(_KERNEL_IDLE.match(text) for text in page.evaluate(_JS_KERNEL_STATUS))


def _code_cells(cells: list[dict]) -> list[dict]:
    return [c for c in cells if c["type"] == "code" and c["source"].strip()]


def _first_error(cells: list[dict]) -> str | None:
    for i, cell in enumerate(cells):
        for out in cell["outputs"]:
            if out["output_type"] == "error":
                return f"cell {i}: {out['text']}"
    return None


def _open_notebook(page, lab, rel: str) -> str:
    """Open ``rel`` in a fresh workspace; return the DOM id of its notebook panel."""
    page.goto(f"{lab.base_url}/lab/tree/{rel}?reset&token={lab.token}", wait_until="domcontentloaded")
    return _poll(lambda: page.evaluate(_JS_PANEL_ID, rel), 90, 0.5, f"JupyterLab to open {rel}")


def _run_all(page, rel: str) -> None:
    """Clear outputs, run all cells once the kernel is really ready, wait until all have run."""
    page.evaluate(_JS_COMMAND, ["notebook:clear-all-cell-outputs"])
    stale = [c["prompt"] for c in _code_cells(page.evaluate(_JS_CELLS, rel)) if _PROMPT_BUSY_OR_DONE.match(c["prompt"] or "")]
    assert not stale, f"prompts still show old execution counts after clearing: {stale}"
    # The execution indicator reads idle before the kernel exists ("No Kernel | Initializing"):
    # wait for the status bar, send run-all, and confirm execution really started (retry once).
    for attempt in range(2):
        _poll(lambda: _kernel_idle(page), KERNEL_READY_TIMEOUT_S, 0.5, "the status bar to show an idle kernel")
        page.evaluate(_JS_COMMAND, ["notebook:run-all-cells"])
        try:
            _poll(lambda: any(_PROMPT_BUSY_OR_DONE.match(c["prompt"] or "") for c in page.evaluate(_JS_CELLS, rel)),
                  10, 0.25, "the first cell to start")
            break
        except AssertionError:
            if attempt:
                raise

    def finished():
        cells = page.evaluate(_JS_CELLS, rel)
        code = _code_cells(cells)
        error = _first_error(cells)
        if error and _kernel_idle(page):  # run-all stops at an error: report it, don't time out
            raise AssertionError(f"{rel}: error output in {error}")
        return all(_PROMPT_DONE.match(c["prompt"] or "") for c in code) and _kernel_idle(page)

    try:
        _poll(finished, RUN_TIMEOUT_S, 0.5, f"every cell of {rel} to finish")
    except AssertionError as err:
        prompts = [c["prompt"] for c in _code_cells(page.evaluate(_JS_CELLS, rel))]
        raise AssertionError(f"{err}; prompts {prompts}; status bar {page.evaluate(_JS_KERNEL_STATUS)}") from None


def _settle(page, panel) -> None:
    """Wait (bounded) until widgets stop loading, images have loaded and MathJax has run."""
    def settled():
        text = _output_text(page, panel)
        images = page.evaluate(_JS_IMAGES, panel.element_handle())
        return "Loading widget" not in text and all(i["complete"] for i in images)

    try:
        _poll(settled, 20, 0.5, "widgets and images to finish loading")
    except AssertionError:
        pass  # the checks below name whatever did not load
    page.wait_for_timeout(500)


def _check_outputs(page, panel, rel: str, cells: list[dict], committed) -> None:
    """No errors, every figure drawn, math typeset, every widget rendered."""
    problems = []
    for i, cell in enumerate(cells):
        for out in cell["outputs"]:
            if out["output_type"] == "error" or (out["output_type"] == "stream" and out["name"] == "stderr"):
                problems.append(f"cell {i} has {out['output_type']} output: {out['text'][:500]!r}")
    stderr = panel.locator('[data-mime-type="application/vnd.jupyter.stderr"]')
    if stderr.count():
        problems.append(f"error/stderr output shown (e.g. in a widget): {stderr.first.text_content()[:500]!r}")
    text = _output_text(page, panel)
    for phrase in ("Error displaying widget", "Loading widget", "Traceback (most recent call last)"):
        if phrase in text:
            problems.append(f"the notebook shows {phrase!r}")
    if re.search(r"<Figure size \d+x\d+ with \d+ Axes>", text):
        problems.append("a figure is shown as its text repr '<Figure size ...>' instead of an image")

    # Figures: each cell that has a figure in the committed notebook has one now, and every
    # image in an output area has actually loaded.
    assert len(committed.cells) == len(cells), "the browser shows a different number of cells"
    for i, (old, new) in enumerate(zip(committed.cells, cells)):
        if old.cell_type == "code" and any("image/png" in o.get("data", {}) for o in old.get("outputs", [])):
            if not any(m.startswith("image/") for o in new["outputs"] for m in o["mimes"]):
                problems.append(f"cell {i} had a figure in the committed notebook but drew none")
    images = page.evaluate(_JS_IMAGES, panel.element_handle())
    model_images = sum(1 for c in cells for o in c["outputs"] if any(m.startswith("image/") for m in o["mimes"]))
    if len(images) < model_images:
        problems.append(f"{model_images} image outputs but only {len(images)} <img> elements on the page")
    broken = [i for i in images if not (i["complete"] and i["width"] > 0 and i["height"] > 0)]
    if broken:
        problems.append(f"{len(broken)} of {len(images)} images did not load")

    # Math: every markdown cell with $...$ shows MathJax output, with no MathJax errors.
    for i, cell in enumerate(cells):
        if cell["type"] == "markdown" and _MATH.search(_CODE.sub("", cell["source"])):
            if cell["typeset"] == 0:
                problems.append(f"markdown cell {i} has $...$ math but nothing was typeset")
    merror = panel.locator("mjx-merror")
    if merror.count():
        problems.append(f"MathJax could not typeset: {merror.first.text_content()[:200]!r}")

    # Widgets: every widget view output rendered a widget.
    model_views = sum(1 for c in cells for o in c["outputs"] if _WIDGET_MIME in o["mimes"])
    rendered = panel.locator(_WIDGET_VIEWS).count()
    if rendered < model_views:
        problems.append(f"{model_views} widget outputs but only {rendered} rendered widgets")
    assert not problems, f"{rel}:\n  " + "\n  ".join(problems)


def _widget_responds(page, panel) -> str | None:
    """Press keys on each slider (or pick another dropdown option) until a widget's output changes.

    Returns a description of the widget that responded, or None if none did.
    """
    views = panel.locator(_WIDGET_VIEWS)
    for k in range(views.count()):
        view = views.nth(k)
        before = page.evaluate(_JS_WIDGET_SIGNATURE, view.element_handle())
        handles = view.locator(".noUi-handle")
        for h in range(handles.count()):
            handle = handles.nth(h)
            handle.scroll_into_view_if_needed()
            for key, presses in (("ArrowRight", 1), ("ArrowLeft", 2)):  # a handle at its maximum moves left
                handle.focus()
                for _ in range(presses):
                    handle.press(key)
                try:
                    _poll(lambda: page.evaluate(_JS_WIDGET_SIGNATURE, view.element_handle()) != before, 10, 0.25)
                    return f"widget {k}, slider {h} ({key})"
                except AssertionError:
                    continue
        selects = view.locator("select")
        for s in range(selects.count()):
            select = selects.nth(s)
            options = select.locator("option").all_text_contents()
            current = select.evaluate("(e) => e.options[e.selectedIndex] && e.options[e.selectedIndex].text")
            other = next((o for o in options if o != current), None)
            if other is None:
                continue
            select.select_option(label=other)
            try:
                _poll(lambda: page.evaluate(_JS_WIDGET_SIGNATURE, view.element_handle()) != before, 10, 0.25)
                return f"widget {k}, dropdown {s}"
            except AssertionError:
                continue
    return None


def _screenshot(page, panel, rel: str) -> list[Path]:
    """Screenshot the whole notebook: make the viewport as tall as the notebook (in parts if huge)."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    stem = rel.removesuffix(".ipynb").replace("/", "__")
    for old in SCREENSHOT_DIR.glob(f"{stem}*.png"):
        old.unlink()
    scroller = panel.locator(".jp-WindowedPanel-outer").first
    chrome = VIEWPORT["height"] - scroller.evaluate("(e) => e.clientHeight")
    height = 0
    for _ in range(4):  # off-screen cells are laid out at their real height once visible: re-measure
        measured = scroller.evaluate(_JS_CONTENT_HEIGHT)
        if measured == height:
            break
        height = measured
        part_height = min(height, SHOT_MAX_HEIGHT)
        page.set_viewport_size({"width": VIEWPORT["width"], "height": part_height + chrome})
        page.wait_for_timeout(1000)
    shots = []
    parts = -(-height // part_height)
    for part in range(parts):
        scroller.evaluate("(e, y) => { e.scrollTop = y; }", part * part_height)
        page.wait_for_timeout(500)
        path = SCREENSHOT_DIR / (f"{stem}.png" if parts == 1 else f"{stem}_part{part + 1}.png")
        panel.screenshot(path=str(path))
        shots.append(path)
    page.set_viewport_size(VIEWPORT)
    return shots


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
        panel = page.locator(f"#{_open_notebook(page, lab, rel)}")
        run_start = time.perf_counter()
        _run_all(page, rel)
        run_all_s = time.perf_counter() - run_start
        _settle(page, panel)
        _check_outputs(page, panel, rel, page.evaluate(_JS_CELLS, rel), committed)
        is_chapter = rel.startswith("notebooks/")
        if is_chapter or panel.locator(".jupyter-widgets").count():
            responded = _widget_responds(page, panel)
            if is_chapter:
                assert responded, f"{rel}: no widget answered a key press with new output"
            # A callback error shows up only after the interaction: check the outputs again.
            _check_outputs(page, panel, rel, page.evaluate(_JS_CELLS, rel), committed)
    finally:
        if panel is not None:
            _screenshot(page, panel, rel)
        for session in lab.api("/api/sessions"):
            if session["path"] == rel:
                lab.api(f"/api/sessions/{session['id']}", "DELETE")
        lab.timings[rel] = {"total_s": round(time.perf_counter() - start, 1), "run_all_s": run_all_s and round(run_all_s, 1)}

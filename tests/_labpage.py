"""Drive a notebook in JupyterLab through Playwright: open, run all, check, screenshot (private).

Used by ``test_browser_notebooks.py``. Everything reads JupyterLab's own model through
``window.jupyterapp`` (the server runs with ``--LabApp.expose_app_in_browser=True``) or the DOM of
the notebook panel. Texts are read with ``textContent``: ``innerText`` is empty for cells the
browser skips off screen (``content-visibility``).
"""
from __future__ import annotations

import re
import time
from pathlib import Path

RUN_TIMEOUT_S = 300  # all cells of one notebook
KERNEL_READY_TIMEOUT_S = 90
SHOT_MAX_HEIGHT = 12000  # px per screenshot; taller notebooks are shot in several parts
VIEWPORT = {"width": 1280, "height": 900}

# Finds the open notebook panel for a path (window.jupyterapp exists thanks to expose_app_in_browser).
_JS_PANEL = """
(path) => {
  const app = window.jupyterapp;
  if (!app || !app.shell) return null;
  const found = app.shell.widgets('main');  // an iterable in JupyterLab 4, a Lumino 1 iterator in 3
  const all = [];
  if (found[Symbol.iterator]) { for (const w of found) all.push(w); }
  else { for (let w = found.next(); w !== undefined; w = found.next()) all.push(w); }
  for (const w of all) {
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

# JupyterLab 3's status bar items have generated class names: its spans are read too.
_JS_KERNEL_STATUS = """
() => [...document.querySelectorAll('.jp-StatusBar-TextItem, #jp-main-statusbar span')].map((e) => e.textContent.trim())
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


def open_notebook(page, lab, rel: str) -> str:
    """Open ``rel`` in a fresh workspace; return the DOM id of its notebook panel."""
    page.goto(f"{lab.base_url}/lab/tree/{rel}?reset&token={lab.token}", wait_until="domcontentloaded")
    return _poll(lambda: page.evaluate(_JS_PANEL_ID, rel), 90, 0.5, f"JupyterLab to open {rel}")


def run_all(page, rel: str) -> None:
    """Clear outputs, run all cells once the kernel is really ready, wait until all have run."""
    start_run_all(page, rel)
    wait_run_all(page, rel)


def start_run_all(page, rel: str) -> None:
    """Clear outputs and send run-all once the kernel is really ready; return once a cell has started."""
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


def run_all_finished(page, rel: str) -> bool:
    """Whether every code cell of ``rel`` has run and the kernel is idle; raises on an error output."""
    cells = page.evaluate(_JS_CELLS, rel)
    error = _first_error(cells)
    if error and _kernel_idle(page):  # run-all stops at an error: report it, don't time out
        raise AssertionError(f"{rel}: error output in {error}")
    return all(_PROMPT_DONE.match(c["prompt"] or "") for c in _code_cells(cells)) and _kernel_idle(page)


def wait_run_all(page, rel: str, timeout: float = RUN_TIMEOUT_S) -> None:
    """Wait until :func:`run_all_finished`; on a time-out, name the prompts and the status bar."""
    try:
        _poll(lambda: run_all_finished(page, rel), timeout, 0.5, f"every cell of {rel} to finish")
    except AssertionError as err:
        prompts = [c["prompt"] for c in _code_cells(page.evaluate(_JS_CELLS, rel))]
        raise AssertionError(f"{err}; prompts {prompts}; status bar {page.evaluate(_JS_KERNEL_STATUS)}") from None


def settle(page, panel) -> None:
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


def check_outputs(page, panel, rel: str, cells: list[dict], committed) -> None:
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


def widget_responds(page, panel) -> str | None:
    """Press keys on each slider (or pick another dropdown option) until a widget's output changes.

    Returns a description of the widget that responded, or None if none did.
    """
    views = panel.locator(_WIDGET_VIEWS)
    for k in range(views.count()):
        view = views.nth(k)
        before = page.evaluate(_JS_WIDGET_SIGNATURE, view.element_handle())
        handles = view.locator(".noUi-handle, .ui-slider-handle")  # ipywidgets 8 (noUiSlider), 7 (jQuery UI)
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


def screenshot(page, panel, rel: str, directory: Path) -> list[Path]:
    """Screenshot the whole notebook: make the viewport as tall as the notebook (in parts if huge)."""
    directory.mkdir(parents=True, exist_ok=True)
    stem = rel.removesuffix(".ipynb").replace("/", "__")
    for old in directory.glob(f"{stem}*.png"):
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
        path = directory / (f"{stem}.png" if parts == 1 else f"{stem}_part{part + 1}.png")
        panel.screenshot(path=str(path))
        shots.append(path)
    page.set_viewport_size(VIEWPORT)
    return shots


def read_cells(page, rel: str) -> list[dict]:
    """Per cell of the open notebook ``rel``: type, source, prompt, outputs, typeset math count."""
    return page.evaluate(_JS_CELLS, rel)


"""Build, serve and drive the JupyterLite site in headless Chromium, offline (private).

Used by ``test_lite_site.py`` and ``benchmarks/bench_lite_site.py``. The site is served on
127.0.0.1 by a thread of this process. The site's browser context has two independent guards
against the network: every request its pages and workers make to anything but the loopback
server is aborted by a Playwright route and recorded, and the context's proxy is a local recorder
that answers nothing, so a request the route cannot see (a service worker's, say) is recorded
too. Tests assert that both records stay empty. Chromium's own background traffic (component
updates, sign-in probes: not the site's) goes to a separate black-hole proxy set at launch.
"""
from __future__ import annotations

import functools
import http.server
import json
import re
import socketserver
import subprocess
import sys
import threading
import time
from pathlib import Path

from _labpage import (
    _JS_CELLS,
    _JS_COMMAND,
    _JS_PANEL,
    _JS_PANEL_ID,
    _JS_WIDGET_SIGNATURE,
    _WIDGET_VIEWS,
    _code_cells,
    _first_error,
    _kernel_idle,
    _poll,
)

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
#: Exit status of ``workbook.py lite`` when a build input cannot be obtained (not a failure).
INPUT_UNAVAILABLE = 3
KERNEL_READY_TIMEOUT_S = 300  # Pyodide downloads and starts the kernel's packages first
VIEWPORT = {"width": 1280, "height": 900}


def build_site(out: Path) -> tuple[subprocess.CompletedProcess, float]:
    """Run ``python3 workbook.py lite --out OUT``; return the finished process and its seconds."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, str(ROOT / "workbook.py"), "lite", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True)
    return proc, time.perf_counter() - start


class _Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".wasm": "application/wasm", ".js": "text/javascript", ".mjs": "text/javascript",
        ".json": "application/json", ".whl": "application/octet-stream",
    }

    def log_message(self, *args) -> None:
        pass


class SiteServer:
    """A static file server for ``site`` on 127.0.0.1 (a free port), in a daemon thread."""

    def __init__(self, site: Path):
        self.root = site
        handler = functools.partial(_Handler, directory=str(site))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class RecordingProxy:
    """An HTTP proxy on 127.0.0.1 that records each request line it gets and answers none."""

    def __init__(self):
        self.requests: list[str] = []
        record = self.requests

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                line = self.rfile.readline(4096).decode("latin-1").strip()
                if line:
                    record.append(line)
                self.wfile.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def chromium_args(browser_proxy: RecordingProxy) -> list[str]:
    """Launch flags; Chromium's own traffic goes to ``browser_proxy`` and never reaches the network."""
    return ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-features=AutofillServerCommunication,OptimizationHints,MediaRouter",
            f"--proxy-server={browser_proxy.url}"]


def offline_context(browser, server: SiteServer, blocked: list[str], site_proxy: RecordingProxy):
    """A browser context whose requests to anything but ``server`` are aborted and recorded.

    Whatever the route does not see goes to ``site_proxy`` (only 127.0.0.1 bypasses it).

    It also sets ``exposeAppInBrowser`` in the site's runtime configuration as it is served, so
    the test can read JupyterLab's model through ``window.jupyterapp`` (the built files are not
    changed).
    """
    context = browser.new_context(viewport=VIEWPORT, proxy={"server": site_proxy.url, "bypass": "127.0.0.1"})

    def abort(route):
        blocked.append(route.request.url)
        route.abort()

    def config(route):
        path = server.root / route.request.url[len(server.base_url) + 1:].split("?")[0]
        if not path.is_file():
            route.continue_()
            return
        data = json.loads(path.read_text())
        data.setdefault("jupyter-config-data", {})["exposeAppInBrowser"] = "true"
        route.fulfill(status=200, content_type="application/json", body=json.dumps(data))

    # Patterns are matched inside the browser driver, so the site's own requests never wait for
    # this (synchronous) test process; only the handful of config files and the aborts do.
    context.route(re.compile(rf"^(?!{re.escape(server.base_url)}/|data:|blob:)"), abort)
    context.route(re.compile(rf"^{re.escape(server.base_url)}/(.*/)?jupyter-lite\.json(\?.*)?$"), config)
    return context


def open_notebook(page, server: SiteServer, rel: str | None) -> str:
    """Open the site (the start notebook if ``rel`` is None, else ``rel``); return the panel's DOM id."""
    url = server.base_url + "/" if rel is None else f"{server.base_url}/lab/index.html?path={rel}"
    page.goto(url, wait_until="domcontentloaded")
    if rel is None:  # the front page redirects to JupyterLab with the start notebook
        page.wait_for_url(re.compile(r"/lab/index\.html\?path="), wait_until="commit", timeout=30_000)
    want = rel or "notebooks/00_start_here.ipynb"
    return _poll(lambda: page.evaluate(_JS_PANEL_ID, want), 120, 0.5, f"JupyterLite to open {want}")


def wait_kernel_ready(page, timeout: float = KERNEL_READY_TIMEOUT_S) -> float:
    """Wait until the status bar shows an idle Pyodide kernel; return the seconds waited."""
    start = time.perf_counter()
    _poll(lambda: _kernel_idle(page), timeout, 0.5, "the Pyodide kernel to be idle")
    return time.perf_counter() - start


_JS_RUN_CELL = f"""
([path, index]) => {{
  const panel = ({_JS_PANEL})(path);
  panel.content.activeCellIndex = index;
  return window.jupyterapp.commands.execute('notebook:run-cell');
}}
"""

_JS_SET_SOURCE = f"""
([path, index, source]) => {{
  const panel = ({_JS_PANEL})(path);
  panel.content.widgets[index].model.sharedModel.setSource(source);
}}
"""


_JS_APPEND_CODE_CELL = f"""
([path, source]) => {{
  const panel = ({_JS_PANEL})(path);
  const n = panel.content.model.sharedModel.cells.length;
  panel.content.model.sharedModel.insertCell(n, {{cell_type: 'code', source}});
  return n;
}}
"""


def append_code_cell(page, rel: str, source: str) -> int:
    """Add a code cell at the end of the open notebook (in the page only); return its index."""
    return page.evaluate(_JS_APPEND_CODE_CELL, [rel, source])


def run_cell(page, rel: str, index: int, timeout: float = 120) -> dict:
    """Run one cell of the open notebook and wait for its execution count; return the cell."""
    before = page.evaluate(_JS_CELLS, rel)[index].get("executionCount")
    page.evaluate(_JS_RUN_CELL, [rel, index])

    def done():
        cell = page.evaluate(_JS_CELLS, rel)[index]
        count = cell.get("executionCount")
        return cell if count is not None and count != before and _kernel_idle(page) else None

    return _poll(done, timeout, 0.25, f"cell {index} of {rel} to run")


def set_source(page, rel: str, index: int, source: str) -> None:
    """Replace a cell's source, as a learner typing into it would."""
    page.evaluate(_JS_SET_SOURCE, [rel, index, source])


def clear_outputs(page) -> None:
    page.evaluate(_JS_COMMAND, ["notebook:clear-all-cell-outputs"])


def run_all_cells(page, rel: str, timeout: float = 900) -> float:
    """Clear outputs, run all cells, wait until every code cell has an execution count; return seconds.

    Completion is read from the notebook model (execution counts), not from the prompts' DOM.
    """
    clear_outputs(page)
    wait_kernel_ready(page)
    start = time.perf_counter()
    page.evaluate(_JS_COMMAND, ["notebook:run-all-cells"])

    def finished():
        cells = page.evaluate(_JS_CELLS, rel)
        error = _first_error(cells)
        if error and _kernel_idle(page):  # run-all stops at an error: report it, don't time out
            raise AssertionError(f"{rel}: error output in {error}")
        return all(c.get("executionCount") is not None for c in _code_cells(cells)) and _kernel_idle(page)

    _poll(finished, timeout, 0.5, f"every cell of {rel} to finish")
    return time.perf_counter() - start


#: Printed by matplotlib (on stderr) when it builds its font list: the site ships the list
#: (tools/lite_fixes.py), so no kernel of the site may print it.
FONT_CACHE_NOTE = "Matplotlib is building the font cache"


def drag_slider_changes_output(page, panel, timeout: float = 30) -> str | None:
    """Drag each widget's slider handle with the mouse until the widget's output changes.

    Returns which widget answered, or None.
    """
    views = panel.locator(_WIDGET_VIEWS)
    for k in range(views.count()):
        view = views.nth(k)
        handles = view.locator(".noUi-handle")
        for h in range(handles.count()):
            before = page.evaluate(_JS_WIDGET_SIGNATURE, view.element_handle())
            handle = handles.nth(h)
            handle.scroll_into_view_if_needed()
            track = view.locator(".noUi-base").nth(h).bounding_box()
            box = handle.bounding_box()
            x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
            # Towards whichever end of the track is farther away, a quarter of the track's length.
            right = x < track["x"] + track["width"] / 2
            target = x + (1 if right else -1) * track["width"] / 4
            page.mouse.move(x, y)
            page.mouse.down()
            page.mouse.move(target, y, steps=8)
            page.mouse.up()
            try:
                _poll(lambda: page.evaluate(_JS_WIDGET_SIGNATURE, view.element_handle()) != before, timeout, 0.25)
                return f"widget {k}, slider {h} (dragged {'right' if right else 'left'})"
            except AssertionError:
                continue
    return None

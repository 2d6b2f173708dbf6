"""The workbook as a static JupyterLite site, built and run offline in headless Chromium.

``python3 workbook.py lite`` builds the site into a temporary folder (the build inputs are cached
in ``build/lite-cache``); the site is served on 127.0.0.1 and opened in Debian's chromium, where
every request to anything else is aborted and recorded (see ``_litesite.py``) and must never
happen. In the browser the tests run the start notebook and chapter 1 top to bottom (no errors,
every figure drawn, a slider that changes the output) and an exercise's check cell, which must
give its feedback; saved work survives a reload, a new tab and a download; and a cell that never
ends is not stopped by Interrupt but by a kernel restart, with the saved notebook intact. If a build input cannot be obtained (no registry access), the tests are
skipped with the build's reason; any other build failure (a sha256 mismatch) fails them.

Seconds measured go to ``build/lite_timings.json`` and are printed at the end.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import re
import time
import zipfile
from pathlib import Path

import nbformat
import pytest

from _labpage import _JS_KERNEL_STATUS, _JS_WIDGET_SIGNATURE, _WIDGET_VIEWS, _poll, check_outputs, read_cells, screenshot, settle


def _site_budget_mb() -> float:
    """The size budget tools/lite_site.py enforces (one number for the build and this test)."""
    text = (Path(__file__).resolve().parents[1] / "tools" / "lite_site.py").read_text(encoding="utf-8")
    return float(re.search(r"^MAX_SITE_MB = ([0-9.]+)", text, flags=re.M).group(1))


MAX_SITE_MB = _site_budget_mb()
from _litesite import (
    CHROMIUM,
    INPUT_UNAVAILABLE,
    RecordingProxy,
    append_code_cell,
    SiteServer,
    build_site,
    chromium_args,
    clear_outputs,
    FONT_CACHE_NOTE,
    drag_slider_changes_output,
    offline_context,
    open_notebook,
    run_all_cells,
    run_cell,
    set_source,
    wait_kernel_ready,
)

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOT_DIR = ROOT / "build" / "screenshots" / "lite"
TIMINGS_FILE = ROOT / "build" / "lite_timings.json"
START = "notebooks/00_start_here.ipynb"
CHAPTER_1 = "notebooks/01_teacher_and_student.ipynb"

pytestmark = pytest.mark.browser


@pytest.fixture(scope="session")
def lite_timings(request):
    timings: dict = {}
    yield timings
    if timings:
        TIMINGS_FILE.parent.mkdir(parents=True, exist_ok=True)
        TIMINGS_FILE.write_text(json.dumps(timings, indent=2) + "\n")
        capture = request.config.pluginmanager.get_plugin("capturemanager")
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            print("\nJupyterLite site in headless Chromium, seconds:", json.dumps(timings, indent=2), flush=True)


@pytest.fixture(scope="session")
def site(tmp_path_factory, lite_timings):
    """The site built by ``workbook.py lite`` into a temporary folder."""
    out = tmp_path_factory.mktemp("lite") / "site"
    proc, seconds = build_site(out)
    if proc.returncode == INPUT_UNAVAILABLE:
        reason = (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
        pytest.skip(f"the JupyterLite site cannot be built here: {reason}")
    assert proc.returncode == 0, f"workbook.py lite failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    lite_timings["build_s"] = round(seconds, 1)
    return out


@pytest.fixture(scope="session")
def server(site):
    server = SiteServer(site)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def proxy():
    """Records what the site's pages and workers send past the route (must stay empty)."""
    proxy = RecordingProxy()
    yield proxy
    proxy.stop()


@pytest.fixture(scope="session")
def browser(playwright_instance):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    background = RecordingProxy()  # Chromium's own traffic (not the site's): blocked, not asserted
    chromium = playwright_instance.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                   args=chromium_args(background))
    try:
        yield chromium
    finally:
        chromium.close()
        background.stop()


@pytest.fixture
def page(browser, server, proxy):
    """A fresh browser context (fresh browser storage) with the network guard; checked afterwards."""
    blocked: list[str] = []
    proxied_before = len(proxy.requests)
    context = offline_context(browser, server, blocked, proxy)
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        yield page
    finally:
        context.close()
    assert not blocked, f"the site tried to reach the network: {blocked[:10]}"
    assert proxy.requests[proxied_before:] == [], f"requests reached the proxy: {proxy.requests[proxied_before:][:10]}"


# --------------------------------------------------------------------------- the built site


def test_site_contents(site):
    """Chapters and exercises by glob, no solutions, Pyodide served locally and verified, PyPI off."""
    for folder in ("notebooks", "exercises"):
        expected = sorted(p.name for p in (ROOT / folder).glob("*.ipynb") if not p.name.endswith(".bak.ipynb"))
        assert expected and sorted(p.name for p in (site / "files" / folder).glob("*.ipynb")) == expected
    assert not list(site.rglob("solutions")), "the solutions must not be in the site"
    config = json.loads((site / "jupyter-lite.json").read_text())["jupyter-config-data"]
    kernel = config["litePluginSettings"]["@jupyterlite/pyodide-kernel-extension:kernel"]
    assert kernel["pyodideUrl"] == "./static/pyodide/pyodide.js"
    assert kernel["disablePyPIFallback"] is True
    index = json.loads((site / "pypi" / "all.json").read_text())
    assert {"kdbook", "ipywidgets", "comm"} <= set(index)
    lock = json.loads((site / "static" / "pyodide" / "pyodide-lock.json").read_text())
    assert lock["info"]["version"] == "0.27.7"
    assert {"numpy", "matplotlib", "kdbook", "ipywidgets", "ipython"} <= set(lock["packages"])
    assert len(lock["packages"]) < 60, "the lock should be trimmed to what the site needs"
    for entry in lock["packages"].values():  # every listed file is there, with the listed sha256
        path = site / "static" / "pyodide" / entry["file_name"]
        assert path.is_file(), f"{entry['file_name']} is in the lock but not in the site"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"], entry["file_name"]
    size_mb = sum(p.stat().st_size for p in site.rglob("*") if p.is_file()) / 1e6
    assert size_mb <= MAX_SITE_MB, f"the site is {size_mb:.1f} MB, over the {MAX_SITE_MB} MB budget of tools/lite_site.py"
    assert "path=notebooks/00_start_here.ipynb" in (site / "index.html").read_text()
    assert not list(site.rglob("*.map")), "source maps should be left out"
    # Issue 28: the apps let the focused element handle a key first (as JupyterLab does) ...
    apps = [p.name for p in (site / "build").glob("*.js") if "start({bubblingKeydown:!0})" in p.read_text(encoding="utf-8")]
    assert apps, "no JupyterLite app starts with bubblingKeydown"
    # ... and `import matplotlib` installs a font list matplotlib 3.8.4 accepts (version 330) over the wheel's.
    order = list(lock["packages"])
    assert order.index("matplotlib-fontlist") > order.index("matplotlib"), order
    entry = lock["packages"]["matplotlib-fontlist"]
    assert entry["depends"] == ["matplotlib"] and entry["imports"] == ["matplotlib"], entry
    assert lock["packages"]["matplotlib"]["version"] == "3.8.4"
    with zipfile.ZipFile(site / "static" / "pyodide" / entry["file_name"]) as wheel:
        fontlist = json.loads(wheel.read("matplotlib/fontlist.json"))
    assert fontlist["_version"] == 330 and fontlist["ttflist"], fontlist.keys()
    assert all(f["fname"].startswith("fonts/") for f in fontlist["ttflist"] + fontlist["afmlist"])


def test_official_source_is_verified_too(site, tmp_path):
    """``--pyodide-source official`` against a local copy of the release: a good copy builds the
    same lock; a copy with one altered wheel fails the build (exit 4) and names the file."""
    import os
    import shutil
    import subprocess
    import sys
    import tarfile

    release = tmp_path / "release"
    release.mkdir()
    with tarfile.open(next((ROOT / "build" / "lite-cache" / "npm").glob("pyodide-*.tgz"))) as tar:
        official_lock = json.loads(tar.extractfile("package/pyodide-lock.json").read())
        for member in tar.getmembers():
            if member.isfile():
                (release / Path(member.name).name).write_bytes(tar.extractfile(member).read())
    built_lock = json.loads((site / "static" / "pyodide" / "pyodide-lock.json").read_text())
    for name, entry in built_lock["packages"].items():
        if name in official_lock["packages"]:
            shutil.copy2(site / "static" / "pyodide" / entry["file_name"], release / entry["file_name"])
    server = SiteServer(release)
    try:
        def build(cache: Path, out: Path):
            env = dict(os.environ, KDBOOK_PYODIDE_URL=server.base_url + "/")
            return subprocess.run([sys.executable, str(ROOT / "workbook.py"), "lite", "--pyodide-source", "official",
                                   "--cache", str(cache), "--out", str(out)], cwd=ROOT, env=env,
                                  capture_output=True, text=True)

        good = build(tmp_path / "cache1", tmp_path / "site1")
        assert good.returncode == 0, good.stderr[-3000:]
        assert json.loads((tmp_path / "site1/static/pyodide/pyodide-lock.json").read_text()) == built_lock
        numpy = built_lock["packages"]["numpy"]["file_name"]
        (release / numpy).write_bytes((release / numpy).read_bytes()[:-1] + b"!")
        bad = build(tmp_path / "cache2", tmp_path / "site2")
        assert bad.returncode == 4, (bad.returncode, bad.stderr[-3000:])
        assert numpy in bad.stderr and "does not match the official" in bad.stderr
    finally:
        server.stop()


# --------------------------------------------------------------------------- in the browser


def _arrow_keys_move_a_slider(page, panel, timeout: float = 10) -> dict:
    """Focus the first slider's handle and press ArrowRight (then ArrowLeft twice, for a handle at its
    maximum) until the widget's output changes, as the JupyterLab test does (the callback ran, not
    only the readout). Returns what happened: the readout before/after, whether the output changed,
    and which element has the focus after the key press."""
    view = panel.locator(_WIDGET_VIEWS).filter(has=page.locator(".widget-slider")).first
    slider = view.locator(".widget-slider").first
    handle, readout = slider.locator(".noUi-handle").first, slider.locator(".widget-readout").first
    handle.scroll_into_view_if_needed()
    before = {"readout": readout.text_content(), "output": page.evaluate(_JS_WIDGET_SIGNATURE, view.element_handle())}
    result = {"readout_before": before["readout"], "output_changed": False}
    for key, presses in (("ArrowRight", 1), ("ArrowLeft", 2)):
        handle.focus()
        for _ in range(presses):
            handle.press(key)
        result["focus"] = page.evaluate("() => document.activeElement.className")
        try:
            _poll(lambda: page.evaluate(_JS_WIDGET_SIGNATURE, view.element_handle()) != before["output"], timeout, 0.25)
            result["output_changed"] = key
            break
        except AssertionError:
            continue
    result["readout_after"] = readout.text_content()
    return result


def _assert_no_font_cache_note(cells: list[dict], rel: str) -> None:
    """The site ships matplotlib's font list (tools/lite_fixes.py): no kernel builds it or says so."""
    notes = [o for c in cells for o in c["outputs"] if FONT_CACHE_NOTE in o["text"]]
    assert not notes, f"{rel}: matplotlib built its font cache in the site's kernel: {notes}"


def _run_notebook(page, server, rel: str, lite_timings: dict) -> None:
    """Open ``rel`` (the start notebook through the front page), run all, check what the learner sees."""
    panel = page.locator(f"#{open_notebook(page, server, rel if rel != START else None)}")
    ready_s = wait_kernel_ready(page)
    committed = nbformat.read(ROOT / rel, as_version=4)
    try:
        run_s = run_all_cells(page, rel)
        settle(page, panel)
        _assert_no_font_cache_note(read_cells(page, rel), rel)
        check_outputs(page, panel, rel, read_cells(page, rel), committed)
        responded = drag_slider_changes_output(page, panel)
        assert responded, f"{rel}: dragging no slider changed a widget's output"
        check_outputs(page, panel, rel, read_cells(page, rel), committed)
    finally:
        screenshot(page, panel, rel, SCREENSHOT_DIR)
    lite_timings[rel] = {"kernel_ready_s": round(ready_s, 1), "run_all_s": round(run_s, 1)}


def test_start_notebook_runs_in_the_site(page, server, lite_timings):
    """The site's front page opens the start notebook; it runs top to bottom with figures and a live slider."""
    start = time.perf_counter()
    _run_notebook(page, server, START, lite_timings)
    lite_timings["first_notebook_total_s"] = round(time.perf_counter() - start, 1)
    # The start notebook tells learners to download their notebooks: both ways exist in the site.
    for command in ("docmanager:download", "filebrowser:download"):
        assert page.evaluate("(c) => window.jupyterapp.commands.hasCommand(c)", command), command
    text = "\n".join(o["text"] for c in read_cells(page, START) for o in c["outputs"])
    assert "missing" not in text and "too old" not in text, f"the environment check complains in the browser:\n{text}"


def test_arrow_keys_move_a_slider_in_the_site(page, server):
    """The start notebook tells learners to click a slider and press the arrow keys (issue 28).

    JupyterLite 0.6.4 handled keyboard shortcuts before the focused element, so the notebook's
    command-mode ArrowRight/ArrowLeft shortcuts took the key from the handle; the build starts
    the apps as JupyterLab does (tools/lite_fixes.py). The key must move the slider, run the
    widget's callback (its output changes) and leave the focus on the handle.
    """
    panel = page.locator(f"#{open_notebook(page, server, None)}")
    wait_kernel_ready(page)
    run_all_cells(page, START)
    settle(page, panel)
    pressed = _arrow_keys_move_a_slider(page, panel)
    assert pressed["output_changed"], f"ArrowRight/ArrowLeft on a slider handle did not change the widget's output: {pressed}"
    assert pressed["readout_after"] != pressed["readout_before"], pressed
    assert "noUi-handle" in pressed["focus"], f"the key press moved the focus away from the handle: {pressed}"


def test_chapter_1_runs_in_the_site(page, server, lite_timings):
    _run_notebook(page, server, CHAPTER_1, lite_timings)


_ANSWER = '''\
def kl_contributions(p, q):
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    safe_p = np.where(p > 0, p, 1.0)
    return np.where(p > 0, p * np.log(safe_p / q), 0.0)
'''


def test_exercise_check_gives_feedback_in_the_site(page, server):
    """A learner's answer typed into an exercise, then its check cell: the feedback shows in the page."""
    rel = "exercises/01_teacher_and_student.ipynb"
    nb = nbformat.read(ROOT / rel, as_version=4)
    answer = next(i for i, c in enumerate(nb.cells) if "01.kl_contributions" in c.metadata.get("tags", []))
    check = next(i for i, c in enumerate(nb.cells) if i > answer and 'check("01.kl_contributions")' in c.source)
    setup = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "import kdbook" in c.source)
    panel = page.locator(f"#{open_notebook(page, server, rel)}")
    wait_kernel_ready(page)
    clear_outputs(page)
    run_cell(page, rel, setup)
    # First the untouched stub: the check says it is not attempted (and does not raise).
    run_cell(page, rel, answer)
    stub = run_cell(page, rel, check)
    assert "Not attempted" in "".join(o["text"] for o in stub["outputs"]), stub["outputs"]
    set_source(page, rel, answer, _ANSWER)
    run_cell(page, rel, answer)
    cell = run_cell(page, rel, check)
    text = "".join(o["text"] for o in cell["outputs"])
    assert not [o for o in cell["outputs"] if o["output_type"] == "error"], cell["outputs"]
    assert re.search(r"All public tests pass: 2/2 points", text), text
    shown = panel.locator(".jp-Cell").nth(check).locator(".jp-OutputArea-output").first.text_content()
    assert "2/2 points" in shown, f"the feedback is not shown on the page: {shown!r}"
    # The batch grader, tried in the same kernel, says plainly that it is not for the browser.
    cell = run_cell(page, rel, append_code_cell(page, rel, "from kdbook.grade.__main__ import main\nmain(['x.ipynb'])"))
    text = "".join(o["text"] for o in cell["outputs"])
    assert "does not run in the browser" in text and "python -m kdbook.grade" in text, cell["outputs"]


def test_saved_work_survives_a_reload_and_a_new_tab_and_downloads_with_the_edit(page, server):
    """The learner's way of keeping work (README "Run in your browser"): save (File > Save), and the
    edit is still there after a reload and in a new tab on the same address (browser storage);
    File > Download gives back the notebook with the edit. An edit never saved is gone after a
    reload."""
    rel = "exercises/01_teacher_and_student.ipynb"
    nb = nbformat.read(ROOT / rel, as_version=4)
    answer = next(i for i, c in enumerate(nb.cells) if "01.kl_contributions" in c.metadata.get("tags", []))
    mine = _ANSWER + "# my answer, kept in the browser\n"
    open_notebook(page, server, rel)
    set_source(page, rel, answer, mine)
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save').then(() => true)")

    def source_after_opening(tab) -> str:
        open_notebook(tab, server, rel)
        return read_cells(tab, rel)[answer]["source"]

    page.reload(wait_until="domcontentloaded")
    assert source_after_opening(page) == mine, "the saved edit is gone after a reload"
    tab = page.context.new_page()
    assert source_after_opening(tab) == mine, "the saved edit is not there in a new tab on the same address"
    with tab.expect_download(timeout=30_000) as download:
        tab.evaluate("() => window.jupyterapp.commands.execute('docmanager:download')")
    # The file arrives named after its path in the site: exercises_01_teacher_and_student.ipynb.
    assert download.value.suggested_filename == rel.replace("/", "_"), download.value.suggested_filename
    downloaded = nbformat.reads(Path(download.value.path()).read_text(encoding="utf-8"), as_version=4)
    assert downloaded.cells[answer].source == mine, "the downloaded notebook lacks the edit"
    nbformat.validate(downloaded)
    tab.close()

    # Not saved: gone after a reload (the page asks before leaving; a reload without saving loses it).
    set_source(page, rel, answer, mine + "# not saved\n")
    page.on("dialog", lambda dialog: dialog.accept())  # "leave the page?": yes
    page.reload(wait_until="domcontentloaded")
    assert source_after_opening(page) == mine, "an unsaved edit should not survive a reload"


_JS_START_CELL = """
([path, index]) => {
  const panel = [...window.jupyterapp.shell.widgets('main')].find(w => w.context && w.context.path === path);
  panel.content.activeCellIndex = index;
  window.jupyterapp.commands.execute('notebook:run-cell');  // not awaited: the cell never ends
}
"""


def _kernel_busy(page) -> bool:
    return any(text.endswith("| Busy") for text in page.evaluate(_JS_KERNEL_STATUS))


def test_an_infinite_loop_needs_a_kernel_restart_and_saved_work_stays(page, server):
    """What README "Run in your browser" tells a learner whose cell never ends: the page stays
    usable (the kernel runs in a web worker) and saving still works; Interrupt does nothing (the
    site is not cross-origin isolated, the headers a static host like GitHub Pages cannot send, so
    Pyodide has no shared buffer to receive the interrupt through); Kernel ▸ Restart Kernel
    (accepting its dialog) stops the loop and gives a fresh idle kernel that runs the next cell,
    and the saved notebook is intact. If Interrupt starts to work (a newer JupyterLite, or
    headers), update the README and the exercise notebooks' note (kdbook/exercises)."""
    rel = "exercises/01_teacher_and_student.ipynb"
    nb = nbformat.read(ROOT / rel, as_version=4)
    answer = next(i for i, c in enumerate(nb.cells) if "01.kl_contributions" in c.metadata.get("tags", []))
    mine = _ANSWER + "# my answer, saved while the loop ran\n"
    open_notebook(page, server, rel)
    wait_kernel_ready(page)
    assert page.evaluate("() => self.crossOriginIsolated") is False  # as on GitHub Pages
    loop = append_code_cell(page, rel, "print('looping', flush=True)\nwhile True:\n    pass")
    page.evaluate(_JS_START_CELL, [rel, loop])
    _poll(lambda: _kernel_busy(page) and "looping" in "".join(o["text"] for o in read_cells(page, rel)[loop]["outputs"]),
          30, 0.25, "the loop to start")
    # The page still answers: the learner edits and saves while the kernel is stuck.
    set_source(page, rel, answer, mine)
    assert page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save').then(() => true)")

    page.evaluate("() => window.jupyterapp.commands.execute('notebook:interrupt-kernel').then(() => true)")
    time.sleep(8)
    assert _kernel_busy(page) and read_cells(page, rel)[loop]["executionCount"] is None, \
        "Interrupt stopped the loop: update README 'Run in your browser' and the exercise notebooks' note"

    restarted = time.perf_counter()
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:restart-kernel'); }")
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for(timeout=10_000)
    assert "Restart Kernel?" in dialog.text_content(), dialog.text_content()
    dialog.locator(".jp-mod-accept").click()
    wait_kernel_ready(page, timeout=60)
    restart_s = time.perf_counter() - restarted
    cells = read_cells(page, rel)
    assert cells[loop]["executionCount"] is None and cells[answer]["source"] == mine
    cell = run_cell(page, rel, append_code_cell(page, rel, "print(1 + 1)"), timeout=60)
    assert cell["executionCount"] == 1, f"expected a fresh kernel (first execution): {cell}"
    assert "".join(o["text"] for o in cell["outputs"]) == "2\n", cell["outputs"]
    assert restart_s < 30, f"the restart took {restart_s:.1f} s"

    # The saved notebook is intact: after a reload it is what was saved during the loop (the
    # answer and the loop cell), without the unsaved cell added after the restart.
    page.on("dialog", lambda d: d.accept())  # "leave the page?" (the unsaved cell): yes
    page.reload(wait_until="domcontentloaded")
    open_notebook(page, server, rel)
    saved = read_cells(page, rel)
    assert [c["source"] for c in saved] == [c.source for c in nb.cells[:answer]] + [mine] + \
        [c.source for c in nb.cells[answer + 1:]] + ["print('looping', flush=True)\nwhile True:\n    pass"]

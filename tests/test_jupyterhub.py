"""Five learners get the workbook through a real JupyterHub and an nbgitpuller link (issue 26).

A JupyterHub runs on 127.0.0.1 (``_hubserver.py``: configurable-http-proxy from npm, a test
authenticator, one local JupyterLab server per learner, homes in a temporary folder). The course
is a bare git repository of this working tree's ``notebooks/`` and ``exercises/``, served to
nbgitpuller by a ``file://`` URL, so everything stays offline. Five learners, in five browser
contexts of headless Chromium, at once:

1. log in by following the nbgitpuller link of docs/jupyterhub.md (the hub spawns their server,
   nbgitpuller clones the workbook into their home, JupyterLab opens the start notebook);
2. run the start notebook: no error, every figure drawn, every widget rendered;
3. open chapter 1 (``notebooks/01_teacher_and_student.ipynb``) and run all its cells, with the
   same checks;
4. open chapter 1's exercise notebook, answer ``01.kl_contributions`` (four with a correct answer,
   ``scipy.special.rel_entr``, one with a wrong one), run it with its check and save it: the
   check's feedback says all public tests pass, or not, as it should.

Then each learner's copy is their own (only their answer in their home, their kernel running
there). The course pushes a fix to a chapter and to the exercise notebook; learner 0 follows the
link again: their answer is kept and both fixes arrive (docs/jupyterhub.md, section 3). No browser
request left loopback (every request is recorded, and Chromium resolves no other host). The
seconds to ready per learner go to ``build/hub_timings.json`` and the terminal.

Groups ``browser`` and ``hub`` (``pytest -m hub``); about 2.5 minutes.
"""
from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import nbformat
import pytest

from _hubserver import Hub, ProxyUnavailable, processes_under
from _labpage import _JS_KERNEL_STATUS, _JS_PANEL, _JS_PANEL_ID, VIEWPORT, check_outputs, read_cells, run_all_finished, settle, start_run_all

pytestmark = [pytest.mark.browser, pytest.mark.hub, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
# Chromium resolves no host but loopback: a request for anything else fails instead of leaving.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , EXCLUDE localhost"]
LEARNERS = [f"learner{i}" for i in range(5)]
WRONG_LEARNER = "learner4"
START = "kdbook/notebooks/00_start_here.ipynb"
CHAPTER_1 = "kdbook/notebooks/01_teacher_and_student.ipynb"
EXERCISE = "kdbook/exercises/01_teacher_and_student.ipynb"
ITEM = "01.kl_contributions"
RIGHT = "from scipy.special import rel_entr\n\ndef kl_contributions(p, q):  # {name}\n    return rel_entr(p, q)\n"
WRONG = "def kl_contributions(p, q):  # {name}\n    return p * np.log(q / p)\n"
FIX = "(typo fixed by the course)"
TIMINGS_FILE = ROOT / "build" / "hub_timings.json"
GIT = ["git", "-c", "user.name=course", "-c", "user.email=course@example.invalid", "-c", "init.defaultBranch=main"]
READY_TIMEOUT_S = 150

# The tags-of-a-cell lookup and the source edit go through JupyterLab's own notebook model.
_JS_ANSWER = f"""
([path, tag, source]) => {{
  const panel = ({_JS_PANEL})(path);
  if (!panel) return -1;
  const cells = panel.content.widgets;
  const at = cells.findIndex((c) => (c.model.getMetadata('tags') || []).includes(tag));
  if (at >= 0) cells[at].model.sharedModel.setSource(source);
  return at;
}}
"""
_JS_STATE = f"""
() => window.jupyterapp ? {{status: ({_JS_KERNEL_STATUS.strip()})()}}
                        : {{noApp: document.title, text: document.body.innerText.slice(0, 300)}}
"""
_JS_OPEN = "([path]) => window.jupyterapp.commands.execute('docmanager:open', {path}).then(() => true)"
_JS_SAVE = "() => window.jupyterapp.commands.execute('docmanager:save').then(() => true)"


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run([*GIT, *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def _edit_first_markdown(path: Path) -> None:
    nb = json.loads(path.read_text(encoding="utf-8"))
    first = next(c for c in nb["cells"] if c["cell_type"] == "markdown")
    first["source"] = "".join(first["source"]) + f"\n\n{FIX}\n"
    nbformat.write(nbformat.from_dict(nb), path)


def _safe(fn):
    """``fn()``, or None while the page is between two documents (its JS context destroyed)."""
    from playwright.sync_api import Error

    try:
        return fn()
    except Error:
        return None


def _finished(ln: dict, rel: str, since: str, key: str) -> bool:
    """Whether the learner's run-all of ``rel`` is done; note the seconds since ``ln[since]`` in ``ln[key]``."""
    if key not in ln and run_all_finished(ln["page"], rel):
        ln[key] = time.perf_counter() - ln[since]
    return key in ln


def _wait_all(learners, done, timeout: float, what: str) -> None:
    """Poll ``done(learner)`` for every learner in turn until all are true (Playwright keeps serving
    the other pages while one is polled); name the laggards on a time-out."""
    deadline = time.monotonic() + timeout
    waiting = list(learners)
    while waiting:
        waiting = [ln for ln in waiting if not done(ln)]
        if not waiting:
            return
        if time.monotonic() > deadline:
            page = waiting[0]["page"]
            shot = ROOT / "build" / "screenshots" / f"hub_{waiting[0]['name']}_timeout.png"
            shot.parent.mkdir(parents=True, exist_ok=True)
            _safe(lambda: page.screenshot(path=str(shot)))
            state = _safe(lambda: page.evaluate(_JS_STATE))
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}: " + "; ".join(
                f"{ln['name']} at {ln['page'].url}" for ln in waiting) + f"; the first shows {state} ({shot})")
        waiting[0]["page"].wait_for_timeout(250)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> dict:
    """A bare repository ``kdbook`` of the working tree's notebooks and exercises, and a clone
    the course pushes its fixes from."""
    base = tmp_path_factory.mktemp("course")
    work = base / "work"
    for folder in ("notebooks", "exercises"):
        shutil.copytree(ROOT / folder, work / folder, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "*.bak.ipynb"))
    _git(work, "init", "-q")
    _git(work, "add", ".")
    _git(work, "commit", "-qm", "the workbook")
    bare = base / "kdbook"  # nbgitpuller names the clone after the last part of the URL, ".git" included
    _git(base, "clone", "-q", "--bare", str(work), str(bare))
    _git(work, "remote", "add", "origin", str(bare))
    return {"work": work, "remote": bare}


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    try:
        import jupyterhub  # noqa: F401
    except ImportError:
        pytest.fail("jupyterhub is missing: it is a test dependency (python3 workbook.py test installs it)")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    try:
        hub = Hub(tmp_path_factory.mktemp("hub"))
    except ProxyUnavailable as err:
        pytest.skip(f"the npm registry could not supply the hub's proxy: {err}")
    left = []
    try:
        t0 = time.perf_counter()
        hub.version = hub.wait_until_ready()
        hub.ready_s = round(time.perf_counter() - t0, 1)
        yield hub
    finally:
        left = hub.stop()
    assert not left, f"processes still running in the learners' homes after the hub stopped: {left}"


@pytest.fixture(scope="module")
def browser(playwright_instance):
    chromium = playwright_instance.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    try:
        yield chromium
    finally:
        chromium.close()


def _report(timings: dict, config) -> None:
    TIMINGS_FILE.parent.mkdir(parents=True, exist_ok=True)
    TIMINGS_FILE.write_text(json.dumps(timings, indent=2) + "\n")
    lines = ["", "JupyterHub + nbgitpuller, 5 learners at once, seconds per learner:",
             "  learner     hub spawned server   login to start notebook open   run start notebook   "
             "chapter 1 opened+run   exercise opened+answered+checked"]
    for name in LEARNERS:
        t = {k: v for k, v in timings.get(name, {}).items() if v is not None}
        lines.append(f"  {name:<10}  {t.get('spawn_s', float('nan')):18.1f}   {t.get('ready_s', float('nan')):27.1f}"
                     f"   {t.get('start_run_s', float('nan')):18.1f}   {t.get('chapter1_s', float('nan')):20.1f}"
                     f"   {t.get('exercise_s', float('nan')):32.1f}")
    lines.append(f"  hub ready {timings.get('hub_ready_s', float('nan')):.1f} s; whole scenario "
                 f"{timings.get('total_s', float('nan')):.1f} s; second pull (course fix) {timings.get('repull_s', float('nan')):.1f} s")
    capture = config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        print("\n".join(lines), flush=True)


# --------------------------------------------------------------------------- the test


def test_five_learners_get_the_workbook_through_an_nbgitpuller_link(hub, course, browser, request):
    timings: dict = {"hub_version": hub.version}
    start_all = time.perf_counter()
    query = urlencode({"repo": course["remote"].as_uri(), "branch": "main", "urlpath": f"lab/tree/{START}"})
    link = f"/hub/user-redirect/git-pull?{query}"  # the form docs/jupyterhub.md gives instructors
    assert "/hub/user-redirect/git-pull?repo=" in (ROOT / "docs" / "jupyterhub.md").read_text(encoding="utf-8")

    learners, contexts = [], []
    try:
        # 1. All five log in at once through the link; the hub spawns, nbgitpuller clones, Lab opens.
        for name in LEARNERS:
            hub.prepare_home(name)
            context = browser.new_context(viewport=VIEWPORT)
            contexts.append(context)
            seen: list[str] = []
            context.on("request", lambda r, seen=seen: seen.append(r.url))
            page = context.new_page()
            page.set_default_timeout(60_000)
            page.on("websocket", lambda ws, seen=seen: seen.append(ws.url))
            t0 = time.perf_counter()
            page.goto(f"{hub.url}/hub/login?{urlencode({'next': link})}", wait_until="domcontentloaded")
            page.fill("#username_input", name)
            page.fill("#password_input", "any password")
            page.click("#login_submit", no_wait_after=True)
            learners.append({"name": name, "page": page, "context": context, "seen": seen, "t0": t0,
                             "home": hub.homes / name})

        def ready(ln):
            if "ready_s" in ln:
                return True
            if _safe(lambda: ln["page"].evaluate(_JS_PANEL_ID, START)):
                ln["ready_s"] = time.perf_counter() - ln["t0"]
                return True
            return False

        _wait_all(learners, ready, READY_TIMEOUT_S, "the start notebook to open after the pull")
        for ln in learners:
            clone = ln["home"] / "kdbook"
            assert (clone / "notebooks" / "00_start_here.ipynb").is_file(), f"no workbook in {ln['name']}'s home"
            assert _git(clone, "remote", "get-url", "origin").strip() == course["remote"].as_uri()

        def run_all_and_check(name: str, clock: str, result: str, what: str) -> None:
            """Every learner runs all of the open notebook ``name``; each output must match the committed one."""
            committed = nbformat.read(ROOT / "notebooks" / Path(name).name, as_version=4)
            for ln in learners:
                ln.setdefault(clock, time.perf_counter())  # a clock started when the notebook was opened runs on
                start_run_all(ln["page"], name)
            _wait_all(learners, lambda ln: _finished(ln, name, clock, result), 240, what)
            for ln in learners:
                panel = ln["page"].locator(f"#{ln['page'].evaluate(_JS_PANEL_ID, name)}")
                settle(ln["page"], panel)
                check_outputs(ln["page"], panel, f"{ln['name']}: {name}", read_cells(ln["page"], name), committed)

        # 2. Everyone runs the start notebook at once.
        run_all_and_check(START, "t1", "start_run_s", "the start notebooks to run")

        # 3. Everyone opens chapter 1 and runs all its cells.
        for ln in learners:
            ln["t_ch1"] = time.perf_counter()
            ln["page"].evaluate(_JS_OPEN, [CHAPTER_1])
        _wait_all(learners, lambda ln: _safe(lambda: ln["page"].evaluate(_JS_PANEL_ID, CHAPTER_1)), 60,
                  "chapter 1 to open")
        run_all_and_check(CHAPTER_1, "t_ch1", "chapter1_s", "chapter 1 to run")

        # 4. Everyone answers the first exercise of chapter 1 and runs its check.
        for ln in learners:
            ln["t2"] = time.perf_counter()
            ln["page"].evaluate(_JS_OPEN, [EXERCISE])
        _wait_all(learners, lambda ln: _safe(lambda: ln["page"].evaluate(_JS_PANEL_ID, EXERCISE)), 60,
                  "the exercise notebook to open")
        for ln in learners:
            answer = (WRONG if ln["name"] == WRONG_LEARNER else RIGHT).format(name=ln["name"])
            ln["answer_cell"] = ln["page"].evaluate(_JS_ANSWER, [EXERCISE, ITEM, answer])
            assert ln["answer_cell"] >= 0, f"no cell tagged {ITEM} in {EXERCISE}"
            start_run_all(ln["page"], EXERCISE)
        _wait_all(learners, lambda ln: _finished(ln, EXERCISE, "t2", "exercise_s"), 120, "the exercise notebooks to run")
        for ln in learners:
            cells = read_cells(ln["page"], EXERCISE)
            feedback = "".join(o["text"] for o in cells[ln["answer_cell"] + 1]["outputs"])
            assert ITEM in feedback, f"{ln['name']}: the check printed {feedback!r}"
            if ln["name"] == WRONG_LEARNER:
                assert "Public tests: " in feedback and "All public tests pass" not in feedback, feedback
            else:
                assert "All public tests pass: 2/2 points" in feedback, f"{ln['name']}: {feedback!r}"
            ln["page"].evaluate(_JS_SAVE)

        # Each copy is the learner's own: only their answer on their disk, their kernels in their home.
        def saved(ln):
            text = (ln["home"] / EXERCISE).read_text(encoding="utf-8")
            return f"# {ln['name']}" in text
        _wait_all(learners, saved, 30, "the exercise notebooks to be saved")
        for ln in learners:
            text = (ln["home"] / EXERCISE).read_text(encoding="utf-8")
            others = [o for o in LEARNERS if o != ln["name"] and f"# {o}\\n" in text]
            assert not others, f"{ln['name']}'s exercise notebook holds the answers of {others}"
            assert processes_under(ln["home"] / "kdbook"), f"no kernel of {ln['name']} runs in their home"
        timings["total_s"] = round(time.perf_counter() - start_all, 1)

        # 5. The course pushes a fix; learner 0 follows the link again in a new tab.
        for rel in ("notebooks/00_start_here.ipynb", "exercises/01_teacher_and_student.ipynb"):
            _edit_first_markdown(course["work"] / rel)
        _git(course["work"], "commit", "-qam", "fix a typo")
        _git(course["work"], "push", "-q", "origin", "main")
        first = learners[0]
        again = first["context"].new_page()
        t3 = time.perf_counter()
        again.goto(f"{hub.url}{link}", wait_until="domcontentloaded")
        _wait_all([{**first, "page": again}], lambda ln: _safe(lambda: ln["page"].evaluate(_JS_PANEL_ID, START)),
                  60, "the start notebook to open after the second pull")
        timings["repull_s"] = round(time.perf_counter() - t3, 1)
        mine = json.loads((first["home"] / EXERCISE).read_text(encoding="utf-8"))  # still valid JSON
        assert "".join(mine["cells"][first["answer_cell"]]["source"]) == RIGHT.format(name=first["name"])
        assert FIX in json.dumps(mine), "the course's fix to the exercise notebook did not arrive"
        assert FIX in (first["home"] / START).read_text(encoding="utf-8"), "the chapter fix did not arrive"
        assert FIX not in (learners[1]["home"] / START).read_text(encoding="utf-8"), "a learner who did not click got the fix"
    finally:
        spawned = dict(re.findall(r"User (\S+) took ([\d.]+) seconds to start", hub.server.log_tail(10**7)))
        for ln in learners:
            timings[ln["name"]] = {k: round(ln[k], 1) for k in ("ready_s", "start_run_s", "chapter1_s", "exercise_s")
                                  if k in ln}
            timings[ln["name"]]["spawn_s"] = spawned.get(ln["name"]) and round(float(spawned[ln["name"]]), 1)
        for context in contexts:
            context.close()
        timings["hub_ready_s"] = getattr(hub, "ready_s", None)
        _report(timings, request.config)

    # Nothing the browsers asked for left the machine.
    for ln in learners:
        outside = sorted({u for u in ln["seen"] if urlsplit(u).scheme not in ("data", "blob")
                          and urlsplit(u).hostname not in ("127.0.0.1", "localhost", "::1")})
        assert not outside, f"{ln['name']}'s browser asked for addresses off loopback: {outside[:10]}"
        assert len(ln["seen"]) > 50, f"only {len(ln['seen'])} requests recorded for {ln['name']}: is recording broken?"

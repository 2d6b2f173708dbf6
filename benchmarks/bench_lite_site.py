"""Benchmark of the JupyterLite site: build time, size, kernel start and every chapter under wasm.

Run from the repository root (needs the test tools: ``python3 workbook.py test --install-only``)::

    .venv/bin/python benchmarks/bench_lite_site.py
    .venv/bin/python benchmarks/bench_lite_site.py --notebooks notebooks/05_*.ipynb

It builds the site with ``workbook.py lite`` (the cached build; delete ``build/lite-cache`` first
to time a cold one), serves it on 127.0.0.1, and opens each chapter in a fresh headless Chromium
context with the network blocked (as the tests do). Per chapter it prints the seconds until the
Pyodide kernel is idle, the seconds to run all cells, and the ratio of that run time to the same
chapter's "run all cells" in JupyterLab from ``build/browser_timings.json`` (written by
``pytest -m browser tests/test_browser_notebooks.py``), when that file exists. It also times
``import kdbook`` inside the browser kernel. The targets (issue 16): cached build ≤ 120 s,
site within tools/lite_site.py's size budget, first notebook ready ≤ 30 s; chapters are reported,
not judged. The machine's load average (1 minute) is printed before each chapter and in the
closing table (issue 28: on a shared machine the seconds follow the load), which is in the form
of README's table.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from _litesite import (  # noqa: E402
    INPUT_UNAVAILABLE,
    CHROMIUM,
    RecordingProxy,
    SiteServer,
    append_code_cell,
    build_site,
    chromium_args,
    offline_context,
    open_notebook,
    run_all_cells,
    run_cell,
    wait_kernel_ready,
)

LAB_TIMINGS = ROOT / "build" / "browser_timings.json"
MAX_SITE_MB = float(re.search(r"^MAX_SITE_MB = ([0-9.]+)", (ROOT / "tools" / "lite_site.py").read_text(encoding="utf-8"),
                              flags=re.M).group(1))


def load_1min() -> float:
    """The machine's load average over the last minute (the number of runnable processes)."""
    return os.getloadavg()[0]


def chapter_table(rows: list[dict], lab: dict) -> str:
    """The per-chapter results as a Markdown table (README's "Run in your browser")."""
    lines = ["| chapter | kernel ready (s) | run all (s) | JupyterLab run all (s) | load (1 min) |",
             "|---|---:|---:|---:|---:|"]
    for r in rows:
        chapter = Path(r["rel"]).name.split("_")[0]
        lab_run = (lab.get(r["rel"]) or {}).get("run_all_s")
        run = f"{r['run']:.0f}" if r["run"] is not None else "failed"
        lines.append(f"| {chapter} | {r['ready']:.0f} | {run} | {f'{lab_run:.0f}' if lab_run else '-'} | "
                     f"{r['load']:.1f} |")
    return "\n".join(lines)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


_IMPORT_TIMER = """\
import sys, time
for _name in [m for m in sys.modules if m == "kdbook" or m.startswith("kdbook.")]:
    del sys.modules[_name]
_t = time.perf_counter()
import kdbook
print(f"{time.perf_counter() - _t:.4f}")
"""


_KL_TIMER = """\
import time
import numpy as np
import kdbook
_x = np.random.default_rng(0).standard_normal((ROWS, 32000)).astype(np.float32)
_p, _q = kdbook.softmax(_x), kdbook.softmax(_x[::-1])
_best = float("inf")
for _ in range(3):
    _t = time.perf_counter()
    kdbook.kl_divergence(_p, _q)
    _best = min(_best, time.perf_counter() - _t)
print(f"{_best:.5f}")
"""
KL_ROWS = 256


def kl_seconds_here() -> float:
    """The same timing in this Python (native numpy)."""
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(_KL_TIMER.replace("ROWS", str(KL_ROWS)), {})
    return float(out.getvalue())


def kl_seconds_in_browser(page, rel: str) -> float:
    """Best of 3 of ``kdbook.kl_divergence`` on a (KL_ROWS, 32000) float32 batch in the site's kernel."""
    source = _KL_TIMER.replace("ROWS", str(KL_ROWS))
    cell = run_cell(page, rel, append_code_cell(page, rel, source), timeout=300)
    return float(cell["outputs"][0]["text"])


def import_seconds(page, rel: str) -> float:
    """Time a fresh ``import kdbook`` in the notebook's kernel, in a cell appended in the page."""
    cell = run_cell(page, rel, append_code_cell(page, rel, _IMPORT_TIMER))
    return float(cell["outputs"][0]["text"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notebooks", nargs="*", help="notebooks to run (default: every notebooks/*.ipynb)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds allowed per notebook")
    args = parser.parse_args(argv)
    rels = args.notebooks or sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "notebooks").glob("*.ipynb"))
    lab = json.loads(LAB_TIMINGS.read_text()) if LAB_TIMINGS.exists() else {}

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        proc, build_s = build_site(site)
        if proc.returncode:
            print(proc.stdout[-2000:], proc.stderr[-2000:])
            return 2 if proc.returncode == INPUT_UNAVAILABLE else 1
        size_mb = sum(p.stat().st_size for p in site.rglob("*") if p.is_file()) / 1e6
        print(f"build (cached inputs)   {build_s:7.1f} s   target <= 120 s   {verdict(build_s <= 120)}")
        print(f"site size               {size_mb:7.1f} MB  target <= {MAX_SITE_MB:.0f} MB   {verdict(size_mb <= MAX_SITE_MB)}")
        print(f"cores {os.cpu_count()}, load average now {' '.join(f'{x:.1f}' for x in os.getloadavg())} (1, 5, 15 min)")
        server, site_proxy, background = SiteServer(site), RecordingProxy(), RecordingProxy()
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=chromium_args(background))
            print(f"\n{'notebook':<58} {'kernel idle':>11} {'run all':>9} {'JupyterLab':>10} {'ratio':>6} {'load':>5}")
            rows = []
            for i, rel in enumerate(rels):
                load = load_1min()
                blocked: list[str] = []
                context = offline_context(browser, server, blocked, site_proxy)
                page = context.new_page()
                page.set_default_timeout(30_000)
                start = time.perf_counter()
                open_notebook(page, server, rel)
                ready = wait_kernel_ready(page)
                if i == 0:
                    first_ready = time.perf_counter() - start
                try:
                    run = run_all_cells(page, rel, timeout=args.timeout)
                    run_text = f"{run:8.1f}s"
                except AssertionError as err:
                    run, run_text = None, "  failed"
                    print(f"  {rel}: {err}")
                lab_run = (lab.get(rel) or {}).get("run_all_s")
                ratio = f"{run / lab_run:5.1f}x" if run and lab_run else "     -"
                lab_text = f"{lab_run:9.1f}s" if lab_run else "         -"
                print(f"{rel:<58} {ready:10.1f}s {run_text} {lab_text} {ratio} {load:5.1f}", flush=True)
                rows.append({"rel": rel, "ready": ready, "run": run, "load": load})
                if i == 0 and run:
                    print(f"  import kdbook in the browser kernel (Python-level, package already on disk): "
                          f"{import_seconds(page, rel):.3f} s")
                    wasm, native = kl_seconds_in_browser(page, rel), kl_seconds_here()
                    print(f"  kl_divergence on ({KL_ROWS}, 32000) float32: browser {wasm:.3f} s, "
                          f"this Python {native:.3f} s: {wasm / native:.1f}x slower in the browser")
                context.close()
                if blocked or site_proxy.requests:
                    print(f"  network requests attempted: {blocked + site_proxy.requests}")
                    return 1
            browser.close()
        print(f"\nfirst notebook ready (page open to idle kernel): {first_ready:.1f} s   "
              f"target <= 30 s   {verdict(first_ready <= 30)}")
        print(f"\nPer chapter ({os.cpu_count()} cores; load = 1-minute load average when the chapter started; "
              f"JupyterLab from {LAB_TIMINGS.name if lab else 'nowhere (no build/browser_timings.json)'}):\n")
        print(chapter_table(rows, lab))
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

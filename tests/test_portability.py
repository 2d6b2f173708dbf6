"""Stored outputs hold on other CPUs: every notebook re-executed on emulated CPU paths.

A learner's or an instructor's machine rounds differently from the one that stored the
outputs (another SIMD width, another BLAS kernel, another thread count). This test re-executes
every notebook in notebooks/, solutions/ and exercises/ (found by glob, so new chapters are
included) with ``kdbook._notebooks.execute_copy`` (the same deterministic execution as
``python3 workbook.py execute``) under each path below, and compares every code cell with the
stored outputs by the rule nbval applies (``kdbook._tolerance``: strict, or within the tolerance
the cell declares). The ordinary nbval run covers the machine's own widest path.

The paths are defined once, in ``kdbook._cpu_paths`` (``python3 workbook.py spread`` runs the
same ones). A tolerant cell's number that moves further than the spread recorded for it in
``tests/output_spread.json`` fails the test too (the recorded spread must stay current; the
message says to re-run ``python3 workbook.py spread NOTEBOOK``).

The notebooks run two at a time (2 cores). Marker ``portability``; ``python3 workbook.py test``
includes it.
"""
from __future__ import annotations

import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import nbformat
import pytest

from kdbook._cpu_paths import cpu_paths, probe
from kdbook._notebooks import execute_copy
from kdbook._spread import FOLDERS, SPREAD_FILE, load, stale
from kdbook._tolerance import cell_tolerance, compare_outputs, repo_sanitizer

pytestmark = pytest.mark.portability

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for d in FOLDERS for p in (ROOT / d).glob("*.ipynb") if not p.name.endswith(".bak.ipynb"))
WORKERS = 2

@pytest.fixture(scope="module")
def executed(request) -> dict[tuple[str, str], str | Exception]:
    """Execute the selected (path, notebook) pairs, WORKERS at a time: (path, notebook) -> JSON or error."""
    jobs = [(item.callspec.params["name"], str(item.callspec.params["path"])) for item in request.session.items
            if getattr(item, "originalname", None) == "test_stored_outputs_hold_on_path"]
    results: dict[tuple[str, str], str | Exception] = {}
    start = time.perf_counter()
    with ProcessPoolExecutor(WORKERS, mp_context=get_context("spawn")) as pool:
        futures = {(name, nb): pool.submit(execute_copy, nb, {**cpu_paths()[name], "KDBOOK_PERTURB": ""})
                   for name, nb in jobs}
        for key, fut in futures.items():
            try:
                results[key] = fut.result()
            except Exception as err:  # reported by the notebook's own test
                results[key] = err
    print(f"\nportability: {len(jobs)} notebook runs on {len({n for n, _ in jobs})} CPU paths "
          f"in {time.perf_counter() - start:.0f} s with {WORKERS} workers", file=sys.stderr)
    return results


def test_there_are_notebooks_and_paths():
    assert len(NOTEBOOKS) >= 3 and all(any(p.parent.name == d for p in NOTEBOOKS) for d in FOLDERS)
    assert len(cpu_paths()) >= 2


@pytest.mark.parametrize("name", list(cpu_paths()))
def test_each_path_is_really_emulated(name):
    """The variables take effect: numpy reports the features off, OpenBLAS the kernel and threads."""
    env = cpu_paths()[name]
    info = probe(env)
    for feature in env.get("NPY_DISABLE_CPU_FEATURES", "").split():
        assert info["features"][feature] is False, f"numpy still uses {feature} on path {name}"
    assert info["blas"], "no BLAS library found by threadpoolctl"
    blas = info["blas"][0]
    if "OPENBLAS_CORETYPE" in env:
        assert blas.get("architecture", "").lower() == env["OPENBLAS_CORETYPE"].lower(), blas
    if "OPENBLAS_NUM_THREADS" in env:
        assert blas["num_threads"] == int(env["OPENBLAS_NUM_THREADS"]), blas


@pytest.mark.parametrize("name,path", [pytest.param(n, nb, id=f"{n}-{nb.relative_to(ROOT)}")
                                       for n in cpu_paths() for nb in NOTEBOOKS])
def test_stored_outputs_hold_on_path(name, path, executed):
    result = executed[(name, str(path))]
    if isinstance(result, Exception):
        pytest.fail(f"{path.relative_to(ROOT)} failed to execute on CPU path {name}: "
                    f"{type(result).__name__}: {str(result)[-3000:]}")
    stored = nbformat.read(path, as_version=4)
    fresh = nbformat.reads(result, as_version=4)
    sanitize = repo_sanitizer(ROOT)
    failures = []
    rel = path.relative_to(ROOT)
    assert len(stored.cells) == len(fresh.cells)
    for i, (old, new) in enumerate(zip(stored.cells, fresh.cells)):
        if old.cell_type != "code" or old.get("execution_count") is None:
            continue
        where = f"{rel}, cell {i} on CPU path {name}"
        failures += compare_outputs(old.outputs, new.outputs, cell_tolerance(old, where), where, sanitize)
    record = load(ROOT / SPREAD_FILE)["notebooks"].get(rel.as_posix(), {})
    failures += stale(rel.as_posix(), stored, fresh, record, sanitize, f"CPU path {name}")
    assert not failures, "\n".join(failures)

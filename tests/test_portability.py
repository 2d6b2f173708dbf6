"""Stored outputs hold on other CPUs: every notebook re-executed on emulated CPU paths.

A learner's or an instructor's machine rounds differently from the one that stored the
outputs (another SIMD width, another BLAS kernel, another thread count). This test re-executes
every notebook in notebooks/, solutions/ and exercises/ (found by glob, so new chapters are
included) with ``kdbook._notebooks.execute_copy`` (the same deterministic execution as
``python3 workbook.py execute``) under each path below, and compares every code cell with the
stored outputs by the rule nbval applies (``kdbook._tolerance``: strict, or within the tolerance
the cell declares). The ordinary nbval run covers the machine's own widest path.

Paths (features computed at run time from what numpy and the CPU report, so they follow numpy's
naming, which changed in numpy 2.4):

1. numpy with AVX-512 disabled (``NPY_DISABLE_CPU_FEATURES``), OpenBLAS ``Haswell`` kernel,
   1 BLAS thread;
2. numpy with its widest SIMD, OpenBLAS ``SkylakeX`` kernel (``Haswell`` on CPUs without
   AVX-512), 2 BLAS threads.

The notebooks run two at a time (2 cores). Marker ``portability``; ``python3 workbook.py test``
includes it.
"""
from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from functools import cache
from multiprocessing import get_context
from pathlib import Path

import nbformat
import pytest
from nbval.plugin import get_sanitize_patterns

from kdbook._notebooks import execute_copy
from kdbook._tolerance import cell_tolerance, compare_outputs

pytestmark = pytest.mark.portability

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("notebooks", "solutions", "exercises")
NOTEBOOKS = sorted(p for d in FOLDERS for p in (ROOT / d).glob("*.ipynb") if not p.name.endswith(".bak.ipynb"))
WORKERS = 2

_PROBE = """
import json
try:
    from numpy._core._multiarray_umath import __cpu_features__ as f, __cpu_dispatch__ as d
except ImportError:  # numpy < 2
    from numpy.core._multiarray_umath import __cpu_features__ as f, __cpu_dispatch__ as d
from threadpoolctl import threadpool_info
blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
print(json.dumps({"features": f, "dispatch": list(d), "blas": blas}))
"""


def _probe(env: dict | None = None) -> dict:
    out = subprocess.run([sys.executable, "-c", _PROBE], env={**os.environ, **(env or {})},
                         capture_output=True, text=True, timeout=120, check=True)
    return json.loads(out.stdout)


def _avx512_names(info: dict) -> list[str]:
    """numpy's dispatch targets that need AVX-512 and that this CPU has (X86_V4, AVX512_ICL, ...)."""
    return [name for name in info["dispatch"]
            if ("AVX512" in name or name == "X86_V4") and info["features"].get(name)]


@cache
def cpu_paths() -> dict[str, dict[str, str]]:
    """The emulated paths this machine can run: name -> environment variables."""
    info = _probe()
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return {"blas-1-thread": {"OPENBLAS_NUM_THREADS": "1"},
                "blas-2-threads": {"OPENBLAS_NUM_THREADS": "2"}}
    avx512 = _avx512_names(info)
    paths = {}
    if avx512:
        paths["numpy-no-avx512+haswell+1-thread"] = {
            "NPY_DISABLE_CPU_FEATURES": " ".join(avx512), "OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_NUM_THREADS": "1"}
        paths["numpy-widest+skylakex+2-threads"] = {"OPENBLAS_CORETYPE": "SkylakeX", "OPENBLAS_NUM_THREADS": "2"}
    else:
        paths["numpy-widest+haswell+1-thread"] = {"OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_NUM_THREADS": "1"}
        paths["numpy-widest+blas-default+2-threads"] = {"OPENBLAS_NUM_THREADS": "2"}
    return paths


def _sanitize():
    patterns = get_sanitize_patterns((ROOT / "tests" / "nbval_sanitize.cfg").read_text())

    def apply(text: str) -> str:
        for regex, replace in patterns:
            text = re.sub(regex, replace, text)
        return text

    return apply


@pytest.fixture(scope="module")
def executed(request) -> dict[tuple[str, str], str | Exception]:
    """Execute the selected (path, notebook) pairs, WORKERS at a time: (path, notebook) -> JSON or error."""
    jobs = [(item.callspec.params["name"], str(item.callspec.params["path"])) for item in request.session.items
            if getattr(item, "originalname", None) == "test_stored_outputs_hold_on_path"]
    results: dict[tuple[str, str], str | Exception] = {}
    start = time.perf_counter()
    with ProcessPoolExecutor(WORKERS, mp_context=get_context("spawn")) as pool:
        futures = {(name, nb): pool.submit(execute_copy, nb, cpu_paths()[name]) for name, nb in jobs}
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
    info = _probe(env)
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
    sanitize = _sanitize()
    failures = []
    rel = path.relative_to(ROOT)
    assert len(stored.cells) == len(fresh.cells)
    for i, (old, new) in enumerate(zip(stored.cells, fresh.cells)):
        if old.cell_type != "code" or old.get("execution_count") is None:
            continue
        where = f"{rel}, cell {i} on CPU path {name}"
        failures += compare_outputs(old.outputs, new.outputs, cell_tolerance(old, where), where, sanitize)
    assert not failures, "\n".join(failures)

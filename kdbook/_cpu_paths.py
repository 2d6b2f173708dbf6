"""The emulated CPU paths on which notebooks are re-executed (private).

A learner's or an instructor's machine rounds differently from the one that stored the outputs
(another SIMD width, another BLAS kernel, another thread count). One machine can imitate that:
``NPY_DISABLE_CPU_FEATURES`` turns numpy's widest SIMD paths off, ``OPENBLAS_CORETYPE`` picks
OpenBLAS's kernel and ``OPENBLAS_NUM_THREADS`` its thread count. The paths (computed at run time
from what numpy and the CPU report, so they follow numpy's naming, which changed in numpy 2.4):

1. numpy with AVX-512 disabled, OpenBLAS ``Haswell`` kernel, 1 BLAS thread;
2. numpy with its widest SIMD, OpenBLAS ``SkylakeX`` kernel (``Haswell`` on CPUs without
   AVX-512), 2 BLAS threads.

Used by the portability test (``tests/test_portability.py``) and by ``python3 workbook.py
spread`` (``kdbook._spread``), so both run the same paths.
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from functools import cache

__all__ = ["cpu_paths", "probe"]

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


def probe(env: dict | None = None) -> dict:
    """What a fresh Python with these extra environment variables reports: numpy's CPU
    features and dispatch targets, and the BLAS libraries (threadpoolctl)."""
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
    info = probe()
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

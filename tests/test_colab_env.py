"""The chapters pass nbval in an environment pinned to Colab's runtime (issue 26).

Colab preloads its own numpy, matplotlib and ipywidgets (7.7 there, where kdbook is developed on
8), and the chapters' setup cell installs kdbook with ``--no-deps`` so that they stay. This test
builds such an environment in ``build/venv-colab`` — Python 3.12 and the pins below, plus the test
tools — installs kdbook from this checkout without dependencies, as the setup cell does from the
release tag, and runs nbval over every chapter notebook there.

The pins are Colab's runtime as issue 26 reported it (Python 3.12, numpy 2.0.x, ipywidgets
7.7.x); they were not re-checked online from here (no network besides the package registries):
update :data:`COLAB_PINS` and the README when Colab moves. Group ``system`` (slow).
"""
from __future__ import annotations

import glob
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / "build" / "venv-colab"
#: Colab's preloaded packages (as issue 26 gives them; see the module docstring).
COLAB_PINS = ("numpy==2.0.2", "matplotlib==3.10.0", "ipywidgets==7.7.1")
#: What the test itself needs in that environment (not part of Colab's pins). JupyterLab is there only
#: so the start notebook's self-check prints the same table as where the notebooks were stored.
TOOLS = ("ipykernel", "threadpoolctl", "scipy", "nbval>=0.11", "pytest>=8", "nbformat", "nbclient", "jupyterlab>=4")


def _python312() -> str | None:
    """A Python 3.12 that runs: on PATH, or one of pyenv's installed versions (pyenv's shims on PATH fail
    for a version that is not selected, so each candidate is tried)."""
    candidates = [shutil.which("python3.12")]
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12")), reverse=True)
    for exe in filter(None, candidates):
        try:
            done = subprocess.run([exe, "-c", "import sys, venv; print(sys.version_info[:2])"], capture_output=True,
                                  text=True, timeout=60)
        except OSError:
            continue
        if done.returncode == 0 and done.stdout.strip() == "(3, 12)":
            return exe
    return None


def _run(cmd, **kw):
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)


def pinned_venv(venv: Path, packages: tuple[str, ...], stamp_name: str, what: str) -> Path:
    """The Python of a Python 3.12 virtual environment at ``venv`` holding ``packages`` (rebuilt when they
    change; skipped with the reason when the registry cannot supply them), with this checkout's kdbook
    installed the way the setup cell installs it: no dependencies, the platform's stay as they are."""
    base = _python312()
    if base is None:
        pytest.skip(f"no Python 3.12 on this machine (install python3.12, or pyenv's 3.12): {what} cannot be built")
    py = venv / "bin" / "python"
    stamp = venv / stamp_name
    digest = hashlib.sha256("\n".join(packages).encode()).hexdigest()
    if not (stamp.exists() and stamp.read_text() == digest):
        shutil.rmtree(venv, ignore_errors=True)
        made = _run([base, "-m", "venv", venv])
        assert made.returncode == 0, f"{base} -m venv failed: {made.stderr}"
        got = _run([py, "-m", "pip", "install", "--quiet", *packages], timeout=1800)
        if got.returncode != 0:
            pytest.skip(f"installing {what} from the registry failed: {got.stderr[-600:]}")
        stamp.write_text(digest)
    got = _run([py, "-m", "pip", "install", "--quiet", "--no-deps", "--force-reinstall", str(ROOT)], timeout=600)
    assert got.returncode == 0, got.stderr
    return py


@pytest.fixture(scope="module")
def colab_python() -> Path:
    return pinned_venv(VENV, (*COLAB_PINS, *TOOLS), ".kdbook-colab", "the Colab-pinned environment")


def test_the_pins_are_what_the_environment_has(colab_python):
    code = ("import sys, numpy, matplotlib, ipywidgets; "
            "print(sys.version_info[:2], numpy.__version__, matplotlib.__version__, ipywidgets.__version__)")
    done = _run([colab_python, "-c", code])
    assert done.stdout.strip() == "(3, 12) 2.0.2 3.10.0 7.7.1", done.stdout + done.stderr


def test_every_chapter_passes_nbval_with_colabs_packages(colab_python, tmp_path):
    # kdbook comes from the environment (installed as the setup cell does), not from this checkout's folder
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = _run([colab_python, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                 *sorted(str(p) for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))],
                cwd=ROOT, env=env, timeout=3000)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]

"""The lower bounds in pyproject.toml hold: the tests pass with the oldest versions we allow.

The test builds a separate virtual environment in ``build/venv-oldest`` with every runtime
dependency of ``[project.dependencies]`` pinned to its lower bound (``numpy>=X`` installs
``numpy==X``) and the test tools of the ``test`` extra (newest versions compatible with those
pins; not the browser and Binder tools), all from PyPI with pip. kdbook itself comes from this
checkout through ``PYTHONPATH``. It then runs the unit, property and doctests, the grader tests
and nbval over every notebook there. The environment is reused while the pins (and Python)
stay the same, so reruns cost only the test run. Marker ``oldest``.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

pytestmark = pytest.mark.oldest

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / "build" / "venv-oldest"
STAMP = VENV / ".kdbook-oldest-stamp"
#: Test-extra tools the oldest run does not need (browser and Binder tests are left out there).
NOT_NEEDED = {"playwright", "jupyter-repo2docker"}
#: Test files that need those tools, or that install environments of their own.
IGNORED = ("tests/test_browser_notebooks.py", "tests/test_binder.py", "tests/test_fresh_machine.py",
           "tests/test_oldest_versions.py", "tests/test_portability.py")
INSTALL_TIMEOUT_S = 1800
RUN_TIMEOUT_S = 1800
_SPEC = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*>=\s*([0-9][0-9A-Za-z.]*)\s*$")


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def lower_bounds() -> dict[str, str]:
    """Runtime dependency -> its lower bound, from ``[project.dependencies]``."""
    bounds = {}
    for spec in _project()["dependencies"]:
        m = _SPEC.match(spec)
        assert m, f"dependency {spec!r} is not of the form 'name>=version': the oldest-versions test cannot pin it"
        bounds[m.group(1).lower()] = m.group(2)
    return bounds


def requirements() -> list[str]:
    tools = [spec for spec in _project()["optional-dependencies"]["test"]
             if re.split(r"[<>=!~ ]", spec, maxsplit=1)[0].lower() not in NOT_NEEDED]
    return [f"{name}=={version}" for name, version in lower_bounds().items()] + tools


def _python() -> Path:
    return VENV / "bin" / "python"


@pytest.fixture(scope="module")
def oldest_python() -> Path:
    """The venv with the oldest versions, built (or rebuilt when its pins changed) on demand."""
    reqs = requirements()
    digest = hashlib.sha256("\n".join([sys.version, *reqs]).encode()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == digest and _python().exists():
        return _python()
    shutil.rmtree(VENV, ignore_errors=True)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, timeout=300)
    result = subprocess.run([str(_python()), "-m", "pip", "install", "--quiet", *reqs],
                            capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S)
    assert result.returncode == 0, (
        f"pip could not install the lower bounds {reqs}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    STAMP.write_text(digest)
    print(f"\noldest versions: venv built in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return _python()


def test_lower_bounds_match_environment_yml():
    """Binder's environment.yml states the same lower bounds as pyproject.toml."""
    text = (ROOT / "environment.yml").read_text()
    for name, version in lower_bounds().items():
        assert re.search(rf"^\s*-\s*{re.escape(name)}\s*>=\s*{re.escape(version)}\b", text, re.M | re.I), (
            f"environment.yml does not say {name}>={version} like pyproject.toml")


def test_lower_bounds_match_the_start_notebooks_self_check():
    """kdbook.environment.REQUIREMENTS (chapter 0's self-check) states the same lower bounds."""
    from packaging.version import Version

    from kdbook.environment import REQUIREMENTS

    for name, version in lower_bounds().items():
        if name in REQUIREMENTS:
            assert Version(REQUIREMENTS[name]) == Version(version), (
                f"kdbook.environment.REQUIREMENTS says {name} {REQUIREMENTS[name]}, pyproject.toml {version}")


def test_the_venv_holds_exactly_the_lower_bounds(oldest_python):
    probe = ("import importlib.metadata as m, json, sys; "
             "print(json.dumps({n: m.version(n) for n in sys.argv[1:]}))")
    out = subprocess.run([str(oldest_python), "-c", probe, *lower_bounds()], capture_output=True, text=True,
                         check=True, timeout=120)
    import json

    from packaging.version import Version

    installed = json.loads(out.stdout)
    assert {n: Version(v) for n, v in installed.items()} == {n: Version(v) for n, v in lower_bounds().items()}, installed


def test_tests_and_notebooks_pass_on_the_oldest_versions(oldest_python):
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTEST_ADDOPTS", "PYTHONHOME")}
    env["PYTHONPATH"] = str(ROOT)  # kdbook from this checkout
    cmd = [str(oldest_python), "-m", "pytest", "-q", "-x", "-n", "2", "--dist", "loadfile",
           "-m", "not browser and not slow and not portability and not oldest and not system and not claims",
           *(f"--ignore={p}" for p in IGNORED)]
    start = time.perf_counter()
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    print(f"\noldest versions: test run took {time.perf_counter() - start:.0f} s", file=sys.stderr)
    assert result.returncode == 0, (
        f"the tests fail with the lower bounds {lower_bounds()}:\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}")
    probe = subprocess.run([str(oldest_python), "-c", "import kdbook, numpy; print(kdbook.__file__, numpy.__version__)"],
                           env=env, capture_output=True, text=True, check=True, timeout=120)
    path, numpy_version = probe.stdout.split()
    from packaging.version import Version

    assert Path(path).resolve().is_relative_to(ROOT) and Version(numpy_version) == Version(lower_bounds()["numpy"])

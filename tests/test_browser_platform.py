"""kdbook under Pyodide (the JupyterLite site), emulated by setting ``sys.platform = "emscripten"``,
and the site builder's own checks (``tools/lite_site.py``), without a browser or a network.
"""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import kdbook
from kdbook import _rowwise
from kdbook import environment
from kdbook.grade import NOT_IN_BROWSER, grade
from kdbook.grade.__main__ import main as grade_main

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def in_browser(monkeypatch):
    monkeypatch.setattr(sys, "platform", "emscripten")


@pytest.fixture(scope="module")
def lite_site():
    spec = importlib.util.spec_from_file_location("lite_site", ROOT / "tools" / "lite_site.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- kdbook in the browser


def test_row_chunks_run_serially_without_threads(in_browser, monkeypatch):
    """Where threads cannot start, a batch large enough for the pool runs in the calling thread."""
    assert not _rowwise.threads_available()
    assert _rowwise._workers() == 1

    def no_pool():
        raise AssertionError("the thread pool was used on a platform without threads")

    monkeypatch.setattr(_rowwise, "_pool", no_pool)
    monkeypatch.setattr(_rowwise, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(_rowwise, "CHUNK_BYTES", 5 * 16 * 8)  # 5 rows per chunk: many chunks
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(16), size=103)
    q = rng.dirichlet(np.ones(16), size=103)
    expected = np.sum(p * np.log(p / q), axis=-1)
    np.testing.assert_allclose(kdbook.kl_divergence(p, q), expected, rtol=1e-12)


def test_threads_available_on_this_machine():
    assert _rowwise.threads_available()


def test_environment_check_leaves_out_what_the_site_provides(in_browser, monkeypatch):
    found = {"python": "3.12.7", "numpy": "2.0.2", "matplotlib": "3.8.4", "ipywidgets": "8.1.9"}
    monkeypatch.setattr(environment, "_found", lambda name: found.get(name))  # no jupyterlab etc.
    checks = environment.check_environment()
    assert {c.name for c in checks} == set(found)
    assert all(c.ok for c in checks)
    assert "missing" not in environment.environment_report()


def test_environment_check_on_a_computer_checks_everything():
    names = {c.name for c in environment.check_environment()}
    assert environment.BROWSER_PROVIDED <= names


def test_batch_grader_refuses_to_run_in_the_browser(in_browser, tmp_path, capsys):
    with pytest.raises(RuntimeError, match="does not run in the browser"):
        grade([tmp_path / "x.ipynb"])
    assert grade_main([str(tmp_path / "x.ipynb")]) == 2
    err = capsys.readouterr().err
    assert NOT_IN_BROWSER in err and "kdbook.grading.check" in err


# --------------------------------------------------------------------------- the site builder


def test_lite_command_is_documented():
    out = subprocess.run([sys.executable, str(ROOT / "workbook.py"), "lite", "--help"],
                         capture_output=True, text=True, check=True).stdout
    assert "--pyodide-source" in out and "official" in out


def test_lock_closure_follows_normalized_dependency_names(lite_site):
    lock = {"packages": {
        "ipython": {"depends": ["prompt_toolkit", "Stack.Data"]},
        "prompt-toolkit": {"depends": []},
        "stack-data": {"depends": ["pure-eval"]},
        "pure-eval": {"depends": []},
        "unrelated": {"depends": []},
    }}
    assert lite_site.closure(lock, ["ipython"]) == ["ipython", "prompt-toolkit", "pure-eval", "stack-data"]
    with pytest.raises(lite_site.VerificationError, match="no package 'nothere'"):
        lite_site.closure({"packages": {"a": {"depends": ["nothere"]}}}, ["a"])


def _fake_inputs(lite_site, monkeypatch, tmp_path, content: bytes):
    """A cache holding one 'verified' package file with ``content`` and a lock that expects b'right'."""
    import hashlib

    monkeypatch.setattr(lite_site, "CACHE", tmp_path / "cache")
    verified = tmp_path / "cache" / f"verified-offline-{lite_site.PYODIDE_VERSION}"
    verified.mkdir(parents=True)
    (verified / "pkg-1.0-py3-none-any.whl").write_bytes(content)
    lock = {"packages": {"pkg": {"file_name": "pkg-1.0-py3-none-any.whl", "depends": [],
                                 "sha256": hashlib.sha256(b"right").hexdigest()}}}
    out = tmp_path / "out"
    out.mkdir()
    return lock, out


def test_package_file_that_matches_the_lock_is_shipped(lite_site, monkeypatch, tmp_path):
    lock, out = _fake_inputs(lite_site, monkeypatch, tmp_path, b"right")
    lite_site.package_files(lock, ["pkg"], out, "offline", Path(sys.executable))
    assert (out / "pkg-1.0-py3-none-any.whl").read_bytes() == b"right"


def test_package_file_that_does_not_match_the_lock_fails_the_build(lite_site, monkeypatch, tmp_path):
    lock, out = _fake_inputs(lite_site, monkeypatch, tmp_path, b"tampered")
    with pytest.raises(lite_site.VerificationError, match="does not match the official"):
        lite_site.package_files(lock, ["pkg"], out, "offline", Path(sys.executable))
    assert not (out / "pkg-1.0-py3-none-any.whl").exists()


def test_package_missing_from_the_carrier_fails_the_build(lite_site, monkeypatch, tmp_path):
    import zipfile

    monkeypatch.setattr(lite_site, "CACHE", tmp_path / "cache")
    carrier = tmp_path / "carrier.whl"
    with zipfile.ZipFile(carrier, "w") as z:
        z.writestr(lite_site.CARRIER_PREFIX + "other-1.0-py3-none-any.whl", b"x")
    monkeypatch.setattr(lite_site, "carrier_wheel", lambda python: carrier)
    lock = {"packages": {"pkg": {"file_name": "pkg-1.0-py3-none-any.whl", "depends": [], "sha256": "0" * 64}}}
    with pytest.raises(lite_site.VerificationError, match="does not carry pkg-1.0"):
        lite_site.package_files(lock, ["pkg"], tmp_path, "offline", Path(sys.executable))


def test_front_page_opens_the_start_notebook(lite_site):
    page = lite_site.FRONT_PAGE.format(start=lite_site.START_NOTEBOOK)
    assert "url=lab/index.html?path=notebooks/00_start_here.ipynb" in page
    assert 'id="jupyter-config-data"' in page  # the apps read the root's config script
    assert json.loads(page.split('data-jupyter-lite-root=".">')[1].split("</script>")[0]) == {}


def test_the_batch_grader_imports_and_refuses_without_posix_only_modules():
    """Pyodide has no pwd, fcntl or resource: importing kdbook.grade must still work there, so that
    `python -m kdbook.grade` can say plainly that it is not for the browser."""
    code = (
        "import sys\n"
        "for name in ('pwd', 'fcntl', 'resource'):\n"
        "    sys.modules[name] = None\n"
        "from kdbook.grade.__main__ import main\n"
        "sys.platform = 'emscripten'\n"
        "main(['x.ipynb'])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "ModuleNotFoundError" not in out.stderr, out.stderr
    assert "does not run in the browser" in out.stdout + out.stderr, (out.stdout, out.stderr)

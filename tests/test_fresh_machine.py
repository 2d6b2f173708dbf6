"""The README's quick start works on a fresh machine: clone, then its two commands, nothing else.

The slow test clones the committed HEAD into a temporary folder and runs the README's commands
there with a plain ``python3`` (no virtual environment active, no ``KDBOOK_VENV``), so they have
to create and fill the clone's own ``.venv`` (pip's cache may be reused). The README check keeps
the commands tested here and the commands printed in the README identical.
"""
from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from _labserver import LabServer, free_port

ROOT = Path(__file__).resolve().parents[1]
LAB_COMMAND = "python3 workbook.py lab"
TEST_COMMAND = "python3 workbook.py test"
INSTALL_TIMEOUT_S = 1200


def _quick_start_commands() -> list[str]:
    """The command lines of the first fenced code block under the README's "Quick start" heading."""
    readme = (ROOT / "README.md").read_text()
    section = re.search(r"^#+\s*Quick start\s*$(.*?)(?=^#+\s|\Z)", readme, re.M | re.S | re.I)
    assert section, "README.md has no 'Quick start' section"
    block = re.search(r"^```[\w-]*\n(.*?)^```", section.group(1), re.M | re.S)
    assert block, "the README's Quick start section has no fenced code block"
    return [line.strip() for line in block.group(1).splitlines() if line.strip() and not line.strip().startswith("#")]


def test_readme_quick_start_is_exactly_the_tested_commands():
    assert _quick_start_commands() == [LAB_COMMAND, TEST_COMMAND]


def _bare_environment(home: Path) -> dict:
    """The environment of a new shell: no virtual environment active, no kdbook overrides."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("VIRTUAL_ENV", "KDBOOK_VENV", "PYTHONPATH", "PYTHONHOME", "CONDA_PREFIX")}
    venv_bin = str(Path(sys.prefix) / "bin")
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin)
    env["JUPYTER_RUNTIME_DIR"] = str(home / "jupyter-runtime")
    return env


def _python3(env: dict) -> str:
    found = shutil.which("python3", path=env["PATH"])
    assert found, "no python3 on PATH"
    return found


def _run(cmd: list[str], cwd: Path, env: dict, timeout: float) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, (
        f"{' '.join(cmd)} exited with {result.returncode}\n--- stdout\n{result.stdout[-3000:]}"
        f"\n--- stderr\n{result.stderr[-3000:]}"
    )
    return result


@pytest.mark.slow
def test_quick_start_on_a_fresh_clone(tmp_path):
    env = _bare_environment(tmp_path)
    python3 = _python3(env)
    clone = tmp_path / "kdbook"
    _run(["git", "clone", "--quiet", str(ROOT), str(clone)], tmp_path, env, 120)
    assert not (clone / ".venv").exists()
    committed = sorted(p.name for p in (clone / "notebooks").glob("*.ipynb"))
    assert "00_start_here.ipynb" in committed

    # 1. The test command's install step builds the clone's own .venv with everything in it.
    _run([python3, *TEST_COMMAND.split()[1:], "--install-only"], clone, env, INSTALL_TIMEOUT_S)
    venv_python = clone / ".venv" / "bin" / "python"
    assert venv_python.exists()
    probe = _run(
        [str(venv_python), "-c", "import kdbook, pytest, nbval, hypothesis, scipy, playwright, repo2docker, "
         "jupyterlab, ipywidgets; print(kdbook.__file__)"],
        clone, env, 120,
    )
    assert Path(probe.stdout.strip()).resolve().is_relative_to(clone.resolve()), "kdbook not installed from the clone"

    # 2. The lab command starts JupyterLab that answers on its port and lists the notebooks.
    port, token = free_port(), secrets.token_hex(16)
    cmd = [python3, *LAB_COMMAND.split()[1:], "--no-browser", f"--port={port}",
           f"--ServerApp.token={token}", "--ServerApp.ip=127.0.0.1"]
    server = LabServer(cmd, port=port, token=token, cwd=clone, env=env, log_path=tmp_path / "lab.log")
    try:
        server.wait_until_ready(timeout=INSTALL_TIMEOUT_S)
        # The file browser starts at the repository root, so chapters, exercises and solutions
        # (and the chapters' relative links between them) are all reachable.
        top = {item["name"] for item in server.api("/api/contents")["content"]}
        assert {"workbook.py", "notebooks", "exercises", "solutions"} <= top, (
            f"JupyterLab's root is not the repository (it shows {sorted(top)})"
        )
        listing = server.api("/api/contents/notebooks")
        assert listing["type"] == "directory"
        served = sorted(item["name"] for item in listing["content"] if item["type"] == "notebook")
        assert served == committed
        # The server runs from the clone's .venv, not from the environment running this test.
        log = server.log_path.read_text()
        assert f"+ {clone / '.venv' / 'bin' / 'python'} -m jupyter lab" in log
        _assert_root_handling(log, as_root=os.geteuid() == 0)
    finally:
        server.stop()
    assert not server.group_alive(), "workbook.py lab left processes running after it was stopped"


ROOT_NOTE = "note: running as root (effective user id 0), so JupyterLab is started with --allow-root"


def _assert_root_handling(log: str, as_root: bool) -> None:
    """As root the lab command adds --allow-root and says so in one line; otherwise neither."""
    [lab_line] = [line for line in log.splitlines() if line.startswith("+ ") and " -m jupyter lab" in line]
    if as_root:
        assert ROOT_NOTE in log.splitlines(), f"no root note in the log:\n{log[-2000:]}"
        assert lab_line.endswith(" --allow-root"), lab_line
    else:
        assert ROOT_NOTE not in log and "--allow-root" not in lab_line, lab_line


def _system_python() -> str | None:
    """A python3 >= 3.11 outside /root (which other users cannot enter), or None."""
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3"):
        if Path(candidate).exists():
            ok = subprocess.run([candidate, "-c", "import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))"],
                                capture_output=True)
            if ok.returncode == 0:
                return candidate
    return None


@pytest.mark.slow
def test_lab_as_a_non_root_user(tmp_path):
    """The lab command from a fresh clone as an ordinary user: no --allow-root, and it serves."""
    if os.geteuid() != 0:
        pytest.skip("this process is not root: the fresh-clone test above already ran as a non-root user")
    python3 = _system_python()
    if not (shutil.which("useradd") and shutil.which("userdel") and shutil.which("runuser")) or python3 is None:
        pytest.skip("cannot create a non-root user here (needs useradd, userdel, runuser and a python3 >= 3.11 "
                    "outside /root)")
    user = f"kdbook{secrets.token_hex(3)}"
    home = Path(f"/tmp/{user}-home")
    made = subprocess.run(["useradd", "--home-dir", str(home), "--create-home", "--shell", "/bin/sh", user],
                          capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"useradd failed, so no non-root user can be created here: {made.stderr.strip()}")
    server = None
    try:
        clone = home / "kdbook"
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8",
               "JUPYTER_RUNTIME_DIR": str(home / "jupyter-runtime")}
        as_user = [shutil.which("runuser"), "-u", user, "--"]
        # Cloned by root (git refuses to read a repository another user owns), then handed over.
        _run(["git", "clone", "--quiet", str(ROOT), str(clone)], home, env, 120)
        _run(["chown", "-R", f"{user}:", str(clone)], home, env, 60)
        port, token = free_port(), secrets.token_hex(16)
        cmd = [*as_user, python3, *LAB_COMMAND.split()[1:], "--no-browser", f"--port={port}",
               f"--ServerApp.token={token}", "--ServerApp.ip=127.0.0.1"]
        server = LabServer(cmd, port=port, token=token, cwd=clone, env=env, log_path=tmp_path / "lab-user.log")
        server.wait_until_ready(timeout=INSTALL_TIMEOUT_S)
        assert server.api("/api/contents/notebooks")["type"] == "directory"
        _assert_root_handling(server.log_path.read_text(), as_root=False)
        owner = subprocess.run(["stat", "-c", "%U", str(clone / ".venv")], capture_output=True, text=True).stdout.strip()
        assert owner == user, f"the clone's .venv belongs to {owner}, not to the user who ran the command"
    finally:
        if server is not None:
            server.stop()
        subprocess.run(["userdel", "--remove", user], capture_output=True)
        shutil.rmtree(home, ignore_errors=True)

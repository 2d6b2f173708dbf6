"""Start, query and stop a JupyterLab server for the tests (private test helper).

The server runs in its own process group (``start_new_session=True``) so that stopping it by its
pid also ends whatever it started (``workbook.py lab`` runs ``jupyter lab`` as a child; the server
runs kernels). Kernels are shut down through the REST API first, then the group gets SIGTERM,
then SIGKILL if it has not exited.
"""
from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

LAB_FLAGS = (
    "--no-browser",
    "--ServerApp.ip=127.0.0.1",
    "--allow-root",
    "--LabApp.news_url=None",
    "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    "--LabApp.expose_app_in_browser=True",
)

# Written into JUPYTERLAB_SETTINGS_DIR: no news pop-up over the screenshots, and no autosave
# (which would write the browser's outputs back into the notebook files).
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
}


def _die_with_parent() -> None:
    """In the child before exec (Linux): get SIGTERM if the test process dies without cleaning up
    (killed by a CI timeout, say), so no server is left running. Best effort elsewhere."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_lab_settings(settings_dir: Path) -> None:
    """Write :data:`LAB_SETTINGS` as JupyterLab user settings under ``settings_dir``."""
    for rel, values in LAB_SETTINGS.items():
        path = settings_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values, indent=2))


def api(base_url: str, token: str, path: str, method: str = "GET", timeout: float = 10):
    """Call the Jupyter server REST API; return the decoded JSON body (None when empty)."""
    request = urllib.request.Request(
        f"{base_url}{path}", method=method, headers={"Authorization": f"token {token}"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        body = response.read()
    return json.loads(body) if body else None


class LabServer:
    """A JupyterLab (or ``workbook.py lab``) process started with ``cmd`` and a known port/token."""

    def __init__(self, cmd: list[str], *, port: int, token: str, cwd: Path, env: dict, log_path: Path):
        self.port, self.token = port, token
        self.base_url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=_die_with_parent,
        )

    def log_tail(self, chars: int = 3000) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-chars:]

    def wait_until_ready(self, timeout: float) -> dict:
        """Poll ``/api/status`` until the server answers; return the status JSON."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"server exited with code {self.proc.returncode}; log tail:\n{self.log_tail()}"
                )
            try:
                return api(self.base_url, self.token, "/api/status", timeout=5)
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.5)
        raise TimeoutError(f"server not answering on port {self.port} after {timeout:.0f} s; log tail:\n{self.log_tail()}")

    def api(self, path: str, method: str = "GET"):
        return api(self.base_url, self.token, path, method)

    def shutdown_kernels(self) -> None:
        """Delete every session and kernel through the REST API (best effort)."""
        try:
            for session in self.api("/api/sessions"):
                self.api(f"/api/sessions/{session['id']}", "DELETE")
            for kernel in self.api("/api/kernels"):
                self.api(f"/api/kernels/{kernel['id']}", "DELETE")
        except (urllib.error.URLError, OSError):
            pass

    def group_alive(self) -> bool:
        """Whether any live (non-zombie) process is left in the server's process group."""
        proc_dir = Path("/proc")
        if not proc_dir.is_dir():  # not Linux: ask the kernel (zombies count as alive here)
            try:
                os.killpg(self.proc.pid, 0)
                return True
            except ProcessLookupError:
                return False
        for stat in proc_dir.glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # the process ended while we looked
            state, pgrp = fields[0], int(fields[2])
            if pgrp == self.proc.pid and state != "Z":
                return True
        return False

    def _wait_group(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None and not self.group_alive():
                return True
            time.sleep(0.2)
        return False

    def stop(self, timeout: float = 20) -> None:
        """Shut the kernels down, then end the server's process group by its pid.

        SIGTERM first (Jupyter shuts down cleanly), SIGKILL whatever is left after ``timeout`` s.
        """
        if self.proc.poll() is None:
            self.shutdown_kernels()
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10)):
            if self.proc.poll() is not None and not self.group_alive():
                break
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            if self._wait_group(wait):
                break
        self._log.close()

"""A real JupyterHub on loopback for the tests (private test helper; used by ``test_jupyterhub.py``).

The hub runs from this Python (``python -m jupyterhub``) with its proxy, configurable-http-proxy,
installed from npm into ``build/hub-cache/proxy`` (once; later runs reuse it). Learners log in
through ``DummyAuthenticator`` (any name and password: testing only) and get a server from
``SimpleLocalProcessSpawner`` (testing only: no system users, each home a folder under the test's
temporary folder) running this Python's ``jupyterhub.singleuser``, that is JupyterLab with the
environment's extensions (nbgitpuller, the widgets front end).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from _labserver import LabServer, free_port, write_lab_settings

ROOT = Path(__file__).resolve().parents[1]
# 5.x needs Node.js >= 20 (this machine's); Debian 12's own nodejs is 18, which 4.6 accepts.
PROXY_PACKAGES = {20: "configurable-http-proxy@5.3.0", 0: "configurable-http-proxy@4.6.3"}
# npm's words for "the registry cannot be reached or has no such package" (then the test skips).
REGISTRY_ERRORS = ("E404", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "ECONNREFUSED", "ECONNRESET", "network")

#: Flags of every learner's JupyterLab: no news or update check, the app exposed for the test.
SINGLEUSER_ARGS = (
    "--ServerApp.allow_root=True",  # CI runs as root; the spawner runs learners as the hub's user
    "--LabApp.news_url=None",
    "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    "--LabApp.expose_app_in_browser=True",
)

_CONFIG = """\
import sys
c = get_config()  # noqa: F821
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {port}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.JupyterHub.db_url = {db!r}
c.JupyterHub.cookie_secret_file = {secret!r}
c.JupyterHub.pid_file = {pid_file!r}
c.JupyterHub.cleanup_servers = True
c.ConfigurableHTTPProxy.command = [{proxy!r}]
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
c.ConfigurableHTTPProxy.pid_file = {proxy_pid!r}
c.ConfigurableHTTPProxy.debug = False
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allow_all = True
c.JupyterHub.spawner_class = "jupyterhub.spawner.SimpleLocalProcessSpawner"
c.SimpleLocalProcessSpawner.home_dir_template = {homes!r} + "/{{username}}"
c.Spawner.cmd = [{python!r}, "-m", "jupyterhub.singleuser"]
c.Spawner.args = {args!r}
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 150
# Stopping a learner's server: SIGINT, then SIGTERM, then SIGKILL. A server killed before it has
# shut its kernel down leaves the kernel behind, so on a busy machine give it time.
c.LocalProcessSpawner.interrupt_timeout = 30
c.LocalProcessSpawner.term_timeout = 15
c.Spawner.http_timeout = 150
c.Spawner.env_keep = ["PATH", "PYTHONPATH", "VIRTUAL_ENV", "LANG", "LC_ALL", "PYTHONHASHSEED"]
"""


class ProxyUnavailable(RuntimeError):
    """The npm registry could not supply configurable-http-proxy."""


def install_proxy() -> Path:
    """configurable-http-proxy from npm into ``build/hub-cache/`` (reused when already there)."""
    npm, node = shutil.which("npm"), shutil.which("node") or shutil.which("nodejs")
    if npm is None or node is None:
        raise FileNotFoundError("Node.js and npm are missing: install Debian's nodejs and npm packages "
                                "(python3 workbook.py test does it when run as root)")
    major = int(subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout.strip()
                .lstrip("v").split(".")[0])
    package = next(pkg for least, pkg in sorted(PROXY_PACKAGES.items(), reverse=True) if major >= least)
    folder = ROOT / "build" / "hub-cache" / package.replace("@", "-")
    binary = folder / "node_modules" / ".bin" / "configurable-http-proxy"
    if binary.exists():
        return binary
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([npm, "install", "--prefix", str(folder), "--no-audit", "--no-fund", "--no-save",
                           "--loglevel=error", package], capture_output=True, text=True, timeout=300)
    if done.returncode != 0 or not binary.exists():
        text = done.stdout + done.stderr
        if any(word in text for word in REGISTRY_ERRORS):
            raise ProxyUnavailable(f"npm could not install {package} from the registry:\n{text[-1500:]}")
        raise RuntimeError(f"npm install {package} failed:\n{text[-3000:]}")
    return binary


def processes_under(folder: Path) -> list[int]:
    """Pids of live processes whose working directory lies in ``folder`` (learners' servers, kernels)."""
    found = []
    for cwd in Path("/proc").glob("[0-9]*/cwd"):
        try:
            if Path(os.readlink(cwd)).is_relative_to(folder):
                stat = (cwd.parent / "stat").read_text().rsplit(")", 1)[1].split()
                if stat[0] != "Z":
                    found.append(int(cwd.parent.name))
        except OSError:
            continue  # ended while we looked, or not ours to read
    return found


class Hub:
    """A JupyterHub (and its proxy, and the learners' servers it spawns) in ``base``."""

    def __init__(self, base: Path):
        self.base = base
        self.homes = base / "homes"
        self.homes.mkdir(parents=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = base / "jupyterhub_config.py"
        config.write_text(_CONFIG.format(
            port=self.port, hub_port=free_port(), api_port=free_port(), db=f"sqlite:///{base / 'hub.sqlite'}",
            secret=str(base / "cookie_secret"), pid_file=str(base / "hub.pid"), proxy=str(install_proxy()),
            proxy_pid=str(base / "proxy.pid"), homes=str(self.homes), python=sys.executable,
            args=list(SINGLEUSER_ARGS)))
        env = dict(os.environ, PYTHONHASHSEED="0", CONFIGPROXY_AUTH_TOKEN=os.urandom(16).hex())
        self.server = LabServer([sys.executable, "-m", "jupyterhub", "-f", str(config)], port=self.port,
                                token="", cwd=base, env=env, log_path=base / "hub.log")

    def prepare_home(self, name: str) -> Path:
        """The learner's home with JupyterLab's user settings: no news pop-up, no autosave."""
        home = self.homes / name
        write_lab_settings(home / ".jupyter" / "lab" / "user-settings")
        return home

    def wait_until_ready(self, timeout: float = 90) -> str:
        """Poll ``/hub/api`` through the proxy until it answers; return the hub's version."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.server.proc.poll() is not None:
                raise RuntimeError(f"the hub exited with code {self.server.proc.returncode}:\n{self.server.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/hub/api", timeout=5) as response:
                    return json.loads(response.read())["version"]
            except (urllib.error.URLError, ConnectionError, OSError, ValueError, KeyError):
                time.sleep(0.5)
        raise TimeoutError(f"the hub did not answer on {self.url} in {timeout:.0f} s:\n{self.server.log_tail()}")

    def stop(self) -> list[str]:
        """End the hub (it stops the proxy and the learners' servers); return what was left behind, if any.

        Whatever is still running in the learners' homes after that is ended too, by its pid.
        """
        self.server.stop(timeout=90)  # the hub waits for every learner's server to stop (up to 45 s each, at once)
        proxy = self.base / "proxy.pid"  # the hub stops the proxy it started; make sure
        if proxy.exists():
            try:
                pid = int(proxy.read_text())
                if b"configurable-http-proxy" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    os.kill(pid, signal.SIGTERM)
            except (OSError, ValueError):
                pass
        deadline = time.monotonic() + 15
        while (left := processes_under(self.homes)) and time.monotonic() < deadline:
            time.sleep(0.5)
        described = []
        for pid in left:
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                described.append(f"{pid}: {cmdline[:200]}")
                os.kill(pid, signal.SIGKILL)
            except (OSError, ProcessLookupError):
                pass
        return described

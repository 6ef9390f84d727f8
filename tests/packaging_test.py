"""The installed package (not the source tree) carries the catalogue and the command."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Built from a copy: a build in the checkout would leave build/ and *.egg-info there.
    source = tmp_path_factory.mktemp("source") / "gradcheck"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".git", ".venv*", "build", "*.egg-info",
                                                                "__pycache__", ".*cache"))
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                    str(source)], check=True, capture_output=True, timeout=600)
    return target


def test_wheel_ships_the_catalogue(installed: Path) -> None:
    shipped = {p.relative_to(installed / "gradcheck" / "identities") for p in
               (installed / "gradcheck" / "identities").rglob("*.yaml")}
    source = {p.relative_to(ROOT / "identities") for p in (ROOT / "identities").rglob("*.yaml")}
    assert shipped == source


def test_installed_verify_works_from_any_directory(installed: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(installed), "COLUMNS": "120"}
    result = subprocess.run([sys.executable, "-m", "gradcheck.cli", "verify", "logdet", "--size", "3"],
                            capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"file: {installed / 'gradcheck' / 'identities' / 'seed' / 'logdet.yaml'}" in result.stdout


def test_installed_new_writes_the_template_from_any_directory(installed: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(installed)}
    run = subprocess.run([sys.executable, "-m", "gradcheck.cli", "new", "mine", "--folder", "."],
                         capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    text = (tmp_path / "mine.yaml").read_text()
    modeline = text.splitlines()[0].split("$schema=", 1)[1]
    assert not modeline.startswith(("/", "file:")) and (tmp_path / modeline).exists() and "name: mine\n" in text
    lint = subprocess.run([sys.executable, "-m", "gradcheck.cli", "lint", "mine.yaml"],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert lint.returncode == 0, lint.stderr


def test_every_folder_of_the_catalogue_is_a_listed_package() -> None:
    import tomllib

    root = Path(__file__).resolve().parents[1]
    listed = set(tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    folders = {"gradcheck." + ".".join(p.relative_to(root).parts) for p in (root / "identities").rglob("*")
               if p.is_dir() and not p.name.startswith((".", "__"))} | {"gradcheck.identities"}
    assert folders <= listed, sorted(folders - listed)


def test_the_build_is_clean_and_the_sdist_carries_tests_and_docs(tmp_path: Path) -> None:
    import shutil
    import tarfile

    root = Path(__file__).resolve().parents[1]
    source = tmp_path / "source"
    shutil.copytree(root, source, ignore=shutil.ignore_patterns(".venv*", ".git", ".*cache", ".coverage", "build",
                                                                 "dist", "*.egg-info", "artifacts", "__pycache__"))
    # as a user builds it: pypa/build, in an isolated environment with the setuptools that
    # pyproject.toml asks for (the test environment's own may be older)
    proc = subprocess.run([sys.executable, "-m", "build", "--outdir", "dist", "."], cwd=source, capture_output=True,
                          text=True, timeout=600, env={**os.environ, "PYTHONWARNINGS": "always"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    output = proc.stdout + proc.stderr
    assert "Warning" not in output and "deprecated" not in output.lower(), output[-3000:]
    sdist = next((source / "dist").glob("*.tar.gz"))
    with tarfile.open(sdist) as archive:
        names = {"/".join(n.split("/")[1:]) for n in archive.getnames()}
    for needed in ("LICENSE", "CHANGELOG.md", "tests/cli_test.py", "docs/format.md", "identities/seed/logdet.yaml",
                   "action.yml"):
        assert needed in names, needed

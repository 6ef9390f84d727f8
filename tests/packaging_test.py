"""The installed package (not the source tree) carries the catalogue and the command."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                    str(ROOT)], check=True, capture_output=True, timeout=600)
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

"""The pre-commit hooks, run by the real pre-commit against a scratch repository."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PRE_COMMIT = str(Path(sys.executable).with_name("pre-commit"))

WRONG_SHAPES = """\
name: wrong_shapes
inputs:
  X: {shape: [3, 4]}
constants:
  A: {shape: [3, 4]}
function: trace(A @ X)
claims:
  - differential: trace(A @ dX)
"""
WORKFLOW = "name: ci\non: [push]\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps: [{run: echo hi}]\n"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pre-commit's cache, shared by the tests: the hook's environment is built once."""
    return tmp_path_factory.mktemp("pre-commit-home")


def try_repo(repo: Path, home: Path, hook: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "PYTHONPATH": ""}
    return subprocess.run([PRE_COMMIT, "try-repo", str(ROOT), hook, "--all-files", "-v"], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=900)


def scratch(tmp_path: Path, files: dict[str, str]) -> Path:
    repo = tmp_path / "repo"
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    return repo


def test_lint_finds_identity_files_anywhere_and_leaves_other_yaml_alone(tmp_path: Path, home: Path) -> None:
    good = (ROOT / "identities" / "seed" / "logdet.yaml").read_text()
    repo = scratch(tmp_path, {".github/workflows/ci.yml": WORKFLOW, "docs/math/logdet.yaml": good,
                              "compose.yaml": "services:\n  web:\n    image: nginx\n"})
    passed = try_repo(repo, home, "gradcheck-lint")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "1 file read: 1 identity ok, 0 bad" in passed.stdout
    (repo / "notes" / "deep").mkdir(parents=True)
    (repo / "notes" / "deep" / "wrong.yaml").write_text(WRONG_SHAPES)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    failed = try_repo(repo, home, "gradcheck-lint")
    assert failed.returncode == 1
    assert "notes/deep/wrong.yaml" in failed.stdout and "4 columns against 3 rows" in failed.stdout


def test_run_checks_the_claims_of_changed_identity_files(tmp_path: Path, home: Path) -> None:
    wrong = (ROOT / "identities" / "seed" / "logdet.yaml").read_text().replace(
        "    layout: denominator\n    derivative: Xi.T\n", "    layout: denominator\n    derivative: Xi\n", 1)
    assert "derivative: Xi\n    label: \"X^-T" in wrong  # the layout slip, planted
    repo = scratch(tmp_path, {"maths/logdet.yaml": wrong, ".github/workflows/ci.yml": WORKFLOW})
    result = try_repo(repo, home, "gradcheck-run")
    assert result.returncode == 1 and "FAIL" in result.stdout, result.stdout + result.stderr

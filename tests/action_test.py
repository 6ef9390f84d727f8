"""The GitHub Action (action.yml), its shell steps run as a runner runs them against a scratch repository."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import SQUARE, SQUARE_SLIP

ROOT = Path(__file__).resolve().parents[1]
ACTION = yaml.safe_load((ROOT / "action.yml").read_text())

RIGHT, WRONG = SQUARE, SQUARE_SLIP


def _expand(text: str, inputs: dict[str, str]) -> str:
    """${{ inputs.x }} as the runner fills it in (the only expressions the action uses)."""
    return re.sub(r"\$\{\{\s*inputs\.([\w-]+)\s*\}\}", lambda m: inputs[m.group(1)], text)


def _condition(expression: str, inputs: dict[str, str]) -> bool:
    match = re.fullmatch(r"inputs\.([\w-]+) == '(\w+)'", expression.strip())
    assert match, f"a condition the test cannot evaluate: {expression}"
    return inputs[match.group(1)] == match.group(2)


def run_action(repo: Path, tmp_path: Path, **given: str) -> list[subprocess.CompletedProcess[str]]:
    """Each step of the composite action in order, as GitHub's runner does: `uses` steps
    stand for what they set up (a Python: a fresh virtual environment here, which sees the
    test environment's dependencies but not its gradcheck), shell steps run with
    `bash --noprofile --norc -eo pipefail`, inputs through the env they declare."""
    inputs = {name: spec.get("default", "") for name, spec in ACTION["inputs"].items()} | given
    venv = tmp_path / "python"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    site = next((venv / "lib").glob("python3*/site-packages"))
    deps = next(p for p in sys.path if p.endswith("site-packages") and Path(p, "numpy").is_dir())
    (site / "dependencies.pth").write_text(deps + "\n")
    # the action's checkout, as the runner makes one: the repository's files at the action's ref
    action = tmp_path / "action"
    shutil.copytree(ROOT, action, ignore=shutil.ignore_patterns(".venv", ".git", ".*cache", ".coverage", "build",
                                                                "*.egg-info", "artifacts", "__pycache__"))
    env = {**os.environ, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}", "GITHUB_ACTIONS": "true",
           "GITHUB_ACTION_PATH": str(action), "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
           "PYTHONPATH": ""}
    done = []
    for step in ACTION["runs"]["steps"]:
        if "uses" in step:
            assert step["uses"].startswith("actions/setup-python@")
            continue
        if "if" in step and not _condition(step["if"], inputs):
            continue
        assert step["shell"] == "bash" and "${{" not in step["run"]  # inputs only through env
        step_env = {**env, **{k: _expand(str(v), inputs) for k, v in step.get("env", {}).items()}}
        proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], cwd=repo,
                              env=step_env, capture_output=True, text=True, timeout=600)
        done.append(proc)
        if proc.returncode:
            break
    return done


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    scratch = tmp_path / "repo"
    (scratch / "identities").mkdir(parents=True)
    (scratch / "identities" / "square.yaml").write_text(RIGHT)
    return scratch


def test_a_passing_catalogue(repo: Path, tmp_path: Path) -> None:
    install, lint, check = run_action(repo, tmp_path, args="--trials 2")
    assert install.returncode == 0, install.stderr
    assert "gradcheck" in subprocess.run([str(tmp_path / "python" / "bin" / "python"), "-m", "pip", "show",
                                          "gradcheck"], capture_output=True, text=True).stdout
    assert lint.returncode == 0 and "1 identity ok" in lint.stdout
    assert check.returncode == 0 and "1 passed, 0 failed" in check.stdout
    assert (repo / "gradcheck-report.xml").exists() and (repo / "gradcheck-report.json").exists()
    assert "## gradcheck" in (tmp_path / "summary.md").read_text()


def test_a_wrong_claim_fails_the_step_with_an_annotation_on_its_line(repo: Path, tmp_path: Path) -> None:
    (repo / "identities" / "slip.yaml").write_text(WRONG)
    steps = run_action(repo, tmp_path, junit="out/report.xml")
    check = steps[-1]
    assert len(steps) == 3 and check.returncode == 1
    assert "::error file=identities/slip.yaml,line=6,title=slip%3A differential%3A FAIL::off by a factor" \
        in check.stdout
    assert (repo / "out" / "report.xml").exists()


def test_a_bad_file_stops_at_lint(repo: Path, tmp_path: Path) -> None:
    (repo / "identities" / "bad.yaml").write_text("name: [\n")
    steps = run_action(repo, tmp_path)
    assert len(steps) == 2 and steps[-1].returncode == 1 and "malformed YAML" in steps[-1].stdout


def test_inputs_cannot_run_commands(repo: Path, tmp_path: Path) -> None:
    steps: list[Any] = run_action(repo, tmp_path, paths="identities $(touch pwned) `touch pwned2`", lint="false",
                                  args="--trials 1 ; touch pwned3")
    assert not list(repo.glob("pwned*"))
    assert steps[-1].returncode == 2  # the odd words are paths and options that do not exist: a usage error


@pytest.mark.parametrize(("schema", "path"), [("vendor.github-actions", "action.yml"),
                                              ("vendor.github-workflows", ".github/workflows/gradcheck.yml")])
def test_the_action_and_the_workflow_follow_githubs_schemas(schema: str, path: str) -> None:
    proc = subprocess.run([str(Path(sys.executable).with_name("check-jsonschema")), "--builtin-schema", schema,
                           str(ROOT / path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr

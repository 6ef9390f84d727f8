"""The editor-facing JSON Schema of identity files, `gradcheck lint`, and the pre-commit hook."""
from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import Result

from conftest import CATALOGUE, ROOT

SCHEMA = json.loads((ROOT / "src" / "gradcheck" / "schemas" / "identity.schema.json").read_text())
FILES = sorted(CATALOGUE.rglob("*.yaml"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_schema_accepts_every_bundled_file(path: Path) -> None:
    jsonschema.validate(yaml.safe_load(path.read_text()), SCHEMA)


@pytest.mark.parametrize("change", [
    {"clams": []},
    {"claims": [{"wrt": "X", "derivative": "inv(X)"}]},
    {"claims": [{"differential": "0", "equals": "0"}]},
    {"claims": [{"equals": "0", "expect": "fail"}]},
    {"inputs": {"X": {"shape": ["n"], "kind": "spdd"}}},
    {"name": "Not A Name"},
])
def test_schema_rejects_what_the_loader_rejects(change: dict[str, object]) -> None:
    document = {**yaml.safe_load((CATALOGUE / "seed" / "logdet.yaml").read_text()), **change}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, SCHEMA)


def test_schema_ships_in_the_package() -> None:
    from importlib import resources

    text = resources.files("gradcheck").joinpath("schemas/identity.schema.json").read_text()
    assert json.loads(text) == SCHEMA


def test_lint(cli_invoke: Callable[..., Result], write: Callable[..., Path], tmp_path: Path) -> None:
    assert cli_invoke("lint", str(CATALOGUE)).exit_code == 0
    write("name: x\nclams: []\n", "bad.yaml")
    result = cli_invoke("lint", str(tmp_path))
    assert result.exit_code == 1
    assert "unknown key 'clams' in top level of" in result.output
    assert result.output.splitlines()[-1] == "1 file read: 0 identities ok, 1 bad"


def test_lint_reports_on_stdout_one_whole_line_per_file(tmp_path: Path) -> None:
    bad = tmp_path / "a-rather-long-folder-name-for-a-catalogue" / "bad.yaml"
    bad.parent.mkdir()
    bad.write_text("name: x\ninputs:\n  X: {shape: [3, 3]}\nfunction: logdet(X)\nclaims:\n"
                   "  - {wrt: X, layout: denominator, derivative: inv(Y).T}\n")
    exe = str(Path(sys.executable).with_name("gradcheck"))
    result = subprocess.run([exe, "lint", str(bad.parent)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and result.stderr == ""
    first, last = result.stdout.splitlines()
    assert first.startswith("ERROR unknown name 'Y' in claim 1 of ") and first.endswith("bad.yaml, line 6")
    assert last == "1 file read: 0 identities ok, 1 bad"


def test_lint_of_a_folder_without_identity_files_is_a_usage_error(cli_invoke: Callable[..., Result],
                                                                   tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("nothing here")
    result = cli_invoke("lint", str(tmp_path))
    assert result.exit_code == 2 and "no identity files (*.yaml, *.yml) under" in result.output


def test_pre_commit_hook_runs_the_command_it_names(tmp_path: Path) -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    hook = next(h for h in hooks if h["id"] == "gradcheck-lint")
    bad = tmp_path / "identities" / "bad.yaml"
    bad.parent.mkdir()
    bad.write_text("name: x\nfunction: trace(X)\n")  # an identity file (name and function) that is incomplete
    good = CATALOGUE / "seed" / "logdet.yaml"
    exe = str(Path(sys.executable).with_name(hook["entry"].split()[0]))
    args = hook["entry"].split()[1:]
    ok = subprocess.run([exe, *args, str(good)], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    failed = subprocess.run([exe, *args, str(good), str(bad)], capture_output=True, text=True, timeout=60)
    assert failed.returncode == 1 and "missing required key 'inputs'" in failed.stdout


def test_ci_workflow_is_valid() -> None:
    workflow = ROOT / ".github" / "workflows" / "gradcheck.yml"
    exe = str(Path(sys.executable).with_name("check-jsonschema"))
    result = subprocess.run([exe, "--builtin-schema", "vendor.github-workflows", str(workflow)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    steps = yaml.safe_load(workflow.read_text())["jobs"]["catalogue"]["steps"]
    # the catalogue is checked by this repository's own action, as another repository would
    assert any(step.get("uses") == "./" for step in steps) and "make test" in workflow.read_text()

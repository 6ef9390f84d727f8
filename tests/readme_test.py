"""Every command and example of the README, run as a reader would run it, its output checked."""
from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
BIN = Path(sys.executable).parent


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.DOTALL)


def commands_section() -> list[str]:
    section = README.split("## Commands", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, flags=re.DOTALL)
    assert block is not None
    return [line.split(" # ")[0].strip() for line in block.group(1).splitlines() if line.strip()]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A reader's project: the catalogue in ./identities, docs/ to write into."""
    root = tmp_path_factory.mktemp("reader")
    shutil.copytree(ROOT / "identities", root / "identities")
    (root / "docs").mkdir()
    return root


def test_the_readme_opens_with_the_two_commands_of_a_fresh_machine() -> None:
    first = blocks("sh")[0].splitlines()
    assert [line.split()[0:2] for line in first] == [["make", "run"], ["make", "test"]]


@pytest.mark.parametrize("command", commands_section())
def test_every_command_of_the_commands_section(command: str, workdir: Path) -> None:
    args = shlex.split(command)
    assert args[0] == "gradcheck"
    proc = subprocess.run([str(BIN / "gradcheck"), *args[1:]], capture_output=True, text=True, cwd=workdir,
                          timeout=600, env={**os.environ, "COLUMNS": "80"})
    assert proc.returncode == 0, (command, proc.stdout[-2000:], proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr
    expected = {"run": "0 failed, 0 errors", "verify": "PASS", "list": "logdet", "lint": "0 bad",
                "docs": "wrote docs/catalogue.md", "check": "PASS", "new": "my_identity"}
    assert expected[args[1]] in proc.stdout, (command, proc.stdout[-2000:])
    if "--plot" in args:
        assert (workdir / args[args.index("--plot") + 1]).stat().st_size > 1000


def test_the_file_example_holds(tmp_path: Path) -> None:
    (tmp_path / "logdet.yaml").write_text(blocks("yaml")[0], encoding="utf-8")
    proc = subprocess.run([str(BIN / "gradcheck"), "run", str(tmp_path)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0
    assert "3 passed, 0 failed, 0 errors" in proc.stdout


def test_the_python_example_prints_what_it_says() -> None:
    source = next(b for b in blocks("python") if "gradcheck.check(lambda X" in b)
    shown = [line[2:] for line in source.splitlines() if line.startswith("# ")]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(source, "README.md", "exec"), {})  # the README's own code, as a reader runs it
    assert printed.getvalue().splitlines() == shown

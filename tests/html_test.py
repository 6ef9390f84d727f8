"""The HTML report: one self-contained page, checked as text and opened in headless Chromium."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from conftest import INVERSE

# the second claim labelled with characters that HTML must escape
WRONG = INVERSE.replace("  - differential: -inv(X) @ dX.T @ inv(X)",
                        '  - {differential: -inv(X) @ dX.T @ inv(X), label: "a <b>slip</b> & more"}')
BROKEN = "name: broken\ninputs:\n  X: {shape: [2, 2]}\nfunction: inv(X\nclaims:\n  - differential: 0\n"


@pytest.fixture
def report(cli_invoke: Callable[..., Result], tmp_path: Path) -> Path:
    folder = tmp_path / "cat"
    folder.mkdir()
    (folder / "wrong.yaml").write_text(WRONG)
    (folder / "broken.yaml").write_text(BROKEN)
    target = tmp_path / "report.html"
    result = cli_invoke("run", str(folder), "--format", "html", "--output", str(target))
    assert result.exit_code == 1 and "1 passed, 1 failed, 1 errors" in result.output
    return target


def test_the_page_is_self_contained_with_problems_first(report: Path) -> None:
    page = report.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page
    assert not re.search(r"(src|href)=\"?(https?:)?//", page)  # nothing fetched from a network
    assert page.index('id="problems"') < page.index('id="all"')
    problems = page[page.index('id="problems"'):page.index('id="all"')]
    assert "wrong-inverse" in problems and "broken" in problems and "matches the claim with dX^T for dX" in problems
    assert "a &lt;b&gt;slip&lt;/b&gt; &amp; more" in page and "<b>slip" not in page
    assert page.count("<math") == 3  # the failing claim in the problems and the full list, the right one there
    assert problems.count("<svg") == 1  # the failing claim's picture
    assert "invalid syntax at column 4" in problems


def test_opened_in_headless_chromium(report: Path, tmp_path: Path) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        if os.environ.get("GRADCHECK_BROWSER") == "required":
            pytest.fail("chromium is not installed (CI installs Debian's chromium)")
        pytest.skip("no chromium here (CI installs it)")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0"]
    url = report.resolve().as_uri()
    dom = subprocess.run([browser, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "<h1>gradcheck report</h1>" in dom.stdout and dom.stdout.count("<math") == 3
    assert dom.stdout.count("<svg") == 1
    assert not re.search(r"CONSOLE|Uncaught|Refused to", dom.stderr), dom.stderr[-2000:]
    shots = Path(os.environ.get("GRADCHECK_ARTIFACTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    shot = subprocess.run([browser, *flags, f"--screenshot={shots / 'html-report.png'}", "--window-size=1200,1600",
                           url], capture_output=True, text=True, timeout=120)
    assert shot.returncode == 0 and (shots / "html-report.png").read_bytes().startswith(b"\x89PNG")


def test_pictures_load_the_failing_identities_again(tmp_path: Path) -> None:
    """The run's parent holds entries, not identities: a failing claim's picture loads its
    file again, and a file that no longer holds the identity checked gets none."""
    pytest.importorskip("matplotlib")
    from gradcheck.catalogue import load_file
    from gradcheck.checker import Options, check_identity
    from gradcheck.cli import _pictures

    path = tmp_path / "wrong.yaml"
    path.write_text(WRONG)
    identity = load_file(path)
    results = check_identity(identity, Options())
    pictures = _pictures([identity.entry], results, Options())
    assert list(pictures) == [("wrong-inverse", 2)] and pictures["wrong-inverse", 2].lstrip().startswith("<svg")
    path.write_text(WRONG.replace("name: wrong-inverse", "name: renamed"))
    assert _pictures([identity.entry], results, Options()) == {}
    path.write_text(BROKEN)
    assert _pictures([identity.entry], results, Options()) == {}

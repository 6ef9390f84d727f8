"""Under GitHub Actions: annotations on the failing claim's line, the job summary, several reports from one run."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from conftest import SQUARE

GRADCHECK = str(Path(sys.executable).with_name("gradcheck"))

IDENTITY = SQUARE + "  - differential: trace(X @ dX)\n"  # the second claim forgets the factor 2


def test_one_run_writes_every_report_annotates_and_summarises(tmp_path: Path) -> None:
    (tmp_path / "cat").mkdir()
    (tmp_path / "cat" / "square.yaml").write_text(IDENTITY)
    (tmp_path / "cat" / "bad.yaml").write_text("name: [\n")
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    env = {**os.environ, "GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}
    proc = subprocess.run([GRADCHECK, "run", str(tmp_path / "cat"), "--junit", str(tmp_path / "r.xml"),
                           "--json", str(tmp_path / "r.json"), "--markdown", str(tmp_path / "r.md"), "-q"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 1
    annotations = [line for line in proc.stdout.splitlines() if line.startswith("::")]
    square = tmp_path / "cat" / "square.yaml"
    assert f"::error file={square},line=7,title=square%3A differential%3A FAIL::off by a factor" in annotations[1]
    assert annotations[0].startswith(f"::error file={tmp_path / 'cat' / 'bad.yaml'},line=2,")
    report = json.loads((tmp_path / "r.json").read_text())
    assert [r["line"] for r in report["results"]] == [2, 6, 7]
    cases = ET.parse(tmp_path / "r.xml").getroot().iter("testcase")
    assert [c.get("line") for c in cases] == ["2", "6", "7"]
    assert (tmp_path / "r.md").read_text().startswith("## gradcheck")
    text = summary.read_text()
    assert text.startswith("earlier step\n## gradcheck") and "1 passed, 1 failed, 1 errors" in text


def test_without_github_actions_there_are_no_annotations(tmp_path: Path) -> None:
    (tmp_path / "square.yaml").write_text(IDENTITY)
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY")}
    proc = subprocess.run([GRADCHECK, "run", str(tmp_path)], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 1 and "::error" not in proc.stdout


def test_annotation_text_cannot_break_the_command() -> None:
    from gradcheck.report.github import _data, _property

    assert _data("a%b\nc\rd") == "a%25b%0Ac%0Dd"
    assert _property("a:b,c") == "a%3Ab%2Cc"

"""GitHub Actions workflow commands: each problem an annotation on its file and line."""

from __future__ import annotations

from collections.abc import Sequence

from gradcheck.report.table import note
from gradcheck.verdict import ClaimResult, Status

LEVELS = {Status.FAIL: "error", Status.ERROR: "error", Status.XPASS: "error"}


def _data(text: str) -> str:
    """A command's message: the characters that would end or split the command escaped."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def workflow_commands(results: Sequence[ClaimResult]) -> str:
    """`::error file=...,line=...,title=...::message` for every row that needs attention,
    and `::warning` for a passing claim's warning; GitHub shows each on the line."""
    lines = []
    for r in results:
        where = f"file={_property(r.path)}" + (f",line={r.line}" if r.line else "")
        if r.status in LEVELS:
            title = f"{r.identity}: {r.description}: {r.status.value}"
            lines.append(f"::{LEVELS[r.status]} {where},title={_property(title)}::{_data(note(r) or r.status.value)}")
        for warning in r.warnings if r.status is Status.PASS else ():
            lines.append(f"::warning {where},title={_property(r.identity)}::{_data(warning)}")
    return "".join(f"{line}\n" for line in lines)

"""A Markdown summary of a run (for a CI job summary)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from gradcheck.report.table import error_text, note, sizes_text
from gradcheck.verdict import ClaimResult, Status

ICONS = {Status.PASS: "✅ PASS", Status.FAIL: "❌ FAIL", Status.ERROR: "⚠️ ERROR",
         Status.XFAIL: "➖ XFAIL", Status.XPASS: "❌ XPASS"}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_report(results: Sequence[ClaimResult], counts: Mapping[Status, int], seconds: float) -> str:
    lines = [
        "## gradcheck",
        "",
        f"**{counts[Status.PASS]} passed, {counts[Status.FAIL]} failed, {counts[Status.ERROR]} errors**, "
        f"{counts[Status.XFAIL]} expected failures, {counts[Status.XPASS]} unexpected passes "
        f"in {seconds:.2f}s",
        "",
    ]
    problems = [r for r in results if not r.status.ok or r.warnings]
    if problems:
        lines += ["### Needs attention", "", "| identity | claim | status | note |", "| --- | --- | --- | --- |"]
        lines += [f"| {_cell(r.identity)} | {_cell(r.description)} | {ICONS[r.status]} | {_cell(note(r))} |"
                  for r in problems]
        lines.append("")
    lines += ["<details><summary>All claims</summary>", "",
              "| identity | claim | sizes | error | status |", "| --- | --- | --- | ---: | --- |"]
    lines += [f"| {_cell(r.identity)} | {_cell(r.description)} | {sizes_text(r.sizes)} | {error_text(r)} | "
              f"{ICONS[r.status]} |" for r in results]
    lines += ["", "</details>", ""]
    return "\n".join(lines)

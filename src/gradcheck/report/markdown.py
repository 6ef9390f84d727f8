"""A Markdown summary of a run (for a CI job summary)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from gradcheck.report.table import error_text, note, sizes_text
from gradcheck.verdict import ClaimResult, Status

ICONS = {Status.PASS: "✅ PASS", Status.FAIL: "❌ FAIL", Status.ERROR: "⚠️ ERROR",
         Status.XFAIL: "➖ XFAIL", Status.XPASS: "❌ XPASS"}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_chunks(results: Iterable[ClaimResult], counts: Mapping[Status, int], seconds: float) -> Iterator[str]:
    """The summary a line at a time (each with its line break): the rows that need
    attention, then every claim, each a pass over `results`."""
    yield (f"## gradcheck\n\n**{counts[Status.PASS]} passed, {counts[Status.FAIL]} failed, "
           f"{counts[Status.ERROR]} errors**, {counts[Status.XFAIL]} expected failures, "
           f"{counts[Status.XPASS]} unexpected passes in {seconds:.2f}s\n\n")
    heading = "### Needs attention\n\n| identity | claim | status | note |\n| --- | --- | --- | --- |\n"
    for r in results:
        if not r.status.ok or r.warnings:
            yield heading + f"| {_cell(r.identity)} | {_cell(r.description)} | {ICONS[r.status]} | {_cell(note(r))} |\n"
            heading = ""
    if not heading:
        yield "\n"
    yield ("<details><summary>All claims</summary>\n\n"
           "| identity | claim | sizes | error | status |\n| --- | --- | --- | ---: | --- |\n")
    for r in results:
        yield (f"| {_cell(r.identity)} | {_cell(r.description)} | {sizes_text(r.sizes)} | {error_text(r)} | "
               f"{ICONS[r.status]} |\n")
    yield "\n</details>\n"

"""The pass/fail table of `gradcheck run` (pure: results in, renderables out)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.table import Table
from rich.text import Text

from gradcheck.verdict import ClaimResult, Status

STYLES: dict[Status, str] = {
    Status.PASS: "green", Status.FAIL: "bold red", Status.ERROR: "bold magenta",
    Status.XFAIL: "yellow", Status.XPASS: "bold red",
}


def sizes_text(sizes: Mapping[str, int]) -> str:
    return " ".join(f"{k}={v}" for k, v in sizes.items()) or "-"


def error_text(result: ClaimResult) -> str:
    return "-" if result.error is None else f"{result.error:.1e}"


def note(result: ClaimResult) -> str:
    """What a row says besides its status: a diagnosis, a reason or an error."""
    if result.status is Status.ERROR:
        return result.message
    if result.status is Status.XFAIL:
        return f"expected: {result.claim.reason}"
    if result.status is Status.XPASS:
        return f"expected to fail ({result.claim.reason}) but passed"
    return result.hint


def results_table(results: Sequence[ClaimResult]) -> Table:
    table = Table(show_lines=False, header_style="bold", expand=False)
    table.add_column("identity", overflow="fold")
    table.add_column("claim", overflow="fold")
    table.add_column("sizes", overflow="fold")
    table.add_column("error", justify="right")
    table.add_column("status")
    table.add_column("note", overflow="fold", ratio=1)
    for r in results:
        table.add_row(r.identity, r.description, sizes_text(r.sizes), error_text(r),
                      Text(r.status.value, style=STYLES[r.status]), note(r))
    return table


def totals_line(counts: Mapping[Status, int], seconds: float) -> Text:
    """``N passed, M failed, K errors`` (+ expected failures) and the elapsed time."""
    parts = [
        (f"{counts[Status.PASS]} passed", "green"),
        (f"{counts[Status.FAIL]} failed", "bold red" if counts[Status.FAIL] else ""),
        (f"{counts[Status.ERROR]} errors", "bold magenta" if counts[Status.ERROR] else ""),
    ]
    if counts[Status.XFAIL]:
        parts.append((f"{counts[Status.XFAIL]} expected failures", "yellow"))
    if counts[Status.XPASS]:
        parts.append((f"{counts[Status.XPASS]} unexpected passes", "bold red"))
    text = Text()
    for i, (part, style) in enumerate(parts):
        text.append(", " if i else "")
        text.append(part, style=style)
    text.append(f" in {seconds:.2f}s")
    return text

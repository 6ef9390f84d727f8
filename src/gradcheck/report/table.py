"""The pass/fail table of `gradcheck run` (pure: results in, renderables out)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from rich import box
from rich.console import RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from gradcheck.verdict import ClaimResult, Status

STYLES: dict[Status, str] = {
    Status.PASS: "green", Status.FAIL: "bold red", Status.ERROR: "bold magenta",
    Status.XFAIL: "yellow", Status.XPASS: "bold red",
}


WIDE = 110  # terminal width from which the table has a note column


def sizes_text(sizes: Mapping[str, int]) -> str:
    return " ".join(f"{k}={v}" for k, v in sizes.items()) or "-"


def error_text(result: ClaimResult) -> str:
    return "-" if result.error is None else f"{result.error:.1e}"


def note(result: ClaimResult) -> str:
    """What a row says besides its status: a diagnosis, a reason or an error."""
    if result.status is Status.ERROR:
        return result.message
    reason = result.claim.reason if result.claim is not None else None
    if result.status is Status.XFAIL:
        return f"expected: {reason}"
    if result.status is Status.XPASS:
        return f"passed, but expected to fail: {reason}"
    return result.hint or "; ".join((*(f"warning: {w}" for w in result.warnings), *result.notes))


def problems(results: Sequence[ClaimResult]) -> Text:
    """Full notes of the rows that need attention (the table cuts them short)."""
    text = Text()
    for r in results:
        if r.status in (Status.FAIL, Status.ERROR, Status.XPASS):
            text.append(f"{r.status.value} ", style=STYLES[r.status])
            text.append(f"{r.identity}: {r.description}: ", style="bold")
            text.append(note(r) + "\n")
        for w in r.warnings if r.status is Status.PASS else ():
            text.append("WARNING ", style="bold yellow")
            text.append(f"{r.identity}: {r.description}: ", style="bold")
            text.append(w + "\n")
    return text


NARROWEST_CLAIM = 30  # the claim column below which identity names go on lines of their own


def results_table(results: Sequence[ClaimResult], width: int = 120) -> Table:
    """One row per claim, no word ever split: names whole, labels folded at spaces. Where
    the names leave the claim column too narrow (80 columns, a 38-character name), each
    identity's name is a line of its own above its claims. On terminals narrower than
    `WIDE` the note column is left out (`problems` prints the notes that matter)."""
    wide = width >= WIDE
    longest = max((len(r.identity) for r in results), default=0)
    sizes = max((len(sizes_text(r.sizes)) for r in results), default=1)
    fixed = max(12, sizes) + 8 + 6 + 10 + (44 if wide else 0)  # sizes, error, status, padding, note
    inline = width - fixed - longest >= NARROWEST_CLAIM
    table = Table(header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False)
    if inline:
        table.add_column("identity", no_wrap=True, min_width=longest)
    # grouped, a name's line lies in the claim column: wide enough for the longest name
    # (the sizes then fold, at spaces, where many dimensions would squeeze it)
    table.add_column("claim", overflow="fold", ratio=2,
                     min_width=NARROWEST_CLAIM if inline else min(longest, width - 30))
    table.add_column("sizes", overflow="fold")
    table.add_column("error", justify="right", no_wrap=True)
    table.add_column("status", no_wrap=True)
    if wide:
        table.add_column("note", no_wrap=True, overflow="ellipsis", min_width=16, max_width=44)
    previous = None
    for r in results:
        # Text, not str: user text such as "[vec(X)]" must not be read as rich markup
        cells: list[RenderableType] = [Text(r.description), Text(sizes_text(r.sizes)), Text(error_text(r)),
                                       Text(r.status.value, style=STYLES[r.status]),
                                       *([Text(note(r))] if wide else [])]
        if inline:
            table.add_row(Text(r.identity), *cells)
        else:
            if r.identity != previous:
                table.add_row(Text(r.identity, style="bold"))
            table.add_row(Padding(cells[0], (0, 0, 0, 2)), *cells[1:])  # every folded line indented
        previous = r.identity
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


# -- plain text: a pipe, a CI log, --format plain ------------------------------------------

PLAIN_COLUMNS = ("identity", "claim", "sizes", "error", "status")


def plain_lines(results: Sequence[ClaimResult]) -> Iterator[str]:
    """One line per claim, whole (never wrapped, so grep finds a name and its status on one
    line), columns aligned with spaces, no trailing blanks; each with its newline, made as
    they are written: a run of 30,000 claims held its table as lines and as one text
    besides (65 MB at its peak)."""
    rows = [PLAIN_COLUMNS] + [(r.identity, r.description, sizes_text(r.sizes), error_text(r), r.status.value)
                              for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(len(PLAIN_COLUMNS) - 1)]
    for row in rows:
        yield "  ".join([*(cell.ljust(w) for cell, w in zip(row, widths)), row[-1]]).rstrip() + "\n"


def plain_problems(results: Sequence[ClaimResult]) -> str:
    """The notes of the rows that need attention, one whole line each."""
    return problems(results).plain

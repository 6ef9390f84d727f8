"""A run as one self-contained HTML page: the totals, the problems first, every claim with
its verdict, error, noise floor and diagnosis, the math as MathML (browsers render it
natively, no script, no network), and for a failing claim its picture of the error
against the step (an inline SVG from gradcheck.report.plot), when one was drawn.

Needs latex2mathml (the optional extra `gradcheck[html]`).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Iterator, Mapping

from gradcheck.report.table import error_text, sizes_text
from gradcheck.verdict import ClaimResult, Status

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; }
.totals span { margin-right: 1.2em; font-weight: 600; }
table { border-collapse: collapse; width: 100%; } td, th { padding: .3em .6em; border-bottom: 1px solid #ddd;
  text-align: left; vertical-align: top; } th { background: #f4f4f4; }
.PASS { color: #1a7f37; } .FAIL, .XPASS { color: #cf222e; } .ERROR { color: #9a6700; } .XFAIL { color: #57606a; }
.status { font-weight: 700; white-space: nowrap; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.source { font-family: ui-monospace, monospace; font-size: .85em; color: #57606a; }
.diagnosis { margin-top: .3em; } figure { margin: .5em 0; } figure svg { max-width: 100%; height: auto; }
"""


def html_chunks(results: Iterable[ClaimResult], counts: Mapping[Status, int], seconds: float,
                pictures: Mapping[tuple[str, int], str] | None = None) -> Iterator[str]:
    """The page a row at a time (each with its line break): the problems, then every
    claim, each a pass over `results`. `pictures`: an SVG (text) for (identity, claim
    index) of failing claims."""
    pictures = pictures or {}
    totals = " ".join(f'<span class="{s.value}">{counts.get(s, 0)} {label}</span>' for s, label in (
        (Status.PASS, "passed"), (Status.FAIL, "failed"), (Status.ERROR, "errors"),
        (Status.XFAIL, "expected failures"), (Status.XPASS, "unexpected passes")))
    yield "\n".join(["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
                     '<meta name="viewport" content="width=device-width, initial-scale=1">',
                     "<title>gradcheck report</title>", f"<style>{STYLE}</style>", "</head>", "<body>",
                     "<h1>gradcheck report</h1>", f'<p class="totals">{totals} in {seconds:.2f}s</p>', ""])
    if any(counts.get(s, 0) for s in Status if not s.ok):
        yield '<h2 id="problems">Problems</h2>\n'
        yield from _table((r for r in results if not r.status.ok), pictures)
    yield '<h2 id="all">Every claim</h2>\n'
    yield from _table(results, {})
    yield "</body>\n</html>\n"


def _table(results: Iterable[ClaimResult], pictures: Mapping[tuple[str, int], str]) -> Iterator[str]:
    yield ("<table>\n<thead><tr><th>identity</th><th>claim</th><th>sizes</th><th>error</th><th>noise</th>"
           "<th>status</th></tr></thead>\n<tbody>\n")
    for r in results:
        yield _row(r, pictures.get((r.identity, r.claim.index)) if r.claim is not None else None) + "\n"
    yield "</tbody>\n</table>\n"


def _row(r: ClaimResult, picture: str | None) -> str:
    e = html.escape
    claim = f"<div>{e(r.description)}</div>"
    if r.claim is not None:
        claim += f"<div>{_math(r)}</div>" + f'<div class="source">{e(r.claim.form)}: {e(r.claim.source)}</div>'
    explanation = r.message if r.status is Status.ERROR else r.hint
    if explanation:
        claim += f'<div class="diagnosis">{e(explanation)}</div>'
    claim += "".join(f'<div class="source">{e(d)}</div>' for d in r.details)
    if picture:
        claim += f"<figure>{picture}<figcaption>relative error against the step</figcaption></figure>"
    noise = f"{r.noise:.1e}" if r.noise is not None else ""
    return (f"<tr><td>{e(r.identity)}</td><td>{claim}</td><td>{e(sizes_text(r.sizes))}</td>"
            f'<td class="num">{e(error_text(r))}</td><td class="num">{noise}</td>'
            f'<td class="status {r.status.value}">{r.status.value}</td></tr>')


def _math(r: ClaimResult) -> str:
    """The claim as MathML (its links joined by =, for a chain or a derivation)."""
    from latex2mathml.converter import convert

    from gradcheck.render import to_latex

    assert r.claim is not None
    tex = " = ".join(to_latex(link) for link in r.claim.links)
    try:
        return str(convert(tex))
    except Exception:  # noqa: BLE001 (the converter's own errors: show the LaTeX instead)
        return f"<code>{html.escape(tex)}</code>"

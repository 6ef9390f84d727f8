"""The catalogue as a Markdown page (docs/catalogue.md), generated from the files.

With coverage tables (docs/coverage.md: a `## source` heading and a table of what the
source states, the identities that check each item or why it cannot be stated), the page
is grouped by source: each source's table, then its identities by folder (chapter); the
identities that no table names follow, by folder.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gradcheck.catalogue import Claim, Identity
from gradcheck.render import scalar_names, to_latex

TOPIC_TITLES = {
    "seed": "Seed: the note \"Matrix Derivative\" (2021)",
    "cookbook/determinants": "Matrix Cookbook 2.1: derivatives of determinants",
    "cookbook/inverses": "Matrix Cookbook 2.2: derivatives of an inverse",
    "cookbook/forms": "Matrix Cookbook 2.4: matrices, vectors and scalar forms",
    "cookbook/traces": "Matrix Cookbook 2.5: derivatives of traces",
    "cookbook/norms": "Matrix Cookbook 2.6-2.7: vector and matrix norms",
    "cookbook/structured": "Matrix Cookbook 2.8: structured and symmetric matrices",
    "cookbook/gaussian": "Matrix Cookbook 8: the Gaussian",
    "cookbook/ch2": "Matrix Cookbook 2: derivatives, equation by equation",
    "cookbook/ch3": "Matrix Cookbook 3: inverses",
    "cookbook/ch4": "Matrix Cookbook 4: complex matrices",
    "cookbook/ch9": "Matrix Cookbook 5 and 9: decompositions and special matrices",
    "cookbook/ch10": "Matrix Cookbook 10: functions and operators",
    "giles": "Giles (2008): forward and reverse mode",
    "magnus": "Magnus and Neudecker (2019)",
    "frameworks/pytorch": "PyTorch's rules",
    "frameworks/jax": "JAX's rules",
    "backward": "Backward passes",
    "complex": "Complex values",
    "arrays": "Stacks of matrices",
    "decompositions": "Decompositions",
    "functions": "Matrix functions",
    "second_order": "Second order",
    "structure": "Indexing, structure and patterned matrices",
    "ml": "Machine learning",
}


def topic(identity: Identity, root: Path) -> str:
    """The folder of an identity relative to the catalogue root, e.g. 'cookbook/traces'."""
    try:
        parent = Path(identity.path).resolve().parent.relative_to(root.resolve())
    except ValueError:
        return "other"
    return parent.as_posix() or "top level"


def _title(name: str) -> str:
    for key in sorted(TOPIC_TITLES, key=len, reverse=True):
        if name == key or name.startswith(key + "/"):
            rest = name[len(key):].strip("/")
            return TOPIC_TITLES[key] + (f" ({rest.replace('/', ', ')})" if rest else "")
    return name


def _claim_line(claim: Claim, scalars: frozenset[str]) -> str:
    label = claim.label or claim.describe()
    # the claim as math GitHub renders ($`...`$ keeps Markdown out of the LaTeX), then as written
    math = " = ".join(to_latex(e, scalars) for e in claim.links)
    text = f"- {_escape(label)}: $`{math}`$ (`{claim.form}: {claim.source}`)"
    if claim.form == "derivative":
        convention = f", convention {claim.convention}" if claim.convention else ""
        text += f" ({claim.layout}, wrt `{claim.wrt}`{convention})"
    elif claim.form == "hessian":
        text += f" (wrt `{claim.wrt or '[' + ', '.join(claim.blocks) + ']'}`)"
    elif claim.form in ("vjp", "jvp", "hvp"):
        convention = f", convention {claim.convention}" if claim.convention else ""
        text += (f" (wrt `{claim.wrt}`, {'cotangent' if claim.form == 'vjp' else 'tangent'} "
                 f"`{claim.direction}`{convention})")
    if claim.expect_fail:
        text += f"\n  - **does not hold as published**: {_escape(claim.reason or '')}"
    return text


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("*", "\\*")


def _identity_section(identity: Identity, root: Path, level: str = "###") -> list[str]:
    rel = Path(identity.path).resolve().relative_to(root.resolve().parent).as_posix() \
        if Path(identity.path).resolve().is_relative_to(root.resolve().parent) else identity.path
    lines = [f"{level} {identity.name}", ""]
    if identity.title:
        lines += [_escape(identity.title), ""]
    if identity.latex:
        lines += ["$$", identity.latex, "$$", ""]
    facts = [f"file `{rel}`"]
    if identity.source:
        facts.insert(0, f"source: {_escape(identity.source)}")
    if identity.tags:
        facts.append("tags: " + ", ".join(identity.tags))
    lines += ["; ".join(facts) + ".", ""]
    lines += [_claim_line(c, scalar_names(identity)) for c in identity.claims]
    return [*lines, ""]


@dataclass(frozen=True)
class Source:
    """One source's coverage table: its title, the table's lines, and for each row the
    identities it names (none: the row says why the item cannot be stated)."""

    title: str
    table: tuple[str, ...]
    named: tuple[tuple[str, ...], ...]

    def names(self) -> list[str]:
        return [n for row in self.named for n in row]


def read_coverage(text: str) -> list[Source]:
    """The coverage tables of a Markdown page: under each `## title`, the lines of its table
    (a row's third cell names identities in backticks)."""
    sources: list[Source] = []
    title, table = "", list[str]()

    def close() -> None:
        if title and table:  # the rows follow the header and its rule
            named = tuple(tuple(re.findall(r"`([^`]+)`", (_cells(line) + ["", "", ""])[2])) for line in table[2:])
            sources.append(Source(title, tuple(table), named))

    for line in text.splitlines():
        if line.startswith("## "):
            close()
            title, table = line[3:].strip(), []
        elif line.startswith("|") and title:
            table.append(line.rstrip())
    close()
    return sources


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]]


def catalogue_page(identities: Sequence[Identity], root: Path, coverage: Sequence[Source] = ()) -> str:
    """Markdown for `identities` under `root`: grouped by the sources of `coverage` (each
    with its table), then one section per topic folder, in name order."""
    by_name = {i.name: i for i in identities}
    placed: dict[str, str] = {}  # identity -> the first source whose table names it
    for source in coverage:
        for name in source.names():
            if name in by_name:
                placed.setdefault(name, source.title)
    claims = sum(len(i.claims) for i in identities)
    fails = sum(c.expect_fail for i in identities for c in i.claims)
    lines = [
        "# The catalogue",
        "",
        "Generated by `gradcheck docs` from the identity files; do not edit by hand.",
        "",
        f"{len(identities)} identities, {claims} claims, {fails} of them recorded as not holding as "
        "published (each beside its corrected claim).",
        "",
    ]
    rest = [i for i in identities if i.name not in placed]
    if not coverage:
        return _finish(lines + _topics(rest, root, "##"))
    lines += ["## Contents", ""]
    groups = [(s, [by_name[n] for n in by_name if placed.get(n) == s.title]) for s in coverage]
    lines += [f"- {_link(s.title)}: {len(members)} identities; {_counted(s)}" for s, members in groups]
    if rest:
        lines.append(f"- {_link(OTHERS)}: {len(rest)} identities")
    lines.append("")
    for source, members in groups:
        lines += [f"## {source.title}", "", f"Coverage: {_counted(source)}.", "", *source.table, ""]
        lines += _topics(members, root, "###")
    if rest:
        lines += [f"## {OTHERS}", "", "Identities that no coverage table above names, by folder.", ""]
        lines += _topics(rest, root, "###")
    return _finish(lines)


OTHERS = "Other identities"


def _counted(source: Source) -> str:
    checked = sum(bool(row) for row in source.named)
    return (f"{checked} of {len(source.named)} items checked, {len(source.named) - checked} not expressible "
            "(the table says why)")


def _link(title: str) -> str:
    """A link to a heading, as GitHub makes its anchor."""
    anchor = re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")
    return f"[{_escape(title)}](#{anchor})"


def _topics(identities: Sequence[Identity], root: Path, level: str) -> list[str]:
    """One section per topic folder (`level` its heading), with the identities under it."""
    by_topic: dict[str, list[Identity]] = {}
    for identity in identities:
        by_topic.setdefault(topic(identity, root), []).append(identity)
    lines = []
    if level == "##":
        lines += ["## Topics", ""]
        lines += [f"- {_title(t)}: {len(by_topic[t])} identities" for t in sorted(by_topic, key=_title)]
        lines.append("")
    for t in sorted(by_topic, key=_title):
        lines += [f"{level} {_title(t)}", ""]
        for identity in sorted(by_topic[t], key=lambda i: i.name):
            lines += _identity_section(identity, root, level + "#")
    return lines


def _finish(lines: list[str]) -> str:
    return "\n".join(lines).rstrip() + "\n"

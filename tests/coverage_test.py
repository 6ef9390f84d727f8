"""docs/coverage.md, the coverage of each source, names only identities that exist, and
every row that names none says why the source's result cannot be stated."""

from __future__ import annotations

import re
from pathlib import Path

from gradcheck.catalogue import bundled_catalogue, load_catalogue

ROOT = Path(__file__).resolve().parents[1]


def _rows() -> list[list[str]]:
    text = (ROOT / "docs" / "coverage.md").read_text(encoding="utf-8")
    rows = []
    for line in text.splitlines():
        if line.startswith("| ") and not line.startswith(("| source |", "| --- |")):
            rows.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]])
    return rows


def test_every_identity_named_exists_and_every_gap_says_why() -> None:
    folder = bundled_catalogue()
    assert folder is not None
    names = {i.name for i in load_catalogue([folder]).identities}
    rows = _rows()
    assert len(rows) > 400
    for source, item, identities, why in rows:
        named = re.findall(r"`([^`]+)`", identities)
        assert all(n in names for n in named), (item, [n for n in named if n not in names])
        assert named or why, f"{source} {item}: no identity and no reason"

"""The run table on a terminal: no word ever split, names whole, at 80 columns and wider."""
from __future__ import annotations

import functools

import pytest
from rich.cells import cell_len
from rich.console import Console

from gradcheck.catalogue import load_catalogue
from gradcheck.checker import check_catalogue
from gradcheck.report.table import results_table
from gradcheck.verdict import ClaimResult


@functools.cache
def catalogue_results() -> tuple[ClaimResult, ...]:
    catalogue = load_catalogue(["identities"])
    return tuple(r for batch in check_catalogue(catalogue, jobs=2) for r in batch)


@pytest.mark.parametrize("width", [80, 100, 160])
def test_the_whole_catalogue_fits_with_no_word_split(width: int) -> None:
    results = catalogue_results()
    console = Console(width=width, record=True, color_system=None, force_terminal=False)
    console.print(results_table(results, width))
    text = console.export_text()
    lines = text.splitlines()
    assert all(cell_len(line) <= width for line in lines)  # columns, not code points (L̇ is two)
    shown = {token for line in lines for token in line.split()}
    for r in results:
        assert r.identity in shown, r.identity  # a name is never split: grep finds it
        words = [w for w in r.description.split() if len(w) < 30]
        missing = [w for w in words if w not in shown]
        assert not missing, (r.identity, r.description, missing)

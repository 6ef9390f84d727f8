"""The table of kinds: every kind is drawn, documented, and drawn as the table says."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from gradcheck import sampling
from gradcheck.kinds import KINDS, shape_problem

FORMAT = Path(__file__).resolve().parents[1] / "docs" / "format.md"


def test_every_kind_has_a_draw_and_a_row_in_the_format() -> None:
    # an index is drawn with its bound (the constant's `below`), not by a draw of its own
    assert set(sampling._DRAWS) | {"index"} == set(KINDS)
    text = FORMAT.read_text(encoding="utf-8")
    section = text[text.index("## Kinds"):text.index("Constants take `shape`")]  # the table of kinds
    rows = re.findall(r"^\| (`[^|]+?`)(?: \*\((\d+)\)\*)? \| (\w+) \|", section, flags=re.MULTILINE)
    documented = {name for row in rows for name in re.findall(r"`(\w+)`", row[0])}
    assert documented == set(KINDS)
    for cell, marker, shape in rows:
        for name in re.findall(r"`(\w+)`", cell):
            assert KINDS[name].shape == shape, name
            assert (int(marker) if marker else 1) == KINDS[name].since, name


@pytest.mark.parametrize("kind", [k for k in KINDS.values() if k.symmetric])
def test_symmetric_kinds_draw_symmetric_samples(kind: object) -> None:
    draw = sampling._DRAWS[kind.name]  # type: ignore[attr-defined]
    x = draw(np.random.default_rng(0), (5, 5))
    assert np.array_equal(x, x.T)


def test_shapes_are_checked_by_the_table() -> None:
    assert shape_problem("spd", (3, 4)) == "kind 'spd' needs a square shape [n, n], got [3, 4]"
    assert shape_problem("lower", ("n",)) == "kind 'lower' needs a matrix shape, got ['n']"
    assert shape_problem("general", (3,)) == shape_problem("symmetric", ("n", "n")) == ""

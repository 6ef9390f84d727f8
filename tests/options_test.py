"""The options module: limits applied per block, and the tolerance table as documented."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from gradcheck import options
from gradcheck.options import Limits, Options, applied, current_limits

FORMAT = Path(__file__).resolve().parents[1] / "docs" / "format.md"


def documented() -> dict[str, tuple[str, str]]:
    """name -> (value, meaning) from the table "Tolerances and safety factors"."""
    text = FORMAT.read_text(encoding="utf-8")
    section = text[text.index("### Tolerances and safety factors"):]
    rows = re.findall(r"^\| `(\w+)` \| (.+?) \| (.+?) \|$", section, flags=re.MULTILINE)
    return {name: (value, meaning) for name, value, meaning in rows}


def test_every_tolerance_is_documented_with_its_value_and_meaning() -> None:
    table = documented()
    assert set(table) == set(options.TOLERANCES)
    for name, meaning in options.TOLERANCES.items():
        value, shown = table[name]
        assert shown.replace("\\|", "|").replace("`", "") == meaning.replace("`", ""), name
        constant = getattr(options, name)
        if isinstance(constant, dict):
            assert [part.split()[0] for part in value.split(", ")] == list(constant), name
        else:
            assert float(value) == constant, name


def test_limits_apply_inside_the_block_only_and_nest() -> None:
    assert current_limits() == Limits()
    with applied(Limits(max_elements=10)):
        assert current_limits().max_elements == 10
        with applied(Limits(max_elements=5)):
            assert current_limits().max_elements == 5
        assert current_limits().max_elements == 10
    assert current_limits() == Limits()


def test_limits_are_restored_after_an_error() -> None:
    with pytest.raises(RuntimeError), applied(Limits(max_elements=10)):
        raise RuntimeError
    assert current_limits() == Limits()


def test_options_are_frozen_and_carry_their_limits() -> None:
    run = Options(limits=Limits(max_elements=100))
    with pytest.raises(dataclasses.FrozenInstanceError):
        run.rtol = 1.0  # type: ignore[misc]
    assert run.limits.max_elements == 100 and Options().limits == Limits()

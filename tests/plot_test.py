"""The step-size picture: a right claim's error is a V over the steps, a wrong one's flat."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from conftest import INVERSE
from gradcheck.catalogue import load_text
from gradcheck.checker import check_identity
from gradcheck.options import Options
from gradcheck.report.plot import draw, sweep


def test_a_right_claim_falls_then_rises_and_a_wrong_one_stays_flat() -> None:
    identity = load_text(INVERSE, "inverse.yaml")
    right, wrong = sweep(identity, Options())
    errors = [e for e in right.errors if e is not None]
    middle = right.steps.index(min(right.steps, key=lambda h: abs(h - 1e-5)))
    assert right.errors[middle] is not None and right.errors[middle] < 1e-8
    assert errors[0] > 100 * right.errors[middle] and errors[-1] > 100 * right.errors[middle]  # rounding, truncation
    flat = [e for e in wrong.errors if e is not None]
    assert len(flat) == len(wrong.steps) and max(flat) < 1.5 * min(flat) and min(flat) > 0.1


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_draw_writes_the_picture(tmp_path: Path, suffix: str) -> None:
    identity = load_text(INVERSE, "inverse.yaml")
    options = Options(trials=1)
    target = draw(identity, sweep(identity, options, factors=(0.01, 1.0, 100.0)), check_identity(identity, options),
                  tmp_path / f"inverse{suffix}")
    data = target.read_bytes()
    assert data.startswith(b"\x89PNG") if suffix == ".png" else b"<svg" in data[:1000]


def test_verify_plot(cli_invoke: Callable[..., Result], tmp_path: Path) -> None:
    picture = tmp_path / "logdet.svg"
    result = cli_invoke("verify", "logdet", "--plot", str(picture))
    assert result.exit_code == 0 and f"wrote {picture}" in result.output
    assert "claim 1: d ln|X| = tr(X^-1 dX)" in picture.read_text()
    bad = cli_invoke("verify", "logdet", "--plot", str(tmp_path / "logdet.pdf"))
    assert bad.exit_code == 2 and "the picture is a .png or a .svg file" in bad.output

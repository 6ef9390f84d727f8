from __future__ import annotations

import textwrap
import traceback
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from gradcheck.cli import cli

ROOT = Path(__file__).resolve().parents[1]
CATALOGUE = ROOT / "identities"
# A derivation of d ln|X| whose second step drops a transpose (used by the report tests).
WRONG_DERIVATION = """\
name: steps
format: 3
inputs:
  X: {shape: [3, 3], kind: invertible}
function: logdet(X)
claims:
  - derivation:
      - {step: 'trace(inv(X) @ dX)', by: eq. (10)}
      - sum(inv(X) * dX)
"""


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., Path]:
    """Write a dedented YAML text to tmp_path/NAME and return its path."""

    def _write(text: str, name: str = "identity.yaml") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        return path

    return _write


@pytest.fixture
def cli_invoke() -> Callable[..., Result]:
    """Invoke the click group in-process; print the traceback of an unexpected exception."""

    def _invoke(*args: str) -> Result:
        result = CliRunner(env={"COLUMNS": "200"}).invoke(cli, list(args), catch_exceptions=True)
        if result.exc_info and not isinstance(result.exception, SystemExit):
            traceback.print_exception(*result.exc_info)
        return result

    return _invoke


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--slow", action="store_true", help="also run the long sweeps (marker: slow)")
    parser.addoption("--catalogue", action="store_true",
                     help="also run the sweeps over the whole bundled catalogue (marker: catalogue)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # The unit suite stays fast; the catalogue sweeps run as a CI step of their own
    # (make check-catalogue), the long ones on demand.
    skips = {"slow": (config.getoption("--slow"), "long sweep: run with --slow"),
             "catalogue": (config.getoption("--catalogue"), "catalogue sweep: run with --catalogue")}
    for item in items:
        for marker, (wanted, reason) in skips.items():
            if marker in item.keywords and not wanted:
                item.add_marker(pytest.mark.skip(reason=reason))

from __future__ import annotations

import importlib
import os
import textwrap
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from gradcheck.cli import cli

ROOT = Path(__file__).resolve().parents[1]
CATALOGUE = ROOT / "identities"
# A derivation of d ln|X| whose second step drops a transpose (used by the report tests).
# d tr(X^2) = 2 tr(X dX): right as written, and the slip of a forgotten factor 2
SQUARE = """\
name: square
inputs:
  X: {shape: [3, 3]}
function: trace(X @ X)
claims:
  - differential: 2 * trace(X @ dX)
"""
SQUARE_SLIP = SQUARE.replace("name: square", "name: slip").replace("2 * trace", "trace")

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


# The adapters' tests run in a process of their own (`make test-frameworks`): JAX starts
# threads when imported, and the rest of the suite forks worker processes (--jobs), which
# after threads can deadlock.
if not os.environ.get("GRADCHECK_FRAMEWORKS"):
    collect_ignore = ["torch_test.py", "jax_test.py", "frameworks_bench_test.py"]

# d inv(X), right and with dX^T for dX (the plot and HTML-report tests draw both)
INVERSE = """
name: wrong-inverse
dims: {n: 3}
inputs:
  X: {shape: [n, n], kind: invertible}
function: inv(X)
claims:
  - differential: -inv(X) @ dX @ inv(X)
  - differential: -inv(X) @ dX.T @ inv(X)
"""


def framework(name: str) -> Any:
    """PyTorch or JAX, for the tests of its adapter: those tests are skipped where it is not
    installed, and fail where it must be (GRADCHECK_FRAMEWORKS=required, as
    `make test-frameworks` sets it in CI)."""
    if os.environ.get("GRADCHECK_FRAMEWORKS") == "required":
        return importlib.import_module(name)
    return pytest.importorskip(name)


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

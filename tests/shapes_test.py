"""Shapes from the declarations alone: what lint reports without drawing a matrix."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from gradcheck.catalogue import load_catalogue, load_text
from gradcheck.shapes import problems

HEAD = """\
name: s
dims: {n: 3, m: 4}
inputs:
  X: {shape: [n, m]}
  S: {shape: [n, n]}
constants:
  A: {shape: [n, m]}
  v: {shape: [m, 1]}
"""


def found(function: str, claim: str = "0") -> list[str]:
    identity = load_text(HEAD + f"function: '{function}'\nclaims:\n  - differential: '{claim}'\n", "s.yaml")
    return [message for _, _, message in problems(identity)]


@pytest.mark.parametrize(("function", "message"), [
    ("trace(A @ X)", "matmul of shapes (n, m) and (n, m): m columns against n rows in 'A @ X'"),
    ("logdet(X)", "logdet needs a square matrix, got shape (n, m) in 'logdet(X)'"),
    ("trace(inv(X.T @ X) + S)", "shapes (m, m) and (n, n) do not broadcast in 'inv(X.T @ X) + S'"),
    ("sum(solve(S, v))", "solve of shape (n, n) with a right-hand side of shape (m, 1) in 'solve(S, v)'"),
    ("sum(X * ones(m, n))", "shapes (n, m) and (m, n) do not broadcast in 'X * ones(m, n)'"),
    ("sum(where(X > 0, X, A.T))", "do not broadcast"),
])
def test_mismatches_are_found_without_numbers(function: str, message: str) -> None:
    [got] = found(function)
    assert message in got


@pytest.mark.parametrize("function", [
    "trace(A.T @ X)", "sum(vec(X) @ vec(S).T)", "sum(kron(X, S))", "logdet(S) + sum(v.T @ X.T @ S)",
    "sum(X * 2) + sum(ones(n, 1) * X)", "trace(expm(S)) + norm(X)", "sum(X, axis=0) @ v",
])
def test_what_holds_or_cannot_be_told_is_not_reported(function: str) -> None:
    assert found(function) == []


def test_numbers_in_shapes_are_compared_as_numbers() -> None:
    identity = load_text("name: s\ninputs:\n  X: {shape: [3, 4]}\nconstants:\n  A: {shape: [3, 4]}\n"
                         "function: trace(A @ X)\nclaims:\n  - differential: trace(A @ dX)\n", "s.yaml")
    assert "4 columns against 3 rows" in problems(identity)[0][2]


def test_a_differential_of_the_wrong_shape_is_found() -> None:
    assert found("S @ S", "trace(dS)") == ["'trace(dS)' has shape () but f has shape (n, n)"]
    assert found("S @ S", "dS @ S + S @ dS") == []
    assert found("S @ S", "0") == []  # a constant has every shape


def test_the_bundled_catalogue_has_none() -> None:
    catalogue = load_catalogue(["identities"])
    assert [(i.name, problems(i)) for i in catalogue.identities if problems(i)] == []


def test_lint_reports_a_file_that_would_error_on_every_run(tmp_path: Path, cli_invoke: Callable[..., Result]) -> None:
    (tmp_path / "ax.yaml").write_text(HEAD + "function: trace(A @ X)\nclaims:\n  - differential: trace(A @ dX)\n")
    result = cli_invoke("lint", str(tmp_path))
    assert result.exit_code == 1
    assert ("ERROR matmul of shapes (n, m) and (n, m): m columns against n rows in 'A @ X' in function of "
            f"{tmp_path / 'ax.yaml'}, line 9") in result.output
    assert "1 file read: 0 identities ok, 1 bad" in result.output

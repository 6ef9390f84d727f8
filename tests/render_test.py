"""Rendered math out: expressions printed as LaTeX, and read back to the same values."""
from __future__ import annotations

import numpy as np
import pytest

from gradcheck.expr import parse
from gradcheck.latex import translate
from gradcheck.render import symbol, to_latex

NAMES = ["X", "A", "B", "x", "y", "W1", "alpha", "n", "s", "Xi"]
DIRECTIONS = ["dX", "dx"]


def latex(source: str) -> str:
    return to_latex(parse(source, NAMES, extra_names=DIRECTIONS))


@pytest.mark.parametrize(("source", "tex"), [
    ("trace(inv(X) @ dX)", r"\operatorname{tr}\left(X^{-1} dX\right)"),
    ("inv(X).T", r"X^{-\top}"),
    ("transpose(A) + A.T", r"A^\top + A^\top"),
    ("logdet(X) + det(X)", r"\ln\left|X\right| + \left|X\right|"),
    ("-inv(X) @ dX @ inv(X)", r"-X^{-1} dX X^{-1}"),
    ("2 * x.T @ dx", r"2 x^\top dx"),
    ("x.T @ (y * x)", r"x^\top \left(y \circ x\right)"),
    ("1 / 2 * norm(x) ** 2", r"\frac{1}{2} \left\|x\right\|^{2}"),
    ("norm(X, 2)", r"\left\|X\right\|_{2}"),
    ("kron(A, B) - (A - B)", r"A \otimes B - \left(A - B\right)"),
    ("sigmoid(W1 @ x) * (1 - s)", r"\sigma\left(W_{1} x\right) \circ \left(1 - s\right)"),
    ("sum(x * y) + sum(X, axis=0)", r"\sum \left(x \circ y\right) + \operatorname{sum}\left(X, \text{axis}=0\right)"),
    ("matrix_power(X, 3) @ solve(A, B)", r"X^{3} \left(A^{-1} B\right)"),
    ("sqrt(exp(x))", r"\sqrt{\exp\left(x\right)}"),
    ("alpha * eye(n)", r"\alpha \circ I_{n}"),
    ("X[0, 1] * Xi", r"X_{[0,1]} \circ \mathit{Xi}"),
    ("where(x > 0, x, 0)", r"\operatorname{where}\left([x > 0], x, 0\right)"),
    ("d(x.T) @ x + x.T @ d(x) + trace(d(A @ X @ B))",
     r"d\left(x^\top\right) x + x^\top dx + \operatorname{tr}\left(d\left(A X B\right)\right)"),
])
def test_printed_as_papers_write_it(source: str, tex: str) -> None:
    assert latex(source) == tex


def test_latex_as_written_is_kept() -> None:
    from dataclasses import replace

    expr = replace(parse("inv(X).T", NAMES), tex=r"\mathbf{X}^{-\top}")
    assert to_latex(expr) == r"\mathbf{X}^{-\top}"


@pytest.mark.parametrize("source", [
    "trace(inv(X) @ dX)", "-inv(X) @ dX @ inv(X)", "2 * x.T @ dx", "x.T @ (y * x)", "norm(A @ x + y) ** 2",
    "kron(A, B) - kron(B, A)", "logdet(X) * trace(A @ X @ B)", "inv(X).T @ A.T", "(A + B) @ (A - B) @ X",
    "exp(x) * sigmoid(y) - sqrt(x * x)", "1 / 2 * x.T @ A @ x",
])
def test_a_round_trip_through_latex_keeps_the_value(source: str) -> None:
    rng = np.random.default_rng(0)
    values = {"X": rng.standard_normal((3, 3)) + 3 * np.eye(3), "A": rng.standard_normal((3, 3)),
              "B": rng.standard_normal((3, 3)), "x": rng.standard_normal((3, 1)), "y": rng.standard_normal((3, 1)),
              "dX": rng.standard_normal((3, 3)), "dx": rng.standard_normal((3, 1))}
    shapes = {"X": ("n", "n"), "A": ("n", "n"), "B": ("n", "n"), "x": ("n", 1), "y": ("n", 1),
              "dX": ("n", "n"), "dx": ("n", 1), "n": ()}
    original = parse(source, list(values))
    back, _ = translate(latex(source), shapes)
    again = parse(back, list(values))
    assert np.allclose(original(values), again(values)), (latex(source), back)


def test_symbols() -> None:
    assert [symbol(n) for n in ["x", "W1", "x_i", "alpha", "dX", "dW1", "Xi"]] == \
        ["x", "W_{1}", "x_{i}", r"\alpha", "dX", "dW_{1}", r"\mathit{Xi}"]

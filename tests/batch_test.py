from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest

from conftest import CATALOGUE
from gradcheck import batch
from gradcheck.batch import Batch, Unstackable
from gradcheck.catalogue import Identity, load_catalogue, load_text
from gradcheck.errors import EvalError, EvaluationError
from gradcheck.expr import Expr, parse, quiet
from gradcheck.point import Point
from gradcheck.sampling import draw_sample


def each_point(source: str, values: Mapping[str, Any], count: int) -> list[Any]:
    """`source` evaluated point by point: what a stacked evaluation must equal."""
    expr = parse(source, set(values))
    return [expr({n: v.array[i] if isinstance(v, Batch) else v for n, v in values.items()}) for i in range(count)]


def stacked(source: str, values: Mapping[str, Any]) -> Any:
    with quiet():
        return batch.evaluate(parse(source, set(values)), dict(values))


RNG = np.random.default_rng(0)
N = 3  # as many points as the matrices have rows: a misaligned broadcast would pass silently


@pytest.mark.parametrize("source", [
    "x + M", "M + x", "x * M", "M @ x", "x @ M", "x @ x", "M @ M", "M.T @ x", "x.T", "M.T", "M.H",
    "-M", "M ** 2", "2 ** x", "x / 3", "S @ M", "M @ S", "S + M", "S.T", "S[0]", "M[1]", "M[:, 1]",
    "M[1:, 0]", "M[i, 1]", "trace(M)", "trace(S)", "inv(M)", "det(M)", "logdet(M @ M.T + eye(n))",
    "sum(M)", "sum(M, axis=0)", "mean(x)", "exp(x) + tanh(M)", "where(M > 0, M, 0)", "maximum(M, x)",
    "kron(M, x)", "outer(x, x)", "solve(M, x)", "diag(x)", "diag(M)", "sum(M ** 2) + trace(M @ M) * x",
    "transpose(M)", "funm(M + M.T, exp)", "M[n - 1, 0]", "relu(M) + sigmoid(x)", "c", "c * M",
    "norm(M)", "softmax(x)", "svdvals(M)", "M > x",
])
def test_a_stacked_evaluation_is_the_points_evaluations_stacked(source: str) -> None:
    values = {"M": Batch(RNG.standard_normal((N, N, N))), "x": Batch(RNG.standard_normal((N, N))),
              "S": RNG.standard_normal((2, N, N)), "c": 2.5, "n": N, "i": 2}
    out = stacked(source, values)
    expected = np.stack([np.asarray(v, dtype=float) for v in each_point(source, values, N)])
    got = batch.rows(out, N, expected.shape[1:])
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("source", ["d(M)", "M[x]"])
def test_what_cannot_be_stacked_is_refused(source: str) -> None:
    with pytest.raises(Unstackable):
        stacked(source, {"M": Batch(RNG.standard_normal((N, N, N))), "dM": np.eye(N), "x": Batch(np.zeros((N, 1)))})


def test_a_value_too_large_to_stack_is_refused_before_it_is_made() -> None:
    m = Batch(np.ones((4, 600, 600)))
    with pytest.raises(Unstackable):
        stacked("M @ M", {"M": m})
    with pytest.raises(Unstackable):
        stacked("kron(M, M)", {"M": Batch(np.ones((4, 30, 30)))})


def test_an_error_at_one_point_is_an_error_of_the_pass() -> None:
    m = RNG.standard_normal((3, 2, 2))
    m[1] = 0.0  # singular at one point
    with pytest.raises((EvalError, EvaluationError)):
        stacked("inv(M) + M @ M", {"M": Batch(m)})


TEXT = """\
name: t
dims: {n: 3}
inputs: {X: {shape: [n, n]}, y: {shape: [n]}}
let: {A: inv(X)}
function: %s
claims:
  - {differential: dX}
"""


def point(function: str) -> Point:
    identity = load_text(TEXT % function, "t.yaml")
    return Point(identity, draw_sample(identity, {"n": 3}, np.random.default_rng(1)))


def moves(p: Point, names: list[str], count: int, scale: float = 1e-3) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(2)
    return [{n: p.sample.values[n] + scale * rng.standard_normal(p.sample.values[n].shape) for n in names}
            for _ in range(count)]


@pytest.mark.parametrize("function", ["trace(A) + 1e8", "A @ y - y", "sum(A) * y", "log(trace(X @ X.T)) + y"])
def test_changes_are_the_changes_point_by_point(function: str) -> None:
    p = point(function)
    for names in (["X"], ["y"], ["X", "y"]):
        points = moves(p, names, 5)
        got = p.changes(points)
        assert got is not None
        for row, moved in zip(got, points):
            np.testing.assert_allclose(row, p.change(moved), rtol=1e-12, atol=1e-12 * np.abs(p.value).max())


def test_changes_that_are_not_finite_are_left_to_the_points_to_report() -> None:
    p = point("log(trace(X @ X.T) - 1e-3 * sum(y ** 2)) + y")
    points = moves(p, ["y"], 4, scale=0.0)
    points[2]["y"] = points[2]["y"] + 1e3  # log of a negative number there: NaN
    assert p.changes(points) is None
    with pytest.raises(EvaluationError):
        p.change(points[2])


def test_claims_are_the_claims_point_by_point() -> None:
    p = point("A")
    expr = parse("-A @ dX @ A + trace(dX) * A", {"A", "dX", "X"})
    extras = [{"dX": d} for d in np.random.default_rng(3).standard_normal((4, 3, 3))]
    got = p.claims(expr, "claim 1", extras)
    assert got is not None
    for value, extra in zip(got, extras):
        np.testing.assert_allclose(value, p.claim(expr, "claim", extra), rtol=1e-13)
    assert p.claims(parse("d(A)", {"A", "dX", "X"}), "claim 1", extras) is None  # d(...) goes point by point


def test_a_python_function_is_evaluated_point_by_point() -> None:
    expr = Expr.from_callable(lambda x: x, "f", ["X"])
    with pytest.raises(Unstackable):
        batch.evaluate(expr, {"X": Batch(np.zeros((2, 2)))})


def _catalogue() -> list[Identity]:
    return list(load_catalogue([CATALOGUE]).identities)


def test_over_the_bundled_catalogue_stacked_changes_equal_the_changes_point_by_point() -> None:
    """Every function and let of the catalogue, along each input: stacked, or refused
    (then taken point by point), never different."""
    stacked_inputs = refused = 0
    for identity in _catalogue():
        try:
            p = Point(identity, draw_sample(identity, identity.sizes(), np.random.default_rng(5)))
        except (EvaluationError, ValueError):
            continue
        for var in identity.inputs:
            points = moves(p, [var.name], 3, scale=1e-4)
            if var.symmetric_perturbation:
                points = [{n: (x + x.T) / 2 for n, x in q.items()} for q in points]
            got = p.changes(points)
            if got is None:
                refused += 1
                continue
            stacked_inputs += 1
            for row, moved in zip(got, points):
                try:
                    one = p.change(moved)
                except EvaluationError:
                    pytest.fail(f"{identity.name}: stacked where one point fails")
                scale = max(np.abs(one).max(), np.abs(p.value).max(), 1e-300)
                np.testing.assert_allclose(row, one, rtol=0, atol=1e-11 * scale, err_msg=identity.name)
    assert refused < 0.05 * stacked_inputs  # the stacked pass is the rule, not the exception

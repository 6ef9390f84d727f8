from __future__ import annotations

import ast
import re

import numpy as np
import pytest

from gradcheck.errors import CatalogueError, EvaluationError, ExpressionError, GradcheckError
from gradcheck.expr import MAX_DEPTH, parse

SCOPE = {"X", "Y", "x", "n"}


def value(source: str, **env: object) -> np.ndarray:
    return np.asarray(parse(source, env.keys())(env))


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("__import__('os')", "names starting with '_' are not allowed: '__import__'"),
        ("open('f')", "unknown function 'open'"),
        ("getattr(X, 'T')", "unknown function 'getattr'"),
        ("X.__class__", "attribute '.__class__' is not allowed (only .T and .H): 'X.__class__'"),
        ("X.shape", "attribute '.shape' is not allowed (only .T and .H): 'X.shape'"),
        ("(lambda: 1)()", "only named functions can be called: '(lambda: 1)()'"),
        ("lambda: 1", "lambda is not allowed: 'lambda: 1'"),
        ("[x for x in X]", "comprehension is not allowed: '[x for x in X]'"),
        ("f'{X}'", "f-string is not allowed: 'f'{X}''"),
        ("X[0, 1, 2]", "an index takes one or two positions (row, column): 'X[0, 1, 2]'"),
        ("(X, Y)", "tuple is not allowed: '(X, Y)'"),
        ("(y := X)", "assignment (:=) is not allowed: 'y := X'"),
        ("sum(*X)", "starred argument is not allowed: 'sum(*X)'"),
        ("sum(X, keepdims=1)", "sum() keyword 'keepdims' is not allowed (allowed: axis): 'sum(X, keepdims=1)'"),
        ("sum(X, axis=n)", "sum() keyword 'axis' must be an integer: 'sum(X, axis=n)'"),
        ("inv(X, Y)", "inv() takes 1 argument, got 2: 'inv(X, Y)'"),
        ("'text'", "only numbers are allowed as literals, not 'text'"),
        ("X if x else Y", "conditional expression (use where) is not allowed: 'X if x else Y'"),
        ("X and Y", "and/or (use where) is not allowed: 'X and Y'"),
        ("X // Y", "operator is not allowed: 'X // Y'"),
        ("~X", "operator is not allowed: '~X'"),
        ("0 < X < 1", "only single comparisons are allowed: '0 < X < 1'"),
        ("inv", "function 'inv' must be called, as in inv(...)"),
        ("X(1)", "'X' is a variable, not a function"),
        ("X +", "invalid syntax in 'X +'"),
        ("", "empty expression"),
    ],
)
def test_refused(source: str, message: str) -> None:
    with pytest.raises(ExpressionError) as info:
        parse(source, SCOPE)
    assert str(info.value) == message


def test_unknown_function_suggests_the_closest() -> None:
    with pytest.raises(ExpressionError) as info:
        parse("invv(X)", SCOPE)
    assert str(info.value) == "unknown function 'invv': did you mean 'inv'?"


def test_unknown_name_suggests_the_closest() -> None:
    with pytest.raises(ExpressionError) as info:
        parse("inv(Yy)", SCOPE)
    assert str(info.value) == "unknown name 'Yy': did you mean 'Y'?"


def test_extra_names_are_in_scope() -> None:
    assert parse("trace(dX)", SCOPE, extra_names=["dX"]).names == {"dX"}


def test_depth_limit() -> None:
    deep = "(" * 150 + "X" + ")" * 150
    with pytest.raises(ExpressionError, match="too deeply nested|over the limit"):
        parse("-" * (MAX_DEPTH + 5) + "X", SCOPE)
    with pytest.raises(ExpressionError):
        parse(deep.replace("(", "exp(", 120), SCOPE)


def test_length_limit() -> None:
    with pytest.raises(ExpressionError, match="over the limit of 10,000"):
        parse("+".join(["X"] * 6000), SCOPE)


def test_matmul_shape_mismatch_names_the_expression() -> None:
    expr = parse("X @ Y", SCOPE)
    with pytest.raises(EvaluationError) as info:
        expr({"X": np.ones((3, 4)), "Y": np.ones((3, 4))})
    assert str(info.value) == "matmul shape mismatch (3,4) @ (3,4) in 'X @ Y'"


def test_broadcast_mismatch() -> None:
    with pytest.raises(EvaluationError, match=r"add shape mismatch \(3,4\) \+ \(2,\) in 'X \+ Y'"):
        parse("X + Y", SCOPE)({"X": np.ones((3, 4)), "Y": np.ones(2)})


def test_function_errors_name_the_call() -> None:
    with pytest.raises(EvaluationError, match=r"inv expects a square matrix, got shape \(3,4\) in 'inv\(X\)'"):
        parse("inv(X)", SCOPE)({"X": np.ones((3, 4))})
    with pytest.raises(EvaluationError, match=r"inv: singular matrix in 'inv\(X\)'"):
        parse("inv(X)", SCOPE)({"X": np.zeros((2, 2))})


def test_size_limit_on_constructors() -> None:
    with pytest.raises(EvaluationError, match=r"eye would have shape \(1000000000,1000000000\)"):
        parse("eye(10 ** 9)", SCOPE)({})
    with pytest.raises(EvaluationError, match="kron would have shape"):
        parse("kron(kron(X, X), kron(X, X))", SCOPE)({"X": np.ones((100, 100))})


def test_huge_integer_powers_do_not_hang() -> None:
    assert np.isinf(value("10 ** 10 ** 10"))


def test_nonfinite_is_located_at_the_innermost_node() -> None:
    expr = parse("trace(log(det(X)) * X)", SCOPE)
    env = {"X": -np.eye(3)}
    found = expr.locate_nonfinite(env)
    assert found is not None
    assert found.message == "'log(det(X))' is NaN"


def test_analytic_flag() -> None:
    assert parse("exp(X) @ inv(X)", SCOPE).analytic
    assert not parse("relu(X)", SCOPE).analytic
    assert not parse("where(X > 0, X, 0)", SCOPE).analytic


def test_semantics_of_matrix_functions() -> None:
    X = np.array([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_allclose(value("adj(X)", X=X), [[4.0, -2.0], [-3.0, 1.0]])
    np.testing.assert_allclose(value("adj(X)", X=np.array([[1.0, 2.0], [2.0, 4.0]])), [[4.0, -2.0], [-2.0, 1.0]])
    np.testing.assert_allclose(value("logdet(X)", X=X), np.log(2.0))
    np.testing.assert_allclose(value("vec(X)", X=X), [[1.0], [3.0], [2.0], [4.0]])
    np.testing.assert_allclose(value("diag(X)", X=X), [[1.0], [4.0]])
    np.testing.assert_allclose(value("diag(vec(X))", X=X), np.diag([1.0, 3.0, 2.0, 4.0]))
    np.testing.assert_allclose(value("sym(X)", X=X), [[1.0, 2.5], [2.5, 4.0]])
    np.testing.assert_allclose(value("tr(X)", X=X), 5.0)
    np.testing.assert_allclose(value("trace(x.T @ x)", x=np.ones((3, 1))), 3.0)
    np.testing.assert_allclose(value("matrix_power(X, -1) @ X", X=X), np.eye(2), atol=1e-12)
    np.testing.assert_allclose(value("solve(X, eye(2))", X=X), np.linalg.inv(X))
    np.testing.assert_allclose(value("outer(X, X)", X=X).shape, (4, 4))


def test_semantics_of_reductions() -> None:
    X = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert value("sum(X)", X=X).shape == ()
    assert value("sum(X, axis=0)", X=X).shape == (1, 3)
    assert value("mean(X, axis=1)", X=X).shape == (2, 1)
    np.testing.assert_allclose(value("logsumexp(X)", X=X), np.log(np.exp(X).sum()))
    np.testing.assert_allclose(value("logsumexp(X, axis=1)", X=X), np.log(np.exp(X).sum(1, keepdims=True)))
    np.testing.assert_allclose(value("sum(softmax(X, axis=0), axis=0)", X=X), np.ones((1, 3)))
    np.testing.assert_allclose(value("sum(softmax(X))", X=X), 1.0)
    assert np.isfinite(value("logsumexp(X)", X=np.array([1000.0, 1000.0])))


def test_semantics_of_elementwise_functions() -> None:
    x = np.array([-2.0, 0.0, 3.0])
    np.testing.assert_allclose(value("relu(x)", x=x), [0.0, 0.0, 3.0])
    np.testing.assert_allclose(value("step(x)", x=x), [0.0, 0.0, 1.0])
    np.testing.assert_allclose(value("sigmoid(x)", x=x), 1 / (1 + np.exp(-x)))
    np.testing.assert_allclose(value("softplus(x)", x=x), np.log1p(np.exp(x)))
    np.testing.assert_allclose(value("where(x > 0, x, -x)", x=x), np.abs(x))
    np.testing.assert_allclose(value("maximum(x, 1)", x=x), [1.0, 1.0, 3.0])
    np.testing.assert_allclose(value("norm(x, 1)", x=x), 5.0)
    np.testing.assert_allclose(value("norm(x)", x=x), np.sqrt(13.0))
    np.testing.assert_allclose(value("pi * 2"), 2 * np.pi)
    assert value("sigmoid(x)", x=np.array([-1000.0, 1000.0])).tolist() == [0.0, 1.0]


def test_load_and_run_time_errors_are_two_branches_of_one_base() -> None:
    with pytest.raises(ExpressionError) as parsing:
        parse("X +", SCOPE)
    with pytest.raises(EvaluationError) as running:
        parse("X @ Y", SCOPE)({"X": np.ones((3, 4)), "Y": np.ones((3, 4))})
    assert isinstance(parsing.value, CatalogueError) and not isinstance(running.value, CatalogueError)
    assert isinstance(running.value, GradcheckError)


@pytest.mark.parametrize(("source", "hint"), [
    ("X ^ 2", "use ** for an element-wise power (X ** 2), or X @ X or matrix_power(X, 2) for a matrix power"),
    ("trace(X')", "use .T for a transpose (X.T)"),
])
def test_slips_from_other_notations_get_a_hint(source: str, hint: str) -> None:
    with pytest.raises(ExpressionError) as info:
        parse(source, SCOPE)
    assert info.value.hint == hint


# -- d(E): the differential of an expression -------------------------------------------

def _at(x: np.ndarray, dx: np.ndarray, **more: object) -> dict[str, object]:
    from gradcheck.expr import FRAME

    lets = tuple((name, parse(src, {"x", "dx", *more}, extra_names=())) for name, src in
                 (("y", "2 * x + 1"),))
    return {"x": x, "dx": dx, "y": 2 * x + 1, FRAME: (("x",), lets), **more}


def test_d_is_the_exact_differential_along_the_directions() -> None:
    rng = np.random.default_rng(0)
    x, dx = rng.standard_normal((4, 1)), rng.standard_normal((4, 1))
    scope = {"x", "y"}
    env = _at(x, dx)
    got = parse("d(x.T @ x)", scope, extra_names=("dx",))(env)
    assert np.allclose(got, 2 * x.T @ dx, rtol=1e-15, atol=0)
    # a let moves with the inputs it reads
    assert np.allclose(parse("d(y.T @ y)", scope, extra_names=("dx",))(env), 2 * (2 * x + 1).T @ (2 * dx), rtol=1e-14)
    # abs, max, relu, norm through their complex-step variants: the one-sided derivatives at x
    assert np.allclose(parse("d(sum(abs(x)))", scope, extra_names=("dx",))(env), np.sum(np.sign(x) * dx))
    assert np.allclose(parse("d(norm(x))", scope, extra_names=("dx",))(env), x.T @ dx / np.linalg.norm(x))
    assert np.allclose(parse("d(max(x))", scope, extra_names=("dx",))(env), dx[np.argmax(x)])
    assert np.allclose(parse("d(sum(relu(x)))", scope, extra_names=("dx",))(env), np.sum((x > 0) * dx))
    assert np.allclose(parse("d(sum(maximum(x, 0)))", scope, extra_names=("dx",))(env), np.sum((x > 0) * dx))
    assert np.allclose(parse("d(sum(where(x > 0, x, -x)))", scope, extra_names=("dx",))(env),
                       np.sum(np.sign(x) * dx))


@pytest.mark.parametrize(("source", "extra", "message"), [
    ("d(x)", (), "d(...) is a differential, allowed only in a claim with directions"),
    ("d(x, x)", ("dx",), "d() takes 1 argument, got 2"),
    ("d(dx)", ("dx",), "d(...) of an expression with a direction in it: 'd(dx)'"),
    ("d(chol(x @ x.T))", ("dx",), "'chol' is not complex-analytic: 'd(chol(x @ x.T))'"),
    ("d(open(x))", ("dx",), "unknown function 'open'"),
])
def test_d_refusals(source: str, extra: tuple[str, ...], message: str) -> None:
    with pytest.raises(ExpressionError, match=re.escape(message)):
        parse(source, {"x"}, extra_names=extra)


def test_d_is_not_taken_from_the_cache_where_there_are_no_directions() -> None:
    parse("d(x.T @ x)", {"x"}, extra_names=("dx",))
    with pytest.raises(ExpressionError, match="allowed only in a claim with directions"):
        parse("d(x.T @ x)", {"x"})


def test_d_of_a_let_that_cannot_take_a_complex_step_is_an_error() -> None:
    from gradcheck.expr import FRAME

    x = np.arange(1.0, 5.0).reshape(2, 2) @ np.arange(1.0, 5.0).reshape(2, 2).T
    env = {"x": x, "dx": np.eye(2), "L": np.linalg.cholesky(x),
           FRAME: (("x",), (("L", parse("chol(x)", {"x"})),))}
    with pytest.raises(EvaluationError, match="d\\(...\\) reads let 'L', which uses 'chol'"):
        parse("d(trace(L))", {"x", "L"}, extra_names=("dx",))(env)


def test_d_survives_the_trip_to_a_worker_process() -> None:
    import pickle

    from gradcheck.expr import FRAME

    expr = parse("d(x.T @ x) + x.T @ dx", {"x"}, extra_names=("dx",))
    again = pickle.loads(pickle.dumps(expr))
    assert again.source == expr.source and "differential" in again.syntax
    x, dx = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[0.5, -1.0], [2.0, 0.25]])
    env = {"x": x, "dx": dx, FRAME: (("x",), ())}
    np.testing.assert_allclose(again(env), expr(env))


def test_a_copy_from_another_process_is_parsed_when_first_used() -> None:
    import pickle

    expr = parse("trace(inv(X) @ A) + sum(X)", {"X", "A"})
    again = pickle.loads(pickle.dumps(expr))
    assert "fn" not in again.__dict__ and "tree" not in again.__dict__  # reporting on it parses nothing
    assert again == expr and hash(again) == hash(expr) and again.analytic and again.calls == {"trace", "inv", "sum"}
    assert pickle.loads(pickle.dumps(again)) == expr and "fn" not in again.__dict__  # passed on, still unparsed
    env = {"X": np.array([[2.0, 1.0], [0.0, 3.0]]), "A": np.eye(2)}
    assert again(env) == pytest.approx(expr(env))
    assert [t.source for _, t in again.terms()] == ["trace(inv(X) @ A)", "sum(X)"]
    with pytest.raises(AttributeError):
        again.no_such_attribute  # noqa: B018


def test_a_parsed_expression_is_kept_by_its_holder_alone() -> None:
    """No process-wide cache of parsed texts: a worker that checked a catalogue of
    thousands of files held every expression it had parsed (43 MB for the bundled one)."""
    import gc
    import weakref

    from gradcheck.expr import _complex_step_form

    expr = parse("log(1 + x) * x", {"x"})
    assert parse("log(1 + x) * x", {"x"}) is not expr
    assert _complex_step_form(expr, "L") is _complex_step_form(expr, "L")  # compiled once, kept with it
    kept = weakref.ref(expr)
    del expr
    gc.collect()
    assert kept() is None


def test_an_expression_of_a_python_function_pickles_as_its_source() -> None:
    import pickle

    from gradcheck.expr import Expr

    expr = Expr.from_callable(lambda x: x * 2, "x * 2", ["x"])
    again = pickle.loads(pickle.dumps(expr))
    assert again.tree is not None and again({"x": np.array(3.0)}) == 6.0


HOIST_SCOPE = {"X", "dX", "n", "G"}


@pytest.mark.parametrize(("source", "parts"), [
    ("trace(inv(X) @ dX)", ["inv(X)"]),
    ("-inv(X) @ dX @ inv(X)", ["-inv(X)", "inv(X)"]),
    ("softmax(X, axis=0) @ dX + sum(dX * X.T, axis=-1)", ["softmax(X, axis=0)"]),
    # negating, scaling or transposing a variable is left to each direction: as a part it
    # would be held at the point, as large as the variable
    ("-X @ dX @ X.T + (2 * X) @ dX + X / 2 @ dX - X * X @ dX", ["X * X"]),
    ("trace(dX)", []),
    ("d(inv(X)) + dX", []),  # inside d(...) the inputs move too
    ("where(X > 0, dX, 2 * dX) @ X[0:n - 1, :].T", ["X > 0", "X[0:n - 1, :].T"]),
    ("(inv(X)\n @ dX)", ["inv(X)"]),
])
def test_the_still_parts_of_a_claim_are_named_and_the_rest_reads_them(source: str, parts: list[str]) -> None:
    expr = parse(source, HOIST_SCOPE)
    hoisted, rest = expr.hoisted({"dX"})
    assert [part.source for _, part in hoisted] == parts
    if "d(" in source:
        return  # evaluated at a point only (it moves the point's inputs)
    rng = np.random.default_rng(0)
    env: dict[str, object] = {"X": rng.standard_normal((4, 4)), "dX": rng.standard_normal((4, 4)), "n": 4}
    env.update({name: part(env) for name, part in hoisted})
    np.testing.assert_array_equal(rest(env), expr(env))


def test_a_still_part_that_fails_names_its_own_text() -> None:
    expr = parse("trace(inv(X) @ dX)", HOIST_SCOPE)
    [(_, part)], rest = expr.hoisted({"dX"})
    env = {"X": np.zeros((3, 3)), "dX": np.eye(3)}
    with pytest.raises(EvaluationError, match="singular matrix in 'inv\\(X\\)'"):
        part(env)
    with pytest.raises(EvaluationError, match="singular matrix in 'inv\\(X\\)'"):
        expr(env)


@pytest.mark.parametrize(("a", "b"), [
    ((4, 4), (4, 4)), ((3, 5), (5, 3)), ((1, 6), (6, 1)), ((2, 3, 3), (2, 3, 3)), ((5,), (5,)),
])
def test_the_trace_of_a_product_is_the_trace_of_the_product(a: tuple[int, ...], b: tuple[int, ...]) -> None:
    rng = np.random.default_rng(1)
    for dtype in (float, complex):
        x = rng.standard_normal(a).astype(dtype) + (1j * rng.standard_normal(a) if dtype is complex else 0)
        y = rng.standard_normal(b).astype(dtype)
        np.testing.assert_allclose(value("trace(X @ Y)", X=x, Y=y), np.trace(x @ y, axis1=-2, axis2=-1)
                                   if x.ndim > 1 else x @ y, rtol=1e-13)


def test_the_trace_of_a_product_that_cannot_be_made_says_why() -> None:
    with pytest.raises(EvaluationError, match=r"matmul shape mismatch \(3,4\) @ \(3,4\) in 'X @ Y'"):
        value("trace(X @ Y)", X=np.ones((3, 4)), Y=np.ones((3, 4)))
    with pytest.raises(EvaluationError, match="trace expects a square matrix"):
        value("trace(X @ Y)", X=np.ones((3, 4)), Y=np.ones((4, 5)))


def test_the_trace_of_a_product_over_the_size_limit_is_refused_as_the_product_is() -> None:
    from gradcheck.options import Limits, applied

    x = np.ones((20, 1))
    with applied(Limits(max_elements=100)):
        with pytest.raises(EvaluationError, match=r"matmul result would have shape \(20,20\)"):
            value("trace(X @ X.T)", X=x)
        assert float(value("trace(X.T @ X)", X=x)) == 20.0


@pytest.mark.parametrize(("source", "named", "reads"), [
    ("inv(X).T", {"inv(X)": "Xi"}, {"Xi"}),
    ("inv( X ) @ dX @ inv(X)", {"inv(X)": "Xi"}, {"Xi", "dX"}),  # spacing aside, every place
    ("inv(X @ X) + inv(X)", {"X @ X": "A", "inv(X @ X)": "B"}, {"B", "X"}),  # the largest part
    ("d(inv(X)) + dX", {"inv(X)": "Xi"}, {"X", "dX"}),  # inside d(...) the inputs move too
    ("trace(X)", {"inv(X)": "Xi"}, {"X"}),
])
def test_a_part_written_as_a_named_text_reads_the_name(source: str, named: dict[str, str], reads: set[str]) -> None:
    expr = parse(source, HOIST_SCOPE | {"Xi", "A", "B"})
    reused = expr.reusing(named)
    assert reused.tree is not None
    assert {n.id for n in ast.walk(reused.tree.body) if isinstance(n, ast.Name)} - {"inv", "d", "trace"} == reads
    assert expr.reusing(named) is reused  # made once
    if "d(" in source:
        return
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 4))
    env = {"X": x, "dX": rng.standard_normal((4, 4)), "Xi": np.linalg.inv(x), "A": x @ x,
           "B": np.linalg.inv(x @ x)}
    np.testing.assert_allclose(reused(env), expr(env), rtol=1e-12)

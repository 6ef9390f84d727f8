from __future__ import annotations

import numpy as np
import pytest

from gradcheck.errors import EvalError
from gradcheck.functions import LARGE, inv

RNG = np.random.default_rng(0)
A = RNG.standard_normal((LARGE + 8, LARGE + 8))


@pytest.mark.parametrize("a", [A, np.asfortranarray(A), A.T, A + 1j * RNG.standard_normal(A.shape), A[:40, :40]],
                         ids=["C order", "Fortran order", "transposed view", "complex", "small"])
def test_inv_agrees_with_numpy_in_every_memory_order(a: np.ndarray) -> None:
    before = a.copy()
    np.testing.assert_allclose(inv(a), np.linalg.inv(a), rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(a, before)  # the argument is not overwritten


@pytest.mark.parametrize("n", [3, LARGE + 1])
def test_inv_of_a_singular_matrix_is_an_evaluation_error(n: int) -> None:
    with pytest.raises(EvalError, match="inv: singular matrix"):
        inv(np.zeros((n, n)))


# -- every function of the language against its reference ------------------------------

import re  # noqa: E402

import scipy.linalg  # noqa: E402

from gradcheck.expr import parse  # noqa: E402

R = np.random.default_rng(1)
G = R.standard_normal((3, 3))
S = G @ G.T + 3 * np.eye(3)  # spd
B = R.standard_normal((2, 3))
V = R.standard_normal((3, 1))
ENV = {"G": G, "S": S, "B": B, "V": V}


def run(source: str) -> np.ndarray:
    return np.asarray(parse(source, tuple(ENV))(ENV))


@pytest.mark.parametrize(("source", "reference"), [
    ("inv(S)", np.linalg.inv(S)),
    ("det(G)", np.linalg.det(G)),
    ("adj(G)", np.linalg.det(G) * np.linalg.inv(G)),
    ("adj(eye(1))", np.ones((1, 1))),
    ("logdet(S)", np.linalg.slogdet(S)[1]),
    ("trace(G)", np.trace(G)),
    ("tr(V.T @ V)", (V.T @ V).item()),
    ("diag(G)", np.diag(G).reshape(-1, 1)),
    ("diag(V)", np.diag(V.ravel())),
    ("kron(G, B)", np.kron(G, B)),
    ("outer(V, V)", np.outer(V, V)),
    ("solve(S, V)", np.linalg.solve(S, V)),
    ("pinv(B)", np.linalg.pinv(B)),
    ("norm(G)", np.linalg.norm(G)),
    ("norm(G, 2)", np.linalg.norm(G, 2)),
    ("norm(V, 1)", np.abs(V).sum()),
    ("vec(B)", B.reshape(-1, 1, order="F")),
    ("eye(2, 3)", np.eye(2, 3)),
    ("ones(2, 3)", np.ones((2, 3))),
    ("zeros(2)", np.zeros(2)),
    ("transpose(B)", B.T),
    ("matrix_power(G, 3)", G @ G @ G),
    ("matrix_power(S, -1)", np.linalg.inv(S)),
    ("sym(G)", (G + G.T) / 2),
    ("exp(G) + log(S * S) + sqrt(S * S) + sin(G) + cos(G) + tanh(G)",
     np.exp(G) + np.log(S * S) + np.sqrt(S * S) + np.sin(G) + np.cos(G) + np.tanh(G)),
    ("abs(G) + sign(G)", np.abs(G) + np.sign(G)),
    ("sigmoid(G)", 1 / (1 + np.exp(-G))),
    ("sigmoid(1000 * G)", 1 / (1 + np.exp(np.clip(-1000 * G, -700, 700)))),
    ("relu(G)", np.maximum(G, 0)),
    ("softplus(G)", np.log1p(np.exp(G))),
    ("step(G)", (G > 0).astype(float)),
    ("maximum(G, 0) - minimum(G, 0)", np.abs(G)),
    ("where(G > 0, G, 0)", np.maximum(G, 0)),
    ("sum(G) + mean(G)", G.sum() + G.mean()),
    ("sum(G, axis=0)", G.sum(axis=0, keepdims=True)),
    ("logsumexp(V)", np.log(np.exp(V).sum())),
    ("softmax(V)", np.exp(V) / np.exp(V).sum()),
    ("expm(G)", scipy.linalg.expm(G)),
    ("logm(S)", scipy.linalg.logm(S)),
    ("sqrtm(S)", scipy.linalg.sqrtm(S)),
    ("eigvalsh(S)", np.linalg.eigvalsh(S).reshape(-1, 1)),
    ("chol(S)", np.linalg.cholesky(S)),
    ("pi * ones(1)", np.pi * np.ones(1)),
])
def test_each_function_agrees_with_its_reference(source: str, reference: object) -> None:
    value = run(source)
    ref = np.asarray(reference)
    assert value.size == ref.size
    assert np.allclose(value.reshape(ref.shape), ref, rtol=1e-12, atol=1e-12), source


def test_complex_branches_agree_with_the_real_ones() -> None:
    for name in ("sigmoid", "softplus", "adj"):
        real = run(f"{name}(G)")
        complex_ = np.asarray(parse(f"{name}(G)", ("G",))({"G": G + 0j}))
        assert np.allclose(complex_.real, real, rtol=1e-12, atol=1e-12), name


@pytest.mark.parametrize(("source", "message"), [
    ("inv(B)", "inv expects a square matrix, got shape (2,3)"),
    ("eye(-1)", "eye expects a non-negative integer size, got -1"),
    ("ones(1.5)", "ones expects a non-negative integer size, got 1.5"),
    ("solve(S, B)", "solve shape mismatch: (3,3) with right-hand side (2,3)"),
    ("norm(G, G)", "norm order must be a number, got ndarray"),
    ("norm(G, 3)", "norm of a matrix takes order 1, 2 or none (Frobenius), got 3"),
    ("matrix_power(G, 0.5)", "matrix_power expects an integer power up to 10000, got 0.5"),
    ("matrix_power(G, 20000)", "matrix_power expects an integer power up to 10000, got 20000"),
    ("chol(-S)", "chol"),
    ("logm(-S)", "logm of a real matrix with eigenvalues on the negative real axis is not real"),
    ("sqrtm(-S)", "sqrtm of a real matrix with eigenvalues on the negative real axis is not real"),
    ("maximum(G, B)", "maximum shape mismatch (3,3) and (2,3)"),
    ("trace(B)", "trace expects a square matrix, got shape (2,3)"),
    ("diag(B)", "diag expects a square matrix, got shape (2,3)"),
    ("expm(B)", "expm expects a square matrix, got shape (2,3)"),
    ("eigvalsh(B)", "eigvalsh expects a square matrix, got shape (2,3)"),
    ("sym(B)", "sym expects a square matrix, got shape (2,3)"),
])
def test_each_misuse_is_an_evaluation_error_that_names_the_call(source: str, message: str) -> None:
    from gradcheck.errors import EvaluationError

    with pytest.raises(EvaluationError, match="^" + re.escape(message)):
        run(source)


# -- format 2: indexing and the structure functions ---------------------------------------

@pytest.mark.parametrize(("source", "reference"), [
    ("G[0, 1]", G[0, 1]),
    ("G[:, 1:3]", G[:, 1:3]),
    ("G[-1]", G[-1]),
    ("V[::2, 0]", V[::2, 0]),
    ("tril(G) + triu(G, 1)", G),
    ("tril(G, -1)", np.tril(G, -1)),
    ("vech(S)", np.array([S[i, j] for j in range(3) for i in range(j, 3)]).reshape(-1, 1)),
    ("unvec(vec(B), 2)", B),
    ("commutation(2, 3) @ vec(B)", B.T.reshape(-1, 1, order="F")),
    ("duplication(3) @ vech(S)", S.reshape(-1, 1, order="F")),
    ("hstack(G, V)", np.hstack([G, V])),
    ("vstack(G, B)", np.vstack([G, B])),
    ("block(G, V, V.T, ones(1, 1))", np.block([[G, V], [V.T, np.ones((1, 1))]])),
    ("max(G) - min(G)", G.max() - G.min()),
    ("eigvecsh(S) @ diag(eigvalsh(S)) @ eigvecsh(S).T", S),
    ("eigvecsh(S).T @ eigvecsh(S)", np.eye(3)),
    ("svdu(B) @ diag(svdvals(B)) @ svdv(B).T", B),
    ("svdvals(G)", np.linalg.svd(G, compute_uv=False).reshape(-1, 1)),
    ("qrq(G) @ qrr(G)", G),
    ("qrr(G.T @ G) - triu(qrr(G.T @ G))", np.zeros((3, 3))),
    ("toeplitz(V, B[0])", scipy.linalg.toeplitz(V.ravel(), B[0])),
    ("toeplitz(V, B[0, :2])", scipy.linalg.toeplitz(V.ravel(), B[0, :2])),
    ("hankel(V, B[0])", scipy.linalg.hankel(V.ravel(), B[0])),
    ("hankel(B[0, :2], V)", scipy.linalg.hankel(B[0, :2], V.ravel())),
    ("circulant(V)", scipy.linalg.circulant(V.ravel())),
    ("vander(V, 4)", np.vander(V.ravel(), 4)),
    ("sinm(G)", scipy.linalg.sinm(G)),
    ("cosm(G)", scipy.linalg.cosm(G)),
    ("sinm(S) @ sinm(S) + cosm(S) @ cosm(S)", np.eye(3)),
    ("signm(S)", np.eye(3)),
    ("powm(S, 0.5)", scipy.linalg.sqrtm(S)),
    ("powm(S, -1)", np.linalg.inv(S)),
    ("max(G, axis=0)", G.max(axis=0, keepdims=True)),
])
def test_each_format_2_function_agrees_with_its_reference(source: str, reference: object) -> None:
    value = run(source)
    ref = np.asarray(reference)
    assert value.shape == ref.shape and np.allclose(value, ref, rtol=1e-12, atol=1e-12), source


@pytest.mark.parametrize(("source", "message"), [
    ("G[3, 0]", "index 3 is out of range for axis 0 of size 3 in 'G[3, 0]'"),
    ("G[0.5, 0]", "an index must be an integer, got 0.5 in 'G[0.5, 0]'"),
    ("G[V, 0]", "an index must be an integer, got an array of shape (3,1) in 'G[V, 0]'"),
    ("G[5:, 0]", "slice 5: has no entries on axis 0 of size 3 in 'G[5:, 0]'"),
    ("G[0, 0][0]", "a number cannot be indexed in 'G[0, 0][0]'"),
    ("V[0, 0, 0]", ""),
    ("tril(G, 0.5)", "tril expects an integer diagonal offset, got 0.5 in 'tril(G, 0.5)'"),
    ("vech(B)", "vech expects a square matrix, got shape (2,3) in 'vech(B)'"),
    ("unvec(vec(B), 4)", "unvec expects a vector whose length is a multiple of 4, got shape (6,1) in 'unvec(vec(B), 4)'"),
    ("commutation(-1, 2)", "commutation expects a non-negative integer size, got -1 in 'commutation(-1, 2)'"),
    ("duplication(100000)", "duplication would have shape (10000000000,5000050000)"),
    ("hstack(G, B)", "hstack needs the same number of rows, got (3,3), (2,3) in 'hstack(G, B)'"),
    ("block(G, B, B, G)", "block needs the same number of rows, got (3,3), (2,3) in 'block(G, B, B, G)'"),
    ("max(G, axis=2)", "max: axis 2 is out of range for shape (3,3) in 'max(G, axis=2)'"),
    ("powm(-S, 0.5)", "powm of a real matrix with eigenvalues on the negative real axis is not real"),
    ("powm(S, G)", "powm expects a real power up to 1000 in size, got array"),
    ("sinm(B)", "sinm expects a square matrix, got shape (2,3) in 'sinm(B)'"),
    ("circulant(G)", "circulant expects a vector, got shape (3,3) in 'circulant(G)'"),
    ("qrq(B)", "qrq expects a matrix with at least as many rows as columns, got shape (2,3) in 'qrq(B)'"),
    ("eigvecsh(B)", "eigvecsh expects a square matrix, got shape (2,3) in 'eigvecsh(B)'"),
    ("vander(V, -1)", "vander expects a non-negative integer size, got -1 in 'vander(V, -1)'"),
])
def test_each_format_2_misuse_is_an_error_that_names_it(source: str, message: str) -> None:
    from gradcheck.errors import EvaluationError, ExpressionError

    if not message:  # three positions: refused when the file is loaded
        with pytest.raises(ExpressionError, match="an index takes one or two positions"):
            run(source)
        return
    with pytest.raises(EvaluationError, match="^" + re.escape(message)):
        run(source)


def test_every_function_is_documented_with_its_version() -> None:
    from pathlib import Path

    from gradcheck.functions import FUNCTIONS

    text = (Path(__file__).resolve().parents[1] / "docs" / "format.md").read_text(encoding="utf-8")
    rows = [line for line in text[text.index("| function | meaning |"):].splitlines() if line.startswith("| `")]
    for name, fn in FUNCTIONS.items():
        mine = [r for r in rows if re.search(rf"`(?:[^`]* )?{name}[(` ]", r.split(" | ")[0])]
        assert mine, f"{name} is not in the table of functions"
        for row in mine:  # marked with the version that introduced it, none for version 1
            marker = re.search(r"\*\((\d+)\)\*", row)
            assert (int(marker.group(1)) if marker else 1) == fn.since, name


def test_factors_follow_their_sign_conventions() -> None:
    from gradcheck.functions import eigvecsh, qrr, svdu, svdv

    for v in (eigvecsh(S), svdu(B), svdu(G)):
        rows = np.argmax(np.abs(v), axis=0)
        assert np.all(v[rows, np.arange(v.shape[1])] > 0)
    assert np.all(np.diag(qrr(G)) > 0)
    # flipping the matrix's sign flips V, not U: the convention is on U
    assert np.allclose(svdu(-B), svdu(B)) and np.allclose(svdv(-B), -svdv(B))


# -- constants of kind index: positions, never numbers ------------------------------------

from gradcheck.functions import Labels  # noqa: E402

Y = np.array(2).view(Labels)
YS = np.array([2, 0, 2]).view(Labels)


@pytest.mark.parametrize(("source", "reference"), [
    ("G[Y, 0]", G[2, 0]),
    ("G[:, Y:Y + 1]", G[:, 2:3]),
    ("V[YS, 0]", V[[2, 0, 2], 0]),
    ("G[YS]", G[[2, 0, 2]]),
    ("eye(3)[:, Y]", np.eye(3)[:, 2]),
    ("G[Y * 1 - 2, 0]", G[0, 0]),
    ("G[YS, arange(3)]", G[[2, 0, 2], [0, 1, 2]]),
    ("V[argmax(V), 0]", V.max()),
    ("G[argmax(G, axis=0), arange(3)]", G.max(axis=0)),
    ("G[arange(3), argmax(G, axis=1)]", G.max(axis=1)),
])
def test_an_index_indexes(source: str, reference: object) -> None:
    value = np.asarray(parse(source, ("G", "V", "Y", "YS"))({**ENV, "Y": Y, "YS": YS}))
    assert np.array_equal(value, np.asarray(reference)), source


def test_integers_that_are_not_an_index_stay_numbers() -> None:
    # where(c, 1, 0) gives integers too: numbers, as they always were
    value = parse("2.0 * where(G > 0, 1, 0) + exp(where(G > 0, 1, 0))", ("G",))(ENV)
    assert np.allclose(value, 2.0 * (G > 0) + np.exp((G > 0).astype(float)))


@pytest.mark.parametrize(("source", "message"), [
    ("2.0 * Y", "an index (integers) cannot be used as a number in '*'"),
    ("G + Y", "an index (integers) cannot be used as a number in '+'"),
    ("Y / 2", "an index (integers) cannot be used as a number in '/'"),
    ("exp(Y)", "exp expects numbers, got an index (integers): index with it instead"),
    ("G[Y + 1, 0]", "index 3 is out of range for axis 0 of size 3"),
    ("G[YS, arange(2)]", "vectors of indices are paired entry by entry and must have one length, got 3 and 2"),
    ("argmax(G)", "argmax of a matrix needs axis=0 or axis=1, got shape (3,3)"),
    ("2.0 * arange(3)", "an index (integers) cannot be used as a number in '*'"),
    ("G[0:YS, 0]", "a slice's ends must be single integers, got 3 of them"),
])
def test_an_index_used_as_a_number_is_an_error(source: str, message: str) -> None:
    from gradcheck.errors import EvaluationError

    with pytest.raises(EvaluationError, match="^" + re.escape(message)):
        parse(source, ("G", "V", "Y", "YS"))({**ENV, "Y": Y, "YS": YS})


def test_a_matrix_of_indices_is_not_a_position() -> None:
    from gradcheck.errors import EvaluationError

    with pytest.raises(EvaluationError, match=r"^an index must be an integer, got an array of shape \(2,2\)"):
        parse("G[Y, 0]", ("G", "Y"))({**ENV, "Y": np.zeros((2, 2), dtype=int).view(Labels)})


def test_stacks_of_matrices_take_the_matrix_functions_matrix_by_matrix() -> None:
    from gradcheck.functions import FUNCTIONS, transposed

    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4, 4)) + 4 * np.eye(4)
    assert np.allclose(FUNCTIONS["inv"].fn(x) @ x, np.eye(4))
    assert np.allclose(FUNCTIONS["det"].fn(x), [np.linalg.det(m) for m in x])
    assert np.allclose(FUNCTIONS["logdet"].fn(x), [np.log(abs(np.linalg.det(m))) for m in x])
    assert np.allclose(FUNCTIONS["trace"].fn(x), [np.trace(m) for m in x])
    b = rng.standard_normal((3, 4, 2))
    assert np.allclose(x @ FUNCTIONS["solve"].fn(x, b), b)
    assert transposed(x).shape == (3, 4, 4) and np.allclose(transposed(x)[1], x[1].T)
    assert transposed(b).shape == (3, 2, 4)
    with pytest.raises(EvalError, match="inv expects a square matrix or a stack of them, got shape"):
        FUNCTIONS["inv"].fn(b)
    with pytest.raises(EvalError, match="inv expects a square matrix, got shape"):
        FUNCTIONS["inv"].fn(b[0])
    with pytest.raises(EvalError, match="solve shape mismatch"):
        FUNCTIONS["solve"].fn(x, rng.standard_normal((3, 2, 4)))


def test_concat_reshape_and_the_lu_factors() -> None:
    from gradcheck.functions import FUNCTIONS

    a, b = np.arange(6.0).reshape(2, 3), np.arange(4.0).reshape(2, 2)
    assert np.array_equal(FUNCTIONS["concat"].fn(a, b, axis=1), np.hstack([a, b]))
    assert np.array_equal(FUNCTIONS["concat"].fn(a, a), np.vstack([a, a]))
    with pytest.raises(EvalError, match=r"concat along axis 0 needs the other dimensions equal"):
        FUNCTIONS["concat"].fn(a, b)
    x = np.arange(6.0).reshape(3, 2)
    assert np.array_equal(FUNCTIONS["reshape"].fn(x, 2, 3), FUNCTIONS["unvec"].fn(FUNCTIONS["vec"].fn(x), 2))
    with pytest.raises(EvalError, match="reshape of 6 entries"):
        FUNCTIONS["reshape"].fn(x, 4, 2)
    m = np.random.default_rng(0).standard_normal((4, 4))
    p, lower, upper = (FUNCTIONS[f].fn(m) for f in ("lup", "lul", "luu"))
    assert np.allclose(p @ lower @ upper, m) and np.allclose(np.diag(lower), 1)
    assert np.allclose(lower, np.tril(lower)) and np.allclose(upper, np.triu(upper))
    with pytest.raises(EvalError, match="lul: singular matrix"):
        FUNCTIONS["lul"].fn(np.zeros((3, 3)))


def test_funm_is_a_spectral_function_named_by_its_scalar_function() -> None:
    from gradcheck.catalogue import load_text
    from gradcheck.checker import Options, check_identity
    from gradcheck.errors import CatalogueError
    from gradcheck.verdict import Status

    text = """\
format: 6
name: f
dims: {n: 4}
inputs:
  X: {shape: [n, n], kind: spd, perturb: symmetric}
function: trace(funm(X, log)) + trace(funm(X, exp))
claims:
  - {equals: 'logdet(X) + trace(expm(X))'}
  - {wrt: X, layout: denominator, derivative: 'inv(X) + funm(X, exp)'}
  - {wrt: X, layout: denominator, derivative: 'funm(X, exp)'}
"""
    assert [r.status for r in check_identity(load_text(text, "f.yaml"), Options())] == \
        [Status.PASS, Status.PASS, Status.FAIL]
    with pytest.raises(CatalogueError, match="funm's second argument is the name of a scalar function, one of exp"):
        load_text(text.replace("funm(X, log)", "funm(X, logm)"), "f.yaml")
    with pytest.raises(CatalogueError, match="funm needs format 6"):
        load_text(text.replace("format: 6", "format: 5"), "f.yaml")

"""LaTeX in: every construct of docs/format.md's table, translated, and every refusal."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gradcheck.catalogue import load_text
from gradcheck.errors import CatalogueError
from gradcheck.latex import Shape, TexError, translate
from gradcheck.verdict import Status

SHAPES: dict[str, Shape] = {
    "n": (), "m": (), "h": (), "X": ("n", "n"), "dX": ("n", "n"), "A": ("n", "n"), "B": ("n", "n"),
    "Y": ("n", "n"), "dY": ("n", "n"), "x": ("n", 1), "dx": ("n", 1), "y": ("n", 1), "z": ("n", 1),
    "W": ("m", "n"), "dW": ("m", "n"), "b": ("m", 1), "W1": ("h", "n"), "dW1": ("h", "n"), "lambda": (),
    "C": None,
}


@pytest.mark.parametrize(("tex", "python"), [
    (r"\mathrm{tr}(X^{-1}dX)", "trace(inv(X) @ dX)"),
    (r"\operatorname{tr}(\mathbf{X}^{-1} d\mathbf{X})", "trace(inv(X) @ dX)"),
    (r"\text{tr}(A X B)", "trace(A @ X @ B)"),
    (r"\mathrm{Tr}\left(AXB\right)", "trace(A @ X @ B)"),
    (r"X^{-T}", "inv(X).T"),
    (r"\mathbf{X}^{-\top}", "inv(X).T"),
    (r"\boldsymbol{X}^\top \bm{A}", "X.T @ A"),
    (r"X^T + X^{\top} + X^\intercal", "X.T + X.T + X.T"),
    (r"X^H", "X.T"),
    (r"\ln|X|", "logdet(X)"),
    (r"|A||B| - |A|\,|B| + |A|^{-1}|B|", "det(A) * det(B) - (det(A) * det(B)) + 1 / det(A) * det(B)"),
    (r"\vert A \vert + \lvert B \rvert", "det(A) + det(B)"),
    (r"\log\left|X\right|", "logdet(X)"),
    (r"|X|\,\mathrm{tr}(X^{-1}dX)", "det(X) * trace(inv(X) @ dX)"),
    (r"\det X + \det(X)", "det(X) + det(X)"),
    (r"-X^{-1}(dX)X^{-1}", "-inv(X) @ dX @ inv(X)"),
    (r"2x^\top dx", "2 * x.T @ dx"),
    (r"(dx)^\top x + x^\top dx", "dx.T @ x + x.T @ dx"),
    (r"x^\top (y \circ z) - (x \odot y)^\top z", "x.T @ (y * z) - ((x * y).T @ z)"),
    (r"\|Wx+b\|^2", "norm(W @ x + b) ** 2"),
    (r"\lVert x \rVert_2 + \|X\|_F + \|X\|_2", "norm(x) + norm(X) + norm(X, 2)"),
    (r"2x(Wx+b)^\top", "2 * x @ (W @ x + b).T"),
    (r"\mathrm{tr}(2x(Wx+b)^\top dW)", "trace(2 * x @ (W @ x + b).T @ dW)"),
    (r"x^\top y\, z", "x.T @ y * z"),
    (r"A \cdot B + A \times B", "A @ B + A @ B"),
    (r"\frac{1}{2}\|x\|^2", "1 / 2 * (norm(x) ** 2)"),
    (r"\dfrac{x}{\lambda}", "x / lambda"),
    (r"\exp(x) \circ \sin(x) + \cos(x) + \tanh(x)", "exp(x) * sin(x) + cos(x) + tanh(x)"),
    (r"\sqrt{x^\top x}", "sqrt(x.T @ x)"),
    (r"\sigma(\mathbf{W}_1 x)", "sigmoid(W1 @ x)"),
    (r"\sigma'(W_1x)", "(sigmoid(W1 @ x) * (1 - sigmoid(W1 @ x)))"),
    (r"X + \mathbf{I}", "X + eye(n)"),
    (r"\mathbf{I}_n - X", "eye(n) - X"),
    (r"\mathbf{I} X", "eye(n) @ X"),
    (r"\mathbf{1}^\top x", "ones(1, n) @ x"),
    (r"W \mathbf{1}", "W @ ones(n, 1)"),
    (r"\sum_{i,j} X_{ij}^2", "sum(X ** 2)"),
    (r"\sum_{i} x_i y_i + 1", "sum(x * y) + 1"),
    (r"X \otimes Y", "kron(X, Y)"),
    (r"\operatorname{vec}(X)^\top \operatorname{vec}(dX)", "vec(X).T @ vec(dX)"),
    (r"\mathrm{diag}(x)", "diag(x)"),
    (r"\mathrm{adj}(X)", "adj(X)"),
    (r"X^2 + X^{3}", "matrix_power(X, 2) + matrix_power(X, 3)"),
    (r"X^{1/2} + X^{\frac{1}{2}}", "powm(X, 1 / 2) + powm(X, 1 / 2)"),
    (r"\lambda^2 x", "lambda ** 2 * x"),
    (r"-t^\top \log \mathrm{softmax}(y)".replace("t", "z", 1), "-z.T @ log(softmax(y))"),
    (r"\mathrm{d}X + \operatorname{d}X", "dX + dX"),
    (r"dW_1 + (dW_{1}) + d\mathbf{W}_1", "dW1 + dW1 + dW1"),
    (r"C X", "C @ X"),
    # d(...) of an expression (format 5); d(X) is the direction dX
    (r"d(\mathbf{x}^\top) \mathbf{x} + \mathbf{x}^\top d\mathbf{x}", "d(x.T) @ x + x.T @ dx"),
    (r"\text{tr}(d(\mathbf{A}\mathbf{X}\mathbf{B}))", "trace(d(A @ X @ B))"),
    (r"d(|X|) + d|X|", "d(det(X)) + d(det(X))"),
    (r"d(X^{-1})X + X^{-1}dX", "d(inv(X)) @ X + inv(X) @ dX"),
    (r"\mathrm{d}\left(X^{-1}\right) + d(X)", "d(inv(X)) + dX"),
    (r"d\|Wx + b\|^2 + d\|x\|_2^2 + d(\|x\|)^2", "d(norm(W @ x + b) ** 2) + d(norm(x) ** 2) + d(norm(x)) ** 2"),
    (r"d\mathbf{X}^\top", "dX.T"),
])
def test_constructs(tex: str, python: str) -> None:
    assert translate(tex, SHAPES)[0] == python


def test_shapes_follow_the_translation() -> None:
    assert translate(r"x^\top A x", SHAPES)[1] == (1, 1)
    assert translate(r"W X", SHAPES)[1] == ("m", "n")
    assert translate(r"X \otimes W", SHAPES)[1] == ("n * m", "n * n")
    assert translate(r"\operatorname{vec}(W)", SHAPES)[1] == ("m * n", 1)
    assert translate(r"\mathrm{tr}(X)", SHAPES)[1] == ()


@pytest.mark.parametrize(("tex", "message"), [
    ("", "empty LaTeX"),
    (r"\mathrm{tr}(X^{-1}dX", "unbalanced '(': never closed at column 12 ('(X^{-1}dX')"),
    (r"x)", "unbalanced ')': nothing open to close at column 2"),
    (r"\mathcal{L}", r"cannot read this LaTeX; instead of \mathcal use a plain or bold letter at column 1"),
    (r"\partial X", r"instead of \partial use a differential dX"),
    (r"\mathrm{foo}(X)", "unknown function 'foo': gradcheck reads"),
    (r"Q X", "'Q' is not an input, constant, let or dimension of this identity (known: A, B, C, W, W1,"),
    (r"\frac{x}{X}", r"\frac needs a scalar denominator: write a matrix's inverse as X^{-1} at column 1 ('\frac{x}{X}')"),
    (r"x / X", "division by a non-scalar"),
    (r"|x|", r"|...| is a determinant of a square matrix or the absolute value of a scalar, and it has shape "
             r"['n', 1]: write \det(...) or \operatorname{abs}(...) at column 1 ('|x|')"),
    (r"|C|", "and its shape is not known"),
    (r"x^2", r"a power of a non-square array: write x^\top x for a vector's square norm"),
    (r"W^{-1}", "the inverse of a ['m', 'n'] array: write X^{-1} for square X only"),
    (r"\mathbf{I}", r"cannot tell the size of \mathbf{I} here: write \mathbf{I}_n with its size n"),
    (r"\mathbf{I}_q", "'q' is not a dimension of this identity"),
    (r"\|X\|_1", r"unsupported norm subscript '1': use \|x\|, \|x\|_2 or \|X\|_F"),
    (r"\exp'(x)", r"a prime is read on \sigma only"),
    (r"dZ", "'Z' is not an input"),
])
def test_refusals_say_what_to_write(tex: str, message: str) -> None:
    with pytest.raises(TexError) as info:
        translate(tex, SHAPES)
    assert message in str(info.value)


@pytest.mark.parametrize(("tex", "message"), [
    ("X+" * 1001 + "X", "LaTeX of 2,003 characters, over the limit of 2,000"),
    ("|" * 17 + "X" + "|" * 17, "bars nested more than 16 deep at column 17"),
    ("(" * 49 + "X" + ")" * 49, "brackets nested more than 48 deep at column 49"),
    ("X " * 900, "LaTeX nested too deeply to read: split it with lets"),
    ("-" * 1000 + "X", "LaTeX nested too deeply to read: split it with lets"),
])
def test_limits_hold_against_hostile_latex(tex: str, message: str) -> None:
    # each of these is refused within a second, not minutes: the Earley parser's work on
    # bare bars grows steeply (|X| 80 times took seconds), and a deep tree would overflow
    # the stack. CPU time, bounded loosely: the suite runs under coverage on busy machines
    import time

    start = time.process_time()
    with pytest.raises(TexError) as info:
        translate(tex, SHAPES)
    assert message in str(info.value) and time.process_time() - start < 10


def test_within_the_limits_a_long_expression_is_read() -> None:
    assert translate(r"\left|X\right|" * 20, SHAPES)[0].count("det(X)") == 20
    assert translate("|X|" * 8, SHAPES)[0].count("det(X)") == 8


def test_d_of_an_expression_needs_directions() -> None:
    with pytest.raises(TexError, match=r"d\(...\) is a differential: allowed only in a claim with directions"):
        translate(r"d(x^\top x)", {"x": ("n", 1), "n": ()})
    # a scalar named d, where nothing moves, multiplies
    assert translate(r"d(x + x)", {"x": ("n", 1), "n": (), "d": ()})[0] == "d * (x + x)"


NOTE_DERIVATION = r"""
format: 5
name: xtx
dims: {n: 4}
inputs:
  x: {shape: [n, 1]}
function: {tex: '\mathbf{x}^\top \mathbf{x}'}
claims:
  - derivation:
      - {step: {tex: 'd(\mathbf{x}^\top) \mathbf{x} + \mathbf{x}^\top d\mathbf{x}'}, by: "eq. (4)"}
      - {step: {tex: '(d\mathbf{x})^\top \mathbf{x} + \mathbf{x}^\top d\mathbf{x}'}, by: "eq. (7)"}
      - {tex: '2\mathbf{x}^\top d\mathbf{x}'}
    read_off: {wrt: x, layout: numerator, derivative: {tex: '2\mathbf{x}^\top'}}
"""


def test_a_derivation_from_d_of_an_expression_is_checked_step_by_step() -> None:
    from gradcheck.checker import check_identity
    from gradcheck.options import Options

    identity = load_text(NOTE_DERIVATION, "xtx.yaml")
    assert identity.claims[0].expr.source == "d(x.T) @ x + x.T @ dx"
    [result] = check_identity(identity, Options(trials=2))
    assert result.status is Status.PASS, result.message
    # a slip in the first line is found there: d(x^T) x + x^T d(x^T)... written as d(x) x^T
    wrong = NOTE_DERIVATION.replace(r"'d(\mathbf{x}^\top) \mathbf{x} +", r"'2 d(\mathbf{x}^\top) \mathbf{x} +")
    [result] = check_identity(load_text(wrong, "xtx.yaml"), Options(trials=2))
    assert result.status is Status.FAIL
    assert result.hint.startswith("step 1: df = 2 * d(x.T) @ x + x.T @ dx (by eq. (4)) does not hold"), result.hint
    with pytest.raises(CatalogueError, match=r"d\(...\) of an expression needs format 5 in claim 1 step 1"):
        load_text(NOTE_DERIVATION.replace("format: 5", "format: 4"), "xtx.yaml")


def test_a_direction_not_of_this_claim() -> None:
    with pytest.raises(TexError, match="dW is not a direction of this claim"):
        translate(r"\mathrm{tr}(dW)", {"W": ("m", "n"), "m": (), "n": ()})


# -- in identity files -----------------------------------------------------------------

LOGDET = r"""
format: 4
name: logdet-tex
dims: {n: 3}
inputs:
  X: {shape: [n, n], kind: invertible}
let:
  C: {tex: 'X^{-1}'}
function: {tex: '\ln|\mathbf{X}|'}
claims:
  - differential: {tex: '\operatorname{tr}(\mathbf{X}^{-1} d\mathbf{X})'}
  - {wrt: X, layout: denominator, derivative: {tex: '\mathbf{X}^{-\top}'}}
  - {wrt: X, layout: denominator, derivative: {tex: 'C'}, expect: fail, reason: the layout slip}
  - {wrt: X, cotangent: G, vjp: {tex: 'G C^\top'}}
  - equals: [{tex: '\ln|X|'}, 'logdet(X)', {tex: '-\ln|C|'}]
  - derivation:
      - {step: {tex: '|X|^{-1}|X|\,\mathrm{tr}(X^{-1}dX)'}, by: "eq. (11)"}
      - {tex: '\sum_{i,j} (C^\top)_{ij} (dX)_{ij}'}
    read_off: {wrt: X, layout: numerator, derivative: {tex: 'X^{-1}'}}
"""


def test_an_identity_written_in_latex_is_checked() -> None:
    from gradcheck.checker import check_identity
    from gradcheck.options import Options

    identity = load_text(LOGDET, "logdet.yaml")
    assert identity.function.source == "logdet(X)" and identity.function.tex == r"\ln|\mathbf{X}|"
    assert identity.lets[0][1].source == "inv(X)"
    results = check_identity(identity, Options(trials=2))
    assert [r.status for r in results] == [Status.PASS, Status.PASS, Status.XFAIL, Status.PASS, Status.PASS,
                                           Status.PASS], [r.message for r in results]


def test_a_cotangent_has_the_shape_of_f() -> None:
    text = (LOGDET.replace(r"function: {tex: '\ln|\mathbf{X}|'}", r"function: {tex: 'X^{-1}'}")
            .split("claims:")[0] + "claims:\n  - {wrt: X, cotangent: G, vjp: {tex: '-C^\\top G C^\\top'}}\n")
    identity = load_text(text, "inverse.yaml")
    assert identity.claims[0].expr.source == "-C.T @ G @ C.T"


def test_the_shape_of_a_python_let_is_not_known() -> None:
    text = LOGDET.replace("C: {tex: 'X^{-1}'}", "C: inv(X)").replace("{tex: '-\\ln|C|'}", "{tex: '-\\ln|X^{-1}|'}")
    load_text(text, "f.yaml")
    with pytest.raises(CatalogueError, match=r"its shape is not known: write \\det"):
        load_text(text.replace("{tex: '-\\ln|X^{-1}|'}", "{tex: '-\\ln|C|'}"), "f.yaml")


@pytest.mark.parametrize(("change", "message"), [
    (("format: 4", "format: 3"), "LaTeX ({tex: ...}) needs format 4 in let C of f.yaml, line 8: add 'format: 4'"),
    (("'\\mathbf{X}^{-\\top}'", "'\\mathbf{X}^{-\\top'"),
     "LaTeX: unbalanced '{': never closed at column 12 ('{-\\top') in claim 2 of f.yaml, line 12"),
    (("'G C^\\top'", "'G D^\\top'"), "LaTeX: 'D' is not an input, constant, let or dimension of this identity"),
    (("{tex: 'C'}", "{tex: 'C', by: x}"), "expected an expression, got a mapping in claims.2.derivative of f.yaml"),
])
def test_errors_name_the_file_key_line_and_column(change: tuple[str, str], message: str) -> None:
    with pytest.raises(CatalogueError) as info:
        load_text(LOGDET.replace(*change), "f.yaml")
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_check_takes_latex_on_the_command_line(cli_invoke: Any) -> None:
    result = cli_invoke("check", "--tex", r"\ln|X|", "--input", "X=3x3:invertible",
                 "--differential", r"\operatorname{tr}(X^{-1} dX)", "--claim", r"X^{-1}", "--layout", "denominator")
    assert result.exit_code == 1
    assert "as written: \\operatorname{tr}(X^{-1} dX)" in result.output
    assert "diagnosis: matches the claim transposed: it holds in layout numerator" in result.output
    bad = cli_invoke("check", "--tex", r"\ln|X|", "--input", "X=3x3:invertible", "--differential", r"\mathrm{tr}(Q dX)")
    assert bad.exit_code == 2 and "'Q' is not an input" in bad.output


def test_a_worker_process_keeps_the_latex(tmp_path: Path) -> None:
    import pickle

    identity = load_text(LOGDET, "logdet.yaml")
    copy = pickle.loads(pickle.dumps(identity.claims[1].expr))
    assert copy.tex == r"\mathbf{X}^{-\top}" and copy.source == "inv(X).T"
    assert np.isclose(copy({"X": np.eye(2) * 2}), np.eye(2) / 2).all()

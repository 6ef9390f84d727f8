"""Complex values (format 6): kinds, functions, conventions and the claim forms, through
the loader and the checker as a catalogue file is checked."""

from __future__ import annotations

import numpy as np
import pytest

from gradcheck.catalogue import load_text
from gradcheck.checker import Options, check_identity
from gradcheck.errors import CatalogueError
from gradcheck.verdict import ClaimResult, Status


def run(text: str, **options: object) -> list[ClaimResult]:
    return check_identity(load_text(text, "c.yaml"), Options(**options))  # type: ignore[arg-type]


LEAST_SQUARES = """\
format: 6
name: c
dims: {n: 3, m: 4}
inputs:
  A: {shape: [m, n], kind: complex}
constants:
  x: {shape: [n, 1], kind: complex}
  b: {shape: [m, 1], kind: complex}
let:
  r: A @ x - b
function: real(r.H @ r)
claims:
"""


@pytest.mark.parametrize(("claim", "status", "hint"), [
    ("{wrt: A, layout: denominator, convention: pytorch, derivative: 2 * r @ x.H}", Status.PASS, ""),
    ("{wrt: A, layout: denominator, convention: jax, derivative: 2 * conj(r) @ x.T}", Status.PASS, ""),
    ("{wrt: A, layout: denominator, convention: wirtinger, derivative: conj(r) @ x.T}", Status.PASS, ""),
    ("{wrt: A, layout: denominator, convention: conjugate, derivative: r @ x.H}", Status.PASS, ""),
    ("{wrt: A, layout: numerator, convention: pytorch, derivative: 2 * conj(x) @ r.T}", Status.PASS, ""),
    ("{wrt: A, layout: denominator, convention: pytorch, derivative: 2 * conj(r) @ x.T}", Status.FAIL,
     "matches the claim read in convention jax, not pytorch"),
    ("{wrt: A, layout: denominator, convention: wirtinger, derivative: 2 * conj(r) @ x.T}", Status.FAIL,
     "matches the claim read in convention jax, not wirtinger"),
    ("{wrt: A, layout: denominator, convention: wirtinger, derivative: 3 * conj(r) @ x.T}", Status.FAIL,
     "off by a factor: numerical = 1/3 x claim"),
    ("{wrt: A, layout: denominator, convention: pytorch, derivative: 2 * real(r @ x.H)}", Status.FAIL, ""),
    ("{differential: 2 * real(r.H @ dA @ x)}", Status.PASS, ""),
    ("{differential: 2 * real(r.H @ conj(dA) @ x)}", Status.FAIL, ""),
    ("{wrt: A, cotangent: g, convention: pytorch, vjp: 2 * g * r @ x.H}", Status.PASS, ""),
    ("{wrt: A, cotangent: g, convention: jax, vjp: 2 * g * conj(r) @ x.T}", Status.PASS, ""),
    ("{wrt: A, cotangent: g, convention: jax, vjp: 2 * g * r @ x.H}", Status.FAIL, "matches the claim conjugated"),
    ("{equals: 'real(sum(conj(r) * r))'}", Status.PASS, ""),
    ("{equals: 'real(sum(r * r))'}", Status.FAIL, ""),
])
def test_a_real_f_of_a_complex_matrix(claim: str, status: Status, hint: str) -> None:
    [result] = run(LEAST_SQUARES + f"  - {claim}\n")
    assert result.status is status, (result.message, result.hint)
    if hint:
        assert result.hint == hint


HOLOMORPHIC = """\
format: 6
name: h
dims: {n: 3}
inputs:
  Z: {shape: [n, n], kind: complex}
function: inv(Z)
claims:
"""


@pytest.mark.parametrize(("claim", "status"), [
    ("{differential: -inv(Z) @ dZ @ inv(Z)}", Status.PASS),
    ("{wrt: Z, tangent: V, jvp: -inv(Z) @ V @ inv(Z)}", Status.PASS),
    ("{wrt: Z, cotangent: G, convention: pytorch, vjp: -inv(Z).H @ G @ inv(Z).H}", Status.PASS),
    ("{wrt: Z, cotangent: G, convention: jax, vjp: -inv(Z).T @ G @ inv(Z).T}", Status.PASS),
    ("{wrt: Z, cotangent: G, convention: pytorch, vjp: -inv(Z).T @ G @ inv(Z).T}", Status.FAIL),
    ("{differential: -inv(Z) @ conj(dZ) @ inv(Z)}", Status.FAIL),
    ("{differential: -inv(Z) @ dZ.H @ inv(Z)}", Status.FAIL),
    ("{differential: -inv(Z) @ real(dZ) @ inv(Z)}", Status.FAIL),  # the imaginary part of dZ matters
])
def test_a_complex_valued_f_is_judged_in_both_parts(claim: str, status: Status) -> None:
    [result] = run(HOLOMORPHIC + f"  - {claim}\n")
    assert result.status is status, (result.message, result.hint)


def test_a_real_input_of_a_complex_f_pairs_by_the_vjps_convention() -> None:
    text = """\
format: 6
name: r
dims: {n: 3}
inputs:
  A: {shape: [n, n], kind: invertible}
constants:
  B: {shape: [n, n]}
let:
  M: inv(A + 1j * B)
function: M
claims:
  - {wrt: A, cotangent: G, vjp: 'real(-M.H @ G @ M.H)'}
  - {wrt: A, cotangent: G, convention: pytorch, vjp: 'real(-M.H @ G @ M.H)'}
  - {wrt: A, cotangent: G, convention: jax, vjp: 'real(-M.T @ G @ M.T)'}
  - {wrt: A, cotangent: G, convention: jax, vjp: 'real(-M.H @ G @ M.H)'}
"""
    assert [r.status for r in run(text)] == [Status.PASS] * 3 + [Status.FAIL]


@pytest.mark.parametrize("method", ["central", "richardson", "auto", "complex"])
def test_every_method_works_and_the_complex_step_is_not_taken(method: str) -> None:
    results = run(HOLOMORPHIC + "  - {differential: -inv(Z) @ dZ @ inv(Z)}\n", method=method)
    assert results[0].status is Status.PASS
    assert results[0].method == ("central" if method in ("auto", "complex") else method)
    if method == "complex":
        assert any("complex inputs" in n for n in results[0].notes)


def test_logdet_of_a_complex_matrix_is_log_abs_det() -> None:
    text = """\
format: 6
name: l
dims: {n: 3}
inputs:
  Z: {shape: [n, n], kind: complex}
  H: {shape: [n, n], kind: hpd}
  U: {shape: [n, n], kind: unitary}
function: logdet(Z) + logdet(H) + logdet(U)
claims:
  - {equals: 'log(abs(det(Z))) + log(real(det(H)))'}
  - {wrt: Z, layout: denominator, convention: pytorch, derivative: inv(Z).H}
  - {wrt: H, layout: denominator, convention: conjugate, derivative: inv(H).H / 2}
  - {wrt: U, layout: denominator, convention: pytorch, derivative: inv(U).H}
"""
    assert [r.status for r in run(text)] == [Status.PASS] * 4


def test_decompositions_of_hermitian_matrices() -> None:
    text = """\
format: 6
name: e
dims: {n: 3}
inputs:
  H: {shape: [n, n], kind: hermitian}
  P: {shape: [n, n], kind: hpd}
let:
  V: eigvecsh(H)
  L: chol(P)
function: sum(eigvalsh(H)) + real(trace(L))
claims:
  - {equals: 'real(trace(H)) + real(trace(L))'}
  - {differential: 'real(trace(dH)) + real(trace(L @ (tril(inv(L) @ dP @ inv(L).H) - 0.5 * eye(n) * (inv(L) @ dP @ inv(L).H))) )'}
"""
    results = run(text)
    assert [r.status for r in results] == [Status.PASS, Status.PASS], [(r.message, r.hint) for r in results]


def test_decompositions_follow_their_phase_conventions() -> None:
    from gradcheck.functions import FUNCTIONS

    rng = np.random.default_rng(0)
    z = rng.standard_normal((4, 3)) + 1j * rng.standard_normal((4, 3))
    u, s, v = (FUNCTIONS[f].fn(z) for f in ("svdu", "svdvals", "svdv"))
    assert np.allclose(u * s.reshape(-1) @ v.conj().T, z)
    top = np.abs(u).argmax(axis=0)
    assert np.allclose(u[top, range(3)].imag, 0) and np.all(u[top, range(3)].real > 0)
    q, r = FUNCTIONS["qrq"].fn(z), FUNCTIONS["qrr"].fn(z)
    assert np.allclose(q @ r, z) and np.allclose(np.diag(r).imag, 0) and np.all(np.diag(r).real > 0)
    h = z[:3] + z[:3].conj().T
    v = FUNCTIONS["eigvecsh"].fn(h)
    assert np.allclose(h @ v, v * FUNCTIONS["eigvalsh"].fn(h).reshape(-1))


@pytest.mark.parametrize(("function", "message"), [
    ("sum(maximum(real(Z), imag(Z))) + max(Z)", "max orders numbers, and complex numbers have no order"),
    ("sum(where(Z > 0, 1, 0))", "a comparison orders numbers, and complex numbers have no order"),
    ("sum(relu(Z))", "relu orders numbers"),
    ("real(sum(sign(Z)))", "sign of a complex number is ambiguous: write Z / abs(Z) for its phase"),
    ("sum(step(Z))", "step orders numbers"),
])
def test_what_orders_numbers_refuses_complex_ones(function: str, message: str) -> None:
    text = f"format: 6\nname: o\ninputs:\n  Z: {{shape: [3], kind: complex}}\nfunction: {function}\n" \
           "claims:\n  - {differential: '0'}\n"
    [result] = run(text)
    assert result.status is Status.ERROR and message in result.message, result.message


def test_a_derivative_of_a_complex_f_is_an_error_that_says_why() -> None:
    [result] = run(HOLOMORPHIC.replace("function: inv(Z)", "function: trace(Z)")
                   + "  - {wrt: Z, layout: denominator, convention: pytorch, derivative: eye(n)}\n")
    assert result.status is Status.ERROR
    assert "f is complex: a derivative with respect to complex Z needs a real f" in result.message


@pytest.mark.parametrize(("text", "message"), [
    ("format: 5\nname: a\ninputs:\n  Z: {shape: [2], kind: complex}\nfunction: sum(abs(Z))\n"
     "claims:\n  - {differential: '0'}\n", "kind 'complex' needs format 6 in inputs.Z.kind of a.yaml, line 4"),
    ("format: 5\nname: a\ninputs:\n  X: {shape: [2]}\nfunction: sum(X)\nclaims:\n  - {equals: 'real(sum(X))'}\n",
     "real needs format 6 in claim 1"),
    ("format: 5\nname: a\ninputs:\n  X: {shape: [2, 2]}\nfunction: sum(X)\nclaims:\n  - {equals: 'trace(X.H)'}\n",
     "the conjugate transpose (.H) needs format 6 in claim 1"),
    ("format: 5\nname: a\ninputs:\n  X: {shape: [2]}\nfunction: sum(X)\nclaims:\n  - {equals: 'sum(X) + 0j'}\n",
     "an imaginary number (2j) needs format 6 in claim 1"),
    ("format: 6\nname: a\ninputs:\n  Z: {shape: [2], kind: complex}\nfunction: sum(abs(Z))\n"
     "claims:\n  - {wrt: Z, layout: denominator, derivative: Z / abs(Z)}\n",
     "a derivative with respect to complex Z needs 'convention' (pytorch, jax, wirtinger, conjugate) in claim 1"),
    ("format: 6\nname: a\ninputs:\n  Z: {shape: [2], kind: complex}\nfunction: sum(abs(Z))\n"
     "claims:\n  - {wrt: Z, layout: denominator, convention: torch, derivative: Z / abs(Z)}\n",
     "unknown convention 'torch' for a derivative: expected one of pytorch, jax, wirtinger, conjugate"),
    ("format: 6\nname: a\ninputs:\n  Z: {shape: [2], kind: complex}\nfunction: Z\n"
     "claims:\n  - {wrt: Z, cotangent: G, convention: wirtinger, vjp: G}\n",
     "unknown convention 'wirtinger' for a vjp: expected one of pytorch, jax"),
    ("format: 6\nname: a\ninputs:\n  X: {shape: [2]}\nfunction: sum(X)\n"
     "claims:\n  - {wrt: X, layout: denominator, convention: pytorch, derivative: ones(2)}\n",
     "'convention' applies to a vjp, or to a derivative with respect to a complex input"),
    ("format: 6\nname: a\ninputs:\n  Z: {shape: [2], kind: complex}\nfunction: sum(abs(Z))\n"
     "claims:\n  - {differential: 'd(sum(abs(Z)))'}\n",
     "d(...) is computed by a complex step, which complex inputs rule out"),
    ("format: 6\nname: a\ninputs:\n  Z: {shape: [2], kind: complex}\nfunction: sum(abs(Z))\n"
     "claims:\n  - {hessian: 'eye(2)', wrt: Z}\n", "a hessian claim on a complex input is not supported"),
    ("format: 6\nname: a\ninputs:\n  Z: {shape: [2, 2], kind: hermitian, perturb: symmetric}\nfunction: sum(abs(Z))\n"
     "claims:\n  - {differential: '0'}\n", "'perturb' does not apply to kind hermitian"),
])
def test_misuse_is_a_one_line_error_naming_file_and_key(text: str, message: str) -> None:
    with pytest.raises(CatalogueError) as caught:
        load_text(text, "a.yaml")
    assert message in str(caught.value), str(caught.value)
    assert "\n" not in str(caught.value)

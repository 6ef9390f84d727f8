"""Diagnoses of failing readings built by hand, and the slips tried at a point."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from gradcheck.catalogue import Claim
from gradcheck.diagnosis import derivative_slips, diagnose, diagnosed, matrix_slips, value_slips, worst_view
from gradcheck.expr import parse
from gradcheck.options import DEFAULT_RTOL
from gradcheck.reading import Reading
from gradcheck.verdict import Status, judge

RTOL = DEFAULT_RTOL
DENOMINATOR = Claim(1, "derivative", parse("A", ("A",)), wrt="X", layout="denominator")
NUMERATOR = replace(DENOMINATOR, layout="numerator")
A = np.array([[1.0, 2.0], [3.0, 4.0]])


def vec(a: np.ndarray) -> np.ndarray:
    return a.reshape(-1, order="F")


def reading(claimed: np.ndarray, numeric: np.ndarray, **fields: object) -> Reading:
    return Reading(0, "full", vec(claimed), vec(numeric), np.zeros(1), 1, rounding=np.zeros(1),
                   **fields)  # type: ignore[arg-type]


def with_slips(claimed: np.ndarray, numeric: np.ndarray, **fields: object) -> Reading:
    alternatives = {"negated": (-vec(claimed), vec(numeric))}
    alternatives.update((name, (vec(m), vec(numeric))) for name, m in matrix_slips(claimed).items())
    return reading(claimed, numeric, alternatives=alternatives, display=(claimed, numeric), **fields)


def test_a_transposed_claim_is_a_layout_slip() -> None:
    hint, details = diagnose(DENOMINATOR, with_slips(A, A.T), RTOL)
    assert hint == "matches the claim transposed: it holds in layout numerator"
    assert diagnose(NUMERATOR, with_slips(A, A.T), RTOL)[0].endswith("it holds in layout denominator")
    assert details == ("largest difference at entry (1,2): claimed 2, numerical 3",)


def test_a_negated_claim_and_a_symmetrised_one() -> None:
    assert diagnose(DENOMINATOR, with_slips(A, -A), RTOL)[0] == "matches the claim negated"
    assert diagnose(DENOMINATOR, with_slips(A, (A + A.T) / 2), RTOL)[0].startswith("matches the symmetric part")


@pytest.mark.parametrize(("factor", "shown"), [(2.0, "2"), (0.5, "1/2"), (-1 / 3, "-1/3"), (np.pi, "3.14159")])
def test_a_constant_factor_is_named_as_a_small_fraction(factor: float, shown: str) -> None:
    hint, _ = diagnose(DENOMINATOR, reading(A, factor * A), RTOL)
    assert hint == f"off by a factor: numerical = {shown} x claim"


def test_a_slip_and_a_factor_together() -> None:
    hint, _ = diagnose(DENOMINATOR, with_slips(A, 2 * A.T), RTOL)
    assert hint.startswith("matches the claim transposed") and hint.endswith("numerical = 2 x that")


def test_no_simple_slip_says_how_large_the_error_is() -> None:
    hint, details = diagnose(DENOMINATOR, reading(A, A + np.array([[0.0, 1.0], [0.0, 0.0]])), RTOL)
    assert hint.startswith("no simple slip found (relative error")
    assert details == ()  # no display: no entry to point at


def test_the_part_that_fails_most_is_the_one_diagnosed() -> None:
    x, y = reading(A, A, part="the part along dX"), reading(A, 2 * A, part="the part along dY")
    whole = reading(np.concatenate([A, A]), np.concatenate([A, 2 * A]), parts=(x, y))
    assert worst_view(whole, RTOL) is y
    assert diagnose(DENOMINATOR, y, RTOL)[0] == "off by a factor in the part along dY: numerical = 2 x claim"


def test_a_passing_or_unjudged_result_is_left_as_it_is() -> None:
    passed = judge("f", "f.yaml", DENOMINATOR, {}, [reading(A, A)], RTOL)
    assert diagnosed(passed, RTOL) is passed
    failed = judge("f", "f.yaml", DENOMINATOR, {}, [reading(A, A), with_slips(A, -A)], RTOL)
    assert failed.status is Status.FAIL
    assert diagnosed(failed, RTOL).hint == "matches the claim negated"


def test_matrix_slips_are_for_square_matrices_only() -> None:
    assert set(matrix_slips(A)) == {"transposed", "symmetrised", "independent entries"}
    assert matrix_slips(np.ones((2, 3))) == {} and matrix_slips(np.ones((1, 1))) == {}


def test_value_slips_transpose_square_values_only() -> None:
    assert set(value_slips([A], vec(A))) == {"negated", "transposed"}
    assert set(value_slips([np.ones((2, 3))], np.ones(6))) == {"negated"}


def test_a_jacobian_read_row_major_is_one_of_the_slips() -> None:
    from gradcheck.catalogue import load_text
    from gradcheck.point import Point
    from gradcheck.sampling import draw_sample, identity_rng

    identity = load_text("name: t\ninputs: {X: {shape: [2, 3]}}\nfunction: X\n"
                         "claims: [{wrt: X, layout: numerator, derivative: eye(6)}]\n", "t.yaml")
    point = Point(identity, draw_sample(identity, identity.sizes(), identity_rng(0, "t"), 0))
    jac = np.arange(36.0).reshape(6, 6)
    slips = derivative_slips(identity.claims[0], point, jac, "numerator", (2, 3), (2, 3))
    assert "row-major" in slips
    order = np.arange(6).reshape((2, 3), order="C").reshape(-1, order="F")
    assert np.array_equal(slips["row-major"], jac[order][:, order])


def test_a_missing_commutation_matrix_is_named_with_its_side() -> None:
    from gradcheck.catalogue import load_text
    from gradcheck.checker import check_identity

    text = ("format: 2\nname: comm\ndims: {m: 2, n: 3}\ninputs:\n  X: {shape: [m, n]}\n"
            "constants:\n  A: {shape: [n, m]}\nfunction: X @ A\nclaims:\n"
            "  - {wrt: X, layout: numerator, derivative: 'kron(A.T, eye(m))'}\n"
            "  - {wrt: X, layout: numerator, derivative: 'kron(A.T, eye(m)) @ commutation(n, m)'}\n"
            "  - {wrt: X, layout: numerator, derivative: 'commutation(m, m) @ kron(A.T, eye(m))'}\n")
    right, x_side, f_side = check_identity(load_text(text, "comm.yaml"))
    assert right.status is Status.PASS
    assert x_side.hint.startswith("matches the claim with a commutation matrix on the side of the input")
    assert f_side.hint.startswith("matches the claim with a commutation matrix on the side of f")


def test_eigenvectors_signed_another_way_are_named() -> None:
    from gradcheck.catalogue import load_text
    from gradcheck.checker import Options, check_identity

    text = """\
format: 3
name: eig_sign
dims: {n: 3}
inputs:
  A: {shape: [n, n], kind: symmetric, perturb: symmetric}
let:
  V: eigvecsh(A)
  l: eigvalsh(A)
  F: '1 / (l - l.T + eye(n)) - eye(n)'
function: FUNCTION
claims:
  - {wrt: A, tangent: T, jvp: 'V @ ((F.T) * (V.T @ T @ V))'}
"""
    [right] = check_identity(load_text(text.replace("FUNCTION", "V"), "e.yaml"), Options())
    assert right.status is Status.PASS
    # the first row's sign fixed instead of the largest entry's: some columns flip
    [other] = check_identity(load_text(text.replace("FUNCTION", "V * sign(V[0:1, :])"), "e.yaml"), Options(seed=1))
    assert other.status is Status.FAIL
    assert other.hint.startswith("matches with the signs of some columns flipped: an eigen- or singular vector")

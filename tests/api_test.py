"""The Python API, imported from the installed package."""
from __future__ import annotations

import re

import numpy as np
import pytest

import gradcheck
from gradcheck.verdict import ClaimResult, Status

X = np.array([[2.0, 1.0, 0.0], [0.5, 3.0, 1.0], [0.0, 1.0, 4.0]])


def logdet(X: np.ndarray) -> float:
    return float(np.linalg.slogdet(X)[1])


def test_right_gradient_passes_in_both_layouts() -> None:
    result = gradcheck.check(logdet, lambda X: np.linalg.inv(X).T, X)
    assert isinstance(result, ClaimResult)
    assert result.status is Status.PASS and result.error is not None and result.error < 1e-8
    assert gradcheck.check(logdet, np.linalg.inv, X, layout="numerator").status is Status.PASS


def test_layout_slip_is_diagnosed() -> None:
    result = gradcheck.check(logdet, np.linalg.inv, X)
    assert result.status is Status.FAIL
    assert result.hint == "matches the claim transposed: it holds in layout numerator"


def test_factor_and_jacobians() -> None:
    result = gradcheck.check(lambda x: x @ x, lambda x: x, np.arange(1.0, 4.0))
    assert result.hint == "off by a factor: numerical = 2 x claim"
    A = np.arange(6.0).reshape(2, 3)
    assert gradcheck.check(lambda x: A @ x, lambda x: A, np.ones(3), layout="numerator").status is Status.PASS
    assert gradcheck.check(lambda x: A @ x, lambda x: A.T, np.ones(3)).status is Status.PASS


def test_complex_step_when_the_caller_vouches_for_it() -> None:
    result = gradcheck.check(lambda x: np.sum(np.sin(x) * x), lambda x: np.cos(x) * x + np.sin(x),
                             np.arange(3.0), method="complex")
    assert result.status is Status.PASS and result.method == "complex" and result.error < 1e-14


def test_errors_are_results_not_exceptions() -> None:
    result = gradcheck.check(logdet, lambda X: np.linalg.inv(X), np.ones((2, 3)))
    assert result.status is Status.ERROR and "raised LinAlgError" in result.message
    nan = gradcheck.check(lambda x: np.sum(np.log(x)), lambda x: 1 / x, -np.ones(2))
    assert nan.status is Status.ERROR and "not finite" in nan.message


def test_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="`layout` must be 'numerator' or 'denominator'"):
        gradcheck.check(logdet, np.linalg.inv, X, layout="row")
    with pytest.raises(ValueError, match="`x` must be a scalar, a vector or a matrix"):
        gradcheck.check(np.sum, np.ones_like, np.ones((2, 2, 2)))


@pytest.mark.parametrize(("x", "message"), [
    (np.array([1.0 + 2j, 3.0]), "`x` is complex: gradcheck.check takes a real point"),
    (np.array(["a", "b"]), "`x` must be numbers, got an array of <U1"),
    (np.array([1.0, np.nan]), "`x` has entries that are not finite"),
])
def test_a_point_is_never_cast_silently(x: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        gradcheck.check(np.sum, np.ones_like, x)

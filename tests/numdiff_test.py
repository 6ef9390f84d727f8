from __future__ import annotations

import numpy as np
import pytest

from gradcheck.numdiff import FIRST_STEP, entry_scales, first_derivative, second_derivative


def test_central_difference_is_second_order() -> None:
    g = np.sin
    errors = [abs(float(first_derivative(lambda t: np.asarray(g(1.0 + t)), h).value) - np.cos(1.0))
              for h in (1e-2, 5e-3)]
    # halving the step divides the error by about four
    assert 3.5 < errors[0] / errors[1] < 4.5


@pytest.mark.parametrize("x0", [0.3, 1.0, 5.0, 50.0])
def test_error_estimate_bounds_the_actual_error(x0: float) -> None:
    # callers scale the step to the magnitude of the point (see entry_scales)
    est = first_derivative(lambda t: np.asarray(np.exp(np.sin(x0 + t))), FIRST_STEP * max(x0, 1.0))
    truth = np.cos(x0) * np.exp(np.sin(x0))
    assert abs(float(est.value) - truth) <= float(est.error)
    assert est.nfev == 4


def test_error_estimate_reflects_rounding_of_large_values() -> None:
    # f = 1e12 + t: the derivative is 1, but each value carries rounding of ~1e-4
    est = first_derivative(lambda t: np.asarray(1e12 + t), 1e-6)
    assert float(est.error) > 1e-3
    assert abs(float(est.value) - 1.0) <= float(est.error)


def test_mixed_second_derivative() -> None:
    est = second_derivative(lambda s, t: np.asarray(np.exp(2 * s) * np.sin(3 * t + 1)))
    truth = 2 * 3 * np.cos(1.0)
    assert abs(float(est.value) - truth) <= float(est.error) < 1e-5


def test_entry_scales_have_an_rms_floor() -> None:
    np.testing.assert_allclose(entry_scales(np.array([0.0, 3.0, -4.0])), [np.sqrt(25 / 3), 3.0, 4.0])
    np.testing.assert_allclose(entry_scales(np.zeros(2)), [1.0, 1.0])

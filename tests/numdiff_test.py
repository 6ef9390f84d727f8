from __future__ import annotations

import numpy as np
import pytest

from gradcheck import numdiff
from gradcheck.numdiff import METHODS, entry_scales, first_derivative, second_derivative
from gradcheck.options import FIRST_STEP


def line(t: complex) -> np.ndarray:
    return np.asarray(np.exp(np.sin(1.0 + t)))


TRUTH = np.cos(1.0) * np.exp(np.sin(1.0))


def error(scale: float, method: str) -> float:
    return abs(float(np.real(first_derivative(line, scale, method).value)) - TRUTH)


@pytest.mark.parametrize(("method", "scale", "order"), [("central", 1e3, 2), ("richardson", 100.0, 6)])
def test_order_of_accuracy(method: str, scale: float, order: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # halving the step divides the truncation error by 2**order (of one table: not retaken)
    monkeypatch.setattr(numdiff, "REFINE_TABLES", 0)
    ratio = error(scale, method) / error(scale / 2, method)
    assert 0.8 * 2**order < ratio < 1.25 * 2**order


def test_richardson_retakes_its_table_where_truncation_dominates() -> None:
    # at a step 100 times the base one the first table is far from the asymptotic
    # regime; the retaken ones are not, and their estimate still bounds the error
    est = first_derivative(line, 100.0, "richardson")
    assert est.nfev == 14
    assert abs(float(est.value) - TRUTH) <= float(est.error) < 1e-9
    # where rounding already dominates, the first table is kept
    assert first_derivative(line, 1.0, "richardson").nfev == 6


def test_complex_step_is_exact_to_rounding() -> None:
    assert error(1.0, "complex") <= 4 * np.finfo(float).eps * abs(TRUTH)
    assert first_derivative(line, 1.0, "complex").nfev == 1


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("x0", [0.3, 1.0, 5.0, 50.0])
def test_error_estimate_bounds_the_actual_error(method: str, x0: float) -> None:
    g = lambda t: np.asarray(np.exp(np.sin(x0 + t)))  # noqa: E731
    est = first_derivative(g, max(x0, 1.0), method)
    truth = np.cos(x0) * np.exp(np.sin(x0))
    assert abs(float(np.real(est.value)) - truth) <= float(est.error)
    assert est.error >= est.rounding


def test_error_estimate_reflects_rounding_of_large_values() -> None:
    # f = 1e12 + t: the derivative is 1, but each value carries rounding of ~1e-4
    est = first_derivative(lambda t: np.asarray(1e12 + t), 1e-6 / FIRST_STEP["central"])
    assert float(est.error) > 1e-3
    assert abs(float(est.value) - 1.0) <= float(est.error)


def test_a_kink_shows_as_truncation_not_rounding() -> None:
    est = first_derivative(lambda t: np.asarray(abs(1e-6 + t)), 1.0, "central")
    assert float(est.error) > 100 * float(est.rounding)


@pytest.mark.parametrize("method", METHODS)
def test_mixed_second_derivative(method: str) -> None:
    g = lambda s, t: np.asarray(np.exp(2 * s) * np.sin(3 * t + 1))  # noqa: E731
    est = second_derivative(g, 1.0, 1.0, method)
    truth = 2 * 3 * np.cos(1.0)
    assert abs(float(np.real(est.value)) - truth) <= float(est.error) < 1e-5


def test_entry_scales_have_an_rms_floor() -> None:
    np.testing.assert_allclose(entry_scales(np.array([0.0, 3.0, -4.0])), [np.sqrt(25 / 3), 3.0, 4.0])
    np.testing.assert_allclose(entry_scales(np.zeros(2)), [1.0, 1.0])


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("scale", [1.0, 0.37, 3e4])
def test_the_steps_named_beforehand_are_the_first_ones_taken(method: str, scale: float) -> None:
    """What `first_steps` and `second_steps` name is evaluated ahead in one stacked pass
    (gradcheck.differences): it must be exactly what the derivatives then ask for."""
    taken: list[complex] = []

    def recorded(t: complex) -> np.ndarray:
        taken.append(t)
        return line(t)

    first_derivative(recorded, scale, method)
    named = numdiff.first_steps(method, scale)
    assert taken[: len(named)] == list(named)

    pairs: list[tuple[complex, complex]] = []

    def plane(s: complex, t: complex) -> np.ndarray:
        pairs.append((s, t))
        return np.asarray(np.exp(np.sin(1.0 + s) * (2.0 + t)))

    second_derivative(plane, scale, 2 * scale, method)
    named_pairs = numdiff.second_steps(method, scale, 2 * scale)
    assert pairs[: len(named_pairs)] == list(named_pairs)


def test_one_step_size_of_central_differences_is_the_value_of_both_with_less_error() -> None:
    from gradcheck.numdiff import fine_central

    def smooth(t: complex) -> np.ndarray:  # a change of f: g(0) = 0
        return np.array([np.sin(1.3 + t) - np.sin(1.3), np.exp(2 * t) - 1.0])

    both = first_derivative(smooth, 0.7, "central", 1e-17, 1.0, at_zero=True)
    one, may_stand = fine_central(smooth, 0.7, 1e-17, 1.0)
    assert may_stand and one.nfev == 2 and both.nfev == 4
    np.testing.assert_array_equal(one.value, both.value)
    assert np.all(one.error == one.rounding) and np.all(one.error <= both.rounding) and np.all(both.rounding <= both.error)
    np.testing.assert_allclose(one.value, [np.cos(1.3), 2.0], rtol=1e-9)

    def kinked(t: complex) -> np.ndarray:  # |t| + 3 t: one-sided derivatives 4 and 2
        return np.array([abs(t) + 3 * t])

    assert not fine_central(kinked, 1.0)[1]
    flat = fine_central(lambda t: np.array([0.0 * t]), 1.0)  # no change at all: no kink either
    assert flat[1] and flat[0].value[0] == 0.0

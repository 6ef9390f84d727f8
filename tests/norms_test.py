from __future__ import annotations

import numpy as np
import pytest

from gradcheck.norms import distance, norm, ratio


@pytest.mark.parametrize("scale", [1e-300, 1e-170, 1e-100, 1.0, 1e100, 1e170, 1e300])
def test_norms_keep_their_size_at_every_scale(scale: float) -> None:
    a = np.array([3.0, 4.0]) * scale
    assert norm(a) == pytest.approx(5 * scale, rel=1e-15)
    assert distance(a, -a) == pytest.approx(10 * scale, rel=1e-15)
    assert distance(a, a * (1 + 1e-6)) == pytest.approx(5e-6 * scale, rel=1e-6)
    assert ratio(a, 2 * a) == pytest.approx(2.0)


def test_values_that_are_not_finite_are_never_small() -> None:
    assert norm(np.array([1.0, np.inf])) == np.inf
    assert np.isnan(norm(np.array([1.0, np.nan]))) or norm(np.array([1.0, np.nan])) > 0
    assert distance(np.array([np.inf]), np.array([1.0])) == np.inf


def test_empty_and_zero() -> None:
    assert norm(np.zeros(0)) == 0.0
    assert norm(np.zeros(3)) == 0.0
    assert distance(np.zeros(2), np.zeros(2)) == 0.0
    assert ratio(np.zeros(2), np.ones(2)) == 0.0

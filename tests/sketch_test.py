from __future__ import annotations

import numpy as np
import pytest

from gradcheck import sketch as sketch_module
from gradcheck.sketch import BUCKETS, CountSketch


def make(shape: tuple[int, ...], seed: int = 0) -> CountSketch:
    return CountSketch(shape, np.random.default_rng(seed))


def test_is_linear_and_sketches_differences_exactly() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((40, 30)), rng.standard_normal((40, 30))
    s = make(a.shape)
    assert s(a).shape == (BUCKETS,)
    np.testing.assert_allclose(s(2 * a + b), 2 * s(a) + s(b), atol=1e-12)
    np.testing.assert_allclose(s(a, b), s(a) - s(b), atol=1e-12)


def test_a_single_wrong_entry_is_never_lost() -> None:
    s = make((50, 50))
    for index in [(0, 0), (17, 3), (49, 49)]:
        e = np.zeros((50, 50))
        e[index] = 3.5
        assert np.linalg.norm(s(e)) == pytest.approx(3.5)


def test_norms_are_kept_on_average_within_the_stated_spread() -> None:
    rng = np.random.default_rng(2)
    ratios = []
    for seed in range(200):
        e = rng.standard_normal((60, 60)) * rng.exponential(size=(60, 1))  # uneven rows
        ratios.append(np.linalg.norm(make(e.shape, seed)(e)) ** 2 / np.linalg.norm(e) ** 2)
    assert np.mean(ratios) == pytest.approx(1.0, abs=0.03)
    assert np.std(ratios) < 2 * np.sqrt(2 / BUCKETS)
    assert min(ratios) > 0.5  # no error is hidden


def test_chunks_give_the_same_sums(monkeypatch: pytest.MonkeyPatch) -> None:
    a = np.random.default_rng(3).standard_normal((100, 37))
    whole = make(a.shape)(a)
    monkeypatch.setattr(sketch_module, "CHUNK", 256)
    np.testing.assert_allclose(make(a.shape)(a), whole, rtol=1e-12, atol=1e-12)


def test_complex_values_keep_both_parts() -> None:
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((20, 20)), rng.standard_normal((20, 20))
    s = make(a.shape)
    np.testing.assert_allclose(s(a + 1j * b), s(a) + 1j * s(b), atol=1e-12)
    np.testing.assert_allclose(s(a + 1j * b, a), 1j * s(b), atol=1e-12)


def test_quadrature_adds_squares_per_bucket() -> None:
    a = np.random.default_rng(5).standard_normal((30, 30))
    q = make(a.shape).quadrature(a)
    assert q.shape == (BUCKETS,) and np.all(q >= 0)
    assert np.linalg.norm(q) == pytest.approx(np.linalg.norm(a))


def test_the_same_generator_state_gives_the_same_sketch_and_shapes_must_match() -> None:
    a = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(make(a.shape, 7)(a), make(a.shape, 7)(a))
    with pytest.raises(ValueError, match="applied to an array of 6"):
        make(a.shape)(np.ones(6))

from __future__ import annotations

import numpy as np
import pytest

from gradcheck.catalogue import load_text
from gradcheck.point import COND_SIZE_LIMIT, Point
from gradcheck.sampling import draw_sample

TEXT = """\
name: conditions
dims: {{n: {n}}}
inputs: {{X: {{shape: [n, n]}}, S: {{shape: [n, n], kind: spd}}}}
let: {{A: inv(X @ X), B: inv(X.T @ X + S)}}
function: trace(A + B + inv(X))
claims:
  - {{wrt: X, layout: denominator, derivative: X}}
"""


def point(n: int) -> Point:
    identity = load_text(TEXT.format(n=n), "t.yaml")
    return Point(identity, draw_sample(identity, {"n": n}, np.random.default_rng(3)))


@pytest.mark.parametrize("n", [6, COND_SIZE_LIMIT + 20])
def test_every_inverted_matrix_has_its_own_condition_number(n: int) -> None:
    p = point(n)
    x, s = p.sample.values["X"], p.sample.values["S"]
    norm = 2 if n <= COND_SIZE_LIMIT else 1
    expected = {"X @ X": x @ x, "X.T @ X + S": x.T @ x + s, "X": x}
    for where, matrix in expected.items():
        assert p.conditions[where] == pytest.approx(np.linalg.cond(matrix, norm), rel=1e-6)
    # a large spd sample is well conditioned by construction and not measured
    assert ("S" in p.conditions) == (n <= COND_SIZE_LIMIT)


def test_jiggles_are_within_rounding_and_the_same_at_every_call() -> None:
    p = point(5)
    x = p.sample.values["X"]
    first, again = p.jiggle(0)["X"], p.jiggle(0)["X"]
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, p.jiggle(1)["X"])
    assert 0 < np.max(np.abs(first - x) / np.maximum(np.abs(x), np.sqrt(np.mean(x**2)))) < 1e-14

from __future__ import annotations

import numpy as np
import pytest

from gradcheck.tangents import TANGENTS

# dimension of each space for a 4x4 matrix (a 4x2 one with orthonormal columns for stiefel)
DIMENSIONS = {"symmetric": 10, "lower": 10, "upper": 10, "diagonal": 4, "skew": 6, "toeplitz": 7, "stiefel": 5}


def point(name: str) -> np.ndarray:
    rng = np.random.default_rng(0)
    if name == "stiefel":
        return np.linalg.qr(rng.standard_normal((4, 2)))[0]
    return rng.standard_normal((4, 4))


@pytest.mark.parametrize("name", list(TANGENTS))
def test_the_projection_is_orthogonal_and_the_basis_orthonormal(name: str) -> None:
    tangent, x = TANGENTS[name], point(name)
    d = np.random.default_rng(1).standard_normal(x.shape)
    p = tangent.project(d, x)
    assert np.allclose(tangent.project(p, x), p)  # idempotent
    assert abs(np.sum((d - p) * p)) < 1e-12  # the rest is orthogonal to the space
    basis = tangent.basis(x)
    assert len(basis) == DIMENSIONS[name]
    gram = np.array([[np.sum(a * b) for b in basis] for a in basis])
    assert np.allclose(gram, np.eye(len(basis)))
    assert all(np.allclose(tangent.project(b, x), b) for b in basis)


def test_stiefel_directions_keep_the_columns_orthonormal_to_first_order() -> None:
    x = point("stiefel")
    for d in TANGENTS["stiefel"].basis(x):
        assert np.allclose(x.T @ d + d.T @ x, 0)

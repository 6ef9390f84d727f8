"""The spaces of directions an input may be restricted to (`perturb:`), as data.

A claim about an input with `perturb: K` is checked only along directions D of the
tangent space of K at the sampled point: a gradient G passes when sum(G * D) is right for
every such D, i.e. when its orthogonal projection onto the space (in the trace inner
product) is right. Each space is given by that projection and an orthonormal basis.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["TANGENTS", "Tangent"]


@dataclass(frozen=True)
class Tangent:
    """One space of directions: what it is, what shapes and kinds it needs, its projection
    P(D) at the point X, and an orthonormal basis of it at X."""

    name: str
    meaning: str
    square: bool
    project: Callable[[np.ndarray, np.ndarray], np.ndarray]
    needs_kind: str = ""  # the input must be sampled of this kind (the space depends on X)

    def basis(self, x: np.ndarray) -> list[np.ndarray]:
        """An orthonormal basis of the space at `x`: the eigenvectors of the projection with
        eigenvalue 1 (entry-wise for the simple ones, whose projection is diagonal)."""
        n = x.size
        columns = np.column_stack([self.project(np.eye(n)[:, i].reshape(x.shape, order="F"), x).reshape(-1, order="F")
                                   for i in range(n)])
        values, vectors = np.linalg.eigh((columns + columns.T) / 2)
        return [vectors[:, i].reshape(x.shape, order="F") for i in np.flatnonzero(values > 0.5)]


def _sym(a: np.ndarray) -> np.ndarray:
    return np.asarray((a + a.T) / 2)


def _toeplitz(d: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Each entry replaced by the mean of its diagonal."""
    n = d.shape[0]
    out = np.empty_like(d)
    offsets = np.subtract.outer(np.arange(n), np.arange(n))
    for k in range(-n + 1, n):
        on = offsets == k
        out[on] = d[on].mean()
    return out


def _stiefel(d: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The tangent space of matrices with orthonormal columns at X: D - X sym(X^T D)."""
    return np.asarray(d - x @ _sym(x.T @ d))


TANGENTS: dict[str, Tangent] = {t.name: t for t in (
    Tangent("symmetric", "symmetric matrices: D = D^T", True, lambda d, x: _sym(d)),
    Tangent("lower", "lower triangular matrices (the diagonal included)", False, lambda d, x: np.tril(d)),
    Tangent("upper", "upper triangular matrices (the diagonal included)", False, lambda d, x: np.triu(d)),
    Tangent("diagonal", "diagonal matrices", False, lambda d, x: np.diag(np.diag(d)) if d.ndim == 2 else d),
    Tangent("skew", "skew-symmetric matrices: D = -D^T", True, lambda d, x: (d - d.T) / 2),
    Tangent("toeplitz", "Toeplitz matrices: constant along each diagonal", True, _toeplitz),
    Tangent("stiefel", "the tangent space of orthonormal columns at X: X^T D + D^T X = 0", False, _stiefel,
            needs_kind="orthogonal"),
)}

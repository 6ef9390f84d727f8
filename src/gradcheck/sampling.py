"""Random points at which identities are checked.

Each kind of the format is drawn so that finite differences are trustworthy:
`spd` and `invertible` matrices have condition number at most `SAMPLE_COND`,
`positive` entries stay in [0.5, 2], triangular and diagonal matrices keep
their diagonal away from zero. Every draw takes an explicit generator; an
identity's generator is derived from the run's seed and the identity's name, so
results do not depend on the order of files or on filters.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

import numpy as np

from gradcheck.functions import Labels, check_size
from gradcheck.kinds import KINDS
from gradcheck.options import SAMPLE_COND

if TYPE_CHECKING:
    from gradcheck.catalogue import Identity, Variable

# Above this size a Haar-orthogonal factor (a QR of an n-by-n matrix) costs seconds;
# larger spd and invertible samples are built from one Gaussian matrix instead.
HAAR_LIMIT = 200


Draw = Callable[[np.random.Generator, tuple[int, ...]], np.ndarray]


@dataclass(frozen=True)
class Sample:
    """One random point: a value for every input and constant of an identity."""

    identity: str
    trial: int
    dims: Mapping[str, int]
    values: Mapping[str, np.ndarray]


def identity_rng(seed: int, name: str) -> np.random.Generator:
    """The generator for one identity: a function of the run's seed and the name only."""
    digest = hashlib.sha256(name.encode()).digest()
    return np.random.default_rng([seed, int.from_bytes(digest[:8], "little")])


def draw_sample(identity: Identity, dims: Mapping[str, int], rng: np.random.Generator,
                trial: int = 0) -> Sample:
    """Sample every input and constant of `identity` at the given sizes."""
    values: dict[str, np.ndarray] = {}
    for var in (*identity.inputs, *identity.constants):
        values[var.name] = draw_variable(var, dims, rng)
    return Sample(identity.name, trial, MappingProxyType(dict(dims)), MappingProxyType(values))


def draw_variable(var: Variable, dims: Mapping[str, int], rng: np.random.Generator) -> np.ndarray:
    shape = var.sized(dims)
    check_size(shape, f"{var.name}")
    if var.kind == "index":  # integers, kept as such: positions for indexing, not numbers
        assert var.below is not None  # the loader requires it
        bound = dims[var.below] if isinstance(var.below, str) else var.below
        labels = rng.integers(0, bound, shape).view(Labels)
        labels.setflags(write=False)
        return labels
    if var.value is not None:  # a constant given in the file (its shape has no dimension names)
        value = np.array(var.value, dtype=float).reshape(shape)
        value.setflags(write=False)
        return value
    draw = _DRAWS[var.kind]
    if len(shape) > 2 and KINDS[var.kind].shape != "any":  # a stack of matrices, each drawn alike
        stack = [draw(rng, shape[-2:]) for _ in range(int(np.prod(shape[:-2])))]
        value = np.array(stack, dtype=complex if KINDS[var.kind].complex else float).reshape(shape)
    else:
        value = np.array(draw(rng, shape), dtype=complex if KINDS[var.kind].complex else float)
    value.setflags(write=False)
    return value


def _general(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.standard_normal(shape)


def _positive(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.uniform(0.5, 2.0, shape)


def _symmetric(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    a = rng.standard_normal(shape)
    return np.asarray((a + a.T) / np.sqrt(2))


def _orthogonal_matrix(rng: np.random.Generator, n: int, m: int) -> np.ndarray:
    """Haar-distributed n-by-m matrix with orthonormal columns (or rows if n < m)."""
    if n < m:
        return _orthogonal_matrix(rng, m, n).T
    q, r = np.linalg.qr(rng.standard_normal((n, m)))
    return q * np.where(np.diag(r) < 0, -1.0, 1.0)


def _spectrum(rng: np.random.Generator, n: int) -> np.ndarray:
    # log-uniform in [1, SAMPLE_COND]: the condition number is at most SAMPLE_COND
    return np.exp(rng.uniform(0.0, np.log(SAMPLE_COND), n))


def _spd(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    n = shape[0]
    if n > HAAR_LIMIT:
        # I + G G^T / (2n): eigenvalues in [1, 1 + (1 + sqrt(1))^2 / 2] = [1, 3] as n grows
        # (in place: at n = 2000 every temporary is as large as the input)
        g = rng.standard_normal((n, n))
        a = g @ g.T
        del g
        a /= 2 * n
        a[np.diag_indices(n)] += 1
    else:
        q = _orthogonal_matrix(rng, n, n)
        a = (q * _spectrum(rng, n)) @ q.T
    a += a.T  # numpy buffers the overlapping operand
    a /= 2
    return a


def _invertible(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    n = shape[0]
    if n > HAAR_LIMIT:
        # (I + 0.35 G / sqrt(n)) D: ||G / sqrt(n)||_2 is about 2, so the singular values lie
        # in about [0.3, 1.7] (condition number below 6); D = diag(+-1) gives either sign of det.
        a = rng.standard_normal((n, n))
        a *= 0.35 / np.sqrt(n)
        a[np.diag_indices(n)] += 1
        a *= rng.choice([-1.0, 1.0], n)
        return a
    u = _orthogonal_matrix(rng, n, n)
    v = _orthogonal_matrix(rng, n, n)
    return np.asarray((u * _spectrum(rng, n)) @ v.T)


def _orthogonal(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return _orthogonal_matrix(rng, shape[0], shape[1])


def _away_from_zero(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.choice([-1.0, 1.0], n) * rng.uniform(0.5, 2.0, n)


def _diagonal(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return np.diag(_away_from_zero(rng, shape[0]))


def _triangular(lower: bool) -> Draw:
    def draw(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        # small off-diagonal entries keep random triangular matrices well conditioned
        a = rng.standard_normal(shape) / max(shape)
        a = np.tril(a, -1) if lower else np.triu(a, 1)
        k = min(shape)
        a[np.arange(k), np.arange(k)] = _away_from_zero(rng, k)
        return a

    return draw


def _unit(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    a = np.asarray(rng.standard_normal(shape))
    return a / np.linalg.norm(a)


def _simplex(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    a = np.exp(rng.uniform(-1.0, 1.0, shape))
    return np.asarray(a / a.sum())


def _rowsimplex(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Each row (the last axis) a point of the simplex, as `simplex` draws a whole array."""
    a = np.exp(rng.uniform(-1.0, 1.0, shape))
    return np.asarray(a / a.sum(axis=-1, keepdims=True)) if a.ndim else np.ones(())


def _onehot(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    a = np.zeros(shape)
    columns = a.reshape(shape[0], -1) if a.ndim else a.reshape(1, 1)
    columns[rng.integers(0, columns.shape[0], columns.shape[1]), np.arange(columns.shape[1])] = 1.0
    return a


def _permutation(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return np.eye(shape[0])[rng.permutation(shape[0])]


# -- complex kinds (format 6) ----------------------------------------------------------

def _complex(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    # standard complex normal: E|z|^2 = 1, real and imaginary parts independent
    return np.asarray((rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) / np.sqrt(2))


def _hermitian(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    a = _complex(rng, shape)
    return np.asarray((a + a.conj().T) / np.sqrt(2))


def _unitary_matrix(rng: np.random.Generator, n: int, m: int) -> np.ndarray:
    """Haar-distributed n-by-m matrix with orthonormal complex columns (rows if n < m)."""
    if n < m:
        return _unitary_matrix(rng, m, n).T
    q, r = np.linalg.qr(_complex(rng, (n, m)))
    d = np.diag(r)
    return np.asarray(q * np.where(d == 0, 1.0, d / np.abs(d)))


def _hpd(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    n = shape[0]
    if n > HAAR_LIMIT:
        g = _complex(rng, (n, n))
        a = g @ g.conj().T / (2 * n)
        a[np.diag_indices(n)] += 1
    else:
        u = _unitary_matrix(rng, n, n)
        a = (u * _spectrum(rng, n)) @ u.conj().T
    return np.asarray((a + a.conj().T) / 2)


def _unitary(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return _unitary_matrix(rng, shape[0], shape[1])


_DRAWS: dict[str, Draw] = {
    "general": _general, "positive": _positive, "symmetric": _symmetric, "spd": _spd,
    "invertible": _invertible, "orthogonal": _orthogonal, "diagonal": _diagonal,
    "lower": _triangular(True), "upper": _triangular(False), "unit": _unit, "simplex": _simplex,
    "onehot": _onehot, "permutation": _permutation,
    "rowsimplex": _rowsimplex, "complex": _complex, "hermitian": _hermitian, "hpd": _hpd, "unitary": _unitary,
}

from __future__ import annotations

import numpy as np
import pytest

from gradcheck.catalogue import Variable
from gradcheck.errors import EvalError
from gradcheck.kinds import KINDS
from gradcheck.options import SAMPLE_COND
from gradcheck.sampling import draw_variable, identity_rng


def draw(kind: str, shape: tuple[int | str, ...] = (5, 5), seed: int = 0) -> np.ndarray:
    return draw_variable(Variable("X", shape, kind), {}, np.random.default_rng(seed))


@pytest.mark.parametrize("seed", range(5))
def test_kinds_have_their_structure(seed: int) -> None:
    spd = draw("spd", seed=seed)
    assert np.allclose(spd, spd.T) and np.linalg.eigvalsh(spd).min() > 0
    assert np.linalg.cond(spd) <= SAMPLE_COND * (1 + 1e-9)
    assert np.linalg.cond(draw("invertible", seed=seed)) <= SAMPLE_COND * (1 + 1e-9)
    q = draw("orthogonal", seed=seed)
    assert np.allclose(q.T @ q, np.eye(5))
    tall = draw("orthogonal", (6, 3), seed)
    assert np.allclose(tall.T @ tall, np.eye(3))
    assert np.allclose(draw("symmetric", seed=seed), draw("symmetric", seed=seed).T)
    assert np.all(draw("positive", seed=seed) >= 0.5)
    d = draw("diagonal", seed=seed)
    assert np.allclose(d, np.diag(np.diag(d))) and np.all(np.abs(np.diag(d)) >= 0.5)
    lower = draw("lower", seed=seed)
    assert np.allclose(lower, np.tril(lower)) and np.linalg.cond(lower) < 100
    assert np.allclose(draw("upper", seed=seed), np.triu(draw("upper", seed=seed)))
    assert np.isclose(np.linalg.norm(draw("unit", (5, 1), seed)), 1.0)
    simplex = draw("simplex", (5, 1), seed)
    assert np.all(simplex > 0) and np.isclose(simplex.sum(), 1.0)


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "index"])
def test_samples_are_read_only_float_arrays(kind: str) -> None:
    x = draw(kind)
    dtype = np.complex128 if KINDS[kind].complex else np.float64
    assert x.dtype == dtype and x.shape == (5, 5) and not x.flags.writeable


@pytest.mark.parametrize("below", [3, "k"])
def test_an_index_is_read_only_integers_below_its_bound(below: int | str) -> None:
    values = [draw_variable(Variable("y", (200,), "index", below=below), {"k": 3}, np.random.default_rng(s))
              for s in range(3)]
    for y in values:
        assert y.dtype.kind == "i" and not y.flags.writeable and y.shape == (200,)
    assert set(np.concatenate(values).tolist()) == {0, 1, 2}


def test_scalars() -> None:
    x = draw("general", ())
    assert x.shape == () and np.isfinite(x)


def test_generator_depends_on_seed_and_name_only() -> None:
    a = identity_rng(3, "logdet").standard_normal(4)
    assert np.array_equal(a, identity_rng(3, "logdet").standard_normal(4))
    assert not np.array_equal(a, identity_rng(4, "logdet").standard_normal(4))
    assert not np.array_equal(a, identity_rng(3, "logdet2").standard_normal(4))


def test_huge_inputs_are_refused_before_allocation() -> None:
    with pytest.raises(EvalError, match=r"X would have shape \(100000,100000\)"):
        draw_variable(Variable("X", ("n", "n")), {"n": 100_000}, np.random.default_rng(0))


@pytest.mark.parametrize("seed", range(5))
def test_complex_kinds_have_their_structure(seed: int) -> None:
    z = draw("complex", seed=seed)
    assert np.abs(z.imag).max() > 0.1 and np.abs(z.real).max() > 0.1  # both parts drawn
    h = draw("hermitian", seed=seed)
    assert np.allclose(h, h.conj().T) and np.abs(h.imag).max() > 0.1
    hpd = draw("hpd", seed=seed)
    assert np.allclose(hpd, hpd.conj().T) and np.linalg.eigvalsh(hpd).min() >= 1.0 - 1e-9
    assert np.linalg.cond(hpd) <= SAMPLE_COND * (1 + 1e-9)
    u = draw("unitary", seed=seed)
    assert np.allclose(u.conj().T @ u, np.eye(5)) and np.abs(u.imag).max() > 0.1
    wide = draw("unitary", (3, 6), seed)
    assert np.allclose(wide @ wide.conj().T, np.eye(3))


def test_large_hpd_samples_are_well_conditioned() -> None:
    x = draw_variable(Variable("X", ("n", "n"), "hpd"), {"n": 300}, np.random.default_rng(1))
    assert np.allclose(x, x.conj().T) and np.linalg.eigvalsh(x).min() >= 1.0 - 1e-9
    assert np.linalg.cond(x) <= SAMPLE_COND


@pytest.mark.parametrize("kind", ["spd", "invertible"])
def test_large_samples_are_well_conditioned_too(kind: str) -> None:
    x = draw_variable(Variable("X", ("n", "n"), kind), {"n": 400}, np.random.default_rng(1))
    assert np.linalg.cond(x) <= SAMPLE_COND
    if kind == "spd":
        assert np.allclose(x, x.T) and np.linalg.eigvalsh(x).min() >= 1.0 - 1e-9


@pytest.mark.parametrize("kind", ["spd", "invertible", "orthogonal", "hpd", "unitary", "symmetric"])
def test_a_stack_is_drawn_matrix_by_matrix(kind: str) -> None:
    x = draw_variable(Variable("X", ("b", "c", "n", "n"), kind), {"b": 2, "c": 3, "n": 4}, np.random.default_rng(2))
    assert x.shape == (2, 3, 4, 4)
    matrices = x.reshape(-1, 4, 4)
    assert len({m.tobytes() for m in matrices}) == 6  # each drawn on its own
    for m in matrices:
        if kind in ("spd", "hpd", "symmetric"):
            assert np.allclose(m, m.conj().T)
        if kind in ("orthogonal", "unitary"):
            assert np.allclose(m.conj().T @ m, np.eye(4))


def test_a_row_simplex_has_positive_rows_summing_to_one() -> None:
    x = draw("rowsimplex", (4, 3))
    assert np.all(x > 0) and np.allclose(x.sum(axis=1), 1.0)
